//! `QuicStream`: one bidirectional QUIC stream.
//!
//! The send half lives in a task that executes write/finish commands in call order (so
//! `write(); write(); finish()` needs no awaiting in between); `reset()` interrupts it at once,
//! even mid-write. The receive half sits behind its own lock, so reading and writing proceed
//! concurrently.

use crate::error::{
    js_error, CONNECTION_LOST, INVALID_ARGUMENT, STREAM_CLOSED, STREAM_RESET, STREAM_STOPPED, ZERO_RTT_REJECTED,
};
use crate::util::{app_code, describe_connection_error};
use bytes::Bytes;
use napi::bindgen_prelude::{Buffer, PromiseRaw};
use napi::Env;
use napi_derive::napi;
use quinn::{ReadError, RecvStream, SendStream, VarInt, WriteError};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch, Mutex};

/// Upper bound for one read, so a huge `maxLength` cannot allocate unbounded memory.
const MAX_READ: usize = 16 * 1024 * 1024;

type WriteResult = Result<(), String>;

enum SendCmd {
    Write(Bytes, oneshot::Sender<WriteResult>),
    Finish,
}

struct RecvHalf {
    stream: RecvStream,
    fin_seen: bool,
}

#[napi]
pub struct QuicStream {
    id: u64,
    commands: mpsc::UnboundedSender<SendCmd>,
    reset: Arc<watch::Sender<Option<VarInt>>>,
    recv: Arc<Mutex<RecvHalf>>,
    stop: watch::Sender<Option<VarInt>>,
}

fn write_error(e: WriteError) -> String {
    match e {
        WriteError::Stopped(code) => format!("{STREAM_STOPPED}: peer stopped the stream with code {code}"),
        WriteError::ConnectionLost(ce) => format!("{CONNECTION_LOST}: {}", describe_connection_error(&ce)),
        WriteError::ClosedStream => format!("{STREAM_CLOSED}: the stream was already finished or reset"),
        WriteError::ZeroRttRejected => format!("{ZERO_RTT_REJECTED}: the server rejected 0-RTT; retry on a new stream"),
    }
}

async fn send_task(
    // Held so the reset channel cannot close under the task (a closed channel would read as a reset).
    _reset_sender: Arc<watch::Sender<Option<VarInt>>>,
    mut send: SendStream,
    mut commands: mpsc::UnboundedReceiver<SendCmd>,
    mut reset: watch::Receiver<Option<VarInt>>,
) {
    loop {
        let cmd = tokio::select! {
            biased;
            _ = reset.wait_for(Option::is_some) => break,
            cmd = commands.recv() => match cmd {
                Some(c) => c,
                // Every handle is gone: dropping `send` finishes the stream gracefully.
                None => return,
            },
        };
        match cmd {
            SendCmd::Write(data, done) => {
                let outcome = tokio::select! {
                    biased;
                    _ = reset.wait_for(Option::is_some) => None,
                    r = send.write_chunk(data) => Some(r),
                };
                match outcome {
                    Some(r) => {
                        let _ = done.send(r.map_err(write_error));
                    }
                    None => {
                        let _ = done.send(Err(locally_reset(&reset)));
                        break;
                    }
                }
            }
            SendCmd::Finish => {
                let _ = send.finish();
            }
        }
    }
    let code = reset.borrow().unwrap_or(VarInt::from_u32(0));
    let _ = send.reset(code);
    commands.close();
    while let Ok(cmd) = commands.try_recv() {
        if let SendCmd::Write(_, done) = cmd {
            let _ = done.send(Err(locally_reset(&reset)));
        }
    }
}

fn locally_reset(reset: &watch::Receiver<Option<VarInt>>) -> String {
    let code = reset.borrow().map(|c| c.into_inner()).unwrap_or(0);
    format!("{STREAM_RESET}: stream was reset locally with code {code}")
}

impl QuicStream {
    pub fn new(send: SendStream, recv: RecvStream) -> Self {
        let id = u64::from(send.id());
        let (tx, rx) = mpsc::unbounded_channel();
        let (reset_tx, reset_rx) = watch::channel(None);
        let reset_tx = Arc::new(reset_tx);
        napi::bindgen_prelude::spawn(send_task(reset_tx.clone(), send, rx, reset_rx));
        let (stop, _) = watch::channel(None);
        Self {
            id,
            commands: tx,
            reset: reset_tx,
            recv: Arc::new(Mutex::new(RecvHalf { stream: recv, fin_seen: false })),
            stop,
        }
    }
}

#[napi]
impl QuicStream {
    /// QUIC stream id.
    #[napi(getter)]
    pub fn id(&self) -> f64 {
        self.id as f64
    }

    /// Queues `data` and resolves once quinn has accepted all of it (flow control is the
    /// backpressure). Writes and finish() apply in call order.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn write<'env>(&self, env: &'env Env, data: &[u8]) -> napi::Result<PromiseRaw<'env, ()>> {
        let (done_tx, done_rx) = oneshot::channel();
        let queued = self
            .commands
            .send(SendCmd::Write(Bytes::copy_from_slice(data), done_tx))
            .is_ok();
        let reset = self.reset.subscribe();
        env.spawn_future(async move {
            if !queued {
                return Err(napi::Error::from_reason(locally_reset(&reset)));
            }
            match done_rx.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(msg)) => Err(napi::Error::from_reason(msg)),
                Err(_) => Err(napi::Error::from_reason(locally_reset(&reset))),
            }
        })
    }

    /// Ends the send side (FIN) after all queued writes.
    #[napi]
    pub fn finish(&self) {
        let _ = self.commands.send(SendCmd::Finish);
    }

    /// Reads up to `maxLength` bytes; null at end of stream. Rejects with STREAM_RESET if the
    /// peer reset the stream.
    #[napi]
    pub async fn read(&self, max_length: u32) -> napi::Result<Option<Buffer>> {
        if max_length == 0 {
            return Err(js_error(INVALID_ARGUMENT, "read maxLength must be at least 1"));
        }
        let max = (max_length as usize).min(MAX_READ);
        let mut stop = self.stop.subscribe();
        let mut half = self.recv.lock().await;
        if half.fin_seen {
            return Ok(None);
        }
        let stopped = |stop: &watch::Receiver<Option<VarInt>>| {
            let code = stop.borrow().map(|c| c.into_inner()).unwrap_or(0);
            js_error(STREAM_STOPPED, format!("reading was stopped locally with code {code}"))
        };
        if stop.borrow().is_some() {
            return Err(stopped(&stop));
        }
        let mut buf = vec![0u8; max];
        let outcome = tokio::select! {
            biased;
            _ = stop.wait_for(Option::is_some) => None,
            r = half.stream.read(&mut buf) => Some(r),
        };
        match outcome {
            None => Err(stopped(&stop)),
            Some(Ok(Some(n))) => {
                buf.truncate(n);
                if buf.capacity() > 2 * n + 4096 {
                    buf.shrink_to_fit();
                }
                Ok(Some(buf.into()))
            }
            Some(Ok(None)) => {
                half.fin_seen = true;
                Ok(None)
            }
            Some(Err(e)) => Err(match e {
                ReadError::Reset(code) => js_error(STREAM_RESET, format!("code {code}")),
                ReadError::ConnectionLost(ce) => js_error(CONNECTION_LOST, describe_connection_error(&ce)),
                ReadError::ClosedStream => js_error(STREAM_CLOSED, "the receive side was already stopped"),
                ReadError::ZeroRttRejected => {
                    js_error(ZERO_RTT_REJECTED, "the server rejected 0-RTT; retry on a new stream")
                }
                ReadError::IllegalOrderedRead => js_error(STREAM_CLOSED, "illegal ordered read after unordered read"),
            }),
        }
    }

    /// Abandons the send side (RESET_STREAM with `code`), interrupting a pending write.
    #[napi]
    pub fn reset(&self, code: f64) -> napi::Result<()> {
        let code = app_code(code, "reset code")?;
        self.reset.send_replace(Some(code));
        Ok(())
    }

    /// Asks the peer to stop sending (STOP_SENDING with `code`); a pending read rejects with
    /// STREAM_STOPPED.
    #[napi]
    pub fn stop_sending(&self, code: f64) -> napi::Result<()> {
        let code = app_code(code, "stopSending code")?;
        self.stop.send_replace(Some(code));
        let recv = self.recv.clone();
        napi::bindgen_prelude::spawn(async move {
            let mut half = recv.lock().await;
            let _ = half.stream.stop(code);
        });
        Ok(())
    }
}
