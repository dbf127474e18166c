// broadcastVotes: every replica receives every vote, forms the QC itself and commits without
// waiting for the next leader's proposal to bring it.
import { RejectCode } from '../src';
import { Cluster, op } from './harness';

function runWithoutLaterProposals(broadcastVotes: boolean): Cluster {
  const c = new Cluster(4, { broadcastVotes });
  c.submitEverywhere(op(1));
  // Proposals of view 3 and later never arrive: only votes can tell a replica that the block of
  // view 2 is certified (which commits the block of view 1).
  c.drop = (e) => e.message.type === 'proposal' && e.message.block.view >= 3;
  c.start();
  c.run();
  return c;
}

describe('Replica: votes broadcast (broadcastVotes)', () => {
  test('every replica forms the QC from the votes and commits, with no proposal bringing it', () => {
    const c = runWithoutLaterProposals(true);
    expect(c.heights()).toEqual([1, 1, 1, 1]);
    const hashes = new Set([...c.commits.values()].map((list) => list[0]!.hash));
    expect(hashes.size).toBe(1);
    expect(c.rejections.filter((r) => r.code === RejectCode.NOT_LEADER)).toEqual([]);
  });

  test('votes to the next leader only (the default): only that leader learns the commit', () => {
    const c = runWithoutLaterProposals(false);
    // Validator 3 leads view 3: it formed the QC of view 2's block and committed view 1's.
    expect(c.heights()).toEqual([0, 0, 0, 1]);
  });

  test('a QC formed from votes is not verified again when the next proposal carries it', () => {
    const c = new Cluster(4, { broadcastVotes: true });
    let verifications = 0;
    const verifier = c.keys.verifier();
    const counting = { verify: (...a: Parameters<typeof verifier.verify>) => (verifications++, verifier.verify(...a)) };
    c.replicas[0] = c.make(0, { broadcastVotes: true, verifier: counting });
    c.submitEverywhere(op(2));
    c.start();
    c.runUntil(() => Math.min(...c.heights()) >= 3);
    // Per view replica 0 verifies one proposal signature and the other three validators' votes
    // (its own vote is not verified); the QCs inside later proposals come from its cache.
    const views = c.replicas[0]!.view;
    expect(verifications).toBeLessThanOrEqual(4 * views);
  });

  test('an exact copy of a counted vote is refused as a duplicate without a second signature check', () => {
    const c = new Cluster(4, { broadcastVotes: true });
    let verifications = 0;
    const verifier = c.keys.verifier();
    c.replicas[2] = c.make(2, { broadcastVotes: true, verifier: { verify: (...a: Parameters<typeof verifier.verify>) => (verifications++, verifier.verify(...a)) } });
    c.submitEverywhere(op(3));
    c.start();
    // Deliver until replica 2 has counted a vote from another validator, then replay it.
    let replay: { from: number; message: import('../src').Message } | null = null;
    while (replay === null && c.queue.length > 0) {
      const e = c.queue.shift()!;
      const step = c.replicas[e.to]!.onMessage(e.from, e.message, c.now);
      c.apply(e.to, step.effects);
      if (e.to === 2 && e.message.type === 'vote' && step.rejection === null) replay = { from: e.from, message: e.message };
    }
    expect(replay).not.toBeNull();
    const before = verifications;
    expect(c.replicas[2]!.onMessage(replay!.from, replay!.message, c.now).rejection?.code).toBe(RejectCode.DUPLICATE);
    expect(verifications).toBe(before);
  });
});
