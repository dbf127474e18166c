// The certificate extension of an earned certificate (`trustchain/issue_certificate`): which
// HyperMesh commit approved the issuance, so anyone holding the certificate can fetch that block
// and re-check it (`stoq verify-cert`).
//
//   ConsensusApproval ::= SEQUENCE {
//     blockHeight  INTEGER,          -- the block that committed the certificate validation
//     blockHash    OCTET STRING,     -- its hash (32 bytes; computeBlockHash of @stoq/consensus)
//     commitHash   OCTET STRING }    -- SHA-256 of the encodeCommittedBlock bytes TrustChain
//                                    -- verified: the block together with its QC
//
// OID: STOQ has no registered Private Enterprise Number yet, so this sits under 32473, the PEN
// RFC 5612 reserves for documentation, until one is registered. (A registration-free UUID OID,
// "2.25.<128-bit integer>", was tried: Go's crypto/x509 refuses any certificate with an OID arc
// above 31 bits, "malformed extension OID field".) Non-critical: OpenSSL and Go show it as an
// unknown extension and accept the certificate.
import { StoqError } from '../errors';
import { TAG_INTEGER, TAG_OCTET_STRING, TAG_SEQUENCE, children, encodeTlv, readSingle } from './der';
import type { CertificateExtension } from './hybrid-cert';

export const OID_CONSENSUS_APPROVAL = '1.3.6.1.4.1.32473.7440.1';
const HASH_BYTES = 32;

export interface ConsensusApproval {
  readonly blockHeight: number;
  /** Lowercase hex, 64 characters. */
  readonly blockHash: string;
  /** Lowercase hex, 64 characters. */
  readonly commitHash: string;
}

function rejected(message: string): StoqError {
  return new StoqError('PEER_REJECTED', `consensusApproval extension: ${message}`);
}

function hexBytes(hex: string, what: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new RangeError(`${what} must be 64 lowercase hex characters`);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

function encodeUnsigned(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError('blockHeight must be a positive safe integer');
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return encodeTlv(TAG_INTEGER, Uint8Array.from(bytes));
}

export function consensusApprovalExtension(a: ConsensusApproval): CertificateExtension {
  const value = encodeTlv(
    TAG_SEQUENCE,
    encodeUnsigned(a.blockHeight),
    encodeTlv(TAG_OCTET_STRING, hexBytes(a.blockHash, 'blockHash')),
    encodeTlv(TAG_OCTET_STRING, hexBytes(a.commitHash, 'commitHash')),
  );
  return { oid: OID_CONSENSUS_APPROVAL, critical: false, value };
}

/** Decodes the extnValue contents; throws StoqError PEER_REJECTED naming what is wrong. */
export function readConsensusApproval(value: Uint8Array): ConsensusApproval {
  const seq = readSingle(value, 'consensusApproval');
  const f = seq.tag === TAG_SEQUENCE ? children(value, seq, 'consensusApproval') : [];
  if (f.length !== 3 || f[0]!.tag !== TAG_INTEGER || f[1]!.tag !== TAG_OCTET_STRING || f[2]!.tag !== TAG_OCTET_STRING) {
    throw rejected('is not SEQUENCE { blockHeight INTEGER, blockHash OCTET STRING, commitHash OCTET STRING }');
  }
  const h = value.subarray(f[0]!.contentStart, f[0]!.end);
  if (h.length < 1 || h.length > 7 || (h[0]! & 0x80) !== 0 || (h.length > 1 && h[0] === 0 && (h[1]! & 0x80) === 0)) throw rejected('blockHeight is not a minimal positive INTEGER below 2^53');
  let blockHeight = 0;
  for (const b of h) blockHeight = blockHeight * 256 + b;
  if (blockHeight < 1 || !Number.isSafeInteger(blockHeight)) throw rejected('blockHeight is not a positive safe integer');
  const hash = (i: number, what: string): string => {
    const b = value.subarray(f[i]!.contentStart, f[i]!.end);
    if (b.length !== HASH_BYTES) throw rejected(`${what} is ${b.length} bytes, expected ${HASH_BYTES}`);
    return Buffer.from(b).toString('hex');
  };
  return { blockHeight, blockHash: hash(1, 'blockHash'), commitHash: hash(2, 'commitHash') };
}
