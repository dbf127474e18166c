// Builds real DER X.509 v3 certificates (ECDSA P-256 / SHA-256) for tests: roots, intermediates,
// leaves and precertificates, signed with node:crypto so X509Certificate and openssl accept them.
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const b: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) b.unshift(v & 0xff);
  return Buffer.from([0x80 | b.length, ...b]);
}
const tlv = (tag: number, ...content: Buffer[]): Buffer => {
  const c = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(c.length), c]);
};
const seq = (...c: Buffer[]): Buffer => tlv(0x30, ...c);
const set = (...c: Buffer[]): Buffer => tlv(0x31, ...c);
const int = (n: number): Buffer => {
  const hex = n.toString(16).padStart(2, '0');
  let b = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
};
function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [parts[0]! * 40 + parts[1]!];
  for (const p of parts.slice(2)) {
    const bytes = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift((v & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return tlv(0x06, Buffer.from(out));
}
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
const utcTime = (d: Date): Buffer => tlv(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'));
const bitString = (b: Buffer): Buffer => tlv(0x03, Buffer.from([0]), b);
const name = (cn: string): Buffer => seq(set(seq(oid('2.5.4.3'), utf8(cn))));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

export const POISON_OID = '1.3.6.1.4.1.11129.2.4.3';

export interface Extension {
  oid: string;
  critical: boolean;
  value: Buffer;
}

export interface TestCert {
  der: Buffer;
  key: KeyObject;
  name: string;
}

export interface CertOptions {
  subject: string;
  issuer?: TestCert; // self-signed when absent
  ca?: boolean;
  serial?: number;
  precert?: boolean;
  extraExtensions?: Extension[];
  key?: KeyObject;
  /** Start of validity (default: an hour ago); fixes the TBS bytes for comparisons. */
  notBefore?: Date;
}

let serialCounter = 1;

export function makeCert(o: CertOptions): TestCert {
  const key = o.key ?? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const exts: Extension[] = [];
  if (o.ca) exts.push({ oid: '2.5.29.19', critical: true, value: seq(tlv(0x01, Buffer.from([0xff]))) });
  exts.push({ oid: '2.5.29.17', critical: false, value: seq(tlv(0x82, Buffer.from(`${o.subject.toLowerCase().replace(/[^a-z0-9]/g, '')}.hypermesh`))) });
  if (o.precert) exts.push({ oid: POISON_OID, critical: true, value: Buffer.from([0x05, 0x00]) });
  exts.push(...(o.extraExtensions ?? []));
  const extDer = exts.map((e) => seq(oid(e.oid), ...(e.critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, e.value)));
  const now = (o.notBefore ?? new Date(Date.now() - 3600_000)).getTime() + 3600_000;
  const tbs = seq(
    tlv(0xa0, int(2)),
    int(o.serial ?? serialCounter++),
    ECDSA_SHA256,
    name(o.issuer?.name ?? o.subject),
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 86400_000))),
    name(o.subject),
    spki,
    tlv(0xa3, seq(...extDer)),
  );
  const signer = o.issuer?.key ?? key;
  const signature = sign('sha256', tbs, { key: signer, dsaEncoding: 'der' });
  return { der: seq(tbs, ECDSA_SHA256, bitString(signature)), key, name: o.subject };
}

/** A root, an intermediate, and a function issuing leaves / precerts under the intermediate. */
export function makePki(label = 'Test'): {
  root: TestCert;
  intermediate: TestCert;
  leaf: (cn: string, precert?: boolean) => TestCert;
} {
  const root = makeCert({ subject: `${label} Root CA`, ca: true });
  const intermediate = makeCert({ subject: `${label} Intermediate CA`, issuer: root, ca: true });
  return { root, intermediate, leaf: (cn, precert = false) => makeCert({ subject: cn, issuer: intermediate, precert }) };
}
