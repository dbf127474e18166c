// Pure group-commit sequencer: queues submissions, cuts them into batches (one write + one
// fsync each), assigns consecutive leaf indices and a batch timestamp, and tracks what is durable.
// No I/O and no clock: the shell passes `now` in and reports completion or failure.
import { CtLogError } from './errors';

export interface SequencerLimits {
  /** Most entries in one batch. */
  maxBatchEntries: number;
  /** Most payload bytes in one batch (a single entry larger than this still forms its own batch). */
  maxBatchBytes: number;
}

export interface Batch<T> {
  /** Leaf index of items[0]; items[i] gets firstIndex + i. */
  firstIndex: number;
  /** Timestamp (ms) shared by every entry of the batch; never decreases from batch to batch. */
  timestamp: number;
  items: T[];
}

export class Sequencer<T> {
  private queue: { item: T; bytes: number }[] = [];
  private head = 0;
  private inFlight: Batch<T> | null = null;
  private durable: number;
  private lastTs: number;
  private state: 'open' | 'failed' | 'closed' = 'open';

  constructor(
    durableSize: number,
    lastTimestamp: number,
    private readonly limits: SequencerLimits,
  ) {
    if (!Number.isSafeInteger(durableSize) || durableSize < 0) throw new RangeError(`durable size must be a non-negative safe integer, got ${durableSize}`);
    if (limits.maxBatchEntries < 1 || limits.maxBatchBytes < 1) throw new RangeError('batch limits must be positive');
    this.durable = durableSize;
    this.lastTs = lastTimestamp;
  }

  /** Entries durable so far (the tree size the shell may expose). */
  get durableSize(): number {
    return this.durable;
  }

  /** Largest timestamp handed out (an STH must be at least this recent). */
  get lastTimestamp(): number {
    return this.lastTs;
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  get busy(): boolean {
    return this.inFlight !== null;
  }

  get status(): 'open' | 'failed' | 'closed' {
    return this.state;
  }

  submit(item: T, bytes: number): void {
    if (this.state !== 'open') throw new CtLogError('UNAVAILABLE', `log is ${this.state}; not accepting entries`);
    this.queue.push({ item, bytes });
  }

  /** The next batch to write, or null while one is in flight or nothing is queued. */
  next(now: number): Batch<T> | null {
    if (this.inFlight || this.pending === 0 || this.state === 'failed') return null;
    const items: T[] = [];
    let bytes = 0;
    while (this.head < this.queue.length && items.length < this.limits.maxBatchEntries) {
      const q = this.queue[this.head]!;
      if (items.length > 0 && bytes + q.bytes > this.limits.maxBatchBytes) break;
      items.push(q.item);
      bytes += q.bytes;
      this.head += 1;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.lastTs = Math.max(this.lastTs, now);
    this.inFlight = { firstIndex: this.durable, timestamp: this.lastTs, items };
    return this.inFlight;
  }

  /** The in-flight batch is durable: its indices become part of the tree. */
  complete(batch: Batch<T>): void {
    if (batch !== this.inFlight) throw new Error('complete() called with a batch that is not in flight');
    this.durable += batch.items.length;
    this.inFlight = null;
  }

  /** A write failed: the sequencer stops; returns every item not made durable (to be rejected). */
  fail(): T[] {
    const lost = [...(this.inFlight?.items ?? []), ...this.queue.slice(this.head).map((q) => q.item)];
    this.inFlight = null;
    this.queue = [];
    this.head = 0;
    this.state = 'failed';
    return lost;
  }

  /** Stop accepting submissions; queued ones are still handed out by next(). */
  close(): void {
    if (this.state === 'open') this.state = 'closed';
  }
}
