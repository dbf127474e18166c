//! FALCON-1024 (PQClean, compressed detached signatures) for node identity signatures.

use crate::error::{Code, StoqError, FALCON_REJECTED};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use pqcrypto_falcon::falcon1024;
use pqcrypto_traits::sign::{DetachedSignature as _, PublicKey as _, SecretKey as _};

pub const PUBLIC_KEY_LEN: usize = 1793;
pub const SECRET_KEY_LEN: usize = 2305;
pub const MAX_SIGNATURE_LEN: usize = 1462;
/// PQClean encodes log2(n) = 10 in the low nibble of the first key byte.
const PK_HEADER: u8 = 0x0a;
const SK_HEADER: u8 = 0x5a;

pub fn keypair() -> (Vec<u8>, Vec<u8>) {
    let (pk, sk) = falcon1024::keypair();
    (pk.as_bytes().to_vec(), sk.as_bytes().to_vec())
}

pub fn sign(secret_key: &[u8], message: &[u8]) -> Result<Vec<u8>, StoqError> {
    if secret_key.len() != SECRET_KEY_LEN {
        return Err(StoqError::new(
            FALCON_REJECTED,
            format!("secret key is {} bytes; a FALCON-1024 secret key is {SECRET_KEY_LEN} bytes", secret_key.len()),
        ));
    }
    if secret_key[0] != SK_HEADER {
        return Err(StoqError::new(
            FALCON_REJECTED,
            format!("secret key header byte is 0x{:02x}, expected 0x{SK_HEADER:02x} (FALCON-1024)", secret_key[0]),
        ));
    }
    #[cfg(target_arch = "x86_64")]
    if crate::falcon_expanded::available() {
        use crate::falcon_expanded::Signed;
        return match crate::falcon_expanded::sign(secret_key, message) {
            Signed::Signature(sig) => Ok(sig),
            Signed::Damaged => Err(StoqError::new(FALCON_REJECTED, "secret key could not be decoded (damaged FALCON-1024 key material); signing produced no signature")),
        };
    }
    let sk = falcon1024::SecretKey::from_bytes(secret_key)
        .map_err(|e| StoqError::new(FALCON_REJECTED, format!("secret key rejected: {e}")))?;
    let sig = falcon1024::detached_sign(message, &sk);
    let bytes = sig.as_bytes();
    // PQClean reports a malformed key by producing nothing (pqcrypto ignores its status code).
    if bytes.is_empty() {
        return Err(StoqError::new(FALCON_REJECTED, "secret key could not be decoded; signing produced no signature"));
    }
    Ok(bytes.to_vec())
}

pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<bool, StoqError> {
    if public_key.len() != PUBLIC_KEY_LEN {
        return Err(StoqError::new(
            FALCON_REJECTED,
            format!("public key is {} bytes; a FALCON-1024 public key is {PUBLIC_KEY_LEN} bytes", public_key.len()),
        ));
    }
    if signature.is_empty() || signature.len() > MAX_SIGNATURE_LEN || public_key[0] != PK_HEADER {
        return Ok(false);
    }
    let pk = falcon1024::PublicKey::from_bytes(public_key)
        .map_err(|e| StoqError::new(FALCON_REJECTED, format!("public key rejected: {e}")))?;
    let Ok(sig) = falcon1024::DetachedSignature::from_bytes(signature) else {
        return Ok(false);
    };
    Ok(falcon1024::verify_detached_signature(&sig, message, &pk).is_ok())
}

#[napi(object)]
pub struct FalconKeypair {
    pub public_key: Buffer,
    pub secret_key: Buffer,
}

/// New FALCON-1024 keypair (PQClean format: public key 1793 B, secret key 2305 B).
#[napi]
pub fn falcon_keypair() -> FalconKeypair {
    let (pk, sk) = keypair();
    FalconKeypair { public_key: pk.into(), secret_key: sk.into() }
}

/// Detached FALCON-1024 signature (PQClean compressed format, at most 1462 bytes).
#[napi]
pub fn falcon_sign(secret_key: &[u8], message: &[u8]) -> napi::Result<Buffer, Code> {
    Ok(sign(secret_key, message)?.into())
}

/// True when `signature` is a valid FALCON-1024 signature of `message` under `public_key`.
/// Throws only when the public key has the wrong length.
#[napi]
pub fn falcon_verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> napi::Result<bool, Code> {
    Ok(verify(public_key, message, signature)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_round_trip_and_tamper_rejection() {
        let (pk, sk) = keypair();
        assert_eq!(pk.len(), PUBLIC_KEY_LEN);
        assert_eq!(sk.len(), SECRET_KEY_LEN);
        let msg = b"EXPORTER-STOQ-FALCON session binding".to_vec();
        let sig = sign(&sk, &msg).unwrap();
        assert!(!sig.is_empty() && sig.len() <= MAX_SIGNATURE_LEN);
        assert!(verify(&pk, &msg, &sig).unwrap());

        let mut tampered = msg.clone();
        tampered[0] ^= 1;
        assert!(!verify(&pk, &tampered, &sig).unwrap());

        let mut bad_sig = sig.clone();
        let last = bad_sig.len() - 1;
        bad_sig[last] ^= 0x40;
        assert!(!verify(&pk, &msg, &bad_sig).unwrap());

        let (other_pk, _) = keypair();
        assert!(!verify(&other_pk, &msg, &sig).unwrap());
        assert!(!verify(&pk, &msg, &[]).unwrap());
    }

    /// The expanded-key signer (AVX2) and PQClean's own signing make signatures of one format that
    /// PQClean verifies; a key is expanded on its second signature; five keys in turn go through
    /// the four-entry cache and back.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn expanded_key_signatures_verify_like_pqclean_ones() {
        if !crate::falcon_expanded::available() {
            return;
        }
        let keys: Vec<_> = (0..5).map(|_| keypair()).collect();
        for round in 0..3 {
            for (i, (pk, sk)) in keys.iter().enumerate() {
                let msg = format!("round {round} key {i}").into_bytes();
                // Round 0 signs from each key's basis, round 1 expands; in round 2 the fifth key
                // has evicted the first, which is signed from its basis again.
                let crate::falcon_expanded::Signed::Signature(sig) = crate::falcon_expanded::sign(sk, &msg) else {
                    panic!("key {i} refused in round {round}");
                };
                assert_eq!(sig[0], 0x3a);
                assert!(sig.len() <= MAX_SIGNATURE_LEN);
                let parsed = falcon1024::DetachedSignature::from_bytes(&sig).unwrap();
                let pk_parsed = falcon1024::PublicKey::from_bytes(pk).unwrap();
                assert!(falcon1024::verify_detached_signature(&parsed, &msg, &pk_parsed).is_ok());
                let mut other = msg.clone();
                other.push(0);
                assert!(falcon1024::verify_detached_signature(&parsed, &other, &pk_parsed).is_err());
                let (other_pk, _) = &keys[(i + 1) % keys.len()];
                assert!(!verify(other_pk, &msg, &sig).unwrap());
                // And PQClean's own signature with the same key verifies the same way.
                let theirs = falcon1024::detached_sign(&msg, &falcon1024::SecretKey::from_bytes(sk).unwrap());
                assert!(verify(pk, &msg, theirs.as_bytes()).unwrap());
            }
        }
        // f = g = F = -1 everywhere: it decodes, and complete_private accepts it (G = -1), but it
        // is no NTRU basis: PQClean's own signing searches forever with it. Refused on first use.
        let mut damaged = vec![0xffu8; SECRET_KEY_LEN];
        damaged[0] = SK_HEADER;
        let mut undecodable = vec![0u8; SECRET_KEY_LEN];
        undecodable[0] = SK_HEADER;
        undecodable[1] = 0x84; // f's first coefficient is -16, which PQClean's encoding never uses
        for key in [&damaged, &undecodable] {
            assert!(matches!(crate::falcon_expanded::sign(key, b"m"), crate::falcon_expanded::Signed::Damaged));
            assert_eq!(sign(key, b"m").unwrap_err().code, FALCON_REJECTED);
        }
    }

    #[test]
    fn malformed_keys_are_errors() {
        assert_eq!(verify(&[0u8; 10], b"m", &[1]).unwrap_err().code, FALCON_REJECTED);
        assert_eq!(sign(&[0u8; 10], b"m").unwrap_err().code, FALCON_REJECTED);
        let mut sk = vec![0u8; SECRET_KEY_LEN];
        assert_eq!(sign(&sk, b"m").unwrap_err().code, FALCON_REJECTED);
        sk[0] = 0x59; // FALCON-512 header
        assert!(sign(&sk, b"m").unwrap_err().message.contains("header"));
    }
}
