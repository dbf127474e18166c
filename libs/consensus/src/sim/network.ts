// Simulated network: per-message delay drawn from [minDelay, maxDelay] (so messages reorder),
// occasional long delay spikes, loss, duplication, and partitions (a message crossing a cut at
// send time is dropped). Delivery is scheduled on the event queue by the caller's callback.
import type { Prng } from './prng';
import type { ValidatorId } from '../types';

export interface NetworkProfile {
  minDelay: number;
  maxDelay: number;
  /** Probability a message is dropped. */
  lossRate: number;
  /** Probability a message is delivered twice. */
  duplicateRate: number;
  /** Probability a message is held back up to 10 x maxDelay. */
  spikeRate: number;
}

export class SimNetwork {
  /** Partition group of each replica; replicas talk only within a group. null = fully connected. */
  private groups: number[] | null = null;
  private faulty = true;
  sent = 0;
  dropped = 0;

  constructor(
    private readonly profile: NetworkProfile,
    private readonly prng: Prng,
    private readonly deliver: (at: number, from: ValidatorId, to: ValidatorId, bytes: Uint8Array) => void,
  ) {}

  /** Whether a and b are on the same side of the current partition (if any). */
  reachable(a: number, b: number): boolean {
    return this.groups === null || this.groups[a] === this.groups[b];
  }

  partition(groups: number[]): void {
    this.groups = groups;
  }

  heal(): void {
    this.groups = null;
  }

  /** After the fault phase: no loss, no partitions (delays, reordering and duplicates remain). */
  calm(): void {
    this.faulty = false;
    this.groups = null;
  }

  get partitioned(): boolean {
    return this.groups !== null;
  }

  send(now: number, from: ValidatorId, to: ValidatorId, bytes: Uint8Array, extraDelay = 0): void {
    this.sent++;
    if (this.groups !== null && this.groups[from] !== this.groups[to]) {
      this.dropped++;
      return;
    }
    if (this.faulty && this.prng.chance(this.profile.lossRate)) {
      this.dropped++;
      return;
    }
    this.deliver(now + extraDelay + this.delay(), from, to, bytes);
    if (this.prng.chance(this.profile.duplicateRate)) this.deliver(now + extraDelay + this.delay(), from, to, bytes);
  }

  private delay(): number {
    const p = this.profile;
    const d = this.prng.int(p.minDelay, p.maxDelay);
    return this.faulty && this.prng.chance(p.spikeRate) ? d + this.prng.int(0, 10 * p.maxDelay) : d;
  }
}
