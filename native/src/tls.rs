//! TLS material (PEM) parsing and the rustls/quinn configs built from it.
//!
//! TLS 1.3 only, aws-lc-rs provider, mutual authentication against one set of trust roots:
//! the server requires a client certificate (WebPkiClientVerifier), the client verifies the
//! server chain, expiry and SAN (WebPkiServerVerifier).
//!
//! Two exceptions, both for bootstrap enrollment: a server may accept clients that present no
//! certificate (`acceptAnonymousClients`; the layers above treat them as unauthenticated), and
//! a client without roots may trust the server chain whose root has a pinned SHA-256
//! (`trustRootSha256`, see pinned_root.rs). The endpoint's own identity lives in a
//! `LiveIdentity`, replaceable while the endpoint runs (certificate renewal).

use crate::error::{StoqError, TLS_CONFIG};
use crate::kex::{KexLeasePool, LeaseConfigs};
use crate::live_identity::{LiveIdentity, RenewableClientSessions, RenewableServerSessions};
use crate::pinned_root::PinnedRootVerifier;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::client::danger::ServerCertVerifier;
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::{aws_lc_rs, CryptoProvider, SupportedKxGroup};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;
use std::sync::Arc;

pub const DEFAULT_ALPN: &str = "stoq/1";
const CLIENT_SESSION_CACHE: usize = 1024;
const SERVER_SESSION_CACHE: usize = 4096;

/// Validated TLS inputs, independent of napi.
pub struct TlsInput<'a> {
    /// Absent only for a client-only endpoint that enrolls (it sends no certificate).
    pub cert_chain_pem: Option<&'a str>,
    pub key_pem: Option<&'a str>,
    /// Exactly one of `trust_roots_pem` and `trust_root_sha256` (lowercase or uppercase hex).
    pub trust_roots_pem: Option<&'a str>,
    pub trust_root_sha256: Option<&'a str>,
    /// Server: accept clients that present no certificate.
    pub accept_anonymous_clients: bool,
    pub server: bool,
    pub alpn: Option<&'a [String]>,
    pub require_pq_kex: bool,
    pub zero_rtt: bool,
}

/// The expensive, connection-independent TLS state shared by every lease of one endpoint.
pub struct TlsShared {
    base_provider: CryptoProvider,
    identity: Arc<LiveIdentity>,
    server_verifier: Arc<dyn ServerCertVerifier>,
    /// None for a client-only endpoint.
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
    alpn: Vec<Vec<u8>>,
    client_resumption: Resumption,
    client_sessions: Arc<RenewableClientSessions>,
    server_sessions: Arc<RenewableServerSessions>,
    zero_rtt: bool,
    pub strict: bool,
}

fn tls_err(msg: impl Into<String>) -> StoqError {
    StoqError::new(TLS_CONFIG, msg)
}

/// Key-exchange preference: hybrid post-quantum first; strict mode offers/accepts nothing else.
pub fn kx_groups(strict: bool) -> Vec<&'static dyn SupportedKxGroup> {
    use aws_lc_rs::kx_group::{SECP256R1, X25519, X25519MLKEM768};
    if strict {
        vec![X25519MLKEM768]
    } else {
        vec![X25519MLKEM768, X25519, SECP256R1]
    }
}

pub fn parse_certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, StoqError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err(format!("{what} is not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(tls_err(format!("{what} contains no \"BEGIN CERTIFICATE\" block")));
    }
    Ok(certs)
}

pub fn parse_alpn(alpn: Option<&[String]>) -> Result<Vec<Vec<u8>>, StoqError> {
    let list: Vec<Vec<u8>> = match alpn {
        None => vec![DEFAULT_ALPN.as_bytes().to_vec()],
        Some(l) => l.iter().map(|p| p.as_bytes().to_vec()).collect(),
    };
    if list.is_empty() {
        return Err(tls_err("alpn is an empty list; give at least one protocol such as \"stoq/1\""));
    }
    if let Some(bad) = list.iter().find(|p| p.is_empty() || p.len() > 255) {
        return Err(tls_err(format!(
            "ALPN protocol {:?} must be 1..=255 bytes long",
            String::from_utf8_lossy(bad)
        )));
    }
    Ok(list)
}

/// A certificate chain and its private key, checked to belong together.
pub fn certified_key(provider: &CryptoProvider, cert_chain_pem: &str, key_pem: &str) -> Result<CertifiedKey, StoqError> {
    let chain = parse_certs(cert_chain_pem, "certChainPem")?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| tls_err(format!("keyPem holds no usable private key: {e}")))?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| tls_err(format!("keyPem is not a supported private key (ECDSA P-256/P-384, Ed25519, RSA): {e}")))?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified
        .keys_match()
        .map_err(|e| tls_err(format!("keyPem does not belong to the leaf certificate of certChainPem: {e}")))?;
    Ok(certified)
}

fn parse_pin(hex: &str) -> Result<[u8; 32], StoqError> {
    let clean: String = hex.chars().filter(|c| *c != ':').collect();
    let bad = || tls_err(format!("trustRootSha256 {hex:?} must be 64 hex digits (the SHA-256 of the root certificate's DER)"));
    if clean.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&clean[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

impl TlsShared {
    pub fn new(input: &TlsInput<'_>) -> Result<Arc<Self>, StoqError> {
        let mut base_provider = aws_lc_rs::default_provider();
        base_provider.kx_groups = kx_groups(input.require_pq_kex);
        let provider = Arc::new(base_provider.clone());

        let certified = match (input.cert_chain_pem, input.key_pem) {
            (Some(chain), Some(key)) => Some(certified_key(&provider, chain, key)?),
            (None, None) if !input.server => None,
            (None, None) => return Err(tls_err("a listening endpoint needs certChainPem and keyPem")),
            _ => return Err(tls_err("certChainPem and keyPem go together: give both or (client-only, enrolling) neither")),
        };

        let roots = match input.trust_roots_pem {
            None => None,
            Some(pem) => {
                let mut roots = RootCertStore::empty();
                for (i, root) in parse_certs(pem, "trustRootsPem")?.into_iter().enumerate() {
                    roots
                        .add(root)
                        .map_err(|e| tls_err(format!("trust root #{i} in trustRootsPem is not a usable CA certificate: {e}")))?;
                }
                Some(Arc::new(roots))
            }
        };
        let server_verifier: Arc<dyn ServerCertVerifier> = match (&roots, input.trust_root_sha256) {
            (Some(_), Some(_)) => return Err(tls_err("give trustRootsPem or trustRootSha256, not both")),
            (None, None) => return Err(tls_err("trustRootsPem is missing (or, to enroll, trustRootSha256)")),
            (None, Some(pin)) => Arc::new(PinnedRootVerifier::new(parse_pin(pin)?, provider.clone())),
            (Some(roots), None) => WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
                .build()
                .map_err(|e| tls_err(format!("cannot build the server certificate verifier: {e}")))?,
        };
        let client_verifier = match (&roots, input.server) {
            (_, false) => None,
            (None, true) => return Err(tls_err("a listening endpoint needs trustRootsPem to verify its clients")),
            (Some(roots), true) => {
                let builder = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider);
                let builder = if input.accept_anonymous_clients { builder.allow_unauthenticated() } else { builder };
                Some(builder.build().map_err(|e| tls_err(format!("cannot build the client certificate verifier: {e}")))?)
            }
        };

        let client_sessions = Arc::new(RenewableClientSessions::new(CLIENT_SESSION_CACHE));
        Ok(Arc::new(Self {
            base_provider,
            identity: Arc::new(LiveIdentity::new(certified)),
            server_verifier,
            client_verifier,
            alpn: parse_alpn(input.alpn)?,
            client_resumption: Resumption::store(client_sessions.clone()),
            client_sessions,
            // Stateful: rustls accepts 0-RTT only with stateful resumption (single-use, anti-replay).
            server_sessions: Arc::new(RenewableServerSessions::new(SERVER_SESSION_CACHE)),
            zero_rtt: input.zero_rtt,
            strict: input.require_pq_kex,
        }))
    }

    /// Swaps the endpoint's own chain and key; new handshakes use them, open connections keep theirs.
    pub fn replace_identity(&self, cert_chain_pem: &str, key_pem: &str) -> Result<(), StoqError> {
        let next = certified_key(&self.base_provider, cert_chain_pem, key_pem)?;
        self.identity.replace(next);
        self.server_sessions.forget_all();
        self.client_sessions.forget_all();
        Ok(())
    }

    fn provider_with(&self, groups: Vec<&'static dyn SupportedKxGroup>) -> Arc<CryptoProvider> {
        let mut p = self.base_provider.clone();
        p.kx_groups = groups;
        Arc::new(p)
    }

    pub fn client_config(
        &self,
        groups: Vec<&'static dyn SupportedKxGroup>,
        transport: Arc<quinn::TransportConfig>,
    ) -> Result<quinn::ClientConfig, StoqError> {
        let mut tls = rustls::ClientConfig::builder_with_provider(self.provider_with(groups))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| tls_err(format!("TLS 1.3 unavailable: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(self.server_verifier.clone())
            .with_client_cert_resolver(self.identity.clone());
        tls.alpn_protocols = self.alpn.clone();
        tls.resumption = self.client_resumption.clone();
        tls.enable_early_data = self.zero_rtt;
        let quic = QuicClientConfig::try_from(tls).map_err(|e| tls_err(format!("QUIC-incompatible client TLS config: {e}")))?;
        let mut cfg = quinn::ClientConfig::new(Arc::new(quic));
        cfg.transport_config(transport);
        Ok(cfg)
    }

    pub fn server_crypto(
        &self,
        groups: Vec<&'static dyn SupportedKxGroup>,
    ) -> Result<Arc<QuicServerConfig>, StoqError> {
        let mut tls = rustls::ServerConfig::builder_with_provider(self.provider_with(groups))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| tls_err(format!("TLS 1.3 unavailable: {e}")))?
            .with_client_cert_verifier(
                self.client_verifier.clone().ok_or_else(|| tls_err("this endpoint was not set up to accept connections"))?,
            )
            .with_cert_resolver(self.identity.clone());
        tls.alpn_protocols = self.alpn.clone();
        tls.session_storage = self.server_sessions.clone();
        // QUIC allows only 0 or u32::MAX here.
        tls.max_early_data_size = if self.zero_rtt { u32::MAX } else { 0 };
        let quic = QuicServerConfig::try_from(tls).map_err(|e| tls_err(format!("QUIC-incompatible server TLS config: {e}")))?;
        Ok(Arc::new(quic))
    }
}

/// Lease pool whose configs record the negotiated group; `server_base` (when accepting) supplies
/// the transport/token settings every incoming connection shares.
pub fn lease_pool(
    tls: Arc<TlsShared>,
    transport: Arc<quinn::TransportConfig>,
    server_base: Option<quinn::ServerConfig>,
) -> Arc<KexLeasePool> {
    let groups = kx_groups(tls.strict);
    KexLeasePool::new(
        groups,
        Box::new(move |groups: Vec<&'static dyn SupportedKxGroup>| {
            let client = tls.client_config(groups.clone(), transport.clone())?;
            let server = match &server_base {
                None => None,
                Some(base) => {
                    let mut cfg = base.clone();
                    cfg.crypto = tls.server_crypto(groups)?;
                    Some(Arc::new(cfg))
                }
            };
            Ok(LeaseConfigs { client, server })
        }),
    )
}
