// The certificate extension of an earned certificate (`trustchain/issue_certificate`): the hash of
// the HyperMesh quorum certificate (2f+1 validator votes) that approved the issuance, so anyone
// holding the certificate can fetch the QC and re-verify it against the validator set.
//
// OID: STOQ has no registered arc, so this is a UUID OID (ITU-T X.667 / RFC 4122 §4 "2.25."
// followed by the UUID 8d064742-5dff-4e11-ac69-4b4cec9bb40a as a decimal integer): unique
// without registration. Non-critical: openssl and Go's crypto/x509 ignore it; STOQ peers read it.
//
//   QuorumCertificateReference ::= SEQUENCE {
//     hashAlgorithm  OBJECT IDENTIFIER,   -- id-sha256
//     qcHash         OCTET STRING,        -- hash of the encoded QC
//     validatorSetEpoch INTEGER }
//
// Not issued yet: until the "Earned certificates" issue wires HyperMesh consensus,
// issue_certificate validates its input and answers FAILED_PRECONDITION (NO_VALIDATOR_SET).
export const OID_QUORUM_CERTIFICATE = '2.25.187453746496055682923245038663427142666';

/** The refusal issue_certificate answers with while no validator set is configured. */
export const NO_VALIDATOR_SET_MESSAGE = 'no HyperMesh validator set configured';
