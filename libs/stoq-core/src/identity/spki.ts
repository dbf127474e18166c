// SubjectPublicKeyInfo read by byte offset: which classical key it holds and its raw key bits.
// The CA issues from a CSR's SPKI bytes as they came (after checking the proof of possession
// with them), not through a KeyObject: OpenSSL 3.0 spends about 0.3 ms decoding an SPKI into a
// key object and 0.2 ms encoding it back, per certificate.
import { TAG_OID, TAG_SEQUENCE, children, readSingle } from './der';
import { StoqError } from '../errors';
import { bitStringBytes, oidOf } from './x509-read';
import { OID_EC_PUBLIC_KEY, OID_ED25519 } from './oids';

const OID_P256 = '1.2.840.10045.3.1.7';
const OID_P384 = '1.3.132.0.34';

/** The classical key types a STOQ certificate may carry. */
export type SpkiKeyKind = 'P-256' | 'P-384' | 'Ed25519';

export interface SpkiKey {
  readonly kind: SpkiKeyKind;
  /** The subjectPublicKey bits: an uncompressed EC point (0x04 ‖ X ‖ Y) or the 32-byte Ed25519 key. */
  readonly key: Uint8Array;
}

const POINT_LENGTH: Record<SpkiKeyKind, number> = { 'P-256': 65, 'P-384': 97, Ed25519: 32 };

/** Short Weierstrass curves y² = x³ − 3x + b over F_p. */
const CURVES = {
  'P-256': {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  },
  'P-384': {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  },
} as const;

const toBigInt = (bytes: Uint8Array): bigint => BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`);

/** Whether an uncompressed point (0x04 ‖ X ‖ Y) lies on the curve, with coordinates below p. */
function onCurve(kind: 'P-256' | 'P-384', point: Uint8Array): boolean {
  const { p, b } = CURVES[kind];
  const size = (point.length - 1) / 2;
  const x = toBigInt(point.subarray(1, 1 + size));
  const y = toBigInt(point.subarray(1 + size));
  if (x >= p || y >= p) return false;
  return (y * y - (x * x * x - 3n * x + b)) % p === 0n;
}

/**
 * The key kind and bits of an SPKI (DER). Throws StoqError PEER_REJECTED for a malformed SPKI, a
 * key of another type or curve, or an EC point that is not uncompressed, of its curve's size and
 * on the curve (about 10 µs). An Ed25519 key's 32 bytes are not checked to decode to a point.
 */
export function readSpki(spkiDer: Uint8Array, what: string): SpkiKey {
  const outer = readSingle(spkiDer, what);
  const [algorithm, bits, ...rest] = outer.tag === TAG_SEQUENCE ? children(spkiDer, outer, what) : [];
  if (!algorithm || !bits || rest.length > 0 || algorithm.tag !== TAG_SEQUENCE) {
    throw new StoqError('PEER_REJECTED', `${what} is not SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey }`);
  }
  const [oid, params, ...more] = children(spkiDer, algorithm, `${what} algorithm`);
  if (!oid || more.length > 0) throw new StoqError('PEER_REJECTED', `${what} algorithm is not an AlgorithmIdentifier`);
  const keyOid = oidOf(spkiDer, oid, `${what} algorithm`);
  let kind: SpkiKeyKind;
  if (keyOid === OID_ED25519 && params === undefined) kind = 'Ed25519';
  else if (keyOid === OID_EC_PUBLIC_KEY && params?.tag === TAG_OID) {
    const curve = oidOf(spkiDer, params, `${what} namedCurve`);
    if (curve === OID_P256) kind = 'P-256';
    else if (curve === OID_P384) kind = 'P-384';
    else throw new StoqError('PEER_REJECTED', `${what} is an EC key on curve ${curve}; STOQ uses P-256 or P-384`);
  } else throw new StoqError('PEER_REJECTED', `${what} is a ${keyOid} key; STOQ uses ECDSA P-256/P-384 or Ed25519`);
  const key = bitStringBytes(spkiDer, bits, `${what} subjectPublicKey`);
  if (key.length !== POINT_LENGTH[kind] || (kind !== 'Ed25519' && key[0] !== 0x04)) {
    throw new StoqError('PEER_REJECTED', `${what} holds a ${key.length}-byte ${kind} key; expected ${POINT_LENGTH[kind]} bytes${kind !== 'Ed25519' ? ' (an uncompressed point)' : ''}`);
  }
  if (kind !== 'Ed25519' && !onCurve(kind, key)) throw new StoqError('PEER_REJECTED', `${what} holds a point that is not on ${kind}`);
  return { kind, key };
}
