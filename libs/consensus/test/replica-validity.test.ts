// Application validity (ReplicaOptions.validateOperation): no vote for a proposal carrying a
// refused operation, no proposal of one by a leader, and the context a check gets.
import { computeBlockHash, proposalSigningBytes, RejectCode, type OperationCheck, type Proposal } from '../src';
import { Cluster, op } from './harness';

/** Operations whose first byte is 0xff are invalid. */
const BAD = 0xff;
const check: OperationCheck = (o) => (o[0] === BAD ? { detail: `operation ${Buffer.from(o).toString('hex')} is marked bad` } : null);
function bad(i: number): Uint8Array {
  const b = op(i);
  b[0] = BAD;
  return b;
}
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function committedOps(c: Cluster, id: number): string[] {
  return (c.commits.get(id) ?? []).flatMap((ch) => ch.block.payload.map(hex));
}

describe('Replica: application validity of operations', () => {
  test('a leader drops refused operations from its mempool (with the reason) and commits the rest', () => {
    const c = new Cluster(4, { validateOperation: check });
    for (let i = 0; i < 10; i++) c.submitEverywhere(op(i));
    for (let i = 0; i < 3; i++) c.submitEverywhere(bad(i));
    c.start();
    c.run(2000);
    expect(Math.min(...c.heights())).toBeGreaterThan(5);
    const ops = committedOps(c, 0);
    expect(ops).toHaveLength(10);
    expect(ops.some((o) => o.startsWith('ff'))).toBe(false);
    // The first leader dropped all three, each with the check's reason; mempools emptied.
    const byFirstLeader = c.dropped.filter((d) => d.replica === 1);
    expect(byFirstLeader.map((d) => hex(d.operation)).sort()).toEqual([0, 1, 2].map((i) => hex(bad(i))).sort());
    expect(byFirstLeader[0]!.detail).toMatch(/is marked bad/);
    expect(c.replicas[1]!.status().mempoolSize).toBe(0);
    // No replica was ever asked to vote on an invalid operation.
    expect(c.rejections.filter((r) => r.code === RejectCode.INVALID_OPERATION)).toEqual([]);
  });

  test('replicas refuse to vote for a proposal carrying a refused operation; it never commits', () => {
    const c = new Cluster(4, { validateOperation: check });
    c.replicas[1] = c.make(1); // leader of view 1 runs no check: it proposes the bad operation
    c.replicas[1]!.submit(bad(7));
    c.replicas[1]!.submit(op(1));
    c.start();
    c.run(200);
    const refused = c.rejections.filter((r) => r.code === RejectCode.INVALID_OPERATION);
    expect(refused.map((r) => r.to).sort()).toEqual([0, 2, 3]);
    expect(refused[0]!.detail).toMatch(/operation 0 of block 1 \(view 1\): operation ff.* is marked bad/);
    // The view times out; later leaders (with the check) propose nothing invalid, commits resume.
    c.runUntil(() => Math.min(c.heights()[0]!, c.heights()[2]!) >= 4);
    for (const id of [0, 2, 3]) expect(committedOps(c, id).some((o) => o.startsWith('ff'))).toBe(false);
  });

  test('a refused proposal leaves the safety state untouched: no persist, no vote, and the proposal still counts as signed by its leader', () => {
    const c = new Cluster(4, { validateOperation: check });
    c.start();
    const first = c.queue.find((e) => e.message.type === 'proposal')!.message as Proposal;
    const set = c.set;
    // The leader of view 1 signs a second block for view 1 with a bad operation (an equivocation
    // the replica must detect anyway): checked on a fresh replica to see the refusal alone.
    const block = { ...first.block, payload: [bad(1)] };
    const hash = computeBlockHash(set.chainTag, block);
    const p: Proposal = { type: 'proposal', block, tc: null, signature: c.keys.signer(1).sign(proposalSigningBytes(set.chainTag, 1, block.height, hash)) };
    const fresh = c.make(2, { validateOperation: check });
    fresh.start(c.now);
    const step = fresh.onMessage(1, p, c.now);
    expect(step.rejection?.code).toBe(RejectCode.INVALID_OPERATION);
    expect(step.effects.some((e) => e.type === 'persist' || (e.type === 'send' && e.message.type === 'vote'))).toBe(false);
    expect(fresh.status().lastVotedView).toBe(0);
    // The leader's other proposal for view 1 is still recognised as an equivocation (the refused
    // one was signed by it, so it is evidence).
    const real = fresh.onMessage(1, first, c.now);
    expect(real.rejection?.code).toBe(RejectCode.EQUIVOCATION);
    expect(real.effects.some((e) => e.type === 'evidence')).toBe(true);
  });

  test('the check gets the block height and the committed chain, so it can require a recent anchor', () => {
    // Valid = op bytes 0..4 name a committed height h >= height - 3 and bytes 4..8 the first 4 bytes of its hash.
    const seen: number[] = [];
    const anchored: OperationCheck = (o, ctx) => {
      seen.push(ctx.height);
      if (o.byteLength !== 12) return null;
      const h = new DataView(o.buffer, o.byteOffset).getUint32(0);
      const hash = ctx.committedHash(h);
      if (hash === undefined) return { detail: `anchor height ${h} is not committed here` };
      if (h + 3 < ctx.height) return { detail: `anchor height ${h} is too old for height ${ctx.height}` };
      if (Buffer.from(o.subarray(4, 8)).toString('hex') !== hash.slice(0, 8)) return { detail: 'anchor hash does not match' };
      return null;
    };
    const c = new Cluster(4, { validateOperation: anchored });
    c.start();
    c.runUntil(() => Math.min(...c.heights()) >= 3);
    const h = c.replicas[0]!.committedTip.height;
    const anchorHash = c.replicas[0]!.committedTip.hash;
    const mk = (height: number, hashHex: string, tag: number): Uint8Array => {
      const b = new Uint8Array(12);
      new DataView(b.buffer).setUint32(0, height);
      b.set(Buffer.from(hashHex.slice(0, 8), 'hex'), 4);
      new DataView(b.buffer).setUint32(8, tag);
      return b;
    };
    const good = mk(h, anchorHash, 1);
    const wrongHash = mk(h, 'deadbeef', 2);
    const future = mk(h + 1000, anchorHash, 3);
    for (const o of [good, wrongHash, future]) c.submitEverywhere(o);
    c.runUntil(() => committedOps(c, 0).includes(hex(good)));
    expect(committedOps(c, 0)).not.toContain(hex(wrongHash));
    expect(committedOps(c, 0)).not.toContain(hex(future));
    expect(c.dropped.map((d) => d.detail)).toEqual(expect.arrayContaining(['anchor hash does not match', `anchor height ${h + 1000} is not committed here`]));
    expect(Math.min(...seen)).toBeGreaterThan(h); // checked for blocks above the anchor
  });

  test('without the check (the skip-operation-check mutation) replicas vote for it and it commits', () => {
    const c = new Cluster(4, { validateOperation: check, unsafeMutationForTests: 'skip-operation-check' });
    c.replicas[1] = c.make(1, { unsafeMutationForTests: 'skip-operation-check' });
    c.replicas[1]!.submit(bad(7));
    c.start();
    c.run(500);
    expect(committedOps(c, 0)).toContain(hex(bad(7)));
  });
});
