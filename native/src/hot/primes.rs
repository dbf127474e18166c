//! Hash-to-prime for the Wesolowski challenge ℓ, mirroring libs/four-proof/src/primes.ts
//! (`hashToPrime`): start = (first 16 bytes of the digest, big-endian) | 2^127 | 1, and ℓ is the
//! first odd candidate start + 2k with no prime factor below 2048 that passes Miller–Rabin with
//! the fixed bases 2, 3, 5, ..., 37. Candidates are sieved in windows like the reference; only the
//! arithmetic differs (u128 Montgomery instead of BigInt), so the result is the same number.

use super::small_mont::SmallMont;
use crate::error::{Code, StoqError, INVALID_ARGUMENT};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

const BASES: [u64; 12] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
/// Odd primes below 2048 (as SMALL_PRIMES in the reference).
const SMALL_PRIME_COUNT: usize = 308;
const SMALL_PRIMES: [u32; SMALL_PRIME_COUNT] = small_primes();
/// Odd candidates sieved at a time.
const WINDOW: usize = 512;

const fn small_primes() -> [u32; SMALL_PRIME_COUNT] {
    let mut out = [0u32; SMALL_PRIME_COUNT];
    let mut count = 0;
    let mut n = 3u32;
    while n < 2048 {
        let mut d = 3u32;
        let mut prime = true;
        while d * d <= n {
            if n % d == 0 {
                prime = false;
                break;
            }
            d += 2;
        }
        if prime {
            out[count] = n;
            count += 1;
        }
        n += 2;
    }
    assert!(count == SMALL_PRIME_COUNT);
    out
}

fn limbs(v: u128) -> [u64; 2] {
    [v as u64, (v >> 64) as u64]
}

/// Miller–Rabin with the fixed bases, for odd n >= 2^127 (so no base is a multiple of n).
fn passes_miller_rabin(n: u128) -> bool {
    let Some(m) = SmallMont::<2>::new(limbs(n)) else { return false };
    let s = (n - 1).trailing_zeros();
    let d = (n - 1) >> s;
    let one = m.one();
    let mut minus_one = limbs(n);
    // n − (R mod n): Montgomery form of n − 1.
    let (lo, b) = minus_one[0].overflowing_sub(one[0]);
    minus_one[0] = lo;
    minus_one[1] = minus_one[1] - one[1] - b as u64;
    let top = 127 - d.leading_zeros();
    'bases: for a in BASES {
        let base = m.to_mont(&[a, 0]);
        let mut x = base;
        for bit in (0..top).rev() {
            x = m.mul(&x, &x);
            if (d >> bit) & 1 == 1 {
                x = m.mul(&x, &base);
            }
        }
        if x == one || x == minus_one {
            continue;
        }
        for _ in 1..s {
            x = m.mul(&x, &x);
            if x == minus_one {
                continue 'bases;
            }
            if x == one {
                return false;
            }
        }
        return false;
    }
    true
}

/// v mod p for p < 2^11, folding 16 bits at a time so every step stays in u32.
#[inline(always)]
fn mod_small(v: u128, p: u32) -> u32 {
    let mut r = 0u32;
    for shift in (0..8).rev() {
        r = ((r << 16) | ((v >> (16 * shift)) as u32 & 0xffff)) % p;
    }
    r
}

/// The first prime >= the start derived from `digest` (>= 16 bytes), or None if it would not fit
/// in 128 bits (start within 159 of 2^128; the caller then uses its BigInt reference).
pub fn hash_to_prime(digest: &[u8]) -> Result<Option<u128>, StoqError> {
    if digest.len() < 16 {
        return Err(StoqError::new(INVALID_ARGUMENT, format!("digest must be at least 16 bytes, got {}", digest.len())));
    }
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    let start = u128::from_be_bytes(first) | (1u128 << 127) | 1;
    let mut residues = [0u32; SMALL_PRIME_COUNT];
    for (r, &p) in residues.iter_mut().zip(SMALL_PRIMES.iter()) {
        *r = mod_small(start, p);
    }
    let mut marks = [false; WINDOW];
    let mut base: u64 = 0;
    loop {
        marks.fill(false);
        for (&r0, &p) in residues.iter().zip(SMALL_PRIMES.iter()) {
            // Smallest k >= 0 with r0 + 2(base + k) ≡ 0 (mod p).
            let r = ((r0 as u64 + 2 * (base % p as u64)) % p as u64) as u32;
            let inv2 = (p + 1) / 2;
            let mut k = (((p - r) * inv2) % p) as usize;
            while k < WINDOW {
                marks[k] = true;
                k += p as usize;
            }
        }
        for (k, &marked) in marks.iter().enumerate() {
            if marked {
                continue;
            }
            let offset = 2 * (base as u128 + k as u128);
            let Some(candidate) = start.checked_add(offset) else { return Ok(None) };
            if passes_miller_rabin(candidate) {
                return Ok(Some(candidate));
            }
        }
        base += WINDOW as u64;
    }
}

/// ℓ for the Wesolowski VDF: the first prime >= (first 16 bytes of `digest`, big-endian, with bits
/// 127 and 0 set), after trial division by the odd primes below 2048 and Miller–Rabin with the
/// bases 2..37 — identical to four-proof's `hashToPrime`. Returns 16 big-endian bytes, or null in
/// the ~2^-122-likely case that the prime exceeds 2^128 − 1 (the caller falls back to BigInt).
#[napi(js_name = "hashToPrime")]
pub fn hash_to_prime_js(digest: &[u8]) -> napi::Result<Option<Buffer>, Code> {
    Ok(hash_to_prime(digest)?.map(|p| Buffer::from(p.to_be_bytes().to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hot::test_bytes;
    use num_bigint::BigUint;

    /// Definition: trial division by every odd prime < 2048, then Miller–Rabin, each candidate in order.
    fn reference(digest: &[u8]) -> BigUint {
        let start = BigUint::from_bytes_be(&digest[..16]) | (BigUint::from(1u8) << 127u32) | BigUint::from(1u8);
        let mut c = start;
        loop {
            let divisible = SMALL_PRIMES.iter().any(|&p| (&c % p) == BigUint::from(0u8));
            if !divisible && mr(&c) {
                return c;
            }
            c += 2u8;
        }
    }

    fn mr(n: &BigUint) -> bool {
        let one = BigUint::from(1u8);
        let nm1 = n - &one;
        let s = nm1.trailing_zeros().unwrap();
        let d = &nm1 >> s;
        'bases: for a in BASES {
            let mut x = BigUint::from(a).modpow(&d, n);
            if x == one || x == nm1 {
                continue;
            }
            for _ in 1..s {
                x = (&x * &x) % n;
                if x == nm1 {
                    continue 'bases;
                }
                if x == one {
                    return false;
                }
            }
            return false;
        }
        true
    }

    #[test]
    fn small_primes_table() {
        assert_eq!(SMALL_PRIMES[0], 3);
        assert_eq!(SMALL_PRIMES[SMALL_PRIME_COUNT - 1], 2039);
        assert_eq!(mod_small(u128::MAX, 2039), (u128::MAX % 2039) as u32);
    }

    #[test]
    fn matches_the_definition() {
        let mut seed = 0x0dd_b1a5_e5ba_d5eeu64;
        for i in 0..200 {
            let digest = test_bytes(&mut seed, 16 + i % 20);
            let got = hash_to_prime(&digest).unwrap().unwrap();
            assert_eq!(BigUint::from(got), reference(&digest), "digest {digest:02x?}");
        }
    }

    #[test]
    fn known_values_and_limits() {
        // The largest prime below 2^128 is 2^128 − 159: the top of the representable range.
        let p = u128::MAX - 158;
        let near = (p - 300).to_be_bytes();
        assert_eq!(BigUint::from(hash_to_prime(&near).unwrap().unwrap()), reference(&near));
        assert_eq!(hash_to_prime(&p.to_be_bytes()).unwrap(), Some(p));
        // Past it the prime is above 2^128: not representable, the caller falls back.
        assert_eq!(hash_to_prime(&[0xff; 32]).unwrap(), None);
        assert_eq!(hash_to_prime(&(p + 2).to_be_bytes()).unwrap(), None);
        // 2^127 + 1 is composite; the first prime after 2^127 is 2^127 + 29.
        assert_eq!(hash_to_prime(&[0u8; 16]).unwrap(), Some((1u128 << 127) + 29));
        assert!(hash_to_prime(&[1u8; 15]).unwrap_err().message.contains("at least 16 bytes"));
        // A strong pseudoprime to bases 2..37 would pass both; a Carmichael number passes neither.
        assert!(!passes_miller_rabin((1u128 << 127) + 1));
    }
}
