// Min-heap of pending-transfer timeouts, ordered by (expiresAt, timestamp of the pending transfer)
// so expiries happen in one deterministic order. Entries are never removed early: the ledger
// skips an entry whose transfer is gone (a rolled-back chain) or no longer pending.

export interface ExpiryEntry {
  readonly expiresAt: bigint;
  readonly timestamp: bigint;
  readonly id: bigint;
}

export class ExpiryQueue {
  private readonly heap: ExpiryEntry[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): ExpiryEntry | undefined {
    return this.heap[0];
  }

  push(entry: ExpiryEntry): void {
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  pop(): ExpiryEntry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: ExpiryEntry, b: ExpiryEntry): boolean {
  return a.expiresAt < b.expiresAt || (a.expiresAt === b.expiresAt && a.timestamp < b.timestamp);
}
