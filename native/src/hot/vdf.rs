//! Wesolowski VDF hot paths, mirroring libs/four-proof/src/vdf-evaluate.ts exactly: both return the
//! raw residue in [0, N) as big-endian bytes of N's width; the caller (vdf.ts) applies the
//! Z_N^*/{±1} canonicalisation min(v, N − v), the same for both implementations.

use super::montgomery::{less_than, limbs_from_be, limbs_to_be, sub_assign, Limbs, Modulus};
use super::small_mont::SmallMont;
use crate::error::{coded_rejection, Code, StoqError, INVALID_ARGUMENT};
use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi::{Env, Task};
use napi_derive::napi;

/// Same bound as the TypeScript library (LIMITS.maxVdfIterations).
pub const MAX_ITERATIONS: u64 = 1 << 40;
/// Quotient bits consumed per step of the proof (as WINDOW_BITS in the reference).
const WINDOW_BITS: u64 = 4;
/// ℓ is a 128-bit-ish challenge prime; 256 bits leaves room while keeping the remainder in 5 limbs.
const MAX_ELL_BYTES: usize = 32;

fn element(bytes: &[u8], what: &str) -> Result<Limbs, StoqError> {
    limbs_from_be(bytes).ok_or_else(|| StoqError::new(INVALID_ARGUMENT, format!("{what} has more than 2048 bits ({} bytes given)", bytes.len())))
}

fn iterations(t: f64) -> Result<u64, StoqError> {
    if !(t.fract() == 0.0 && t >= 0.0 && t <= MAX_ITERATIONS as f64) {
        return Err(StoqError::new(INVALID_ARGUMENT, format!("iterations must be an integer in [0, 2^40], got {t}")));
    }
    Ok(t as u64)
}

/// y = x^(2^T) mod N.
pub fn evaluate(x: &[u8], t: u64, modulus: &[u8]) -> Result<Vec<u8>, StoqError> {
    let m = Modulus::from_be(modulus)?;
    let mut y = m.to_montgomery(&element(x, "x")?);
    for _ in 0..t {
        y = m.square(&y);
    }
    Ok(limbs_to_be(&m.from_montgomery(&y), m.byte_len))
}

/// The remainder of the streamed long division 2^T / ℓ: < 2^260, so 5 limbs.
type Wide = [u64; 5];

fn wide_ge(a: &Wide, b: &Wide) -> bool {
    for i in (0..5).rev() {
        if a[i] != b[i] {
            return a[i] > b[i];
        }
    }
    true
}

fn wide_sub(a: &mut Wide, b: &Wide) {
    let mut borrow = 0u64;
    for i in 0..5 {
        let (d1, o1) = a[i].overflowing_sub(b[i]);
        let (d2, o2) = d1.overflowing_sub(borrow);
        a[i] = d2;
        borrow = (o1 | o2) as u64;
    }
}

fn wide_shl(a: &mut Wide, bits: u64) {
    for i in (1..5).rev() {
        a[i] = (a[i] << bits) | (a[i - 1] >> (64 - bits));
    }
    a[0] <<= bits;
}

/// π = x^floor(2^T / ℓ) mod N, streaming the quotient MSB-first WINDOW_BITS bits at a time
/// (π ← π^(2^w) · x^digit), exactly as the reference.
pub fn prove(x: &[u8], t: u64, ell: &[u8], modulus: &[u8]) -> Result<Vec<u8>, StoqError> {
    let m = Modulus::from_be(modulus)?;
    let first = ell.iter().position(|&b| b != 0).unwrap_or(ell.len());
    if ell.len() - first > MAX_ELL_BYTES {
        return Err(StoqError::new(INVALID_ARGUMENT, format!("ell has more than 256 bits ({} bytes given)", ell.len())));
    }
    let mut l: Wide = [0; 5];
    for (i, &b) in ell[first..].iter().rev().enumerate() {
        l[i / 8] |= (b as u64) << (8 * (i % 8));
    }
    if l[1..].iter().all(|&v| v == 0) && l[0] < 2 {
        return Err(StoqError::new(INVALID_ARGUMENT, "ell must be at least 2"));
    }
    let base = m.to_montgomery(&element(x, "x")?);
    let mut table = [m.one(); 1 << WINDOW_BITS];
    for i in 1..table.len() {
        table[i] = m.mul(&table[i - 1], &base);
    }
    // 2^T is 1 followed by T zero bits; the leading 1 alone gives remainder 1, quotient 0.
    let mut remainder: Wide = [1, 0, 0, 0, 0];
    let mut pi = m.one();
    let mut left = t;
    while left > 0 {
        let w = if left % WINDOW_BITS == 0 { WINDOW_BITS } else { left % WINDOW_BITS };
        left -= w;
        wide_shl(&mut remainder, w);
        let mut digit = 0usize; // < 2^w because remainder < ℓ before the shift
        while wide_ge(&remainder, &l) {
            wide_sub(&mut remainder, &l);
            digit += 1;
        }
        for _ in 0..w {
            pi = m.square(&pi);
        }
        if digit != 0 {
            pi = m.mul(&pi, &table[digit]);
        }
    }
    Ok(limbs_to_be(&m.from_montgomery(&pi), m.byte_len))
}

thread_local! {
    /// The last modulus verified against (in practice always RSA-2048): its Montgomery constants
    /// cost ~15 µs to derive, ~5 % of a verification.
    static LAST_MODULUS: std::cell::RefCell<Option<(Vec<u8>, Modulus)>> = const { std::cell::RefCell::new(None) };
}

fn cached_modulus(bytes: &[u8]) -> Result<Modulus, StoqError> {
    LAST_MODULUS.with(|cell| {
        if let Some((key, m)) = cell.borrow().as_ref() {
            if key.as_slice() == bytes {
                return Ok(m.clone());
            }
        }
        let m = Modulus::from_be(bytes)?;
        *cell.borrow_mut() = Some((bytes.to_vec(), m.clone()));
        Ok(m)
    })
}

/// ℓ as 4 little-endian limbs: odd, 3 <= ℓ < 2^256 (verification needs r = 2^T mod ℓ, computed in
/// Montgomery form, so ℓ must be odd; the challenge primes always are).
fn verify_ell(ell: &[u8]) -> Result<[u64; 4], StoqError> {
    let first = ell.iter().position(|&b| b != 0).unwrap_or(ell.len());
    if ell.len() - first > MAX_ELL_BYTES {
        return Err(StoqError::new(INVALID_ARGUMENT, format!("ell has more than 256 bits ({} bytes given)", ell.len())));
    }
    let mut l = [0u64; 4];
    for (i, &b) in ell[first..].iter().rev().enumerate() {
        l[i / 8] |= (b as u64) << (8 * (i % 8));
    }
    if l[0] & 1 == 0 || (l[1..].iter().all(|&v| v == 0) && l[0] < 3) {
        return Err(StoqError::new(INVALID_ARGUMENT, "ell must be odd and at least 3"));
    }
    Ok(l)
}

/// Wesolowski verification in Z_N^*/{±1}, mirroring four-proof's reference `vdfVerify`: false
/// unless x, y, π are all in [1, floor(N/2)] (canonical representatives), else with r = 2^T mod ℓ
/// true iff min(v, N − v) = y for v = π^ℓ · x^r mod N. The two exponentiations share one chain of
/// squarings (`Modulus::pow_pair`).
pub fn verify(x: &[u8], y: &[u8], pi: &[u8], t: u64, ell: &[u8], modulus: &[u8]) -> Result<bool, StoqError> {
    let m = cached_modulus(modulus)?;
    let (x, y, pi) = (element(x, "x")?, element(y, "y")?, element(pi, "pi")?);
    let l = verify_ell(ell)?;
    let n = *m.limbs();
    let mut half = n;
    for i in 0..half.len() {
        half[i] = (half[i] >> 1) | if i + 1 < n.len() { n[i + 1] << 63 } else { 0 };
    }
    let canonical = |v: &Limbs| v.iter().any(|&d| d != 0) && !less_than(&half, v);
    if !(canonical(&x) && canonical(&y) && canonical(&pi)) {
        return Ok(false);
    }
    let r = SmallMont::<4>::new(l).expect("ell checked odd and >= 3").pow2(t);
    let v = m.pow_pair(&m.to_montgomery(&pi), &l, &m.to_montgomery(&x), &r);
    let mut v = m.from_montgomery(&v);
    if less_than(&half, &v) {
        let mut w = n;
        sub_assign(&mut w, &v);
        v = w;
    }
    Ok(v == y)
}

/// Wesolowski verification over Z_N^*/{±1}: with r = 2^T mod ℓ, true iff x, y, π are canonical
/// (in [1, floor(N/2)]) and min(v, N − v) = y for v = π^ℓ · x^r mod N. Big-endian inputs; N odd,
/// 3 <= N < 2^2048; T integer in [0, 2^40]; ℓ odd, 3 <= ℓ < 2^256. Both exponentiations share one
/// chain of squarings (Straus, 2-bit joint window).
#[napi]
pub fn vdf_verify(x: &[u8], y: &[u8], pi: &[u8], iterations: f64, ell: &[u8], modulus: &[u8]) -> napi::Result<bool, Code> {
    let t = self::iterations(iterations)?;
    Ok(verify(x, y, pi, t, ell, modulus)?)
}

/// y = x^(2^T) mod N. `x` and `modulus` are big-endian (N odd, 3 <= N < 2^2048); `iterations`
/// is T in [0, 2^40]. Returns the raw residue as big-endian bytes of N's byte length. Sequential
/// by nature: prefer `vdfEvaluateAsync` for large T.
#[napi]
pub fn vdf_evaluate(x: &[u8], iterations: f64, modulus: &[u8]) -> napi::Result<Buffer, Code> {
    let t = self::iterations(iterations)?;
    Ok(Buffer::from(evaluate(x, t, modulus)?))
}

/// π = x^floor(2^T / ℓ) mod N (Wesolowski proof), raw residue; `ell` is big-endian, 2 <= ℓ < 2^256.
#[napi]
pub fn vdf_prove(x: &[u8], iterations: f64, ell: &[u8], modulus: &[u8]) -> napi::Result<Buffer, Code> {
    let t = self::iterations(iterations)?;
    Ok(Buffer::from(prove(x, t, ell, modulus)?))
}

pub struct VdfTask {
    x: Vec<u8>,
    t: u64,
    /// Some(ℓ): prove; None: evaluate.
    ell: Option<Vec<u8>>,
    modulus: Vec<u8>,
}

impl Task for VdfTask {
    type Output = Result<Vec<u8>, StoqError>;
    type JsValue = Buffer;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(match &self.ell {
            None => evaluate(&self.x, self.t, &self.modulus),
            Some(ell) => prove(&self.x, self.t, ell, &self.modulus),
        })
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(Buffer::from(output.map_err(|e| coded_rejection(&env, e))?))
    }
}

fn task(x: &[u8], iterations: f64, ell: Option<&[u8]>, modulus: &[u8]) -> napi::Result<AsyncTask<VdfTask>, Code> {
    let t = self::iterations(iterations)?;
    // Validate now so bad arguments throw synchronously rather than rejecting later.
    Modulus::from_be(modulus)?;
    Ok(AsyncTask::new(VdfTask { x: x.to_vec(), t, ell: ell.map(<[u8]>::to_vec), modulus: modulus.to_vec() }))
}

/// `vdfEvaluate` on the libuv thread pool.
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn vdf_evaluate_async(x: &[u8], iterations: f64, modulus: &[u8]) -> napi::Result<AsyncTask<VdfTask>, Code> {
    task(x, iterations, None, modulus)
}

/// `vdfProve` on the libuv thread pool.
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn vdf_prove_async(x: &[u8], iterations: f64, ell: &[u8], modulus: &[u8]) -> napi::Result<AsyncTask<VdfTask>, Code> {
    task(x, iterations, Some(ell), modulus)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hot::test_bytes;
    use num_bigint::BigUint;

    fn reference_evaluate(x: &BigUint, t: u64, n: &BigUint) -> BigUint {
        let mut y = x % n;
        for _ in 0..t {
            y = (&y * &y) % n;
        }
        y
    }

    fn pad(v: &BigUint, len: usize) -> Vec<u8> {
        let b = v.to_bytes_be();
        [vec![0u8; len - b.len()], b].concat()
    }

    #[test]
    fn evaluate_and_prove_match_bigint_definitions() {
        let mut seed = 0x2545f4914f6cdd1du64;
        for (len, ell_len) in [(8usize, 2usize), (33, 9), (128, 17), (256, 17), (256, 32)] {
            let mut nb = test_bytes(&mut seed, len);
            nb[0] |= 0x80;
            nb[len - 1] |= 1;
            let n = BigUint::from_bytes_be(&nb);
            let xb = test_bytes(&mut seed, len);
            let x = BigUint::from_bytes_be(&xb);
            let mut lb = test_bytes(&mut seed, ell_len);
            lb[0] |= 0x80;
            let l = BigUint::from_bytes_be(&lb);
            for t in [0u64, 1, 3, 4, 5, 64, 257] {
                let y = reference_evaluate(&x, t, &n);
                assert_eq!(evaluate(&xb, t, &nb).unwrap(), pad(&y, len), "evaluate len {len} T {t}");
                let q = (BigUint::from(1u8) << t as usize) / &l;
                let pi = x.modpow(&q, &n);
                assert_eq!(prove(&xb, t, &lb, &nb).unwrap(), pad(&pi, len), "prove len {len} T {t}");
            }
        }
    }

    fn canonical(v: &BigUint, n: &BigUint) -> BigUint {
        if v > &(n >> 1u32) { n - v } else { v.clone() }
    }

    #[test]
    fn verify_accepts_proofs_and_rejects_everything_else() {
        let mut seed = 0x7f4a_7c15_9e37_79b9u64;
        for (len, ell_len) in [(16usize, 8usize), (128, 16), (256, 16), (256, 32)] {
            let mut nb = test_bytes(&mut seed, len);
            nb[0] |= 0x80;
            nb[len - 1] |= 1;
            let n = BigUint::from_bytes_be(&nb);
            let mut lb = test_bytes(&mut seed, ell_len);
            lb[0] |= 0x80;
            lb[ell_len - 1] |= 1;
            let l = BigUint::from_bytes_be(&lb);
            let x = canonical(&(BigUint::from_bytes_be(&test_bytes(&mut seed, len)) % &n), &n);
            for t in [0u64, 1, 7, 300] {
                let y = canonical(&reference_evaluate(&x, t, &n), &n);
                let q = (BigUint::from(1u8) << t as usize) / &l;
                let pi = canonical(&x.modpow(&q, &n), &n);
                let (xb, yb, pib) = (pad(&x, len), pad(&y, len), pad(&pi, len));
                assert!(verify(&xb, &yb, &pib, t, &lb, &nb).unwrap(), "len {len} T {t}");
                // Wrong T, wrong y, −y (non-canonical), y = 0, π ± 1: all rejected.
                assert!(!verify(&xb, &yb, &pib, t + 1, &lb, &nb).unwrap() || y == canonical(&reference_evaluate(&x, t + 1, &n), &n));
                let other = pad(&canonical(&((&y + 1u8) % &n), &n), len);
                assert!(!verify(&xb, &other, &pib, t, &lb, &nb).unwrap());
                assert!(!verify(&xb, &pad(&(&n - &y), len), &pib, t, &lb, &nb).unwrap());
                assert!(!verify(&xb, &vec![0u8; len], &pib, t, &lb, &nb).unwrap());
                assert!(!verify(&xb, &yb, &pad(&(&n - &pi), len), t, &lb, &nb).unwrap());
                // The definition, on arbitrary (not necessarily valid) y and π.
                let yr = BigUint::from_bytes_be(&test_bytes(&mut seed, len)) % &n;
                let pr = BigUint::from_bytes_be(&test_bytes(&mut seed, len)) % &n;
                let r = BigUint::from(2u8).modpow(&BigUint::from(t), &l);
                let half = &n >> 1u32;
                let zero = BigUint::from(0u8);
                let want = yr != zero && pr != zero && yr <= half && pr <= half && x != zero
                    && canonical(&((pr.modpow(&l, &n) * x.modpow(&r, &n)) % &n), &n) == yr;
                assert_eq!(verify(&xb, &pad(&yr, len), &pad(&pr, len), t, &lb, &nb).unwrap(), want);
            }
        }
        assert!(verify(&[2], &[2], &[2], 1, &[4], &[0xfb]).unwrap_err().message.contains("odd"));
        assert!(verify(&[2], &[2], &[2], 1, &[1], &[0xfb]).unwrap_err().message.contains("at least 3"));
        assert!(verify(&[2], &[2], &[1u8; 257], 1, &[5], &[0xfb]).unwrap_err().message.contains("pi has more than"));
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(iterations(-1.0).is_err());
        assert!(iterations(1.5).is_err());
        assert!(iterations((MAX_ITERATIONS + 1) as f64).is_err());
        assert_eq!(iterations(4096.0).unwrap(), 4096);
        assert!(prove(&[2], 10, &[1], &[0xfb]).unwrap_err().message.contains("ell must be at least 2"));
        assert!(prove(&[2], 10, &[1u8; 33], &[0xfb]).unwrap_err().message.contains("256 bits"));
        assert!(evaluate(&[1u8; 257], 10, &[0xfb]).unwrap_err().message.contains("x has more than"));
    }
}
