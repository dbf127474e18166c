// The I/O shell of DNS service discovery: one question to one DNS server, UDP first (EDNS0,
// 4096-byte buffer), TCP when the answer comes back truncated (RFC 7766). The answer must match
// the question (ID, name, type) and is bounded in size; anything else is an error the resolver
// turns into a stale answer or UNAVAILABLE. Pure decisions live in dns-srv-resolver.ts.
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { parseIpv6Endpoint, type Ipv6Endpoint } from '@stoq/core';

/** The parts of a DNS answer discovery reads. */
export interface DnsAnswer {
  readonly rcode: string;
  readonly answers: readonly dnsPacket.Answer[];
  readonly authorities: readonly dnsPacket.Answer[];
  readonly additionals: readonly dnsPacket.Answer[];
}

export interface DnsQuerier {
  query(name: string, type: 'SRV' | 'AAAA' | 'PTR', signal?: AbortSignal): Promise<DnsAnswer>;
}

export class DnsQueryError extends Error {
  constructor(
    readonly code: 'TIMEOUT' | 'MALFORMED' | 'MISMATCH' | 'NETWORK',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DnsQueryError';
  }
}

export interface UdpDnsQuerierOptions {
  /** The DNS server, `[addr]:port` (TrustChain's DNS). */
  server: Ipv6Endpoint;
  /** Per attempt (ms). Default 1000. */
  timeoutMs?: number;
  /** UDP attempts before giving up (lost datagrams). Default 2. */
  attempts?: number;
}

/** Largest DNS message over TCP (2-byte length) and what we ask for over UDP. */
const MAX_TCP_MESSAGE = 65_535;
const UDP_BUFFER = 4096;

export class UdpDnsQuerier implements DnsQuerier {
  private readonly address: string;
  private readonly port: number;
  private readonly timeoutMs: number;
  private readonly attempts: number;

  constructor(opts: UdpDnsQuerierOptions) {
    const ep = parseIpv6Endpoint(opts.server);
    if (ep.port === 0) throw new TypeError(`DNS server ${opts.server} needs a port`);
    this.address = ep.address;
    this.port = ep.port;
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.attempts = opts.attempts ?? 2;
  }

  async query(name: string, type: 'SRV' | 'AAAA' | 'PTR', signal?: AbortSignal): Promise<DnsAnswer> {
    let last: unknown;
    for (let i = 0; i < this.attempts; i++) {
      const id = randomInt(0, 65536);
      const packet = encodeQuery(id, name, type);
      try {
        const res = await this.udp(packet, signal);
        const answer = checkAnswer(res, id, name, type);
        if (!answer.truncated) return answer;
        return checkAnswer(await this.tcp(encodeQuery(id, name, type, false), signal), id, name, type);
      } catch (err) {
        last = err;
        if (signal?.aborted || !(err instanceof DnsQueryError && err.code === 'TIMEOUT')) throw err;
      }
    }
    throw last;
  }

  private udp(packet: Buffer, signal?: AbortSignal): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket({ type: 'udp6', ipv6Only: true });
      const done = (err: Error | null, msg?: Buffer): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.close();
        if (err) reject(err);
        else resolve(msg!);
      };
      const onAbort = (): void => done(new DnsQueryError('TIMEOUT', `DNS query aborted: ${String(signal?.reason)}`));
      const timer = setTimeout(() => done(new DnsQueryError('TIMEOUT', `no DNS answer from [${this.address}]:${this.port} within ${this.timeoutMs} ms`)), this.timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      // Only the server we asked may answer (a datagram from anyone else is ignored).
      socket.on('message', (msg, rinfo) => {
        if (rinfo.port === this.port && net.isIPv6(rinfo.address)) done(null, msg);
      });
      socket.on('error', (err) => done(new DnsQueryError('NETWORK', `DNS query to [${this.address}]:${this.port} failed: ${err.message}`, { cause: err })));
      socket.send(packet, this.port, this.address);
    });
  }

  private tcp(packet: Buffer, signal?: AbortSignal): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.address, port: this.port, family: 6 });
      let buf = Buffer.alloc(0);
      const done = (err: Error | null, msg?: Buffer): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        if (err) reject(err);
        else resolve(msg!);
      };
      const onAbort = (): void => done(new DnsQueryError('TIMEOUT', `DNS query aborted: ${String(signal?.reason)}`));
      const timer = setTimeout(() => done(new DnsQueryError('TIMEOUT', `no DNS answer over TCP from [${this.address}]:${this.port} within ${this.timeoutMs} ms`)), this.timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(packet.length);
        socket.write(Buffer.concat([len, packet]));
      });
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length > 2 + MAX_TCP_MESSAGE) return done(new DnsQueryError('MALFORMED', 'DNS answer over TCP is longer than 65535 bytes'));
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(null, buf.subarray(2, 2 + buf.readUInt16BE(0)));
      });
      socket.on('error', (err) => done(new DnsQueryError('NETWORK', `DNS query over TCP to [${this.address}]:${this.port} failed: ${err.message}`, { cause: err })));
      socket.on('end', () => done(new DnsQueryError('MALFORMED', 'DNS server closed the TCP connection before a whole answer')));
    });
  }
}

function encodeQuery(id: number, name: string, type: 'SRV' | 'AAAA' | 'PTR', edns = true): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: 'IN' }],
    ...(edns ? { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: UDP_BUFFER } as dnsPacket.Answer] } : {}),
  });
}

const canonical = (n: string): string => n.toLowerCase().replace(/\.$/, '');

function checkAnswer(msg: Buffer, id: number, name: string, type: string): DnsAnswer & { truncated: boolean } {
  let p: dnsPacket.DecodedPacket & { rcode?: string };
  try {
    // dns-packet decodes the header's RCODE as a name ('NOERROR', 'NXDOMAIN', ...); its types omit it.
    p = dnsPacket.decode(msg) as dnsPacket.DecodedPacket & { rcode?: string };
  } catch (err) {
    throw new DnsQueryError('MALFORMED', `DNS answer does not decode: ${(err as Error).message}`, { cause: err });
  }
  const q = p.questions?.[0];
  if (p.id !== id || p.type !== 'response' || !q || canonical(q.name) !== canonical(name) || q.type !== type) {
    throw new DnsQueryError('MISMATCH', `DNS answer does not match the question ${name} ${type}`);
  }
  return {
    rcode: p.rcode ?? 'NOERROR',
    truncated: p.flag_tc,
    answers: p.answers ?? [],
    authorities: p.authorities ?? [],
    additionals: (p.additionals ?? []).filter((a) => a.type !== 'OPT'),
  };
}
