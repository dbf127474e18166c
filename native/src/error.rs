//! Error vocabulary shared by every exported function.
//!
//! Every error that reaches JavaScript has a message of the form `CODE: sentence`, where CODE is
//! one of the constants below; the TypeScript layer matches on the code, people read the sentence.

use std::fmt;

pub const IPV4_REFUSED: &str = "IPV4_REFUSED";
pub const INVALID_ADDRESS: &str = "INVALID_ADDRESS";
pub const INVALID_ARGUMENT: &str = "INVALID_ARGUMENT";
pub const TLS_CONFIG: &str = "TLS_CONFIG";
pub const BIND_FAILED: &str = "BIND_FAILED";
pub const HANDSHAKE_FAILED: &str = "HANDSHAKE_FAILED";
pub const HANDSHAKE_INCOMPLETE: &str = "HANDSHAKE_INCOMPLETE";
pub const CONNECTION_LOST: &str = "CONNECTION_LOST";
pub const STREAM_RESET: &str = "STREAM_RESET";
pub const STREAM_STOPPED: &str = "STREAM_STOPPED";
pub const STREAM_CLOSED: &str = "STREAM_CLOSED";
pub const ZERO_RTT_REJECTED: &str = "ZERO_RTT_REJECTED";
pub const DATAGRAM: &str = "DATAGRAM";
pub const ENDPOINT_CLOSED: &str = "ENDPOINT_CLOSED";
pub const NOT_ACCEPTING: &str = "NOT_ACCEPTING";
pub const FALCON: &str = "FALCON";

/// Every code above, exported so the TypeScript side can check that it maps each one (a test).
pub const ALL_CODES: &[&str] = &[
    IPV4_REFUSED,
    INVALID_ADDRESS,
    INVALID_ARGUMENT,
    TLS_CONFIG,
    BIND_FAILED,
    HANDSHAKE_FAILED,
    HANDSHAKE_INCOMPLETE,
    CONNECTION_LOST,
    STREAM_RESET,
    STREAM_STOPPED,
    STREAM_CLOSED,
    ZERO_RTT_REJECTED,
    DATAGRAM,
    ENDPOINT_CLOSED,
    NOT_ACCEPTING,
    FALCON,
];

/// The error codes this addon puts in front of its messages ("CODE: sentence").
#[napi_derive::napi]
pub fn error_codes() -> Vec<String> {
    ALL_CODES.iter().map(|c| c.to_string()).collect()
}

/// A coded error independent of napi, so pure helpers can be unit-tested without a JS engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoqError {
    pub code: &'static str,
    pub message: String,
}

impl StoqError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl fmt::Display for StoqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for StoqError {}

impl From<StoqError> for napi::Error {
    fn from(e: StoqError) -> Self {
        napi::Error::new(napi::Status::GenericFailure, e.to_string())
    }
}

/// Shorthand for building a napi error with a code.
pub fn js_error(code: &'static str, message: impl Into<String>) -> napi::Error {
    StoqError::new(code, message).into()
}
