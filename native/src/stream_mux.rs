//! `StreamMux`: every bidirectional stream of one connection, driven by one tokio task and
//! exchanged with JavaScript in batches.
//!
//! Why not a JS object and a promise per stream operation: a napi promise costs a threadsafe
//! function (created and torn down on the JS thread) and two cross-thread wake-ups per read,
//! and synchronous stream calls from the JS thread contend with quinn's connection driver for
//! the connection lock. With many calls in flight those costs, not QUIC, bounded the RPC rate.
//!
//! Here the JS thread only appends operations to a queue (waking the mux task once per batch)
//! and receives events through one long-lived threadsafe function, each call delivering
//! everything that happened since the previous one. Streams are named by keys: JS picks even
//! keys for the streams it opens, the mux gives odd keys to streams the peer opens. Each
//! stream is one future inside the mux task (a `FuturesUnordered`), so readiness is tracked
//! per stream without a task per stream.
//!
//! Receive side: flowing. Each stream reads as soon as data arrives and reports it (chunks
//! gathered, consecutive reports for one stream coalesced) until JS pauses it; JS pauses when
//! it holds more than it wants buffered, which lets QUIC flow control push back on the peer.
//! Send side: JS sends without waiting; data quinn cannot take yet (flow control) waits in the
//! stream's queue, and `Sent` events return credit so JS can bound what it has outstanding.

use crate::error::{coded_js_error, StoqError, CONNECTION_LOST, ZERO_RTT_REJECTED};
use crate::util::describe_connection_error;
use bytes::{Buf, Bytes};
use futures_util::stream::{FuturesUnordered, StreamExt};
use napi::bindgen_prelude::ToNapiValue;
use napi::sys;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use quinn::{ReadError, RecvStream, SendStream, VarInt, WriteError};
use std::collections::{HashMap, VecDeque};
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use tokio::sync::{mpsc, Notify};

/// Most bytes one read gathers into one event.
const READ_MAX: usize = 1024 * 1024;
/// Accepted bytes are reported (credit returned) once this many are unreported while flow control
/// holds the rest of the queue, and whenever the queue drains (so at most one event per batch of
/// operations JS sent). JS counts every byte it wrote against its send budgets until it is
/// reported: an unreported remainder would hold budget that no later event returns.
const REPORT_BYTES: u64 = 256 * 1024;

/// Event kinds as JS sees them (native/README.md, "Streams: the stream mux").
pub mod kind {
    /// The peer opened stream `key`.
    pub const INCOMING: u32 = 0;
    /// Bytes received on `key` (value: Buffer).
    pub const DATA: u32 = 1;
    /// The peer finished its side of `key` (no value).
    pub const FIN: u32 = 2;
    /// Bytes received on `key`, and then the peer's FIN (value: Buffer).
    pub const DATA_FIN: u32 = 3;
    /// The peer reset its side of `key` (value: application code).
    pub const RESET: u32 = 4;
    /// The peer asked us to stop sending on `key`; our side was reset with its code (value: code).
    pub const STOPPED: u32 = 5;
    /// quinn accepted this many more bytes written to `key` (value: byte count).
    pub const SENT: u32 = 6;
    /// Stream `key` failed (value: "CODE: sentence").
    pub const ERROR: u32 = 7;
    /// The connection ended; no events follow (key 0, value: "CODE: sentence").
    pub const CLOSED: u32 = 8;
}

/// Operation kinds of `streamOps` (native/README.md, "Streams: the stream mux").
pub mod op_kind {
    /// Open stream `key` (arg: FIN 0/1; takes `length` bytes).
    pub const OPEN: u32 = 0;
    /// Send on `key` (arg: FIN 0/1; takes `length` bytes).
    pub const SEND: u32 = 1;
    /// Reset the send side (arg: application code).
    pub const RESET: u32 = 2;
    /// STOP_SENDING on the receive side (arg: application code).
    pub const STOP: u32 = 3;
    /// Pause (arg 1) or resume (arg 0) reading.
    pub const PAUSE: u32 = 4;
}

/// Both numbering tables, exported so JS can check its constants against them (a test does).
#[napi_derive::napi(object)]
pub struct StreamMuxCodes {
    pub events: HashMap<String, u32>,
    pub ops: HashMap<String, u32>,
}

/// The stream mux's event and operation numbers, by name.
#[napi_derive::napi]
pub fn stream_mux_codes() -> StreamMuxCodes {
    let events = [
        ("INCOMING", kind::INCOMING),
        ("DATA", kind::DATA),
        ("FIN", kind::FIN),
        ("DATA_FIN", kind::DATA_FIN),
        ("RESET", kind::RESET),
        ("STOPPED", kind::STOPPED),
        ("SENT", kind::SENT),
        ("ERROR", kind::ERROR),
        ("CLOSED", kind::CLOSED),
    ];
    let ops = [
        ("OPEN", op_kind::OPEN),
        ("SEND", op_kind::SEND),
        ("RESET", op_kind::RESET),
        ("STOP", op_kind::STOP),
        ("PAUSE", op_kind::PAUSE),
    ];
    StreamMuxCodes {
        events: events.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        ops: ops.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

/// What a stream or the mux reports to JS.
pub enum Event {
    Incoming(u64),
    Data { key: u64, chunks: Vec<Bytes>, len: usize, fin: bool },
    Fin(u64),
    Reset(u64, u64),
    Stopped(u64, u64),
    Sent(u64, u64),
    Error(u64, StoqError),
    Closed(StoqError),
}

/// An operation from JS.
pub enum Op {
    Open { key: u64, data: Bytes, fin: bool },
    Send { key: u64, data: Bytes, fin: bool },
    Reset { key: u64, code: VarInt },
    Stop { key: u64, code: VarInt },
    Pause { key: u64, paused: bool },
}

/// The JS thread's side of a mux: an operation queue and the means to wake the mux task.
pub struct MuxHandle {
    ops: Mutex<OpQueue>,
    wake: Notify,
}

#[derive(Default)]
struct OpQueue {
    ops: Vec<Op>,
    /// The mux task has ended (after CLOSED): operations have nothing left to act on.
    ended: bool,
}

impl MuxHandle {
    /// Queues `op` (see `submit_all`).
    pub fn submit(&self, op: Op) {
        self.submit_all(vec![op]);
    }

    /// Queues `ops` in order with one lock; wakes the mux task only when the queue was empty
    /// (one wake per batch).
    pub fn submit_all(&self, ops: Vec<Op>) {
        if ops.is_empty() {
            return;
        }
        let mut q = self.ops.lock().unwrap();
        if q.ended {
            return;
        }
        let first = q.ops.is_empty();
        q.ops.extend(ops);
        drop(q);
        if first {
            self.wake.notify_one();
        }
    }

    fn take(&self) -> Vec<Op> {
        std::mem::take(&mut self.ops.lock().unwrap().ops)
    }

    /// Stops taking operations; what is still queued is covered by the final CLOSED event.
    fn end(&self) {
        let mut q = self.ops.lock().unwrap();
        q.ended = true;
        q.ops.clear();
    }
}

/// Events waiting for delivery, and whether a delivery is already on its way to the JS thread.
#[derive(Default)]
pub struct Outbox {
    events: Vec<Event>,
    scheduled: bool,
}

impl Outbox {
    /// Appends `ev`, merging received data into the previous event when both are data for the
    /// same stream (one Buffer instead of two). True if a delivery must be scheduled.
    fn push(&mut self, ev: Event) -> bool {
        if let Event::Data { key, chunks, len, fin } = ev {
            match self.events.last_mut() {
                Some(Event::Data { key: k, chunks: c, len: l, fin: f }) if *k == key && !*f && *l + len <= READ_MAX => {
                    c.extend(chunks);
                    *l += len;
                    *f = fin;
                }
                _ => self.events.push(Event::Data { key, chunks, len, fin }),
            }
        } else {
            self.events.push(ev);
        }
        self.schedule()
    }

    /// Appends `ev` without scheduling a delivery: it rides on the next one (the connection's
    /// next event of any kind, or CLOSED, which JS treats as returning everything). Events stay
    /// in order either way.
    fn push_lazy(&mut self, ev: Event) {
        self.events.push(ev);
    }

    fn schedule(&mut self) -> bool {
        !std::mem::replace(&mut self.scheduled, true)
    }

    /// Everything queued; the next push schedules a new delivery.
    pub fn drain(&mut self) -> Vec<Event> {
        self.scheduled = false;
        std::mem::take(&mut self.events)
    }
}

pub type EventFn = ThreadsafeFunction<(), (), EventBatch, napi::Status, false, false, 0>;

/// Where streams put their events: the outbox plus the threadsafe function that drains it.
pub struct EventSink {
    outbox: Arc<Mutex<Outbox>>,
    deliver: EventFn,
}

impl EventSink {
    pub fn new(outbox: Arc<Mutex<Outbox>>, deliver: EventFn) -> Self {
        Self { outbox, deliver }
    }

    fn push_lazy(&self, ev: Event) {
        self.outbox.lock().unwrap().push_lazy(ev);
    }

    fn push(&self, ev: Event) {
        let schedule = self.outbox.lock().unwrap().push(ev);
        if schedule {
            // Fails only while Node tears the environment down; nothing is left to tell then.
            let _ = self.deliver.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

/// One delivery: events flattened into `[kind, key, value, kind, key, value, ...]` so a batch
/// costs one JS array, not an object per event.
pub struct EventBatch(pub Vec<Event>);

unsafe fn js_number(env: sys::napi_env, v: f64) -> napi::Result<sys::napi_value> {
    unsafe { ToNapiValue::to_napi_value(env, v) }
}

unsafe fn js_buffer(env: sys::napi_env, chunks: Vec<Bytes>, len: usize) -> napi::Result<sys::napi_value> {
    let mut out = std::ptr::null_mut();
    let mut data: *mut std::ffi::c_void = std::ptr::null_mut();
    let status = unsafe { sys::napi_create_buffer(env, len, &mut data, &mut out) };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::from_reason("failed to allocate a Buffer for stream data"));
    }
    let mut at = 0;
    for c in chunks {
        // SAFETY: `data` points at `len` writable bytes and the chunks sum to `len`.
        unsafe { std::ptr::copy_nonoverlapping(c.as_ptr(), (data as *mut u8).add(at), c.len()) };
        at += c.len();
    }
    Ok(out)
}

impl ToNapiValue for EventBatch {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let mut arr = std::ptr::null_mut();
        let status = unsafe { sys::napi_create_array_with_length(env, val.0.len() * 3, &mut arr) };
        if status != sys::Status::napi_ok {
            return Err(napi::Error::from_reason("failed to allocate the stream event batch"));
        }
        let null = unsafe { ToNapiValue::to_napi_value(env, napi::bindgen_prelude::Null)? };
        for (i, ev) in val.0.into_iter().enumerate() {
            let (k, key, value) = match ev {
                Event::Incoming(key) => (kind::INCOMING, key, null),
                Event::Data { key, chunks, len, fin } => {
                    (if fin { kind::DATA_FIN } else { kind::DATA }, key, unsafe { js_buffer(env, chunks, len)? })
                }
                Event::Fin(key) => (kind::FIN, key, null),
                Event::Reset(key, code) => (kind::RESET, key, unsafe { js_number(env, code as f64)? }),
                Event::Stopped(key, code) => (kind::STOPPED, key, unsafe { js_number(env, code as f64)? }),
                Event::Sent(key, n) => (kind::SENT, key, unsafe { js_number(env, n as f64)? }),
                Event::Error(key, e) => (kind::ERROR, key, unsafe { coded_js_error(env, e.code, &e.message)? }),
                Event::Closed(e) => (kind::CLOSED, 0, unsafe { coded_js_error(env, e.code, &e.message)? }),
            };
            let base = (i * 3) as u32;
            unsafe {
                sys::napi_set_element(env, arr, base, ToNapiValue::to_napi_value(env, k)?);
                sys::napi_set_element(env, arr, base + 1, js_number(env, key as f64)?);
                sys::napi_set_element(env, arr, base + 2, value);
            }
        }
        Ok(arr)
    }
}

/// Polls `fut` once without a task to wake: Some(output) if it is ready now.
pub fn poll_now<F: Future>(fut: F) -> Option<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(fut).poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Ends the send side. If the peer already sent STOP_SENDING, quinn's `finish()` does nothing,
/// so answer with RESET_STREAM carrying the peer's code instead (RFC 9000 §3.5): otherwise the
/// peer never learns the stream's final size, cannot free it, and never returns the credit.
fn finish_or_reset(send: &mut SendStream) {
    if send.finish().is_err() {
        return; // already finished or reset
    }
    if let Some(Ok(Some(code))) = poll_now(send.stopped()) {
        let _ = send.reset(code);
    }
}

/// Starts the mux task for `conn`. Returns the handle JS submits operations through.
pub fn start(conn: quinn::Connection, sink: EventSink) -> Arc<MuxHandle> {
    let handle = Arc::new(MuxHandle { ops: Mutex::new(OpQueue::default()), wake: Notify::new() });
    napi::bindgen_prelude::spawn(run(conn, handle.clone(), Arc::new(sink)));
    handle
}

enum Cmd {
    Send(Bytes, bool),
    Reset(VarInt),
    Stop(VarInt),
    Pause(bool),
}

enum Start {
    Opened(SendStream, RecvStream),
    /// No stream credit when JS opened it: the stream waits for the peer to grant more.
    AwaitCredit(quinn::Connection),
}

type StreamFuture = Pin<Box<dyn Future<Output = u64> + Send>>;

async fn run(conn: quinn::Connection, handle: Arc<MuxHandle>, sink: Arc<EventSink>) {
    let mut streams: HashMap<u64, mpsc::UnboundedSender<Cmd>> = HashMap::new();
    let mut running: FuturesUnordered<StreamFuture> = FuturesUnordered::new();
    let mut next_incoming: u64 = 1;
    let mut open = true;
    let mut accepting = true;
    let mut close_reason = StoqError::new(CONNECTION_LOST, "connection closed");
    let closed = conn.closed();
    let mut closed = pin!(closed);
    while open || !running.is_empty() {
        tokio::select! {
            biased;
            _ = handle.wake.notified() => {
                for op in handle.take() {
                    dispatch(op, &conn, open, &mut streams, &mut running, &sink);
                }
            }
            accepted = conn.accept_bi(), if accepting => match accepted {
                Ok((send, recv)) => {
                    let key = next_incoming;
                    next_incoming += 2;
                    let (tx, rx) = mpsc::unbounded_channel();
                    streams.insert(key, tx);
                    sink.push(Event::Incoming(key));
                    running.push(Box::pin(drive(key, Start::Opened(send, recv), rx, sink.clone())));
                }
                // The connection is ending: the `closed` branch says why.
                Err(_) => accepting = false,
            },
            Some(key) = running.next(), if !running.is_empty() => {
                streams.remove(&key);
            }
            err = &mut closed, if open => {
                open = false;
                accepting = false;
                close_reason = StoqError::new(CONNECTION_LOST, describe_connection_error(&err));
                // Streams deliver what they already received, then end (their commands stop).
                streams.clear();
            }
        }
    }
    handle.end();
    sink.push(Event::Closed(close_reason));
}

fn dispatch(
    op: Op,
    conn: &quinn::Connection,
    open: bool,
    streams: &mut HashMap<u64, mpsc::UnboundedSender<Cmd>>,
    running: &mut FuturesUnordered<StreamFuture>,
    sink: &Arc<EventSink>,
) {
    let (key, cmd) = match op {
        Op::Open { key, data, fin } => {
            let start = match poll_now(conn.open_bi()) {
                _ if !open => None,
                Some(Ok((send, recv))) => Some(Start::Opened(send, recv)),
                Some(Err(_)) => None,
                None => Some(Start::AwaitCredit(conn.clone())),
            };
            let Some(start) = start else {
                let why = conn.close_reason().map(|e| describe_connection_error(&e)).unwrap_or_else(|| "connection closed".into());
                sink.push(Event::Error(key, StoqError::new(CONNECTION_LOST, why)));
                return;
            };
            let (tx, rx) = mpsc::unbounded_channel();
            if !data.is_empty() || fin {
                let _ = tx.send(Cmd::Send(data, fin));
            }
            streams.insert(key, tx);
            running.push(Box::pin(drive(key, start, rx, sink.clone())));
            return;
        }
        Op::Send { key, data, fin } => (key, Cmd::Send(data, fin)),
        Op::Reset { key, code } => (key, Cmd::Reset(code)),
        Op::Stop { key, code } => (key, Cmd::Stop(code)),
        Op::Pause { key, paused } => (key, Cmd::Pause(paused)),
    };
    // Unknown key: the stream already ended on both sides, so the operation has nothing to do.
    if let Some(tx) = streams.get(&key) {
        let _ = tx.send(cmd);
    }
}

/// Send side of one stream: bytes quinn has not taken yet, in order, then maybe FIN.
struct Outgoing {
    queue: VecDeque<Bytes>,
    fin: bool,
    done: bool,
    /// Bytes quinn accepted that JS has not been told about.
    unreported: u64,
}

impl Outgoing {
    /// Writes what quinn takes now (without registering for wake-ups); FIN once drained.
    fn pump(&mut self, key: u64, send: &mut SendStream, sink: &EventSink) {
        let mut cx = Context::from_waker(Waker::noop());
        while let Some(front) = self.queue.front_mut() {
            match Pin::new(&mut *send).poll_write(&mut cx, front) {
                Poll::Ready(Ok(n)) => self.accepted(n),
                Poll::Ready(Err(e)) => return self.failed(key, send, e, sink),
                Poll::Pending => break,
            }
        }
        self.after_write(key, send, sink);
    }

    /// quinn took `n` bytes from the front of the queue.
    fn accepted(&mut self, n: usize) {
        let front = self.queue.front_mut().expect("a queued write");
        front.advance(n);
        if front.is_empty() {
            self.queue.pop_front();
        }
        self.unreported += n as u64;
    }

    fn after_write(&mut self, key: u64, send: &mut SendStream, sink: &EventSink) {
        if self.done {
            return;
        }
        let drained = self.queue.is_empty();
        if drained && self.fin {
            finish_or_reset(send);
            self.done = true;
        }
        if self.unreported > 0 && (self.unreported >= REPORT_BYTES || drained) {
            let sent = Event::Sent(key, std::mem::take(&mut self.unreported));
            // The last report of a finished stream need not wake JS on its own (for a unary
            // call that would be one more cross-thread delivery per call): nothing more will be
            // written to this stream, and whatever JS does next on this connection arrives with
            // an event that carries it. Reports while a stream is still being written are eager,
            // since its writer may be waiting for them.
            if self.done {
                sink.push_lazy(sent);
            } else {
                sink.push(sent);
            }
        }
    }

    fn failed(&mut self, key: u64, send: &mut SendStream, e: WriteError, sink: &EventSink) {
        self.done = true;
        self.queue.clear();
        match e {
            WriteError::Stopped(code) => {
                // Answer STOP_SENDING with RESET_STREAM so the peer can release the stream.
                let _ = send.reset(code);
                sink.push(Event::Stopped(key, code.into_inner()));
            }
            WriteError::ZeroRttRejected => {
                sink.push(Event::Error(key, StoqError::new(ZERO_RTT_REJECTED, "the server rejected 0-RTT; retry on a new stream")))
            }
            // Connection loss is reported once for all streams (Closed); a closed stream is ours.
            WriteError::ConnectionLost(_) | WriteError::ClosedStream => {}
        }
    }
}

/// Runs one stream until both sides are done (or the connection ended); returns its key.
async fn drive(key: u64, start: Start, mut cmds: mpsc::UnboundedReceiver<Cmd>, sink: Arc<EventSink>) -> u64 {
    let (mut send, mut recv) = match start {
        Start::Opened(send, recv) => (send, recv),
        Start::AwaitCredit(conn) => match conn.open_bi().await {
            Ok(pair) => pair,
            Err(e) => {
                sink.push(Event::Error(key, StoqError::new(CONNECTION_LOST, describe_connection_error(&e))));
                return key;
            }
        },
    };
    let mut out = Outgoing { queue: VecDeque::new(), fin: false, done: false, unreported: 0 };
    let mut recv_done = false;
    let mut paused = false;
    let mut commands_open = true;
    while !(out.done && recv_done) {
        let reading = !recv_done && !paused;
        let writing = !out.done && !out.queue.is_empty();
        tokio::select! {
            biased;
            cmd = cmds.recv(), if commands_open => {
                let Some(cmd) = cmd else {
                    // The connection is closing: finish reading what arrived, then stop.
                    commands_open = false;
                    if !writing {
                        out.done = true;
                    }
                    continue;
                };
                let mut next = Some(cmd);
                while let Some(cmd) = next {
                    match cmd {
                        Cmd::Send(data, fin) if !out.done => {
                            if !data.is_empty() {
                                out.queue.push_back(data);
                            }
                            out.fin |= fin;
                        }
                        Cmd::Send(..) => {}
                        Cmd::Reset(code) => {
                            if !out.done {
                                out.done = true;
                                out.queue.clear();
                                let _ = send.reset(code);
                            }
                        }
                        Cmd::Stop(code) => {
                            if !recv_done {
                                recv_done = true;
                                let _ = recv.stop(code);
                            }
                        }
                        Cmd::Pause(p) => paused = p,
                    }
                    next = cmds.try_recv().ok();
                }
                if !out.done && (!out.queue.is_empty() || out.fin) {
                    out.pump(key, &mut send, &sink);
                }
            }
            read = recv.read_chunk(READ_MAX, true), if reading => {
                recv_done = on_read(key, &mut recv, read, &sink);
            }
            written = poll_fn(|cx| Pin::new(&mut send).poll_write(cx, out.queue.front().expect("writing"))), if writing => {
                match written {
                    Ok(n) => {
                        out.accepted(n);
                        out.pump(key, &mut send, &sink);
                    }
                    Err(e) => out.failed(key, &mut send, e, &sink),
                }
            }
            else => break,
        }
    }
    key
}

/// Reports the outcome of a read (gathering whatever else is already buffered into the same
/// event). True when the receive side is done.
fn on_read(key: u64, recv: &mut RecvStream, read: Result<Option<quinn::Chunk>, ReadError>, sink: &EventSink) -> bool {
    match read {
        Ok(Some(first)) => {
            let mut len = first.bytes.len();
            let mut chunks = vec![first.bytes];
            let mut fin = false;
            let mut failure = None;
            while len < READ_MAX {
                match poll_now(recv.read_chunk(READ_MAX - len, true)) {
                    Some(Ok(Some(c))) => {
                        len += c.bytes.len();
                        chunks.push(c.bytes);
                    }
                    Some(Ok(None)) => {
                        fin = true;
                        break;
                    }
                    Some(Err(e)) => {
                        failure = Some(e);
                        break;
                    }
                    None => break,
                }
            }
            sink.push(Event::Data { key, chunks, len, fin });
            match failure {
                Some(e) => read_failed(key, e, sink),
                None => fin,
            }
        }
        Ok(None) => {
            sink.push(Event::Fin(key));
            true
        }
        Err(e) => read_failed(key, e, sink),
    }
}

fn read_failed(key: u64, e: ReadError, sink: &EventSink) -> bool {
    match e {
        ReadError::Reset(code) => sink.push(Event::Reset(key, code.into_inner())),
        ReadError::ZeroRttRejected => {
            sink.push(Event::Error(key, StoqError::new(ZERO_RTT_REJECTED, "the server rejected 0-RTT; retry on a new stream")))
        }
        // Connection loss is reported once (Closed); the others mean we stopped reading ourselves.
        ReadError::ConnectionLost(_) | ReadError::ClosedStream | ReadError::IllegalOrderedRead => {}
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(key: u64, bytes: &'static [u8], fin: bool) -> Event {
        Event::Data { key, chunks: vec![Bytes::from_static(bytes)], len: bytes.len(), fin }
    }

    fn summary(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                Event::Data { key, chunks, len, fin } => {
                    let all: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
                    assert_eq!(all.len(), *len);
                    format!("data {key} {} fin={fin}", String::from_utf8_lossy(&all))
                }
                Event::Fin(k) => format!("fin {k}"),
                Event::Sent(k, n) => format!("sent {k} {n}"),
                Event::Incoming(k) => format!("incoming {k}"),
                _ => "other".into(),
            })
            .collect()
    }

    #[test]
    fn one_delivery_is_scheduled_per_batch() {
        let mut o = Outbox::default();
        assert!(o.push(Event::Incoming(1)), "first event schedules a delivery");
        assert!(!o.push(Event::Sent(2, 10)), "later events ride on the scheduled one");
        assert_eq!(o.drain().len(), 2);
        assert!(o.push(Event::Fin(1)), "after a drain the next event schedules again");
    }

    #[test]
    fn consecutive_data_for_one_stream_merges_until_fin() {
        let mut o = Outbox::default();
        o.push(data(1, b"ab", false));
        o.push(data(1, b"cd", true));
        o.push(data(1, b"ef", false)); // after FIN: never merged into it
        o.push(data(3, b"xy", false));
        o.push(data(1, b"gh", false)); // another stream came between
        assert_eq!(
            summary(&o.drain()),
            ["data 1 abcd fin=true", "data 1 ef fin=false", "data 3 xy fin=false", "data 1 gh fin=false"]
        );
    }

    #[test]
    fn merged_data_stays_within_the_read_limit() {
        static BIG: [u8; READ_MAX] = [7; READ_MAX];
        let mut o = Outbox::default();
        o.push(data(1, &BIG[..READ_MAX - 1], false));
        o.push(data(1, b"z", false)); // exactly READ_MAX: merged
        o.push(data(1, b"z", false)); // would exceed: a new event
        let events = o.drain();
        assert_eq!(events.len(), 2);
        assert!(matches!(events[0], Event::Data { len, .. } if len == READ_MAX));
    }
}
