//! ECDSA signing for the CA paths (certificate, CRL and revocation-list signatures), by aws-lc
//! through rustls' signer. Node's OpenSSL 3.0 signs P-384 at about 1,700/s on this class of
//! machine; aws-lc's P-384 is several times faster, and a hybrid leaf needs one such signature.
//! The key is parsed once per signer, not per signature. Signatures are ASN.1 DER (X.509's form).

use crate::error::{Code, StoqError, INVALID_ARGUMENT};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::SigningKey;
use rustls::SignatureScheme;
use std::sync::Arc;

/// An ECDSA P-256 (SHA-256) or P-384 (SHA-384) private key, ready to sign.
#[napi]
pub struct EcdsaSigner {
    key: Arc<dyn SigningKey>,
    scheme: SignatureScheme,
}

#[napi]
impl EcdsaSigner {
    /// From a PKCS#8 DER private key; the curve picks the hash (P-256: SHA-256, P-384: SHA-384).
    #[napi(factory)]
    pub fn from_pkcs8(der: &[u8]) -> napi::Result<EcdsaSigner, Code> {
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.to_vec()));
        let key = rustls::crypto::aws_lc_rs::sign::any_ecdsa_type(&key_der)
            .map_err(|e| StoqError::new(INVALID_ARGUMENT, format!("not an ECDSA P-256 or P-384 PKCS#8 private key: {e}")))?;
        let scheme = [SignatureScheme::ECDSA_NISTP384_SHA384, SignatureScheme::ECDSA_NISTP256_SHA256]
            .into_iter()
            .find(|s| key.choose_scheme(&[*s]).is_some())
            .ok_or_else(|| StoqError::new(INVALID_ARGUMENT, "ECDSA key on a curve other than P-256 or P-384"))?;
        Ok(EcdsaSigner { key, scheme })
    }

    /// "P-256" or "P-384".
    #[napi(getter)]
    pub fn curve(&self) -> String {
        if self.scheme == SignatureScheme::ECDSA_NISTP384_SHA384 { "P-384" } else { "P-256" }.to_string()
    }

    /// DER ECDSA signature of `data` (hashed with the curve's hash).
    #[napi]
    pub fn sign(&self, data: &[u8]) -> napi::Result<Buffer, Code> {
        let signer = self.key.choose_scheme(&[self.scheme]).expect("scheme chosen at construction");
        let sig = signer.sign(data).map_err(|e| StoqError::new(INVALID_ARGUMENT, format!("ECDSA signing failed: {e}")))?;
        Ok(sig.into())
    }
}

/// Whether `signature` (ASN.1 DER) is `public_key`'s ECDSA signature of `data`. `curve` is "P-256"
/// (SHA-256) or "P-384" (SHA-384); `public_key` is the uncompressed point, as the
/// subjectPublicKey BIT STRING of an SPKI holds it. For CSR proofs of possession: Node's
/// OpenSSL 3.0 spends about 0.3 ms decoding an SPKI into a key object before it can verify;
/// aws-lc verifies from the point directly.
#[napi]
pub fn ecdsa_verify(curve: String, public_key: &[u8], data: &[u8], signature: &[u8]) -> napi::Result<bool, Code> {
    use rustls::pki_types::{alg_id, SignatureVerificationAlgorithm};
    type Algorithm = &'static dyn SignatureVerificationAlgorithm;
    static ALGORITHMS: std::sync::OnceLock<[Algorithm; 2]> = std::sync::OnceLock::new();
    let [p256, p384] = ALGORITHMS.get_or_init(|| {
        let all = rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms.all;
        let find = |key, sig| -> Algorithm {
            *all.iter().find(|a| a.public_key_alg_id() == key && a.signature_alg_id() == sig).expect("aws-lc-rs provides ECDSA P-256/SHA-256 and P-384/SHA-384")
        };
        [find(alg_id::ECDSA_P256, alg_id::ECDSA_SHA256), find(alg_id::ECDSA_P384, alg_id::ECDSA_SHA384)]
    });
    let alg = match curve.as_str() {
        "P-256" => p256,
        "P-384" => p384,
        other => return Err(StoqError::new(INVALID_ARGUMENT, format!("curve {other:?}: expected \"P-256\" or \"P-384\"")).into()),
    };
    Ok(alg.verify_signature(public_key, data, signature).is_ok())
}
