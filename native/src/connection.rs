//! `QuicConnection`: one handshaken (or 0-RTT) QUIC connection.

use crate::error::{
    internal, js_error, Coded, Code, CONNECTION_LOST, DATAGRAM, HANDSHAKE_FAILED, HANDSHAKE_INCOMPLETE, INVALID_ARGUMENT,
};
use crate::kex::KexSlot;
use crate::state::EndpointState;
use crate::stream_mux::{self, op_kind, EventBatch, EventSink, MuxHandle, Op, Outbox};
use crate::util::{app_code, describe_connection_error};
use bytes::Bytes;
use napi::bindgen_prelude::{Buffer, Function};
use napi_derive::napi;
use quinn::ConnectionError;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::watch;

/// Handshake outcome: Ok(whether 0-RTT data was accepted) or Err(reason).
pub type HandshakeOutcome = Result<bool, String>;

pub struct ConnShared {
    pub conn: quinn::Connection,
    kex: Arc<KexSlot>,
    is_zero_rtt: bool,
    handshake: watch::Receiver<Option<HandshakeOutcome>>,
    local_close: Mutex<Option<(u64, String)>>,
    endpoint: Arc<EndpointState>,
}

impl ConnShared {
    pub fn new(
        conn: quinn::Connection,
        kex: Arc<KexSlot>,
        is_zero_rtt: bool,
        handshake: watch::Receiver<Option<HandshakeOutcome>>,
        endpoint: Arc<EndpointState>,
    ) -> Arc<Self> {
        Arc::new(Self { conn, kex, is_zero_rtt, handshake, local_close: Mutex::new(None), endpoint })
    }

    fn handshake_done(&self) -> bool {
        matches!(*self.handshake.borrow(), Some(Ok(_)))
    }

    async fn handshake_outcome(&self) -> HandshakeOutcome {
        let mut rx = self.handshake.clone();
        let outcome = match rx.wait_for(|o| o.is_some()).await {
            Ok(v) => v.clone().expect("waited for Some"),
            Err(_) => Err("handshake task ended without a result".into()),
        };
        outcome
    }
}

#[napi(object)]
pub struct CloseInfo {
    /// "local" | "peer" | "timeout" | "reset" | "transport-error" | "endpoint-closed"
    pub kind: String,
    pub code: f64,
    pub reason: String,
}

#[napi(object)]
pub struct ConnectionStats {
    pub rtt_ms: f64,
    pub cwnd: f64,
    pub bytes_sent: f64,
    pub bytes_received: f64,
    pub packets_sent: f64,
    pub packets_received: f64,
    pub lost_packets: f64,
    pub lost_bytes: f64,
    pub congestion_events: f64,
}

fn close_info(
    err: &ConnectionError,
    local: Option<(u64, String)>,
    endpoint: Option<(u64, String)>,
) -> CloseInfo {
    let info = |kind: &str, code: u64, reason: String| CloseInfo { kind: kind.into(), code: code as f64, reason };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match err {
        ConnectionError::ApplicationClosed(ac) => info("peer", ac.error_code.into_inner(), text(&ac.reason)),
        ConnectionError::LocallyClosed => match (local, endpoint) {
            (Some((c, r)), _) => info("local", c, r),
            (None, Some((c, r))) => info("endpoint-closed", c, r),
            (None, None) => info("local", 0, String::new()),
        },
        ConnectionError::TimedOut => info("timeout", 0, "idle timeout: no packets from the peer".into()),
        ConnectionError::Reset => info("reset", 0, "the peer reset the connection (stateless reset)".into()),
        ConnectionError::TransportError(te) => info("transport-error", u64::from(te.code), te.reason.clone()),
        ConnectionError::ConnectionClosed(cc) => info("transport-error", u64::from(cc.error_code), text(&cc.reason)),
        ConnectionError::VersionMismatch => info("transport-error", 0, "QUIC version mismatch".into()),
        ConnectionError::CidsExhausted => info("transport-error", 0, "connection IDs exhausted".into()),
    }
}

#[napi]
pub struct QuicConnection {
    inner: Arc<ConnShared>,
    mux: OnceLock<Arc<MuxHandle>>,
}

impl QuicConnection {
    pub fn from_shared(inner: Arc<ConnShared>) -> Self {
        Self { inner, mux: OnceLock::new() }
    }

    fn mux(&self) -> napi::Result<&MuxHandle, Code> {
        self.mux
            .get()
            .map(|m| m.as_ref())
            .ok_or_else(|| js_error(INVALID_ARGUMENT, "call startStreams before using streams on this connection"))
    }
}

/// Validates a stream key: an integer JS number, exact as a u64.
fn stream_key(key: f64) -> napi::Result<u64, Code> {
    if !key.is_finite() || key < 0.0 || key.fract() != 0.0 || key > 9_007_199_254_740_991.0 {
        return Err(js_error(INVALID_ARGUMENT, format!("stream key {key} must be an integer in 0..=2^53-1")));
    }
    Ok(key as u64)
}

/// Validates the key of a stream we open: even (odd keys name the peer's streams).
fn open_key(key: f64, call: &str) -> napi::Result<u64, Code> {
    let key = stream_key(key)?;
    if key % 2 != 0 {
        return Err(js_error(INVALID_ARGUMENT, format!("{call} key {key} must be even (odd keys name peer streams)")));
    }
    Ok(key)
}

#[napi]
impl QuicConnection {
    /// Peer address, "[ipv6]:port".
    #[napi(getter)]
    pub fn remote_addr(&self) -> String {
        self.inner.conn.remote_address().to_string()
    }

    /// Identifier unique among this process's live connections.
    #[napi(getter)]
    pub fn stable_id(&self) -> f64 {
        self.inner.conn.stable_id() as f64
    }

    /// Negotiated key-exchange group ("X25519MLKEM768", "X25519", "secp256r1", ...);
    /// null until the handshake completes.
    #[napi(getter)]
    pub fn kex_group(&self) -> Option<String> {
        if self.inner.handshake_done() {
            self.inner.kex.name()
        } else {
            None
        }
    }

    /// Negotiated ALPN protocol, null if not yet known.
    #[napi(getter)]
    pub fn alpn(&self) -> Option<String> {
        let data = self.inner.conn.handshake_data()?;
        let data = data.downcast::<quinn::crypto::rustls::HandshakeData>().ok()?;
        data.protocol.map(|p| String::from_utf8_lossy(&p).into_owned())
    }

    /// True when this client connection was created in 0-RTT state.
    #[napi(getter)]
    pub fn is_zero_rtt(&self) -> bool {
        self.inner.is_zero_rtt
    }

    /// Resolves when the handshake completes: whether the server accepted the early data
    /// (false for non-0-RTT connections and for failed handshakes). Never rejects.
    #[napi]
    pub async fn zero_rtt_accepted(&self) -> napi::Result<bool> {
        Ok(matches!(self.inner.handshake_outcome().await, Ok(true)))
    }

    /// Resolves when the handshake is complete; rejects with HANDSHAKE_FAILED if it failed.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn handshake_complete(&self) -> napi::Result<Coded<()>> {
        Ok(Coded(self.inner.handshake_outcome().await.map(|_| ()).map_err(|reason| js_error(HANDSHAKE_FAILED, reason))))
    }

    /// Peer certificate chain, DER, leaf first ([] if none).
    #[napi]
    pub fn peer_certificates(&self) -> Vec<Buffer> {
        let Some(identity) = self.inner.conn.peer_identity() else {
            return Vec::new();
        };
        match identity.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>() {
            Ok(certs) => certs.iter().map(|c| Buffer::from(c.as_ref().to_vec())).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// RFC 8446 §7.5 TLS exporter. Throws HANDSHAKE_INCOMPLETE before the handshake completes.
    #[napi]
    pub fn export_keying_material(&self, label: String, context: &[u8], length: u32) -> napi::Result<Buffer, Code> {
        if !self.inner.handshake_done() {
            return Err(js_error(HANDSHAKE_INCOMPLETE, "exportKeyingMaterial needs a completed handshake"));
        }
        if length == 0 || length > 16 * 1024 {
            return Err(js_error(INVALID_ARGUMENT, format!("exporter length {length} must be 1..=16384 bytes")));
        }
        let mut out = vec![0u8; length as usize];
        self.inner
            .conn
            .export_keying_material(&mut out, label.as_bytes(), context)
            .map_err(|_| js_error(INVALID_ARGUMENT, format!("TLS exporter refused label {label:?} / length {length}")))?;
        Ok(out.into())
    }

    /// Starts the stream mux (see stream_mux.rs): from now on every bidirectional stream of this
    /// connection is driven natively and reported to `onEvents` in batches, flattened as
    /// `[kind, key, value, ...]`. Streams the peer opens get odd keys; streams opened with
    /// `streamOpen` use the even key the caller picks. Call once; the callback must not throw.
    /// While the mux runs it keeps the Node.js event loop alive, like an open socket; it stops
    /// after the connection ended and a final CLOSED event was delivered.
    #[napi(ts_args_type = "onEvents: (events: Array<number | Buffer | Error | null>) => void")]
    pub fn start_streams(&self, on_events: Function<'_, EventBatch, ()>) -> napi::Result<(), Code> {
        if self.mux.get().is_some() {
            return Err(js_error(INVALID_ARGUMENT, "startStreams was already called on this connection"));
        }
        let outbox = Arc::new(Mutex::new(Outbox::default()));
        let drain = outbox.clone();
        let deliver = on_events
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .build_callback(move |_ctx| Ok(EventBatch(drain.lock().unwrap().drain())))
            .map_err(internal)?;
        let handle = stream_mux::start(self.inner.conn.clone(), EventSink::new(outbox, deliver));
        let _ = self.mux.set(handle);
        Ok(())
    }

    /// Opens stream `key` (an even number not used before on this connection) and sends `data`
    /// (may be empty), then FIN if `fin`. Never waits: without stream credit the stream opens
    /// once the peer grants more. If the connection is gone, an ERROR event says so, or the
    /// final CLOSED event does when the mux has already ended (it ends every stream).
    #[napi]
    pub fn stream_open(&self, key: f64, data: &[u8], fin: bool) -> napi::Result<(), Code> {
        let key = open_key(key, "streamOpen")?;
        self.mux()?.submit(Op::Open { key, data: Bytes::copy_from_slice(data), fin });
        Ok(())
    }

    /// Several stream operations in one call, applied in order: `ops` holds four numbers per
    /// operation, `[kind, key, arg, length]`, with kind 0 = open (arg: FIN 0/1), 1 = send (arg:
    /// FIN 0/1), 2 = reset (arg: code), 3 = stop (arg: code), 4 = pause (arg: 1 paused, 0
    /// resumed); opens and sends take their `length` bytes from `data` in turn. Same meaning as
    /// the single calls; nothing is applied if any operation is malformed.
    #[napi]
    pub fn stream_ops(&self, ops: &[f64], data: &[u8]) -> napi::Result<(), Code> {
        if ops.len() % 4 != 0 {
            return Err(js_error(INVALID_ARGUMENT, format!("streamOps: {} numbers is not a whole number of 4-number operations", ops.len())));
        }
        let all = Bytes::copy_from_slice(data);
        let mut at = 0usize;
        let mut batch = Vec::with_capacity(ops.len() / 4);
        for (i, op) in ops.chunks_exact(4).enumerate() {
            let kind = if op[0].fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&op[0]) { op[0] as u32 } else { u32::MAX };
            let key = if kind == op_kind::OPEN { open_key(op[1], "streamOps: open")? } else { stream_key(op[1])? };
            let payload = |len: f64, at: &mut usize| -> napi::Result<Bytes, Code> {
                let n = if len.is_finite() && len >= 0.0 && len.fract() == 0.0 { len as usize } else { usize::MAX };
                if n > all.len() - *at {
                    return Err(js_error(INVALID_ARGUMENT, format!("streamOps: operation {i} wants {len} bytes, only {} left in data", all.len() - *at)));
                }
                *at += n;
                Ok(all.slice(*at - n..*at))
            };
            let flag = op[2] != 0.0;
            batch.push(match kind {
                op_kind::OPEN => Op::Open { key, data: payload(op[3], &mut at)?, fin: flag },
                op_kind::SEND => Op::Send { key, data: payload(op[3], &mut at)?, fin: flag },
                op_kind::RESET => Op::Reset { key, code: app_code(op[2], "reset code")? },
                op_kind::STOP => Op::Stop { key, code: app_code(op[2], "stopSending code")? },
                op_kind::PAUSE => Op::Pause { key, paused: flag },
                _ => return Err(js_error(INVALID_ARGUMENT, format!("streamOps: operation {i} has unknown kind {}", op[0]))),
            });
        }
        if at != all.len() {
            return Err(js_error(INVALID_ARGUMENT, format!("streamOps: {} bytes of data were not claimed by any operation", all.len() - at)));
        }
        self.mux()?.submit_all(batch);
        Ok(())
    }

    /// Sends `data` on stream `key` after everything sent before, then FIN if `fin`. Bytes quinn
    /// cannot take yet wait in the stream's queue; SENT events report progress.
    #[napi]
    pub fn stream_send(&self, key: f64, data: &[u8], fin: bool) -> napi::Result<(), Code> {
        let key = stream_key(key)?;
        self.mux()?.submit(Op::Send { key, data: Bytes::copy_from_slice(data), fin });
        Ok(())
    }

    /// Abandons the send side of stream `key` (RESET_STREAM with `code`), dropping queued data.
    #[napi]
    pub fn stream_reset(&self, key: f64, code: f64) -> napi::Result<(), Code> {
        let (key, code) = (stream_key(key)?, app_code(code, "reset code")?);
        self.mux()?.submit(Op::Reset { key, code });
        Ok(())
    }

    /// Stops reading stream `key` (STOP_SENDING with `code`); no more data events for it.
    #[napi]
    pub fn stream_stop(&self, key: f64, code: f64) -> napi::Result<(), Code> {
        let (key, code) = (stream_key(key)?, app_code(code, "stopSending code")?);
        self.mux()?.submit(Op::Stop { key, code });
        Ok(())
    }

    /// Pauses (or resumes) reading stream `key`: while paused, received data stays in quinn and
    /// flow control holds the peer back.
    #[napi]
    pub fn stream_pause(&self, key: f64, paused: bool) -> napi::Result<(), Code> {
        let key = stream_key(key)?;
        self.mux()?.submit(Op::Pause { key, paused });
        Ok(())
    }

    /// Sends an unreliable datagram (at most `maxDatagramSize` bytes).
    #[napi]
    pub fn send_datagram(&self, data: &[u8]) -> napi::Result<(), Code> {
        self.inner
            .conn
            .send_datagram(bytes::Bytes::copy_from_slice(data))
            .map_err(|e| match e {
                quinn::SendDatagramError::ConnectionLost(ce) => js_error(CONNECTION_LOST, describe_connection_error(&ce)),
                quinn::SendDatagramError::TooLarge => js_error(
                    DATAGRAM,
                    format!(
                        "datagram of {} bytes exceeds maxDatagramSize {}",
                        data.len(),
                        self.inner.conn.max_datagram_size().unwrap_or(0)
                    ),
                ),
                other => js_error(DATAGRAM, other.to_string()),
            })
    }

    /// Next received datagram; null once the connection is closed.
    #[napi]
    pub async fn read_datagram(&self) -> napi::Result<Option<Buffer>> {
        match self.inner.conn.read_datagram().await {
            Ok(b) => Ok(Some(Buffer::from(b.to_vec()))),
            Err(_) => Ok(None),
        }
    }

    /// Largest datagram payload the peer accepts now; null if datagrams are unsupported.
    #[napi(getter)]
    pub fn max_datagram_size(&self) -> Option<u32> {
        self.inner.conn.max_datagram_size().map(|s| s as u32)
    }

    #[napi]
    pub fn stats(&self) -> ConnectionStats {
        let s = self.inner.conn.stats();
        ConnectionStats {
            rtt_ms: s.path.rtt.as_secs_f64() * 1000.0,
            cwnd: s.path.cwnd as f64,
            bytes_sent: s.udp_tx.bytes as f64,
            bytes_received: s.udp_rx.bytes as f64,
            packets_sent: s.udp_tx.datagrams as f64,
            packets_received: s.udp_rx.datagrams as f64,
            lost_packets: s.path.lost_packets as f64,
            lost_bytes: s.path.lost_bytes as f64,
            congestion_events: s.path.congestion_events as f64,
        }
    }

    /// Closes the connection immediately with an application error code and reason.
    #[napi]
    pub fn close(&self, code: f64, reason: String) -> napi::Result<(), Code> {
        let code = app_code(code, "close code")?;
        *self.inner.local_close.lock().unwrap() = Some((code.into_inner(), reason.clone()));
        self.inner.conn.close(code, reason.as_bytes());
        Ok(())
    }

    /// Resolves (never rejects) when the connection ends, saying why.
    #[napi]
    pub async fn closed(&self) -> napi::Result<CloseInfo> {
        let err = self.inner.conn.closed().await;
        let local = self.inner.local_close.lock().unwrap().clone();
        Ok(close_info(&err, local, self.inner.endpoint.endpoint_close_info()))
    }
}
