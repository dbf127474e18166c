// A running validator that fell too far behind to catch up block by block (the others keep only
// their newest blocks: `--retain-blocks`) would wait forever: every few seconds this checks that
// the replica knows of a QC at least `minGap` above the committed height and that the committed
// height has not moved since the last check; then it fetches the snapshot f+1 validators vouch
// for and hands it to Validator.installSnapshot. At startup serve does the same before the
// replica runs (state-sync.ts stateSync).
import type { Clock, TimerHandle } from '@stoq/core';
import type { Logger } from 'pino';
import type { Validator } from '../validator';
import type { FetchedSnapshot } from './state-sync';

export interface BehindMonitorOptions {
  validator: Validator;
  committedHeight: () => number;
  fetch(committedHeight: number): Promise<FetchedSnapshot | { reason: string }>;
  minGap: number;
  clock: Clock;
  logger: Logger;
  everyMs?: number;
}

export class BehindMonitor {
  private timer: TimerHandle | null = null;
  private lastHeight = -1;
  private syncing = false;
  private closed = false;
  /** Snapshots installed while running. */
  installed = 0;

  constructor(private readonly o: BehindMonitorOptions) {}

  start(): void {
    this.arm();
  }

  close(): void {
    this.closed = true;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    if (this.closed) return;
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null;
      void this.check().finally(() => this.arm());
    }, this.o.everyMs ?? 5_000);
  }

  private async check(): Promise<void> {
    const v = this.o.validator;
    if (this.syncing || v.stopped) return;
    const height = this.o.committedHeight();
    const known = v.replica.highQc.height;
    const stuck = height === this.lastHeight;
    this.lastHeight = height;
    if (!stuck || known - height < this.o.minGap) return;
    this.syncing = true;
    try {
      this.o.logger.warn({ committedHeight: height, highQcHeight: known }, 'state sync: far behind and not catching up; fetching a snapshot');
      const fetched = await this.o.fetch(height);
      if ('reason' in fetched) {
        this.o.logger.info({ reason: fetched.reason }, 'state sync: nothing installed');
        return;
      }
      const outcome = v.installSnapshot(fetched.data, fetched.committed);
      if (outcome === 'installed') this.installed++;
      else this.o.logger.info({ outcome, height: fetched.committed.block.height }, 'state sync: snapshot not installed (tried again at the next check)');
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'state sync: failed (tried again at the next check)');
    } finally {
      this.syncing = false;
    }
  }
}
