// A small unbounded FIFO with async pull, used to hand authenticated connections to accept().

export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private readonly waiters: Array<(value: T | null) => void> = [];
  private closed = false;

  push(item: T): boolean {
    if (this.closed) return false;
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
    return true;
  }

  /** Next item, or null once the queue is closed and drained. */
  pull(): Promise<T | null> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift()!);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(null);
  }

  get size(): number {
    return this.items.length;
  }
}
