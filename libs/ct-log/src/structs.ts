// RFC 6962 §3 data structures and their exact TLS encodings (pure codecs with size limits).
import { CtLogError } from './errors';
import { HASH_SIZE } from './hasher';
import { TlsReader, TlsWriter } from './tls';

/** RFC 6962 §3.1 LogEntryType. */
export const LogEntryType = { x509_entry: 0, precert_entry: 1 } as const;
export type LogEntryType = (typeof LogEntryType)[keyof typeof LogEntryType];

/** RFC 6962 §3.2 SignatureType. */
export const SignatureType = { certificate_timestamp: 0, tree_hash: 1 } as const;

/** Version v1(0), the only version RFC 6962 defines. */
export const V1 = 0;
/** MerkleLeafType timestamped_entry(0). */
export const TIMESTAMPED_ENTRY = 0;
/** TLS HashAlgorithm sha256(4) and SignatureAlgorithm ecdsa(3) (RFC 5246 §7.4.1.4.1). */
export const HASH_SHA256 = 4;
export const SIG_ECDSA = 3;

/** Largest ASN.1Cert / TBSCertificate the encoding allows (opaque<1..2^24-1>). */
export const MAX_CERT_BYTES = 2 ** 24 - 1;

/** RFC 6962 §3.2 PreCert. */
export interface PreCert {
  /** SHA-256 of the issuer's SubjectPublicKeyInfo DER. */
  issuerKeyHash: Uint8Array;
  /** DER TBSCertificate of the precertificate with the poison extension removed. */
  tbsCertificate: Uint8Array;
}

/** The signed_entry of a TimestampedEntry / SCT, by entry type. */
export type SignedEntry =
  | { entryType: typeof LogEntryType.x509_entry; certificate: Uint8Array }
  | { entryType: typeof LogEntryType.precert_entry; preCert: PreCert };

/** RFC 6962 §3.4 TimestampedEntry. */
export interface TimestampedEntry {
  /** Milliseconds since the Unix epoch. */
  timestamp: number;
  signedEntry: SignedEntry;
  /** CtExtensions: opaque<0..2^16-1>, empty in v1. */
  extensions: Uint8Array;
}

/** RFC 6962 §3.4 MerkleTreeLeaf (version v1, leaf_type timestamped_entry). */
export interface MerkleTreeLeaf {
  version: typeof V1;
  timestampedEntry: TimestampedEntry;
}

/** RFC 5246 DigitallySigned as RFC 6962 uses it: SHA-256 + ECDSA, DER signature. */
export interface DigitallySigned {
  hashAlgorithm: number;
  signatureAlgorithm: number;
  signature: Uint8Array;
}

/** RFC 6962 §3.2 SignedCertificateTimestamp. */
export interface SignedCertificateTimestamp {
  version: typeof V1;
  /** LogID: SHA-256 of the log's public key SPKI DER. */
  logId: Uint8Array;
  timestamp: number;
  extensions: Uint8Array;
  signature: DigitallySigned;
}

function writeSignedEntry(w: TlsWriter, e: SignedEntry): void {
  w.u16(e.entryType);
  if (e.entryType === LogEntryType.x509_entry) {
    w.vector(e.certificate, 3, 'ASN.1Cert', 1);
  } else {
    if (e.preCert.issuerKeyHash.length !== HASH_SIZE) {
      throw new RangeError(`issuer_key_hash must be ${HASH_SIZE} bytes, got ${e.preCert.issuerKeyHash.length}`);
    }
    w.bytes(e.preCert.issuerKeyHash);
    w.vector(e.preCert.tbsCertificate, 3, 'TBSCertificate', 1);
  }
}

function readSignedEntry(r: TlsReader): SignedEntry {
  const type = r.u16('entry_type');
  if (type === LogEntryType.x509_entry) {
    return { entryType: LogEntryType.x509_entry, certificate: r.vector(3, 'ASN.1Cert', 1) };
  }
  if (type === LogEntryType.precert_entry) {
    const issuerKeyHash = r.bytes(HASH_SIZE, 'issuer_key_hash');
    return { entryType: LogEntryType.precert_entry, preCert: { issuerKeyHash, tbsCertificate: r.vector(3, 'TBSCertificate', 1) } };
  }
  throw new CtLogError('DECODE', `unknown LogEntryType ${type}`);
}

/** TLS encoding of a MerkleTreeLeaf (the leaf input hashed into the tree). */
export function encodeMerkleTreeLeaf(leaf: MerkleTreeLeaf): Buffer {
  const w = new TlsWriter().u8(leaf.version).u8(TIMESTAMPED_ENTRY).u64(leaf.timestampedEntry.timestamp);
  writeSignedEntry(w, leaf.timestampedEntry.signedEntry);
  w.vector(leaf.timestampedEntry.extensions, 2, 'CtExtensions');
  return w.finish();
}

export function decodeMerkleTreeLeaf(bytes: Uint8Array): MerkleTreeLeaf {
  const r = new TlsReader(bytes, 'MerkleTreeLeaf');
  const version = r.u8('version');
  if (version !== V1) throw new CtLogError('DECODE', `MerkleTreeLeaf: unsupported version ${version}`);
  const leafType = r.u8('leaf_type');
  if (leafType !== TIMESTAMPED_ENTRY) throw new CtLogError('DECODE', `MerkleTreeLeaf: unknown leaf_type ${leafType}`);
  const timestamp = r.u64('timestamp');
  const signedEntry = readSignedEntry(r);
  const extensions = r.vector(2, 'CtExtensions');
  r.end();
  return { version: V1, timestampedEntry: { timestamp, signedEntry, extensions } };
}

/** §3.2: the bytes an SCT signature covers. */
export function sctSignatureInput(timestamp: number, entry: SignedEntry, extensions: Uint8Array): Buffer {
  const w = new TlsWriter().u8(V1).u8(SignatureType.certificate_timestamp).u64(timestamp);
  writeSignedEntry(w, entry);
  w.vector(extensions, 2, 'CtExtensions');
  return w.finish();
}

/** The tree head fields every STH signs. */
export interface TreeHead {
  timestamp: number;
  treeSize: number;
  /** sha256_root_hash. */
  rootHash: Uint8Array;
}

/** §3.5: the TLS-encoded TreeHeadSignature input (signed by ECDSA and by FALCON). */
export function treeHeadSignatureInput(head: TreeHead): Buffer {
  if (head.rootHash.length !== HASH_SIZE) throw new RangeError(`sha256_root_hash must be ${HASH_SIZE} bytes, got ${head.rootHash.length}`);
  return new TlsWriter().u8(V1).u8(SignatureType.tree_hash).u64(head.timestamp).u64(head.treeSize).bytes(head.rootHash).finish();
}

export function encodeDigitallySigned(ds: DigitallySigned): Buffer {
  return new TlsWriter().u8(ds.hashAlgorithm).u8(ds.signatureAlgorithm).vector(ds.signature, 2, 'signature').finish();
}

function readDigitallySigned(r: TlsReader): DigitallySigned {
  const hashAlgorithm = r.u8('hash algorithm');
  const signatureAlgorithm = r.u8('signature algorithm');
  return { hashAlgorithm, signatureAlgorithm, signature: r.vector(2, 'signature') };
}

export function decodeDigitallySigned(bytes: Uint8Array): DigitallySigned {
  const r = new TlsReader(bytes, 'DigitallySigned');
  const ds = readDigitallySigned(r);
  r.end();
  return ds;
}

/** §3.2 serialized SCT (as embedded in certificates or sent in the TLS extension). */
export function encodeSct(sct: SignedCertificateTimestamp): Buffer {
  if (sct.logId.length !== HASH_SIZE) throw new RangeError(`LogID must be ${HASH_SIZE} bytes, got ${sct.logId.length}`);
  const w = new TlsWriter().u8(sct.version).bytes(sct.logId).u64(sct.timestamp).vector(sct.extensions, 2, 'CtExtensions');
  return Buffer.concat([w.finish(), encodeDigitallySigned(sct.signature)]);
}

export function decodeSct(bytes: Uint8Array): SignedCertificateTimestamp {
  const r = new TlsReader(bytes, 'SignedCertificateTimestamp');
  const version = r.u8('sct_version');
  if (version !== V1) throw new CtLogError('DECODE', `SignedCertificateTimestamp: unsupported version ${version}`);
  const logId = r.bytes(HASH_SIZE, 'LogID');
  const timestamp = r.u64('timestamp');
  const extensions = r.vector(2, 'CtExtensions');
  const signature = readDigitallySigned(r);
  r.end();
  return { version: V1, logId, timestamp, extensions, signature };
}

/** §3.3 SignedCertificateTimestampList: the value of the SCT X.509 / TLS / OCSP extension. */
export function encodeSctList(scts: readonly SignedCertificateTimestamp[]): Buffer {
  if (scts.length === 0) throw new RangeError('an SCT list needs at least one SCT');
  const inner = new TlsWriter();
  for (const s of scts) inner.vector(encodeSct(s), 2, 'SerializedSCT', 1);
  return new TlsWriter().vector(inner.finish(), 2, 'sct_list', 1).finish();
}

export function decodeSctList(bytes: Uint8Array): SignedCertificateTimestamp[] {
  const outer = new TlsReader(bytes, 'SignedCertificateTimestampList');
  const list = outer.vector(2, 'sct_list', 1);
  outer.end();
  const r = new TlsReader(list, 'sct_list');
  const out: SignedCertificateTimestamp[] = [];
  while (r.remaining > 0) out.push(decodeSct(r.vector(2, 'SerializedSCT', 1)));
  return out;
}

/** get-entries extra_data for an x509_entry: certificate_chain ASN.1Cert<0..2^24-1>. */
export function encodeCertificateChain(chain: readonly Uint8Array[]): Buffer {
  const inner = new TlsWriter();
  for (const c of chain) inner.vector(c, 3, 'ASN.1Cert', 1);
  return new TlsWriter().vector(inner.finish(), 3, 'certificate_chain').finish();
}

export function decodeCertificateChain(bytes: Uint8Array): Uint8Array[] {
  const outer = new TlsReader(bytes, 'certificate_chain');
  const list = outer.vector(3, 'certificate_chain');
  outer.end();
  const r = new TlsReader(list, 'certificate_chain');
  const out: Uint8Array[] = [];
  while (r.remaining > 0) out.push(r.vector(3, 'ASN.1Cert', 1));
  return out;
}

/** get-entries extra_data for a precert_entry: PrecertChainEntry. */
export function encodePrecertChainEntry(preCertificate: Uint8Array, chain: readonly Uint8Array[]): Buffer {
  return Buffer.concat([new TlsWriter().vector(preCertificate, 3, 'pre_certificate', 1).finish(), encodeCertificateChain(chain)]);
}

export function decodePrecertChainEntry(bytes: Uint8Array): { preCertificate: Uint8Array; chain: Uint8Array[] } {
  const r = new TlsReader(bytes, 'PrecertChainEntry');
  const preCertificate = r.vector(3, 'pre_certificate', 1);
  const rest = r.bytes(r.remaining, 'precertificate_chain');
  return { preCertificate, chain: decodeCertificateChain(rest) };
}
