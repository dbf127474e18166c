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

import { createPublicKey, createSign, createVerify, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Attributes, CertificationRequest } from '@peculiar/asn1-csr';
import { Extension, Extensions, Name, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { FALCON_PUBLIC_KEY_LENGTH } from '../falcon';
import { TAG_SEQUENCE, children, encodeOid, encodeTlv, readSingle } from './der';
import { algorithmIdentifier, bitString, encodeName, extension, falconSpki, subjectAltName } from './hybrid-cert';
import { MESH_ZONE, STOQ_ORGANIZATION, standardDnsNames } from './naming';
import { readSubjectAltName } from './parse';
import {
  OID_COMMON_NAME,
  OID_EC_PUBLIC_KEY,
  OID_ECDSA_WITH_SHA256,
  OID_FALCON_1024,
  OID_ORGANIZATION,
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
  /** The TLS public key (SubjectPublicKeyInfo DER) and as a KeyObject. */
  readonly spkiDer: Uint8Array;
  readonly publicKey: KeyObject;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly falconPublicKey: Uint8Array;
  /** The service named by the `<service>.hypermesh` dNSName. */
  readonly service: string;
}

/**
 * Parse a STOQ CSR and verify its self-signature (proof of possession of the TLS key). Throws
 * CsrError naming what is wrong. Does not decide whether the names are allowed: the CA does.
 */
export function parseCsr(der: Uint8Array): ParsedCsr {
  if (!(der instanceof Uint8Array) || der.length === 0) throw new CsrError('CSR_MALFORMED', 'the CSR is empty: send a DER PKCS#10 CertificationRequest');
  if (der.length > MAX_CSR_LENGTH) throw new CsrError('CSR_TOO_LARGE', `the CSR is ${der.length} bytes; at most ${MAX_CSR_LENGTH} are accepted`);
  let infoDer: Uint8Array;
  let req: CertificationRequest;
  try {
    const outer = readSingle(der, 'CertificationRequest');
    const top = children(der, outer, 'CertificationRequest');
    if (outer.tag !== TAG_SEQUENCE || top.length !== 3 || top[0]!.tag !== TAG_SEQUENCE) throw new Error('not SEQUENCE { info, algorithm, signature }');
    infoDer = der.subarray(top[0]!.start, top[0]!.end);
    req = AsnConvert.parse(der, CertificationRequest);
  } catch (err) {
    throw new CsrError('CSR_MALFORMED', `the CSR is not a DER PKCS#10 CertificationRequest: ${(err as Error).message}`);
  }
  const info = req.certificationRequestInfo;
  if (info.version !== 0) throw new CsrError('CSR_MALFORMED', `CSR version ${info.version} is not v1 (0)`);

  const spki = info.subjectPKInfo;
  const spkiDer = new Uint8Array(AsnConvert.serialize(spki));
  if (spki.algorithm.algorithm !== OID_EC_PUBLIC_KEY) {
    throw new CsrError('CSR_UNSUPPORTED_KEY', `the CSR's key is ${spki.algorithm.algorithm}; STOQ TLS keys are ECDSA P-256`);
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
  } catch (err) {
    throw new CsrError('CSR_UNSUPPORTED_KEY', `the CSR's public key does not parse: ${(err as Error).message}`);
  }
  if (publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new CsrError('CSR_UNSUPPORTED_KEY', `the CSR's key is on curve ${publicKey.asymmetricKeyDetails?.namedCurve ?? '?'}; STOQ TLS keys are ECDSA P-256`);
  }
  if (req.signatureAlgorithm.algorithm !== OID_ECDSA_WITH_SHA256) {
    throw new CsrError('CSR_SIGNATURE', `the CSR is signed with ${req.signatureAlgorithm.algorithm}; expected ecdsa-with-SHA256`);
  }
  const verifier = createVerify('sha256');
  verifier.update(infoDer);
  if (!verifier.verify({ key: publicKey, dsaEncoding: 'der' }, Buffer.from(req.signature))) {
    throw new CsrError('CSR_SIGNATURE', 'the CSR signature does not verify with its own public key (the request was altered, or signed with another key)');
  }

  const { commonName, organization } = subjectNames(info.subject);
  if (commonName === undefined) throw new CsrError('CSR_NAMES', 'the CSR subject has no commonName (the instance name)');

  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  let falconPublicKey: Uint8Array | undefined;
  for (const ext of requestedExtensions(info.attributes)) {
    const value = new Uint8Array(ext.extnValue.buffer);
    try {
      if (ext.extnID === OID_SUBJECT_ALT_NAME) {
        readSubjectAltName(value, dnsNames, ipAddresses, (tag) => {
          throw new CsrError('CSR_NAMES', `the CSR requests a subjectAltName of kind [${tag & 0x1f}]; only dNSName and iPAddress are allowed`);
        });
        const v4 = ipAddresses.find((ip) => !ip.includes(':'));
        if (v4 !== undefined) throw new CsrError('CSR_NAMES', `the CSR requests iPAddress ${v4}; STOQ is IPv6 only`);
      }
      else if (ext.extnID === OID_SUBJECT_ALT_PUBLIC_KEY_INFO) {
        const alt = AsnConvert.parse(value, SubjectPublicKeyInfo);
        if (alt.algorithm.algorithm !== OID_FALCON_1024) throw new CsrError('CSR_FALCON', `subjectAltPublicKeyInfo names ${alt.algorithm.algorithm}, expected FALCON-1024 (${OID_FALCON_1024})`);
        falconPublicKey = new Uint8Array(alt.subjectPublicKey);
      } else {
        throw new CsrError('CSR_NAMES', `the CSR requests extension ${ext.extnID}; only subjectAltName and subjectAltPublicKeyInfo may be requested`);
      }
    } catch (err) {
      if (err instanceof CsrError) throw err;
      throw new CsrError('CSR_MALFORMED', `requested extension ${ext.extnID} is malformed: ${(err as Error).message}`);
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
  return { der, commonName, organization, spkiDer, publicKey, dnsNames, ipAddresses, falconPublicKey, service: services[0]! };
}

function subjectNames(name: Name): { commonName?: string; organization?: string } {
  const out: { commonName?: string; organization?: string } = {};
  for (const rdn of name) {
    for (const atv of rdn) {
      if (atv.type === OID_COMMON_NAME) out.commonName = atv.value.toString();
      else if (atv.type === OID_ORGANIZATION) out.organization = atv.value.toString();
      else throw new CsrError('CSR_NAMES', `the CSR subject carries attribute ${atv.type}; only CN and O are allowed`);
    }
  }
  return out;
}

function requestedExtensions(attributes: Attributes | undefined): Extension[] {
  const out: Extension[] = [];
  for (const attr of attributes ?? []) {
    if (attr.type !== OID_EXTENSION_REQUEST) throw new CsrError('CSR_NAMES', `the CSR carries attribute ${attr.type}; only extensionRequest is allowed`);
    for (const v of attr.values) {
      let exts: Extensions;
      try {
        exts = AsnConvert.parse(v, Extensions);
      } catch (err) {
        throw new CsrError('CSR_MALFORMED', `extensionRequest does not parse: ${(err as Error).message}`);
      }
      out.push(...exts);
    }
  }
  const seen = new Set<string>();
  for (const e of out) {
    if (seen.has(e.extnID)) throw new CsrError('CSR_MALFORMED', `the CSR requests extension ${e.extnID} twice`);
    seen.add(e.extnID);
  }
  return out;
}
