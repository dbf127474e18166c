import { computeBlockHash, decodeSafetyState, encodeSafetyState, proposalSigningBytes, verifyEquivocationEvidence, verifyQuorumCertificate, voteSigningBytes, type Proposal, type Vote } from '../src';
import { Cluster, op } from './harness';

describe('Replica: normal operation', () => {
  test('four replicas commit the same blocks, in height order, each with a valid QC', () => {
    const c = new Cluster(4);
    for (let i = 0; i < 50; i++) c.submitEverywhere(op(i));
    c.start();
    c.run(2000);
    const heights = c.heights();
    expect(Math.min(...heights)).toBeGreaterThan(10);
    const chains = [...c.commits.values()];
    const shortest = Math.min(...chains.map((ch) => ch.length));
    for (let h = 0; h < shortest; h++) {
      const hashes = new Set(chains.map((ch) => ch[h]!.hash));
      expect(hashes.size).toBe(1);
      const first = chains[0]![h]!;
      expect(first.block.height).toBe(h + 1);
      expect(first.qc.blockHash).toBe(first.hash);
      expect(verifyQuorumCertificate(first.qc, c.set, c.keys.verifier())).toEqual({ ok: true });
    }
    // Every submitted operation is committed exactly once.
    const ops = chains[0]!.flatMap((ch) => ch.block.payload.map((p) => Buffer.from(p).toString('hex')));
    expect(new Set(ops).size).toBe(ops.length);
    expect(ops.length).toBe(50);
  });

  test('a vote is always preceded by the persist effect that records it', () => {
    const c = new Cluster(4);
    c.start();
    const first = c.queue.find((e) => e.message.type === 'proposal')!;
    const step = c.replicas[3]!.onMessage(first.from, first.message, c.now);
    const kinds = step.effects.map((e) => (e.type === 'send' ? `send:${e.message.type}` : e.type));
    const persistAt = kinds.indexOf('persist');
    const voteAt = kinds.indexOf('send:vote');
    expect(persistAt).toBeGreaterThanOrEqual(0);
    expect(voteAt).toBeGreaterThan(persistAt);
  });

  test('a silent leader is replaced: timeouts form a TC and the next leader proposes', () => {
    const c = new Cluster(4);
    // Replica 1 leads view 1 and is down.
    c.down.add(1);
    c.start();
    c.run();
    expect(c.heights()).toEqual([0, 0, 0, 0]);
    c.runUntil(() => [0, 2, 3].every((id) => c.replicas[id]!.committedTip.height > 0), 20);
    const up = [0, 2, 3].map((id) => c.replicas[id]!);
    expect(Math.min(...up.map((r) => r.view))).toBeGreaterThan(2);
    expect(Math.min(...up.map((r) => r.committedTip.height))).toBeGreaterThan(0);
  });

  test('replicas that know the view leader is unreachable abandon the view at once: a TC forms with no timer fired', () => {
    const c = new Cluster(4);
    c.down.add(1); // leads view 1
    c.start();
    c.run();
    const live = [0, 2, 3];
    for (const id of live) {
      const effects = c.replicas[id]!.abandonView(c.now);
      // A signed timeout, persisted before it is broadcast, like one from the timer.
      expect(effects.map((e) => (e.type === 'broadcast' ? `broadcast:${e.message.type}` : e.type)).slice(0, 2)).toEqual(['persist', 'broadcast:timeout']);
      c.apply(id, effects);
    }
    // Telling a replica again does nothing.
    expect(c.replicas[2]!.abandonView(c.now)).toEqual([]);
    c.run(50);
    // The three timeouts made a TC: the next leaders propose and certify without any timer.
    for (const id of live) expect(c.replicas[id]!.view).toBeGreaterThan(2);
    expect(c.timers.size).toBeGreaterThan(0);
  });

  test('one replica alone abandoning a view that can succeed does not end it', () => {
    const c = new Cluster(4);
    c.start();
    c.apply(3, c.replicas[3]!.abandonView(c.now));
    c.run(200);
    // View 1 was certified with the votes of 0, 1 and 2, and the cluster moved on.
    expect(Math.min(...[0, 1, 2].map((id) => c.replicas[id]!.view))).toBeGreaterThan(1);
    expect(c.replicas[0]!.highQc.view).toBeGreaterThanOrEqual(1); // certified, not ended by a TC
    expect(Math.min(...c.heights())).toBeGreaterThan(0);
  });

  test('a restarted replica restored from its persisted state never votes twice in a view', () => {
    const c = new Cluster(4);
    c.start();
    // Replica 3 votes in view 1 (its vote goes to replica 2, the leader of view 2).
    const proposal = c.queue.find((e) => e.message.type === 'proposal' && e.to === 3)!;
    const votes = (effects: { type: string; message?: { type: string } }[]) => effects.some((e) => e.type === 'send' && e.message?.type === 'vote');
    const step = c.replicas[3]!.onMessage(proposal.from, proposal.message, c.now);
    expect(votes(step.effects)).toBe(true);
    c.apply(3, step.effects);
    const state = c.persisted.get(3)!;
    expect(state.lastVotedView).toBe(1);
    // Crash; come back from the encoded state (what the disk held) and see the same proposal again...
    const restored = c.make(3, { restored: { safety: decodeSafetyState(encodeSafetyState(state)), committed: [] } });
    restored.start(c.now);
    const again = restored.onMessage(proposal.from, proposal.message, c.now);
    expect(votes(again.effects)).toBe(false);
    expect(again.rejection?.code).toBe('UNSAFE_PROPOSAL');
    // ...or a conflicting proposal for the same view (an equivocating leader): no vote either.
    const p = proposal.message as Proposal;
    const block = { ...p.block, payload: [new Uint8Array([42])] };
    const conflicting: Proposal = { ...p, block, signature: c.keys.signer(1).sign(proposalSigningBytes(c.set.chainTag, 1, 1, computeBlockHash(c.set.chainTag, block))) };
    expect(votes(restored.onMessage(1, conflicting, c.now).effects)).toBe(false);
    // What the persist prevents: restored from the state before it (a shell that sent the vote
    // first and crashed before the fsync), the replica would sign a second, conflicting vote.
    const unpersisted = c.make(3, { restored: { safety: { lastVotedView: 0, lastProposedView: 0, lockedQc: c.set.genesisQc, highTc: null }, committed: [] } });
    unpersisted.start(c.now);
    expect(votes(unpersisted.onMessage(1, conflicting, c.now).effects)).toBe(true);
  });

  test('a replica that missed many blocks catches up by requesting them', () => {
    const c = new Cluster(4);
    c.down.add(3);
    c.start();
    c.runUntil(() => Math.min(c.replicas[0]!.committedTip.height, c.replicas[1]!.committedTip.height, c.replicas[2]!.committedTip.height) > 100, 500);
    const ahead = Math.min(...[0, 1, 2].map((id) => c.replicas[id]!.committedTip.height));
    expect(ahead).toBeGreaterThan(100);
    expect(c.replicas[3]!.committedTip.height).toBe(0);
    c.down.delete(3);
    c.runUntil(() => c.replicas[3]!.committedTip.height > ahead, 50);
    expect(c.replicas[3]!.committedTip.height).toBeGreaterThan(ahead);
    const a = c.commits.get(3)!;
    const b = c.commits.get(0)!;
    for (let i = 0; i < a.length; i++) expect(a[i]!.hash).toBe(b[i]!.hash);
  });

  test('a replica further behind than its peers keep blocks is stuck; jumped to a committed block (a snapshot), it follows again', () => {
    const c = new Cluster(4, { retainCommittedBlocks: 8 });
    c.down.add(3);
    c.start();
    c.runUntil(() => Math.min(...[0, 1, 2].map((id) => c.replicas[id]!.committedTip.height)) > 60, 500);
    c.down.delete(3);
    const ahead = c.replicas[0]!.committedTip.height;
    c.runUntil(() => c.replicas[0]!.committedTip.height > ahead + 20, 100);
    expect(c.replicas[3]!.committedTip.height).toBe(0); // its peers no longer hold the blocks it needs
    const stuck = c.replicas[3]!;
    expect(stuck.highQc.height).toBeGreaterThan(50); // but it has heard of the chain's progress
    const base = c.commits.get(0)!.at(-1)!;
    // Refused: a block whose QC does not verify, and (after the jump) one at or below its tip.
    const early = c.commits.get(0)![4]!; // from before it came back: a QC it has not verified before
    const forged = { ...early, qc: { ...early.qc, signatures: early.qc.signatures.map((x) => ({ ...x, signature: new Uint8Array(x.signature.byteLength) })) } };
    expect(stuck.jumpTo(forged, c.now).rejection).not.toBeNull();
    expect(stuck.committedTip.height).toBe(0);
    const step = stuck.jumpTo(base, c.now);
    expect(step.rejection).toBeNull();
    c.apply(3, step.effects);
    expect(stuck.committedTip).toEqual({ hash: base.hash, height: base.block.height });
    expect(stuck.jumpTo(base, c.now).rejection?.detail).toMatch(/not above the committed height/);
    const lastVoted = c.persisted.get(3)?.lastVotedView ?? 0;
    c.runUntil(() => stuck.committedTip.height > base.block.height + 10, 100);
    // What it commits from there is the others' chain, and it votes again (never twice in a view).
    const mine = c.commits.get(3)!;
    const theirs = new Map(c.commits.get(0)!.map((x) => [x.block.height, x.hash]));
    expect(mine.length).toBeGreaterThan(10);
    for (const x of mine) expect(x.hash).toBe(theirs.get(x.block.height) ?? x.hash);
    expect(mine[0]!.block.height).toBe(base.block.height + 1);
    expect(c.persisted.get(3)!.lastVotedView).toBeGreaterThan(lastVoted);
  });

  test('equivocating votes produce verifiable evidence and count once', () => {
    const c = new Cluster(4);
    c.start();
    // Replica 1 proposes in view 1; replica 2 leads view 2 and collects view-1 votes.
    const p = c.queue.find((e) => e.message.type === 'proposal' && e.to === 2)!.message as Proposal;
    c.replicas[2]!.onMessage(1, p, c.now);
    const leader = c.replicas[2]!;
    const honest = c.replicas[0]!.onMessage(1, p, c.now).effects.find((e) => e.type === 'send' && e.message.type === 'vote');
    const vote = (honest as { message: Vote }).message;
    const conflicting: Vote = { ...vote, blockHash: 'ab'.repeat(32), signature: c.keys.signer(0).sign(voteSigningBytes(c.set.chainTag, vote.view, vote.height, 'ab'.repeat(32))) };
    expect(leader.onMessage(0, vote, c.now).rejection).toBeNull();
    const second = leader.onMessage(0, conflicting, c.now);
    expect(second.rejection?.code).toBe('EQUIVOCATION');
    const ev = second.effects.find((e) => e.type === 'evidence');
    expect(ev).toBeDefined();
    expect(ev?.type === 'evidence' && verifyEquivocationEvidence(ev.evidence, c.set, c.keys.verifier())).toEqual({ ok: true });
    expect(leader.onMessage(0, vote, c.now).rejection?.code).toBe('DUPLICATE');
  });

  test('the whole cluster crashes and restarts from disk: no vote is repeated and commits continue', () => {
    const c = new Cluster(4);
    c.start();
    c.run(200); // stop mid-flight, with messages still queued
    const before = c.heights();
    expect(Math.min(...before)).toBeGreaterThan(3);
    const votedBefore = c.replicas.map((r) => r.status().lastVotedView);
    c.restartAll();
    // Restarted replicas resume at or after the views they voted in.
    c.replicas.forEach((r, id) => expect(r.view).toBeGreaterThanOrEqual(votedBefore[id]!));
    c.runUntil(() => Math.min(...c.heights()) > Math.max(...before) + 5, 50);
    expect(Math.min(...c.heights())).toBeGreaterThan(Math.max(...before) + 5);
    const chains = [...c.commits.values()];
    const shortest = Math.min(...chains.map((ch) => ch.length));
    for (let h = 0; h < shortest; h++) expect(new Set(chains.map((ch) => ch[h]!.hash)).size).toBe(1);
  });

  test('a restarted replica keeps the blocks it voted for, so a QC made of its vote stays extendable', () => {
    const c = new Cluster(4);
    c.start();
    c.run(40);
    const r0 = c.replicas[0]!;
    const high = r0.highQc;
    c.restartAll();
    // Each replica either committed the highest certified block or holds it from its persisted votes.
    const holders = c.replicas.filter((r) => r.block(high.blockHash) !== undefined).length;
    expect(holders).toBeGreaterThanOrEqual(3);
  });
});
