// HyperMesh four-proof validation and the asset registry across real processes: 4 validators
// (`hypermesh serve --four-proof`, a FALCON-1024 ledger key standing in for Caesar's) behind a
// real TrustChain. validate_certificate with a valid set is committed and answered with a QC that
// verifies against the genesis file and a block (also served by another validator) that carries
// the request; a forged stake is refused with PERMISSION_DENIED naming the proof. An asset
// registered by an enrolled node is owned by it on every validator; only it may transfer it.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { computeBlockHash, decodeCommittedBlock, parseGenesis, verifyQuorumCertificate, type SignatureVerifier } from '@stoq/consensus';
import { nativeFalcon, type NodeIdentity } from '@stoq/core';
import { certificateKeyBinding, certificateRequestContext, createPlot, encodeFourProofSet, generateFourProofSet, signStakeAttestationWith, type PoStakeProof } from '@stoq/four-proof';
import { hypermesh as proto } from '@stoq/protos';
import { isRpcError, Status } from '@stoq/rpc';
import { startHyperMeshCluster, type HyperMeshCluster } from './hypermesh-cluster';
import { HYPERMESH_BIN, until } from './support';

jest.setTimeout(300_000);
const M = proto.ConsensusMethods;
const A = proto.AssetsMethods;
const caesar = nativeFalcon.keypair();
const NODE_ID = new Uint8Array(32).fill(0x42);
const KEYS = certificateKeyBinding(new Uint8Array([0x30, 0x59, 0x30, 0x13, 7, 7]), nativeFalcon.keypair().publicKey);
const plot = createPlot(NODE_ID);
const falconVerifier: SignatureVerifier = { verify: (i) => nativeFalcon.verify(i.publicKey, i.message, i.signature) };
const num = (v: number | proto.Long | null | undefined): number => (v === null || v === undefined ? 0 : Number(v.toString()));

let c: HyperMeshCluster;
let node: NodeIdentity;
beforeAll(async () => {
  c = await startHyperMeshCluster({
    chainId: 'hypermesh-validate-e2e',
    serveArgs: (dir) => {
      // Caesar's falcon.pub as its identity dir holds it, turned into the rules file by `hypermesh four-proof`.
      const pub = join(dir, 'caesar-falcon.pub');
      writeFileSync(pub, `-----BEGIN FALCON-1024 PUBLIC KEY-----\n${Buffer.from(caesar.publicKey).toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END FALCON-1024 PUBLIC KEY-----\n`);
      const path = join(dir, 'four-proof.json');
      execFileSync(process.execPath, [HYPERMESH_BIN, 'four-proof', '--ledger-falcon-key', pub, '--out', path]);
      return ['--four-proof', path];
    },
  });
  node = await c.enrollClient('node', 'node-1');
});
afterAll(async () => {
  await c?.close();
});

function stake(secretKey = caesar.secretKey): PoStakeProof {
  const now = Date.now();
  return signStakeAttestationWith({ account: '1001', amount: 5_000n, nodeId: NODE_ID, issuedAtMs: now - 1000, expiresAtMs: now + 3_600_000 }, (m) => nativeFalcon.sign(secretKey, m));
}

async function proofSet(validator: number, s: PoStakeProof, sequence: bigint): Promise<Uint8Array> {
  // Anchored to a block this validator has committed (PoTime's randomness beacon).
  const st = await until('a committed block to anchor to', async () => {
    const r = await c.withValidator(validator, (rpc) => rpc.call(M.status, {}, { timeoutMs: 10_000 }));
    return num(r.committedHeight) >= 1 ? r : null;
  }, 60_000);
  const anchor = { height: BigInt(num(st.committedHeight)), hash: new Uint8Array(Buffer.from(st.committedHash!, 'hex')) };
  return encodeFourProofSet(generateFourProofSet({ context: certificateRequestContext(KEYS, NODE_ID), plot, ipv6Address: '2001:db8::7', stake: s, now: Date.now(), sequence, anchor }));
}

test('validate_certificate: committed, with a QC that verifies against genesis and a block that carries the request', async () => {
  const csrHash = new Uint8Array(32).fill(0x33);
  const set = await proofSet(1, stake(), 1n);
  const r = await c.withValidator(1, (rpc) => rpc.call(M.validateCertificate, { requestId: 'cert-req-1', csrHash, keyBinding: KEYS, proofSet: set }, { timeoutMs: 60_000 }));
  expect(r.valid).toBe(true);
  const genesis = parseGenesis(JSON.parse(readFileSync(c.genesisPath, 'utf8')));
  const qc = { view: num(r.qc!.view), height: num(r.qc!.height), blockHash: r.qc!.blockHash!, signatures: r.qc!.signatures!.map((s) => ({ validator: s.validator!, signature: s.signature! })) };
  expect(verifyQuorumCertificate(qc, genesis.validatorSet, falconVerifier)).toEqual({ ok: true });
  const committed = decodeCommittedBlock(r.encodedBlock!);
  expect(computeBlockHash(genesis.validatorSet.chainTag, committed.block)).toBe(qc.blockHash);
  // Another validator serves the same block, and it names this request.
  const height = num(r.height);
  const b = await until('validator 3 to commit the block', () => c.withValidator(3, (rpc) => rpc.call(M.block, { height }, { timeoutMs: 10_000 })));
  expect(b.hash).toBe(r.blockHash);
  const op = (b.operations ?? []).find((o) => o.operationId === 'cert-req-1');
  expect(Buffer.from(op!.certificateValidation!.csrHash!).equals(Buffer.from(csrHash))).toBe(true);
  expect(Buffer.from(op!.certificateValidation!.proofHash!).equals(Buffer.from(r.proofHash!))).toBe(true);
});

test('validate_certificate: a stake attestation forged with another key is PERMISSION_DENIED naming the proof', async () => {
  const set = await proofSet(2, stake(nativeFalcon.keypair().secretKey), 2n);
  const err = await c.withValidator(2, (rpc) => rpc.call(M.validateCertificate, { requestId: 'cert-req-2', csrHash: new Uint8Array(32), keyBinding: KEYS, proofSet: set }, { timeoutMs: 60_000 })).catch((e: unknown) => e);
  expect(isRpcError(err) && err.code).toBe(Status.PERMISSION_DENIED);
  expect((err as Error).message).toMatch(/POSTAKE_INVALID at stake\.signature/);
});

test('assets: registered by an enrolled node, owned by it on every validator; only the owner transfers it', async () => {
  const reg = await c.withValidator(0, (rpc) => rpc.call(A.register, { requestId: 'asset-1', assetId: 'node:node-1', kind: 'node', attributes: { region: 'eu' } }, { timeoutMs: 60_000 }), node);
  expect(reg.asset!.owner).toBe('node/node-1');
  const height = num(reg.height);
  for (let i = 0; i < 4; i++) {
    const got = await until(`validator ${i} applied the registration`, async () => {
      const g = await c.withValidator(i, (rpc) => rpc.call(A.get, { assetId: 'node:node-1' }, { timeoutMs: 10_000 }));
      return num(g.appliedHeight) >= height ? g : null;
    });
    expect(got.asset).toMatchObject({ owner: 'node/node-1', kind: 'node', attributes: { region: 'eu' } });
  }
  // The admin identity is not the owner.
  const denied = await c.withValidator(1, (rpc) => rpc.call(A.transfer, { requestId: 'asset-2', assetId: 'node:node-1', newOwner: 'admin/x' }, { timeoutMs: 60_000 })).catch((e: unknown) => e);
  expect(isRpcError(denied) && denied.code).toBe(Status.PERMISSION_DENIED);
  const moved = await c.withValidator(3, (rpc) => rpc.call(A.transfer, { requestId: 'asset-3', assetId: 'node:node-1', newOwner: 'catalog/catalog-1' }, { timeoutMs: 60_000 }), node);
  expect(moved.asset!.owner).toBe('catalog/catalog-1');
  const listed = await until('validator 2 applied the transfer', async () => {
    const l = await c.withValidator(2, (rpc) => rpc.call(A.list, { owner: 'catalog/catalog-1' }, { timeoutMs: 10_000 }));
    return num(l.appliedHeight) >= num(moved.height) ? l : null;
  });
  expect(listed.assets!.map((a) => a.assetId)).toEqual(['node:node-1']);
});
