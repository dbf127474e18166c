// SubjectPublicKeyInfo read by byte offset: which classical key it holds and its raw key bits.
// The CA issues from a CSR's SPKI bytes as they came (after checking the proof of possession
// with them), not through a KeyObject: OpenSSL 3.0 spends about 0.3 ms decoding an SPKI into a
// key object and 0.2 ms encoding it back, per certificate.
import { TAG_OID, children, readSingle } from './der';
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

/**
 * The key kind and bits of an SPKI (DER). Throws StoqError PEER_REJECTED for a malformed SPKI, a
 * key of another type or curve, or an EC point that is not uncompressed and of its curve's size.
 * The point is not checked to lie on the curve: a signature check with it does that.
 */
export function readSpki(spkiDer: Uint8Array, what: string): SpkiKey {
  const outer = readSingle(spkiDer, what);
  const [algorithm, bits, ...rest] = children(spkiDer, outer, what);
  if (!algorithm || !bits || rest.length > 0) throw new StoqError('PEER_REJECTED', `${what} is not SEQUENCE { algorithm, subjectPublicKey }`);
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
  return { kind, key };
}
