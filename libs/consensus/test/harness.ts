// A tiny synchronous cluster for unit tests: messages are delivered FIFO, instantly, and every
// effect list is checked for the shell contract (nothing is sent for a vote before its persist).
import { Replica, ValidatorSet, type Block, type CommittedBlock, type Effect, type Message, type ReplicaOptions, type SafetyState, type ValidatorId } from '../src';
import { KeyedHashKeys } from '../src/sim/keyed-signatures';

export interface Envelope {
  from: ValidatorId;
  to: ValidatorId;
  message: Message;
}

export class Cluster {
  readonly keys: KeyedHashKeys;
  readonly set: ValidatorSet;
  readonly replicas: Replica[];
  readonly queue: Envelope[] = [];
  readonly persisted = new Map<ValidatorId, SafetyState>();
  /** Blocks each replica stored with its persists (what its disk would hold). */
  readonly storedBlocks = new Map<ValidatorId, Block[]>();
  readonly commits = new Map<ValidatorId, CommittedBlock[]>();
  readonly timers = new Map<ValidatorId, number>();
  readonly evidence: Effect[] = [];
  /** operation-dropped effects: operations a leader's check refused. */
  readonly dropped: { replica: ValidatorId; operation: Uint8Array; detail: string }[] = [];
  /** Rejection codes of delivered messages, per receiving replica. */
  readonly rejections: { to: ValidatorId; code: string; detail: string }[] = [];
  readonly down = new Set<ValidatorId>();
  /** Return true to drop a message. */
  drop: (e: Envelope) => boolean = () => false;
  now = 1000;

  constructor(
    readonly n = 4,
    extra: Partial<ReplicaOptions> = {},
  ) {
    this.keys = new KeyedHashKeys(n, 7);
    this.set = ValidatorSet.fromGenesis({ chainId: 'test-chain', validators: this.keys.validators });
    this.replicas = this.set.validators.map((v) => this.make(v.id, extra));
  }

  make(id: ValidatorId, extra: Partial<ReplicaOptions> = {}): Replica {
    return new Replica({ genesis: this.set, self: id, signer: this.keys.signer(id), verifier: this.keys.verifier(), timing: { baseTimeout: 100, maxTimeout: 800 }, ...extra });
  }

  start(): void {
    this.replicas.forEach((r, id) => {
      if (!this.down.has(id)) this.apply(id, r.start(this.now));
    });
  }

  /** Delivers messages, firing the earliest timer whenever the network is idle, until `until` holds. */
  runUntil(until: () => boolean, maxTimers = 200): void {
    let timers = 0;
    while (!until()) {
      if (this.run(50) > 0) continue;
      if (timers++ >= maxTimers) return;
      this.fireNextTimer();
    }
  }

  apply(id: ValidatorId, effects: Effect[]): void {
    let persistedSinceLastVote = false;
    for (const e of effects) {
      switch (e.type) {
        case 'persist':
          this.persisted.set(id, e.state);
          this.storedBlocks.set(id, [...(this.storedBlocks.get(id) ?? []), ...e.blocks]);
          persistedSinceLastVote = true;
          break;
        case 'send':
          if (e.message.type === 'vote') {
            // The shell contract: a vote leaves only after the persist effect that allows it.
            if (!persistedSinceLastVote) throw new Error(`replica ${id} sent a vote without a persist before it`);
            if (this.persisted.get(id)!.lastVotedView < e.message.view) throw new Error('vote beyond the persisted lastVotedView');
            persistedSinceLastVote = false;
          }
          this.queue.push({ from: id, to: e.to, message: e.message });
          break;
        case 'broadcast':
          for (const v of this.set.validators) if (v.id !== id) this.queue.push({ from: id, to: v.id, message: e.message });
          break;
        case 'commit': {
          const list = this.commits.get(id) ?? [];
          list.push(e.committed);
          this.commits.set(id, list);
          break;
        }
        case 'set-timer':
          this.timers.set(id, e.at);
          break;
        case 'evidence':
          this.evidence.push(e);
          break;
        case 'operation-dropped':
          this.dropped.push({ replica: id, operation: e.operation, detail: e.detail });
          break;
      }
    }
  }

  /** Delivers queued messages until none are left (or `max` deliveries). */
  run(max = 100_000): number {
    let n = 0;
    while (this.queue.length > 0 && n < max) {
      const env = this.queue.shift()!;
      n++;
      if (this.down.has(env.to) || this.drop(env)) continue;
      const step = this.replicas[env.to]!.onMessage(env.from, env.message, this.now);
      if (step.rejection) this.rejections.push({ to: env.to, ...step.rejection });
      this.apply(env.to, step.effects);
    }
    return n;
  }

  /** Advances the clock to the earliest timer and fires it. */
  fireNextTimer(): void {
    let best: ValidatorId | null = null;
    for (const [id, at] of this.timers) if (!this.down.has(id) && (best === null || at < this.timers.get(best)!)) best = id;
    if (best === null && this.down.size > 0) throw new Error('no timer among running replicas');
    if (best === null) throw new Error('no timer');
    this.now = Math.max(this.now, this.timers.get(best)!);
    this.timers.delete(best);
    this.apply(best, this.replicas[best]!.onTimeout(this.now));
  }

  /** Every replica crashes and restarts from what it persisted (safety state, voted blocks, block log). */
  restartAll(): void {
    this.queue.length = 0;
    this.timers.clear();
    this.replicas.forEach((_, id) => {
      const safety = this.persisted.get(id);
      const r = this.make(id, safety ? { restored: { safety, committed: this.commits.get(id) ?? [], pendingBlocks: this.storedBlocks.get(id) ?? [] } } : {});
      this.replicas[id] = r;
      this.apply(id, r.start(this.now));
    });
  }

  heights(): number[] {
    return this.replicas.map((r) => r.committedTip.height);
  }

  submitEverywhere(op: Uint8Array): void {
    for (const r of this.replicas) r.submit(op);
  }
}

export function op(i: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(4, i);
  return b;
}
