// RFC 6962 §3.5 Signed Tree Heads, signed twice over the same TLS-encoded TreeHeadSignature input:
// ECDSA P-256 (tree_head_signature, as the RFC requires) and FALCON-1024 (falcon_signature).
import type { KeyObject } from 'node:crypto';
import { CtLogError } from './errors';
import { HASH_SIZE } from './hasher';
import { type FalconSigner, type FalconVerifier, type LogSigningKey, toPublicKey, verifyDigitallySigned } from './keys';
import { type DigitallySigned, decodeDigitallySigned, encodeDigitallySigned, type TreeHead, treeHeadSignatureInput } from './structs';
import { TlsReader, TlsWriter } from './tls';

export interface SignedTreeHead extends TreeHead {
  /** ECDSA P-256 DigitallySigned over treeHeadSignatureInput(head). */
  treeHeadSignature: DigitallySigned;
  /** FALCON-1024 signature over the same bytes. */
  falconSignature: Uint8Array;
}

/** The RFC 6962 §4.3 get-sth JSON, plus `falcon_signature` (base64). */
export interface SthJson {
  tree_size: number;
  timestamp: number;
  sha256_root_hash: string;
  tree_head_signature: string;
  falcon_signature: string;
}

/**
 * Largest FALCON-1024 signature: 1462 bytes, PQClean's CRYPTO_BYTES for the compressed
 * (variable-length) format that @stoq/native produces. The padded variant is always exactly
 * 1280 bytes, so it fits too. Enforced when signing (an STH we could not read back must never be
 * persisted) and when decoding (binary and JSON).
 */
export const MAX_FALCON_SIGNATURE_BYTES = 1462;

function checkFalconSignatureLength(signature: Uint8Array, what: string): void {
  if (signature.length === 0 || signature.length > MAX_FALCON_SIGNATURE_BYTES) {
    throw new CtLogError('DECODE', `${what} is ${signature.length} bytes; a FALCON-1024 signature is 1..${MAX_FALCON_SIGNATURE_BYTES}`);
  }
}

export function signTreeHead(head: TreeHead, key: LogSigningKey, falcon: FalconSigner): SignedTreeHead {
  const input = treeHeadSignatureInput(head);
  const falconSignature = falcon.sign(input);
  if (falconSignature.length === 0 || falconSignature.length > MAX_FALCON_SIGNATURE_BYTES) {
    throw new CtLogError('INVALID_ARGUMENT', `the FALCON signer returned ${falconSignature.length} bytes; a FALCON-1024 signature is 1..${MAX_FALCON_SIGNATURE_BYTES}`);
  }
  return { ...head, rootHash: Buffer.from(head.rootHash), treeHeadSignature: key.sign(input), falconSignature };
}

/** Why an STH fails verification, or null when both signatures verify. */
export function explainSth(sth: SignedTreeHead, logPublicKey: KeyObject | Uint8Array | string, falcon: FalconVerifier): string | null {
  let input: Buffer;
  try {
    input = treeHeadSignatureInput(sth);
  } catch (err) {
    return (err as Error).message;
  }
  if (!verifyDigitallySigned(sth.treeHeadSignature, input, toPublicKey(logPublicKey))) return 'STH ECDSA tree_head_signature does not verify';
  let ok = false;
  try {
    ok = falcon.verify(input, sth.falconSignature);
  } catch {
    ok = false;
  }
  return ok ? null : 'STH falcon_signature does not verify';
}

/** True when both the ECDSA and the FALCON signature of the STH verify. */
export function verifySth(sth: SignedTreeHead, logPublicKey: KeyObject | Uint8Array | string, falcon: FalconVerifier): boolean {
  return explainSth(sth, logPublicKey, falcon) === null;
}

/** Only the classical half (for RFC 6962 clients that know no FALCON). */
export function verifySthEcdsa(sth: SignedTreeHead, logPublicKey: KeyObject | Uint8Array | string): boolean {
  return verifyDigitallySigned(sth.treeHeadSignature, treeHeadSignatureInput(sth), toPublicKey(logPublicKey));
}

export function sthToJson(sth: SignedTreeHead): SthJson {
  return {
    tree_size: sth.treeSize,
    timestamp: sth.timestamp,
    sha256_root_hash: Buffer.from(sth.rootHash).toString('base64'),
    tree_head_signature: encodeDigitallySigned(sth.treeHeadSignature).toString('base64'),
    falcon_signature: Buffer.from(sth.falconSignature).toString('base64'),
  };
}

export function sthFromJson(json: SthJson): SignedTreeHead {
  const rootHash = Buffer.from(json.sha256_root_hash, 'base64');
  if (rootHash.length !== HASH_SIZE) throw new CtLogError('DECODE', `sha256_root_hash is ${rootHash.length} bytes, want ${HASH_SIZE}`);
  if (!Number.isSafeInteger(json.tree_size) || json.tree_size < 0) throw new CtLogError('DECODE', `tree_size ${json.tree_size} is invalid`);
  if (!Number.isSafeInteger(json.timestamp) || json.timestamp < 0) throw new CtLogError('DECODE', `timestamp ${json.timestamp} is invalid`);
  const falconSignature = Buffer.from(json.falcon_signature, 'base64');
  checkFalconSignatureLength(falconSignature, 'falcon_signature');
  return {
    treeSize: json.tree_size,
    timestamp: json.timestamp,
    rootHash,
    treeHeadSignature: decodeDigitallySigned(Buffer.from(json.tree_head_signature, 'base64')),
    falconSignature,
  };
}

/** Binary form used by the STH file: u64 size, u64 timestamp, root[32], DigitallySigned, opaque falcon<0..2^16-1>. */
export function encodeSignedTreeHead(sth: SignedTreeHead): Buffer {
  const head = new TlsWriter().u64(sth.treeSize).u64(sth.timestamp).bytes(sth.rootHash).finish();
  const tail = new TlsWriter().vector(sth.falconSignature, 2, 'falcon_signature').finish();
  return Buffer.concat([head, encodeDigitallySigned(sth.treeHeadSignature), tail]);
}

export function decodeSignedTreeHead(bytes: Uint8Array): SignedTreeHead {
  const r = new TlsReader(bytes, 'SignedTreeHead');
  const treeSize = r.u64('tree_size');
  const timestamp = r.u64('timestamp');
  const rootHash = r.bytes(HASH_SIZE, 'sha256_root_hash');
  const hashAlgorithm = r.u8('hash algorithm');
  const signatureAlgorithm = r.u8('signature algorithm');
  const signature = r.vector(2, 'tree_head_signature', 1);
  const falconSignature = r.vector(2, 'falcon_signature', 1, MAX_FALCON_SIGNATURE_BYTES);
  r.end();
  return { treeSize, timestamp, rootHash, treeHeadSignature: { hashAlgorithm, signatureAlgorithm, signature }, falconSignature };
}
