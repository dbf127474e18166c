// A Clock whose time moves only when told to: for tests, and for anything that runs on virtual
// time (a deterministic simulator). Due timers fire in deadline order, ties in the order set.
import type { Clock, TimerHandle } from './clock';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(start = 1_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t: Timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    return t as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    (handle as unknown as Timer).cancelled = true;
  }

  /** Pending (uncancelled) timers. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Fires the earliest uncancelled timer due at or before `target`, moving time to its deadline.
   * Returns false (changing nothing) when none is due. The building block of `advance`.
   */
  fireNext(target: number): boolean {
    const due = this.timers.filter((t) => !t.cancelled && t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
    if (!due) return false;
    this.time = Math.max(this.time, due.at);
    due.cancelled = true;
    this.timers = this.timers.filter((t) => !t.cancelled);
    due.fn();
    return true;
  }

  /** Moves time forward by `ms`, firing due timers (including ones they set) in order. */
  advance(ms: number): void {
    const target = this.time + ms;
    while (this.fireNext(target));
    this.time = Math.max(this.time, target);
  }
}
