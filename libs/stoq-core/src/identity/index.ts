// Node identity and hybrid (classical + FALCON-1024) X.509 certificates.
export { IdentityError, isIdentityError, type IdentityErrorCode, type IdentityErrorOptions } from './errors';
export { DevCa, DEV_CA_FILES, DEFAULT_LEAF_LIFETIME_MS, type DevCaOptions, type IssueCaOptions, type IssueLeafOptions } from './dev-ca';
export {
  issueCertificate,
  keyIdentifier,
  type CertificateExtension,
  type CertificateIssuer,
  type ExtendedKeyUsageName,
  type IssueCertificateOptions,
  type IssuedCertificate,
  type KeyUsageName,
  type SpkiPublicKey,
  type SubjectName,
} from './hybrid-cert';
export { readSpki, type SpkiKey, type SpkiKeyKind } from './spki';
export type { CertificateRequest, CertificateSource, IssuedChain } from './certificate-source';
export { NodeIdentity, NODE_IDENTITY_FILES, RENEW_AT_FRACTION, type NodeIdentityOptions } from './node-identity';
export { MESH_ZONE, STOQ_ORGANIZATION, standardDnsNames } from './naming';
export * from './oids';
export {
  MAX_CERTIFICATE_LENGTH,
  MAX_CHAIN_LENGTH,
  parseHybridCertificate,
  peerNamesFromCertificate,
  verifyAltSignature,
  verifyAltSignatureChain,
  type HybridCertificate,
} from './parse';
export { preTbsCertificate } from './pre-tbs';
export { OID_CONSENSUS_APPROVAL, consensusApprovalExtension, readConsensusApproval, type ConsensusApproval } from './consensus-approval';
export {
  createCsr,
  parseCsr,
  falconCsrMessage,
  CsrError,
  FALCON_CSR_CONTEXT,
  MAX_CSR_LENGTH,
  OID_EXTENSION_REQUEST,
  type CreateCsrOptions,
  type CsrErrorCode,
  type ParsedCsr,
} from './csr';
export { generateClassicalKey, generateFalconKeys, parseClassicalKey, parseFalconKeys, readSigningKeys, type ClassicalKeyKind } from './key-files';
export {
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  createDirectoryAtomic,
  inspectSetDirectory,
  readSetFile,
  writeFileAtomic,
  type SetFile,
  type SetDirectory,
} from './secure-files';
