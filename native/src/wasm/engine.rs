//! The engine core, independent of napi: configuration, the compiled-module cache, the import
//! check, and one metered run. `pool.rs` runs these on worker threads; `binding.rs` is the JS face.
//!
//! Isolation: every run gets its own `Store` (its own fuel, limits, memory and I/O) and one
//! instance from the pooling allocator; whatever the run does, it ends as an [`Outcome`] and its
//! store is dropped. Nothing a program does reaches another run or the host beyond the WASI
//! subset in `wasi.rs`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime::{
    Config, Engine, ExternType, InstanceAllocationStrategy, InstancePre, Linker, Module, OptLevel, PoolingAllocationConfig,
    ResourceLimiter, Store, Trap, Val, ValType,
};

use super::codes::*;
use super::js;
use super::wasi::{self, HasRunIo, OutputSink, ProcExit, RunIo};

pub type ModuleHash = [u8; 32];

#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Runs at once (worker threads; also the pooling allocator's instance slots).
    pub workers: usize,
    /// Requests that may wait for a worker; beyond that, POOL_FULL.
    pub queue_depth: usize,
    /// Ceiling of any run's memory limit (bytes).
    pub max_memory_bytes: usize,
    pub max_table_elements: usize,
    pub max_module_bytes: usize,
    /// Ceiling of a run's stdout and of its stderr (each).
    pub max_output_bytes: usize,
    pub max_wasm_stack_bytes: usize,
    pub epoch_tick_ms: u64,
    pub cache_entries: usize,
    /// Fuel metering; off only to measure its cost.
    pub fuel: bool,
    /// The pooling allocator (pre-reserved instance slots); off only to measure it.
    pub pooling: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            workers: cores,
            queue_depth: cores * 2,
            max_memory_bytes: 64 << 20,
            max_table_elements: 10_000,
            max_module_bytes: 8 << 20,
            max_output_bytes: 1 << 20,
            max_wasm_stack_bytes: 512 << 10,
            epoch_tick_ms: 10,
            cache_entries: 256,
            fuel: true,
            pooling: true,
        }
    }
}

/// A run's resource limits, enforced through wasmtime's `ResourceLimiter`.
pub struct Limits {
    memory_bytes: usize,
    table_elements: usize,
    hit: Option<(Outcome, String)>,
    peak_memory: usize,
}

impl ResourceLimiter for Limits {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Exceeding the limit ends the run (MEMORY_LIMIT) rather than returning -1 to
        // memory.grow: a payer sees why the run stopped, and a program cannot spin on a refusal.
        if desired > self.memory_bytes {
            let msg = format!("memory would grow to {desired} bytes; the run's limit is {} bytes", self.memory_bytes);
            self.hit = Some((Outcome::MemoryLimit, msg.clone()));
            return Err(wasmtime::Error::msg(msg));
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            let msg = format!("table would grow to {desired} elements; the limit is {}", self.table_elements);
            self.hit = Some((Outcome::TableLimit, msg.clone()));
            return Err(wasmtime::Error::msg(msg));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        1
    }
    fn memories(&self) -> usize {
        1
    }
    fn tables(&self) -> usize {
        1
    }
}

pub struct RunState {
    io: RunIo,
    limits: Limits,
}

impl HasRunIo for RunState {
    fn io(&mut self) -> &mut RunIo {
        &mut self.io
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportInfo {
    pub name: String,
    pub params: Vec<&'static str>,
    pub results: Vec<&'static str>,
}

pub struct LoadedModule {
    pub hash: ModuleHash,
    pub exports: Vec<ExportInfo>,
    pub imports: Vec<String>,
    pub compile_ns: u64,
    /// The JavaScript runtime (QuickJS, `js.rs`): runs only with a script, never as a program.
    pub js_runtime: bool,
    pre: InstancePre<RunState>,
}

#[derive(Debug, Clone)]
pub struct RunRequest {
    pub module_hash: ModuleHash,
    pub export: String,
    pub args: Vec<i64>,
    pub argv: Vec<String>,
    pub stdin: Vec<u8>,
    pub fuel: u64,
    pub memory_limit_bytes: usize,
    pub max_output_bytes: usize,
    pub timeout_ms: u64,
    pub seed: [u8; 32],
    pub clock_start_ns: u64,
    /// A JavaScript program's source: `module_hash` is then the JavaScript runtime's and
    /// `export`/`args` are unused (see `js.rs`).
    pub script: Option<Vec<u8>>,
    /// With `script`: only parse and compile it (a syntax check; `JS_EXCEPTION` names the error).
    pub compile_only: bool,
}

#[derive(Debug, Clone)]
pub struct RunOutput {
    pub outcome: Outcome,
    pub message: String,
    pub results: Vec<i64>,
    pub exit_code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub fuel_used: u64,
    /// Whether `fuel_used` is all the run burned. Compiled code keeps its fuel count in a
    /// register and stores it only at calls, returns, `unreachable`, throws and the out-of-fuel
    /// path (wasmtime-internal-cranelift `fuel_before_op`); a run ended by any other trap (an
    /// out-of-bounds access, a division by zero, a memory.grow over the limit) or by the epoch
    /// (timeout) reports only what was stored before, possibly nothing of a tight loop.
    pub fuel_exact: bool,
    pub peak_memory_bytes: usize,
    pub setup_ns: u64,
    pub run_ns: u64,
}

#[derive(Default)]
pub struct EngineCounters {
    pub compiled: AtomicU64,
    pub cache_hits: AtomicU64,
    pub runs: AtomicU64,
    pub fuel_used: AtomicU64,
    pub outcomes: [AtomicU64; 8],
}

struct Cache {
    map: HashMap<ModuleHash, Arc<LoadedModule>>,
    order: VecDeque<ModuleHash>,
}

pub struct EngineCore {
    pub engine: Engine,
    linker: Linker<RunState>,
    js_linker: Linker<RunState>,
    cache: Mutex<Cache>,
    pub opts: EngineOptions,
    pub counters: EngineCounters,
}

fn type_name(t: &ValType) -> &'static str {
    match t {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::V128 => "v128",
        ValType::Ref(_) => "ref",
    }
}

pub fn module_hash(bytes: &[u8]) -> ModuleHash {
    crate::hash::digest(bytes)
}

impl EngineCore {
    pub fn new(opts: EngineOptions) -> Result<Self, WasmError> {
        if opts.workers == 0 || opts.workers > 256 {
            return Err(WasmError::new(INVALID_ARGUMENT, format!("workers must be 1..=256, got {}", opts.workers)));
        }
        if opts.max_memory_bytes < 65_536 || opts.max_memory_bytes > (4 << 30) {
            return Err(WasmError::new(INVALID_ARGUMENT, "maxMemoryBytes must be 64 KiB..=4 GiB"));
        }
        let mut config = Config::new();
        config
            .consume_fuel(opts.fuel)
            .epoch_interruption(true)
            .max_wasm_stack(opts.max_wasm_stack_bytes)
            .cranelift_opt_level(OptLevel::Speed)
            // Deterministic results: the receipt's output hash must be reproducible anywhere.
            .cranelift_nan_canonicalization(true)
            .relaxed_simd_deterministic(true)
            .wasm_multi_memory(false)
            .wasm_memory64(false);
        if opts.pooling {
            let slots = (opts.workers + 1) as u32;
            let mut pool = PoolingAllocationConfig::default();
            pool.total_core_instances(slots)
                .total_memories(slots)
                .total_tables(slots)
                .max_memories_per_module(1)
                .max_tables_per_module(1)
                .max_memory_size(opts.max_memory_bytes)
                .table_elements(opts.max_table_elements);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&config).map_err(|e| WasmError::new(ENGINE_FAILURE, format!("engine configuration: {e}")))?;
        let mut linker = Linker::new(&engine);
        wasi::add_to_linker(&mut linker).map_err(|e| WasmError::new(ENGINE_FAILURE, format!("WASI linker: {e}")))?;
        let mut js_linker = Linker::new(&engine);
        wasi::add_to_linker(&mut js_linker).map_err(|e| WasmError::new(ENGINE_FAILURE, format!("WASI linker: {e}")))?;
        js::add_to_linker(&mut js_linker).map_err(|e| WasmError::new(ENGINE_FAILURE, format!("JavaScript host linker: {e}")))?;
        Ok(Self {
            engine,
            linker,
            js_linker,
            cache: Mutex::new(Cache { map: HashMap::new(), order: VecDeque::new() }),
            opts,
            counters: EngineCounters::default(),
        })
    }

    pub fn cached(&self, hash: &ModuleHash) -> Option<Arc<LoadedModule>> {
        self.cache.lock().expect("cache lock").map.get(hash).cloned()
    }

    pub fn cache_len(&self) -> usize {
        self.cache.lock().expect("cache lock").map.len()
    }

    /// Validates, checks imports, compiles and caches. A module already cached is not recompiled.
    pub fn compile(&self, bytes: &[u8]) -> Result<Arc<LoadedModule>, WasmError> {
        self.compile_as(bytes, false)
    }

    /// Compiles and caches the JavaScript runtime (quickjs-wasi's `quickjs.wasm`): the WASI
    /// subset plus the `env.host_*` functions of `js.rs` are offered, and the driver's exports
    /// must be there. Runs of it need a script.
    pub fn compile_js_runtime(&self, bytes: &[u8]) -> Result<Arc<LoadedModule>, WasmError> {
        self.compile_as(bytes, true)
    }

    fn compile_as(&self, bytes: &[u8], js_runtime: bool) -> Result<Arc<LoadedModule>, WasmError> {
        if bytes.len() > self.opts.max_module_bytes {
            return Err(WasmError::new(MODULE_TOO_LARGE, format!("{} bytes; the limit is {}", bytes.len(), self.opts.max_module_bytes)));
        }
        let hash = module_hash(bytes);
        if let Some(hit) = self.cached(&hash) {
            if hit.js_runtime != js_runtime {
                return Err(WasmError::new(UNKNOWN_IMPORT, if hit.js_runtime { "this module is the engine's JavaScript runtime; it imports env.host_* functions, which programs are not offered" } else { "this module is a program, not the JavaScript runtime" }));
            }
            self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        let started = Instant::now();
        // Validation first: a clear message for bytes that are not wasm or are cut short.
        Module::validate(&self.engine, bytes).map_err(|e| WasmError::new(INVALID_MODULE, format!("{e:#}")))?;
        self.check_memories(bytes)?;
        let module = Module::new(&self.engine, bytes).map_err(|e| WasmError::new(INVALID_MODULE, format!("{e:#}")))?;
        let mut imports = Vec::new();
        for imp in module.imports() {
            let name = format!("{}.{}", imp.module(), imp.name());
            match imp.ty() {
                ExternType::Func(_) if imp.module() == wasi::WASI_MODULE && wasi::OFFERED.contains(&imp.name()) => {}
                ExternType::Func(_) if js_runtime && imp.module() == js::HOST_MODULE && js::HOST_OFFERED.contains(&imp.name()) => {}
                ExternType::Func(_) => {
                    return Err(WasmError::new(UNKNOWN_IMPORT, format!("the module imports function {name}, which the sandbox does not offer (offered: {}.{{{}}})", wasi::WASI_MODULE, wasi::OFFERED.join(","))));
                }
                other => {
                    let kind = match other {
                        ExternType::Memory(_) => "memory",
                        ExternType::Table(_) => "table",
                        ExternType::Global(_) => "global",
                        _ => "item",
                    };
                    return Err(WasmError::new(UNKNOWN_IMPORT, format!("the module imports {kind} {name}; the sandbox offers functions only (a program defines its own memory)")));
                }
            }
            imports.push(name);
        }
        if js_runtime {
            if let Some(missing) = js::REQUIRED_EXPORTS.iter().find(|n| module.get_export(n).is_none()) {
                return Err(WasmError::new(NO_SUCH_EXPORT, format!("not the JavaScript runtime this engine drives: no export {missing}")));
            }
        }
        let linker = if js_runtime { &self.js_linker } else { &self.linker };
        let pre = linker.instantiate_pre(&module).map_err(|e| WasmError::new(UNKNOWN_IMPORT, format!("{e:#}")))?;
        let exports = module
            .exports()
            .filter_map(|e| match e.ty() {
                ExternType::Func(f) => Some(ExportInfo {
                    name: e.name().to_string(),
                    params: f.params().map(|t| type_name(&t)).collect(),
                    results: f.results().map(|t| type_name(&t)).collect(),
                }),
                _ => None,
            })
            .collect();
        let loaded = Arc::new(LoadedModule { hash, exports, imports, compile_ns: started.elapsed().as_nanos() as u64, js_runtime, pre });
        self.counters.compiled.fetch_add(1, Ordering::Relaxed);
        let mut cache = self.cache.lock().expect("cache lock");
        if !cache.map.contains_key(&hash) {
            while cache.map.len() >= self.opts.cache_entries.max(1) {
                let Some(old) = cache.order.pop_front() else { break };
                cache.map.remove(&old);
            }
            cache.order.push_back(hash);
            cache.map.insert(hash, loaded.clone());
        }
        Ok(loaded)
    }

    /// A module whose initial memory is above the engine's cap could never run: refused by name.
    fn check_memories(&self, bytes: &[u8]) -> Result<(), WasmError> {
        use wasmtime::wasmparser::{Parser, Payload};
        for payload in Parser::new(0).parse_all(bytes) {
            let Ok(Payload::MemorySection(reader)) = payload else { continue };
            for mem in reader.into_iter().flatten() {
                let initial = mem.initial.saturating_mul(65_536);
                if initial > self.opts.max_memory_bytes as u64 {
                    return Err(WasmError::new(
                        UNSUPPORTED_MODULE,
                        format!("the module starts with {initial} bytes of memory; the service's cap is {} bytes", self.opts.max_memory_bytes),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks a request against the module before anything is spent on it.
    pub fn check(&self, req: &RunRequest) -> Result<(Arc<LoadedModule>, Vec<Val>), WasmError> {
        let module = self.cached(&req.module_hash).ok_or_else(|| WasmError::new(MODULE_NOT_LOADED, "the module is not compiled in this engine; compile it first"))?;
        if self.opts.fuel && req.fuel == 0 {
            return Err(WasmError::new(INVALID_ARGUMENT, "fuel must be at least 1"));
        }
        if req.memory_limit_bytes > self.opts.max_memory_bytes {
            return Err(WasmError::new(INVALID_ARGUMENT, format!("memory limit {} bytes is above the engine's cap of {} bytes", req.memory_limit_bytes, self.opts.max_memory_bytes)));
        }
        if req.max_output_bytes > self.opts.max_output_bytes {
            return Err(WasmError::new(INVALID_ARGUMENT, format!("output limit {} bytes is above the engine's cap of {} bytes", req.max_output_bytes, self.opts.max_output_bytes)));
        }
        if req.timeout_ms == 0 {
            return Err(WasmError::new(INVALID_ARGUMENT, "timeout must be at least 1 ms"));
        }
        match (&req.script, module.js_runtime) {
            (Some(_), true) => {
                if !req.args.is_empty() {
                    return Err(WasmError::new(ARGUMENT_MISMATCH, "a JavaScript program takes no arguments (use argv and stdin)"));
                }
                return Ok((module, Vec::new()));
            }
            (Some(_), false) => return Err(WasmError::new(INVALID_ARGUMENT, "a script runs on the JavaScript runtime; this module is not it")),
            (None, true) => return Err(WasmError::new(INVALID_ARGUMENT, "the JavaScript runtime runs scripts only")),
            (None, false) => {}
        }
        let export = module.exports.iter().find(|e| e.name == req.export).ok_or_else(|| {
            let names: Vec<&str> = module.exports.iter().map(|e| e.name.as_str()).collect();
            WasmError::new(NO_SUCH_EXPORT, format!("no exported function {:?} (exports: {})", req.export, names.join(", ")))
        })?;
        if let Some(bad) = export.params.iter().chain(export.results.iter()).find(|t| **t != "i32" && **t != "i64") {
            return Err(WasmError::new(UNSUPPORTED_SIGNATURE, format!("{:?} uses {bad}; a Catalog entry point takes and returns i32/i64 only", req.export)));
        }
        if export.params.len() != req.args.len() {
            return Err(WasmError::new(ARGUMENT_MISMATCH, format!("{:?} takes {} argument(s), got {}", req.export, export.params.len(), req.args.len())));
        }
        let mut args = Vec::with_capacity(req.args.len());
        for (i, (t, v)) in export.params.iter().zip(&req.args).enumerate() {
            args.push(if *t == "i32" {
                // i32 arguments may be given signed or unsigned (-2^31 ..= 2^32-1).
                if *v < i32::MIN as i64 || *v > u32::MAX as i64 {
                    return Err(WasmError::new(ARGUMENT_MISMATCH, format!("argument {i} is an i32; {v} is out of range")));
                }
                Val::I32(*v as i32)
            } else {
                Val::I64(*v)
            });
        }
        Ok((module, args))
    }

    /// One metered run. Errors mean the run did not start; a started run always returns Ok.
    pub fn run(&self, req: RunRequest) -> Result<RunOutput, WasmError> {
        self.run_with(req, None)
    }

    /// A run whose output is also pushed to `sink` as it is written.
    pub fn run_with(&self, req: RunRequest, sink: Option<Arc<OutputSink>>) -> Result<RunOutput, WasmError> {
        let (module, args) = self.check(&req)?;
        let started = Instant::now();
        let script = req.script;
        let (js_argv, js_stdin) = if script.is_some() { (req.argv.iter().map(|a| a.as_bytes().to_vec()).collect::<Vec<_>>(), req.stdin.clone()) } else { (Vec::new(), Vec::new()) };
        let mut io = RunIo::new(req.argv, req.stdin, req.max_output_bytes, req.clock_start_ns, req.fuel, req.seed);
        io.sink = sink;
        let state = RunState {
            io,
            limits: Limits { memory_bytes: req.memory_limit_bytes, table_elements: self.opts.max_table_elements, hit: None, peak_memory: 0 },
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        if self.opts.fuel {
            store.set_fuel(req.fuel).map_err(|e| WasmError::new(ENGINE_FAILURE, format!("{e}")))?;
        }
        let ticks = req.timeout_ms.div_ceil(self.opts.epoch_tick_ms.max(1)) + 1;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();

        let mut results = Vec::new();
        let mut setup_ns = 0;
        let mut js_exception: Option<String> = None;
        let ended: wasmtime::Result<()> = (|| {
            let instance = module.pre.instantiate(&mut store)?;
            setup_ns = started.elapsed().as_nanos() as u64;
            if let Some(script) = &script {
                js_exception = js::run_script(&mut store, &instance, script, &js_argv, &js_stdin, req.compile_only)?;
                return Ok(());
            }
            let func = instance.get_func(&mut store, &req.export).ok_or_else(|| wasmtime::Error::msg("export vanished"))?;
            let mut out = vec![Val::I32(0); func.ty(&store).results().len()];
            func.call(&mut store, &args, &mut out)?;
            results = out.iter().map(|v| v.i64().unwrap_or_else(|| v.unwrap_i32() as i64)).collect();
            Ok(())
        })();
        if setup_ns == 0 {
            setup_ns = started.elapsed().as_nanos() as u64;
        }
        let run_ns = (started.elapsed().as_nanos() as u64).saturating_sub(setup_ns);
        let fuel_used = if self.opts.fuel { req.fuel - store.get_fuel().unwrap_or(0) } else { 0 };
        let fuel_exact = fuel_count_exact(&ended, store.data());
        let (outcome, message) = match (&ended, js_exception) {
            (Ok(()), None) => (Outcome::Ok, String::new()),
            (Ok(()), Some(description)) => {
                store.data_mut().io.write(2, format!("Uncaught {description}\n").as_bytes());
                (Outcome::JsException, description)
            }
            (Err(e), _) => classify(e, store.data()),
        };
        let state = store.into_data();
        let c = &self.counters;
        c.runs.fetch_add(1, Ordering::Relaxed);
        c.fuel_used.fetch_add(fuel_used, Ordering::Relaxed);
        c.outcomes[Outcome::ALL.iter().position(|o| *o == outcome).expect("listed")].fetch_add(1, Ordering::Relaxed);
        Ok(RunOutput {
            outcome,
            message,
            results,
            exit_code: state.io.exit_code,
            stdout: state.io.stdout,
            stderr: state.io.stderr,
            stdout_truncated: state.io.stdout_truncated,
            stderr_truncated: state.io.stderr_truncated,
            fuel_used,
            fuel_exact,
            peak_memory_bytes: state.limits.peak_memory,
            setup_ns,
            run_ns,
        })
    }
}

/// Whether the fuel count was stored when the run ended (see RunOutput::fuel_exact): a normal
/// end or `proc_exit` (a host call), out of fuel, a stack overflow (detected in the callee's
/// prologue, after the caller's call stored the count) and `unreachable` store it; a limit the
/// ResourceLimiter refused (memory.grow, table.grow: builtins, not calls), other traps and the
/// epoch interruption do not.
fn fuel_count_exact(ended: &wasmtime::Result<()>, state: &RunState) -> bool {
    let e = match ended {
        Ok(()) => return true,
        Err(e) => e,
    };
    if state.limits.hit.is_some() {
        return false;
    }
    if state.io.exit_code.is_some() || e.downcast_ref::<ProcExit>().is_some() {
        return true;
    }
    matches!(e.downcast_ref::<Trap>(), Some(Trap::OutOfFuel | Trap::StackOverflow | Trap::UnreachableCodeReached))
}

/// How a run that ended with an error ended. The store's own records (a limit hit, a
/// `proc_exit`) come first: the error value may be wrapped in context by the time it arrives.
fn classify(e: &wasmtime::Error, state: &RunState) -> (Outcome, String) {
    if let Some((outcome, msg)) = &state.limits.hit {
        return (*outcome, msg.clone());
    }
    if let Some(code) = state.io.exit_code {
        return (Outcome::Ok, format!("proc_exit({code})"));
    }
    if e.downcast_ref::<ProcExit>().is_some() {
        return (Outcome::Ok, String::new());
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => (Outcome::OutOfFuel, "all fuel consumed".into()),
        Some(Trap::StackOverflow) => (Outcome::StackOverflow, "call stack exhausted".into()),
        Some(Trap::Interrupt) => (Outcome::Timeout, "the run exceeded its wall-clock timeout".into()),
        Some(t) => (Outcome::Trap, t.to_string()),
        None => (Outcome::Trap, format!("{e:#}")),
    }
}
