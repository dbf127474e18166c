// The simulator as a test suite: a few hundred seeds of drawn fault profiles must pass the
// checker, and the checker must catch deliberately broken protocols (mutation checks).
import { runSimulation, type SimulationResult } from '../src/sim/simulation';
import { BYZANTINE_BEHAVIOURS } from '../src/sim/byzantine';
import type { SimulationOptions } from '../src/sim/profile';

function expectClean(r: SimulationResult): void {
  if (!r.ok) throw new Error(`seed ${r.seed} failed (reproduce: hypermesh-sim --seed ${r.seed} --ticks ${r.scenario.ticks}): ${JSON.stringify(r.violations.slice(0, 3))}`);
}

function seeds(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

const SAFETY = new Set(['conflicting-commit', 'replica-assertion']);

/** The first seed in the range whose run breaks safety (a broken protocol may also stall: not what we look for). */
function firstSafetyFailure(range: number[], o: Omit<SimulationOptions, 'seed'>): SimulationResult | null {
  for (const seed of range) {
    const r = runSimulation({ ...o, seed });
    if (r.violations.some((v) => SAFETY.has(v.kind))) return r;
  }
  return null;
}

describe('simulator: safety and liveness over drawn fault profiles', () => {
  // Votes to the next leader in the first half, to every validator (broadcastVotes, as
  // apps/hypermesh runs) in the second.
  for (const from of [1, 51, 101, 151]) {
    const broadcastVotes = from > 100;
    test(`seeds ${from}..${from + 49}, N = 4${broadcastVotes ? ', votes broadcast' : ''}`, () => {
      let progressed = 0;
      for (const seed of seeds(from, 50)) {
        const r = runSimulation({ seed, ticks: 6000, broadcastVotes });
        expectClean(r);
        if (r.scenario.livenessChecked) progressed++;
        expect(r.committedHeight).toBeGreaterThan(0);
      }
      expect(progressed).toBeGreaterThan(40);
    });
  }

  test('N = 5 and N = 7 (f = 1 and f = 2), 10 seeds each', () => {
    for (const broadcastVotes of [false, true]) for (const replicas of [5, 7]) for (const seed of seeds(1000, 10)) expectClean(runSimulation({ seed, ticks: 5000, replicas, broadcastVotes }));
  });

  test.each(BYZANTINE_BEHAVIOURS)('Byzantine behaviour %s: 8 seeds with one such replica', (behaviour) => {
    let evidence = 0;
    for (const seed of seeds(2000, 8)) {
      const r = runSimulation({ seed, ticks: 5000, byzantine: [behaviour], broadcastVotes: seed % 2 === 1 });
      expectClean(r);
      evidence += r.evidence;
    }
    if (behaviour === 'equivocate') expect(evidence).toBeGreaterThan(0);
  });

  test('crash-restarts with torn writes: replicas recover from their disks and catch up', () => {
    let restarts = 0;
    let torn = 0;
    for (const seed of seeds(3000, 12)) {
      const r = runSimulation({ seed, ticks: 6000, crashes: true, broadcastVotes: seed % 2 === 1 });
      expectClean(r);
      restarts += r.disk.restarts;
      torn += r.disk.tornWrites;
    }
    expect(restarts).toBeGreaterThan(10);
    expect(torn).toBeGreaterThan(0);
  });

  test('one seed is one run: the same seed gives the same result', () => {
    const a = runSimulation({ seed: 77, ticks: 4000 });
    const b = runSimulation({ seed: 77, ticks: 4000 });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(JSON.stringify(runSimulation({ seed: 78, ticks: 4000 }))).not.toBe(JSON.stringify(a));
  });
});

describe('simulator: mutation checks (the checker can fail)', () => {
  test('ignoring the lock rule is caught: a fork commits beside a committed block', () => {
    const r = firstSafetyFailure(seeds(1, 10), { ticks: 6000, byzantine: ['fork'], unsafeMutationForTests: 'ignore-lock-rule' });
    expect(r).not.toBeNull();
    // The same seed with the lock rule intact is clean.
    expectClean(runSimulation({ seed: r!.seed, ticks: 6000, byzantine: ['fork'] }));
  });

  test('with votes broadcast (every replica forms QCs, no leader can withhold one) both are still caught', () => {
    const lock = firstSafetyFailure(seeds(1, 60), { ticks: 6000, byzantine: ['fork'], unsafeMutationForTests: 'ignore-lock-rule', broadcastVotes: true });
    expect(lock).not.toBeNull();
    expectClean(runSimulation({ seed: lock!.seed, ticks: 6000, byzantine: ['fork'], broadcastVotes: true }));
    const quorum = firstSafetyFailure(seeds(1, 10), { ticks: 12000, replicas: 7, byzantine: [], partitions: true, checkCommitQc: false, unsafeMutationForTests: 'quorum-f-plus-1', broadcastVotes: true });
    expect(quorum).not.toBeNull();
    expectClean(runSimulation({ seed: quorum!.seed, ticks: 12000, replicas: 7, byzantine: [], partitions: true, broadcastVotes: true }));
  });

  test('a quorum of f+1 is caught: partitioned halves commit different blocks', () => {
    const r = firstSafetyFailure(seeds(1, 10), { ticks: 12000, replicas: 7, byzantine: [], partitions: true, checkCommitQc: false, unsafeMutationForTests: 'quorum-f-plus-1' });
    expect(r).not.toBeNull();
    expectClean(runSimulation({ seed: r!.seed, ticks: 12000, replicas: 7, byzantine: [], partitions: true }));
  });

  test('skipping the operation check is caught: a block with an invalid operation commits', () => {
    const o = { ticks: 6000, byzantine: ['invalid-ops'] as const };
    const caught = seeds(1, 5).map((seed) => runSimulation({ ...o, seed, unsafeMutationForTests: 'skip-operation-check' }));
    const first = caught.find((r) => r.violations.some((v) => v.kind === 'invalid-operation-committed'));
    expect(first).toBeDefined();
    // The same seed with the check in place: clean, and the honest replicas refused the proposals.
    const clean = runSimulation({ ...o, seed: first!.seed });
    expectClean(clean);
    expect(clean.rejections.INVALID_OPERATION ?? 0).toBeGreaterThan(0);
  });

  test('honest leaders drop invalid operations from their mempools (every 50th of the workload)', () => {
    const r = runSimulation({ seed: 5, ticks: 6000, byzantine: [] });
    expectClean(r);
    expect(r.droppedOps).toBeGreaterThan(0);
    expect(r.rejections.INVALID_OPERATION ?? 0).toBe(0);
  });

  test('operations reach every mempool and a leader\'s successor is silent: all commit (the livelock seeds); keeping abandoned blocks\' operations out is caught', () => {
    const o = { ticks: 20000, byzantine: ['silent'] as const, submitToAll: true, partitions: false, crashes: false };
    for (const seed of seeds(1, 4)) {
      const fixed = runSimulation({ ...o, seed });
      expectClean(fixed);
      const old = runSimulation({ ...o, seed, unsafeMutationForTests: 'keep-abandoned-operations' });
      expect(old.violations.map((v) => v.kind)).toEqual(['operation-not-committed']);
    }
  });

  test('operation liveness over drawn profiles with every operation in every mempool', () => {
    for (const seed of seeds(4000, 20)) expectClean(runSimulation({ seed, ticks: 8000, submitToAll: true }));
  });

  test('a quorum of f+1 is also caught by the QC check on every commit', () => {
    const r = runSimulation({ seed: 1, ticks: 2000, unsafeMutationForTests: 'quorum-f-plus-1' });
    expect(r.ok).toBe(false);
    expect(r.violations[0]!.kind).toBe('invalid-commit-qc');
  });
});
