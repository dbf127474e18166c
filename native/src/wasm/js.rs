//! JavaScript programs: QuickJS-NG compiled to WebAssembly, run as an ordinary metered instance of
//! this engine (same store, fuel, memory limit, epoch backstop and WASI subset as any program).
//!
//! The runtime is the `quickjs.wasm` of the npm package `quickjs-wasi` (a WASI reactor exporting a
//! small C API, `qjs_*`, over QuickJS-NG). Besides the WASI subset it imports six `env.host_*`
//! functions, offered here and only to a module compiled as the JavaScript runtime
//! (`EngineCore::compile_js_runtime`): an uploaded program can never import them.
//!
//! One run: `_initialize`, `qjs_init` (a fresh runtime and context), the globals below, the
//! program, then the promise jobs until none is pending. A program is a script, or an ES module
//! when QuickJS's `JS_DetectModule` sees `import`/`export` at its top level: the module is
//! evaluated (top-level `await` allowed), then its `default` export, or else its `main` export,
//! when it is a function, is called with `(input, argv)` and awaited; a value it returns other
//! than `undefined` is printed like `console.log`. The program sees `input` (stdin decoded as
//! UTF-8), `argv` (an array of strings), `console.log/info/debug` and `print` (stdout),
//! `console.error/warn` (stderr); `Date.now()` and `Math.random()` come from the run's virtual
//! clock and seeded random (WASI). An uncaught exception ends the run as `JS_EXCEPTION`: its
//! description is the run's message and is also written to stderr (so the receipt's output hash
//! covers it). A promise still rejected without a handler when no job is left ends the run as
//! `JS_EXCEPTION` too, its message starting `UnhandledPromiseRejection: `. There is no module
//! loader (no filesystem): `import` of anything, static or dynamic, fails with a `ReferenceError`
//! naming the module.

use wasmtime::{AsContextMut, Caller, Extern, Instance, Linker, Store};

use super::wasi::HasRunIo;

pub const HOST_MODULE: &str = "env";

/// The host functions quickjs-wasi imports, all offered.
pub const HOST_OFFERED: &[&str] = &[
    "host_call",
    "host_interrupt",
    "host_promise_rejection",
    "host_module_normalize",
    "host_module_load",
    "host_get_timezone_offset",
];

/// Exports the driver calls; a runtime without one of them is refused at compile.
pub const REQUIRED_EXPORTS: &[&str] = &[
    "_initialize",
    "qjs_init",
    "qjs_eval",
    "qjs_is_exception",
    "qjs_get_exception",
    "qjs_free_value",
    "qjs_dup_value",
    "qjs_get_global",
    "qjs_new_string",
    "qjs_set_prop_string",
    "qjs_new_host_function",
    "qjs_get_string_len",
    "qjs_free_cstring",
    "qjs_is_job_pending",
    "qjs_execute_pending_job",
    "qjs_get_undefined",
    "qjs_get_value_ptr",
    "qjs_set_promise_rejection_handler",
    "JS_DetectModule",
    "wasm_malloc",
    "wasm_free",
];

/// Prefix of the message of a run ended by a rejection nobody handled (stable: callers match it).
pub const UNHANDLED_REJECTION: &str = "UnhandledPromiseRejection: ";

const OUT_FN: &str = "__stoq_out";
const ERR_FN: &str = "__stoq_err";

/// Evaluated before the program: the console, `print`, `input`, `argv`. The host functions are
/// taken into the closure and removed from the global object.
const PRELUDE: &str = r#"(() => {
  const g = globalThis, out = g.__stoq_out, err = g.__stoq_err;
  const show = (v) => {
    if (typeof v === 'string') return v;
    if (v instanceof Error) return String(v);
    if (v !== null && typeof v === 'object') { try { return JSON.stringify(v); } catch (_) { return String(v); } }
    return String(v);
  };
  const line = (a) => a.map(show).join(' ') + '\n';
  const console = {
    log: (...a) => { out(line(a)); }, info: (...a) => { out(line(a)); }, debug: (...a) => { out(line(a)); },
    error: (...a) => { err(line(a)); }, warn: (...a) => { err(line(a)); },
  };
  g.console = console;
  g.print = console.log;
  g.input = g.__stoq_input;
  g.argv = g.__stoq_argv === '' ? [] : g.__stoq_argv.split('\0');
  const input = g.input, argv = g.argv;
  // An ES module program: its evaluation promise → call default/main → a failure is rethrown
  // by __stoq_check once no job is left (the host then describes it as an uncaught exception).
  let failed = false, failure;
  g.__stoq_drive = (evaluated) => {
    delete g.__stoq_drive;
    evaluated.then((ns) => {
      const main = typeof ns.default === 'function' ? ns.default : typeof ns.main === 'function' ? ns.main : undefined;
      if (main === undefined) return undefined;
      return Promise.resolve(main(input, argv)).then((r) => { if (r !== undefined) out(line([r])); });
    }).then(undefined, (e) => { failed = true; failure = e; });
  };
  g.__stoq_check = () => { delete g.__stoq_check; if (failed) throw failure; };
  delete g.__stoq_out; delete g.__stoq_err; delete g.__stoq_input; delete g.__stoq_argv;
})();"#;

const DESCRIBE: &str = r#"((e) => { try {
  if (e instanceof Error) return String(e) + (typeof e.stack === 'string' && e.stack !== '' ? '\n' + e.stack.replace(/\n$/, '') : '');
  return 'uncaught value: ' + String(e);
} catch (_) { return 'uncaught exception (not describable)'; } })(globalThis.__stoq_exc)"#;

fn mem<T>(caller: &mut Caller<'_, T>) -> wasmtime::Result<wasmtime::Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(wasmtime::Error::msg("the JavaScript runtime exports no memory")),
    }
}

fn call<T, P: wasmtime::WasmParams, R: wasmtime::WasmResults>(caller: &mut Caller<'_, T>, name: &str, params: P) -> wasmtime::Result<R> {
    let f = caller.get_export(name).and_then(Extern::into_func).ok_or_else(|| wasmtime::Error::msg(format!("the JavaScript runtime exports no {name}")))?;
    f.typed::<P, R>(&mut *caller)?.call(&mut *caller, params)
}

/// Reads a QuickJS string value (a JSValue pointer) as bytes (WTF-8).
fn read_string<T>(caller: &mut Caller<'_, T>, value: i32) -> wasmtime::Result<Vec<u8>> {
    let len_ptr: i32 = call(caller, "wasm_malloc", 4i32)?;
    if len_ptr == 0 {
        return Err(wasmtime::Error::msg("wasm_malloc failed"));
    }
    let cstr: i32 = call(caller, "qjs_get_string_len", (value, len_ptr))?;
    let m = mem(caller)?;
    let bytes = if cstr == 0 {
        Vec::new()
    } else {
        let data = m.data(&*caller);
        let len = u32::from_le_bytes(data.get(len_ptr as u32 as usize..len_ptr as u32 as usize + 4).ok_or_else(|| wasmtime::Error::msg("bad pointer"))?.try_into()?) as usize;
        let start = cstr as u32 as usize;
        data.get(start..start + len).ok_or_else(|| wasmtime::Error::msg("bad string pointer"))?.to_vec()
    };
    if cstr != 0 {
        call::<T, i32, ()>(caller, "qjs_free_cstring", cstr)?;
    }
    call::<T, i32, ()>(caller, "wasm_free", len_ptr)?;
    Ok(bytes)
}

pub fn add_to_linker<T: HasRunIo>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    let m = HOST_MODULE;
    // Called when script code calls a host function: ours are the console's two writers.
    linker.func_wrap(m, "host_call", |mut c: Caller<'_, T>, name_ptr: i32, name_len: i32, _this: i32, argc: i32, argv: i32| -> wasmtime::Result<i32> {
        let memory = mem(&mut c)?;
        let (name, first) = {
            let data = memory.data(&c);
            let start = name_ptr as u32 as usize;
            let name = data.get(start..start + name_len.max(0) as usize).unwrap_or_default().to_vec();
            let a = argv as u32 as usize;
            let first = if argc >= 1 { data.get(a..a + 4).map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes"))) } else { None };
            (name, first)
        };
        let fd = if name == OUT_FN.as_bytes() {
            1
        } else if name == ERR_FN.as_bytes() {
            2
        } else {
            0
        };
        if fd != 0 {
            if let Some(arg) = first {
                let text = read_string(&mut c, arg)?;
                super::wasi::charge(&mut c, text.len())?;
                c.data_mut().io().write(fd, &text);
            }
        }
        call(&mut c, "qjs_get_undefined", ())
    })?;
    // No interrupt handler: fuel and the epoch backstop end runaway scripts.
    linker.func_wrap(m, "host_interrupt", |_c: Caller<'_, T>| -> i32 { 0 })?;
    // QuickJS's rejection tracker: a promise rejected without a handler (`handled` 0) is kept,
    // with its reason, until a handler is attached (`handled` 1, the same promise); what is left
    // when no job is pending ends the run (`run_script`). Kept values are alive, so their
    // identities (object addresses) cannot be reused meanwhile.
    linker.func_wrap(m, "host_promise_rejection", |mut c: Caller<'_, T>, promise: i32, reason: i32, handled: i32| -> wasmtime::Result<()> {
        let identity: i32 = call(&mut c, "qjs_get_value_ptr", promise)?;
        if handled == 0 {
            c.data_mut().io().js_unhandled.insert(identity, promise, reason);
            return Ok(());
        }
        if let Some((p, r)) = c.data_mut().io().js_unhandled.remove(identity) {
            call::<T, i32, ()>(&mut c, "qjs_free_value", p)?;
            call::<T, i32, ()>(&mut c, "qjs_free_value", r)?;
        }
        call::<T, i32, ()>(&mut c, "qjs_free_value", promise)?;
        call::<T, i32, ()>(&mut c, "qjs_free_value", reason)
    })?;
    // No module loader: `import` fails inside the program (NULL = error).
    linker.func_wrap(m, "host_module_normalize", |_c: Caller<'_, T>, _base: i32, _name: i32| -> i32 { 0 })?;
    linker.func_wrap(m, "host_module_load", |_c: Caller<'_, T>, _name: i32, _out_len: i32| -> i32 { 0 })?;
    // Every run is in UTC.
    linker.func_wrap(m, "host_get_timezone_offset", |_c: Caller<'_, T>, _hi: i32, _lo: i32| -> i32 { 0 })?;
    Ok(())
}

/// QuickJS's JS_EVAL_FLAG_COMPILE_ONLY: parse and compile, do not run.
const EVAL_COMPILE_ONLY: i32 = 1 << 5;
/// JS_EVAL_TYPE_MODULE: an ES module (its evaluation returns a promise of its namespace).
const EVAL_TYPE_MODULE: i32 = 1;

/// Drives one script in a fresh instance of the runtime. `Ok(None)`: it finished; `Ok(Some(d))`:
/// it threw (`d` describes the exception); `Err`: a trap (fuel, memory limit, ...). With
/// `compile_only` the script is only parsed and compiled (a syntax check): `Some(d)` describes
/// the SyntaxError.
pub fn run_script<T: HasRunIo>(store: &mut Store<T>, instance: &Instance, script: &[u8], argv: &[Vec<u8>], stdin: &[u8], compile_only: bool) -> wasmtime::Result<Option<String>> {
    let mut s = store.as_context_mut();
    macro_rules! f {
        ($name:expr, $p:ty, $r:ty) => {
            instance.get_typed_func::<$p, $r>(&mut s, $name)?
        };
    }
    let memory = instance.get_memory(&mut s, "memory").ok_or_else(|| wasmtime::Error::msg("the JavaScript runtime exports no memory"))?;
    let malloc = f!("wasm_malloc", i32, i32);
    let free = f!("wasm_free", i32, ());
    let free_value = f!("qjs_free_value", i32, ());
    let eval = f!("qjs_eval", (i32, i32, i32, i32), i32);
    let is_exception = f!("qjs_is_exception", i32, i32);
    let set_prop = f!("qjs_set_prop_string", (i32, i32, i32), i32);
    let get_exception = f!("qjs_get_exception", (), i32);
    let get_string_len = f!("qjs_get_string_len", (i32, i32), i32);
    let free_cstring = f!("qjs_free_cstring", i32, ());
    let set_rejection_tracker = f!("qjs_set_promise_rejection_handler", i32, ());

    f!("_initialize", (), ()).call(&mut s, ())?;
    if f!("qjs_init", (), i32).call(&mut s, ())? != 0 {
        return Err(wasmtime::Error::msg("QuickJS could not create its runtime"));
    }
    // Copies bytes into guest memory, NUL-terminated; the caller frees.
    let put = |s: &mut wasmtime::StoreContextMut<'_, T>, bytes: &[u8]| -> wasmtime::Result<i32> {
        let p = malloc.call(&mut *s, bytes.len() as i32 + 1)?;
        if p == 0 {
            return Err(wasmtime::Error::msg("wasm_malloc failed"));
        }
        memory.write(&mut *s, p as u32 as usize, bytes)?;
        memory.write(&mut *s, p as u32 as usize + bytes.len(), &[0])?;
        Ok(p)
    };
    let global = f!("qjs_get_global", (), i32).call(&mut s, ())?;
    let set_global = |s: &mut wasmtime::StoreContextMut<'_, T>, name: &str, value: i32| -> wasmtime::Result<()> {
        let n = put(s, name.as_bytes())?;
        let status = set_prop.call(&mut *s, (global, n, value))?;
        free.call(&mut *s, n)?;
        free_value.call(&mut *s, value)?;
        if status < 0 {
            return Err(wasmtime::Error::msg(format!("could not set {name}")));
        }
        Ok(())
    };
    let new_string = f!("qjs_new_string", (i32, i32), i32);
    let new_host_fn = f!("qjs_new_host_function", (i32, i32, i32), i32);
    let joined_argv = argv.iter().map(|a| a.strip_suffix(&[0]).unwrap_or(a)).collect::<Vec<_>>().join(&0u8);
    for (name, bytes) in [("__stoq_input", stdin), ("__stoq_argv", &joined_argv[..])] {
        let p = put(&mut s, bytes)?;
        let v = new_string.call(&mut s, (p, bytes.len() as i32))?;
        free.call(&mut s, p)?;
        set_global(&mut s, name, v)?;
    }
    for name in [OUT_FN, ERR_FN] {
        let p = put(&mut s, name.as_bytes())?;
        let v = new_host_fn.call(&mut s, (p, name.len() as i32, 0))?;
        free.call(&mut s, p)?;
        set_global(&mut s, name, v)?;
    }
    let detect = f!("JS_DetectModule", (i32, i32), i32);
    // Evaluates `code`; returns the result value (owned by the caller) and whether it threw.
    let eval_value = |s: &mut wasmtime::StoreContextMut<'_, T>, code: &[u8], file: &str, flags: i32| -> wasmtime::Result<(i32, bool)> {
        let c = put(s, code)?;
        let fname = put(s, file.as_bytes())?;
        let v = eval.call(&mut *s, (c, code.len() as i32, fname, flags))?;
        free.call(&mut *s, c)?;
        free.call(&mut *s, fname)?;
        Ok((v, is_exception.call(&mut *s, v)? != 0))
    };
    let run = |s: &mut wasmtime::StoreContextMut<'_, T>, code: &[u8], file: &str, flags: i32| -> wasmtime::Result<bool> {
        let (v, threw) = eval_value(s, code, file, flags)?;
        free_value.call(&mut *s, v)?;
        Ok(threw)
    };
    // Describes `value` (consumed) with DESCRIBE.
    let describe_value = |s: &mut wasmtime::StoreContextMut<'_, T>, value: i32| -> wasmtime::Result<String> {
        set_global(s, "__stoq_exc", value)?;
        let (v, threw) = eval_value(s, DESCRIBE.as_bytes(), "<describe>", 0)?;
        if threw {
            free_value.call(&mut *s, v)?;
            return Ok("uncaught exception (not describable)".into());
        }
        let len_ptr = malloc.call(&mut *s, 4)?;
        let cstr = get_string_len.call(&mut *s, (v, len_ptr))?;
        let mut len = [0u8; 4];
        memory.read(&*s, len_ptr as u32 as usize, &mut len)?;
        let mut text = vec![0u8; u32::from_le_bytes(len) as usize];
        if cstr != 0 {
            memory.read(&*s, cstr as u32 as usize, &mut text)?;
            free_cstring.call(&mut *s, cstr)?;
        }
        free.call(&mut *s, len_ptr)?;
        free_value.call(&mut *s, v)?;
        Ok(String::from_utf8_lossy(&text).into_owned())
    };
    let describe = |s: &mut wasmtime::StoreContextMut<'_, T>| -> wasmtime::Result<String> {
        let exc = get_exception.call(&mut *s, ())?;
        describe_value(s, exc)
    };
    let module = {
        let p = put(&mut s, script)?;
        let m = detect.call(&mut s, (p, script.len() as i32))? != 0;
        free.call(&mut s, p)?;
        m
    };
    let kind = if module { EVAL_TYPE_MODULE } else { 0 };
    if compile_only {
        return Ok(if run(&mut s, script, "program.js", kind | EVAL_COMPILE_ONLY)? { Some(describe(&mut s)?) } else { None });
    }
    set_rejection_tracker.call(&mut s, 1)?;
    if run(&mut s, PRELUDE.as_bytes(), "<stoq prelude>", 0)? {
        let d = describe(&mut s)?;
        return Err(wasmtime::Error::msg(format!("the JavaScript prelude failed: {d}")));
    }
    if module {
        // A module's evaluation gives a promise of its namespace; the prelude's driver takes it.
        let (evaluated, threw) = eval_value(&mut s, script, "program.js", kind)?;
        if threw {
            free_value.call(&mut s, evaluated)?;
            return Ok(Some(describe(&mut s)?));
        }
        set_global(&mut s, "__stoq_module", evaluated)?;
        if run(&mut s, b"(() => { const m = globalThis.__stoq_module; delete globalThis.__stoq_module; globalThis.__stoq_drive(m); })()", "<stoq module driver>", 0)? {
            return Ok(Some(describe(&mut s)?));
        }
    } else if run(&mut s, script, "program.js", 0)? {
        return Ok(Some(describe(&mut s)?));
    }
    let pending = f!("qjs_is_job_pending", (), i32);
    let execute = f!("qjs_execute_pending_job", (), i32);
    while pending.call(&mut s, ())? != 0 {
        if execute.call(&mut s, ())? < 0 {
            return Ok(Some(describe(&mut s)?));
        }
    }
    if module && run(&mut s, b"globalThis.__stoq_check()", "<stoq module check>", 0)? {
        return Ok(Some(describe(&mut s)?));
    }
    // A rejection still without a handler: the run fails like an uncaught exception.
    if let Some((promise, reason)) = s.data_mut().io().js_unhandled.first() {
        free_value.call(&mut s, promise)?;
        let d = describe_value(&mut s, reason)?;
        return Ok(Some(format!("{UNHANDLED_REJECTION}{d}")));
    }
    Ok(None)
}
