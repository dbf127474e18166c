// The shell of the reward reporter: feeds RewardSchedule (the sans-I/O core) with commits and the
// clock, sends the heights it says to `caesar/reward_block` with the block's stored
// encodeCommittedBlock bytes, and keeps its cursor on disk so a restart resumes where it stopped.
// Nothing here is on the consensus path: a commit only records the new tip; calls run on their
// own, and a Caesar that is down costs one probe per backoff period.
import type { Clock, TimerHandle } from '@stoq/core';
import type { Logger } from 'pino';
import type { ReportingTables } from '../store/reporting-tables';
import { classifyError, classifyReward, type CaesarReports, type Classified } from './caesar-reports';
import { RewardSchedule, type BackoffOptions } from './reward-schedule';

export interface RewardReporterOptions {
  self: number;
  validators: number;
  /** f + 1 (default): reporters per height. */
  reporters: number;
  graceMs?: number;
  maxInFlight?: number;
  window?: number;
  backoff?: BackoffOptions;
  /** Where blocks and the cursor are. */
  store: { readonly committedHeight: number; blockRecord(height: number): Uint8Array | null; readonly reporting: ReportingTables };
  caesar: CaesarReports;
  clock: Clock;
  logger: Logger;
}

export const REWARD_DEFAULTS = { graceMs: 10_000, maxInFlight: 4, window: 1024, backoff: { initialMs: 500, maxMs: 30_000 } } as const;

export class RewardReporter {
  private readonly schedule: RewardSchedule;
  private timer: TimerHandle | null = null;
  private timerAt = 0;
  private closed = false;
  private persisted: number;
  private failingSince: number | null = null;
  readonly counters = { applied: 0, alreadyApplied: 0, refused: 0, retries: 0 };

  constructor(private readonly o: RewardReporterOptions) {
    this.persisted = o.store.reporting.rewardCursor();
    this.schedule = new RewardSchedule(
      {
        self: o.self,
        validators: o.validators,
        reporters: o.reporters,
        graceMs: o.graceMs ?? REWARD_DEFAULTS.graceMs,
        maxInFlight: o.maxInFlight ?? REWARD_DEFAULTS.maxInFlight,
        window: o.window ?? REWARD_DEFAULTS.window,
        backoff: o.backoff ?? REWARD_DEFAULTS.backoff,
      },
      { cursor: this.persisted, tip: o.store.committedHeight },
    );
  }

  get cursor(): number {
    return this.schedule.cursor;
  }

  get backlog(): number {
    return this.schedule.backlog;
  }

  start(): void {
    this.o.logger.info({ cursor: this.persisted, tip: this.o.store.committedHeight }, 'caesar reward reporter started');
    this.pump();
  }

  onCommitted(height: number): void {
    if (this.closed) return;
    this.schedule.onCommitted(height, this.o.clock.now());
    this.pump();
  }

  close(): void {
    this.closed = true;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private pump(): void {
    if (this.closed) return;
    const now = this.o.clock.now();
    for (const h of this.schedule.due(now)) void this.report(h);
    this.saveCursor();
    const at = this.schedule.nextWakeAt(now);
    if (at === null || (this.timer && this.timerAt === at)) return;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null;
      this.pump();
    }, Math.max(0, at - now));
  }

  private async report(height: number): Promise<void> {
    const record = this.o.store.blockRecord(height);
    let c: Classified;
    if (!record) c = { answer: 'refused', outcome: 'NOT_IN_BLOCK_LOG', detail: `block ${height} is no longer in the block log` };
    else {
      try {
        c = classifyReward(await this.o.caesar.rewardBlock(record));
      } catch (err) {
        c = classifyError(err);
      }
    }
    if (this.closed) return;
    const now = this.o.clock.now();
    this.schedule.onAnswer(height, c.answer, now);
    const log = this.o.logger;
    if (c.answer === 'retry') {
      this.counters.retries++;
      // One warning when reporting starts failing, then debug: a Caesar that is down for an hour
      // must not flood the log.
      if (this.failingSince === null) {
        this.failingSince = now;
        log.warn({ height, outcome: c.outcome, detail: c.detail, backlog: this.schedule.backlog }, 'caesar reward_block failed: retrying with backoff (consensus goes on)');
      } else log.debug({ height, outcome: c.outcome, detail: c.detail, failures: this.schedule.consecutiveFailures }, 'caesar reward_block failed again');
    } else {
      if (this.failingSince !== null) {
        log.info({ height, failedForMs: now - this.failingSince, backlog: this.schedule.backlog }, 'caesar reward_block answers again');
        this.failingSince = null;
      }
      if (c.answer === 'refused') {
        this.counters.refused++;
        log.error({ height, outcome: c.outcome, detail: c.detail }, 'caesar refused the reward of a committed block for good');
      } else if (c.outcome === 'APPLIED') {
        this.counters.applied++;
        log.debug({ height }, 'block rewarded');
      } else this.counters.alreadyApplied++;
    }
    this.pump();
  }

  private saveCursor(): void {
    const cursor = this.schedule.cursor;
    if (cursor <= this.persisted) return;
    try {
      this.o.store.reporting.setRewardCursor(cursor);
      this.persisted = cursor;
    } catch (err) {
      // Not consensus state: a failed write costs re-reporting (Caesar answers ALREADY_APPLIED).
      this.o.logger.error({ err, cursor }, 'could not store the reward cursor');
    }
  }
}
