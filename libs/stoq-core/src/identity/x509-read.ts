// Field readers for X.509 certificates and PKCS#10 requests, by byte offset over @stoq/der
// (no ASN.1 model: these run on every handshake, issuance and enrollment, where a schema parser
// cost a millisecond per certificate). Malformed input is a StoqError PEER_REJECTED naming what
// was being read; callers with their own error vocabulary (csr.ts) map it at their boundary.
import { TAG_BIT_STRING, TAG_BOOLEAN, TAG_INTEGER, TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE, children, readSingle, type Tlv } from './der';
import { StoqError } from '../errors';
import { OID_COMMON_NAME, OID_ORGANIZATION } from './oids';

function rejected(message: string): StoqError {
  return new StoqError('PEER_REJECTED', message);
}

export interface ExtensionField {
  readonly oid: string;
  readonly critical: boolean;
  /** The extnValue contents (a view into the input). */
  readonly value: Uint8Array;
}

/**
 * Extensions ::= SEQUENCE OF Extension, where
 * Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
 */
export function extensionList(der: Uint8Array, extensions: Tlv): ExtensionField[] {
  if (extensions.tag !== TAG_SEQUENCE) throw rejected('Extensions is not a SEQUENCE');
  return children(der, extensions, 'extensions').map((ext) => {
    const f = ext.tag === TAG_SEQUENCE ? children(der, ext, 'extension') : [];
    const critical = f.length === 3 && f[1]!.tag === TAG_BOOLEAN && f[1]!.end - f[1]!.contentStart === 1;
    const valueTlv = f[f.length - 1];
    if (!(f.length === 2 || critical) || f[0]!.tag !== TAG_OID || valueTlv?.tag !== TAG_OCTET_STRING) {
      throw rejected('an extension is not SEQUENCE { extnID, critical, extnValue OCTET STRING }');
    }
    return { oid: oidOf(der, f[0]!, 'extnID'), critical: critical && der[f[1]!.contentStart] !== 0, value: der.subarray(valueTlv.contentStart, valueTlv.end) };
  });
}

export function basicConstraints(value: Uint8Array): { isCa: boolean; pathLen: number | undefined } {
  const seq = readSingle(value, 'basicConstraints');
  if (seq.tag !== TAG_SEQUENCE) throw rejected('basicConstraints is not a SEQUENCE');
  let isCa = false;
  let pathLen: number | undefined;
  for (const t of children(value, seq, 'basicConstraints')) {
    if (t.tag === TAG_BOOLEAN && t.end - t.contentStart === 1 && pathLen === undefined) isCa = value[t.contentStart] !== 0;
    else if (t.tag === TAG_INTEGER && t.end - t.contentStart >= 1 && t.end - t.contentStart <= 4 && (value[t.contentStart]! & 0x80) === 0) {
      pathLen = 0;
      for (let i = t.contentStart; i < t.end; i++) pathLen = pathLen * 256 + value[i]!;
    } else throw rejected('basicConstraints is not SEQUENCE { cA BOOLEAN, pathLenConstraint INTEGER }');
  }
  return { isCa, pathLen };
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }: the OID. */
export function algorithmOid(der: Uint8Array, tlv: Tlv, what: string): string {
  const f = tlv.tag === TAG_SEQUENCE ? children(der, tlv, what) : [];
  if (f.length < 1 || f.length > 2 || f[0]!.tag !== TAG_OID) throw rejected(`${what} is not an AlgorithmIdentifier`);
  return oidOf(der, f[0]!, what);
}

/** The bytes of a BIT STRING with no unused bits (keys and signatures). */
export function bitStringBytes(der: Uint8Array, tlv: Tlv, what: string): Uint8Array {
  if (tlv.tag !== TAG_BIT_STRING || tlv.end === tlv.contentStart) throw rejected(`${what} is not a BIT STRING`);
  if (der[tlv.contentStart] !== 0) throw rejected(`${what} has unused bits`);
  return der.slice(tlv.contentStart + 1, tlv.end);
}

/** Largest OID arc read: 128 bits, room for UUID OIDs ("2.25.<uuid as an integer>", X.667). */
const MAX_OID_ARC = (1n << 128n) - 1n;

/** Dotted form of an OBJECT IDENTIFIER (minimal base-128 arcs, as DER requires). */
export function oidOf(der: Uint8Array, tlv: Tlv, what: string): string {
  if (tlv.tag !== TAG_OID || tlv.end === tlv.contentStart) throw rejected(`${what} is not an OBJECT IDENTIFIER`);
  const arcs: Array<number | bigint> = [];
  // Arcs are numbers while they fit (every common OID); a larger one continues as a bigint.
  let value: number | bigint = 0;
  let fresh = true;
  for (let i = tlv.contentStart; i < tlv.end; i++) {
    const b = der[i]!;
    if (fresh && b === 0x80) throw rejected(`${what}: OBJECT IDENTIFIER arc is not minimally encoded`);
    if (typeof value === 'number' && value * 128 + 127 > Number.MAX_SAFE_INTEGER) value = BigInt(value);
    value = typeof value === 'number' ? value * 128 + (b & 0x7f) : value * 128n + BigInt(b & 0x7f);
    if (typeof value === 'bigint' && value > MAX_OID_ARC) throw rejected(`${what}: OBJECT IDENTIFIER arc is too large`);
    fresh = (b & 0x80) === 0;
    if (fresh) {
      if (arcs.length === 0) {
        if (typeof value === 'bigint') arcs.push(2, value - 80n);
        else arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      } else arcs.push(value);
      value = 0;
    }
  }
  if (!fresh) throw rejected(`${what}: OBJECT IDENTIFIER is truncated`);
  return arcs.join('.');
}

/** UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ), as RFC 5280 §4.1.2.5 requires. */
export function readTime(der: Uint8Array, tlv: Tlv, what: string): Date {
  const text = Buffer.from(der.buffer, der.byteOffset + tlv.contentStart, tlv.end - tlv.contentStart).toString('latin1');
  const m = tlv.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : tlv.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : null;
  if (!m) throw rejected(`${what} is not a UTCTime or GeneralizedTime in Zulu seconds`);
  let year = Number(m[1]);
  if (tlv.tag === 0x17) year += year >= 50 ? 1900 : 2000;
  const [mo, d, h, mi, s] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, s));
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) throw rejected(`${what} (${text}) is not a valid time`);
  return date;
}

/** The commonName and organization of a Name (SEQUENCE OF SET OF AttributeTypeAndValue). */
export function nameAttributes(der: Uint8Array, name: Tlv, onOther?: (type: string) => void): { commonName?: string; organization?: string } {
  const out: { commonName?: string; organization?: string } = {};
  for (const rdn of children(der, name, 'Name')) {
    if (rdn.tag !== 0x31) throw rejected('Name holds something other than a SET (RelativeDistinguishedName)');
    for (const atv of children(der, rdn, 'RelativeDistinguishedName')) {
      const f = atv.tag === TAG_SEQUENCE ? children(der, atv, 'AttributeTypeAndValue') : [];
      if (f.length !== 2) throw rejected('AttributeTypeAndValue is not SEQUENCE { type, value }');
      const type = oidOf(der, f[0]!, 'attribute type');
      if (type === OID_COMMON_NAME) out.commonName = directoryString(der, f[1]!);
      else if (type === OID_ORGANIZATION) out.organization = directoryString(der, f[1]!);
      else onOther?.(type);
    }
  }
  return out;
}

export function directoryString(der: Uint8Array, tlv: Tlv): string {
  const bytes = Buffer.from(der.buffer, der.byteOffset + tlv.contentStart, tlv.end - tlv.contentStart);
  switch (tlv.tag) {
    case 0x0c: // UTF8String
      return bytes.toString('utf8');
    case 0x13: // PrintableString
    case 0x14: // TeletexString
    case 0x16: // IA5String
    case 0x1a: // VisibleString
      return bytes.toString('latin1');
    case 0x1e: // BMPString (UCS-2, big-endian)
      if (bytes.length % 2 !== 0) throw rejected(`a BMPString name attribute has an odd length (${bytes.length} bytes)`);
      return Buffer.from(bytes).swap16().toString('utf16le');
    default:
      throw rejected(`a name attribute has an unsupported string type (tag 0x${tlv.tag.toString(16)})`);
  }
}
