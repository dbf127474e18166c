//! Catalog's WebAssembly engine: wasmtime with fuel metering, per-run memory and table limits,
//! epoch interruption as a wall-clock backstop, the pooling allocator, a compiled-module cache
//! keyed by SHA-256 and a WASI preview-1 subset (no filesystem, no network). See native/README.md
//! ("WebAssembly engine").

pub mod binding;
pub mod codes;
pub mod engine;
pub mod js;
pub mod pool;
pub mod prng;
pub mod wasi;

#[cfg(test)]
mod tests;
