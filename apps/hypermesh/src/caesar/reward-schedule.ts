// Which committed heights this validator reports to `caesar/reward_block`, and when: the pure core
// of the reward reporter (reward-reporter.ts is its shell). No clock reads, no I/O: time comes in.
//
// Every height h has f+1 reporters, the validators h mod N, h+1 mod N, … h+f mod N; the k-th of
// them (rank k) reports it k × grace after it committed it here. Why f+1: any f validators may be
// crashed, cut off from Caesar or Byzantine and every block is still reported by an honest one;
// Caesar rewards a block once (transfer ids derived from its hash), so the later reporters get
// REWARD_ALREADY_APPLIED. Load on Caesar: f+1 calls per block (2 at N = 4), the second one a grace
// period later, instead of N at once; a validator reports (f+1)/N of the heights.
//
// Progress is a cursor: every height at or below it is settled here (reported, not this
// validator's, or refused for good). Only a window of heights above the cursor is held in memory;
// the backlog beyond it is the block log on disk, so a Caesar that is down for a day costs a
// number (tip − cursor), not memory. While Caesar fails, nothing new is sent: one height is
// retried at a time after an exponential backoff, and a success resumes full speed.

export interface RewardScheduleOptions {
  /** This validator's genesis id. */
  self: number;
  /** N, the size of the genesis set. */
  validators: number;
  /** Reporters per height (f + 1). */
  reporters: number;
  /** Delay between one rank of reporters and the next (clock units). */
  graceMs: number;
  /** Calls in flight at most. */
  maxInFlight: number;
  /** Heights above the cursor held in memory at most. */
  window: number;
  backoff: BackoffOptions;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/** How long to wait after `failures` consecutive failures (≥ 1): doubling, capped. */
export function backoffDelay(failures: number, o: BackoffOptions): number {
  if (failures <= 0) return 0;
  return Math.min(o.maxMs, o.initialMs * 2 ** Math.min(failures - 1, 30));
}

/** What became of one report: settled (rewarded now or before), refused for good, or to be retried. */
export type ReportAnswer = 'settled' | 'refused' | 'retry';

interface Slot {
  dueAt: number;
  state: 'waiting' | 'in-flight' | 'done';
}

export class RewardSchedule {
  private settledTo: number;
  private tip: number;
  /** Heights cursor+1 … nextTracked-1 are in `slots`. */
  private nextTracked: number;
  private readonly slots = new Map<number, Slot>();
  private inFlight = 0;
  private failures = 0;
  private pausedUntil = 0;

  constructor(
    private readonly o: RewardScheduleOptions,
    start: { cursor: number; tip: number },
  ) {
    if (!(o.validators >= 1 && o.self >= 0 && o.self < o.validators)) throw new RangeError('self must be a validator id below N');
    if (!(o.reporters >= 1 && o.reporters <= o.validators)) throw new RangeError('reporters must be 1..N');
    if (!(o.maxInFlight >= 1 && o.window >= o.maxInFlight)) throw new RangeError('window must hold maxInFlight heights');
    this.settledTo = start.cursor;
    this.tip = Math.max(start.tip, start.cursor);
    this.nextTracked = start.cursor + 1;
  }

  /** This validator's rank among the reporters of `height` (0 = first); ≥ reporters: not one. */
  rank(height: number): number {
    const n = this.o.validators;
    return (((this.o.self - height) % n) + n) % n;
  }

  /** Every height at or below it is settled here (the durable progress). */
  get cursor(): number {
    return this.settledTo;
  }

  /** Committed heights not settled yet (most of them on disk only). */
  get backlog(): number {
    return this.tip - this.settledTo;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** The committed tip reached `height` (at `now`). */
  onCommitted(height: number, now: number): void {
    if (height > this.tip) this.tip = height;
    this.fill(now);
  }

  /** Heights to report now; each is in flight until onAnswer. */
  due(now: number): number[] {
    this.fill(now);
    if (now < this.pausedUntil) return [];
    // After a failure, one probe at a time until Caesar answers again.
    const limit = this.failures > 0 ? 1 : this.o.maxInFlight;
    const out: number[] = [];
    for (let h = this.settledTo + 1; h < this.nextTracked && this.inFlight < limit; h++) {
      const s = this.slots.get(h)!;
      if (s.state !== 'waiting' || s.dueAt > now) continue;
      s.state = 'in-flight';
      this.inFlight++;
      out.push(h);
    }
    return out;
  }

  onAnswer(height: number, answer: ReportAnswer, now: number): void {
    const s = this.slots.get(height);
    if (!s || s.state !== 'in-flight') throw new Error(`height ${height} is not in flight`);
    this.inFlight--;
    if (answer === 'retry') {
      s.state = 'waiting';
      this.failures++;
      this.pausedUntil = now + backoffDelay(this.failures, this.o.backoff);
      return;
    }
    s.state = 'done';
    this.failures = 0;
    this.pausedUntil = 0;
    this.fill(now);
  }

  /** When `due` may next return something (null: nothing waits; a commit or an answer will tell). */
  nextWakeAt(now: number): number | null {
    this.fill(now);
    // Calls in flight up to the limit: their answers wake the shell, not a timer.
    if (this.inFlight >= (this.failures > 0 ? 1 : this.o.maxInFlight)) return null;
    let at: number | null = null;
    for (let h = this.settledTo + 1; h < this.nextTracked; h++) {
      const s = this.slots.get(h)!;
      if (s.state === 'waiting' && (at === null || s.dueAt < at)) at = s.dueAt;
    }
    if (at === null) return null;
    return Math.max(at, this.pausedUntil);
  }

  /** Takes heights into the window as it has room (not ours: settled at once) and moves the cursor. */
  private fill(now: number): void {
    for (;;) {
      while (this.nextTracked <= this.tip && this.nextTracked <= this.settledTo + this.o.window) {
        const h = this.nextTracked++;
        const rank = this.rank(h);
        this.slots.set(h, rank < this.o.reporters ? { dueAt: now + rank * this.o.graceMs, state: 'waiting' } : { dueAt: now, state: 'done' });
      }
      if (!this.advance()) return;
    }
  }

  private advance(): boolean {
    let moved = false;
    while (this.slots.get(this.settledTo + 1)?.state === 'done') {
      this.slots.delete(++this.settledTo);
      moved = true;
    }
    return moved;
  }
}
