//! `QuicEndpoint`: one IPv6 UDP socket running quinn, usable as client and (optionally) server.

mod udp;

use crate::addr::{parse_ipv6_socket_addr, AddrUse};
use crate::connection::{ConnShared, HandshakeOutcome, QuicConnection};
use crate::error::{
    js_error, Coded, Code, StoqError, BIND_FAILED, ENDPOINT_CLOSED, HANDSHAKE_FAILED, INVALID_ARGUMENT, NOT_ACCEPTING,
};
use crate::kex::{KexLeasePool, KexSlot};
use crate::state::EndpointState;
use crate::tls::{kx_groups, lease_pool, TlsInput, TlsShared};
use crate::util::{app_code, describe_connection_error, opt_integer};
use napi_derive::napi;
use quinn::{IdleTimeout, MtuDiscoveryConfig, TransportConfig, VarInt};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{SocketAddr, SocketAddrV6};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, watch, Mutex};

/// Handshaken connections waiting for `accept()`.
const ACCEPT_BACKLOG: usize = 1024;
/// Refused incoming handshakes waiting for `nextRefusal()`; beyond it they are only counted.
const REFUSAL_BACKLOG: usize = 256;
/// Socket buffers large enough for bulk transfer bursts (the kernel may cap them).
const SOCKET_BUFFER: usize = 8 * 1024 * 1024;
/// Default MTU-discovery ceiling. On loopback (MTU 65536) 4096 gives ~1.7x the bulk throughput
/// of quinn's 1452. Higher ceilings gain a little more throughput but slow the connection set-up:
/// MTU probes go out right after the TLS handshake, drain quinn's pacing tokens, and the next
/// packet of the FALCON exchange waits for a refill sized by the new MTU (measured on loopback:
/// connect +0.2 ms at 4096, +1 ms at 9000, +2 ms at 16384, +10 ms at 65527). They also grow
/// quinn's receive buffer (this × 64 GRO segments × 32 datagrams per endpoint). On a 1500-byte
/// path, probes above the interface MTU fail locally (EMSGSIZE) and discovery settles below it
/// (1380 with MTU_MINIMUM_CHANGE).
const DEFAULT_MAX_UDP_PAYLOAD: u64 = 4096;
/// Streams a peer may have open at once (as stoq-core's config default). quinn allocates the
/// state of every one of them when a connection starts (4096 was 8,192 hash-map inserts per
/// connection, a tenth of a short-lived connection's CPU).
const DEFAULT_MAX_CONCURRENT_BIDI_STREAMS: u64 = 256;
/// MTU discovery's binary search stops once its next probe would differ from the last by less
/// than this, then tries the ceiling itself if that is this far away (quinn-proto mtud.rs).
/// quinn's default, 20 bytes, costs 8 probes of 2.6–4 KiB on loopback, each parsed by the peer
/// one PADDING byte at a time. By that rule (worked out, not measured) 128 takes 5 (2648, 3372,
/// 3734, 3915, 4096) and on a 1500-byte path (1452 bytes of UDP payload) ends at 1380, against
/// 1446 with quinn's default; 512 took 3 on loopback but stopped at 1200 on such a path.
const MTU_MINIMUM_CHANGE: u16 = 128;
/// The largest UDP payload IPv6 carries without jumbograms.
const MAX_UDP_PAYLOAD: u64 = 65_527;

#[napi(object)]
pub struct TlsOptions {
    /// PEM, leaf first, then intermediates. Absent only on a client-only endpoint that enrolls
    /// (it then sends no certificate).
    pub cert_chain_pem: Option<String>,
    /// PEM private key (PKCS#8; ECDSA P-256/P-384 or Ed25519). With certChainPem.
    pub key_pem: Option<String>,
    /// One or more CA certificates (PEM, concatenated). Required to listen.
    pub trust_roots_pem: Option<String>,
    /// Client-only alternative to trustRootsPem, for enrollment: trust the server chain whose
    /// root (sent by the server in its chain) has this SHA-256 fingerprint (64 hex digits).
    pub trust_root_sha256: Option<String>,
    /// Server: also accept clients that present no certificate (default false). Their
    /// connections carry no peer identity; the layers above admit them only where allowed.
    pub accept_anonymous_clients: Option<bool>,
    /// Default ["stoq/1"]; the handshake fails if the peer offers no match.
    pub alpn: Option<Vec<String>>,
    /// Offer/accept only X25519MLKEM768 (default false: prefer it, allow X25519/secp256r1).
    pub require_pq_kex: Option<bool>,
}

#[napi(object)]
pub struct EndpointOptions {
    /// "[::1]:0" style IPv6 socket address.
    pub bind: String,
    pub tls: TlsOptions,
    /// Server role (the endpoint can always dial too).
    pub accept_incoming: bool,
    /// Default 30000; 0 disables the idle timeout.
    pub idle_timeout_ms: Option<f64>,
    /// Default 5000; 0 disables keep-alives.
    pub keep_alive_ms: Option<f64>,
    /// Default 256.
    pub max_concurrent_bidi_streams: Option<f64>,
    /// Path-MTU discovery (default true). false for an endpoint whose connections carry one
    /// request: the probes cost both sides CPU and never pay off; datagrams stay at 1200 bytes.
    pub mtu_discovery: Option<bool>,
    /// Server: accept early data; client: allow 0-RTT when `connect(.., true)` asks.
    pub enable_zero_rtt: Option<bool>,
    /// Connection receive window in bytes (default 16 MiB).
    pub receive_window: Option<f64>,
    /// Per-stream receive window in bytes (default 8 MiB).
    pub stream_receive_window: Option<f64>,
    /// Send buffer in bytes (default 16 MiB).
    pub send_window: Option<f64>,
    /// Largest UDP payload this endpoint accepts and lets path-MTU discovery probe for, in bytes
    /// (1200..=65527, default 4096). Discovery starts at 1200 and keeps only sizes the peer
    /// acknowledged, so a high value is safe on any path; it pays off on loopback and jumbo-frame
    /// links. The effective bound is the lower of both peers' values.
    pub max_udp_payload: Option<f64>,
    /// Client: `connect()` resolves only once the server has confirmed the handshake (default
    /// true), i.e. accepted our certificate. `false` resolves as soon as our side of TLS is done,
    /// for callers whose next exchange proves acceptance anyway (StoqTransport's FALCON exchange):
    /// a refused certificate then surfaces as the connection closing with the server's TLS alert.
    pub wait_for_confirmation: Option<bool>,
}

#[napi(object)]
pub struct EndpointStats {
    pub open_connections: f64,
    pub accepted_connections: f64,
    pub dialed_connections: f64,
    pub handshake_failures: f64,
    /// Includes closed connections.
    pub bytes_sent: f64,
    pub bytes_received: f64,
}

struct EndpointShared {
    endpoint: quinn::Endpoint,
    /// Holds the live identity that `replaceIdentity` swaps.
    tls: Arc<TlsShared>,
    pool: Arc<KexLeasePool>,
    state: Arc<EndpointState>,
    accept_rx: Option<Mutex<mpsc::Receiver<Arc<ConnShared>>>>,
    /// Refused incoming handshakes (remote address, reason), for `nextRefusal()`.
    refusal_rx: Option<Mutex<mpsc::Receiver<HandshakeRefusal>>>,
    closed: watch::Sender<bool>,
    /// EndpointOptions.waitForConfirmation.
    wait_for_confirmation: bool,
}

impl EndpointShared {
    fn register(&self, conn: quinn::Connection, kex: Arc<KexSlot>, zero_rtt: bool, hs: watch::Receiver<Option<HandshakeOutcome>>) -> Arc<ConnShared> {
        self.state.track(&conn);
        ConnShared::new(conn, kex, zero_rtt, hs, self.state.clone())
    }

    /// The next item of `rx`, or None once the endpoint is closed (whatever is still queued).
    async fn recv_until_closed<T>(&self, rx: &Mutex<mpsc::Receiver<T>>) -> Option<T> {
        let mut closed = self.closed.subscribe();
        if *closed.borrow() {
            return None;
        }
        let mut rx = rx.lock().await;
        tokio::select! {
            biased;
            _ = closed.wait_for(|c| *c) => None,
            item = rx.recv() => item,
        }
    }

    async fn handshake_incoming(&self, incoming: quinn::Incoming) -> Result<Arc<ConnShared>, String> {
        let slot = Arc::new(KexSlot::default());
        let lease = self.pool.acquire(slot.clone()).map_err(|e| e.to_string())?;
        let server = lease.configs().server.clone().ok_or("endpoint does not accept connections")?;
        let connecting = incoming.accept_with(server).map_err(|e| describe_connection_error(&e))?;
        // Awaiting the whole handshake means the client certificate is verified before the
        // application sees the connection; 0-RTT stream data is still accepted and buffered.
        let conn = connecting.await.map_err(|e| describe_connection_error(&e))?;
        drop(lease);
        let (_, hs) = watch::channel(Some(Ok(false)));
        Ok(self.register(conn, slot, false, hs))
    }
}

/// quinn gives every endpoint a zeroed receive buffer of max_udp_payload × GRO segments (64) ×
/// recvmmsg batch (32): 8 MiB at the default 4096. glibc serves that with a fresh mmap (zero
/// pages, faulted in only where datagrams land) until the first such buffer is freed; then its
/// dynamic threshold rises above 8 MiB and every later buffer comes from the heap, memset to
/// zero and faulted in whole: 1 ms per endpoint at the median and 20+ ms at p99 for a process
/// that opens and closes endpoints (each enrollment does). Fixing the threshold (which turns
/// the dynamic adjustment off) at 1 MiB keeps them on mmap: with GRO they are 2.4 MiB (at the
/// smallest payload, 1200) or more. Process-wide, once; allocations below 1 MiB come from the
/// heap, as they would anyway once glibc's dynamic threshold had risen.
fn fix_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: mallopt only changes allocator tuning; it is thread-safe in glibc.
        ONCE.call_once(|| unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
        });
    }
}

fn max_udp_payload(opts: &EndpointOptions) -> napi::Result<u16, Code> {
    let v = opt_integer("maxUdpPayload", opts.max_udp_payload, DEFAULT_MAX_UDP_PAYLOAD, 1200, MAX_UDP_PAYLOAD)?;
    Ok(u16::try_from(v).expect("bounded"))
}

fn build_transport(opts: &EndpointOptions) -> napi::Result<TransportConfig, Code> {
    const MAX_WINDOW: u64 = 1 << 30;
    let idle = opt_integer("idleTimeoutMs", opts.idle_timeout_ms, 30_000, 0, 24 * 3600 * 1000)?;
    let keep_alive = opt_integer("keepAliveMs", opts.keep_alive_ms, 5_000, 0, 24 * 3600 * 1000)?;
    let streams = opt_integer("maxConcurrentBidiStreams", opts.max_concurrent_bidi_streams, DEFAULT_MAX_CONCURRENT_BIDI_STREAMS, 0, 1 << 20)?;
    let recv_window = opt_integer("receiveWindow", opts.receive_window, 16 << 20, 1024, MAX_WINDOW)?;
    let stream_window = opt_integer("streamReceiveWindow", opts.stream_receive_window, 8 << 20, 1024, MAX_WINDOW)?;
    let send_window = opt_integer("sendWindow", opts.send_window, 16 << 20, 1024, MAX_WINDOW)?;
    let max_payload = max_udp_payload(opts)?;

    let mut t = TransportConfig::default();
    t.max_concurrent_bidi_streams(VarInt::from_u64(streams).expect("bounded"));
    // STOQ uses bidirectional streams only.
    t.max_concurrent_uni_streams(VarInt::from_u32(0));
    t.max_idle_timeout(if idle == 0 {
        None
    } else {
        Some(IdleTimeout::try_from(Duration::from_millis(idle)).expect("bounded"))
    });
    t.keep_alive_interval(if keep_alive == 0 { None } else { Some(Duration::from_millis(keep_alive)) });
    t.receive_window(VarInt::from_u64(recv_window).expect("bounded"));
    t.stream_receive_window(VarInt::from_u64(stream_window).expect("bounded"));
    t.send_window(send_window);
    if opts.mtu_discovery == Some(false) {
        t.mtu_discovery_config(None);
    } else {
        let mut mtu = MtuDiscoveryConfig::default();
        mtu.upper_bound(max_payload);
        mtu.minimum_change(MTU_MINIMUM_CHANGE);
        t.mtu_discovery_config(Some(mtu));
    }
    Ok(t)
}

fn bind_socket(addr: SocketAddrV6, input: &str) -> Result<std::net::UdpSocket, StoqError> {
    let fail = |what: &str, e: std::io::Error| StoqError::new(BIND_FAILED, format!("{what} for {input}: {e}"));
    let sock = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)).map_err(|e| fail("cannot create an IPv6 UDP socket", e))?;
    sock.set_only_v6(true).map_err(|e| fail("cannot set IPV6_V6ONLY", e))?;
    // Best effort: larger buffers help bulk transfer; the kernel may clamp them.
    let _ = sock.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = sock.set_send_buffer_size(SOCKET_BUFFER);
    sock.set_nonblocking(true).map_err(|e| fail("cannot make the socket non-blocking", e))?;
    sock.bind(&SocketAddr::V6(addr).into()).map_err(|e| fail("cannot bind", e))?;
    Ok(sock.into())
}

/// Waits until the client's handshake is *confirmed* (HANDSHAKE_DONE received, RFC 9001 §4.1.2).
/// A TLS 1.3 client finishes its side before the server has checked the client certificate;
/// only confirmation proves the server accepted us. quinn has no event for it, so this polls
/// the received-frame counter (cheap: one lock) until it moves or the connection dies.
async fn await_confirmed(conn: &quinn::Connection) -> Result<(), quinn::ConnectionError> {
    const STEP: Duration = Duration::from_millis(1);
    loop {
        if conn.stats().frame_rx.handshake_done > 0 {
            return Ok(());
        }
        if let Some(e) = conn.close_reason() {
            return Err(e);
        }
        tokio::select! {
            e = conn.closed() => return Err(e),
            _ = tokio::time::sleep(STEP) => {}
        }
    }
}

/// An incoming handshake this endpoint refused (TLS: untrusted issuer, no client certificate,
/// no common key-exchange group or ALPN, ...).
#[napi(object)]
pub struct HandshakeRefusal {
    /// "[2001:db8::1]:51234"
    pub remote: String,
    /// What went wrong, as quinn/rustls describe it.
    pub reason: String,
}

async fn accept_loop(
    endpoint: quinn::Endpoint,
    shared: Weak<EndpointShared>,
    tx: mpsc::Sender<Arc<ConnShared>>,
    refusals: mpsc::Sender<HandshakeRefusal>,
) {
    while let Some(incoming) = endpoint.accept().await {
        let Some(shared) = shared.upgrade() else {
            incoming.refuse();
            break;
        };
        let tx = tx.clone();
        let refusals = refusals.clone();
        napi::bindgen_prelude::spawn(async move {
            let remote = incoming.remote_address().to_string();
            match shared.handshake_incoming(incoming).await {
                Ok(conn) => {
                    EndpointState::count(&shared.state.accepted);
                    // A send error means the endpoint is closing; the connection is dropped.
                    let _ = tx.send(conn).await;
                }
                Err(reason) => {
                    EndpointState::count(&shared.state.handshake_failures);
                    // Never waits: a flood of refusals is counted, not queued without end.
                    let _ = refusals.try_send(HandshakeRefusal { remote, reason });
                }
            }
        });
    }
}

#[napi]
pub struct QuicEndpoint {
    inner: Arc<EndpointShared>,
}

#[napi]
impl QuicEndpoint {
    /// Binds an IPv6 UDP socket (IPV6_V6ONLY) and starts the QUIC endpoint.
    #[napi(factory)]
    pub fn bind(opts: EndpointOptions) -> napi::Result<QuicEndpoint, Code> {
        fix_mmap_threshold();
        let addr = parse_ipv6_socket_addr(&opts.bind, AddrUse::Bind)?;
        let zero_rtt = opts.enable_zero_rtt.unwrap_or(false);
        let tls = TlsShared::new(&TlsInput {
            cert_chain_pem: opts.tls.cert_chain_pem.as_deref(),
            key_pem: opts.tls.key_pem.as_deref(),
            trust_roots_pem: opts.tls.trust_roots_pem.as_deref(),
            trust_root_sha256: opts.tls.trust_root_sha256.as_deref(),
            accept_anonymous_clients: opts.tls.accept_anonymous_clients.unwrap_or(false),
            server: opts.accept_incoming,
            alpn: opts.tls.alpn.as_deref(),
            require_pq_kex: opts.tls.require_pq_kex.unwrap_or(false),
            zero_rtt,
        })?;
        let transport = Arc::new(build_transport(&opts)?);
        let server_base = if opts.accept_incoming {
            let mut base = quinn::ServerConfig::with_crypto(tls.server_crypto(kx_groups(tls.strict))?);
            base.transport_config(transport.clone());
            Some(base)
        } else {
            None
        };
        let pool = lease_pool(tls.clone(), transport, server_base.clone());
        pool.warm()?;
        let socket = bind_socket(addr, &opts.bind)?;
        let mut endpoint_config = quinn::EndpointConfig::default();
        // Advertised to peers as max_udp_payload_size; also sizes quinn's receive buffers.
        endpoint_config.max_udp_payload_size(max_udp_payload(&opts)?).expect("1200..=65527 checked");
        let endpoint = napi::bindgen_prelude::within_runtime_if_available(|| {
            let runtime = Arc::new(quinn::TokioRuntime);
            let socket = udp::GsoBoundedSocket::wrap(runtime.as_ref(), socket)?;
            quinn::Endpoint::new_with_abstract_socket(endpoint_config, server_base, socket, runtime)
        })
        .map_err(|e| js_error(BIND_FAILED, format!("cannot start QUIC on {}: {e}", opts.bind)))?;

        let (accept_tx, accept_rx, refusal_tx, refusal_rx) = if opts.accept_incoming {
            let (tx, rx) = mpsc::channel(ACCEPT_BACKLOG);
            let (rtx, rrx) = mpsc::channel(REFUSAL_BACKLOG);
            (Some(tx), Some(Mutex::new(rx)), Some(rtx), Some(Mutex::new(rrx)))
        } else {
            (None, None, None, None)
        };
        let inner = Arc::new(EndpointShared {
            endpoint: endpoint.clone(),
            tls,
            pool,
            state: Arc::new(EndpointState::default()),
            accept_rx,
            refusal_rx,
            closed: watch::channel(false).0,
            wait_for_confirmation: opts.wait_for_confirmation.unwrap_or(true),
        });
        if let (Some(tx), Some(rtx)) = (accept_tx, refusal_tx) {
            napi::bindgen_prelude::spawn(accept_loop(endpoint, Arc::downgrade(&inner), tx, rtx));
        }
        Ok(QuicEndpoint { inner })
    }

    /// Bound address, "[::1]:54321".
    #[napi(getter)]
    pub fn local_addr(&self) -> napi::Result<String, Code> {
        self.inner
            .endpoint
            .local_addr()
            .map(|a| a.to_string())
            .map_err(|e| js_error(BIND_FAILED, format!("socket has no local address: {e}")))
    }

    /// Next fully handshaken incoming connection; null after close(). Failed incoming
    /// handshakes are counted in stats().handshakeFailures and do not reject.
    #[napi(ts_return_type = "Promise<QuicConnection | null>")]
    pub async fn accept(&self) -> napi::Result<Coded<Option<QuicConnection>>> {
        let Some(rx) = &self.inner.accept_rx else {
            return Ok(Coded(Err(js_error(NOT_ACCEPTING, "this endpoint was bound with acceptIncoming=false"))));
        };
        Ok(Coded(Ok(self.inner.recv_until_closed(rx).await.map(QuicConnection::from_shared))))
    }

    /// Next incoming handshake this endpoint refused; null after close(). At most 256 wait
    /// here; beyond that refusals are only counted (stats().handshakeFailures).
    #[napi(ts_return_type = "Promise<HandshakeRefusal | null>")]
    pub async fn next_refusal(&self) -> napi::Result<Coded<Option<HandshakeRefusal>>> {
        let Some(rx) = &self.inner.refusal_rx else {
            return Ok(Coded(Err(js_error(NOT_ACCEPTING, "this endpoint was bound with acceptIncoming=false"))));
        };
        Ok(Coded(Ok(self.inner.recv_until_closed(rx).await)))
    }

    /// Dials `addr` and verifies the server certificate against `serverName` (DNS name or IP
    /// literal). Resolves once the server confirmed the handshake, or as soon as our side of it
    /// is done with `waitForConfirmation: false`. With `zeroRtt` and a resumption ticket,
    /// resolves at once in 0-RTT state.
    #[napi(ts_return_type = "Promise<QuicConnection>")]
    pub async fn connect(&self, addr: String, server_name: String, zero_rtt: Option<bool>) -> napi::Result<Coded<QuicConnection>> {
        Ok(Coded(self.dial(addr, server_name, zero_rtt).await))
    }

    /// Replaces this endpoint's certificate chain and key (renewal, rekey). Handshakes that start
    /// afterwards use the new ones, as server and as client; open connections are not touched.
    /// The trust roots stay as they were.
    #[napi]
    pub fn replace_identity(&self, cert_chain_pem: String, key_pem: String) -> napi::Result<(), Code> {
        Ok(self.inner.tls.replace_identity(&cert_chain_pem, &key_pem)?)
    }

    /// Connection migration: moves the endpoint to a new IPv6 UDP socket; connections continue.
    #[napi]
    pub fn rebind(&self, addr: String) -> napi::Result<(), Code> {
        let target = parse_ipv6_socket_addr(&addr, AddrUse::Bind)?;
        let socket = bind_socket(target, &addr)?;
        napi::bindgen_prelude::within_runtime_if_available(|| {
            self.inner.endpoint.rebind_abstract(udp::GsoBoundedSocket::wrap(&quinn::TokioRuntime, socket)?)
        })
            .map_err(|e| js_error(BIND_FAILED, format!("cannot rebind to {addr}: {e}")))
    }

    #[napi]
    pub fn stats(&self) -> EndpointStats {
        let s = &self.inner.state;
        let totals = s.totals();
        EndpointStats {
            open_connections: totals.open as f64,
            accepted_connections: s.accepted.load(Ordering::Relaxed) as f64,
            dialed_connections: s.dialed.load(Ordering::Relaxed) as f64,
            handshake_failures: s.handshake_failures.load(Ordering::Relaxed) as f64,
            bytes_sent: totals.bytes_sent as f64,
            bytes_received: totals.bytes_received as f64,
        }
    }

    /// Closes every connection with `code`/`reason` and stops accepting (accept() yields null).
    #[napi]
    pub fn close(&self, code: f64, reason: String) -> napi::Result<(), Code> {
        let code = app_code(code, "close code")?;
        *self.inner.state.close_info.lock().unwrap() = Some((code.into_inner(), reason.clone()));
        self.inner.closed.send_replace(true);
        self.inner.endpoint.close(code, reason.as_bytes());
        Ok(())
    }

    /// Resolves with true once every connection has finished its closing or draining period, or
    /// with false once `timeoutMs` has passed first (absent: however long it takes).
    ///
    /// The bound exists because the draining period is not always short: a connection whose
    /// client closed it during the handshake, before this endpoint accepted it, has been seen to
    /// stay in quinn's connection set until its idle timeout (30 s by default) even after
    /// `close()`. Waiting is optional (RFC 9000 §10.2: an endpoint that closes its socket may end
    /// the closing and draining periods early); the CONNECTION_CLOSE frames went out on `close()`.
    #[napi]
    pub async fn wait_idle(&self, timeout_ms: Option<f64>) -> napi::Result<Coded<bool>> {
        let bound = match timeout_ms.map(|_| opt_integer("timeoutMs", timeout_ms, 0, 0, 24 * 3600 * 1000)).transpose() {
            Ok(ms) => ms.map(Duration::from_millis),
            Err(e) => return Ok(Coded(Err(e))),
        };
        let idle = self.inner.endpoint.wait_idle();
        Ok(Coded(Ok(match bound {
            None => {
                idle.await;
                true
            }
            Some(d) => tokio::time::timeout(d, idle).await.is_ok(),
        })))
    }
}

impl QuicEndpoint {
    async fn dial(&self, addr: String, server_name: String, zero_rtt: Option<bool>) -> napi::Result<QuicConnection, Code> {
        let target = parse_ipv6_socket_addr(&addr, AddrUse::Connect)?;
        if *self.inner.closed.borrow() {
            return Err(js_error(ENDPOINT_CLOSED, format!("cannot dial {addr}: the endpoint is closed")));
        }
        let name = server_name.trim_start_matches('[').trim_end_matches(']');
        let slot = Arc::new(KexSlot::default());
        let lease = self.inner.pool.acquire(slot.clone())?;
        let connecting = self
            .inner
            .endpoint
            .connect_with(lease.configs().client.clone(), SocketAddr::V6(target), name)
            .map_err(|e| match e {
                quinn::ConnectError::InvalidServerName(n) => {
                    js_error(INVALID_ARGUMENT, format!("serverName {n:?} is neither a DNS name nor an IP address"))
                }
                quinn::ConnectError::EndpointStopping => {
                    js_error(ENDPOINT_CLOSED, format!("cannot dial {addr}: the endpoint is closed"))
                }
                other => js_error(HANDSHAKE_FAILED, format!("cannot dial {addr}: {other}")),
            })?;

        let connecting = if zero_rtt.unwrap_or(false) {
            match connecting.into_0rtt() {
                Ok((conn, accepted)) => {
                    let (hs_tx, hs_rx) = watch::channel(None);
                    let shared = self.inner.register(conn.clone(), slot, true, hs_rx);
                    EndpointState::count(&self.inner.state.dialed);
                    let state = self.inner.state.clone();
                    let confirm = self.inner.wait_for_confirmation;
                    napi::bindgen_prelude::spawn(async move {
                        let accepted = accepted.await;
                        // `false` is also what a failed handshake yields; the close reason,
                        // set before that signal, tells the two apart.
                        let outcome = match (accepted, conn.close_reason()) {
                            (false, Some(e)) => Err(e),
                            (a, _) if confirm => await_confirmed(&conn).await.map(|_| a),
                            (a, _) => Ok(a),
                        }
                        .map_err(|e| {
                            EndpointState::count(&state.handshake_failures);
                            describe_connection_error(&e)
                        });
                        drop(lease);
                        hs_tx.send_replace(Some(outcome));
                    });
                    return Ok(QuicConnection::from_shared(shared));
                }
                Err(connecting) => connecting,
            }
        } else {
            connecting
        };
        let confirmed = match connecting.await {
            Ok(c) if self.inner.wait_for_confirmation => await_confirmed(&c).await.map(|_| c),
            Ok(c) => Ok(c),
            Err(e) => Err(e),
        };
        let conn = match confirmed {
            Ok(c) => c,
            Err(e) => {
                EndpointState::count(&self.inner.state.handshake_failures);
                return Err(js_error(HANDSHAKE_FAILED, format!("{addr}: {}", describe_connection_error(&e))));
            }
        };
        drop(lease);
        EndpointState::count(&self.inner.state.dialed);
        let (_, hs) = watch::channel(Some(Ok(false)));
        Ok(QuicConnection::from_shared(self.inner.register(conn, slot, false, hs)))
    }
}
