// Every kind of bad input is refused with its stable code and never counts toward a quorum.
import { computeBlockHash, encodeMessage, proposalSigningBytes, RejectCode, timeoutSigningBytes, voteSigningBytes, type Block, type Proposal, type QuorumCertificate, type TimeoutMessage, type Vote } from '../src';
import fc from 'fast-check';
import { messageArb } from './arbitraries';
import { Cluster } from './harness';

function setup() {
  const c = new Cluster(4);
  c.start();
  // Replica 1 leads view 1; its proposal is in the queue. Replica 2 leads view 2 (collects view-1 votes).
  const proposal = c.queue.find((e) => e.message.type === 'proposal')!.message as Proposal;
  const hash = computeBlockHash(c.set.chainTag, proposal.block);
  const leader = c.replicas[2]!;
  const vote = (voter: number, over: Partial<Vote> = {}): Vote => {
    const v = { view: 1, height: 1, blockHash: hash, ...over };
    return { type: 'vote', ...v, voter, signature: c.keys.signer(voter).sign(voteSigningBytes(c.set.chainTag, v.view, v.height, v.blockHash)), ...over };
  };
  const signBlock = (b: Block, signer = b.proposer): Proposal => ({
    type: 'proposal',
    block: b,
    tc: null,
    signature: c.keys.signer(signer).sign(proposalSigningBytes(c.set.chainTag, b.view, b.height, computeBlockHash(c.set.chainTag, b))),
  });
  return { c, proposal, hash, leader, vote, signBlock };
}

describe('bad votes', () => {
  test('a vote with a bad signature is rejected and not counted toward the QC', () => {
    const { c, proposal, leader, vote } = setup();
    leader.onMessage(1, proposal, c.now); // leader votes for it itself (1 of 3)
    expect(leader.onMessage(0, vote(0), c.now).rejection).toBeNull(); // 2 of 3
    const forged = { ...vote(3), signature: new Uint8Array(16) };
    expect(leader.onMessage(3, forged, c.now).rejection?.code).toBe(RejectCode.BAD_SIGNATURE);
    expect(leader.view).toBe(1); // no QC formed
    const signedByOther = { ...vote(3), signature: vote(0).signature };
    expect(leader.onMessage(3, signedByOther, c.now).rejection?.code).toBe(RejectCode.BAD_SIGNATURE);
    expect(leader.view).toBe(1);
    expect(leader.onMessage(3, vote(3), c.now).rejection).toBeNull();
    expect(leader.view).toBe(2); // the valid third vote completes the QC
  });

  test('votes from non-validators, or relayed by non-validators, are rejected', () => {
    const { c, proposal, leader, vote } = setup();
    leader.onMessage(1, proposal, c.now);
    expect(leader.onMessage(0, { ...vote(0), voter: 9 }, c.now).rejection?.code).toBe(RejectCode.NOT_VALIDATOR);
    expect(leader.onMessage(9, vote(0), c.now).rejection?.code).toBe(RejectCode.NOT_VALIDATOR);
  });

  test('a duplicated vote counts once', () => {
    const { c, proposal, leader, vote } = setup();
    leader.onMessage(1, proposal, c.now);
    expect(leader.onMessage(0, vote(0), c.now).rejection).toBeNull();
    expect(leader.onMessage(0, vote(0), c.now).rejection?.code).toBe(RejectCode.DUPLICATE);
    expect(leader.view).toBe(1);
  });

  test('votes for unknown blocks never form a QC; far ones are rejected outright', () => {
    const { c, leader, vote } = setup();
    const unknown = 'cd'.repeat(32);
    // Current view, block not (yet) received: held, but three of them form no QC.
    for (const id of [0, 1, 3]) expect(leader.onMessage(id, vote(id, { blockHash: unknown }), c.now).rejection).toBeNull();
    expect(leader.view).toBe(1);
  });

  test('a vote for a known block with the wrong height is rejected', () => {
    const { c, proposal, leader, vote } = setup();
    leader.onMessage(1, proposal, c.now);
    expect(leader.onMessage(0, vote(0, { height: 7 }), c.now).rejection?.code).toBe(RejectCode.INVALID_BLOCK);
  });

  test('far-future and stale votes are rejected', () => {
    const { c, proposal, leader, vote } = setup();
    leader.onMessage(1, proposal, c.now);
    // Leader of view 1002 is 1002 % 4 = 2: replica 2 is the right recipient, but the view is absurd.
    expect(leader.onMessage(0, vote(0, { view: 1001 }), c.now).rejection?.code).toBe(RejectCode.FUTURE_VIEW);
    for (const id of [0, 3]) leader.onMessage(id, vote(id), c.now);
    expect(leader.view).toBe(2);
    expect(c.replicas[2]!.onMessage(0, vote(0), c.now).rejection?.code).toBe(RejectCode.STALE_VIEW);
  });

  test('a vote sent to a replica that does not lead the next view is rejected', () => {
    const { c, proposal, vote } = setup();
    c.replicas[3]!.onMessage(1, proposal, c.now);
    expect(c.replicas[3]!.onMessage(0, vote(0), c.now).rejection?.code).toBe(RejectCode.NOT_LEADER);
  });

  test('a vote for an unknown block beyond the next view is rejected as UNKNOWN_BLOCK', () => {
    const { c } = setup();
    // View-3 votes go to the leader of view 4, replica 0, which is still in view 1: the vote is
    // inside the look-ahead window but two views ahead, for a block it does not have.
    const unknown = 'ef'.repeat(32);
    const v: Vote = { type: 'vote', view: 3, height: 3, blockHash: unknown, voter: 1, signature: c.keys.signer(1).sign(voteSigningBytes(c.set.chainTag, 3, 3, unknown)) };
    expect(c.replicas[0]!.onMessage(1, v, c.now).rejection?.code).toBe(RejectCode.UNKNOWN_BLOCK);
  });
});

describe('bad proposals', () => {
  test('a proposal with a bad signature is rejected', () => {
    const { c, proposal } = setup();
    const bad = { ...proposal, signature: new Uint8Array(16) };
    expect(c.replicas[0]!.onMessage(1, bad, c.now).rejection?.code).toBe(RejectCode.BAD_SIGNATURE);
    expect(c.replicas[0]!.onMessage(1, proposal, c.now).rejection).toBeNull();
  });

  test('a proposal from a validator that does not lead the view is rejected', () => {
    const { c, proposal, signBlock } = setup();
    const fromZero = signBlock({ ...proposal.block, proposer: 0 });
    expect(c.replicas[3]!.onMessage(0, fromZero, c.now).rejection?.code).toBe(RejectCode.WRONG_PROPOSER);
    const fromStranger = signBlock({ ...proposal.block, proposer: 17 }, 1);
    expect(c.replicas[3]!.onMessage(1, fromStranger, c.now).rejection?.code).toBe(RejectCode.NOT_VALIDATOR);
  });

  test('a proposal whose QC does not verify is rejected', () => {
    const { c, proposal, signBlock } = setup();
    // View 5 (leader 1) justified by a forged QC for view 4.
    const forged: QuorumCertificate = { view: 4, height: 1, blockHash: computeBlockHash(c.set.chainTag, proposal.block), signatures: [0, 2, 3].map((validator) => ({ validator, signature: new Uint8Array(16) })) };
    const b: Block = { height: 2, view: 5, proposer: 1, parentHash: forged.blockHash, justify: forged, payload: [] };
    expect(c.replicas[0]!.onMessage(1, signBlock(b), c.now).rejection?.code).toBe(RejectCode.INVALID_QC);
    // Too few signers (valid signatures, but only two).
    const hash = forged.blockHash;
    const two: QuorumCertificate = { view: 4, height: 1, blockHash: hash, signatures: [0, 2].map((validator) => ({ validator, signature: c.keys.signer(validator).sign(voteSigningBytes(c.set.chainTag, 4, 1, hash)) })) };
    expect(c.replicas[0]!.onMessage(1, signBlock({ ...b, justify: two }), c.now).rejection?.code).toBe(RejectCode.INVALID_QC);
  });

  test('a proposal whose TC does not verify is rejected', () => {
    const { c, signBlock } = setup();
    const g = c.set.genesisQc;
    const b: Block = { height: 1, view: 5, proposer: 1, parentHash: g.blockHash, justify: g, payload: [] };
    const tc = { view: 4, highQc: g, signatures: [0, 2, 3].map((validator) => ({ validator, highQcView: 0, signature: new Uint8Array(16) })) };
    const p = { ...signBlock(b), tc };
    expect(c.replicas[0]!.onMessage(1, p, c.now).rejection?.code).toBe(RejectCode.INVALID_TC);
  });

  test('a far-future proposal without certificates for its view is rejected', () => {
    const { c, signBlock } = setup();
    const g = c.set.genesisQc;
    const b: Block = { height: 1, view: 1001, proposer: 1001 % 4, parentHash: g.blockHash, justify: g, payload: [] };
    expect(c.replicas[0]!.onMessage(1, signBlock(b), c.now).rejection?.code).toBe(RejectCode.FUTURE_VIEW);
  });

  test('a block that contradicts its QC is rejected', () => {
    const { c, proposal, signBlock } = setup();
    expect(c.replicas[0]!.onMessage(1, signBlock({ ...proposal.block, height: 3 }), c.now).rejection?.code).toBe(RejectCode.INVALID_BLOCK);
    expect(c.replicas[0]!.onMessage(1, signBlock({ ...proposal.block, parentHash: 'ab'.repeat(32) }), c.now).rejection?.code).toBe(RejectCode.INVALID_BLOCK);
  });

  test('an oversized block is rejected, as an object and as bytes', () => {
    const c = new Cluster(4, { limits: { maxBlockOps: 2, maxOpBytes: 32 } });
    c.start();
    const base = (c.queue.find((e) => e.message.type === 'proposal')!.message as Proposal).block;
    const sign = (b: Block): Proposal => ({ type: 'proposal', block: b, tc: null, signature: c.keys.signer(1).sign(proposalSigningBytes(c.set.chainTag, b.view, b.height, computeBlockHash(c.set.chainTag, b))) });
    const tooMany = sign({ ...base, payload: [new Uint8Array(1), new Uint8Array(1), new Uint8Array(1)] });
    const tooBig = sign({ ...base, payload: [new Uint8Array(33)] });
    for (const p of [tooMany, tooBig]) {
      expect(c.replicas[0]!.onMessage(1, p, c.now).rejection?.code).toBe(RejectCode.OVERSIZED);
      expect(c.replicas[0]!.onMessageBytes(1, encodeMessage(p), c.now).rejection?.code).toBe(RejectCode.OVERSIZED);
    }
  });

  test('a proposal that breaks the lock rule is not voted for', () => {
    const { c, proposal, signBlock } = setup();
    // Let the cluster run to view > 4 so everyone holds a QC above genesis.
    c.run(50);
    const r = c.replicas[0]!;
    const view = r.view;
    const leaderOfView = view % 4;
    // A proposal for the current view extending genesis (older than the previous view's QC), no TC.
    const g = c.set.genesisQc;
    const b: Block = { height: 1, view, proposer: leaderOfView, parentHash: g.blockHash, justify: g, payload: [new Uint8Array([1])] };
    const step = r.onMessage(leaderOfView, signBlock(b), c.now);
    expect([RejectCode.UNSAFE_PROPOSAL, RejectCode.EQUIVOCATION]).toContain(step.rejection?.code);
    expect(step.effects.some((e) => e.type === 'send' && e.message.type === 'vote')).toBe(false);
    void proposal;
  });

  test('two proposals of one leader for one view produce evidence; the second gets no vote', () => {
    const { c, proposal, signBlock } = setup();
    const r = c.replicas[0]!;
    expect(r.onMessage(1, proposal, c.now).rejection).toBeNull();
    const other = signBlock({ ...proposal.block, payload: [new Uint8Array([9])] });
    const step = r.onMessage(1, other, c.now);
    expect(step.rejection?.code).toBe(RejectCode.EQUIVOCATION);
    expect(step.effects.some((e) => e.type === 'evidence')).toBe(true);
    expect(step.effects.some((e) => e.type === 'send')).toBe(false);
  });
});

describe('bad timeouts, requests and bytes', () => {
  test('a timeout with a bad signature or an invalid high QC is rejected', () => {
    const { c } = setup();
    const g = c.set.genesisQc;
    const t: TimeoutMessage = { type: 'timeout', view: 1, highQc: g, lastTc: null, voter: 0, signature: c.keys.signer(0).sign(timeoutSigningBytes(c.set.chainTag, 1, 0)) };
    expect(c.replicas[3]!.onMessage(0, { ...t, signature: new Uint8Array(16) }, c.now).rejection?.code).toBe(RejectCode.BAD_SIGNATURE);
    const fakeQc: QuorumCertificate = { view: 0, height: 0, blockHash: 'ab'.repeat(32), signatures: [] };
    expect(c.replicas[3]!.onMessage(0, { ...t, highQc: fakeQc }, c.now).rejection?.code).toBe(RejectCode.INVALID_QC);
    expect(c.replicas[3]!.onMessage(0, t, c.now).rejection).toBeNull();
    expect(c.replicas[3]!.onMessage(0, t, c.now).rejection?.code).toBe(RejectCode.DUPLICATE);
    expect(c.replicas[3]!.onMessage(0, { ...t, view: 5000, signature: c.keys.signer(0).sign(timeoutSigningBytes(c.set.chainTag, 5000, 0)) }, c.now).rejection?.code).toBe(RejectCode.FUTURE_VIEW);
  });

  test('block requests for unknown blocks and unsolicited responses are rejected', () => {
    const { c, proposal } = setup();
    expect(c.replicas[0]!.onMessage(1, { type: 'block-request', blockHash: 'ab'.repeat(32), maxBlocks: 4 }, c.now).rejection?.code).toBe(RejectCode.UNKNOWN_BLOCK);
    expect(c.replicas[0]!.onMessage(1, { type: 'block-response', blocks: [proposal.block] }, c.now).rejection?.code).toBe(RejectCode.UNSOLICITED);
    expect(c.replicas[0]!.onMessage(1, { type: 'block-response', blocks: [] }, c.now).rejection?.code).toBe(RejectCode.UNSOLICITED);
  });

  test('block requests beyond the per-peer budget of a view are rate limited', () => {
    const { c, proposal, hash } = setup();
    const r = c.replicas[0]!;
    r.onMessage(1, proposal, c.now);
    const req = { type: 'block-request' as const, blockHash: hash, maxBlocks: 64 };
    for (let i = 0; i < 16; i++) expect(r.onMessage(3, req, c.now).rejection).toBeNull();
    expect(r.onMessage(3, req, c.now).rejection?.code).toBe(RejectCode.RATE_LIMITED);
    expect(r.onMessage(2, req, c.now).rejection).toBeNull(); // another peer has its own budget
  });

  test('malformed bytes are rejected without throwing', () => {
    const { c, proposal } = setup();
    const r = c.replicas[0]!;
    const good = encodeMessage(proposal);
    expect(r.onMessageBytes(1, new Uint8Array(0), c.now).rejection?.code).toBe(RejectCode.MALFORMED);
    expect(r.onMessageBytes(1, good.subarray(0, good.length - 3), c.now).rejection?.code).toBe(RejectCode.MALFORMED);
    expect(r.onMessageBytes(1, new Uint8Array([...good, 0]), c.now).rejection?.code).toBe(RejectCode.MALFORMED);
    expect(r.onMessageBytes(1, new Uint8Array([1, 99, 0, 0]), c.now).rejection?.code).toBe(RejectCode.MALFORMED);
    expect(r.onMessageBytes(1, new Uint8Array([7, 1]), c.now).rejection?.code).toBe(RejectCode.MALFORMED);
    expect(r.onMessageBytes(1, good, c.now).rejection).toBeNull();
  });

  test('messages over the size limit are rejected before decoding', () => {
    const c = new Cluster(4, { limits: { maxMessageBytes: 64 } });
    c.start();
    const p = c.queue.find((e) => e.message.type === 'proposal')!.message;
    expect(c.replicas[0]!.onMessageBytes(1, encodeMessage(p), c.now).rejection?.code).toBe(RejectCode.OVERSIZED);
  });
});

describe('arbitrary input', () => {
  test('random messages, and mutations of real ones, never make a replica throw', () => {
    const c = new Cluster(4);
    c.start();
    c.run(100);
    const real = c.queue.slice(0, 20).map((e) => e.message);
    fc.assert(
      fc.property(messageArb, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), (m, to, from) => {
        const r = c.replicas[to]!;
        r.onMessage(from, m, c.now);
        const bytes = encodeMessage(m);
        r.onMessageBytes(from, bytes, c.now);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Math.max(0, real.length - 1) }), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 3 }), (i, at, byte, to) => {
        const bytes = encodeMessage(real[i]!).slice();
        bytes[at % bytes.length] = byte;
        c.replicas[to]!.onMessageBytes((to + 1) % 4, bytes, c.now);
      }),
      { numRuns: 500 },
    );
    // The cluster still works afterwards.
    const before = Math.min(...c.heights());
    c.runUntil(() => Math.min(...c.heights()) > before + 3, 50);
    expect(Math.min(...c.heights())).toBeGreaterThan(before + 3);
  });
});
