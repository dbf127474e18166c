// What one seed simulates: the fault profile is drawn from the seed ("swarm testing": each
// fault is on or off per seed, so some runs are calm and some hostile), unless a test pins it.
import type { UnsafeMutationForTests } from '../safety';
import type { PacemakerTiming } from '../replica-options';
import { BYZANTINE_BEHAVIOURS, type ByzantineBehaviour } from './byzantine';
import type { NetworkProfile } from './network';
import { Prng } from './prng';

export interface SimulationOptions {
  seed: number;
  /** Simulated duration in ticks; 1 tick = 1 ms of simulated time. */
  ticks: number;
  /** Validators (N >= 4 for f >= 1; default 4). */
  replicas?: number;
  /** Byzantine behaviours, one per Byzantine replica (at most f). Default: drawn from the seed. */
  byzantine?: readonly ByzantineBehaviour[];
  /** Override parts of the drawn network profile. */
  network?: Partial<NetworkProfile>;
  /** Enable or disable fault classes (default: drawn from the seed). */
  partitions?: boolean;
  crashes?: boolean;
  /** Operations submitted per simulated second (default 200). */
  opsPerSecond?: number;
  /**
   * Submit each operation to every running replica (as apps/hypermesh forwards submissions to
   * all mempools) and, in runs without crashes or partitions, check that every valid one
   * commits: each operation submitted at least `livenessBound` ticks before the end must be
   * committed by then (default false).
   */
  submitToAll?: boolean;
  /** Break the protocol on purpose (mutation tests only). */
  unsafeMutationForTests?: UnsafeMutationForTests;
  /** Verify every commit's QC with the exported verifier (default true). */
  checkCommitQc?: boolean;
  /** Stop at the first violation (default true). */
  stopOnViolation?: boolean;
  /** The replicas' emptyBlockDelay (pacing; default: drawn from the seed, 0 in half the runs). */
  emptyBlockDelay?: number;
  /**
   * The replicas' broadcastVotes (default false). Not drawn: the adversaries and mutation checks
   * that need a leader able to withhold a QC (fork, the livelock seeds) rely on votes going to the
   * next leader only; the test suite runs whole seed ranges with it on.
   */
  broadcastVotes?: boolean;
}

export interface PartitionPlan {
  at: number;
  duration: number;
  /** Group of each replica. */
  groups: number[];
}

export interface CrashPlan {
  at: number;
  replica: number;
  downFor: number;
}

export interface Scenario {
  seed: number;
  ticks: number;
  replicas: number;
  byzantine: { id: number; behaviour: ByzantineBehaviour }[];
  network: NetworkProfile;
  timing: PacemakerTiming;
  /** Clock offset (ticks) and drift (parts per million) of each replica. */
  clocks: { offset: number; driftPpm: number }[];
  partitions: PartitionPlan[];
  crashes: CrashPlan[];
  tornWriteProbability: number;
  opsPerSecond: number;
  /** Faults stop here (partitions healed, crashed replicas restarted, no more loss). */
  healAt: number;
  /** Every honest replica must commit a new block within this many ticks after healAt. */
  livenessBound: number;
  /** Replica option emptyBlockDelay (ticks). */
  emptyBlockDelay: number;
  /** Replica option broadcastVotes. */
  broadcastVotes: boolean;
}

export function scenarioFor(o: SimulationOptions): Scenario {
  const prng = new Prng(o.seed, 1);
  const n = o.replicas ?? 4;
  if (!Number.isInteger(n) || n < 1) throw new RangeError('replicas must be a positive integer');
  const f = Math.floor((n - 1) / 3);
  const minDelay = prng.int(1, 5);
  const network: NetworkProfile = {
    minDelay,
    maxDelay: minDelay + prng.int(2, 40),
    lossRate: prng.chance(0.6) ? prng.float() * 0.1 : 0,
    duplicateRate: prng.chance(0.5) ? prng.float() * 0.05 : 0,
    spikeRate: prng.chance(0.5) ? prng.float() * 0.02 : 0,
    ...o.network,
  };
  const baseTimeout = Math.max(100, 6 * network.maxDelay);
  const timing: PacemakerTiming = { baseTimeout, maxTimeout: 4 * baseTimeout };
  const ids = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = prng.int(0, i);
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  const behaviours = o.byzantine ?? Array.from({ length: prng.int(0, f) }, () => prng.pick(BYZANTINE_BEHAVIOURS));
  if (behaviours.length > f) throw new RangeError(`at most f = ${f} Byzantine replicas with N = ${n}`);
  const byzantine = behaviours.map((behaviour, i) => ({ id: ids[i]!, behaviour }));
  // After the heal: the view in progress (its timer armed before, up to maxTimeout), then views
  // that end by a TC at maxTimeout each until three honest leaders follow each other (a commit
  // needs QCs in two consecutive views: both leaders and the next one honest). Beyond the first
  // Byzantine replica each spoils up to three more views (as leader, as next leader, as the
  // leader after next); then a few ordinary views.
  const livenessBound = (2 + Math.max(0, byzantine.length - 1) * 3) * timing.maxTimeout + 10 * baseTimeout;
  const healAt = Math.max(0, o.ticks - livenessBound);

  const clocks = ids.map(() => ({ offset: prng.int(0, 1_000_000), driftPpm: prng.chance(0.5) ? prng.int(-2000, 2000) : 0 }));

  const partitions: PartitionPlan[] = [];
  if (o.partitions ?? prng.chance(0.6)) {
    // Up to four partitions, one per slot of the fault phase so they do not cut each other short.
    const count = prng.int(1, 4);
    const slot = Math.floor(healAt / count);
    for (let i = 0; i < count && slot > 100; i++) {
      // Half the time a random split, half the time an arc of the leader rotation (replicas in
      // one rack or region), which lets both sides hold consecutive leaders.
      let groups: number[];
      if (prng.chance(0.5)) {
        groups = ids.map(() => (prng.chance(0.5) ? 1 : 0));
        if (groups.every((g) => g === groups[0])) groups[prng.int(0, n - 1)] = 1 - groups[0]!;
      } else {
        const start = prng.int(0, n - 1);
        const len = prng.int(1, Math.max(1, n - 1));
        groups = Array.from({ length: n }, (_, id) => ((id - start + n) % n < len ? 1 : 0));
      }
      const duration = prng.int(100, slot);
      partitions.push({ at: i * slot + prng.int(0, slot - duration), duration, groups });
    }
  }
  const crashes: CrashPlan[] = [];
  if (o.crashes ?? prng.chance(0.6)) {
    const count = prng.int(1, 6);
    for (let i = 0; i < count && healAt > 0; i++) crashes.push({ at: prng.int(0, healAt), replica: prng.int(0, n - 1), downFor: prng.int(50, 4000) });
  }
  const tornWriteProbability = prng.chance(0.7) ? 0.5 : 0;
  // Drawn last, so the draws above (and every seed's scenario without pacing) stay as they were.
  const emptyBlockDelay = o.emptyBlockDelay ?? (prng.chance(0.5) ? prng.int(1, Math.floor(baseTimeout / 4)) : 0);
  if (!(emptyBlockDelay >= 0 && emptyBlockDelay < baseTimeout)) throw new RangeError(`emptyBlockDelay ${emptyBlockDelay} must be below this seed's base timeout (${baseTimeout} ticks)`);
  const broadcastVotes = o.broadcastVotes ?? false;
  return {
    seed: o.seed,
    ticks: o.ticks,
    replicas: n,
    byzantine,
    network,
    timing,
    clocks,
    partitions,
    crashes,
    tornWriteProbability,
    opsPerSecond: o.opsPerSecond ?? 200,
    healAt,
    livenessBound,
    emptyBlockDelay,
    broadcastVotes,
  };
}
