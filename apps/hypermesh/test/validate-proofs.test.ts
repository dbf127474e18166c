// hypermesh/consensus/validate_certificate and validate_proofs over STOQ against four in-process
// validators: a valid set is committed and answered with a QC that verifies and the encoded block
// that carries the request; each proof broken in turn is refused with PERMISSION_DENIED naming
// the failing proof, and nothing is committed; every validator re-checks before voting.
import { randomUUID } from 'node:crypto';
import { computeBlockHash, decodeCommittedBlock, verifyQuorumCertificate } from '@stoq/consensus';
import { nativeFalcon } from '@stoq/core';
import { certificateKeyBinding, certificateRequestContext, encodeFourProofSet, generateFourProofSet, type BlockAnchor, type FourProofParams, type FourProofSet, type OperationContext, type PoStakeProof } from '@stoq/four-proof';
import { hypermesh as proto } from '@stoq/protos';
import { isRpcError, Status, type RpcClient } from '@stoq/rpc';
import type { OperationCheck } from '@stoq/consensus';
import { operationValidity } from '../src/app/validity';
import { falconSignatureVerifier } from '@stoq/consensus-approval';
import { ProofVerifier } from '../src/proofs/proof-verifier';
import { decodeOperation, encodeOperation } from '../src/operations';
import { LEDGER_KEY, NODE_ID, nodePlot, stake, startServiceCluster, type ServiceCluster } from './service-harness';

jest.setTimeout(120_000);
const M = proto.ConsensusMethods;
const CSR_HASH = new Uint8Array(32).fill(0x5c);
const KEYS = certificateKeyBinding(new Uint8Array([0x30, 0x59, 0x30, 0x13, 1, 2, 3]), nativeFalcon.keypair().publicKey);
const OTHER_KEYS = certificateKeyBinding(new Uint8Array([0x30, 0x59, 0x30, 0x13, 9, 9, 9]), nativeFalcon.keypair().publicKey);

let cluster: ServiceCluster;
let client: RpcClient;
beforeAll(async () => {
  cluster = await startServiceCluster();
  client = await cluster.client('trustchain');
  await cluster.committed(0, 2);
});
afterAll(async () => {
  expect(cluster.fatal).toEqual([]);
  await cluster.close();
});

function anchor(): BlockAnchor {
  const tip = cluster.validators[0]!.replica.committedTip;
  return { height: BigInt(tip.height), hash: new Uint8Array(Buffer.from(tip.hash, 'hex')) };
}

let sequence = 1n;
function proofSet(o: { context?: OperationContext; stake?: PoStakeProof; anchor?: BlockAnchor | null; params?: Partial<FourProofParams>; now?: number } = {}): FourProofSet {
  const a = o.anchor === undefined ? anchor() : o.anchor;
  return generateFourProofSet({
    context: o.context ?? certificateRequestContext(KEYS, NODE_ID),
    plot: nodePlot(),
    ipv6Address: '2001:db8::42',
    stake: o.stake ?? stake(),
    now: o.now ?? Date.now(),
    sequence: sequence++,
    ...(a ? { anchor: a } : {}),
    ...(o.params ? { params: o.params } : {}),
  });
}

async function refusal(call: Promise<unknown>): Promise<{ code: Status; message: string }> {
  try {
    await call;
  } catch (err) {
    if (isRpcError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('the call succeeded');
}

test('a valid set is committed: the QC verifies against genesis and its block carries this request', async () => {
  const requestId = randomUUID();
  const set = encodeFourProofSet(proofSet());
  const verifiedBefore = cluster.verifiers.map((v) => v.counters.verified);
  const r = await client.call(M.validateCertificate, { requestId, csrHash: CSR_HASH, keyBinding: KEYS, proofSet: set });
  expect(r.valid).toBe(true);
  expect(r.duplicate).toBe(false);
  const qc = { view: Number(r.qc!.view), height: Number(r.qc!.height), blockHash: r.qc!.blockHash!, signatures: r.qc!.signatures!.map((s) => ({ validator: s.validator!, signature: s.signature! })) };
  expect(verifyQuorumCertificate(qc, cluster.genesis.validatorSet, falconSignatureVerifier(nativeFalcon))).toEqual({ ok: true });
  const block = decodeCommittedBlock(r.encodedBlock!);
  expect(computeBlockHash(cluster.genesis.validatorSet.chainTag, block.block)).toBe(qc.blockHash);
  expect(block.block.height).toBe(Number(r.height));
  expect(r.blockHash).toBe(qc.blockHash);
  const ops = block.block.payload.map(decodeOperation);
  const mine = ops.find((o) => o?.operationId === requestId);
  expect(mine?.body).toMatchObject({ kind: 'certificate.validate', csrHash: CSR_HASH, keyBinding: KEYS });
  expect(Buffer.from((mine!.body as { proofHash: Uint8Array }).proofHash).equals(Buffer.from(r.proofHash!))).toBe(true);
  // Every validator committed the same block.
  await Promise.all([1, 2, 3].map((id) => cluster.committed(id, block.block.height)));
  for (const s of cluster.stores) expect(s.block(block.block.height)!.hash).toBe(qc.blockHash);
  // Each validator verified the set itself at most once (on receipt, as leader or as voter: it
  // remembers the verdict), the receiving one exactly once, and at least the three that
  // certified the block did (a validator that learns the block from the QC alone need not).
  const verified = cluster.verifiers.map((v, i) => v.counters.verified - verifiedBefore[i]!);
  for (const n of verified) expect(n).toBeLessThanOrEqual(1);
  expect(verified[0]).toBe(1);
  expect(verified.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3);

  // Idempotent by request id: the same answer, marked duplicate.
  const again = await client.call(M.validateCertificate, { requestId, csrHash: CSR_HASH, keyBinding: KEYS, proofSet: set });
  expect({ duplicate: again.duplicate, height: Number(again.height), hash: again.blockHash }).toEqual({ duplicate: true, height: block.block.height, hash: qc.blockHash });
  // The same set under another request id is a replay of the node's sequence.
  const replay = await refusal(client.call(M.validateCertificate, { requestId: randomUUID(), csrHash: CSR_HASH, keyBinding: KEYS, proofSet: set }));
  expect(replay.code).toBe(Status.PERMISSION_DENIED);
  expect(replay.message).toMatch(/STALE at time\.sequence/);
  // Another request under the same id is a conflict.
  const other = await refusal(client.call(M.validateCertificate, { requestId, csrHash: new Uint8Array(32).fill(1), keyBinding: KEYS, proofSet: set }));
  expect(other.code).toBe(Status.ALREADY_EXISTS);
});

function tamper(set: FourProofSet, f: (s: FourProofSet) => FourProofSet): Uint8Array {
  return encodeFourProofSet(f(set));
}

const broken: Array<[string, () => Uint8Array, RegExp]> = [
  ['PoSpace: a plot opening that is not the derived block', () => tamper(proofSet(), (s) => ({ ...s, space: { ...s.space, openings: s.space.openings.map((o, i) => (i === 0 ? { ...o, block: o.block.map((b, j) => (j === 0 ? b ^ 1 : b)) } : o)) } })), /POSPACE_INVALID at space\.openings\[0\]/],
  ['PoStake: an attestation signed by another key (forged)', () => encodeFourProofSet(proofSet({ stake: stake({ secretKey: nativeFalcon.keypair().secretKey }) })), /POSTAKE_INVALID at stake\.signature/],
  ['PoStake: an expired attestation', () => encodeFourProofSet(proofSet({ stake: stake({ expiresAtMs: Date.now() - 1 }) })), /POSTAKE_EXPIRED at stake/],
  ['PoStake: stake below the minimum', () => encodeFourProofSet(proofSet({ stake: stake({ amount: 0n }) })), /POSTAKE_INSUFFICIENT at stake\.attestation\.amount/],
  ['PoWork: below the required difficulty', () => encodeFourProofSet(proofSet({ params: { powDifficulty: 2 } })), /POWORK_INSUFFICIENT at work/],
  ['PoTime: VDF anchored to a block that is not the committed one', () => encodeFourProofSet(proofSet({ anchor: { height: anchor().height, hash: new Uint8Array(32).fill(0xee) } })), /STALE at time\.anchor: .*another block/],
  ['PoTime: not anchored at all', () => encodeFourProofSet(proofSet({ anchor: null })), /STALE at time\.anchor/],
  ['PoTime: a tampered VDF output', () => tamper(proofSet(), (s) => ({ ...s, time: { ...s.time, proof: s.time.output } })), /POTIME_INVALID at time/],
  ['PoTime: a timestamp outside the window', () => encodeFourProofSet(proofSet({ now: Date.now() - 10 * 60_000, stake: stake() })), /STALE at time\.timestampMs/],
  ['binding: proofs earned for another CSR\'s keys', () => encodeFourProofSet(proofSet({ context: certificateRequestContext(OTHER_KEYS, NODE_ID) })), /OPERATION_MISMATCH at context\.assetId/],
];

test.each(broken)('refused, nothing committed: %s', async (_name, make, reason) => {
  const requestId = randomUUID();
  const r = await refusal(client.call(M.validateCertificate, { requestId, csrHash: CSR_HASH, keyBinding: KEYS, proofSet: make() }));
  expect(r.code).toBe(Status.PERMISSION_DENIED);
  expect(r.message).toMatch(reason);
  expect(cluster.stores[0]!.operationHeight(requestId)).toBeNull();
  expect(cluster.validators[0]!.status().mempoolSize).toBe(0);
});

test('an anchor this validator has not committed yet is waited for, then checked as usual; one it does not reach in time is UNAVAILABLE (retryable: another validator may have it)', async () => {
  const tip = cluster.validators[0]!.status().committedHeight;
  const far = await refusal(client.call(M.validateCertificate, { requestId: randomUUID(), csrHash: CSR_HASH, keyBinding: KEYS, proofSet: encodeFourProofSet(proofSet({ anchor: { height: BigInt(tip + 100_000), hash: new Uint8Array(32).fill(7) } })) }));
  expect(far.code).toBe(Status.UNAVAILABLE);
  expect(far.message).toMatch(new RegExp(`anchored to block ${tip + 100_000}, which this validator has not committed yet`));
  // A few blocks ahead: the request waits until block tip+3 is committed here, and only then is
  // the anchor compared with it (this one names another block: refused for good).
  const ahead = cluster.validators[0]!.status().committedHeight + 3;
  const near = await refusal(client.call(M.validateCertificate, { requestId: randomUUID(), csrHash: CSR_HASH, keyBinding: KEYS, proofSet: encodeFourProofSet(proofSet({ anchor: { height: BigInt(ahead), hash: new Uint8Array(32).fill(7) } })) }));
  expect(near.code).toBe(Status.PERMISSION_DENIED);
  expect(near.message).toMatch(new RegExp(`STALE at time\\.anchor: .*another block than the committed block ${ahead}`));
  expect(cluster.validators[0]!.status().committedHeight).toBeGreaterThanOrEqual(ahead);
});

test('malformed requests are INVALID_ARGUMENT', async () => {
  const set = encodeFourProofSet(proofSet());
  expect((await refusal(client.call(M.validateCertificate, { requestId: '', csrHash: CSR_HASH, keyBinding: KEYS, proofSet: set }))).code).toBe(Status.INVALID_ARGUMENT);
  expect((await refusal(client.call(M.validateCertificate, { requestId: 'x', csrHash: new Uint8Array(5), keyBinding: KEYS, proofSet: set }))).code).toBe(Status.INVALID_ARGUMENT);
  expect((await refusal(client.call(M.validateCertificate, { requestId: 'x', csrHash: CSR_HASH, keyBinding: KEYS, proofSet: new Uint8Array(0) }))).code).toBe(Status.INVALID_ARGUMENT);
  const garbage = await refusal(client.call(M.validateCertificate, { requestId: 'x', csrHash: CSR_HASH, keyBinding: KEYS, proofSet: new Uint8Array([1, 2, 3]) }));
  expect(garbage.code).toBe(Status.PERMISSION_DENIED);
  expect(garbage.message).toMatch(/DECODE/);
});

test('validate_proofs: the set must be for exactly this operation, asset and node', async () => {
  const context: OperationContext = { operation: 'catalog/deploy', assetId: 'program:abc', nodeId: NODE_ID };
  const set = encodeFourProofSet(proofSet({ context }));
  const ok = await client.call(M.validateProofs, { requestId: randomUUID(), operation: 'catalog/deploy', assetId: 'program:abc', nodeId: NODE_ID, proofSet: set });
  expect(ok.valid).toBe(true);
  expect(decodeCommittedBlock(ok.encodedBlock!).block.payload.map(decodeOperation).some((o) => o?.body.kind === 'proofs.validate')).toBe(true);
  const wrongAsset = await refusal(client.call(M.validateProofs, { requestId: randomUUID(), operation: 'catalog/deploy', assetId: 'program:other', nodeId: NODE_ID, proofSet: set }));
  expect(wrongAsset.code).toBe(Status.PERMISSION_DENIED);
  expect(wrongAsset.message).toMatch(/OPERATION_MISMATCH at context\.assetId/);
  const wrongOp = await refusal(client.call(M.validateProofs, { requestId: randomUUID(), operation: 'catalog/stop', assetId: 'program:abc', nodeId: NODE_ID, proofSet: set }));
  expect(wrongOp.message).toMatch(/OPERATION_MISMATCH at context\.operation/);
});

test('an invalid validation that reaches the mempools (not through the RPC) is dropped by every leader, never committed', async () => {
  // As a faulty validator could: forward a validation whose set does not verify to everyone.
  const bad = encodeOperation({ operationId: `forged-${randomUUID()}`, body: { kind: 'certificate.validate', csrHash: CSR_HASH, keyBinding: KEYS, proofHash: new Uint8Array(32), proofSet: encodeFourProofSet(proofSet({ stake: stake({ amount: 0n }) })) } });
  const id = decodeOperation(bad)!.operationId;
  for (let v = 0; v < 4; v++) cluster.validators[v]!.onForwardedOperation((v + 1) % 4, bad);
  // In every mempool, but a leader holding back an empty proposal (pacing) proposes at once and
  // drops it there already.
  expect(cluster.validators.filter((v) => v.status().mempoolSize === 1).length).toBeGreaterThanOrEqual(3);
  // Four more commits: every validator has led at least once since (round-robin), and proposed without it.
  const h = cluster.stores[0]!.committedHeight;
  await Promise.all([0, 1, 2, 3].map((v) => cluster.committed(v, h + 6)));
  for (const s of cluster.stores) expect(s.operationHeight(id)).toBeNull();
  for (const v of cluster.validators) expect(v.status().mempoolSize).toBe(0);
});

test('a leader that skips the check proposes it; the others refuse to vote, and it never commits', async () => {
  // Validator 1 checks nothing; the others run the production check, recording what it refuses.
  const honest = operationValidity({ verifier: new ProofVerifier({ ledgerPublicKey: LEDGER_KEY, maxAnchorAgeBlocks: 1000 }), wallClock: () => Date.now() });
  const refusals: string[] = [];
  const recording: OperationCheck = (op, ctx) => {
    const r = honest(op, ctx);
    if (r) refusals.push(r.detail);
    return r;
  };
  const c = await startServiceCluster({ checks: [recording, null, recording, recording] });
  try {
    await c.committed(0, 2);
    const tip = c.validators[0]!.replica.committedTip;
    const set = generateFourProofSet({ context: certificateRequestContext(KEYS, NODE_ID), plot: nodePlot(), ipv6Address: '2001:db8::42', stake: stake({ amount: 0n }), now: Date.now(), sequence: 99n, anchor: { height: BigInt(tip.height), hash: new Uint8Array(Buffer.from(tip.hash, 'hex')) } });
    const bad = encodeOperation({ operationId: 'forged-1', body: { kind: 'certificate.validate', csrHash: CSR_HASH, keyBinding: KEYS, proofHash: new Uint8Array(32), proofSet: encodeFourProofSet(set) } });
    c.validators[1]!.onForwardedOperation(0, bad);
    expect(c.validators[1]!.status().mempoolSize).toBe(1);
    // The chain goes on well past validator 1's turns as leader (it proposes the operation each
    // time: only the honest validators' mempools are empty of it).
    const h = c.stores[0]!.committedHeight;
    await Promise.all([0, 2, 3].map((v) => c.committed(v, h + 8)));
    for (const s of c.stores) expect(s.operationHeight('forged-1')).toBeNull();
    // The honest validators refused to vote for its proposals, with the failing proof.
    expect(refusals.length).toBeGreaterThanOrEqual(2);
    for (const r of refusals) expect(r).toMatch(/^operation forged-1: POSTAKE_INSUFFICIENT at stake\.attestation\.amount/);
    expect(c.fatal).toEqual([]);
  } finally {
    await c.close();
  }
});

test('a copy of a committed validation (another attempt) is ordered as a no-op, not refused as a replay', async () => {
  const requestId = randomUUID();
  const r = await client.call(M.validateCertificate, { requestId, csrHash: CSR_HASH, keyBinding: KEYS, proofSet: encodeFourProofSet(proofSet()) });
  const first = decodeCommittedBlock(r.encodedBlock!).block.payload.map(decodeOperation).find((o) => o?.operationId === requestId)!;
  const v1 = cluster.validators[1]!;
  await cluster.committed(1, Number(r.height));
  expect(v1.replica.submit(encodeOperation({ ...first, attempt: 1 }))).toBe('accepted');
  const h = cluster.stores[1]!.committedHeight;
  await cluster.committed(1, h + 6); // validator 1 led since, and proposed it
  expect(v1.status().mempoolSize).toBe(0);
  const carried = [];
  for (let x = h + 1; x <= h + 6; x++) carried.push(...cluster.stores[1]!.block(x)!.block.payload.map(decodeOperation).filter((o) => o?.operationId === requestId));
  expect(carried.map((o) => o!.attempt)).toEqual([1]);
  expect(cluster.stores[1]!.operationHeight(requestId)).toBe(Number(r.height));
});

test('an anchor below what the replica holds (a validator that installed a snapshot) is checked against the store\'s block hashes', () => {
  const a = anchor();
  const op = encodeOperation({ operationId: `anchored-${randomUUID()}`, body: { kind: 'certificate.validate', csrHash: CSR_HASH, keyBinding: KEYS, proofHash: new Uint8Array(32), proofSet: encodeFourProofSet(proofSet({ anchor: a })) } });
  const decoded = decodeOperation(op)!;
  const verifier = new ProofVerifier({ ledgerPublicKey: LEDGER_KEY, maxAnchorAgeBlocks: 1000 });
  // The right proof_hash, so that only the anchor decides.
  const proofSetBytes = (decoded.body as { proofSet: Uint8Array }).proofSet;
  const verdict = verifier.verifyCertificateRequest({ keyBinding: KEYS, proofSet: proofSetBytes }, Date.now(), { height: Number(a.height) + 1, committedHash: () => Buffer.from(a.hash).toString('hex') });
  if (!verdict.valid) throw new Error(`the set does not verify: ${verdict.detail}`);
  const withHash = encodeOperation({ ...decoded, body: { ...decoded.body, proofHash: verdict.proofHash } } as typeof decoded);
  const ctx = { height: Number(a.height) + 1, committedHash: () => undefined };
  const known = new Map([[Number(a.height), Buffer.from(a.hash).toString('hex')]]);
  expect(operationValidity({ verifier, wallClock: () => Date.now() })(withHash, ctx)?.detail).toMatch(/not in this validator's committed chain/);
  expect(operationValidity({ verifier, wallClock: () => Date.now(), blockHashAt: (h) => known.get(h) })(withHash, ctx)).toBeNull();
});
