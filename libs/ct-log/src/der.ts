// Taking a certificate apart for RFC 6962: the TBSCertificate, the SubjectPublicKeyInfo bytes
// (issuer_key_hash) and the extensions (CT poison removal), as exact byte ranges. The DER
// reading itself is @stoq/der's (definite lengths only, every length checked against the
// enclosing element); this module maps its errors to CtLogError('DECODE').
import * as stoqDer from '@stoq/der';
import { TAG_BOOLEAN, TAG_EXTENSIONS, TAG_OID, TAG_SEQUENCE, TAG_VERSION, encodeTlv, oidContent, type Tlv } from '@stoq/der';
import { CtLogError } from './errors';

/** @stoq/der's reader, with its DerError reported as CtLogError('DECODE') naming `what`. */
function readTlv(buf: Uint8Array, pos: number, limit: number, what: string): Tlv {
  try {
    return stoqDer.readTlv(buf, pos, limit);
  } catch (err) {
    throw decodeError(what, err);
  }
}

function children(buf: Uint8Array, parent: Tlv, what: string): Tlv[] {
  try {
    return stoqDer.children(buf, parent);
  } catch (err) {
    throw decodeError(what, err);
  }
}

function decodeError(what: string, err: unknown): unknown {
  return stoqDer.isDerError(err) ? new CtLogError('DECODE', `${what}: malformed DER: ${err.message}`) : err;
}

/** Content octets of OID 1.3.6.1.4.1.11129.2.4.3, the RFC 6962 §3.1 precertificate poison extension. */
export const CT_POISON_OID = Buffer.from(oidContent('1.3.6.1.4.1.11129.2.4.3'));
/** OID 1.3.6.1.4.1.11129.2.4.4, the Precertificate Signing Certificate EKU. */
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
  if (cert.tag !== TAG_SEQUENCE || cert.end !== der.length) throw new CtLogError('DECODE', `${what}: not a single DER SEQUENCE`);
  const parts = children(der, cert, what);
  if (parts.length !== 3 || parts[0]!.tag !== TAG_SEQUENCE) throw new CtLogError('DECODE', `${what}: Certificate must have tbsCertificate, signatureAlgorithm, signature`);
  const root = parts[0]!;
  const fields = children(der, root, what);
  const extensions = fields.find((f) => f.tag === TAG_EXTENSIONS);
  return { root, fields, extensions };
}

function extensionList(der: Uint8Array, ext: Tlv, what: string): { tlv: Tlv; oid: Uint8Array; critical: boolean }[] {
  const seq = readTlv(der, ext.contentStart, ext.end, what);
  if (seq.tag !== TAG_SEQUENCE || seq.end !== ext.end) throw new CtLogError('DECODE', `${what}: malformed Extensions`);
  return children(der, seq, what).map((e) => {
    const parts = children(der, e, what);
    const oid = parts[0];
    if (e.tag !== TAG_SEQUENCE || !oid || oid.tag !== TAG_OID) throw new CtLogError('DECODE', `${what}: malformed Extension at byte ${e.start}`);
    const crit = parts.length === 3 && parts[1]!.tag === TAG_BOOLEAN && der[parts[1]!.contentStart] !== 0;
    return { tlv: e, oid: der.subarray(oid.contentStart, oid.end), critical: crit };
  });
}

/** Takes an X.509 certificate apart (structure only; signature checks are node:crypto's job). */
export function parseCertificate(der: Uint8Array, what = 'certificate'): ParsedCertificate {
  const { root, fields, extensions } = tbsParts(der, what);
  // TBSCertificate: [0] version?, serial, signature, issuer, validity, subject, spki, ...
  const offset = fields[0]?.tag === TAG_VERSION ? 1 : 0;
  const spki = fields[offset + 5];
  if (!spki || spki.tag !== TAG_SEQUENCE) throw new CtLogError('DECODE', `${what}: missing subjectPublicKeyInfo`);
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
  const body: Uint8Array[] = [];
  for (const f of fields) {
    if (f !== extensions) {
      body.push(der.subarray(f.start, f.end));
    } else if (kept.length > 0) {
      body.push(encodeTlv(TAG_EXTENSIONS, encodeTlv(TAG_SEQUENCE, ...kept.map((e) => der.subarray(e.tlv.start, e.tlv.end)))));
    }
  }
  const out = encodeTlv(TAG_SEQUENCE, ...body);
  return Buffer.from(out.buffer, out.byteOffset, out.length);
}
