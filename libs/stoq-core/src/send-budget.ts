// Fairness and memory bounds for stream writes, shared by every stream of a transport.
//
// Two separate problems, one place:
// - Memory. Bytes written by JS that quinn has not taken yet (it holds them back under flow
//   control) sit in the native mux's queues. They are bounded three ways: per stream (the
//   stream's write window), per connection and per transport (`SendBudget`). A write is always
//   handed down, but its promise resolves only while all three are within their limits, so a
//   handler that awaits its writes (every RPC handler does) waits instead of buffering without
//   end. What quinn itself holds is bounded per connection by its send window (native config).
// - Fairness. A write within the limits resolves at once, so a handler producing messages in a
//   loop would run as one long chain of microtasks and keep the event loop from ever reaching
//   I/O: new handshakes, the FALCON exchange and other connections' calls would wait behind it.
//   `TurnBudget` ends that chain: once a turn of the event loop has written its share, further
//   writes resolve only after the loop has been through its I/O phase (setImmediate), and the
//   writers that waited resume in the order they wrote.
//
// Both are plain state machines over injected "defer" and counters, so they are unit-tested
// without sockets.

/** Defaults (bytes). Overridable per transport: `StoqTransportOptions.sendBudget`. */
export const DEFAULT_SEND_LIMITS: SendLimits = {
  streamWindow: 1024 * 1024,
  connectionBytes: 8 * 1024 * 1024,
  totalBytes: 256 * 1024 * 1024,
  turnBytes: 512 * 1024,
};

export interface SendLimits {
  /** Written bytes one stream may have queued below quinn before its writes wait. */
  readonly streamWindow: number;
  /** Sum of that over the streams of one connection. */
  readonly connectionBytes: number;
  /** Sum of that over every connection of the transport (the node-wide bound). */
  readonly totalBytes: number;
  /**
   * Bytes all streams together may write in one turn of the event loop before writes yield to
   * I/O. Each write also counts `WRITE_COST` bytes, so tiny messages yield as well.
   */
  readonly turnBytes: number;
}

/** What one write costs the turn beyond its bytes: the JS work of producing a message. */
export const WRITE_COST = 512;

/** Something that is waiting for room: re-checked, in order, when room appears. */
export interface BudgetWaiter {
  /** Tries to go on; false if it still has to wait (it stays queued). */
  retry(): boolean;
}

/**
 * The transport-wide account of bytes queued below quinn, with its connections' accounts.
 * Waiters blocked by any shared limit queue here, oldest first.
 */
export class SendBudget {
  private used = 0;
  private readonly waiting: BudgetWaiter[] = [];
  private waking = false;
  readonly turn: TurnBudget;

  constructor(
    readonly limits: SendLimits = DEFAULT_SEND_LIMITS,
    defer: (fn: () => void) => void = setImmediate,
  ) {
    for (const [k, v] of Object.entries(limits)) {
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`send limit ${k} must be a positive integer, got ${v}`);
    }
    this.turn = new TurnBudget(limits.turnBytes, defer);
  }

  /** A new connection's account. */
  connection(): ConnectionBudget {
    return new ConnectionBudget(this);
  }

  get queuedBytes(): number {
    return this.used;
  }

  get waiters(): number {
    return this.waiting.length;
  }

  hasRoom(): boolean {
    return this.used <= this.limits.totalBytes;
  }

  /** @internal */
  add(n: number): void {
    this.used += n;
  }

  /** @internal */
  remove(n: number): void {
    this.used -= n;
    if (this.used < 0) throw new Error(`send budget underflow (${this.used})`);
    this.wake();
  }

  /** Queues `w` until room appears (see `wake`). */
  wait(w: BudgetWaiter): void {
    this.waiting.push(w);
  }

  /** Lets waiters go on, oldest first, while there is room; those still blocked keep their place. */
  private wake(): void {
    if (this.waking || this.waiting.length === 0 || !this.hasRoom()) return;
    this.waking = true;
    try {
      let kept = 0;
      const list = this.waiting;
      for (let i = 0; i < list.length; i++) {
        const w = list[i]!;
        if (!this.hasRoom() || !w.retry()) list[kept++] = w;
      }
      list.length = kept;
    } finally {
      this.waking = false;
    }
  }
}

/** One connection's share of the transport budget. */
export class ConnectionBudget {
  private used = 0;

  constructor(readonly parent: SendBudget) {}

  get queuedBytes(): number {
    return this.used;
  }

  get limits(): SendLimits {
    return this.parent.limits;
  }

  hasRoom(): boolean {
    return this.used <= this.parent.limits.connectionBytes && this.parent.hasRoom();
  }

  add(n: number): void {
    this.used += n;
    this.parent.add(n);
  }

  remove(n: number): void {
    if (n === 0) return;
    this.used -= n;
    if (this.used < 0) throw new Error(`connection send budget underflow (${this.used})`);
    this.parent.remove(n);
  }
}

/**
 * Bytes written in the current turn of the event loop. `charge` answers null while the turn has
 * budget left, else a promise that resolves once the loop has run its I/O callbacks; the count
 * starts over then.
 */
export class TurnBudget {
  private spent = 0;
  private pending: Promise<void> | null = null;

  constructor(
    private readonly budget: number,
    private readonly defer: (fn: () => void) => void,
  ) {}

  charge(bytes: number): Promise<void> | null {
    if (this.pending !== null) return this.pending;
    this.spent += bytes + WRITE_COST;
    if (this.spent < this.budget) return null;
    this.pending = new Promise<void>((resolve) =>
      this.defer(() => {
        this.spent = 0;
        this.pending = null;
        resolve();
      }),
    );
    return this.pending;
  }
}
