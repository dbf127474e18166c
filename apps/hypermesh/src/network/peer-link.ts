// The outbound half of the link to one validator: a bounded queue of encoded consensus messages
// and one long-lived client-streaming call `hypermesh/consensus/stream` carrying them over a
// STOQ connection whose certificate names service `hypermesh`, instance = the validator's
// genesis instance, and whose FALCON key equals the genesis key. On any failure the call is
// dropped and re-established with exponential backoff; messages queued meanwhile are kept up to
// the bound (oldest dropped first): the protocol retransmits what matters through its timeouts.
import type { Clock, DialedConnection, Ipv6Endpoint, StoqTransport } from '@stoq/core';
import { hypermesh as proto } from '@stoq/protos';
import { RpcClient } from '@stoq/rpc';
import type { Logger } from 'pino';
import type { GenesisValidator } from '../genesis';

export const HYPERMESH_SERVICE = 'hypermesh';
export const HYPERMESH_SERVER_NAME = 'hypermesh.hypermesh';

export interface PeerLinkOptions {
  peer: GenesisValidator;
  transport: StoqTransport;
  clock: Clock;
  logger: Logger;
  /** Where the peer is now (genesis address, DNS, or where it last connected from), or null. */
  locate(signal: AbortSignal): Promise<Ipv6Endpoint | null>;
  maxQueued?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export class PeerLink {
  private readonly queue: proto.ConsensusEnvelope[] = [];
  private wake: (() => void) | null = null;
  private readonly maxQueued: number;
  private closed = false;
  private attempt: AbortController | null = null;
  private running: Promise<void> | null = null;
  private connectedTo: Ipv6Endpoint | null = null;
  /** The address being dialled or connected to. */
  private target: Ipv6Endpoint | null = null;
  private hint: Ipv6Endpoint | null = null;
  private dropped = 0;
  private sent = 0;
  /** Since when the link has not been up (construction, or the last drop). */
  private downSince: number;
  /** When the first message since the silence watchdog's last check went out (see watchSilence). */
  private firstSendInWindow: number | null = null;
  private markClosed!: () => void;
  private readonly closing = new Promise<void>((r) => (this.markClosed = r));

  constructor(private readonly opts: PeerLinkOptions) {
    this.maxQueued = opts.maxQueued ?? 4096;
    this.downSince = opts.clock.now();
  }

  get connected(): boolean {
    return this.connectedTo !== null;
  }

  /** How long the link has been down (0 while it is up). */
  downFor(now: number): number {
    return this.connectedTo !== null ? 0 : now - this.downSince;
  }

  get stats(): { sent: number; dropped: number; queued: number } {
    return { sent: this.sent, dropped: this.dropped, queued: this.queue.length };
  }

  start(): void {
    this.running ??= this.run();
  }

  enqueue(envelope: proto.ConsensusEnvelope): void {
    if (this.closed) return;
    this.queue.push(envelope);
    if (this.queue.length > this.maxQueued) {
      this.queue.shift();
      this.dropped++;
    }
    this.wake?.();
  }

  /**
   * The peer was seen at `address` (it connected to us from there). If our call goes elsewhere
   * (it restarted on a new port) the call is dropped and redialled there at once.
   */
  seenAt(address: Ipv6Endpoint): void {
    this.hint = address;
    // Connected or still dialling elsewhere (e.g. the dead address of its previous run, which
    // only fails at the handshake timeout): give up on that and dial where it is now.
    if (this.target !== null && this.target !== address) {
      this.opts.logger.info({ peer: this.opts.peer.instance, from: this.target, to: address }, 'validator moved: redialling');
      this.attempt?.abort(new Error('peer moved'));
    }
  }

  /** Stops the link; waits at most `waitMs` for the call to wind down (the transport closes it anyway). */
  async close(waitMs = 1_000): Promise<void> {
    this.closed = true;
    this.markClosed();
    this.attempt?.abort(new Error('closing'));
    this.wake?.();
    let timer: ReturnType<Clock['setTimeout']> | null = null;
    await Promise.race([this.running, new Promise<void>((r) => (timer = this.opts.clock.setTimeout(r, waitMs)))]);
    if (timer) this.opts.clock.clearTimeout(timer);
  }

  private async run(): Promise<void> {
    const initial = this.opts.initialBackoffMs ?? 100;
    const max = this.opts.maxBackoffMs ?? 2_000;
    let backoff = initial;
    while (!this.closed) {
      const ac = new AbortController();
      this.attempt = ac;
      const began = this.opts.clock.now();
      try {
        await this.callOnce(ac.signal);
      } catch (err) {
        if (!this.closed) this.opts.logger.debug({ peer: this.opts.peer.instance, err: (err as Error).message }, 'validator link down');
      } finally {
        if (this.connectedTo !== null) {
          this.opts.logger.info({ peer: this.opts.peer.instance, address: this.connectedTo }, 'validator link closed');
          this.downSince = this.opts.clock.now();
        }
        this.connectedTo = null;
        this.target = null;
      }
      if (this.closed) break;
      // A link that stayed up a while starts its backoff afresh.
      if (this.opts.clock.now() - began > 5_000) backoff = initial;
      // Redirected (the peer moved): redial at once; otherwise back off.
      await this.pause(ac.signal.aborted ? 0 : backoff);
      backoff = Math.min(max, backoff * 2);
    }
  }

  private pause(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = this.opts.clock.setTimeout(resolve, ms);
      const onWake = (): void => {
        this.opts.clock.clearTimeout(t);
        resolve();
      };
      void this.closing.then(onWake);
    });
  }

  private async callOnce(signal: AbortSignal): Promise<void> {
    const { peer, transport } = this.opts;
    const address = this.hint ?? (await this.opts.locate(signal));
    if (address === null) throw new Error(`no address known for ${peer.instance}`);
    this.hint = null;
    this.target = address;
    const conn: DialedConnection = await abortable(transport.connect(address, { serverName: HYPERMESH_SERVER_NAME, expectedService: HYPERMESH_SERVICE }), signal);
    try {
      if (conn.peer.instance !== peer.instance) throw new Error(`${address} is ${conn.peer.service}/${conn.peer.instance}, not validator ${peer.instance}`);
      if (!Buffer.from(conn.peer.falconPublicKey).equals(Buffer.from(peer.falconPublicKey))) throw new Error(`${address} (${peer.instance}) proved a FALCON key that is not the genesis key of validator ${peer.id}`);
      const client = new RpcClient({
        connector: async () => conn,
        resolver: { resolve: async () => ({ targets: [{ endpoint: address, expectedService: HYPERMESH_SERVICE }], ttlMs: Number.POSITIVE_INFINITY }) },
        retry: { maxAttempts: 1 },
        clock: this.opts.clock,
      });
      const watchdog = this.watchSilence(conn, signal);
      try {
        this.connectedTo = address;
        this.opts.logger.info({ peer: peer.instance, validator: peer.id, address }, 'validator link up');
        // Bidi (not client-streaming): the summary arrives when the stream ends, and a failed
        // send is reported through the response stream instead of an unobserved promise.
        for await (const summary of client.bidi(proto.ConsensusMethods.stream, this.outgoing(signal), { signal })) {
          this.opts.logger.debug({ peer: peer.instance, accepted: String(summary.accepted ?? 0), rejected: String(summary.rejected ?? 0) }, 'validator stream summary');
        }
      } finally {
        watchdog.stop();
        client.close();
      }
    } finally {
      conn.close(0, 'link closed');
    }
  }

  /**
   * A peer killed with SIGKILL sends no close, and its connection would look open until the
   * idle timeout (30 s) while everything sent into it is lost; after a restart on the same
   * address the peer would not hear from us for that long. So: a message went out at least
   * ACK_ALLOWANCE_MS before a check and not one packet came back since the previous check (a
   * live peer ACKs within its ACK delay, 25 ms) → the link is dropped and redialled.
   */
  private watchSilence(conn: DialedConnection, signal: AbortSignal): { stop(): void } {
    let timer: ReturnType<Clock['setTimeout']> | null = null;
    let received = packetsReceived(conn);
    this.firstSendInWindow = null;
    const check = (): void => {
      timer = null;
      if (signal.aborted || this.closed) return;
      const nowReceived = packetsReceived(conn);
      const first = this.firstSendInWindow;
      if (first !== null && this.opts.clock.now() - first >= ACK_ALLOWANCE_MS && nowReceived === received && nowReceived !== null) {
        this.opts.logger.info({ peer: this.opts.peer.instance, address: this.connectedTo }, 'validator silent: redialling');
        this.attempt?.abort(new Error('peer silent'));
        return;
      }
      received = nowReceived;
      this.firstSendInWindow = null;
      timer = this.opts.clock.setTimeout(check, SILENCE_MS);
    };
    timer = this.opts.clock.setTimeout(check, SILENCE_MS);
    return {
      stop: () => {
        if (timer !== null) this.opts.clock.clearTimeout(timer);
        timer = null;
      },
    };
  }

  private async *outgoing(signal: AbortSignal): AsyncGenerator<proto.ConsensusEnvelope> {
    const stop = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    while (!this.closed && !signal.aborted) {
      const next = this.queue.shift();
      if (next !== undefined) {
        this.sent++;
        this.firstSendInWindow ??= this.opts.clock.now();
        yield next;
        continue;
      }
      await Promise.race([new Promise<void>((r) => (this.wake = r)), stop]);
      this.wake = null;
    }
  }
}

/** Period of the silence watchdog's checks, and the time an ACK may take (well above 25 ms + RTT). */
const SILENCE_MS = 1_500;
const ACK_ALLOWANCE_MS = 500;

function packetsReceived(conn: DialedConnection): number | null {
  try {
    return conn.stats().packetsReceived;
  } catch {
    return null;
  }
}

/** `p`, or the signal's reason once it aborts; a connection that arrives after that is closed. */
function abortable(p: Promise<DialedConnection>, signal: AbortSignal): Promise<DialedConnection> {
  if (signal.aborted) {
    void p.then((c) => c.close(0, 'abandoned'), () => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      void p.then((c) => c.close(0, 'abandoned'), () => undefined);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (c) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) c.close(0, 'abandoned');
        else resolve(c);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
