//! Engine tests with the WAT programs in native/test/wasm (shared with the JS tests).

use std::sync::Arc;

use super::codes::*;
use super::engine::{EngineCore, EngineOptions, RunOutput, RunRequest};

fn wasm(name: &str) -> Vec<u8> {
    let path = format!("{}/test/wasm/{name}.wat", env!("CARGO_MANIFEST_DIR"));
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn engine() -> EngineCore {
    EngineCore::new(EngineOptions { workers: 2, queue_depth: 2, max_memory_bytes: 16 << 20, max_output_bytes: 1 << 16, ..EngineOptions::default() }).unwrap()
}

fn req(core: &EngineCore, name: &str, export: &str, args: Vec<i64>) -> RunRequest {
    let m = core.compile(&wasm(name)).unwrap();
    RunRequest {
        module_hash: m.hash,
        export: export.into(),
        args,
        argv: vec![],
        stdin: vec![],
        fuel: 1_000_000,
        memory_limit_bytes: 8 << 20,
        max_output_bytes: 1 << 16,
        timeout_ms: 5_000,
        seed: [0; 32],
        clock_start_ns: 0,
        script: None,
        compile_only: false,
    }
}

fn run(core: &EngineCore, r: RunRequest) -> RunOutput {
    core.run(r).unwrap()
}

#[test]
fn adds_two_numbers_and_meters_fuel() {
    let core = engine();
    let out = run(&core, req(&core, "add", "add", vec![40, 2]));
    assert_eq!((out.outcome, out.results.clone(), out.fuel_exact), (Outcome::Ok, vec![42], true));
    assert!(out.fuel_used > 0 && out.fuel_used < 20, "fuel {}", out.fuel_used);
    let out32 = run(&core, req(&core, "add", "add32", vec![i32::MAX as i64, 1]));
    assert_eq!(out32.results, vec![i32::MIN as i64]);
    // the same run costs the same fuel: metering is deterministic
    let again = run(&core, req(&core, "add", "add", vec![40, 2]));
    assert_eq!(again.fuel_used, out.fuel_used);
}

#[test]
fn bad_modules_are_refused_with_their_own_codes() {
    let core = engine();
    assert_eq!(core.compile(b"definitely not wasm").err().unwrap().code, INVALID_MODULE);
    let good = wasm("add");
    assert_eq!(core.compile(&good[..good.len() - 3]).err().unwrap().code, INVALID_MODULE);
    let e = core.compile(&wasm("socket")).err().unwrap();
    assert_eq!(e.code, UNKNOWN_IMPORT);
    assert!(e.message.contains("wasi_snapshot_preview1.sock_accept"), "{}", e.message);
    let mem_import = wat::parse_str(r#"(module (import "env" "memory" (memory 1)))"#).unwrap();
    assert_eq!(core.compile(&mem_import).err().unwrap().code, UNKNOWN_IMPORT);
    let huge = wat::parse_str("(module (memory 512))").unwrap();
    assert_eq!(core.compile(&huge).err().unwrap().code, UNSUPPORTED_MODULE);
    let small = EngineCore::new(EngineOptions { max_module_bytes: 16, ..EngineOptions::default() }).unwrap();
    assert_eq!(small.compile(&good).err().unwrap().code, MODULE_TOO_LARGE);
}

#[test]
fn bad_requests_are_refused_before_running() {
    let core = engine();
    let base = req(&core, "add", "add", vec![1, 2]);
    assert_eq!(core.run(RunRequest { export: "nope".into(), ..base.clone() }).err().unwrap().code, NO_SUCH_EXPORT);
    assert_eq!(core.run(RunRequest { fuel: 0, ..base.clone() }).err().unwrap().code, INVALID_ARGUMENT);
    assert_eq!(core.run(RunRequest { memory_limit_bytes: 32 << 20, ..base.clone() }).err().unwrap().code, INVALID_ARGUMENT);
    assert_eq!(core.run(RunRequest { args: vec![1], ..base.clone() }).err().unwrap().code, ARGUMENT_MISMATCH);
    assert_eq!(core.run(RunRequest { export: "add32".into(), args: vec![1 << 40, 1], ..base.clone() }).err().unwrap().code, ARGUMENT_MISMATCH);
    assert_eq!(core.run(RunRequest { export: "uses_f64".into(), args: vec![1], ..base.clone() }).err().unwrap().code, UNSUPPORTED_SIGNATURE);
    assert_eq!(core.run(RunRequest { module_hash: [9; 32], ..base }).err().unwrap().code, MODULE_NOT_LOADED);
}

#[test]
fn each_failure_ends_its_run_with_its_own_outcome() {
    let core = engine();
    let spin = run(&core, req(&core, "spin", "spin", vec![]));
    assert_eq!((spin.outcome, spin.fuel_used), (Outcome::OutOfFuel, 1_000_000));
    let grow = run(&core, req(&core, "grow", "grow", vec![]));
    assert_eq!(grow.outcome, Outcome::MemoryLimit, "{}", grow.message);
    assert_eq!(grow.peak_memory_bytes, 8 << 20);
    let deep = run(&core, RunRequest { fuel: 100_000_000, ..req(&core, "recurse", "recurse", vec![0]) });
    assert_eq!(deep.outcome, Outcome::StackOverflow, "{}", deep.message);
    let unreachable = run(&core, req(&core, "traps", "unreachable", vec![]));
    assert_eq!(unreachable.outcome, Outcome::Trap);
    let div = run(&core, req(&core, "traps", "divide", vec![1, 0]));
    assert_eq!((div.outcome, div.message.as_str()), (Outcome::Trap, "wasm trap: integer divide by zero"));
    let big = run(&core, RunRequest { memory_limit_bytes: 1 << 20, ..req(&core, "big_memory", "run", vec![]) });
    assert_eq!(big.outcome, Outcome::MemoryLimit);
    // Whether the fuel count was stored when the run ended: exact for a normal end, out of fuel,
    // a stack overflow and `unreachable`; not for other traps and limits (billed in full).
    let exact = |o: &RunOutput| o.fuel_exact;
    assert!(exact(&spin) && exact(&deep) && exact(&unreachable));
    assert!(!exact(&div) && !exact(&grow) && !exact(&big));
    let looped = run(&core, RunRequest { fuel: 100_000_000, ..req(&core, "traps", "loop_then_divide", vec![1_000_000]) });
    assert_eq!(looped.outcome, Outcome::Trap);
    assert!(!looped.fuel_exact);
    assert!(looped.fuel_used < 1_000_000, "a million iterations burned more than {} fuel, and the count missed it", looped.fuel_used);
    // and the engine still runs the next program
    assert_eq!(run(&core, req(&core, "add", "add", vec![1, 2])).results, vec![3]);
}

#[test]
fn the_wall_clock_backstop_ends_a_run_without_fuel() {
    let core = EngineCore::new(EngineOptions { fuel: false, ..EngineOptions::default() }).unwrap();
    let pool = super::pool::WorkerPool::new(1, 0, core.engine.clone(), std::time::Duration::from_millis(5)).unwrap();
    let core = Arc::new(core);
    let r = RunRequest { timeout_ms: 50, ..req(&core, "spin", "spin", vec![]) };
    let (tx, rx) = std::sync::mpsc::channel();
    let c = core.clone();
    pool.try_submit(move || c.run(r), move |out| tx.send(out).unwrap()).unwrap();
    let started = std::time::Instant::now();
    let out = rx.recv().unwrap().unwrap();
    assert_eq!(out.outcome, Outcome::Timeout);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn output_is_capped_and_flagged() {
    let core = engine();
    let out = run(&core, RunRequest { fuel: 10_000_000, ..req(&core, "flood", "_start", vec![]) });
    assert_eq!(out.outcome, Outcome::Ok, "{}", out.message);
    assert_eq!(out.stdout.len(), 1 << 16);
    assert!(out.stdout_truncated && !out.stderr_truncated);
}

#[test]
fn stdin_to_stdout_and_exit_codes() {
    let core = engine();
    let out = run(&core, RunRequest { stdin: b"hello, catalog".repeat(1000), ..req(&core, "cat", "_start", vec![]) });
    assert_eq!((out.outcome, out.exit_code), (Outcome::Ok, None));
    assert_eq!(out.stdout, b"hello, catalog".repeat(1000));
    let empty = run(&core, req(&core, "cat", "_start", vec![]));
    assert_eq!((empty.outcome, empty.exit_code), (Outcome::Ok, Some(3)));
}

#[test]
fn args_random_and_clock_are_deterministic() {
    let core = engine();
    let r = RunRequest { argv: vec!["prog".into(), "x".into()], seed: [5; 32], clock_start_ns: 1_000_000, ..req(&core, "entropy", "_start", vec![]) };
    let a = run(&core, r.clone());
    let b = run(&core, r.clone());
    assert_eq!(a.outcome, Outcome::Ok, "{}", a.message);
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(&a.stdout[..7], b"prog\0x\0");
    let clock = u64::from_le_bytes(a.stdout[39..47].try_into().unwrap());
    assert!(clock > 1_000_000 && clock < 1_000_000 + a.fuel_used + 10, "{clock}");
    let other = run(&core, RunRequest { seed: [6; 32], ..r });
    assert_ne!(a.stdout[7..39], other.stdout[7..39]);
}

#[test]
fn the_pool_refuses_when_full() {
    let core = Arc::new(EngineCore::new(EngineOptions { fuel: false, ..EngineOptions::default() }).unwrap());
    let pool = super::pool::WorkerPool::new(1, 1, core.engine.clone(), std::time::Duration::from_millis(5)).unwrap();
    let r = RunRequest { timeout_ms: 300, ..req(&core, "spin", "spin", vec![]) };
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..2 {
        let (c, r, tx) = (core.clone(), r.clone(), tx.clone());
        pool.try_submit(move || c.run(r).unwrap().outcome, move |o| tx.send(o).unwrap()).unwrap();
    }
    let (c, tx2) = (core.clone(), tx.clone());
    let refused = pool.try_submit(move || c.run(r).unwrap().outcome, move |o| tx2.send(o).unwrap());
    assert_eq!(refused.err().unwrap().code, POOL_FULL);
    assert_eq!(rx.recv().unwrap(), Outcome::Timeout);
    assert_eq!(rx.recv().unwrap(), Outcome::Timeout);
}

#[test]
fn a_streaming_run_delivers_its_output_as_a_prefix_while_it_runs() {
    let core = engine();
    let wakes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let w = wakes.clone();
    let sink = Arc::new(super::wasi::OutputSink::new(move || {
        w.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }));
    let out = core.run_with(RunRequest { stdin: b"streamed".repeat(2000), ..req(&core, "cat", "_start", vec![]) }, Some(sink.clone())).unwrap();
    assert_eq!(out.outcome, Outcome::Ok);
    // Nobody took in between: one wake for the whole run, and the sink holds all of stdout.
    assert_eq!(wakes.load(std::sync::atomic::Ordering::SeqCst), 1);
    let (stdout, stderr) = sink.take();
    assert_eq!((stdout, stderr.len()), (out.stdout.clone(), 0));
    let flood = core.run_with(RunRequest { fuel: 10_000_000, ..req(&core, "flood", "_start", vec![]) }, Some(sink.clone())).unwrap();
    assert_eq!(sink.take().0, flood.stdout, "only the kept (capped) bytes are streamed");
}

// JavaScript programs on QuickJS (quickjs-wasi's quickjs.wasm from node_modules).

fn js_engine() -> (EngineCore, super::engine::ModuleHash) {
    let path = format!("{}/../node_modules/quickjs-wasi/quickjs.wasm", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (npm install)"));
    let core = EngineCore::new(EngineOptions { workers: 2, queue_depth: 2, max_memory_bytes: 64 << 20, max_output_bytes: 1 << 16, ..EngineOptions::default() }).unwrap();
    let m = core.compile_js_runtime(&bytes).unwrap();
    assert!(core.compile(&bytes).is_err(), "the runtime must not be accepted as a program");
    (core, m.hash)
}

fn req_js(runtime: super::engine::ModuleHash) -> RunRequest {
    RunRequest {
        module_hash: runtime,
        export: String::new(),
        args: vec![],
        argv: vec![],
        stdin: vec![],
        fuel: 1_000_000_000,
        memory_limit_bytes: 16 << 20,
        max_output_bytes: 1 << 16,
        timeout_ms: 10_000,
        seed: [0; 32],
        clock_start_ns: 0,
        script: None,
        compile_only: false,
    }
}

fn js(core: &EngineCore, runtime: super::engine::ModuleHash, source: &str, fuel: u64, memory: usize) -> RunOutput {
    core.run(RunRequest {
        module_hash: runtime,
        export: String::new(),
        args: vec![],
        argv: vec!["a".into(), "b c".into()],
        stdin: b"input text".to_vec(),
        fuel,
        memory_limit_bytes: memory,
        max_output_bytes: 1 << 16,
        timeout_ms: 10_000,
        seed: [7; 32],
        clock_start_ns: 1_700_000_000_000_000_000,
        script: Some(source.as_bytes().to_vec()),
        compile_only: false,
    })
    .unwrap()
}

#[test]
fn javascript_runs_on_quickjs_metered_and_deterministic() {
    let (core, rt) = js_engine();
    let src = "console.log('sum', 40 + 2, [1,2], {a:1}); console.error('to stderr'); print(input.toUpperCase(), argv.length, argv[1]); console.log(Date.now() > 1.6e12, typeof Math.random());";
    let out = js(&core, rt, src, 50_000_000, 16 << 20);
    assert_eq!(out.outcome, Outcome::Ok, "{}", out.message);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "sum 42 [1,2] {\"a\":1}\nINPUT TEXT 2 b c\ntrue number\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "to stderr\n");
    assert!(out.fuel_used > 0);
    let again = js(&core, rt, src, 50_000_000, 16 << 20);
    assert_eq!((again.fuel_used, again.stdout.clone()), (out.fuel_used, out.stdout.clone()));
    // promises run to the end
    let p = js(&core, rt, "Promise.resolve(5).then((v) => console.log('later', v)); console.log('now');", 50_000_000, 16 << 20);
    assert_eq!(String::from_utf8_lossy(&p.stdout), "now\nlater 5\n");
    let r = js(&core, rt, "console.log(Math.random())", 50_000_000, 16 << 20);
    assert_eq!(r.stdout, js(&core, rt, "console.log(Math.random())", 50_000_000, 16 << 20).stdout, "seeded/clocked random");
}

#[test]
fn javascript_failures_have_their_own_outcomes() {
    let (core, rt) = js_engine();
    let e = js(&core, rt, "function f() { throw new TypeError('bad thing'); }\nf();", 50_000_000, 16 << 20);
    assert_eq!(e.outcome, Outcome::JsException);
    assert!(e.message.starts_with("TypeError: bad thing"), "{}", e.message);
    assert!(String::from_utf8_lossy(&e.stderr).starts_with("Uncaught TypeError: bad thing"), "{}", String::from_utf8_lossy(&e.stderr));
    let syntax = js(&core, rt, "let = = 1;", 50_000_000, 16 << 20);
    assert_eq!(syntax.outcome, Outcome::JsException);
    assert!(syntax.message.starts_with("SyntaxError"), "{}", syntax.message);
    let rejected = js(&core, rt, "(async () => { throw new Error('async boom'); })();", 50_000_000, 16 << 20);
    assert_eq!(rejected.outcome, Outcome::JsException, "an unhandled rejection ends the run");
    assert!(rejected.message.starts_with("UnhandledPromiseRejection: Error: async boom"), "{}", rejected.message);
    assert!(String::from_utf8_lossy(&rejected.stderr).starts_with("Uncaught UnhandledPromiseRejection: Error: async boom"));
    let plain = js(&core, rt, "Promise.reject(42);", 50_000_000, 16 << 20);
    assert_eq!((plain.outcome, plain.message.as_str()), (Outcome::JsException, "UnhandledPromiseRejection: uncaught value: 42"));
    // a handler attached later (in a job) means it was handled
    let late = js(&core, rt, "const p = Promise.reject(new Error('x')); Promise.resolve().then(() => p.catch(() => console.log('caught')));", 50_000_000, 16 << 20);
    assert_eq!((late.outcome, String::from_utf8_lossy(&late.stdout).into_owned()), (Outcome::Ok, "caught\n".into()), "{}", late.message);
    let lp = js(&core, rt, "for (;;) {}", 20_000_000, 16 << 20);
    assert_eq!(lp.outcome, Outcome::OutOfFuel);
    assert_eq!(lp.fuel_used, 20_000_000);
    let mem = js(&core, rt, "const a = []; for (;;) a.push(new Array(100000).fill(1));", 5_000_000_000, 8 << 20);
    assert_eq!(mem.outcome, Outcome::MemoryLimit, "{}", mem.message);
    let deep = js(&core, rt, "function r(n) { return r(n + 1) + 1; } r(0);", 5_000_000_000, 16 << 20);
    assert!(matches!(deep.outcome, Outcome::JsException | Outcome::StackOverflow), "{:?} {}", deep.outcome, deep.message);
    let import = js(&core, rt, "import('fs').then(() => console.log('imported'), (e) => console.log('refused', e.name, e.message));", 50_000_000, 16 << 20);
    assert_eq!(String::from_utf8_lossy(&import.stdout), "refused ReferenceError could not load module 'fs'\n");
    let unhandled_import = js(&core, rt, "import('./x.js');", 50_000_000, 16 << 20);
    assert_eq!(unhandled_import.outcome, Outcome::JsException);
    assert!(unhandled_import.message.starts_with("UnhandledPromiseRejection: ReferenceError: could not load module 'x.js'"), "{}", unhandled_import.message);
    let static_import = js(&core, rt, "import { x } from 'lib';\nconsole.log(x);", 50_000_000, 16 << 20);
    assert_eq!((static_import.outcome, static_import.stdout.len()), (Outcome::JsException, 0));
    assert!(static_import.message.starts_with("ReferenceError: could not load module 'lib'"), "{}", static_import.message);
    // a syntax check compiles without running
    let check = |src: &str| core.run(RunRequest { compile_only: true, script: Some(src.as_bytes().to_vec()), ..req_js(rt) }).unwrap();
    let fine = check("for (;;) {} console.log('never')");
    assert_eq!((fine.outcome, fine.stdout.len()), (Outcome::Ok, 0));
    let bad = check("function (");
    assert_eq!(bad.outcome, Outcome::JsException);
    assert!(bad.message.starts_with("SyntaxError"), "{}", bad.message);
    // the engine keeps serving
    let ok = js(&core, rt, "console.log(1 + 1)", 50_000_000, 16 << 20);
    assert_eq!((ok.outcome, String::from_utf8_lossy(&ok.stdout).into_owned()), (Outcome::Ok, "2\n".into()));
}

#[test]
fn javascript_es_modules_run_their_default_or_main_export() {
    let (core, rt) = js_engine();
    let out = |src: &str| {
        let r = js(&core, rt, src, 50_000_000, 16 << 20);
        (r.outcome, String::from_utf8_lossy(&r.stdout).into_owned(), r.message)
    };
    let d = out("export default function (input, argv) { console.log('default', input, argv.length); return 'done'; }");
    assert_eq!(d, (Outcome::Ok, "default input text 2\ndone\n".into(), String::new()));
    let m = out("const n = await Promise.resolve(40);\nexport async function main() { return n + 2; }");
    assert_eq!(m, (Outcome::Ok, "42\n".into(), String::new()));
    let top = out("console.log('top level'); export const x = 1;");
    assert_eq!(top, (Outcome::Ok, "top level\n".into(), String::new()));
    let thrown = out("export default async () => { throw new RangeError('main failed'); };");
    assert_eq!(thrown.0, Outcome::JsException);
    assert!(thrown.2.starts_with("RangeError: main failed"), "{}", thrown.2);
    let top_throw = out("export const x = 1; throw new Error('at load');");
    assert_eq!(top_throw.0, Outcome::JsException);
    assert!(top_throw.2.starts_with("Error: at load"), "{}", top_throw.2);
    let unhandled = out("export function main() { Promise.reject(new Error('lost')); }");
    assert_eq!(unhandled.0, Outcome::JsException);
    assert!(unhandled.2.starts_with("UnhandledPromiseRejection: Error: lost"), "{}", unhandled.2);
    let check = |src: &str| core.run(RunRequest { compile_only: true, script: Some(src.as_bytes().to_vec()), ..req_js(rt) }).unwrap();
    assert_eq!(check("export default () => 1;").outcome, Outcome::Ok);
    let bad = check("export default (;");
    assert_eq!(bad.outcome, Outcome::JsException);
    assert!(bad.message.starts_with("SyntaxError"), "{}", bad.message);
}
