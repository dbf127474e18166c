//! Hashcash search, mirroring libs/four-proof/src/pow-search.ts: the smallest nonce >= start whose
//! SHA-256(challenge ‖ u64be(nonce)) has at least `difficulty` leading zero bits. Bounded by
//! `maxIterations` per call so a caller can search in slices (and off the JS thread).

use super::prefix_sha::{state_bytes, PrefixSha256};
use crate::error::{Code, StoqError, INVALID_ARGUMENT};
use napi::bindgen_prelude::{AsyncTask, BigInt, Buffer, Either};
use napi::{Env, Task};
use napi_derive::napi;

pub const MAX_CHALLENGE_BYTES: usize = 1024;

fn leading_zero_bits(state: &[u32; 8]) -> u32 {
    let mut bits = 0;
    for &w in state {
        if w != 0 {
            return bits + w.leading_zeros();
        }
        bits += 32;
    }
    bits
}

/// First nonce in [start, start + max_iterations) (capped at u64::MAX) meeting the difficulty.
pub fn search(challenge: &[u8], difficulty: u32, start: u64, max_iterations: u64) -> Option<(u64, [u8; 32])> {
    if max_iterations == 0 {
        return None;
    }
    let mut hasher = PrefixSha256::new(challenge, 8);
    let last = start.saturating_add(max_iterations - 1);
    let mut nonce = start;
    loop {
        let state = hasher.state(&nonce.to_be_bytes());
        if leading_zero_bits(&state) >= difficulty {
            return Some((nonce, state_bytes(&state)));
        }
        if nonce == last {
            return None;
        }
        nonce += 1;
    }
}

fn check_args(challenge: &[u8], difficulty: u32, start: Either<BigInt, f64>, max_iterations: f64) -> Result<(u64, u64), StoqError> {
    if challenge.len() > MAX_CHALLENGE_BYTES {
        return Err(StoqError::new(INVALID_ARGUMENT, format!("challenge is {} bytes, at most {MAX_CHALLENGE_BYTES} allowed", challenge.len())));
    }
    if difficulty > 256 {
        return Err(StoqError::new(INVALID_ARGUMENT, format!("difficultyBits must be in [0, 256], got {difficulty}")));
    }
    let start = match start {
        Either::A(b) => {
            let (negative, value, lossless) = b.get_u64();
            if negative || !lossless {
                return Err(StoqError::new(INVALID_ARGUMENT, "startNonce must be a uint64"));
            }
            value
        }
        Either::B(n) => {
            if !(n.fract() == 0.0 && n >= 0.0 && n <= 9007199254740991.0) {
                return Err(StoqError::new(INVALID_ARGUMENT, format!("startNonce must be a non-negative safe integer, got {n}")));
            }
            n as u64
        }
    };
    if !(max_iterations.fract() == 0.0 && max_iterations >= 0.0 && max_iterations <= 9007199254740991.0) {
        return Err(StoqError::new(INVALID_ARGUMENT, format!("maxIterations must be a non-negative safe integer, got {max_iterations}")));
    }
    Ok((start, max_iterations as u64))
}

#[napi(object)]
pub struct PowSolution {
    pub nonce: BigInt,
    /// SHA-256(challenge ‖ u64be(nonce)).
    pub hash: Buffer,
}

fn solution(found: Option<(u64, [u8; 32])>) -> Option<PowSolution> {
    found.map(|(nonce, hash)| PowSolution { nonce: BigInt::from(nonce), hash: Buffer::from(hash.to_vec()) })
}

/// Smallest nonce in [startNonce, startNonce + maxIterations) whose SHA-256(challenge ‖ u64be(nonce))
/// has >= difficultyBits (0..=256) leading zero bits, or null if none in that range.
/// `challenge` is at most 1024 bytes; `startNonce` a uint64 (bigint) or safe integer.
#[napi]
pub fn pow_search(challenge: &[u8], difficulty_bits: u32, start_nonce: Either<BigInt, f64>, max_iterations: f64) -> napi::Result<Option<PowSolution>, Code> {
    let (start, max) = check_args(challenge, difficulty_bits, start_nonce, max_iterations)?;
    Ok(solution(search(challenge, difficulty_bits, start, max)))
}

pub struct PowTask {
    challenge: Vec<u8>,
    difficulty: u32,
    start: u64,
    max: u64,
}

impl Task for PowTask {
    type Output = Option<(u64, [u8; 32])>;
    type JsValue = Option<PowSolution>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(search(&self.challenge, self.difficulty, self.start, self.max))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(solution(output))
    }
}

/// `powSearch` on the libuv thread pool.
#[napi(ts_return_type = "Promise<PowSolution | null>")]
pub fn pow_search_async(challenge: &[u8], difficulty_bits: u32, start_nonce: Either<BigInt, f64>, max_iterations: f64) -> napi::Result<AsyncTask<PowTask>, Code> {
    let (start, max) = check_args(challenge, difficulty_bits, start_nonce, max_iterations)?;
    Ok(AsyncTask::new(PowTask { challenge: challenge.to_vec(), difficulty: difficulty_bits, start, max }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn naive(challenge: &[u8], difficulty: u32, start: u64) -> u64 {
        let mut nonce = start;
        loop {
            let h: [u8; 32] = Sha256::digest([challenge, &nonce.to_be_bytes()].concat()).into();
            let mut state = [0u32; 8];
            for (i, c) in h.chunks_exact(4).enumerate() {
                state[i] = u32::from_be_bytes(c.try_into().unwrap());
            }
            if leading_zero_bits(&state) >= difficulty {
                return nonce;
            }
            nonce += 1;
        }
    }

    #[test]
    fn finds_the_smallest_nonce_like_a_naive_scan() {
        let mut seed = 77u64;
        for len in [0usize, 1, 32, 55, 56, 64, 100] {
            let challenge = crate::hot::test_bytes(&mut seed, len);
            for difficulty in [0u32, 1, 5, 10] {
                let start = seed % 1000;
                let want = naive(&challenge, difficulty, start);
                let (nonce, hash) = search(&challenge, difficulty, start, u64::MAX).unwrap();
                assert_eq!(nonce, want);
                let h: [u8; 32] = Sha256::digest([challenge.as_slice(), &nonce.to_be_bytes()].concat()).into();
                assert_eq!(hash, h);
                // A range that stops just short of the answer finds nothing.
                assert_eq!(search(&challenge, difficulty, start, want - start), None);
                assert_eq!(search(&challenge, difficulty, start, want - start + 1).unwrap().0, want);
            }
        }
    }

    #[test]
    fn stops_at_the_end_of_the_nonce_space() {
        assert_eq!(search(b"c", 256, u64::MAX - 2, 1000), None);
        assert_eq!(search(b"c", 0, u64::MAX, 5).unwrap().0, u64::MAX);
        assert_eq!(search(b"c", 0, 0, 0), None);
    }
}
