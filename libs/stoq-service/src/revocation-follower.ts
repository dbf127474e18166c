// Follows TrustChain's revocation list: a `trustchain/revocations` watch stream delivers each
// new version as it is made; while the stream is down, `trustchain/get_revocations` is polled.
// Every newer, validly signed list goes into the RevocationSet that verifyPeer consults, and
// `onRevoked` hears the fingerprints it newly revokes (to close their open connections).
import { delay, systemClock, type Clock } from '@stoq/core';
import { trustchain as tc } from '@stoq/protos';
import type { RpcClient } from '@stoq/rpc';
import type { Logger } from 'pino';
import type { RevocationSet } from './revocation-set';

export interface RevocationFollowerOptions {
  rpc: RpcClient;
  set: RevocationSet;
  logger: Logger;
  pollMs: number;
  onRevoked?: (fingerprints: string[]) => void;
  clock?: Clock;
}

export class RevocationFollower {
  private readonly abort = new AbortController();
  private readonly clock: Clock;
  private loop: Promise<void> | null = null;

  constructor(private readonly opts: RevocationFollowerOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  /** Fetches the current list once (so peers are checked from the first connection), then follows. */
  async start(): Promise<void> {
    await this.poll().catch((err: unknown) => this.opts.logger.warn({ err }, 'cannot fetch the revocation list yet; following in the background'));
    this.loop = this.follow();
  }

  async stop(): Promise<void> {
    this.abort.abort(new Error('stopping'));
    await this.loop;
  }

  private take(list: tc.RevocationList, via: string): void {
    try {
      const added = this.opts.set.apply(list);
      if (added.length > 0) {
        this.opts.logger.warn({ version: this.opts.set.version, revoked: added, via }, 'certificates revoked: refusing their holders');
        this.opts.onRevoked?.(added);
      }
    } catch (err) {
      this.opts.logger.error({ err, via }, 'ignoring a revocation list');
    }
  }

  private async poll(): Promise<void> {
    const list = await this.opts.rpc.call(tc.TrustChainMethods.getRevocations, { knownVersion: this.opts.set.version }, { timeoutMs: 5000, signal: this.abort.signal });
    this.take(list, 'poll');
  }

  private async follow(): Promise<void> {
    const signal = this.abort.signal;
    let failures = 0;
    while (!signal.aborted) {
      try {
        for await (const list of this.opts.rpc.serverStream(tc.TrustChainMethods.revocations, { knownVersion: this.opts.set.version }, { signal })) {
          failures = 0;
          this.take(list, 'watch');
        }
      } catch (err) {
        if (signal.aborted) return;
        if (failures++ === 0) this.opts.logger.warn({ err }, 'revocation watch interrupted; polling until it is back');
      }
      // Stream ended or failed: poll once, then reopen the watch after a pause.
      try {
        await delay(this.clock, Math.min(this.opts.pollMs, 250 * 2 ** Math.min(failures, 5)), signal);
        await this.poll();
      } catch {
        if (signal.aborted) return;
      }
    }
  }
}
