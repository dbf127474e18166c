//! Error codes of the WebAssembly engine, and the outcome names of a finished run.
//!
//! Kept apart from `crate::error` (the transport's vocabulary, which `@stoq/core` maps one to
//! one): Catalog is the only user of these and maps them to RPC statuses itself. An error here
//! means "the run never started" (bad module, bad request, full pool); how a started run ended is
//! an [`Outcome`], returned in the result, never thrown.

use std::fmt;

use napi::bindgen_prelude::{FromNapiValue, ToNapiValue, TypeName, Unknown, ValueType};
use napi::sys;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WasmCode(&'static str);

impl WasmCode {
    pub fn name(self) -> &'static str {
        self.0
    }
}

impl AsRef<str> for WasmCode {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// Not a WebAssembly module, truncated, or failing validation.
pub const INVALID_MODULE: WasmCode = WasmCode("INVALID_MODULE");
/// Larger than the engine's `maxModuleBytes`.
pub const MODULE_TOO_LARGE: WasmCode = WasmCode("MODULE_TOO_LARGE");
/// The module imports something the sandbox does not offer (the message names it).
pub const UNKNOWN_IMPORT: WasmCode = WasmCode("UNKNOWN_IMPORT");
/// The module defines something the sandbox refuses (several memories, an import of memory).
pub const UNSUPPORTED_MODULE: WasmCode = WasmCode("UNSUPPORTED_MODULE");
/// No exported function of that name.
pub const NO_SUCH_EXPORT: WasmCode = WasmCode("NO_SUCH_EXPORT");
/// The export takes or returns something other than i32/i64.
pub const UNSUPPORTED_SIGNATURE: WasmCode = WasmCode("UNSUPPORTED_SIGNATURE");
/// Wrong number of arguments, or a value out of range for an i32 parameter.
pub const ARGUMENT_MISMATCH: WasmCode = WasmCode("ARGUMENT_MISMATCH");
/// The hash is not in the engine's cache (compile the module first).
pub const MODULE_NOT_LOADED: WasmCode = WasmCode("MODULE_NOT_LOADED");
/// A limit or option out of range (fuel 0, memory above the cap, ...).
pub const INVALID_ARGUMENT: WasmCode = WasmCode("INVALID_ARGUMENT");
/// Every worker is busy and the queue is full: try again later.
pub const POOL_FULL: WasmCode = WasmCode("POOL_FULL");
/// `close()` was called.
pub const ENGINE_CLOSED: WasmCode = WasmCode("ENGINE_CLOSED");
/// The engine could not be configured or could not create an instance (a bug or the host's limits).
pub const ENGINE_FAILURE: WasmCode = WasmCode("ENGINE_FAILURE");

pub const ALL_WASM_CODES: &[WasmCode] = &[
    INVALID_MODULE,
    MODULE_TOO_LARGE,
    UNKNOWN_IMPORT,
    UNSUPPORTED_MODULE,
    NO_SUCH_EXPORT,
    UNSUPPORTED_SIGNATURE,
    ARGUMENT_MISMATCH,
    MODULE_NOT_LOADED,
    INVALID_ARGUMENT,
    POOL_FULL,
    ENGINE_CLOSED,
    ENGINE_FAILURE,
];

/// How a run that started ended. `Ok` includes a WASI `proc_exit` (its code is reported apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Any wasm trap not listed below (unreachable, out-of-bounds access, division by zero, ...).
    Trap,
    OutOfFuel,
    /// The run tried to grow a memory (or start with one) above its memory limit.
    MemoryLimit,
    /// The run tried to grow a table above the engine's element limit.
    TableLimit,
    StackOverflow,
    /// The wall-clock backstop (epoch interruption) ended the run.
    Timeout,
    /// A JavaScript program threw an exception nobody caught (the message describes it).
    JsException,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "OK",
            Outcome::Trap => "TRAP",
            Outcome::OutOfFuel => "OUT_OF_FUEL",
            Outcome::MemoryLimit => "MEMORY_LIMIT",
            Outcome::TableLimit => "TABLE_LIMIT",
            Outcome::StackOverflow => "STACK_OVERFLOW",
            Outcome::Timeout => "TIMEOUT",
            Outcome::JsException => "JS_EXCEPTION",
        }
    }
    pub const ALL: [Outcome; 8] = [
        Outcome::Ok,
        Outcome::Trap,
        Outcome::OutOfFuel,
        Outcome::MemoryLimit,
        Outcome::TableLimit,
        Outcome::StackOverflow,
        Outcome::Timeout,
        Outcome::JsException,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasmError {
    pub code: WasmCode,
    pub message: String,
}

impl WasmError {
    pub fn new(code: WasmCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl fmt::Display for WasmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.0, self.message)
    }
}

impl std::error::Error for WasmError {}

impl From<WasmError> for napi::Error<WasmCode> {
    fn from(e: WasmError) -> Self {
        napi::Error::new(e.code, e.message)
    }
}

/// The result of an async export: an `Err` becomes `new Error(message)` with `code` set, built on
/// the JS thread (the same technique as `crate::error::Coded`, for this module's codes).
pub struct WasmCoded<T>(pub Result<T, WasmError>);

impl<T: TypeName> TypeName for WasmCoded<T> {
    fn type_name() -> &'static str {
        T::type_name()
    }
    fn value_type() -> ValueType {
        T::value_type()
    }
}

impl<T: ToNapiValue> ToNapiValue for WasmCoded<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        match val.0 {
            Ok(v) => unsafe { T::to_napi_value(env, v) },
            Err(e) => {
                let code = unsafe { ToNapiValue::to_napi_value(env, e.code.0)? };
                let msg = unsafe { ToNapiValue::to_napi_value(env, e.message.as_str())? };
                let mut out = std::ptr::null_mut();
                let status = unsafe { sys::napi_create_error(env, code, msg, &mut out) };
                if status != sys::Status::napi_ok {
                    return Err(napi::Error::from_reason("failed to create an error object"));
                }
                let value = unsafe { Unknown::from_napi_value(env, out)? };
                Err(napi::Error::from(value))
            }
        }
    }
}
