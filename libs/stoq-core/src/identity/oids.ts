// Object identifiers used by STOQ hybrid certificates.

/** ITU-T X.509 (10/2019) §9.8.2: the subject's alternative public key (a SubjectPublicKeyInfo). */
export const OID_SUBJECT_ALT_PUBLIC_KEY_INFO = '2.5.29.72';
/** ITU-T X.509 (10/2019) §9.8.3: the algorithm of the issuer's alternative signature. */
export const OID_ALT_SIGNATURE_ALGORITHM = '2.5.29.73';
/** ITU-T X.509 (10/2019) §9.8.4: the issuer's alternative signature (a BIT STRING). */
export const OID_ALT_SIGNATURE_VALUE = '2.5.29.74';

/**
 * FALCON-1024 (PQClean `falcon-1024`: compressed, variable-length detached signatures).
 *
 * PROVISIONAL: FN-DSA (FIPS 206) has no final IETF/NIST OID yet. This is the experimental OID
 * that the Open Quantum Safe oqs-provider currently assigns to `falcon1024` (the padded variant is
 * 1.3.9999.3.19). Older OQS releases used 1.3.9999.3.4 and later 1.3.9999.3.9 for earlier Falcon
 * encodings; we do not accept those. Replace this constant once FN-DSA is assigned an OID.
 */
export const OID_FALCON_1024 = '1.3.9999.3.14';

export const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
export const OID_ED25519 = '1.3.101.112';
export const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
export const OID_ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3';

export const OID_BASIC_CONSTRAINTS = '2.5.29.19';
export const OID_KEY_USAGE = '2.5.29.15';
export const OID_EXT_KEY_USAGE = '2.5.29.37';
export const OID_SUBJECT_KEY_IDENTIFIER = '2.5.29.14';
export const OID_AUTHORITY_KEY_IDENTIFIER = '2.5.29.35';
export const OID_SUBJECT_ALT_NAME = '2.5.29.17';

export const OID_KP_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const OID_KP_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

export const OID_COMMON_NAME = '2.5.4.3';
export const OID_ORGANIZATION = '2.5.4.10';
