//! Per-connection record of the negotiated TLS key-exchange group.
//!
//! quinn does not expose rustls' negotiated group, and rustls only accepts `&'static` key-exchange
//! groups. So each *lease* owns a set of leaked, recording wrappers around the real aws-lc-rs
//! groups plus the rustls/quinn configs built from them. A handshake borrows a lease, points it at
//! its connection's `KexSlot`, and gives it back when the handshake ends. Leases are reused, so
//! the leaked memory is bounded by the peak number of concurrent handshakes (a few hundred bytes
//! each), not by the number of connections ever made. Session caches, verifiers and keys are
//! shared by every lease (they live in `tls::TlsShared`), so resumption and 0-RTT work across
//! connections.

use rustls::crypto::{ActiveKeyExchange, CompletedKeyExchange, SharedSecret, SupportedKxGroup};
use rustls::ffdhe_groups::FfdheGroup;
use rustls::{NamedGroup, ProtocolVersion, SupportedProtocolVersion};
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::error::StoqError;

/// Where one connection's negotiated group is written.
#[derive(Default, Debug)]
pub struct KexSlot(Mutex<Option<NamedGroup>>);

impl KexSlot {
    fn record(&self, group: NamedGroup) {
        *self.0.lock().unwrap() = Some(group);
    }

    /// rustls' name for the group: "X25519MLKEM768", "X25519", "secp256r1", ...
    pub fn name(&self) -> Option<String> {
        self.0.lock().unwrap().map(|g| format!("{g:?}"))
    }
}

/// The slot the lease currently reports to (None while the lease sits in the pool).
#[derive(Default)]
struct LeaseTarget(Mutex<Option<Arc<KexSlot>>>);

impl LeaseTarget {
    fn current(&self) -> Option<Arc<KexSlot>> {
        self.0.lock().unwrap().clone()
    }
}

struct RecordingGroup {
    inner: &'static dyn SupportedKxGroup,
    target: &'static LeaseTarget,
}

impl fmt::Debug for RecordingGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recording({:?})", self.inner)
    }
}

impl SupportedKxGroup for RecordingGroup {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        let inner = self.inner.start()?;
        Ok(Box::new(RecordingActive { inner, slot: self.target.current() }))
    }

    // Server side: aws-lc-rs overrides this for ML-KEM (encapsulation, not key generation), so
    // it must be forwarded rather than left to the default start()+complete().
    fn start_and_complete(&self, peer_pub_key: &[u8]) -> Result<CompletedKeyExchange, rustls::Error> {
        let done = self.inner.start_and_complete(peer_pub_key)?;
        if let Some(slot) = self.target.current() {
            slot.record(done.group);
        }
        Ok(done)
    }

    fn ffdhe_group(&self) -> Option<FfdheGroup<'static>> {
        self.inner.ffdhe_group()
    }

    fn name(&self) -> NamedGroup {
        self.inner.name()
    }

    fn fips(&self) -> bool {
        self.inner.fips()
    }

    fn usable_for_version(&self, version: ProtocolVersion) -> bool {
        self.inner.usable_for_version(version)
    }
}

struct RecordingActive {
    inner: Box<dyn ActiveKeyExchange>,
    slot: Option<Arc<KexSlot>>,
}

impl ActiveKeyExchange for RecordingActive {
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, rustls::Error> {
        let group = self.inner.group();
        let slot = self.slot;
        let secret = self.inner.complete(peer_pub_key)?;
        RecordingActive::record_into(&slot, group);
        Ok(secret)
    }

    fn complete_for_tls_version(
        self: Box<Self>,
        peer_pub_key: &[u8],
        tls_version: &SupportedProtocolVersion,
    ) -> Result<SharedSecret, rustls::Error> {
        let group = self.inner.group();
        let slot = self.slot;
        let secret = self.inner.complete_for_tls_version(peer_pub_key, tls_version)?;
        RecordingActive::record_into(&slot, group);
        Ok(secret)
    }

    // Client side of a hybrid share: the server may pick the classical component (X25519).
    fn hybrid_component(&self) -> Option<(NamedGroup, &[u8])> {
        self.inner.hybrid_component()
    }

    fn complete_hybrid_component(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, rustls::Error> {
        let group = self.inner.hybrid_component().map(|(g, _)| g);
        let slot = self.slot;
        let secret = self.inner.complete_hybrid_component(peer_pub_key)?;
        if let Some(g) = group {
            RecordingActive::record_into(&slot, g);
        }
        Ok(secret)
    }

    fn pub_key(&self) -> &[u8] {
        self.inner.pub_key()
    }

    fn ffdhe_group(&self) -> Option<FfdheGroup<'static>> {
        self.inner.ffdhe_group()
    }

    fn group(&self) -> NamedGroup {
        self.inner.group()
    }
}

impl RecordingActive {
    fn record_into(slot: &Option<Arc<KexSlot>>, group: NamedGroup) {
        if let Some(s) = slot {
            s.record(group);
        }
    }
}

/// Leaks one recording wrapper per group, all reporting to `target`.
fn recording_groups(
    groups: &[&'static dyn SupportedKxGroup],
    target: &'static LeaseTarget,
) -> Vec<&'static dyn SupportedKxGroup> {
    groups
        .iter()
        .map(|&inner| {
            let g: &'static dyn SupportedKxGroup = Box::leak(Box::new(RecordingGroup { inner, target }));
            g
        })
        .collect()
}

/// The configs one lease hands to quinn.
pub struct LeaseConfigs {
    pub client: quinn::ClientConfig,
    pub server: Option<Arc<quinn::ServerConfig>>,
}

/// Builds a lease's configs from its (recording) key-exchange groups.
pub type ConfigFactory =
    dyn Fn(Vec<&'static dyn SupportedKxGroup>) -> Result<LeaseConfigs, StoqError> + Send + Sync;

struct PooledLease {
    target: &'static LeaseTarget,
    configs: Arc<LeaseConfigs>,
}

pub struct KexLeasePool {
    groups: Vec<&'static dyn SupportedKxGroup>,
    factory: Box<ConfigFactory>,
    free: Mutex<Vec<PooledLease>>,
}

impl KexLeasePool {
    pub fn new(groups: Vec<&'static dyn SupportedKxGroup>, factory: Box<ConfigFactory>) -> Arc<Self> {
        Arc::new(Self { groups, factory, free: Mutex::new(Vec::new()) })
    }

    fn build(&self) -> Result<PooledLease, StoqError> {
        let target: &'static LeaseTarget = Box::leak(Box::default());
        let groups = recording_groups(&self.groups, target);
        Ok(PooledLease { target, configs: Arc::new((self.factory)(groups)?) })
    }

    /// Borrows a lease whose key exchanges report into `slot` until the lease is dropped.
    pub fn acquire(self: &Arc<Self>, slot: Arc<KexSlot>) -> Result<KexLease, StoqError> {
        let pooled = self.free.lock().unwrap().pop();
        let entry = match pooled {
            Some(e) => e,
            None => self.build()?,
        };
        *entry.target.0.lock().unwrap() = Some(slot);
        Ok(KexLease { pool: self.clone(), entry: Some(entry) })
    }

    /// Builds the first lease eagerly so TLS configuration errors surface at bind time.
    pub fn warm(self: &Arc<Self>) -> Result<(), StoqError> {
        let lease = self.build()?;
        self.free.lock().unwrap().push(lease);
        Ok(())
    }
}

pub struct KexLease {
    pool: Arc<KexLeasePool>,
    entry: Option<PooledLease>,
}

impl KexLease {
    pub fn configs(&self) -> &LeaseConfigs {
        &self.entry.as_ref().expect("lease present until drop").configs
    }
}

impl Drop for KexLease {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            *entry.target.0.lock().unwrap() = None;
            self.pool.free.lock().unwrap().push(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    //! In-memory rustls handshakes (no sockets) over every path a group can be chosen by.
    use super::*;
    use crate::tls::kx_groups;
    use rustls::crypto::aws_lc_rs::{self, kx_group};
    use rustls::crypto::CryptoProvider;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use rustls::{ClientConnection, RootCertStore, ServerConnection};

    const CA: &str = include_str!("testdata/ca.pem");
    const LEAF: &str = include_str!("testdata/leaf.pem");
    const KEY: &str = include_str!("testdata/leaf.key");

    fn provider(groups: Vec<&'static dyn SupportedKxGroup>) -> Arc<CryptoProvider> {
        let mut p = aws_lc_rs::default_provider();
        p.kx_groups = groups;
        Arc::new(p)
    }

    fn recorded(groups: &[&'static dyn SupportedKxGroup]) -> (Vec<&'static dyn SupportedKxGroup>, Arc<KexSlot>) {
        let target: &'static LeaseTarget = Box::leak(Box::default());
        let slot = Arc::new(KexSlot::default());
        *target.0.lock().unwrap() = Some(slot.clone());
        (recording_groups(groups, target), slot)
    }

    fn flush<D>(conn: &mut rustls::ConnectionCommon<D>) -> Vec<u8> {
        let mut buf = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut buf).unwrap();
        }
        buf
    }

    fn feed<D>(conn: &mut rustls::ConnectionCommon<D>, mut data: &[u8]) -> Result<(), rustls::Error> {
        while !data.is_empty() {
            conn.read_tls(&mut data).unwrap();
            conn.process_new_packets()?;
        }
        Ok(())
    }

    /// Runs a TLS 1.3 handshake between the two group lists; Err is the first side's error.
    fn handshake(
        client_groups: Vec<&'static dyn SupportedKxGroup>,
        server_groups: Vec<&'static dyn SupportedKxGroup>,
    ) -> Result<(), rustls::Error> {
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(CA.as_bytes()).unwrap()).unwrap();
        let client_cfg = rustls::ClientConfig::builder_with_provider(provider(client_groups))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server_cfg = rustls::ServerConfig::builder_with_provider(provider(server_groups))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from_pem_slice(LEAF.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(KEY.as_bytes()).unwrap(),
            )
            .unwrap();
        let mut c = ClientConnection::new(Arc::new(client_cfg), ServerName::try_from("localhost").unwrap()).unwrap();
        let mut s = ServerConnection::new(Arc::new(server_cfg)).unwrap();
        for _ in 0..10 {
            let to_server = flush(&mut c);
            feed(&mut s, &to_server)?;
            let to_client = flush(&mut s);
            feed(&mut c, &to_client)?;
            if !c.is_handshaking() && !s.is_handshaking() {
                return Ok(());
            }
        }
        panic!("handshake did not finish in 10 flights");
    }

    fn negotiate(
        client: &[&'static dyn SupportedKxGroup],
        server: &[&'static dyn SupportedKxGroup],
    ) -> (Option<String>, Option<String>) {
        let (cg, cslot) = recorded(client);
        let (sg, sslot) = recorded(server);
        handshake(cg, sg).expect("handshake");
        (cslot.name(), sslot.name())
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn hybrid_group_is_preferred_and_recorded_on_both_sides() {
        let both = negotiate(&kx_groups(false), &kx_groups(false));
        assert_eq!(both, (some("X25519MLKEM768"), some("X25519MLKEM768")));
        let strict = negotiate(&kx_groups(true), &kx_groups(true));
        assert_eq!(strict, (some("X25519MLKEM768"), some("X25519MLKEM768")));
    }

    #[test]
    fn classical_fallbacks_are_recorded() {
        // Classical-only client.
        assert_eq!(negotiate(&[kx_group::X25519], &kx_groups(false)), (some("X25519"), some("X25519")));
        // Server picks the X25519 component of the client's hybrid key share.
        assert_eq!(negotiate(&kx_groups(false), &[kx_group::X25519]), (some("X25519"), some("X25519")));
        // HelloRetryRequest: the client's second key share is recorded.
        assert_eq!(negotiate(&kx_groups(false), &[kx_group::SECP256R1]), (some("secp256r1"), some("secp256r1")));
    }

    #[test]
    fn strict_mode_refuses_classical_peers() {
        let err = handshake(vec![kx_group::X25519, kx_group::SECP256R1], kx_groups(true)).unwrap_err();
        assert!(err.to_string().contains("NoKxGroupsInCommon"), "{err}");
        let err = handshake(kx_groups(true), vec![kx_group::X25519, kx_group::SECP256R1]).unwrap_err();
        assert!(err.to_string().contains("NoKxGroupsInCommon"), "{err}");
    }
}
