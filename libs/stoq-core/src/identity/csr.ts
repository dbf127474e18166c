// PKCS#10 certificate signing requests (RFC 2986) for hybrid identities, and the FALCON proof
// of possession that travels beside them.
//
// A STOQ CSR is an ordinary PKCS#10 request that openssl reads (`openssl req -inform DER -text`):
//   subject            CN = <instance>, O = STOQ
//   subjectPKInfo      the ECDSA P-256 TLS key; the request is signed with it (ecdsa-with-SHA256),
//                      which proves possession of the TLS key
//   extensionRequest   subjectAltName (the standard STOQ names + IPv6 addresses) and
//                      subjectAltPublicKeyInfo (2.5.29.72) holding the FALCON-1024 public key
// Possession of the FALCON key is proved by a FALCON signature over
// `FALCON_CSR_CONTEXT || csrDer` (falconCsrMessage), sent with the request. The context string
// keeps a CSR signature from being usable as any other FALCON signature of the same key.

import { createPublicKey, createSign, type KeyObject } from 'node:crypto';
import { ecdsaVerify } from '../ecdsa';
import { FALCON_PUBLIC_KEY_LENGTH } from '../falcon';
import { TAG_BIT_STRING, TAG_INTEGER, TAG_SEQUENCE, children, encodeOid, encodeTlv, readSingle, type Tlv } from './der';
import { algorithmIdentifier, bitString, encodeName, extension, falconSpki, subjectAltName } from './hybrid-cert';
import { MESH_ZONE, STOQ_ORGANIZATION, standardDnsNames } from './naming';
import { readSubjectAltName } from './parse';
import { readSpki, type SpkiKey } from './spki';
import { algorithmOid, bitStringBytes, extensionList, nameAttributes, oidOf, type ExtensionField } from './x509-read';
import {
  OID_EC_PUBLIC_KEY,
  OID_ECDSA_WITH_SHA256,
  OID_FALCON_1024,
  OID_SUBJECT_ALT_NAME,
  OID_SUBJECT_ALT_PUBLIC_KEY_INFO,
} from './oids';

/** PKCS#9 extensionRequest attribute. */
export const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
/** Largest CSR accepted anywhere (a STOQ CSR with a FALCON-1024 key is about 2.3 KiB). */
export const MAX_CSR_LENGTH = 16 * 1024;
/** Prefix of the message a FALCON key signs to prove possession for a CSR. */
export const FALCON_CSR_CONTEXT = 'STOQ-CSR-FALCON-v1\0';

export type CsrErrorCode = 'CSR_MALFORMED' | 'CSR_TOO_LARGE' | 'CSR_SIGNATURE' | 'CSR_UNSUPPORTED_KEY' | 'CSR_NAMES' | 'CSR_FALCON';

/** A CSR that cannot be accepted; `reason` is a stable code, the message says what was wrong. */
export class CsrError extends Error {
  constructor(
    readonly reason: CsrErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CsrError';
  }
}

export interface CreateCsrOptions {
  service: string;
  instance: string;
  /** The TLS private key (ECDSA P-256); the request is signed with it. */
  tlsKey: KeyObject;
  falconPublicKey: Uint8Array;
  /** IPv6 addresses for iPAddress SANs. */
  ipAddresses?: string[];
}

/** Build and sign a STOQ CSR; returns its DER. */
export function createCsr(options: CreateCsrOptions): Uint8Array {
  const spki = new Uint8Array(createPublicKey(options.tlsKey).export({ type: 'spki', format: 'der' }));
  const san = subjectAltName(standardDnsNames(options.service, options.instance), options.ipAddresses ?? []);
  const extensions = encodeTlv(
    TAG_SEQUENCE,
    ...(san ? [extension(OID_SUBJECT_ALT_NAME, false, san)] : []),
    extension(OID_SUBJECT_ALT_PUBLIC_KEY_INFO, false, falconSpki(options.falconPublicKey)),
  );
  // Attribute ::= SEQUENCE { type OID, values SET OF ANY }
  const attribute = encodeTlv(TAG_SEQUENCE, encodeOid(OID_EXTENSION_REQUEST), encodeTlv(0x31, extensions));
  const info = encodeTlv(
    TAG_SEQUENCE,
    encodeTlv(0x02, Uint8Array.of(0)),
    encodeName({ commonName: options.instance, organization: STOQ_ORGANIZATION }),
    spki,
    encodeTlv(0xa0, attribute),
  );
  const signer = createSign('sha256');
  signer.update(info);
  const signature = new Uint8Array(signer.sign({ key: options.tlsKey, dsaEncoding: 'der' }));
  return encodeTlv(TAG_SEQUENCE, info, algorithmIdentifier(OID_ECDSA_WITH_SHA256), bitString(signature));
}

/** The bytes a FALCON key signs to prove possession for `csrDer`. */
export function falconCsrMessage(csrDer: Uint8Array): Uint8Array {
  const prefix = Buffer.from(FALCON_CSR_CONTEXT, 'latin1');
  const out = new Uint8Array(prefix.length + csrDer.length);
  out.set(prefix, 0);
  out.set(csrDer, prefix.length);
  return out;
}

export interface ParsedCsr {
  readonly der: Uint8Array;
  readonly commonName: string;
  readonly organization: string | undefined;
  /** The TLS public key (SubjectPublicKeyInfo DER), and as a KeyObject (decoded on first use). */
  readonly spkiDer: Uint8Array;
  readonly publicKey: KeyObject;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly falconPublicKey: Uint8Array;
  /** The service named by the `<service>.hypermesh` dNSName. */
  readonly service: string;
}

/** OpenSSL's names of the curves, as Node's KeyObject reports them (and error messages have named them). */
const CURVE_NAMES = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', Ed25519: 'ed25519' } as const;

/**
 * Parse a STOQ CSR and verify its self-signature (proof of possession of the TLS key). Throws
 * CsrError naming what is wrong. Does not decide whether the names are allowed: the CA does.
 */
export function parseCsr(der: Uint8Array): ParsedCsr {
  if (!(der instanceof Uint8Array) || der.length === 0) throw new CsrError('CSR_MALFORMED', 'the CSR is empty: send a DER PKCS#10 CertificationRequest');
  if (der.length > MAX_CSR_LENGTH) throw new CsrError('CSR_TOO_LARGE', `the CSR is ${der.length} bytes; at most ${MAX_CSR_LENGTH} are accepted`);
  // CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature BIT STRING }
  // CertificationRequestInfo ::= SEQUENCE { version INTEGER (0), subject Name, subjectPKInfo, attributes [0] }
  let infoDer: Uint8Array;
  let fields: { version: Tlv; subject: Tlv; spki: Tlv; attributes: Tlv | undefined; signatureAlgorithm: string; signature: Uint8Array };
  try {
    const outer = readSingle(der, 'CertificationRequest');
    const top = children(der, outer, 'CertificationRequest');
    if (outer.tag !== TAG_SEQUENCE || top.length !== 3 || top[0]!.tag !== TAG_SEQUENCE) throw new Error('not SEQUENCE { info, algorithm, signature }');
    infoDer = der.subarray(top[0]!.start, top[0]!.end);
    const [version, subject, spki, attributes, ...rest] = children(der, top[0]!, 'CertificationRequestInfo');
    if (!version || version.tag !== TAG_INTEGER || !subject || subject.tag !== TAG_SEQUENCE || !spki || spki.tag !== TAG_SEQUENCE) {
      throw new Error('CertificationRequestInfo is not SEQUENCE { version, subject, subjectPKInfo, attributes }');
    }
    if (rest.length > 0 || (attributes && attributes.tag !== 0xa0)) throw new Error('CertificationRequestInfo has fields after attributes [0]');
    const signatureAlgorithm = algorithmOid(der, top[1]!, 'signatureAlgorithm');
    if (top[2]!.tag !== TAG_BIT_STRING || top[2]!.end === top[2]!.contentStart || der[top[2]!.contentStart] !== 0) throw new Error('signature is not a BIT STRING');
    fields = { version, subject, spki, attributes, signatureAlgorithm, signature: der.subarray(top[2]!.contentStart + 1, top[2]!.end) };
  } catch (err) {
    throw new CsrError('CSR_MALFORMED', `the CSR is not a DER PKCS#10 CertificationRequest: ${(err as Error).message}`);
  }
  if (fields.version.end - fields.version.contentStart !== 1 || der[fields.version.contentStart] !== 0) {
    throw new CsrError('CSR_MALFORMED', 'CSR version is not v1 (0)');
  }

  const spkiDer = der.slice(fields.spki.start, fields.spki.end);
  const keyAlgorithm = malformedAsCsr(() => algorithmOid(der, children(der, fields.spki, 'subjectPKInfo')[0] ?? fields.spki, 'subjectPKInfo algorithm'));
  if (keyAlgorithm !== OID_EC_PUBLIC_KEY) {
    throw new CsrError('CSR_UNSUPPORTED_KEY', `the CSR's key is ${keyAlgorithm}; STOQ TLS keys are ECDSA P-256`);
  }
  let key: SpkiKey;
  try {
    key = readSpki(spkiDer, "the CSR's subjectPKInfo");
  } catch (err) {
    throw new CsrError('CSR_UNSUPPORTED_KEY', `the CSR's public key does not parse: ${(err as Error).message}`);
  }
  if (key.kind !== 'P-256') {
    throw new CsrError('CSR_UNSUPPORTED_KEY', `the CSR's key is on curve ${CURVE_NAMES[key.kind]} (${key.kind}); STOQ TLS keys are ECDSA P-256`);
  }
  if (fields.signatureAlgorithm !== OID_ECDSA_WITH_SHA256) {
    throw new CsrError('CSR_SIGNATURE', `the CSR is signed with ${fields.signatureAlgorithm}; expected ecdsa-with-SHA256`);
  }
  // readSpki has checked the point is on P-256; aws-lc checks the signature with it.
  if (!ecdsaVerify('P-256', key.key, infoDer, fields.signature)) {
    throw new CsrError('CSR_SIGNATURE', 'the CSR signature does not verify with its own public key (the request was altered, or signed with another key)');
  }

  const { commonName, organization } = malformedAsCsr(() =>
    nameAttributes(der, fields.subject, (type) => {
      throw new CsrError('CSR_NAMES', `the CSR subject carries attribute ${type}; only CN and O are allowed`);
    }),
  );
  if (commonName === undefined) throw new CsrError('CSR_NAMES', 'the CSR subject has no commonName (the instance name)');

  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  let falconPublicKey: Uint8Array | undefined;
  for (const ext of requestedExtensions(der, fields.attributes)) {
    const value = ext.value;
    try {
      if (ext.oid === OID_SUBJECT_ALT_NAME) {
        readSubjectAltName(value, dnsNames, ipAddresses, (tag) => {
          throw new CsrError('CSR_NAMES', `the CSR requests a subjectAltName of kind [${tag & 0x1f}]; only dNSName and iPAddress are allowed`);
        });
        const v4 = ipAddresses.find((ip) => !ip.includes(':'));
        if (v4 !== undefined) throw new CsrError('CSR_NAMES', `the CSR requests iPAddress ${v4}; STOQ is IPv6 only`);
      }
      else if (ext.oid === OID_SUBJECT_ALT_PUBLIC_KEY_INFO) {
        const seq = readSingle(value, 'subjectAltPublicKeyInfo');
        const parts = seq.tag === TAG_SEQUENCE ? children(value, seq, 'subjectAltPublicKeyInfo') : [];
        if (parts.length !== 2) throw new Error('subjectAltPublicKeyInfo is not SEQUENCE { algorithm, subjectPublicKey }');
        const algorithm = algorithmOid(value, parts[0]!, 'subjectAltPublicKeyInfo algorithm');
        if (algorithm !== OID_FALCON_1024) throw new CsrError('CSR_FALCON', `subjectAltPublicKeyInfo names ${algorithm}, expected FALCON-1024 (${OID_FALCON_1024})`);
        falconPublicKey = bitStringBytes(value, parts[1]!, 'subjectAltPublicKeyInfo subjectPublicKey');
      } else {
        throw new CsrError('CSR_NAMES', `the CSR requests extension ${ext.oid}; only subjectAltName and subjectAltPublicKeyInfo may be requested`);
      }
    } catch (err) {
      if (err instanceof CsrError) throw err;
      throw new CsrError('CSR_MALFORMED', `requested extension ${ext.oid} is malformed: ${(err as Error).message}`);
    }
  }
  if (!falconPublicKey) throw new CsrError('CSR_FALCON', 'the CSR requests no subjectAltPublicKeyInfo (2.5.29.72) extension: it carries no FALCON-1024 key');
  if (falconPublicKey.length !== FALCON_PUBLIC_KEY_LENGTH) {
    throw new CsrError('CSR_FALCON', `the CSR's FALCON key is ${falconPublicKey.length} bytes; a FALCON-1024 public key is ${FALCON_PUBLIC_KEY_LENGTH}`);
  }
  const suffix = `.${MESH_ZONE}`;
  const services = [...new Set(dnsNames.filter((n) => n.endsWith(suffix) && n.split('.').length === 2).map((n) => n.slice(0, -suffix.length)))];
  if (services.length !== 1) {
    throw new CsrError('CSR_NAMES', services.length === 0 ? `the CSR names no service (no dNSName <service>${suffix})` : `the CSR names several services: ${services.join(', ')}`);
  }
  let publicKey: KeyObject | undefined;
  return {
    der,
    commonName,
    organization,
    spkiDer,
    get publicKey(): KeyObject {
      return (publicKey ??= createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' }));
    },
    dnsNames,
    ipAddresses,
    falconPublicKey,
    service: services[0]!,
  };
}

/** Runs a field reader, reporting malformed DER as CSR_MALFORMED (CsrErrors pass through). */
function malformedAsCsr<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof CsrError) throw err;
    throw new CsrError('CSR_MALFORMED', `the CSR is not a DER PKCS#10 CertificationRequest: ${(err as Error).message}`);
  }
}

/**
 * The extensions of the extensionRequest attribute, the only attribute a STOQ CSR may carry.
 * Attribute ::= SEQUENCE { type OID, values SET OF ANY }
 */
function requestedExtensions(der: Uint8Array, attributes: Tlv | undefined): ExtensionField[] {
  const out: ExtensionField[] = [];
  for (const attr of attributes ? malformedAsCsr(() => children(der, attributes, 'attributes')) : []) {
    const [type, values, ...rest] = malformedAsCsr(() => (attr.tag === TAG_SEQUENCE ? children(der, attr, 'attribute') : []));
    if (!type || !values || values.tag !== 0x31 || rest.length > 0) throw new CsrError('CSR_MALFORMED', 'a CSR attribute is not SEQUENCE { type, values SET }');
    const oid = malformedAsCsr(() => oidOf(der, type, 'attribute type'));
    if (oid !== OID_EXTENSION_REQUEST) throw new CsrError('CSR_NAMES', `the CSR carries attribute ${oid}; only extensionRequest is allowed`);
    for (const v of malformedAsCsr(() => children(der, values, 'extensionRequest'))) {
      try {
        out.push(...extensionList(der, v));
      } catch (err) {
        throw new CsrError('CSR_MALFORMED', `extensionRequest does not parse: ${(err as Error).message}`);
      }
    }
  }
  const seen = new Set<string>();
  for (const e of out) {
    if (seen.has(e.oid)) throw new CsrError('CSR_MALFORMED', `the CSR requests extension ${e.oid} twice`);
    seen.add(e.oid);
  }
  return out;
}
