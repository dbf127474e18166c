//! The worker threads that compile and run programs, so no run ever occupies the JS event loop
//! or libuv's shared thread pool, plus the one epoch ticker thread behind every run's wall-clock
//! backstop. Submission never blocks: with every worker busy and `queue_depth` jobs waiting, a
//! new job is refused with POOL_FULL at once (Catalog answers RESOURCE_EXHAUSTED).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::codes::{WasmError, ENGINE_CLOSED, ENGINE_FAILURE, POOL_FULL};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Native stack of a worker: wasm's own stack limit (max_wasm_stack) sits well inside it.
const WORKER_STACK_BYTES: usize = 8 << 20;

pub struct WorkerPool {
    tx: Mutex<Option<SyncSender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Jobs submitted and not yet finished (running or queued).
    pub in_flight: Arc<AtomicUsize>,
    limit: usize,
    ticker: Mutex<Option<(Arc<(Mutex<bool>, Condvar)>, JoinHandle<()>)>>,
    closed: AtomicBool,
}

impl WorkerPool {
    pub fn new(workers: usize, queue_depth: usize, engine: wasmtime::Engine, tick: Duration) -> Result<Self, WasmError> {
        let (tx, rx) = mpsc::sync_channel::<Job>(queue_depth + workers);
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::with_capacity(workers);
        for i in 0..workers {
            let rx: Arc<Mutex<Receiver<Job>>> = rx.clone();
            let t = std::thread::Builder::new()
                .name(format!("catalog-wasm-{i}"))
                .stack_size(WORKER_STACK_BYTES)
                .spawn(move || loop {
                    let job = { rx.lock().expect("pool receiver").recv() };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return, // sender dropped: closing
                    }
                })
                .map_err(|e| WasmError::new(ENGINE_FAILURE, format!("spawning a worker: {e}")))?;
            threads.push(t);
        }
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = stop.clone();
        // A timer, not synchronisation: advancing the epoch is how wasmtime's interruption works.
        let ticker = std::thread::Builder::new()
            .name("catalog-wasm-epoch".into())
            .spawn(move || {
                let (lock, cv) = &*stop2;
                let mut stopped = lock.lock().expect("ticker lock");
                while !*stopped {
                    let (s, _) = cv.wait_timeout(stopped, tick).expect("ticker wait");
                    stopped = s;
                    engine.increment_epoch();
                }
            })
            .map_err(|e| WasmError::new(ENGINE_FAILURE, format!("spawning the epoch ticker: {e}")))?;
        Ok(Self {
            tx: Mutex::new(Some(tx)),
            threads: Mutex::new(threads),
            in_flight: Arc::new(AtomicUsize::new(0)),
            limit: workers + queue_depth,
            ticker: Mutex::new(Some((stop, ticker))),
            closed: AtomicBool::new(false),
        })
    }

    /// Queues `work` or refuses at once. The slot is freed before `deliver` hands the result
    /// over, so a caller that submits again as soon as it has its result finds the slot free.
    pub fn try_submit<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static, deliver: impl FnOnce(T) + Send + 'static) -> Result<(), WasmError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(WasmError::new(ENGINE_CLOSED, "the engine is closed"));
        }
        // Counted before queueing so the bound holds however submitters race.
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if before >= self.limit {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(WasmError::new(POOL_FULL, format!("all {} run slots are taken (workers plus queue); try again later", self.limit)));
        }
        let counter = self.in_flight.clone();
        let wrapped: Job = Box::new(move || {
            let out = work();
            counter.fetch_sub(1, Ordering::AcqRel);
            deliver(out);
        });
        let tx = self.tx.lock().expect("pool sender");
        match tx.as_ref().map(|t| t.try_send(wrapped)) {
            Some(Ok(())) => Ok(()),
            Some(Err(TrySendError::Full(_))) => {
                self.in_flight.fetch_sub(1, Ordering::AcqRel);
                Err(WasmError::new(POOL_FULL, "the run queue is full; try again later"))
            }
            Some(Err(TrySendError::Disconnected(_))) | None => {
                self.in_flight.fetch_sub(1, Ordering::AcqRel);
                Err(WasmError::new(ENGINE_CLOSED, "the engine is closed"))
            }
        }
    }

    /// Refuses new jobs, lets queued and running ones finish, joins the threads.
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.tx.lock().expect("pool sender").take();
        for t in self.threads.lock().expect("pool threads").drain(..) {
            let _ = t.join();
        }
        if let Some((stop, t)) = self.ticker.lock().expect("ticker").take() {
            *stop.0.lock().expect("ticker lock") = true;
            stop.1.notify_all();
            let _ = t.join();
        }
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.close();
    }
}
