//! Prover and log hot paths moved out of TypeScript (libs/four-proof, libs/ct-log): RFC 6962 leaf
//! hashing, hashcash PoW search, the Wesolowski VDF's squarings, proof and verification (with its
//! hash-to-prime challenge), plot generation and PoSpace opening verification.
//! Each has a TypeScript reference the JS tests cross-check byte for byte. Pure logic lives in
//! plain functions returning `StoqError`; the `#[napi]` wrappers only convert arguments. Work that
//! can run for long (PoW, VDF, plots) also has an `...Async` variant on the libuv thread pool.

pub mod merkle;
pub mod montgomery;
pub mod plot;
pub mod pospace;
pub mod pow;
pub mod prefix_sha;
pub mod primes;
pub mod small_mont;
pub mod vdf;

/// Deterministic pseudo-random bytes (xorshift64) for the unit tests, so failures reproduce.
#[cfg(test)]
pub(crate) fn test_bytes(seed: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed >> 24) as u8
        })
        .collect()
}
