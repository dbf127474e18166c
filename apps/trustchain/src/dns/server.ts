// The I/O shell around the DNS responder: one UDP socket and one TCP listener on the same IPv6
// address and port (IPV6_V6ONLY; an IPv4 or IPv4-mapped bind address is refused). UDP: one
// datagram in, at most one out. TCP (RFC 1035 §4.2.2, RFC 7766): messages framed by a 2-byte
// length, several queries per connection answered in order, an idle timeout, a bound on the
// message size, on connections and on unsent response bytes (reading pauses until the client
// reads). Counters say what came in and what went out; malformed packets are logged at a bounded
// rate. All logic is in responder.ts and zone.ts.
import dgram from 'node:dgram';
import net from 'node:net';
import pino, { type Logger } from 'pino';
import { RateLimitedLog, parseIpv6Endpoint, systemClock, type Clock, type Ipv6Endpoint, type TimerHandle } from '@stoq/core';
import { DnsResponder, MAX_TCP_MESSAGE, type DnsRcode, type DnsReply, type DnsTransport, type ResponderOptions } from './responder';
import type { Zone } from './zone';

export interface TcpLimits {
  /** A connection with no complete query for this long is closed (ms). Default 10_000 (RFC 7766 §6.2.3 suggests seconds). */
  readonly idleTimeoutMs: number;
  /** Open TCP connections; more are closed at once (and counted). Default 256. */
  readonly maxConnections: number;
  /** A length prefix above this closes the connection (a query is small). Default 4096. */
  readonly maxMessageBytes: number;
  /** Response bytes the client has not read yet before we stop reading its queries. Default 256 KiB. */
  readonly maxUnsentBytes: number;
}

export const DEFAULT_TCP_LIMITS: TcpLimits = Object.freeze({
  idleTimeoutMs: 10_000,
  maxConnections: 256,
  maxMessageBytes: 4096,
  maxUnsentBytes: 256 * 1024,
});

export interface DnsServerOptions {
  readonly zone: Zone;
  /** `[addr]:port` on IPv6; port 0 picks a free port (the same number for UDP and TCP). */
  readonly bind: Ipv6Endpoint;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly responder?: ResponderOptions;
  readonly tcp?: Partial<TcpLimits>;
}

export interface DnsServerCounters {
  /** Packets received (UDP datagrams and TCP messages). */
  readonly queries: number;
  readonly udpQueries: number;
  readonly tcpQueries: number;
  /** Responses sent, by rcode. */
  readonly answers: Readonly<Record<DnsRcode, number>>;
  /** Packets that were no well-formed query (answered FORMERR or dropped), TCP framing errors included. */
  readonly malformed: number;
  /** Packets dropped without an answer (malformed beyond a header, or responses sent to us). */
  readonly dropped: number;
  /** Responses sent with TC set. */
  readonly truncated: number;
  readonly tcpConnections: number;
  /** TCP connections closed at once because maxConnections were open. */
  readonly tcpRefused: number;
  /** TCP connections closed for being idle. */
  readonly tcpIdleClosed: number;
}

type MutableCounters = { -readonly [K in keyof DnsServerCounters]: DnsServerCounters[K] } & { answers: Record<DnsRcode, number> };

const EMPTY = Buffer.alloc(0);

/** Tries at finding a port free for both UDP and TCP when the bind port is 0. */
const PORT_TRIES = 8;

export class DnsServer {
  private readonly counts: MutableCounters = {
    queries: 0,
    udpQueries: 0,
    tcpQueries: 0,
    answers: { NOERROR: 0, FORMERR: 0, SERVFAIL: 0, NXDOMAIN: 0, NOTIMP: 0, REFUSED: 0, BADVERS: 0 },
    malformed: 0,
    dropped: 0,
    truncated: 0,
    tcpConnections: 0,
    tcpRefused: 0,
    tcpIdleClosed: 0,
  };
  private readonly connections = new Set<net.Socket>();
  private readonly malformedLog: RateLimitedLog;
  private closed = false;

  private constructor(
    private readonly responder: DnsResponder,
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly limits: TcpLimits,
    /** The address the sockets are bound to (text, no brackets) and the port. */
    readonly address: string,
    readonly port: number,
  ) {
    this.malformedLog = new RateLimitedLog(logger, 10_000, clock);
    udp.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    udp.on('error', (err) => this.logger.warn({ err }, 'DNS UDP socket error'));
    tcp.on('connection', (socket) => this.onConnection(socket));
    tcp.on('error', (err) => this.logger.warn({ err }, 'DNS TCP listener error'));
  }

  /** Binds UDP and TCP on `options.bind` and serves `options.zone`. Throws StoqError IPV4_REFUSED / INVALID_ADDRESS for a bind address that is not IPv6. */
  static async start(options: DnsServerOptions): Promise<DnsServer> {
    const { address, port } = parseIpv6Endpoint(options.bind);
    const clock = options.clock ?? systemClock;
    const logger = options.logger ?? pino({ level: 'silent' });
    const limits: TcpLimits = Object.freeze({ ...DEFAULT_TCP_LIMITS, ...options.tcp });
    if (!Number.isInteger(limits.maxMessageBytes) || limits.maxMessageBytes < 12 || limits.maxMessageBytes > MAX_TCP_MESSAGE) {
      throw new TypeError(`tcp.maxMessageBytes ${limits.maxMessageBytes} is not an integer in 12..${MAX_TCP_MESSAGE}`);
    }
    const responder = new DnsResponder(options.zone, options.responder);
    let lastErr: unknown;
    for (let attempt = 0; attempt < (port === 0 ? PORT_TRIES : 1); attempt++) {
      const udp = dgram.createSocket({ type: 'udp6', ipv6Only: true });
      const boundPort = await bindUdp(udp, address, port);
      try {
        const tcp = await listenTcp(address, boundPort);
        const server = new DnsServer(responder, udp, tcp, clock, logger, limits, address, boundPort);
        logger.info({ endpoint: server.endpoint, zone: options.zone.origin }, 'DNS server listening (UDP and TCP)');
        return server;
      } catch (err) {
        lastErr = err;
        await new Promise<void>((resolve) => udp.close(() => resolve()));
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
    throw lastErr;
  }

  /** `[addr]:port` the server answers on. */
  get endpoint(): Ipv6Endpoint {
    return `[${this.address}]:${this.port}`;
  }

  counters(): DnsServerCounters {
    return { ...this.counts, answers: { ...this.counts.answers } };
  }

  /** Stops listening and closes every TCP connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.connections) s.destroy();
    await Promise.all([
      new Promise<void>((resolve) => this.udp.close(() => resolve())),
      new Promise<void>((resolve) => this.tcp.close(() => resolve())),
    ]);
    this.logger.info({ endpoint: this.endpoint, counters: this.counters() }, 'DNS server closed');
  }

  // ----------------------------------------------------------------------------- UDP

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const reply = this.handle(msg, 'udp', rinfo.address);
    if (reply.bytes === null || this.closed) return;
    this.udp.send(reply.bytes, rinfo.port, rinfo.address, (err) => {
      if (err) this.logger.debug({ err, peer: rinfo.address }, 'DNS UDP send failed');
    });
  }

  // ----------------------------------------------------------------------------- TCP

  private onConnection(socket: net.Socket): void {
    if (this.closed || this.connections.size >= this.limits.maxConnections) {
      this.counts.tcpRefused += 1;
      this.malformedLog.record('tcp-connection-limit', 'DNS TCP connection refused: connection limit reached', { maxConnections: this.limits.maxConnections });
      socket.destroy();
      return;
    }
    this.counts.tcpConnections += 1;
    this.connections.add(socket);
    const peer = socket.remoteAddress ?? '?';
    socket.setNoDelay(true);
    let pending: Buffer = EMPTY;
    let idle: TimerHandle | undefined;
    const armIdle = (): void => {
      if (idle !== undefined) this.clock.clearTimeout(idle);
      idle = this.clock.setTimeout(() => {
        this.counts.tcpIdleClosed += 1;
        this.logger.debug({ peer }, 'DNS TCP connection idle; closing');
        socket.destroy();
      }, this.limits.idleTimeoutMs);
    };
    armIdle();
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let offset = 0;
      let answered = false;
      while (pending.length - offset >= 2) {
        const length = pending.readUInt16BE(offset);
        if (length === 0 || length > this.limits.maxMessageBytes) {
          this.counts.malformed += 1;
          this.counts.dropped += 1;
          this.malformedLog.record('tcp-frame', 'DNS TCP message length out of bounds; closing the connection', { peer, length, maxMessageBytes: this.limits.maxMessageBytes });
          socket.destroy();
          return;
        }
        if (pending.length - offset < 2 + length) break;
        const message = pending.subarray(offset + 2, offset + 2 + length);
        offset += 2 + length;
        answered = true;
        const reply = this.handle(message, 'tcp', peer);
        if (reply.bytes !== null && !socket.destroyed) {
          const frame = Buffer.allocUnsafe(2 + reply.bytes.length);
          frame.writeUInt16BE(reply.bytes.length, 0);
          reply.bytes.copy(frame, 2);
          socket.write(frame);
        }
      }
      if (offset > 0) pending = offset === pending.length ? EMPTY : pending.subarray(offset);
      if (answered) armIdle();
      if (socket.writableLength > this.limits.maxUnsentBytes) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    });
    socket.on('end', () => socket.end());
    socket.on('error', (err) => this.logger.debug({ err, peer }, 'DNS TCP connection error'));
    socket.on('close', () => {
      if (idle !== undefined) this.clock.clearTimeout(idle);
      this.connections.delete(socket);
    });
  }

  // ----------------------------------------------------------------------------- both

  private handle(message: Buffer, transport: DnsTransport, peer: string): DnsReply {
    this.counts.queries += 1;
    if (transport === 'udp') this.counts.udpQueries += 1;
    else this.counts.tcpQueries += 1;
    const reply = this.responder.respond(message, transport, this.clock.now());
    if (reply.malformed) {
      this.counts.malformed += 1;
      this.malformedLog.record(`malformed-${transport}`, 'malformed DNS packet', { peer, transport, bytes: message.length, reason: reply.reason, answered: reply.rcode });
    }
    if (reply.rcode !== null) this.counts.answers[reply.rcode] += 1;
    else this.counts.dropped += 1;
    if (reply.truncated) this.counts.truncated += 1;
    return reply;
  }
}

function bindUdp(socket: dgram.Socket, address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket.address().port);
    });
  });
}

function listenTcp(address: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ pauseOnConnect: false });
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host: address, port, ipv6Only: true, exclusive: true }, () => {
      server.off('error', onError);
      resolve(server);
    });
  });
}
