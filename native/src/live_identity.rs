//! The endpoint's own certificate chain and key, replaceable while the endpoint runs.
//!
//! rustls asks a resolver for the certificate at every handshake, and the configs every lease
//! shares hold this one resolver, so swapping what it holds changes the identity for new
//! handshakes only: connections already up keep the chain they authenticated with (TLS never
//! re-sends it). A client-only endpoint may have no identity (bootstrap enrollment); it then
//! sends no certificate.

use rustls::client::{ClientSessionMemoryCache, ClientSessionStore, ResolvesClientCert, Tls12ClientSessionValue, Tls13ClientSessionValue};
use rustls::pki_types::ServerName;
use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache, StoresServerSessions};
use rustls::sign::CertifiedKey;
use rustls::{NamedGroup, SignatureScheme};
use std::sync::{Arc, RwLock};

#[derive(Debug, Default)]
pub struct LiveIdentity {
    current: RwLock<Option<Arc<CertifiedKey>>>,
}

impl LiveIdentity {
    pub fn new(initial: Option<CertifiedKey>) -> Self {
        Self { current: RwLock::new(initial.map(Arc::new)) }
    }

    pub fn replace(&self, next: CertifiedKey) {
        *self.current.write().unwrap() = Some(Arc::new(next));
    }

    pub fn get(&self) -> Option<Arc<CertifiedKey>> {
        self.current.read().unwrap().clone()
    }
}

impl ResolvesServerCert for LiveIdentity {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.get()
    }
}

impl ResolvesClientCert for LiveIdentity {
    fn resolve(&self, _root_hint_subjects: &[&[u8]], sigschemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        let key = self.get()?;
        // Offer the certificate only if the server accepts our key's signature scheme.
        key.key.choose_scheme(sigschemes).map(|_| key.clone())
    }

    fn has_certs(&self) -> bool {
        self.current.read().unwrap().is_some()
    }
}

/// Resumed TLS sessions skip the certificate: a client resuming after a renewal would still be
/// known by (and know the server by) the old chain. So both session caches start over whenever
/// the identity is replaced; the next handshake with each peer is a full one.
#[derive(Debug)]
pub struct RenewableServerSessions {
    size: usize,
    inner: RwLock<Arc<ServerSessionMemoryCache>>,
}

impl RenewableServerSessions {
    pub fn new(size: usize) -> Self {
        Self { size, inner: RwLock::new(ServerSessionMemoryCache::new(size)) }
    }

    pub fn forget_all(&self) {
        *self.inner.write().unwrap() = ServerSessionMemoryCache::new(self.size);
    }

    fn cache(&self) -> Arc<ServerSessionMemoryCache> {
        self.inner.read().unwrap().clone()
    }
}

impl StoresServerSessions for RenewableServerSessions {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.cache().put(key, value)
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.cache().get(key)
    }
    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.cache().take(key)
    }
    fn can_cache(&self) -> bool {
        true
    }
}

/// The client-side twin of [`RenewableServerSessions`].
#[derive(Debug)]
pub struct RenewableClientSessions {
    size: usize,
    inner: RwLock<Arc<ClientSessionMemoryCache>>,
}

impl RenewableClientSessions {
    pub fn new(size: usize) -> Self {
        Self { size, inner: RwLock::new(Arc::new(ClientSessionMemoryCache::new(size))) }
    }

    pub fn forget_all(&self) {
        *self.inner.write().unwrap() = Arc::new(ClientSessionMemoryCache::new(self.size));
    }

    fn cache(&self) -> Arc<ClientSessionMemoryCache> {
        self.inner.read().unwrap().clone()
    }
}

impl ClientSessionStore for RenewableClientSessions {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.cache().set_kx_hint(server_name, group)
    }
    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.cache().kx_hint(server_name)
    }
    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.cache().set_tls12_session(server_name, value)
    }
    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.cache().tls12_session(server_name)
    }
    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.cache().remove_tls12_session(server_name)
    }
    fn insert_tls13_ticket(&self, server_name: ServerName<'static>, value: Tls13ClientSessionValue) {
        self.cache().insert_tls13_ticket(server_name, value)
    }
    fn take_tls13_ticket(&self, server_name: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        self.cache().take_tls13_ticket(server_name)
    }
}
