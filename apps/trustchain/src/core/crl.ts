// X.509 v2 CRL (RFC 5280 §5) of TrustChain's revocations, DER, signed ecdsa-with-SHA384 by the
// root. Pure: the signature is made by the function passed in. `openssl crl -inform DER -text`
// reads the result; the CRL number is the revocation list version, so the two always agree.
import { TAG_INTEGER, TAG_OCTET_STRING, TAG_SEQUENCE, encodeOid, encodeTlv } from '@stoq/der';

const OID_ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3';
const OID_CRL_NUMBER = '2.5.29.20';
const OID_CRL_REASON = '2.5.29.21';
const OID_AUTHORITY_KEY_IDENTIFIER = '2.5.29.35';
const TAG_ENUMERATED = 0x0a;
const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;

export interface CrlEntry {
  /** Serial, hex. */
  readonly serial: string;
  readonly revokedAt: number;
  /** RFC 5280 CRLReason (0 = unspecified: no reasonCode extension, as §5.3.1 recommends). */
  readonly reason: number;
}

export interface CrlInput {
  /** DER Name of the issuer (the root's subject). */
  readonly issuerDer: Uint8Array;
  readonly authorityKeyIdentifier?: Uint8Array;
  readonly crlNumber: number;
  readonly thisUpdate: number;
  readonly nextUpdate: number;
  readonly entries: readonly CrlEntry[];
}

export function encodeCrl(input: CrlInput, sign: (tbs: Uint8Array) => Uint8Array): Uint8Array {
  const alg = encodeTlv(TAG_SEQUENCE, encodeOid(OID_ECDSA_WITH_SHA384));
  const revoked = input.entries.map((e) => {
    const parts = [encodeTlv(TAG_INTEGER, serialBytes(e.serial)), encodeTime(e.revokedAt)];
    if (e.reason !== 0) {
      parts.push(encodeTlv(TAG_SEQUENCE, extension(OID_CRL_REASON, encodeTlv(TAG_ENUMERATED, Uint8Array.of(e.reason)))));
    }
    return encodeTlv(TAG_SEQUENCE, ...parts);
  });
  const extensions = [extension(OID_CRL_NUMBER, encodeTlv(TAG_INTEGER, integerBytes(input.crlNumber)))];
  if (input.authorityKeyIdentifier) {
    extensions.unshift(extension(OID_AUTHORITY_KEY_IDENTIFIER, encodeTlv(TAG_SEQUENCE, encodeTlv(0x80, input.authorityKeyIdentifier))));
  }
  const tbs = encodeTlv(
    TAG_SEQUENCE,
    encodeTlv(TAG_INTEGER, Uint8Array.of(1)), // v2
    alg,
    input.issuerDer,
    encodeTime(input.thisUpdate),
    encodeTime(input.nextUpdate),
    ...(revoked.length > 0 ? [encodeTlv(TAG_SEQUENCE, ...revoked)] : []),
    encodeTlv(0xa0, encodeTlv(TAG_SEQUENCE, ...extensions)),
  );
  const signature = sign(tbs);
  return encodeTlv(TAG_SEQUENCE, tbs, alg, encodeTlv(0x03, Uint8Array.of(0), signature));
}

function extension(oid: string, value: Uint8Array): Uint8Array {
  return encodeTlv(TAG_SEQUENCE, encodeOid(oid), encodeTlv(TAG_OCTET_STRING, value));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 §5.1.2.4). */
function encodeTime(ms: number): Uint8Array {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  if (d.getUTCFullYear() < 2050) return encodeTlv(TAG_UTC_TIME, Buffer.from(`${digits.slice(2)}Z`, 'ascii'));
  return encodeTlv(TAG_GENERALIZED_TIME, Buffer.from(`${digits}Z`, 'ascii'));
}

function serialBytes(hex: string): Uint8Array {
  if (!/^[0-9a-f]+$/.test(hex) || hex.length % 2 !== 0) throw new TypeError(`serial ${hex} is not even-length lowercase hex`);
  return Buffer.from(hex, 'hex');
}

function integerBytes(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`CRL number ${n} must be a non-negative integer`);
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return Uint8Array.from(bytes);
}
