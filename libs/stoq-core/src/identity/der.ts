// DER for the identity code: @stoq/der reads and writes the elements (by byte offset, so the
// PreTBSCertificate is cut out of the signed TBSCertificate bytes, never re-encoded from a
// parsed model); this boundary adds the identity code's size limit and reports malformed input
// as StoqError PEER_REJECTED naming what was being read.
import * as der from '@stoq/der';
import type { Tlv } from '@stoq/der';
import { StoqError } from '../errors';

export {
  encodeLength,
  encodeTlv,
  oidContent,
  encodeOid,
  TAG_BOOLEAN,
  TAG_INTEGER,
  TAG_BIT_STRING,
  TAG_OCTET_STRING,
  TAG_OID,
  TAG_SEQUENCE,
  TAG_VERSION,
  TAG_EXTENSIONS,
  type Tlv,
} from '@stoq/der';

/** Largest DER object we accept anywhere in the identity code (a certificate is a few KiB). */
export const MAX_DER_LENGTH = 64 * 1024;

const LIMITS: der.ReadOptions = { maxLength: MAX_DER_LENGTH };

function malformed(what: string, err: unknown): unknown {
  return der.isDerError(err) ? new StoqError('PEER_REJECTED', `malformed DER in ${what}: ${err.message}`, { cause: err, details: { offset: err.offset } }) : err;
}

/** Read the TLV starting at `offset`, which must end at or before `limit`. */
export function readTlv(bytes: Uint8Array, offset: number, limit: number, what: string): Tlv {
  try {
    return der.readTlv(bytes, offset, limit, LIMITS);
  } catch (err) {
    throw malformed(what, err);
  }
}

/** The TLVs directly inside a constructed element, in order. */
export function children(bytes: Uint8Array, parent: Tlv, what: string): Tlv[] {
  try {
    return der.children(bytes, parent, LIMITS);
  } catch (err) {
    throw malformed(what, err);
  }
}

/** Read exactly one TLV spanning the whole input. */
export function readSingle(bytes: Uint8Array, what: string): Tlv {
  try {
    return der.readSingle(bytes, LIMITS);
  } catch (err) {
    throw malformed(what, err);
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}
