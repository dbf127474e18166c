//! Small conversions shared by the binding modules.

use crate::error::{js_error, Code, INVALID_ARGUMENT};
use quinn::{ConnectionError, VarInt};

/// Largest integer a JS number holds exactly; also well inside QUIC's 2^62 varint range.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Validates a JS number used as a QUIC application error code.
pub fn app_code(value: f64, what: &str) -> napi::Result<VarInt, Code> {
    if !value.is_finite() || value < 0.0 || value.fract() != 0.0 || value > MAX_SAFE_INTEGER {
        return Err(js_error(INVALID_ARGUMENT, format!("{what} {value} must be an integer in 0..=2^53-1")));
    }
    Ok(VarInt::from_u64(value as u64).expect("below 2^62"))
}

/// Validates an optional numeric option, applying its default.
pub fn opt_integer(name: &str, value: Option<f64>, default: u64, min: u64, max: u64) -> napi::Result<u64, Code> {
    let Some(v) = value else { return Ok(default) };
    if !v.is_finite() || v.fract() != 0.0 || v < min as f64 || v > max as f64 {
        return Err(js_error(INVALID_ARGUMENT, format!("{name} {v} must be an integer in {min}..={max}")));
    }
    Ok(v as u64)
}

/// Human description of why a connection ended, for error messages.
pub fn describe_connection_error(e: &ConnectionError) -> String {
    let hint = |s: String| {
        // rustls' wording for a failed group negotiation is opaque; say what it means for STOQ.
        if s.contains("NoKxGroupsInCommon") {
            format!("{s} (peer does not support X25519MLKEM768, or strict post-quantum mode refused the classical groups)")
        } else {
            s
        }
    };
    match e {
        ConnectionError::TransportError(te) => hint(if te.reason.is_empty() { te.to_string() } else { te.reason.clone() }),
        ConnectionError::ConnectionClosed(cc) => {
            let reason = String::from_utf8_lossy(&cc.reason).into_owned();
            hint(format!("closed by peer: {} {}", cc.error_code, reason).trim_end().to_string())
        }
        ConnectionError::ApplicationClosed(ac) => format!(
            "closed by peer with application code {}{}",
            ac.error_code,
            if ac.reason.is_empty() { String::new() } else { format!(": {}", String::from_utf8_lossy(&ac.reason)) }
        ),
        ConnectionError::TimedOut => "timed out: no response from the peer within the idle timeout".into(),
        other => other.to_string(),
    }
}
