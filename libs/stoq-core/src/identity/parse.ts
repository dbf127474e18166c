// Read STOQ hybrid certificates and verify their FALCON alternative-signature chain.
//
// Classical X.509 path validation (ECDSA/Ed25519 signatures, validity period, EKU, names) is done
// by the TLS stack (rustls/webpki in the native addon). verifyAltSignatureChain is the second,
// independent check: every certificate's altSignatureValue must verify, over its
// PreTBSCertificate, under the FALCON key (subjectAltPublicKeyInfo) of its issuer, up to a
// trusted root.

import { createHash } from 'node:crypto';
import { FALCON_MAX_SIGNATURE_LENGTH, FALCON_PUBLIC_KEY_LENGTH, nativeFalcon, type FalconScheme } from '../falcon';
import { TAG_BIT_STRING, TAG_EXTENSIONS, TAG_INTEGER, TAG_OCTET_STRING, TAG_SEQUENCE, TAG_VERSION, bytesEqual, children, readSingle, type Tlv } from './der';
import { StoqError } from '../errors';
import { MESH_ZONE, assertLabel, bytesToIpv6 } from './naming';
import {
  OID_ALT_SIGNATURE_ALGORITHM,
  OID_ALT_SIGNATURE_VALUE,
  OID_AUTHORITY_KEY_IDENTIFIER,
  OID_BASIC_CONSTRAINTS,
  OID_EXT_KEY_USAGE,
  OID_FALCON_1024,
  OID_SUBJECT_ALT_NAME,
  OID_SUBJECT_ALT_PUBLIC_KEY_INFO,
  OID_SUBJECT_KEY_IDENTIFIER,
} from './oids';
import { OID_CONSENSUS_APPROVAL, readConsensusApproval, type ConsensusApproval } from './consensus-approval';
import { preTbsCertificate } from './pre-tbs';
import { algorithmOid, basicConstraints, bitStringBytes, extensionList, nameAttributes, oidOf, readTime } from './x509-read';

/** Largest certificate we parse. A hybrid leaf is about 3.5 KiB (FALCON key + signature). */
export const MAX_CERTIFICATE_LENGTH = 16 * 1024;
/** Longest chain (leaf to root) verifyAltSignatureChain walks. */
export const MAX_CHAIN_LENGTH = 8;

export interface HybridCertificate {
  der: Uint8Array;
  /** The signed TBSCertificate bytes. */
  tbsDer: Uint8Array;
  /** Serial number, lowercase hex. */
  serialNumber: string;
  commonName: string;
  organization: string | undefined;
  /** DER of the subject and issuer Names (compared byte-for-byte when building chains). */
  subjectDer: Uint8Array;
  issuerDer: Uint8Array;
  dnsNames: string[];
  /** iPAddress SANs: IPv6 in RFC 5952 form, IPv4 dotted. */
  ipAddresses: string[];
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  pathLen: number | undefined;
  /** Extended key usage OIDs (empty when the extension is absent). */
  extendedKeyUsage: string[];
  /** The classical SubjectPublicKeyInfo DER. */
  spkiDer: Uint8Array;
  /** Classical signature algorithm OID. */
  signatureAlgorithm: string;
  subjectKeyIdentifier: Uint8Array | undefined;
  authorityKeyIdentifier: Uint8Array | undefined;
  /** The subject's FALCON-1024 public key (subjectAltPublicKeyInfo). */
  falconPublicKey: Uint8Array;
  /** The altSignatureAlgorithm OID (FALCON-1024). */
  altSignatureAlgorithm: string;
  /** The issuer's FALCON signature over the PreTBSCertificate (altSignatureValue). */
  altSignature: Uint8Array;
  /** SHA-256 of the DER, lowercase hex. */
  fingerprintSha256: string;
  /** Earned certificates only: the HyperMesh commit that approved the issuance. */
  consensusApproval?: ConsensusApproval;
}

function rejected(message: string, cause?: unknown): StoqError {
  return new StoqError('PEER_REJECTED', message, cause === undefined ? undefined : { cause });
}

/**
 * Parse a STOQ hybrid certificate. Throws PEER_REJECTED for malformed certificates and
 * FALCON_REJECTED when an alternative-key extension is missing or names another algorithm.
 */
export function parseHybridCertificate(der: Uint8Array): HybridCertificate {
  if (!(der instanceof Uint8Array) || der.length === 0) throw rejected('certificate is empty');
  if (der.length > MAX_CERTIFICATE_LENGTH) throw rejected(`certificate of ${der.length} bytes exceeds ${MAX_CERTIFICATE_LENGTH}`);
  const outer = readSingle(der, 'Certificate');
  const top = children(der, outer, 'Certificate');
  if (outer.tag !== TAG_SEQUENCE || top.length !== 3 || top[0]!.tag !== TAG_SEQUENCE) {
    throw rejected('certificate is not SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }');
  }
  const tbsTlv = top[0]!;

  const tbsFields = children(der, tbsTlv, 'TBSCertificate');
  if (tbsFields[0]?.tag !== TAG_VERSION) throw rejected('certificate is X.509 v1, expected v3');
  const version = children(der, tbsFields[0], 'version');
  if (version.length !== 1 || version[0]!.tag !== TAG_INTEGER || version[0]!.end - version[0]!.contentStart !== 1) throw rejected('certificate version is not a small INTEGER');
  if (der[version[0]!.contentStart] !== 2) throw rejected(`certificate is X.509 v${der[version[0]!.contentStart]! + 1}, expected v3`);
  const [, serialTlv, innerSigAlg, issuerTlv, validityTlv, subjectTlv, spkiTlv, ...optional] = tbsFields;
  if (!serialTlv || serialTlv.tag !== TAG_INTEGER || serialTlv.end === serialTlv.contentStart) throw rejected('TBSCertificate has no serialNumber INTEGER');
  if (!innerSigAlg || innerSigAlg.tag !== TAG_SEQUENCE) throw rejected('TBSCertificate has no signature AlgorithmIdentifier');
  if (!issuerTlv || issuerTlv.tag !== TAG_SEQUENCE || !subjectTlv || subjectTlv.tag !== TAG_SEQUENCE) throw rejected('TBSCertificate is missing issuer or subject');
  if (!validityTlv || validityTlv.tag !== TAG_SEQUENCE) throw rejected('TBSCertificate has no validity SEQUENCE');
  if (!spkiTlv || spkiTlv.tag !== TAG_SEQUENCE) throw rejected('TBSCertificate has no subjectPublicKeyInfo SEQUENCE');
  // issuerUniqueID [1], subjectUniqueID [2] (ignored), then extensions [3], in that order.
  let extensionsTlv: Tlv | undefined;
  let lastTag = 0;
  for (const t of optional) {
    if (!(t.tag === 0x81 || t.tag === 0x82 || t.tag === TAG_EXTENSIONS) || t.tag <= lastTag) throw rejected(`TBSCertificate has an unexpected field (tag 0x${t.tag.toString(16)})`);
    lastTag = t.tag;
    if (t.tag === TAG_EXTENSIONS) extensionsTlv = t;
  }
  const validity = children(der, validityTlv, 'validity');
  if (validity.length !== 2) throw rejected('validity is not SEQUENCE { notBefore, notAfter }');
  const notBefore = readTime(der, validity[0]!, 'notBefore');
  const notAfter = readTime(der, validity[1]!, 'notAfter');
  const signatureAlgorithm = algorithmOid(der, top[1]!, 'signatureAlgorithm');
  if (top[2]!.tag !== TAG_BIT_STRING) throw rejected('signatureValue is not a BIT STRING');

  const out: Partial<HybridCertificate> & { dnsNames: string[]; ipAddresses: string[]; extendedKeyUsage: string[] } = {
    dnsNames: [],
    ipAddresses: [],
    extendedKeyUsage: [],
    isCa: false,
  };
  const seen = new Set<string>();
  const extensionsInner = extensionsTlv ? children(der, extensionsTlv, 'extensions') : [];
  if (extensionsTlv && extensionsInner.length !== 1) throw rejected('extensions [3] does not hold one SEQUENCE');
  for (const ext of extensionsInner[0] ? extensionList(der, extensionsInner[0]) : []) {
    if (seen.has(ext.oid)) throw rejected(`certificate repeats extension ${ext.oid}`);
    seen.add(ext.oid);
    const value = ext.value;
    try {
      switch (ext.oid) {
        case OID_BASIC_CONSTRAINTS: {
          const bc = basicConstraints(value);
          out.isCa = bc.isCa;
          out.pathLen = bc.pathLen;
          break;
        }
        case OID_SUBJECT_ALT_NAME:
          readSubjectAltName(value, out.dnsNames, out.ipAddresses);
          break;
        case OID_EXT_KEY_USAGE: {
          const seq = readSingle(value, 'extKeyUsage');
          if (seq.tag !== TAG_SEQUENCE) throw new Error('extKeyUsage is not a SEQUENCE');
          out.extendedKeyUsage = children(value, seq, 'extKeyUsage').map((t) => oidOf(value, t, 'extKeyUsage'));
          break;
        }
        case OID_SUBJECT_KEY_IDENTIFIER: {
          const t = readSingle(value, 'subjectKeyIdentifier');
          if (t.tag !== TAG_OCTET_STRING) throw new Error('subjectKeyIdentifier is not an OCTET STRING');
          out.subjectKeyIdentifier = value.slice(t.contentStart, t.end);
          break;
        }
        case OID_AUTHORITY_KEY_IDENTIFIER: {
          const seq = readSingle(value, 'authorityKeyIdentifier');
          if (seq.tag !== TAG_SEQUENCE) throw new Error('authorityKeyIdentifier is not a SEQUENCE');
          const keyId = children(value, seq, 'authorityKeyIdentifier').find((t) => t.tag === 0x80); // keyIdentifier [0] IMPLICIT
          if (keyId) out.authorityKeyIdentifier = value.slice(keyId.contentStart, keyId.end);
          break;
        }
        case OID_SUBJECT_ALT_PUBLIC_KEY_INFO: {
          const seq = readSingle(value, 'subjectAltPublicKeyInfo');
          const parts = seq.tag === TAG_SEQUENCE ? children(value, seq, 'subjectAltPublicKeyInfo') : [];
          if (parts.length !== 2 || parts[0]!.tag !== TAG_SEQUENCE) throw new Error('subjectAltPublicKeyInfo is not SEQUENCE { algorithm, subjectPublicKey }');
          checkFalconAlgorithm(value, parts[0]!, 'subjectAltPublicKeyInfo');
          out.falconPublicKey = bitStringBytes(value, parts[1]!, 'subjectAltPublicKeyInfo subjectPublicKey');
          break;
        }
        case OID_ALT_SIGNATURE_ALGORITHM:
          out.altSignatureAlgorithm = checkFalconAlgorithm(value, readSingle(value, 'altSignatureAlgorithm'), 'altSignatureAlgorithm');
          break;
        case OID_CONSENSUS_APPROVAL:
          out.consensusApproval = readConsensusApproval(value);
          break;
        case OID_ALT_SIGNATURE_VALUE:
          out.altSignature = bitStringBytes(value, readSingle(value, 'altSignatureValue'), 'altSignatureValue');
          break;
      }
    } catch (err) {
      if (err instanceof StoqError) throw err;
      throw rejected(`certificate extension ${ext.oid} is malformed: ${(err as Error).message}`, err);
    }
  }

  if (!out.falconPublicKey) throw new StoqError('FALCON_REJECTED', 'certificate has no subjectAltPublicKeyInfo (2.5.29.72) extension: it carries no FALCON key');
  if (out.falconPublicKey.length !== FALCON_PUBLIC_KEY_LENGTH) {
    throw new StoqError('FALCON_REJECTED', `subjectAltPublicKeyInfo holds ${out.falconPublicKey.length} bytes, a FALCON-1024 public key is ${FALCON_PUBLIC_KEY_LENGTH}`);
  }
  if (!out.altSignatureAlgorithm) throw new StoqError('FALCON_REJECTED', 'certificate has no altSignatureAlgorithm (2.5.29.73) extension');
  if (!out.altSignature) throw new StoqError('FALCON_REJECTED', 'certificate has no altSignatureValue (2.5.29.74) extension: it is not FALCON-signed');
  if (out.altSignature.length === 0 || out.altSignature.length > FALCON_MAX_SIGNATURE_LENGTH) {
    throw new StoqError('FALCON_REJECTED', `altSignatureValue of ${out.altSignature.length} bytes is not a FALCON-1024 signature (at most ${FALCON_MAX_SIGNATURE_LENGTH})`);
  }

  const subject = nameAttributes(der, subjectTlv);
  if (subject.commonName === undefined) throw rejected('certificate subject has no commonName');
  return {
    der,
    tbsDer: der.subarray(tbsTlv.start, tbsTlv.end),
    serialNumber: Buffer.from(der.buffer, der.byteOffset + serialTlv.contentStart, serialTlv.end - serialTlv.contentStart).toString('hex'),
    commonName: subject.commonName,
    organization: subject.organization,
    subjectDer: der.subarray(subjectTlv.start, subjectTlv.end),
    issuerDer: der.subarray(issuerTlv.start, issuerTlv.end),
    dnsNames: out.dnsNames,
    ipAddresses: out.ipAddresses,
    notBefore,
    notAfter,
    isCa: out.isCa ?? false,
    pathLen: out.pathLen,
    extendedKeyUsage: out.extendedKeyUsage,
    spkiDer: der.slice(spkiTlv.start, spkiTlv.end),
    signatureAlgorithm,
    subjectKeyIdentifier: out.subjectKeyIdentifier,
    authorityKeyIdentifier: out.authorityKeyIdentifier,
    falconPublicKey: out.falconPublicKey,
    altSignatureAlgorithm: out.altSignatureAlgorithm,
    altSignature: out.altSignature,
    fingerprintSha256: createHash('sha256').update(der).digest('hex'),
    ...(out.consensusApproval ? { consensusApproval: out.consensusApproval } : {}),
  };
}

function checkFalconAlgorithm(der: Uint8Array, tlv: Tlv, where: string): string {
  const oid = algorithmOid(der, tlv, where);
  if (oid !== OID_FALCON_1024) {
    throw new StoqError('FALCON_REJECTED', `${where} names algorithm ${oid}, expected FALCON-1024 (${OID_FALCON_1024})`);
  }
  const f = children(der, tlv, where);
  // Absent parameters, or an explicit NULL, which some encoders write.
  if (f.length === 2 && !(f[1]!.tag === 0x05 && f[1]!.end === f[1]!.contentStart)) {
    throw new StoqError('FALCON_REJECTED', `${where}: FALCON-1024 AlgorithmIdentifier must have no parameters`);
  }
  return oid;
}

/**
 * Collects the dNSName and iPAddress entries of a subjectAltName extension value. Other kinds
 * are skipped, or passed to `onOther` (which may throw to refuse them).
 */
export function readSubjectAltName(value: Uint8Array, dnsNames: string[], ipAddresses: string[], onOther?: (tag: number) => void): void {
  const seq = readSingle(value, 'subjectAltName');
  if (seq.tag !== TAG_SEQUENCE) throw new Error('subjectAltName is not a SEQUENCE');
  for (const name of children(value, seq, 'subjectAltName')) {
    const content = value.subarray(name.contentStart, name.end);
    if (name.tag === 0x82) {
      const dns = Buffer.from(content).toString('latin1');
      if (!/^[\x21-\x7e]+$/.test(dns)) throw new Error('dNSName is not printable IA5');
      dnsNames.push(dns.toLowerCase());
    } else if (name.tag === 0x87) {
      if (content.length === 16) ipAddresses.push(bytesToIpv6(content));
      else if (content.length === 4) ipAddresses.push(Array.from(content).join('.'));
      else throw new Error(`iPAddress of ${content.length} bytes`);
    } else {
      onOther?.(name.tag);
    }
  }
}

/**
 * Verify the FALCON alternative-signature chain from `chainDer[0]` (the leaf) to one of
 * `trustedRootsDer`. Intermediate certificates come from the rest of `chainDer`. Issuers are
 * matched by subject Name bytes and key identifier; every issuer must be a CA.
 * Returns the verified path, leaf first, ending with the trusted root.
 */
export function verifyAltSignatureChain(
  chainDer: readonly Uint8Array[],
  trustedRootsDer: readonly Uint8Array[],
  falcon: FalconScheme = nativeFalcon,
): HybridCertificate[] {
  if (chainDer.length === 0) throw rejected('empty certificate chain');
  if (chainDer.length > MAX_CHAIN_LENGTH) throw rejected(`certificate chain of ${chainDer.length} exceeds ${MAX_CHAIN_LENGTH}`);
  if (trustedRootsDer.length === 0) throw new StoqError('TLS_CONFIG', 'no trusted roots configured');
  const roots = trustedRootsDer.map(parseHybridCertificate);
  const presented = chainDer.map(parseHybridCertificate);
  const candidates = [...roots, ...presented.slice(1)];
  const isTrusted = (c: HybridCertificate): boolean => roots.some((r) => bytesEqual(r.der, c.der));

  const path: HybridCertificate[] = [presented[0]!];
  let current = presented[0]!;
  while (!isTrusted(current)) {
    if (path.length > MAX_CHAIN_LENGTH) throw rejected(`no trusted root within ${MAX_CHAIN_LENGTH} certificates`);
    const issuer = candidates.find(
      (c) =>
        c !== current &&
        bytesEqual(c.subjectDer, current.issuerDer) &&
        (current.authorityKeyIdentifier === undefined ||
          c.subjectKeyIdentifier === undefined ||
          bytesEqual(c.subjectKeyIdentifier, current.authorityKeyIdentifier)),
    );
    if (!issuer) {
      throw rejected(`issuer of certificate "${current.commonName}" not found among the chain and the ${roots.length} trusted root(s)`);
    }
    if (!issuer.isCa) throw rejected(`certificate "${issuer.commonName}" issued "${current.commonName}" but is not a CA`);
    verifyAltSignature(current, issuer, falcon);
    path.push(issuer);
    current = issuer;
  }
  return path;
}

/** Verify `cert`'s altSignatureValue under `issuer`'s FALCON key; throws FALCON_REJECTED. */
export function verifyAltSignature(cert: HybridCertificate, issuer: HybridCertificate, falcon: FalconScheme = nativeFalcon): void {
  const preTbs = preTbsCertificate(cert.tbsDer);
  let ok: boolean;
  try {
    ok = falcon.verify(issuer.falconPublicKey, preTbs, cert.altSignature);
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new StoqError(
      'FALCON_REJECTED',
      `FALCON alternative signature of certificate "${cert.commonName}" does not verify under the FALCON key of issuer "${issuer.commonName}"`,
    );
  }
}

/**
 * The STOQ {service, instance} a certificate names: service is the single dNSName SAN of the
 * form `<service>.hypermesh` (exactly two labels), instance is the subject CN.
 */
export function peerNamesFromCertificate(der: Uint8Array): { service: string; instance: string } {
  const cert = parseHybridCertificate(der);
  const suffix = `.${MESH_ZONE}`;
  const services = [
    ...new Set(cert.dnsNames.filter((n) => n.endsWith(suffix) && n.split('.').length === 2).map((n) => n.slice(0, -suffix.length))),
  ];
  if (services.length === 0) throw rejected(`certificate "${cert.commonName}" names no service (no dNSName <service>${suffix})`);
  if (services.length > 1) throw rejected(`certificate "${cert.commonName}" names several services: ${services.join(', ')}`);
  const service = services[0]!;
  try {
    assertLabel('service', service);
    assertLabel('instance', cert.commonName);
  } catch (err) {
    throw rejected(`certificate names are not STOQ names: ${(err as Error).message}`, err);
  }
  return { service, instance: cert.commonName };
}

