//! Server verification for a client that knows only the SHA-256 fingerprint of the root
//! (bootstrap enrollment, as `step ca bootstrap --fingerprint` does).
//!
//! The server must send its root in its chain. The certificate in the chain whose SHA-256 is the
//! pinned one becomes the only trust anchor, and the rest of the chain is verified against it
//! exactly as with configured roots (signatures, validity, SAN). A chain without that root fails.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;

use crate::hash::digest;

#[derive(Debug)]
pub struct PinnedRootVerifier {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl PinnedRootVerifier {
    pub fn new(pin: [u8; 32], provider: Arc<CryptoProvider>) -> Self {
        Self { pin, provider }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ServerCertVerifier for PinnedRootVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let (roots, rest): (Vec<&CertificateDer<'_>>, Vec<&CertificateDer<'_>>) =
            intermediates.iter().partition(|c| digest(c.as_ref()) == self.pin);
        let Some(root) = roots.first() else {
            return Err(rustls::Error::General(format!(
                "the server's chain does not include the root with the pinned SHA-256 fingerprint {}",
                hex(&self.pin)
            )));
        };
        let mut store = RootCertStore::empty();
        store
            .add((*root).clone().into_owned())
            .map_err(|e| rustls::Error::General(format!("the pinned root is not a usable CA certificate: {e}")))?;
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(store), self.provider.clone())
            .build()
            .map_err(|e| rustls::Error::General(format!("cannot verify against the pinned root: {e}")))?;
        let rest: Vec<CertificateDer<'_>> = rest.into_iter().cloned().collect();
        inner.verify_server_cert(end_entity, &rest, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
