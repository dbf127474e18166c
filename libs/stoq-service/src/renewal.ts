// Live renewal: at 2/3 of the certificate's life, get a new one (NodeIdentity decides that it is
// due and asks the CertificateSource, i.e. TrustChain) and swap it into the running endpoint.
// Open connections keep working on the old certificate; new handshakes present the new one.
// A failed attempt is retried with backoff, bounded by the time left before expiry.
import { systemClock, type Clock, type NodeIdentity, type TimerHandle } from '@stoq/core';
import type { Logger } from 'pino';

export interface RenewalOptions {
  current: NodeIdentity;
  /** Loads the identity again (re-issuing it when due). */
  reload: () => Promise<NodeIdentity>;
  /** Installs a new identity (StoqTransport.replaceIdentity). */
  install: (next: NodeIdentity) => void;
  logger: Logger;
  clock?: Clock;
}

/** When to try again after a failure: a tenth of the time left, between 1 s and 60 s. */
export function retryDelayMs(now: number, notAfter: number): number {
  return Math.min(60_000, Math.max(1000, (notAfter - now) / 10));
}

export class RenewalScheduler {
  private readonly clock: Clock;
  private timer: TimerHandle | null = null;
  private stopped = false;
  private identityNow: NodeIdentity;
  private running: Promise<void> | null = null;
  /** Renewals done since start. */
  renewals = 0;

  constructor(private readonly opts: RenewalOptions) {
    this.clock = opts.clock ?? systemClock;
    this.identityNow = opts.current;
  }

  get identity(): NodeIdentity {
    return this.identityNow;
  }

  start(): void {
    this.schedule(this.identityNow.renewAt.getTime() - this.clock.now());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    await this.running;
  }

  /** Runs the renewal check now (NodeIdentity re-issues only if due); resolves when done. */
  renewNow(): Promise<void> {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.running ??= this.attempt().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => void this.renewNow(), Math.max(0, ms));
  }

  private async attempt(): Promise<void> {
    const before = this.identityNow;
    try {
      const next = await this.opts.reload();
      if (next.fingerprint !== before.fingerprint) {
        this.opts.install(next);
        this.identityNow = next;
        this.renewals++;
        this.opts.logger.info({ fingerprint: next.fingerprint, notAfter: next.notAfter.toISOString(), previous: before.fingerprint }, 'certificate renewed; new handshakes use it');
      }
      this.schedule(this.identityNow.renewAt.getTime() - this.clock.now());
    } catch (err) {
      const wait = retryDelayMs(this.clock.now(), before.notAfter.getTime());
      this.opts.logger.error({ err, retryInMs: wait, notAfter: before.notAfter.toISOString() }, 'certificate renewal failed; retrying');
      this.schedule(wait);
    }
  }
}
