//! Endpoint-wide bookkeeping shared with connection watchers: counters, live connections and
//! byte totals of closed ones, and how the endpoint was closed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Registry {
    live: HashMap<usize, quinn::Connection>,
    closed_bytes_sent: u64,
    closed_bytes_received: u64,
}

#[derive(Default)]
pub struct EndpointState {
    pub accepted: AtomicU64,
    pub dialed: AtomicU64,
    pub handshake_failures: AtomicU64,
    registry: Mutex<Registry>,
    /// (code, reason) given to `QuicEndpoint.close()`.
    pub close_info: Mutex<Option<(u64, String)>>,
}

pub struct Totals {
    pub open: usize,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

impl EndpointState {
    /// Counts `conn` as open until it closes; its byte counts then move to the closed totals.
    pub fn track(self: &Arc<Self>, conn: &quinn::Connection) {
        self.registry.lock().unwrap().live.insert(conn.stable_id(), conn.clone());
        let state = self.clone();
        let conn = conn.clone();
        napi::bindgen_prelude::spawn(async move {
            conn.closed().await;
            let stats = conn.stats();
            let mut reg = state.registry.lock().unwrap();
            reg.closed_bytes_sent += stats.udp_tx.bytes;
            reg.closed_bytes_received += stats.udp_rx.bytes;
            reg.live.remove(&conn.stable_id());
        });
    }

    pub fn totals(&self) -> Totals {
        let reg = self.registry.lock().unwrap();
        let mut t = Totals {
            open: reg.live.len(),
            bytes_sent: reg.closed_bytes_sent,
            bytes_received: reg.closed_bytes_received,
        };
        for conn in reg.live.values() {
            let s = conn.stats();
            t.bytes_sent += s.udp_tx.bytes;
            t.bytes_received += s.udp_rx.bytes;
        }
        t
    }

    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn endpoint_close_info(&self) -> Option<(u64, String)> {
        self.close_info.lock().unwrap().clone()
    }
}
