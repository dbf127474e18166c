// auditCertificateApproval on real certificates (stoq-core issuance) and real consensus encodings:
// the certificate's ConsensusApproval must name the block given, that block must be certified by
// the genesis validators, and it must hold the validation of this certificate's own keys.
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { ValidatorSet, computeBlockHash, encodeCommittedBlock, voteSigningBytes, type Block, type QuorumCertificate } from '@stoq/consensus';
import { consensusApprovalExtension, issueCertificate, nativeFalcon, type ConsensusApproval } from '@stoq/core';
import { certificateKeyBinding } from '@stoq/four-proof';
import { hypermesh } from '@stoq/protos';
import { ApprovalError, approvalOf, auditCertificateApproval } from '../src';

const keys = [0, 1, 2, 3].map(() => nativeFalcon.keypair());
const set = ValidatorSet.fromGenesis({ chainId: 'audit-chain', validators: keys.map((k, id) => ({ id, publicKey: k.publicKey, weight: 1 })) });
const verifier = { verify: (i: { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array }) => nativeFalcon.verify(i.publicKey, i.message, i.signature) };
const zeroQc: QuorumCertificate = { view: 0, height: 0, blockHash: '00'.repeat(32), signatures: [] };
const rootKey = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const rootFalcon = nativeFalcon.keypair();
const HOUR = 3_600_000;
const rootDer = issueCertificate({
  subject: { commonName: 'Audit Test Root', organization: 'STOQ' },
  subjectPublicKey: rootKey.publicKey,
  subjectFalconPublicKey: rootFalcon.publicKey,
  issuer: { certificate: null, privateKey: rootKey.privateKey, falconSecretKey: rootFalcon.secretKey, falconPublicKey: rootFalcon.publicKey },
  notBefore: new Date(Date.now() - HOUR),
  notAfter: new Date(Date.now() + 24 * HOUR),
  isCa: true,
}).der;

/** A node's key pairs and the binding its proofs (and the block) name. */
function nodeKeys() {
  const tls = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const falcon = nativeFalcon.keypair();
  const binding = certificateKeyBinding(new Uint8Array(createPublicKey(tls.privateKey).export({ type: 'spki', format: 'der' })), falcon.publicKey);
  return { tls, falcon, binding };
}

function leaf(k: ReturnType<typeof nodeKeys>, approval: ConsensusApproval | null): Uint8Array {
  return issueCertificate({
    subject: { commonName: 'storage-1', organization: 'STOQ' },
    subjectPublicKey: k.tls.publicKey,
    subjectFalconPublicKey: k.falcon.publicKey,
    issuer: { certificate: rootDer, privateKey: rootKey.privateKey, falconSecretKey: rootFalcon.secretKey, falconPublicKey: rootFalcon.publicKey },
    notBefore: new Date(Date.now() - HOUR),
    notAfter: new Date(Date.now() + HOUR),
    isCa: false,
    dnsNames: ['storage-1.storage.hypermesh'],
    ...(approval ? { extraExtensions: [consensusApprovalExtension(approval)] } : {}),
  }).der;
}

function commit(keyBinding: Uint8Array, height = 9): { encoded: Uint8Array; approval: ConsensusApproval } {
  const op = hypermesh.OperationType.encode(hypermesh.OperationType.create({ operationId: 'certificate-1', certificateValidation: { csrHash: new Uint8Array(32), keyBinding, proofHash: new Uint8Array(32), proofSet: Uint8Array.of(1) } })).finish();
  const block: Block = { height, view: height + 1, proposer: set.leader(height + 1), parentHash: zeroQc.blockHash, justify: zeroQc, payload: [op] };
  const hash = computeBlockHash(set.chainTag, block);
  const message = voteSigningBytes(set.chainTag, block.view, block.height, hash);
  const qc: QuorumCertificate = { view: block.view, height, blockHash: hash, signatures: [0, 2, 3].map((id) => ({ validator: id, signature: nativeFalcon.sign(keys[id]!.secretKey, message) })) };
  const encoded = encodeCommittedBlock({ block, hash, qc });
  return { encoded, approval: { blockHeight: height, blockHash: hash, commitHash: '00'.repeat(32) } };
}

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof ApprovalError) return e.code;
    throw e;
  }
  return 'ok';
};

test('an earned certificate audits against the block it names, holding its own keys', () => {
  const k = nodeKeys();
  const c = commit(k.binding, 9);
  const cert = leaf(k, c.approval);
  expect(approvalOf(cert)).toEqual(c.approval);
  expect(auditCertificateApproval(cert, c.encoded, set, verifier)).toEqual(c.approval);
});

test('not earned, another block, a block for other keys, another chain: refused with the reason', () => {
  const k = nodeKeys();
  const c = commit(k.binding, 9);
  expect(code(() => approvalOf(leaf(k, null)))).toBe('NOT_EARNED');
  // The block holds this validation, but the certificate names another block.
  expect(code(() => auditCertificateApproval(leaf(k, { ...c.approval, blockHeight: 8 }), c.encoded, set, verifier))).toBe('BLOCK_MISMATCH');
  // A certified block, named by the certificate, holding another node's keys.
  const other = nodeKeys();
  const theirs = commit(other.binding, 11);
  expect(code(() => auditCertificateApproval(leaf(k, theirs.approval), theirs.encoded, set, verifier))).toBe('REQUEST_NOT_IN_BLOCK');
  // The same block checked against another chain's validators (same keys, other chain id).
  const stranger = ValidatorSet.fromGenesis({ chainId: 'other-chain', validators: keys.map((x, id) => ({ id, publicKey: x.publicKey, weight: 1 })) });
  expect(code(() => auditCertificateApproval(leaf(k, c.approval), c.encoded, stranger, verifier))).toBe('QC_MISMATCH');
});
