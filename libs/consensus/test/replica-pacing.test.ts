// Pacing of an idle cluster (ReplicaOptions.emptyBlockDelay): a leader with nothing to order
// holds its proposal back; an operation offered meanwhile is proposed at once, in that proposal.
import { runSimulation } from '../src/sim/simulation';
import type { Effect } from '../src';
import { Cluster, op } from './harness';

const DELAY = 30;
const proposals = (effects: Effect[]): Effect[] => effects.filter((e) => e.type === 'broadcast' && e.message.type === 'proposal');
const timerAt = (effects: Effect[]): number | undefined => {
  const t = effects.filter((e) => e.type === 'set-timer');
  const last = t[t.length - 1];
  return last && last.type === 'set-timer' ? last.at : undefined;
};

describe('Replica: pacing (emptyBlockDelay)', () => {
  test('an idle leader holds its empty proposal until the delay ends, then proposes', () => {
    const c = new Cluster(4, { emptyBlockDelay: DELAY });
    const leader = c.replicas[1]!; // leader of view 1
    const started = leader.start(c.now);
    expect(proposals(started)).toHaveLength(0);
    expect(timerAt(started)).toBe(c.now + DELAY);
    // A timer firing early (or for another reason) proposes nothing.
    expect(proposals(leader.onTimeout(c.now + DELAY - 1))).toHaveLength(0);
    const fired = leader.onTimeout(c.now + DELAY);
    const p = proposals(fired);
    expect(p).toHaveLength(1);
    expect(p[0]!.type === 'broadcast' && p[0]!.message.type === 'proposal' && p[0]!.message.block.payload).toHaveLength(0);
    // Back to the view timer (base 100 from start).
    expect(timerAt(fired)).toBe(c.now + 100);
  });

  test('an operation offered to a holding leader is proposed at once, in that proposal', () => {
    const c = new Cluster(4, { emptyBlockDelay: DELAY });
    const leader = c.replicas[1]!;
    leader.start(c.now);
    const { result, effects } = leader.offer(op(7), c.now + 5);
    expect(result).toBe('accepted');
    const p = proposals(effects);
    expect(p).toHaveLength(1);
    const block = p[0]!.type === 'broadcast' && p[0]!.message.type === 'proposal' ? p[0]!.message.block : null;
    expect(block?.payload.map((b) => Buffer.from(b).toString('hex'))).toEqual([Buffer.from(op(7)).toString('hex')]);
    // The proposal is recorded before it leaves (persist first), as any proposal.
    expect(effects.findIndex((e) => e.type === 'persist')).toBeLessThan(effects.findIndex((e) => e.type === 'broadcast'));
    // The held proposal is gone: its timer proposes nothing more in this view.
    expect(proposals(leader.onTimeout(c.now + DELAY))).toHaveLength(0);
  });

  test('an operation offered to a replica that does not lead, or with no delay, only queues it', () => {
    const c = new Cluster(4, { emptyBlockDelay: DELAY });
    c.replicas[2]!.start(c.now);
    expect(c.replicas[2]!.offer(op(1), c.now)).toEqual({ result: 'accepted', effects: [] });
    const plain = new Cluster(4);
    const effects = plain.replicas[1]!.start(plain.now);
    expect(proposals(effects)).toHaveLength(1); // no delay: proposes at start, as before
  });

  test('no pacing while an operation waits in the uncommitted chain: the blocks that commit it follow at once', () => {
    const c = new Cluster(4, { emptyBlockDelay: DELAY });
    c.start();
    // View 1's leader holds back; the operation reaches it alone (the others' mempools stay
    // empty, so only the chain tells the next leaders that something waits) and it proposes it.
    c.apply(1, c.replicas[1]!.offer(op(42), c.now).effects);
    c.run();
    // Without any timer firing, the two following views certify and commit the block.
    expect(c.heights().every((h) => h >= 1)).toBe(true);
    const committed = c.commits.get(0)!.flatMap((b) => b.block.payload.map((p) => Buffer.from(p).toString('hex')));
    expect(committed).toEqual([Buffer.from(op(42)).toString('hex')]);
    // Then the cluster is idle: the next leader holds its empty proposal (no message in flight).
    expect(c.queue).toHaveLength(0);
  });

  test('the delay must be below the base view timeout', () => {
    const c = new Cluster(4);
    expect(() => c.make(0, { emptyBlockDelay: 100 })).toThrow(/emptyBlockDelay 100 must be at least 0 and below timing.baseTimeout 100/);
    expect(() => c.make(0, { emptyBlockDelay: -1 })).toThrow(RangeError);
  });

  test('simulator: paced clusters keep safety and commit every operation offered at a low rate', () => {
    for (let seed = 9000; seed < 9030; seed++) {
      const r = runSimulation({ seed, ticks: 6000, emptyBlockDelay: 20, submitToAll: true, opsPerSecond: 10 });
      if (!r.ok) throw new Error(`seed ${seed} (emptyBlockDelay 20) failed: ${JSON.stringify(r.violations.slice(0, 2))}`);
    }
  });
});
