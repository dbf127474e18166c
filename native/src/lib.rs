//! STOQ native engine: QUIC over IPv6 (quinn + rustls/aws-lc-rs with X25519MLKEM768),
//! FALCON-1024 signatures and SHA-256 hot paths, exposed to Node.js through napi-rs.

pub mod addr;
pub mod connection;
pub mod ecdsa;
pub mod endpoint;
pub mod error;
pub mod falcon;
#[cfg(target_arch = "x86_64")]
mod falcon_expanded;
pub mod hash;
pub mod hot;
pub mod kex;
pub mod live_identity;
pub mod pinned_root;
pub mod state;
pub mod stream_mux;
pub mod tls;
pub mod util;
pub mod wasm;
