//! Error vocabulary shared by every exported function.
//!
//! Every error that reaches JavaScript is an `Error` whose `code` property is one of the codes
//! below and whose `message` is the sentence people read; the TypeScript layer branches on `code`
//! and never reads the message. Synchronous functions return [`JsResult`] (napi-rs throws with the
//! code); asynchronous ones resolve through [`Coded`], which builds the coded error on the JS
//! thread so the rejection carries the code too (napi-rs would otherwise reject with its own
//! status name, "GenericFailure").

use std::fmt;

use napi::bindgen_prelude::{FromNapiValue, ToNapiValue, TypeName, Unknown, ValueType};
use napi::sys;

/// One error code: a stable, machine-readable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code(&'static str);

impl Code {
    pub fn name(self) -> &'static str {
        self.0
    }
}

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

pub const IPV4_REFUSED: Code = Code("IPV4_REFUSED");
pub const INVALID_ADDRESS: Code = Code("INVALID_ADDRESS");
pub const INVALID_ARGUMENT: Code = Code("INVALID_ARGUMENT");
pub const TLS_CONFIG: Code = Code("TLS_CONFIG");
pub const BIND_FAILED: Code = Code("BIND_FAILED");
pub const HANDSHAKE_FAILED: Code = Code("HANDSHAKE_FAILED");
pub const HANDSHAKE_INCOMPLETE: Code = Code("HANDSHAKE_INCOMPLETE");
pub const CONNECTION_LOST: Code = Code("CONNECTION_LOST");
pub const STREAM_CLOSED: Code = Code("STREAM_CLOSED");
pub const ZERO_RTT_REJECTED: Code = Code("ZERO_RTT_REJECTED");
pub const DATAGRAM: Code = Code("DATAGRAM");
pub const ENDPOINT_CLOSED: Code = Code("ENDPOINT_CLOSED");
pub const NOT_ACCEPTING: Code = Code("NOT_ACCEPTING");
pub const FALCON_REJECTED: Code = Code("FALCON_REJECTED");
/// napi-rs itself failed (allocating a value, calling back into JS): a bug or an exiting process.
pub const NATIVE_INTERNAL: Code = Code("NATIVE_INTERNAL");

/// Every code above, exported so the TypeScript side can check that it knows each one (a test).
pub const ALL_CODES: &[Code] = &[
    IPV4_REFUSED,
    INVALID_ADDRESS,
    INVALID_ARGUMENT,
    TLS_CONFIG,
    BIND_FAILED,
    HANDSHAKE_FAILED,
    HANDSHAKE_INCOMPLETE,
    CONNECTION_LOST,
    STREAM_CLOSED,
    ZERO_RTT_REJECTED,
    DATAGRAM,
    ENDPOINT_CLOSED,
    NOT_ACCEPTING,
    FALCON_REJECTED,
    NATIVE_INTERNAL,
];

/// The codes this addon sets on the errors it throws or rejects with.
#[napi_derive::napi]
pub fn error_codes() -> Vec<String> {
    ALL_CODES.iter().map(|c| c.0.to_string()).collect()
}

/// Throws or rejects with a coded error, so the test can check the code survives each path.
#[napi_derive::napi]
pub fn error_probe(code: String, message: String) -> napi::Result<(), Code> {
    let code = ALL_CODES.iter().copied().find(|c| c.0 == code).ok_or_else(|| {
        js_error(INVALID_ARGUMENT, format!("errorProbe: {code:?} is not a native error code"))
    })?;
    Err(js_error(code, message))
}

/// The async twin of [`error_probe`].
#[napi_derive::napi(ts_return_type = "Promise<void>")]
pub async fn error_probe_async(code: String, message: String) -> napi::Result<Coded<()>> {
    Ok(Coded(error_probe(code, message)))
}

/// A coded error independent of napi, so pure helpers can be unit-tested without a JS engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoqError {
    pub code: Code,
    pub message: String,
}

impl StoqError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl fmt::Display for StoqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.0, self.message)
    }
}

impl std::error::Error for StoqError {}

/// What a synchronous export returns: napi-rs throws its error with our code as `code`.
pub type JsError = napi::Error<Code>;
pub type JsResult<T> = std::result::Result<T, JsError>;

impl From<StoqError> for JsError {
    fn from(e: StoqError) -> Self {
        napi::Error::new(e.code, e.message)
    }
}

/// Shorthand for building a coded error.
pub fn js_error(code: Code, message: impl Into<String>) -> JsError {
    napi::Error::new(code, message.into())
}

/// An error napi-rs raised (its own status, not ours), recoded as NATIVE_INTERNAL.
pub fn internal(e: napi::Error) -> JsError {
    js_error(NATIVE_INTERNAL, format!("{}: {}", e.status, e.reason))
}

/// Builds `new Error(message)` with `code` set, on the JS thread.
///
/// # Safety
/// `env` must be the live environment of the calling JS thread.
pub unsafe fn coded_js_error(env: sys::napi_env, code: Code, message: &str) -> napi::Result<sys::napi_value> {
    let code = unsafe { ToNapiValue::to_napi_value(env, code.0)? };
    let msg = unsafe { ToNapiValue::to_napi_value(env, message)? };
    let mut out = std::ptr::null_mut();
    let status = unsafe { sys::napi_create_error(env, code, msg, &mut out) };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::from_reason("failed to create an error object"));
    }
    Ok(out)
}

/// The result of an async export. napi-rs resolves a promise by converting the future's output
/// on the JS thread; converting an `Err` here builds the coded error there and rejects with that
/// very object (napi-rs hands a referenced value back verbatim).
pub struct Coded<T>(pub JsResult<T>);

impl<T: TypeName> TypeName for Coded<T> {
    fn type_name() -> &'static str {
        T::type_name()
    }
    fn value_type() -> ValueType {
        T::value_type()
    }
}

impl<T: ToNapiValue> ToNapiValue for Coded<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        match val.0 {
            Ok(v) => unsafe { T::to_napi_value(env, v) },
            Err(e) => {
                let raw = unsafe { coded_js_error(env, e.status, &e.reason)? };
                let value = unsafe { Unknown::from_napi_value(env, raw)? };
                Err(napi::Error::from(value))
            }
        }
    }
}

/// For an `AsyncTask`'s `resolve`: the coded error as a napi error that rejects with that very
/// object (napi-rs rejects with a referenced value verbatim).
pub fn coded_rejection(env: &napi::Env, e: StoqError) -> napi::Error {
    let raw = unsafe { coded_js_error(env.raw(), e.code, &e.message) };
    match raw.and_then(|raw| unsafe { Unknown::from_napi_value(env.raw(), raw) }) {
        Ok(value) => napi::Error::from(value),
        Err(err) => err,
    }
}
