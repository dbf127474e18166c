// Just enough DER (X.690) to take a certificate apart for RFC 6962: the TBSCertificate, the
// SubjectPublicKeyInfo bytes (issuer_key_hash) and the extensions (CT poison removal).
// Definite lengths only; every length is checked against the enclosing element.
import { CtLogError } from './errors';

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the element. */
  end: number;
}

/** Reads one TLV at `pos` that must end at or before `limit`. Only single-byte tags are used here. */
export function readTlv(buf: Uint8Array, pos: number, limit: number, what: string): Tlv {
  if (pos + 2 > limit) throw new CtLogError('DECODE', `${what}: truncated DER header at byte ${pos}`);
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw new CtLogError('DECODE', `${what}: multi-byte DER tag at byte ${pos} not supported`);
  let len = buf[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new CtLogError('DECODE', `${what}: indefinite length at byte ${pos} is not DER`);
    if (n > 4) throw new CtLogError('DECODE', `${what}: length of ${n} bytes at byte ${pos} is too large`);
    if (p + n > limit) throw new CtLogError('DECODE', `${what}: truncated DER length at byte ${pos}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
    if (len < 0x80 || (n > 1 && buf[pos + 2] === 0)) throw new CtLogError('DECODE', `${what}: non-minimal DER length at byte ${pos}`);
  }
  if (p + len > limit) throw new CtLogError('DECODE', `${what}: element at byte ${pos} (length ${len}) overruns its container`);
  return { tag, start: pos, contentStart: p, end: p + len };
}

/** The TLVs directly inside a constructed element. */
export function children(buf: Uint8Array, parent: Tlv, what: string): Tlv[] {
  const out: Tlv[] = [];
  let p = parent.contentStart;
  while (p < parent.end) {
    const t = readTlv(buf, p, parent.end, what);
    out.push(t);
    p = t.end;
  }
  return out;
}

function encodeLength(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  const bytes: number[] = [];
  for (let v = len; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function encodeTlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

const SEQUENCE = 0x30;
const OID = 0x06;
const BOOLEAN = 0x01;
const EXTENSIONS_TAG = 0xa3; // [3] EXPLICIT in TBSCertificate

/** DER of OID 1.3.6.1.4.1.11129.2.4.3, the RFC 6962 §3.1 precertificate poison extension. */
export const CT_POISON_OID = Buffer.from('2b06010401d679020403', 'hex');
/** DER of OID 1.3.6.1.4.1.11129.2.4.4, the Precertificate Signing Certificate EKU. */
export const CT_PRECERT_SIGNING_EKU = '1.3.6.1.4.1.11129.2.4.4';

export interface ParsedCertificate {
  /** DER of the TBSCertificate. */
  tbs: Uint8Array;
  /** DER of the subjectPublicKeyInfo inside the TBSCertificate. */
  spki: Uint8Array;
  /** Whether the certificate carries the CT poison extension (and whether it is critical). */
  poison: 'absent' | 'critical' | 'non-critical';
}

interface TbsParts {
  root: Tlv;
  fields: Tlv[];
  extensions: Tlv | undefined;
}

function tbsParts(der: Uint8Array, what: string): TbsParts {
  const cert = readTlv(der, 0, der.length, what);
  if (cert.tag !== SEQUENCE || cert.end !== der.length) throw new CtLogError('DECODE', `${what}: not a single DER SEQUENCE`);
  const parts = children(der, cert, what);
  if (parts.length !== 3 || parts[0]!.tag !== SEQUENCE) throw new CtLogError('DECODE', `${what}: Certificate must have tbsCertificate, signatureAlgorithm, signature`);
  const root = parts[0]!;
  const fields = children(der, root, what);
  const extensions = fields.find((f) => f.tag === EXTENSIONS_TAG);
  return { root, fields, extensions };
}

function extensionList(der: Uint8Array, ext: Tlv, what: string): { tlv: Tlv; oid: Uint8Array; critical: boolean }[] {
  const seq = readTlv(der, ext.contentStart, ext.end, what);
  if (seq.tag !== SEQUENCE || seq.end !== ext.end) throw new CtLogError('DECODE', `${what}: malformed Extensions`);
  return children(der, seq, what).map((e) => {
    const parts = children(der, e, what);
    const oid = parts[0];
    if (e.tag !== SEQUENCE || !oid || oid.tag !== OID) throw new CtLogError('DECODE', `${what}: malformed Extension at byte ${e.start}`);
    const crit = parts.length === 3 && parts[1]!.tag === BOOLEAN && der[parts[1]!.contentStart] !== 0;
    return { tlv: e, oid: der.subarray(oid.contentStart, oid.end), critical: crit };
  });
}

/** Takes an X.509 certificate apart (structure only; signature checks are node:crypto's job). */
export function parseCertificate(der: Uint8Array, what = 'certificate'): ParsedCertificate {
  const { root, fields, extensions } = tbsParts(der, what);
  // TBSCertificate: [0] version?, serial, signature, issuer, validity, subject, spki, ...
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  const spki = fields[offset + 5];
  if (!spki || spki.tag !== SEQUENCE) throw new CtLogError('DECODE', `${what}: missing subjectPublicKeyInfo`);
  let poison: ParsedCertificate['poison'] = 'absent';
  if (extensions) {
    for (const e of extensionList(der, extensions, what)) {
      if (Buffer.from(e.oid).equals(CT_POISON_OID)) poison = e.critical ? 'critical' : 'non-critical';
    }
  }
  return { tbs: der.subarray(root.start, root.end), spki: der.subarray(spki.start, spki.end), poison };
}

/**
 * RFC 6962 §3.2: the precertificate's TBSCertificate with the poison extension removed
 * (the Extensions field is dropped entirely if nothing else is left in it).
 */
export function tbsWithoutPoison(der: Uint8Array, what = 'precertificate'): Buffer {
  const { fields, extensions } = tbsParts(der, what);
  if (!extensions) throw new CtLogError('INVALID_ARGUMENT', `${what}: has no extensions, so no CT poison extension`);
  const kept = extensionList(der, extensions, what).filter((e) => !Buffer.from(e.oid).equals(CT_POISON_OID));
  const body: Buffer[] = [];
  for (const f of fields) {
    if (f !== extensions) {
      body.push(Buffer.from(der.subarray(f.start, f.end)));
    } else if (kept.length > 0) {
      const seq = encodeTlv(SEQUENCE, Buffer.concat(kept.map((e) => Buffer.from(der.subarray(e.tlv.start, e.tlv.end)))));
      body.push(encodeTlv(EXTENSIONS_TAG, seq));
    }
  }
  return encodeTlv(SEQUENCE, Buffer.concat(body));
}
