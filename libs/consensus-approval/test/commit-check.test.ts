// checkCertificateApproval with real FALCON-1024 validator keys and real consensus encodings: a
// certificate is approved only by a committed block whose QC the genesis validators signed and
// which carries this exact certificate request.
import { ValidatorSet, computeBlockHash, encodeCommittedBlock, voteSigningBytes, type Block, type QuorumCertificate } from '@stoq/consensus';
import { nativeFalcon } from '@stoq/core';
import { hypermesh } from '@stoq/protos';
import { ApprovalError, checkCertificateApproval } from '../src';

const keys = [0, 1, 2, 3].map(() => nativeFalcon.keypair());
const set = ValidatorSet.fromGenesis({ chainId: 'test-chain', validators: keys.map((k, id) => ({ id, publicKey: k.publicKey, weight: 1 })) });
const otherChain = ValidatorSet.fromGenesis({ chainId: 'other-chain', validators: keys.map((k, id) => ({ id, publicKey: k.publicKey, weight: 1 })) });
const verifier = { verify: (i: { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array }) => nativeFalcon.verify(i.publicKey, i.message, i.signature) };
const bytes = (n: number): Uint8Array => new Uint8Array(32).fill(n);
const expectation = { csrHash: bytes(1), keyBinding: bytes(2), proofHash: bytes(3) };
const zeroQc: QuorumCertificate = { view: 0, height: 0, blockHash: '00'.repeat(32), signatures: [] };

function operation(v: { csrHash: Uint8Array; keyBinding: Uint8Array; proofHash: Uint8Array }): Uint8Array {
  return hypermesh.OperationType.encode(hypermesh.OperationType.create({ operationId: 'certificate-x', certificateValidation: { ...v, proofSet: new Uint8Array([1, 2, 3]) } })).finish();
}

function committed(payload: Uint8Array[], signers: number[], chain: ValidatorSet = set): Uint8Array {
  const block: Block = { height: 5, view: 7, proposer: chain.leader(7), parentHash: zeroQc.blockHash, justify: zeroQc, payload };
  const hash = computeBlockHash(chain.chainTag, block);
  const message = voteSigningBytes(chain.chainTag, block.view, block.height, hash);
  const qc: QuorumCertificate = { view: 7, height: 5, blockHash: hash, signatures: signers.map((id) => ({ validator: id, signature: nativeFalcon.sign(keys[id]!.secretKey, message) })) };
  return encodeCommittedBlock({ block, hash, qc });
}

function failure(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ApprovalError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'approved';
}

test('a block with this request, certified by 3 of 4 genesis validators, approves it', () => {
  const encoded = committed([operation({ csrHash: bytes(9), keyBinding: bytes(9), proofHash: bytes(9) }), operation(expectation)], [0, 1, 3]);
  const a = checkCertificateApproval(encoded, set, verifier, expectation);
  expect(a.blockHeight).toBe(5);
  expect(a.blockHash).toMatch(/^[0-9a-f]{64}$/);
  expect(a.commitHash).toMatch(/^[0-9a-f]{64}$/);
});

test('no quorum, another chain, another request, or garbage: refused with the reason', () => {
  expect(failure(() => checkCertificateApproval(committed([operation(expectation)], [0, 1]), set, verifier, expectation))).toMatch(/^QC_INVALID: .*does not verify against the genesis validator set/);
  // Signed by the same keys for another chain: the block hash (chain tag) does not match this chain.
  expect(failure(() => checkCertificateApproval(committed([operation(expectation)], [0, 1, 2], otherChain), set, verifier, expectation))).toMatch(/^QC_MISMATCH: .*not the block sent/);
  expect(failure(() => checkCertificateApproval(committed([operation({ ...expectation, keyBinding: bytes(8) })], [0, 1, 2]), set, verifier, expectation))).toMatch(/^REQUEST_NOT_IN_BLOCK: .*these keys, this CSR/);
  expect(failure(() => checkCertificateApproval(committed([operation({ ...expectation, proofHash: bytes(8) })], [0, 1, 2]), set, verifier, expectation))).toMatch(/holds no certificate validation/);
  expect(failure(() => checkCertificateApproval(new Uint8Array([1, 2, 3]), set, verifier, expectation))).toMatch(/^NOT_A_COMMITTED_BLOCK/);
});

test('a signature moved onto another block does not count', () => {
  const good = committed([operation(expectation)], [0, 1, 2]);
  const other = committed([operation({ ...expectation, csrHash: bytes(7) })], [0, 1, 2]);
  // Splice: the other block with the good block's QC bytes is a QC for a different hash.
  const tampered = Uint8Array.from(other);
  tampered.set(good.subarray(good.length - 200), other.length - 200);
  expect(failure(() => checkCertificateApproval(tampered, set, verifier, { ...expectation, csrHash: bytes(7) }))).toMatch(/^(QC_MISMATCH|QC_INVALID|NOT_A_COMMITTED_BLOCK)/);
});
