// AsyncQueue: a single-consumer FIFO with async take, an end and an error. It hands accepted
// connections and streams to accept(), and received RPC messages from a stream's read loop to
// an async iterator.

export class AsyncQueue<T> {
  // Items live in items[head..]; taking advances head (Array#shift is O(n) on long arrays, and
  // one read can hand over tens of thousands of small messages at once).
  private items: T[] = [];
  private head = 0;
  private waiters: Array<{ resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }> = [];
  private ended = false;
  private error: unknown = null;
  private spaceWaiters: Array<() => void> = [];

  get size(): number {
    return this.items.length - this.head;
  }

  /** Appends `item`; false (item dropped) once the queue has ended or failed. */
  push(item: T): boolean {
    if (this.ended || this.error !== null) return false;
    const w = this.waiters.shift();
    if (w) w.resolve({ value: item, done: false });
    else this.items.push(item);
    return true;
  }

  /** No more items: takers get what is queued, then `done`. */
  end(): void {
    if (this.ended || this.error !== null) return;
    this.ended = true;
    for (const w of this.waiters.splice(0)) w.resolve({ value: undefined, done: true });
    this.wakeSpace();
  }

  /** Drops what is queued; takers reject with `err`. */
  fail(err: unknown): void {
    if (this.ended || this.error !== null) return;
    this.error = err;
    this.items = [];
    this.head = 0;
    for (const w of this.waiters.splice(0)) w.reject(err);
    this.wakeSpace();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.head < this.items.length) {
      const value = this.items[this.head]!;
      this.items[this.head++] = undefined as T; // release the reference
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      if (this.spaceWaiters.length > 0) this.wakeSpace();
      return Promise.resolve({ value, done: false });
    }
    if (this.error !== null) return Promise.reject(this.error);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** The next item, or null once the queue has ended. */
  async pull(): Promise<T | null> {
    const r = await this.next();
    return r.done ? null : r.value;
  }

  /** Resolves when fewer than `limit` items wait (the producer's backpressure point). */
  async waitForSpace(limit: number): Promise<void> {
    while (this.size >= limit && !this.ended && this.error === null) {
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
  }

  private wakeSpace(): void {
    const s = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const w of s) w();
  }
}
