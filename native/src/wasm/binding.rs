//! The JavaScript face of the engine: `new WasmEngine(options)`, `compile(bytes)`, `run(request)`,
//! `stats()`, `close()`, plus `watToWasm(text)`. Compiles and runs happen on the engine's worker
//! threads; the promise settles on the JS thread.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{BigInt, Buffer};
use napi_derive::napi;
use tokio::sync::oneshot;

use super::codes::*;
use super::engine::{EngineCore, EngineOptions, LoadedModule, ModuleHash, RunOutput, RunRequest};
use super::pool::WorkerPool;

#[napi(object)]
pub struct WasmEngineOptions {
    /// Runs at once (default: the machine's cores).
    pub workers: Option<u32>,
    /// Requests that may wait for a worker (default 2 × workers); beyond: POOL_FULL.
    pub queue_depth: Option<u32>,
    /// Ceiling of any run's memory limit (default 64 MiB).
    pub max_memory_bytes: Option<u32>,
    /// Table elements per instance (default 10,000).
    pub max_table_elements: Option<u32>,
    /// Largest module accepted (default 8 MiB).
    pub max_module_bytes: Option<u32>,
    /// Ceiling of a run's stdout, and of its stderr (default 1 MiB each).
    pub max_output_bytes: Option<u32>,
    /// WebAssembly stack per run (default 512 KiB).
    pub max_wasm_stack_bytes: Option<u32>,
    /// Epoch ticker period (default 10 ms): the resolution of run timeouts.
    pub epoch_tick_ms: Option<u32>,
    /// Compiled modules kept (default 256).
    pub cache_entries: Option<u32>,
    /// Fuel metering (default true; false only to measure its cost).
    pub fuel: Option<bool>,
    /// Pooling allocator (default true).
    pub pooling: Option<bool>,
}

#[napi(object)]
pub struct WasmExport {
    pub name: String,
    /// "i32" | "i64" | "f32" | "f64" | "v128" | "ref"
    pub params: Vec<String>,
    pub results: Vec<String>,
}

#[napi(object)]
pub struct WasmModuleInfo {
    /// SHA-256 of the module bytes.
    pub hash: Buffer,
    pub exports: Vec<WasmExport>,
    /// "wasi_snapshot_preview1.fd_write" style.
    pub imports: Vec<String>,
    pub compile_ns: f64,
}

#[napi(object)]
pub struct WasmRunRequest {
    pub module_hash: Buffer,
    /// Exported function to call; its params and results must be i32/i64.
    pub export: String,
    /// One value per parameter (i32 params accept -2^31 ..= 2^32-1).
    pub args: Vec<BigInt>,
    /// WASI argv (argv[0] included, if the program expects one).
    pub argv: Option<Vec<String>>,
    pub stdin: Option<Buffer>,
    /// Fuel units (≥ 1 when metering), at most 2^53.
    pub fuel: f64,
    pub memory_limit_bytes: u32,
    /// Cap of stdout and of stderr, each (default and ceiling: the engine's maxOutputBytes).
    pub max_output_bytes: Option<u32>,
    /// Wall-clock backstop (ms).
    pub timeout_ms: u32,
    /// 32 bytes seeding WASI random_get (default zeros).
    pub seed: Option<Buffer>,
    /// Start of the virtual clock, ns since the Unix epoch (default 0).
    pub clock_start_ns: Option<BigInt>,
    /// A JavaScript program's source (UTF-8): `moduleHash` is then the JavaScript runtime's
    /// (`compileJsRuntime`), `export` is ignored and `args` must be empty.
    pub script: Option<Buffer>,
    /// With `script`: only parse and compile it (a syntax check, metered like a run).
    pub compile_only: Option<bool>,
}

#[napi(object)]
pub struct WasmRunResult {
    /// "OK" | "TRAP" | "OUT_OF_FUEL" | "MEMORY_LIMIT" | "TABLE_LIMIT" | "STACK_OVERFLOW" | "TIMEOUT" | "JS_EXCEPTION"
    pub outcome: String,
    pub message: String,
    pub results: Vec<BigInt>,
    /// Set when the program called WASI proc_exit.
    pub exit_code: Option<i32>,
    pub stdout: Buffer,
    pub stderr: Buffer,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub fuel_used: f64,
    /// Whether fuelUsed is all the run burned (false after a trap other than out-of-fuel,
    /// stack overflow or `unreachable`, a limit hit, or the timeout: wasmtime had not stored
    /// the count; bill the whole fuel limit then).
    pub fuel_exact: bool,
    pub peak_memory_bytes: f64,
    /// Instantiation (store, instance slot, start function).
    pub setup_ns: f64,
    pub run_ns: f64,
}

#[napi(object)]
pub struct WasmEngineStats {
    pub workers: u32,
    pub in_flight: u32,
    pub cached_modules: u32,
    pub compiled: f64,
    pub cache_hits: f64,
    pub runs: f64,
    pub fuel_used: f64,
    /// Runs per outcome, in the order of `wasmOutcomes()`.
    pub outcomes: Vec<f64>,
}

/// Error codes this engine rejects with.
#[napi]
pub fn wasm_error_codes() -> Vec<String> {
    ALL_WASM_CODES.iter().map(|c| c.name().to_string()).collect()
}

/// The outcomes a run can end with.
#[napi]
pub fn wasm_outcomes() -> Vec<String> {
    Outcome::ALL.iter().map(|o| o.name().to_string()).collect()
}

/// WebAssembly text to binary (the `wat` crate). INVALID_MODULE with line and column on error.
#[napi]
pub fn wat_to_wasm(text: String) -> napi::Result<Buffer, WasmCode> {
    wat::parse_str(&text).map(Buffer::from).map_err(|e| WasmError::new(INVALID_MODULE, e.to_string()).into())
}

/// SHA-256 of module bytes: the content address.
#[napi]
pub fn wasm_module_hash(bytes: &[u8]) -> Buffer {
    Buffer::from(super::engine::module_hash(bytes).to_vec())
}

fn info(m: &LoadedModule) -> WasmModuleInfo {
    WasmModuleInfo {
        hash: Buffer::from(m.hash.to_vec()),
        exports: m
            .exports
            .iter()
            .map(|e| WasmExport {
                name: e.name.clone(),
                params: e.params.iter().map(|s| s.to_string()).collect(),
                results: e.results.iter().map(|s| s.to_string()).collect(),
            })
            .collect(),
        imports: m.imports.clone(),
        compile_ns: m.compile_ns as f64,
    }
}

fn to_hash(b: &[u8], what: &str) -> Result<ModuleHash, WasmError> {
    b.try_into().map_err(|_| WasmError::new(INVALID_ARGUMENT, format!("{what} must be 32 bytes, got {}", b.len())))
}

fn to_i64(v: &BigInt, what: &str) -> Result<i64, WasmError> {
    let (n, lossless) = v.get_i64();
    if !lossless {
        return Err(WasmError::new(ARGUMENT_MISMATCH, format!("{what} does not fit in an i64")));
    }
    Ok(n)
}

fn request(engine: &EngineCore, r: WasmRunRequest) -> Result<RunRequest, WasmError> {
    if !(r.fuel.is_finite() && r.fuel >= 0.0 && r.fuel.fract() == 0.0 && r.fuel <= 9_007_199_254_740_992.0) {
        return Err(WasmError::new(INVALID_ARGUMENT, format!("fuel must be an integer 0..=2^53, got {}", r.fuel)));
    }
    let args = r.args.iter().enumerate().map(|(i, v)| to_i64(v, &format!("argument {i}"))).collect::<Result<_, _>>()?;
    let seed = match &r.seed {
        None => [0u8; 32],
        Some(s) => to_hash(s, "seed")?,
    };
    let clock_start_ns = match &r.clock_start_ns {
        None => 0,
        Some(v) => {
            let (_, n, lossless) = v.get_u64();
            if !lossless {
                return Err(WasmError::new(INVALID_ARGUMENT, "clockStartNs must be a u64"));
            }
            n
        }
    };
    Ok(RunRequest {
        module_hash: to_hash(&r.module_hash, "moduleHash")?,
        export: r.export,
        args,
        argv: r.argv.unwrap_or_default(),
        stdin: r.stdin.map(|b| b.to_vec()).unwrap_or_default(),
        fuel: r.fuel as u64,
        memory_limit_bytes: r.memory_limit_bytes as usize,
        max_output_bytes: r.max_output_bytes.map_or(engine.opts.max_output_bytes, |v| v as usize),
        timeout_ms: r.timeout_ms as u64,
        seed,
        clock_start_ns,
        script: r.script.map(|b| b.to_vec()),
        compile_only: r.compile_only.unwrap_or(false),
    })
}

fn result(o: RunOutput) -> WasmRunResult {
    WasmRunResult {
        outcome: o.outcome.name().to_string(),
        message: o.message,
        results: o.results.into_iter().map(BigInt::from).collect(),
        exit_code: o.exit_code,
        stdout: Buffer::from(o.stdout),
        stderr: Buffer::from(o.stderr),
        stdout_truncated: o.stdout_truncated,
        stderr_truncated: o.stderr_truncated,
        fuel_used: o.fuel_used as f64,
        fuel_exact: o.fuel_exact,
        peak_memory_bytes: o.peak_memory_bytes as f64,
        setup_ns: o.setup_ns as f64,
        run_ns: o.run_ns as f64,
    }
}

/// A sandboxed, metered WebAssembly engine (wasmtime) with its own worker threads.
#[napi]
pub struct WasmEngine {
    core: Arc<EngineCore>,
    pool: Arc<WorkerPool>,
}

#[napi]
impl WasmEngine {
    #[napi(constructor)]
    pub fn new(options: Option<WasmEngineOptions>) -> napi::Result<Self, WasmCode> {
        let o = options.unwrap_or(WasmEngineOptions {
            workers: None,
            queue_depth: None,
            max_memory_bytes: None,
            max_table_elements: None,
            max_module_bytes: None,
            max_output_bytes: None,
            max_wasm_stack_bytes: None,
            epoch_tick_ms: None,
            cache_entries: None,
            fuel: None,
            pooling: None,
        });
        let d = EngineOptions::default();
        let workers = o.workers.map_or(d.workers, |v| v as usize);
        let opts = EngineOptions {
            workers,
            queue_depth: o.queue_depth.map_or(workers * 2, |v| v as usize),
            max_memory_bytes: o.max_memory_bytes.map_or(d.max_memory_bytes, |v| v as usize),
            max_table_elements: o.max_table_elements.map_or(d.max_table_elements, |v| v as usize),
            max_module_bytes: o.max_module_bytes.map_or(d.max_module_bytes, |v| v as usize),
            max_output_bytes: o.max_output_bytes.map_or(d.max_output_bytes, |v| v as usize),
            max_wasm_stack_bytes: o.max_wasm_stack_bytes.map_or(d.max_wasm_stack_bytes, |v| v as usize),
            epoch_tick_ms: o.epoch_tick_ms.map_or(d.epoch_tick_ms, |v| v.max(1) as u64),
            cache_entries: o.cache_entries.map_or(d.cache_entries, |v| v as usize),
            fuel: o.fuel.unwrap_or(d.fuel),
            pooling: o.pooling.unwrap_or(d.pooling),
        };
        let tick = Duration::from_millis(opts.epoch_tick_ms);
        let core = Arc::new(EngineCore::new(opts)?);
        let pool = Arc::new(WorkerPool::new(core.opts.workers, core.opts.queue_depth, core.engine.clone(), tick)?);
        Ok(Self { core, pool })
    }

    /// Validates, checks imports, compiles and caches a module (on a worker thread).
    #[napi(ts_return_type = "Promise<WasmModuleInfo>")]
    pub async fn compile(&self, bytes: Buffer) -> napi::Result<WasmCoded<WasmModuleInfo>> {
        let bytes = bytes.to_vec();
        let core = self.core.clone();
        let (tx, rx) = oneshot::channel();
        if let Err(e) = self.pool.try_submit(move || core.compile(&bytes), move |r| {
            let _ = tx.send(r);
        }) {
            return Ok(WasmCoded(Err(e)));
        }
        Ok(WasmCoded(match rx.await {
            Ok(r) => r.map(|m| info(&m)),
            Err(_) => Err(WasmError::new(ENGINE_CLOSED, "the engine closed during the compile")),
        }))
    }

    /// Compiles and caches the JavaScript runtime (quickjs-wasi's `quickjs.wasm`; see
    /// native/README.md "JavaScript programs"), on a worker thread.
    #[napi(ts_return_type = "Promise<WasmModuleInfo>")]
    pub async fn compile_js_runtime(&self, bytes: Buffer) -> napi::Result<WasmCoded<WasmModuleInfo>> {
        let bytes = bytes.to_vec();
        let core = self.core.clone();
        let (tx, rx) = oneshot::channel();
        if let Err(e) = self.pool.try_submit(move || core.compile_js_runtime(&bytes), move |r| {
            let _ = tx.send(r);
        }) {
            return Ok(WasmCoded(Err(e)));
        }
        Ok(WasmCoded(match rx.await {
            Ok(r) => r.map(|m| info(&m)),
            Err(_) => Err(WasmError::new(ENGINE_CLOSED, "the engine closed during the compile")),
        }))
    }

    /// Whether a module with this hash is compiled and cached.
    #[napi]
    pub fn is_loaded(&self, hash: &[u8]) -> bool {
        hash.try_into().ok().is_some_and(|h: ModuleHash| self.core.cached(&h).is_some())
    }

    /// Checks a run request without running it (the same checks `run` makes first).
    #[napi]
    pub fn check(&self, request: WasmRunRequest) -> napi::Result<(), WasmCode> {
        let req = request_or(&self.core, request)?;
        self.core.check(&req)?;
        Ok(())
    }

    /// One metered run on a worker thread. Rejects (with a code) only when the run could not
    /// start; how a started run ended is `outcome`.
    #[napi(ts_return_type = "Promise<WasmRunResult>")]
    pub async fn run(&self, request: WasmRunRequest) -> napi::Result<WasmCoded<WasmRunResult>> {
        let req = match request_or(&self.core, request) {
            Ok(r) => r,
            Err(e) => return Ok(WasmCoded(Err(e))),
        };
        if let Err(e) = self.core.check(&req) {
            return Ok(WasmCoded(Err(e)));
        }
        let core = self.core.clone();
        let (tx, rx) = oneshot::channel();
        if let Err(e) = self.pool.try_submit(move || core.run(req), move |r| {
            let _ = tx.send(r);
        }) {
            return Ok(WasmCoded(Err(e)));
        }
        Ok(WasmCoded(match rx.await {
            Ok(r) => r.map(result),
            Err(_) => Err(WasmError::new(ENGINE_CLOSED, "the engine closed during the run")),
        }))
    }

    #[napi]
    pub fn stats(&self) -> WasmEngineStats {
        let c = &self.core.counters;
        WasmEngineStats {
            workers: self.core.opts.workers as u32,
            in_flight: self.pool.in_flight.load(Ordering::Relaxed) as u32,
            cached_modules: self.core.cache_len() as u32,
            compiled: c.compiled.load(Ordering::Relaxed) as f64,
            cache_hits: c.cache_hits.load(Ordering::Relaxed) as f64,
            runs: c.runs.load(Ordering::Relaxed) as f64,
            fuel_used: c.fuel_used.load(Ordering::Relaxed) as f64,
            outcomes: c.outcomes.iter().map(|a| a.load(Ordering::Relaxed) as f64).collect(),
        }
    }

    /// Refuses new work, waits for running work to end (at most its timeout), stops the threads.
    #[napi]
    pub fn close(&self) {
        self.pool.close();
    }
}

fn request_or(core: &EngineCore, r: WasmRunRequest) -> Result<RunRequest, WasmError> {
    request(core, r)
}

/// FALCON-1024 signing off the JS thread (libuv's pool): a receipt signature costs ~0.4 ms of CPU,
/// which on the event loop would cap Catalog's execute rate. Same key format as `falconSign`.
pub struct ReceiptSignTask {
    secret_key: Vec<u8>,
    message: Vec<u8>,
}

impl napi::Task for ReceiptSignTask {
    type Output = Result<Vec<u8>, crate::error::StoqError>;
    type JsValue = Buffer;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(crate::falcon::sign(&self.secret_key, &self.message))
    }

    fn resolve(&mut self, env: napi::Env, output: Self::Output) -> napi::Result<Buffer> {
        output.map(Buffer::from).map_err(|e| crate::error::coded_rejection(&env, e))
    }
}

/// `falconSign` on a libuv worker thread; rejects with FALCON_REJECTED like the sync one throws.
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn falcon_sign_async(secret_key: &[u8], message: &[u8]) -> napi::bindgen_prelude::AsyncTask<ReceiptSignTask> {
    napi::bindgen_prelude::AsyncTask::new(ReceiptSignTask { secret_key: secret_key.to_vec(), message: message.to_vec() })
}

#[napi]
impl WasmEngine {
    /// `run`, with the output also delivered while the program runs: `onOutput(stdout, stderr)`
    /// receives the bytes written since its previous call (batched; either may be empty). The
    /// chunks are successive pieces of the final `stdout`/`stderr` (after the cap); the last ones
    /// may arrive after the promise settles, so a caller that must have everything takes the
    /// remainder from the result (its length minus what it received).
    #[napi(ts_args_type = "request: WasmRunRequest, onOutput: (stdout: Buffer, stderr: Buffer) => void", ts_return_type = "Promise<WasmRunResult>")]
    pub fn run_streaming<'env>(
        &self,
        env: &'env napi::Env,
        request: WasmRunRequest,
        on_output: napi::bindgen_prelude::Function<'env, napi::bindgen_prelude::FnArgs<(Buffer, Buffer)>, ()>,
    ) -> napi::Result<napi::bindgen_prelude::PromiseRaw<'env, WasmCoded<WasmRunResult>>> {
        let checked = request_or(&self.core, request).and_then(|req| self.core.check(&req).map(|_| req));
        // Weak: the sink owns the threadsafe function, whose callback reads the sink; a strong
        // reference here would be a cycle that keeps the function (and the event loop) alive.
        let slot: Arc<std::sync::OnceLock<std::sync::Weak<super::wasi::OutputSink>>> = Arc::new(std::sync::OnceLock::new());
        let drain = slot.clone();
        let deliver = on_output
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .build_callback(move |_ctx| {
                let (out, err) = drain.get().and_then(std::sync::Weak::upgrade).map(|s| s.take()).unwrap_or_default();
                Ok(napi::bindgen_prelude::FnArgs::from((Buffer::from(out), Buffer::from(err))))
            })?;
        let sink = Arc::new(super::wasi::OutputSink::new(move || {
            // Fails only while Node tears the environment down; nothing is left to tell then.
            let _ = deliver.call((), napi::threadsafe_function::ThreadsafeFunctionCallMode::NonBlocking);
        }));
        let _ = slot.set(Arc::downgrade(&sink));
        let core = self.core.clone();
        let pool = self.pool.clone();
        env.spawn_future(async move {
            let req = match checked {
                Ok(r) => r,
                Err(e) => return Ok(WasmCoded(Err(e))),
            };
            let (tx, rx) = oneshot::channel();
            if let Err(e) = pool.try_submit(move || core.run_with(req, Some(sink)), move |r| {
                let _ = tx.send(r);
            }) {
                return Ok(WasmCoded(Err(e)));
            }
            Ok(WasmCoded(match rx.await {
                Ok(r) => r.map(result),
                Err(_) => Err(WasmError::new(ENGINE_CLOSED, "the engine closed during the run")),
            }))
        })
    }
}
