// Issue X.509 v3 certificates that carry a second, post-quantum key and signature (ITU-T X.509
// (10/2019) §9.8 alternative-key extensions), while staying ordinary certificates for classical
// verifiers: the three alternative-key extensions are non-critical, so openssl, Go crypto/x509
// and rustls/webpki ignore them and check the classical (ECDSA / Ed25519) chain only.
//
// Order of signing (as X.509 §7.2.2 requires): the FALCON signature is made first, over the
// PreTBSCertificate (see pre-tbs.ts); it is then added as the last extension, and the classical
// signature is made over the complete TBSCertificate, so it also covers the FALCON key and
// signature.

import { createHash, createPublicKey, randomBytes, sign as classicalSign, type KeyObject } from 'node:crypto';
import { FALCON_PUBLIC_KEY_LENGTH, FALCON_SECRET_KEY_LENGTH, nativeFalcon, type FalconScheme } from '../falcon';
import {
  TAG_BIT_STRING,
  TAG_BOOLEAN,
  TAG_INTEGER,
  TAG_OCTET_STRING,
  TAG_SEQUENCE,
  bytesEqual,
  children,
  encodeOid,
  encodeTlv,
  readSingle,
} from './der';
import { StoqError } from '../errors';
import { ipv6ToBytes } from './naming';
import {
  OID_ALT_SIGNATURE_ALGORITHM,
  OID_ALT_SIGNATURE_VALUE,
  OID_AUTHORITY_KEY_IDENTIFIER,
  OID_BASIC_CONSTRAINTS,
  OID_COMMON_NAME,
  OID_ECDSA_WITH_SHA256,
  OID_ECDSA_WITH_SHA384,
  OID_ED25519,
  OID_EXT_KEY_USAGE,
  OID_FALCON_1024,
  OID_KEY_USAGE,
  OID_KP_CLIENT_AUTH,
  OID_KP_SERVER_AUTH,
  OID_ORGANIZATION,
  OID_SUBJECT_ALT_NAME,
  OID_SUBJECT_ALT_PUBLIC_KEY_INFO,
  OID_SUBJECT_KEY_IDENTIFIER,
} from './oids';
import { parseHybridCertificate } from './parse';
import { preTbsCertificate } from './pre-tbs';
import { readSpki } from './spki';
import { derToPem } from './pem';
import { ecdsaSign } from '../ecdsa';

export interface SubjectName {
  commonName: string;
  organization?: string;
}

export interface CertificateIssuer {
  /** DER of the issuing CA certificate, or null to self-sign (the subject keys are the issuer's). */
  certificate: Uint8Array | null;
  /** The issuer's classical private key (ECDSA P-256/P-384 or Ed25519). */
  privateKey: KeyObject;
  falconSecretKey: Uint8Array;
  falconPublicKey: Uint8Array;
}

export type KeyUsageName = 'digitalSignature' | 'keyCertSign' | 'cRLSign';
export type ExtendedKeyUsageName = 'serverAuth' | 'clientAuth';

export interface IssueCertificateOptions {
  subject: SubjectName;
  /** The subject's classical public key: EC P-256, EC P-384 or Ed25519 as a KeyObject, or an EC key as SPKI DER. */
  subjectPublicKey: KeyObject | SpkiPublicKey;
  /** The subject's FALCON-1024 public key, placed in subjectAltPublicKeyInfo. */
  subjectFalconPublicKey: Uint8Array;
  issuer: CertificateIssuer;
  /** Positive serial number bytes; default 16 random bytes with the high bit cleared. */
  serialNumber?: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  /** basicConstraints pathLenConstraint (CA certificates only). */
  pathLen?: number;
  dnsNames?: string[];
  /** IPv6 addresses for iPAddress SANs. */
  ipAddresses?: string[];
  /** Default: digitalSignature for leaves; keyCertSign + cRLSign for CAs. */
  keyUsage?: KeyUsageName[];
  /** Default: serverAuth + clientAuth for leaves; none (unrestricted) for CAs. */
  extendedKeyUsage?: ExtendedKeyUsageName[];
  /** Further non-standard extensions (e.g. an earned certificate's ConsensusApproval), placed before the FALCON ones. */
  extraExtensions?: readonly CertificateExtension[];
  falcon?: FalconScheme;
}

/**
 * An ECDSA P-256 or P-384 public key as SubjectPublicKeyInfo DER (structure, curve and point
 * checked by readSpki), placed in the certificate as it is: for a CSR's key, whose proof of
 * possession was checked with these bytes (no KeyObject round trip, which costs OpenSSL 3.0
 * about 0.5 ms per certificate). Ed25519 keys come as KeyObjects.
 */
export interface SpkiPublicKey {
  readonly spkiDer: Uint8Array;
}

export interface CertificateExtension {
  oid: string;
  critical: boolean;
  /** The extnValue contents (DER of the extension's own type). */
  value: Uint8Array;
}

export interface IssuedCertificate {
  der: Uint8Array;
  pem: string;
}

const KEY_USAGE_BITS: Record<KeyUsageName, number> = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 };
const EKU_OIDS: Record<ExtendedKeyUsageName, string> = { serverAuth: OID_KP_SERVER_AUTH, clientAuth: OID_KP_CLIENT_AUTH };
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Issue a hybrid (classical + FALCON-1024) X.509 v3 certificate. */
export function issueCertificate(options: IssueCertificateOptions): IssuedCertificate {
  const falcon = options.falcon ?? nativeFalcon;
  const { issuer, subject } = options;
  checkFalconKey('subject FALCON public key', options.subjectFalconPublicKey, FALCON_PUBLIC_KEY_LENGTH);
  checkFalconKey('issuer FALCON public key', issuer.falconPublicKey, FALCON_PUBLIC_KEY_LENGTH);
  checkFalconKey('issuer FALCON secret key', issuer.falconSecretKey, FALCON_SECRET_KEY_LENGTH);
  if (!(options.notAfter.getTime() > options.notBefore.getTime())) {
    throw new StoqError('TLS_CONFIG', `notAfter (${options.notAfter.toISOString()}) must be after notBefore (${options.notBefore.toISOString()})`);
  }
  if (options.pathLen !== undefined && (!options.isCa || !Number.isInteger(options.pathLen) || options.pathLen < 0 || options.pathLen > 127)) {
    throw new StoqError('TLS_CONFIG', `pathLen ${options.pathLen} is only allowed on a CA certificate, as an integer 0..127`);
  }

  const subjectSpki = spkiOf(options.subjectPublicKey, 'subject');
  const subjectKeyId = keyIdentifier(subjectSpki);
  const subjectName = encodeName(subject);
  const signer = classicalSigner(issuer.privateKey);
  const issuerPublicSpki = issuerSpkiOf(issuer.privateKey);

  let issuerName: Uint8Array;
  let authorityKeyId: Uint8Array;
  if (issuer.certificate === null) {
    if (!bytesEqual(issuerPublicSpki, subjectSpki)) {
      throw new StoqError('TLS_CONFIG', 'self-signed certificate: the issuer private key does not match the subject public key');
    }
    if (!bytesEqual(issuer.falconPublicKey, options.subjectFalconPublicKey)) {
      throw new StoqError('TLS_CONFIG', 'self-signed certificate: the issuer FALCON key is not the subject FALCON key');
    }
    issuerName = subjectName;
    authorityKeyId = subjectKeyId;
  } else {
    const ca = parseHybridCertificate(issuer.certificate);
    if (!ca.isCa) throw new StoqError('TLS_CONFIG', `issuer certificate "${ca.commonName}" is not a CA`);
    if (!bytesEqual(ca.spkiDer, issuerPublicSpki)) {
      throw new StoqError('TLS_CONFIG', `the issuer private key does not match the public key of issuer certificate "${ca.commonName}"`);
    }
    if (!bytesEqual(ca.falconPublicKey, issuer.falconPublicKey)) {
      throw new StoqError('TLS_CONFIG', `the issuer FALCON key does not match the subjectAltPublicKeyInfo of issuer certificate "${ca.commonName}"`);
    }
    issuerName = ca.subjectDer;
    authorityKeyId = ca.subjectKeyIdentifier ?? keyIdentifier(ca.spkiDer);
  }

  const keyUsage = options.keyUsage ?? (options.isCa ? ['keyCertSign', 'cRLSign'] : ['digitalSignature']);
  const extKeyUsage = options.extendedKeyUsage ?? (options.isCa ? [] : ['serverAuth', 'clientAuth']);
  const extensions: Uint8Array[] = [
    extension(OID_BASIC_CONSTRAINTS, true, basicConstraints(options.isCa, options.pathLen)),
    extension(OID_KEY_USAGE, true, keyUsageBits(keyUsage)),
  ];
  if (extKeyUsage.length > 0) {
    extensions.push(extension(OID_EXT_KEY_USAGE, false, encodeTlv(TAG_SEQUENCE, ...extKeyUsage.map((k) => encodeOid(EKU_OIDS[k])))));
  }
  extensions.push(extension(OID_SUBJECT_KEY_IDENTIFIER, false, encodeTlv(TAG_OCTET_STRING, subjectKeyId)));
  // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
  extensions.push(extension(OID_AUTHORITY_KEY_IDENTIFIER, false, encodeTlv(TAG_SEQUENCE, encodeTlv(0x80, authorityKeyId))));
  const san = subjectAltName(options.dnsNames ?? [], options.ipAddresses ?? []);
  if (san) extensions.push(extension(OID_SUBJECT_ALT_NAME, false, san));
  for (const extra of options.extraExtensions ?? []) extensions.push(extension(extra.oid, extra.critical, extra.value));
  extensions.push(extension(OID_SUBJECT_ALT_PUBLIC_KEY_INFO, false, falconSpki(options.subjectFalconPublicKey)));
  extensions.push(extension(OID_ALT_SIGNATURE_ALGORITHM, false, algorithmIdentifier(OID_FALCON_1024)));

  const serial = options.serialNumber ?? randomSerial();
  checkSerial(serial);
  const validity = encodeTlv(TAG_SEQUENCE, encodeTime(options.notBefore), encodeTime(options.notAfter));
  const tbsWith = (exts: Uint8Array[]): Uint8Array =>
    encodeTlv(
      TAG_SEQUENCE,
      encodeTlv(0xa0, encodeTlv(TAG_INTEGER, Uint8Array.of(2))), // version v3
      encodeTlv(TAG_INTEGER, serial),
      algorithmIdentifier(signer.algorithmOid),
      issuerName,
      validity,
      subjectName,
      subjectSpki,
      encodeTlv(0xa3, encodeTlv(TAG_SEQUENCE, ...exts)),
    );

  // 1. FALCON over the PreTBSCertificate (no `signature` field, no altSignatureValue yet).
  const preTbs = preTbsCertificate(tbsWith(extensions));
  const altSignature = falcon.sign(issuer.falconSecretKey, preTbs);
  // Verified before it is issued (0.06 ms): a mismatched key pair, or a signature spoilt by a
  // fault while signing, must not become a certificate nobody can verify.
  if (!falcon.verify(issuer.falconPublicKey, preTbs, altSignature)) {
    throw new StoqError('TLS_CONFIG', 'the issuer FALCON secret key does not match its FALCON public key (the signature just made does not verify; or signing failed)');
  }
  // 2. altSignatureValue last, then the classical signature over the full TBSCertificate.
  extensions.push(extension(OID_ALT_SIGNATURE_VALUE, false, bitString(altSignature)));
  const tbs = tbsWith(extensions);
  const signature = signer.sign(tbs);
  const der = encodeTlv(TAG_SEQUENCE, tbs, algorithmIdentifier(signer.algorithmOid), bitString(signature));
  return { der, pem: derToPem(der, 'CERTIFICATE') };
}

const issuerSpkis = new WeakMap<KeyObject, Uint8Array>();

/** The issuer's public SPKI, derived once per private KeyObject (a CA issues many certificates). */
function issuerSpkiOf(privateKey: KeyObject): Uint8Array {
  let spki = issuerSpkis.get(privateKey);
  if (!spki) {
    spki = spkiOf(createPublicKey(privateKey), 'issuer');
    issuerSpkis.set(privateKey, spki);
  }
  return spki;
}

/** SHA-1 of the subjectPublicKey BIT STRING value (RFC 5280 §4.2.1.2, method 1). */
export function keyIdentifier(spkiDer: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha1').update(spkiPublicKeyBits(spkiDer)).digest());
}

function spkiPublicKeyBits(spkiDer: Uint8Array): Uint8Array {
  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
  const outer = readSingle(spkiDer, 'SubjectPublicKeyInfo');
  const fields = children(spkiDer, outer, 'SubjectPublicKeyInfo');
  const bits = fields[1];
  if (!bits || bits.tag !== TAG_BIT_STRING || bits.end - bits.contentStart < 1) {
    throw new StoqError('PEER_REJECTED', 'SubjectPublicKeyInfo has no subjectPublicKey BIT STRING');
  }
  return spkiDer.subarray(bits.contentStart + 1, bits.end);
}

interface ClassicalSigner {
  algorithmOid: string;
  sign(data: Uint8Array): Uint8Array;
}

function classicalSigner(key: KeyObject): ClassicalSigner {
  if (key.type !== 'private') throw new StoqError('TLS_CONFIG', `issuer key must be a private key, got a ${key.type} key`);
  if (key.asymmetricKeyType === 'ed25519') {
    return { algorithmOid: OID_ED25519, sign: (data) => new Uint8Array(classicalSign(null, data, key)) };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const hash = curve === 'prime256v1' ? 'sha256' : curve === 'secp384r1' ? 'sha384' : undefined;
    if (hash) {
      const algorithmOid = hash === 'sha256' ? OID_ECDSA_WITH_SHA256 : OID_ECDSA_WITH_SHA384;
      return { algorithmOid, sign: (data) => ecdsaSign(key, data) };
    }
    throw new StoqError('TLS_CONFIG', `unsupported issuer EC curve ${curve}: use P-256 or P-384`);
  }
  throw new StoqError('TLS_CONFIG', `unsupported issuer key type ${key.asymmetricKeyType}: use ECDSA P-256/P-384 or Ed25519`);
}

function spkiOf(key: KeyObject | SpkiPublicKey, who: string): Uint8Array {
  if ('spkiDer' in key) {
    let kind: string;
    try {
      kind = readSpki(key.spkiDer, `${who} public key`).kind;
    } catch (err) {
      throw new StoqError('TLS_CONFIG', (err as Error).message, { cause: err });
    }
    // An Ed25519 key's bytes are not checked here to be a point: pass such a key as a KeyObject.
    if (kind === 'Ed25519') throw new StoqError('TLS_CONFIG', `${who} public key: give an Ed25519 key as a KeyObject, not as SPKI DER`);
    return Uint8Array.from(key.spkiDer);
  }
  if (key.type !== 'public') throw new StoqError('TLS_CONFIG', `${who} public key must be a public key, got a ${key.type} key`);
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const ok = type === 'ed25519' || (type === 'ec' && (curve === 'prime256v1' || curve === 'secp384r1'));
  if (!ok) throw new StoqError('TLS_CONFIG', `unsupported ${who} key ${type}${curve ? ` (${curve})` : ''}: use ECDSA P-256/P-384 or Ed25519`);
  return new Uint8Array(key.export({ type: 'spki', format: 'der' }));
}

function checkFalconKey(what: string, key: Uint8Array, length: number): void {
  if (!(key instanceof Uint8Array) || key.length !== length) {
    throw new StoqError('TLS_CONFIG', `${what} must be ${length} bytes (FALCON-1024), got ${key instanceof Uint8Array ? key.length : typeof key}`);
  }
}

function randomSerial(): Uint8Array {
  const serial = new Uint8Array(randomBytes(16));
  serial[0] = serial[0]! & 0x7f; // positive
  if (serial[0] === 0) serial[0] = 0x01; // and minimally encoded (no leading zero octet)
  return serial;
}

function checkSerial(serial: Uint8Array): void {
  const minimal = serial.length === 1 || !(serial[0] === 0 && serial[1]! < 0x80);
  if (serial.length < 1 || serial.length > 20 || (serial[0]! & 0x80) !== 0 || !minimal || serial.every((b) => b === 0)) {
    throw new StoqError('TLS_CONFIG', 'serialNumber must be a positive, minimally encoded integer of at most 20 octets');
  }
}

export function encodeName(subject: SubjectName): Uint8Array {
  // Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue), one attribute
  // per RDN, values as UTF8String (RFC 5280 §4.1.2.4).
  const rdn = (type: string, text: string): Uint8Array => {
    if (text.length === 0 || text.length > 64) {
      throw new StoqError('TLS_CONFIG', `subject attribute ${type} must be 1-64 characters, got ${text.length}`);
    }
    return encodeTlv(0x31, encodeTlv(TAG_SEQUENCE, encodeOid(type), encodeTlv(0x0c, Buffer.from(text, 'utf8'))));
  };
  const rdns: Uint8Array[] = [];
  if (subject.organization !== undefined) rdns.push(rdn(OID_ORGANIZATION, subject.organization));
  rdns.push(rdn(OID_COMMON_NAME, subject.commonName));
  return encodeTlv(TAG_SEQUENCE, ...rdns);
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, in whole seconds, Zulu. */
export function encodeTime(date: Date): Uint8Array {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new StoqError('TLS_CONFIG', `certificate time ${iso} is outside 1950..9999`);
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z';
  return year < 2050 ? encodeTlv(0x17, Buffer.from(digits.slice(2), 'latin1')) : encodeTlv(0x18, Buffer.from(digits, 'latin1'));
}

export function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  // Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
  const parts = [encodeOid(oid)];
  if (critical) parts.push(encodeTlv(TAG_BOOLEAN, Uint8Array.of(0xff)));
  parts.push(encodeTlv(TAG_OCTET_STRING, value));
  return encodeTlv(TAG_SEQUENCE, ...parts);
}

export function algorithmIdentifier(oid: string): Uint8Array {
  // Parameters absent, as RFC 5758 / RFC 8410 require for ECDSA and EdDSA (and OQS for Falcon).
  return encodeTlv(TAG_SEQUENCE, encodeOid(oid));
}

export function bitString(bytes: Uint8Array): Uint8Array {
  return encodeTlv(TAG_BIT_STRING, Uint8Array.of(0), bytes);
}

function basicConstraints(isCa: boolean, pathLen: number | undefined): Uint8Array {
  const parts: Uint8Array[] = [];
  if (isCa) parts.push(encodeTlv(TAG_BOOLEAN, Uint8Array.of(0xff)));
  if (isCa && pathLen !== undefined) parts.push(encodeTlv(TAG_INTEGER, Uint8Array.of(pathLen)));
  return encodeTlv(TAG_SEQUENCE, ...parts);
}

/** DER named-bit list: trailing zero bits are dropped and counted as unused. */
function keyUsageBits(usages: KeyUsageName[]): Uint8Array {
  if (usages.length === 0) throw new StoqError('TLS_CONFIG', 'keyUsage must name at least one usage');
  const highest = Math.max(...usages.map((u) => KEY_USAGE_BITS[u]));
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1);
  for (const u of usages) {
    const bit = KEY_USAGE_BITS[u];
    bytes[bit >> 3] = bytes[bit >> 3]! | (0x80 >> (bit & 7));
  }
  const unused = 7 - (highest & 7);
  return encodeTlv(TAG_BIT_STRING, Uint8Array.of(unused), bytes);
}

export function subjectAltName(dnsNames: string[], ipAddresses: string[]): Uint8Array | undefined {
  const names: Uint8Array[] = [];
  for (const dns of new Set(dnsNames)) {
    if (!DNS_NAME.test(dns)) throw new StoqError('TLS_CONFIG', `invalid DNS name ${JSON.stringify(dns)} for a subjectAltName (lowercase LDH labels)`);
    names.push(encodeTlv(0x82, Buffer.from(dns, 'ascii'))); // dNSName [2] IMPLICIT IA5String
  }
  const seen = new Set<string>();
  for (const ip of ipAddresses) {
    const bytes = ipv6ToBytes(ip);
    const key = Buffer.from(bytes).toString('hex');
    if (seen.has(key)) continue;
    seen.add(key);
    names.push(encodeTlv(0x87, bytes)); // iPAddress [7] IMPLICIT OCTET STRING
  }
  return names.length > 0 ? encodeTlv(TAG_SEQUENCE, ...names) : undefined;
}

export function falconSpki(publicKey: Uint8Array): Uint8Array {
  return encodeTlv(TAG_SEQUENCE, algorithmIdentifier(OID_FALCON_1024), bitString(publicKey));
}
