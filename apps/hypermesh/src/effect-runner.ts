// Performs the replica's effects strictly in the order the core returned them, across steps:
// one FIFO. A `persist` is durable (fsync'd) when its sink returns or, if the sink returns a
// promise, when that promise resolves; only then does the next effect run, so a vote, timeout
// or proposal never leaves before the safety state that allows it. While a persist's fsync is
// in flight the event loop stays free: answers and sends made before it go out, messages are
// received and their effects queue behind it. If any effect fails the runner stops for good
// (nothing queued after it is performed) and reports the failure as fatal: the process must
// exit, never continue without its state. (Pacing an idle cluster is the core's job: Replica
// option emptyBlockDelay.)

import type { Effect, SafetyState, Block, ValidatorId, Message, CommittedBlock, EquivocationEvidence } from '@stoq/consensus';

export interface EffectSinks {
  /**
   * Durable when it returns, or when the promise it returns resolves; throws (or rejects) if it
   * could not be made durable.
   */
  persist(state: SafetyState, blocks: readonly Block[]): void | Promise<void>;
  send(to: ValidatorId, message: Message): void;
  broadcast(message: Message): void;
  commit(committed: CommittedBlock): void;
  setTimer(at: number): void;
  evidence(evidence: EquivocationEvidence): void;
  /** The validity check refused an operation this replica was about to propose (optional). */
  operationDropped?(operation: Uint8Array, detail: string): void;
}

export interface EffectRunnerOptions {
  /** Called once when an effect failed; the runner performs nothing afterwards. */
  onFatal(err: unknown, effect: Effect): void;
}

export class EffectRunner {
  private readonly queue: Effect[] = [];
  private failed = false;
  private closed = false;
  private persisted = 0;
  /** A persist whose durability is awaited: nothing after it runs meanwhile. */
  private awaitingDisk = false;

  constructor(
    private readonly sinks: EffectSinks,
    private readonly opts: EffectRunnerOptions,
  ) {}

  /** Queues a step's effects after everything queued before, and performs what it can now. */
  perform(effects: readonly Effect[]): void {
    if (this.failed || this.closed) return;
    for (const e of effects) this.queue.push(e);
    this.drain();
  }

  get stopped(): boolean {
    return this.failed || this.closed;
  }

  /** Nothing queued and no persist awaiting the disk: every effect returned so far is performed. */
  get idle(): boolean {
    return this.queue.length === 0 && !this.awaitingDisk;
  }

  /** Effects waiting (behind a persist's fsync). */
  get backlog(): number {
    return this.queue.length;
  }

  get persistCount(): number {
    return this.persisted;
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private drain(): void {
    while (!this.awaitingDisk && !this.failed && !this.closed && this.queue.length > 0) {
      const e = this.queue.shift()!;
      try {
        this.apply(e);
      } catch (err) {
        this.fail(err, e);
        return;
      }
    }
  }

  private fail(err: unknown, e: Effect): void {
    // After close() a sync still in flight may fail (its file closed under it): nothing to report.
    if (this.failed || this.closed) return;
    this.failed = true;
    this.queue.length = 0;
    this.opts.onFatal(err, e);
  }

  /** A persist: performed now; if its sink returns a promise, nothing else runs until it resolves. */
  private persist(e: Extract<Effect, { type: 'persist' }>): void {
    const durable = this.sinks.persist(e.state, e.blocks);
    if (!durable) {
      this.persisted++;
      return;
    }
    this.awaitingDisk = true;
    durable.then(
      () => {
        this.awaitingDisk = false;
        this.persisted++;
        this.drain();
      },
      (err: unknown) => this.fail(err, e),
    );
  }

  private apply(e: Effect): void {
    switch (e.type) {
      case 'persist':
        this.persist(e);
        return;
      case 'send':
        this.sinks.send(e.to, e.message);
        return;
      case 'broadcast':
        this.sinks.broadcast(e.message);
        return;
      case 'commit':
        this.sinks.commit(e.committed);
        return;
      case 'set-timer':
        this.sinks.setTimer(e.at);
        return;
      case 'evidence':
        this.sinks.evidence(e.evidence);
        return;
      case 'operation-dropped':
        this.sinks.operationDropped?.(e.operation, e.detail);
        return;
    }
  }
}
