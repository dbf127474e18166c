//! The WASI preview-1 subset a Catalog program may import, written against `Linker::func_wrap`
//! instead of pulling in `wasmtime-wasi` (whose filesystem, sockets and tokio we would only have to
//! switch off again). What is offered:
//!
//! - `args_get`, `args_sizes_get`: the request's argv; `environ_get`, `environ_sizes_get`: empty.
//! - `fd_read` on fd 0: the request's stdin. `fd_write` on fd 1 and 2: captured into the result,
//!   each capped at the run's output limit; what does not fit is dropped and flagged as truncated
//!   (the program is told everything was written, so it does not spin retrying).
//! - `fd_fdstat_get`, `fd_close`, `fd_seek` on 0..=2 (character devices, not seekable);
//!   `fd_prestat_get` answers EBADF: there are no preopened directories, so no filesystem.
//! - `clock_time_get`, `clock_res_get`: a virtual clock that starts at the request's time and
//!   advances with the fuel the run has used (1 ns per unit) plus 1 ns per read: deterministic.
//! - `random_get`: SHA-256 counter-mode bytes from the request's seed (deterministic).
//! - `proc_exit`: ends the run; the code is reported, the run counts as finished.
//! - `sched_yield`: a no-op.
//!
//! Anything else (sockets, paths, polling) is absent: a module importing it is refused when it is
//! compiled, with the import named. Host calls are charged fuel (a base cost plus one unit per 8
//! bytes moved) so output and input are not free.

use wasmtime::{Caller, Extern, Linker, Trap};

use super::prng::SeededRandom;

pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// Every function offered, for the import check at compile time.
pub const OFFERED: &[&str] = &[
    "args_get",
    "args_sizes_get",
    "environ_get",
    "environ_sizes_get",
    "fd_read",
    "fd_write",
    "fd_fdstat_get",
    "fd_close",
    "fd_seek",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "clock_time_get",
    "clock_res_get",
    "random_get",
    "proc_exit",
    "sched_yield",
];

const ESUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EFAULT: i32 = 21;
const EINVAL: i32 = 28;
const ESPIPE: i32 = 70;

/// Fuel charged per host call, and per 8 bytes it moves.
pub const HOST_CALL_FUEL: u64 = 20;

/// `proc_exit` unwinds the run with this error; the engine reads the code back.
#[derive(Debug)]
pub struct ProcExit(pub i32);

impl std::fmt::Display for ProcExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "proc_exit({})", self.0)
    }
}
impl std::error::Error for ProcExit {}

/// Where a streaming run's output goes as it is written: the bytes kept (after the cap) are
/// appended here and `notify` is called when the first bytes arrive since the last `take`, so the
/// reader is woken once per batch rather than once per write. What is delivered is always a
/// prefix of the run's final stdout/stderr.
pub struct OutputSink {
    pending: std::sync::Mutex<(Vec<u8>, Vec<u8>, bool)>,
    notify: Box<dyn Fn() + Send + Sync>,
}

impl OutputSink {
    pub fn new(notify: impl Fn() + Send + Sync + 'static) -> Self {
        Self { pending: std::sync::Mutex::new((Vec::new(), Vec::new(), false)), notify: Box::new(notify) }
    }

    fn push(&self, fd: i32, data: &[u8]) {
        let wake = {
            let mut p = self.pending.lock().expect("sink lock");
            if fd == 1 { p.0.extend_from_slice(data) } else { p.1.extend_from_slice(data) }
            !std::mem::replace(&mut p.2, true)
        };
        if wake {
            (self.notify)();
        }
    }

    /// Everything written since the last take: (stdout, stderr).
    pub fn take(&self) -> (Vec<u8>, Vec<u8>) {
        let mut p = self.pending.lock().expect("sink lock");
        p.2 = false;
        (std::mem::take(&mut p.0), std::mem::take(&mut p.1))
    }
}

/// The run's I/O: what the program reads, what it wrote, its clock and its random source.
pub struct RunIo {
    pub sink: Option<std::sync::Arc<OutputSink>>,
    pub argv: Vec<Vec<u8>>,
    pub stdin: Vec<u8>,
    pub stdin_pos: usize,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub output_cap: usize,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub clock_start_ns: u64,
    pub clock_reads: u64,
    pub fuel_limit: u64,
    pub random: SeededRandom,
    pub exit_code: Option<i32>,
    /// JavaScript runs: rejected promises without a handler so far, their promise and reason
    /// values kept alive by the host (see js.rs, `host_promise_rejection`).
    pub js_unhandled: JsUnhandled,
}

impl RunIo {
    pub fn new(argv: Vec<String>, stdin: Vec<u8>, output_cap: usize, clock_start_ns: u64, fuel_limit: u64, seed: [u8; 32]) -> Self {
        Self {
            sink: None,
            argv: argv
                .into_iter()
                .map(|a| {
                    let mut b = a.into_bytes();
                    b.push(0);
                    b
                })
                .collect(),
            stdin,
            stdin_pos: 0,
            stdout: Vec::new(),
            stderr: Vec::new(),
            output_cap,
            stdout_truncated: false,
            stderr_truncated: false,
            clock_start_ns,
            clock_reads: 0,
            fuel_limit,
            random: SeededRandom::new(seed),
            exit_code: None,
            js_unhandled: JsUnhandled::default(),
        }
    }
}

impl RunIo {
    /// Appends to stdout (fd 1) or stderr (fd 2) within the cap, flags a truncation, feeds the
    /// sink; returns the bytes kept.
    pub fn write(&mut self, fd: i32, data: &[u8]) -> usize {
        let cap = self.output_cap;
        let (buf, flag) = if fd == 1 { (&mut self.stdout, &mut self.stdout_truncated) } else { (&mut self.stderr, &mut self.stderr_truncated) };
        let before = buf.len();
        if capped_append(buf, cap, data) {
            *flag = true;
        }
        let kept = buf.len() - before;
        if kept > 0 {
            if let Some(sink) = &self.sink {
                sink.push(fd, if fd == 1 { &self.stdout[before..] } else { &self.stderr[before..] });
            }
        }
        kept
    }
}

/// What the store carries: the run's I/O plus its resource limits.
pub trait HasRunIo: 'static {
    fn io(&mut self) -> &mut RunIo;
}

fn memory<T>(caller: &mut Caller<'_, T>) -> Option<wasmtime::Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Some(m),
        _ => None,
    }
}

/// Takes `units` of fuel (no-op when the engine does not meter): a host call costs like code.
pub fn charge<T>(caller: &mut Caller<'_, T>, bytes: usize) -> wasmtime::Result<()> {
    let units = HOST_CALL_FUEL + (bytes as u64) / 8;
    if let Ok(left) = caller.get_fuel() {
        if left < units {
            caller.set_fuel(0)?;
            return Err(wasmtime::Error::new(Trap::OutOfFuel));
        }
        caller.set_fuel(left - units)?;
    }
    Ok(())
}

fn slice(mem: &[u8], ptr: i32, len: usize) -> Option<std::ops::Range<usize>> {
    let start = ptr as u32 as usize;
    let end = start.checked_add(len)?;
    (end <= mem.len()).then_some(start..end)
}

fn put_u32(mem: &mut [u8], ptr: i32, v: u32) -> bool {
    match slice(mem, ptr, 4) {
        Some(r) => {
            mem[r].copy_from_slice(&v.to_le_bytes());
            true
        }
        None => false,
    }
}

fn get_u32(mem: &[u8], ptr: i32) -> Option<u32> {
    slice(mem, ptr, 4).map(|r| u32::from_le_bytes(mem[r].try_into().expect("4 bytes")))
}

/// The (ptr, len) pairs of an iovec array, bounds-checked.
fn iovecs(mem: &[u8], iovs: i32, count: i32) -> Option<Vec<(usize, usize)>> {
    if count < 0 || count > 1024 {
        return None;
    }
    let mut out = Vec::with_capacity(count as usize);
    for i in 0..count {
        let at = (iovs as u32).checked_add(i as u32 * 8)? as i32;
        let ptr = get_u32(mem, at)?;
        let len = get_u32(mem, at.wrapping_add(4))?;
        let r = slice(mem, ptr as i32, len as usize)?;
        out.push((r.start, r.len()));
    }
    Some(out)
}

/// Appends `data` to a capped buffer; returns whether anything was dropped.
fn capped_append(buf: &mut Vec<u8>, cap: usize, data: &[u8]) -> bool {
    let room = cap.saturating_sub(buf.len());
    let take = room.min(data.len());
    buf.extend_from_slice(&data[..take]);
    take < data.len()
}

pub fn add_to_linker<T: HasRunIo>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    let m = WASI_MODULE;
    linker.func_wrap(m, "args_sizes_get", |mut c: Caller<'_, T>, argc: i32, size: i32| -> wasmtime::Result<i32> {
        charge(&mut c, 0)?;
        let Some(mem) = memory(&mut c) else { return Ok(EINVAL) };
        let (data, state) = mem.data_and_store_mut(&mut c);
        let io = state.io();
        let total: usize = io.argv.iter().map(Vec::len).sum();
        Ok(if put_u32(data, argc, io.argv.len() as u32) && put_u32(data, size, total as u32) { ESUCCESS } else { EFAULT })
    })?;
    linker.func_wrap(m, "args_get", |mut c: Caller<'_, T>, argv: i32, buf: i32| -> wasmtime::Result<i32> {
        let total: usize = c.data_mut().io().argv.iter().map(Vec::len).sum();
        charge(&mut c, total)?;
        let Some(mem) = memory(&mut c) else { return Ok(EINVAL) };
        let (data, state) = mem.data_and_store_mut(&mut c);
        let mut at = buf as u32;
        for (i, arg) in state.io().argv.iter().enumerate() {
            let Some(r) = slice(data, at as i32, arg.len()) else { return Ok(EFAULT) };
            data[r].copy_from_slice(arg);
            if !put_u32(data, argv.wrapping_add(4 * i as i32), at) {
                return Ok(EFAULT);
            }
            at += arg.len() as u32;
        }
        Ok(ESUCCESS)
    })?;
    linker.func_wrap(m, "environ_sizes_get", |mut c: Caller<'_, T>, count: i32, size: i32| -> wasmtime::Result<i32> {
        charge(&mut c, 0)?;
        let Some(mem) = memory(&mut c) else { return Ok(EINVAL) };
        let data = mem.data_mut(&mut c);
        Ok(if put_u32(data, count, 0) && put_u32(data, size, 0) { ESUCCESS } else { EFAULT })
    })?;
    linker.func_wrap(m, "environ_get", |mut c: Caller<'_, T>, _environ: i32, _buf: i32| -> wasmtime::Result<i32> {
        charge(&mut c, 0)?;
        Ok(ESUCCESS)
    })?;
    linker.func_wrap(m, "fd_write", |mut c: Caller<'_, T>, fd: i32, iovs: i32, count: i32, written: i32| -> wasmtime::Result<i32> {
        if fd != 1 && fd != 2 {
            charge(&mut c, 0)?;
            return Ok(EBADF);
        }
        let Some(mem) = memory(&mut c) else { return Ok(EINVAL) };
        let Some(vecs) = iovecs(mem.data(&c), iovs, count) else { return Ok(EFAULT) };
        let total: usize = vecs.iter().map(|v| v.1).sum();
        // Only what is kept is copied, so the charge is the base cost plus the kept bytes: a
        // program writing past its cap pays per call, not per discarded byte.
        let (data, state) = mem.data_and_store_mut(&mut c);
        let io = state.io();
        let cap = io.output_cap;
        let (buf, flag) = if fd == 1 { (&mut io.stdout, &mut io.stdout_truncated) } else { (&mut io.stderr, &mut io.stderr_truncated) };
        let before = buf.len();
        for (start, len) in vecs {
            if capped_append(buf, cap, &data[start..start + len]) {
                *flag = true;
            }
        }
        let kept = buf.len() - before;
        if kept > 0 {
            if let Some(sink) = &io.sink {
                let (out, err) = (&io.stdout, &io.stderr);
                sink.push(fd, if fd == 1 { &out[before..] } else { &err[before..] });
            }
        }
        if !put_u32(data, written, total as u32) {
            return Ok(EFAULT);
        }
        charge(&mut c, kept)?;
        Ok(ESUCCESS)
    })?;
    linker.func_wrap(m, "fd_read", |mut c: Caller<'_, T>, fd: i32, iovs: i32, count: i32, read: i32| -> wasmtime::Result<i32> {
        if fd != 0 {
            charge(&mut c, 0)?;
            return Ok(EBADF);
        }
        let Some(mem) = memory(&mut c) else { return Ok(EINVAL) };
        let Some(vecs) = iovecs(mem.data(&c), iovs, count) else { return Ok(EFAULT) };
        let (data, state) = mem.data_and_store_mut(&mut c);
        let io = state.io();
        let mut n = 0usize;
        for (start, len) in vecs {
            let left = &io.stdin[io.stdin_pos..];
            let take = left.len().min(len);
            data[start..start + take].copy_from_slice(&left[..take]);
            io.stdin_pos += take;
            n += take;
            if take < len {
                break;
            }
        }
        if !put_u32(data, read, n as u32) {
            return Ok(EFAULT);
        }
        charge(&mut c, n)?;
        Ok(ESUCCESS)
    })?;
    linker.func_wrap(m, "fd_fdstat_get", |mut c: Caller<'_, T>, fd: i32, out: i32| -> wasmtime::Result<i32> {
        charge(&mut c, 0)?;
        if !(0..=2).contains(&fd) {
            return Ok(EBADF);
        }
        let Some(mem) = memory(&mut c) else { return Ok(EINVAL) };
        let data = mem.data_mut(&mut c);
        // fdstat: filetype u8 (2 = character device), flags u16, rights base u64, rights inheriting u64.
        let Some(r) = slice(data, out, 24) else { return Ok(EFAULT) };
        let rights: u64 = if fd == 0 { 1 << 1 } else { 1 << 6 }; // fd_read / fd_write
        let mut rec = [0u8; 24];
        rec[0] = 2;
        rec[8..16].copy_from_slice(&rights.to_le_bytes());
        data[r].copy_from_slice(&rec);
        Ok(ESUCCESS)
    })?;
    linker.func_wrap(m, "fd_close", |mut c: Caller<'_, T>, fd: i32| -> wasmtime::Result<i32> {
        charge(&mut c, 0)?;
        Ok(if (0..=2).contains(&fd) { ESUCCESS } else { EBADF })
    })?;
    linker.func_wrap(m, "fd_seek", |mut c: Caller<'_, T>, fd: i32, _offset: i64, _whence: i32, _out: i32| -> wasmtime::Result<i32> {
        charge(&mut c, 0)?;
        Ok(if (0..=2).contains(&fd) { ESPIPE } else { EBADF })
    })?;
    linker.func_wrap(m, "fd_prestat_get", |mut c: Caller<'_, T>, _fd: i32, _out: i32| -> wasmtime::Result<i32> {
        charge(&mut c, 0)?;
        Ok(EBADF)
    })?;
    linker.func_wrap(m, "fd_prestat_dir_name", |mut c: Caller<'_, T>, _fd: i32, _path: i32, _len: i32| -> wasmtime::Result<i32> {
        charge(&mut c, 0)?;
        Ok(EBADF)
    })?;
    linker.func_wrap(m, "clock_time_get", |mut c: Caller<'_, T>, id: i32, _precision: i64, out: i32| -> wasmtime::Result<i32> {
        charge(&mut c, 0)?;
        // realtime, monotonic, process and thread CPU time: all the same virtual clock.
        if !(0..=3).contains(&id) {
            return Ok(EINVAL);
        }
        let left = c.get_fuel().ok();
        let Some(mem) = memory(&mut c) else { return Ok(EINVAL) };
        let (data, state) = mem.data_and_store_mut(&mut c);
        let io = state.io();
        io.clock_reads += 1;
        let used = left.map_or(0, |l| io.fuel_limit.saturating_sub(l));
        let now = io.clock_start_ns.saturating_add(used).saturating_add(io.clock_reads);
        let Some(r) = slice(data, out, 8) else { return Ok(EFAULT) };
        data[r].copy_from_slice(&now.to_le_bytes());
        Ok(ESUCCESS)
    })?;
    linker.func_wrap(m, "clock_res_get", |mut c: Caller<'_, T>, id: i32, out: i32| -> wasmtime::Result<i32> {
        charge(&mut c, 0)?;
        if !(0..=3).contains(&id) {
            return Ok(EINVAL);
        }
        let Some(mem) = memory(&mut c) else { return Ok(EINVAL) };
        let data = mem.data_mut(&mut c);
        let Some(r) = slice(data, out, 8) else { return Ok(EFAULT) };
        data[r].copy_from_slice(&1u64.to_le_bytes());
        Ok(ESUCCESS)
    })?;
    linker.func_wrap(m, "random_get", |mut c: Caller<'_, T>, buf: i32, len: i32| -> wasmtime::Result<i32> {
        charge(&mut c, len.max(0) as usize)?;
        let Some(mem) = memory(&mut c) else { return Ok(EINVAL) };
        let (data, state) = mem.data_and_store_mut(&mut c);
        let Some(r) = slice(data, buf, len.max(0) as usize) else { return Ok(EFAULT) };
        state.io().random.fill(&mut data[r]);
        Ok(ESUCCESS)
    })?;
    linker.func_wrap(m, "proc_exit", |mut c: Caller<'_, T>, code: i32| -> wasmtime::Result<()> {
        c.data_mut().io().exit_code = Some(code);
        Err(wasmtime::Error::new(ProcExit(code)))
    })?;
    linker.func_wrap(m, "sched_yield", |mut c: Caller<'_, T>| -> wasmtime::Result<i32> {
        charge(&mut c, 0)?;
        Ok(ESUCCESS)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_append_keeps_the_prefix_and_flags_the_rest() {
        let mut b = Vec::new();
        assert!(!capped_append(&mut b, 5, b"abc"));
        assert!(capped_append(&mut b, 5, b"defg"));
        assert_eq!(b, b"abcde");
        assert!(capped_append(&mut b, 5, b"x"));
        assert_eq!(b, b"abcde");
    }

    #[test]
    fn iovecs_are_bounds_checked() {
        let mut mem = vec![0u8; 64];
        // one iovec at 0: ptr 16, len 8
        mem[0..4].copy_from_slice(&16u32.to_le_bytes());
        mem[4..8].copy_from_slice(&8u32.to_le_bytes());
        assert_eq!(iovecs(&mem, 0, 1), Some(vec![(16, 8)]));
        mem[4..8].copy_from_slice(&60u32.to_le_bytes());
        assert_eq!(iovecs(&mem, 0, 1), None);
        assert_eq!(iovecs(&mem, 60, 1), None);
        assert_eq!(iovecs(&mem, 0, -1), None);
    }
}

/// Promises rejected without a handler, by identity (QuickJS's object address), in rejection
/// order: a handler attached later removes one in O(1) (a list scan per notification would make
/// N rejected-then-handled promises cost O(N²) host time that fuel does not meter).
#[derive(Default)]
pub struct JsUnhandled {
    next: u64,
    by_identity: std::collections::HashMap<i32, (u64, i32, i32)>,
}

impl JsUnhandled {
    pub fn insert(&mut self, identity: i32, promise: i32, reason: i32) {
        self.by_identity.insert(identity, (self.next, promise, reason));
        self.next += 1;
    }

    /// The kept (promise, reason) of `identity`, removed.
    pub fn remove(&mut self, identity: i32) -> Option<(i32, i32)> {
        self.by_identity.remove(&identity).map(|(_, p, r)| (p, r))
    }

    /// The earliest rejection still unhandled: (promise, reason).
    pub fn first(&self) -> Option<(i32, i32)> {
        self.by_identity.values().min_by_key(|(seq, _, _)| *seq).map(|&(_, p, r)| (p, r))
    }
}
