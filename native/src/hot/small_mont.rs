//! Montgomery arithmetic for small odd moduli (L × 64-bit limbs, R = 2^(64·L)): L = 2 for the
//! 128-bit Miller–Rabin candidates of hash-to-prime, L = 4 for r = 2^T mod ℓ in VDF verification.
//! Same CIOS algorithm as `montgomery.rs` (which is fixed at 32 limbs for speed), sized by a const
//! generic so the loops unroll. Not constant-time: the inputs are public.

#[inline(always)]
fn mac(acc: u64, a: u64, b: u64, carry: u64) -> (u64, u64) {
    let t = (acc as u128) + (a as u128) * (b as u128) + (carry as u128);
    (t as u64, (t >> 64) as u64)
}

#[inline(always)]
fn less_than<const L: usize>(a: &[u64; L], b: &[u64; L]) -> bool {
    for i in (0..L).rev() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
    }
    false
}

#[inline(always)]
fn sub_assign<const L: usize>(a: &mut [u64; L], b: &[u64; L]) {
    let mut borrow = false;
    for i in 0..L {
        let (d1, o1) = a[i].overflowing_sub(b[i]);
        let (d2, o2) = d1.overflowing_sub(borrow as u64);
        a[i] = d2;
        borrow = o1 | o2;
    }
}

#[derive(Debug, Clone)]
pub struct SmallMont<const L: usize> {
    n: [u64; L],
    /// −n⁻¹ mod 2^64.
    n0inv: u64,
    /// R mod n (1 in Montgomery form).
    one: [u64; L],
    /// R² mod n.
    r2: [u64; L],
}

impl<const L: usize> SmallMont<L> {
    /// None unless n is odd and >= 3. `L * 64` must be a power of two (L = 1, 2, 4, 8, ...).
    pub fn new(n: [u64; L]) -> Option<Self> {
        if n[0] & 1 == 0 || (n[0] < 3 && n[1..].iter().all(|&v| v == 0)) {
            return None;
        }
        let mut inv: u64 = 1; // Newton iteration: each step doubles the correct low bits.
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(n[0].wrapping_mul(inv)));
        }
        let mut m = Self { n, n0inv: inv.wrapping_neg(), one: [0; L], r2: [0; L] };
        // R mod n by doubling 1 (64·L times); then 2 in Montgomery form is double(R mod n), and
        // squaring it log2(64·L) times gives 2^(64·L) = R in Montgomery form, i.e. R² mod n.
        let mut v = [0u64; L];
        v[0] = 1;
        for _ in 0..64 * L {
            m.double_assign(&mut v);
        }
        m.one = v;
        m.double_assign(&mut v);
        let mut k = 64 * L;
        while k > 1 {
            v = m.mul(&v, &v);
            k >>= 1;
        }
        m.r2 = v;
        Some(m)
    }

    /// v = 2v mod n, for v < n.
    #[inline(always)]
    pub fn double_assign(&self, v: &mut [u64; L]) {
        let carry = v[L - 1] >> 63;
        for i in (1..L).rev() {
            v[i] = (v[i] << 1) | (v[i - 1] >> 63);
        }
        v[0] <<= 1;
        if carry != 0 || !less_than(v, &self.n) {
            sub_assign(v, &self.n);
        }
    }

    /// a·b·R⁻¹ mod n (CIOS). Needs a, b < n; the result is fully reduced.
    #[inline(always)]
    pub fn mul(&self, a: &[u64; L], b: &[u64; L]) -> [u64; L] {
        let n = &self.n;
        let mut t = [0u64; L];
        let mut hi = 0u64; // t[L]
        for &bi in b.iter() {
            let mut c = 0u64;
            for j in 0..L {
                (t[j], c) = mac(t[j], a[j], bi, c);
            }
            let (s, o) = hi.overflowing_add(c);
            let hi2 = o as u64; // t[L + 1]
            let m = t[0].wrapping_mul(self.n0inv);
            let (_, mut c) = mac(t[0], m, n[0], 0);
            for j in 1..L {
                (t[j - 1], c) = mac(t[j], m, n[j], c);
            }
            let (s, o) = s.overflowing_add(c);
            t[L - 1] = s;
            hi = hi2 + o as u64;
        }
        if hi != 0 || !less_than(&t, n) {
            sub_assign(&mut t, n);
        }
        t
    }

    /// x·R mod n, for x < n.
    pub fn to_mont(&self, x: &[u64; L]) -> [u64; L] {
        self.mul(x, &self.r2)
    }

    pub fn from_mont(&self, a: &[u64; L]) -> [u64; L] {
        let mut unit = [0u64; L];
        unit[0] = 1;
        self.mul(a, &unit)
    }

    pub fn one(&self) -> [u64; L] {
        self.one
    }

    pub fn modulus(&self) -> &[u64; L] {
        &self.n
    }

    /// (2^e mod n) in normal form, by left-to-right binary exponentiation (doubling for 1 bits).
    pub fn pow2(&self, e: u64) -> [u64; L] {
        let mut acc = self.one;
        for bit in (0..64 - e.leading_zeros()).rev() {
            acc = self.mul(&acc, &acc);
            if (e >> bit) & 1 == 1 {
                self.double_assign(&mut acc);
            }
        }
        self.from_mont(&acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hot::test_bytes;
    use num_bigint::BigUint;

    fn to_limbs<const L: usize>(v: &BigUint) -> [u64; L] {
        let mut out = [0u64; L];
        for (i, d) in v.to_u64_digits().iter().enumerate() {
            out[i] = *d;
        }
        out
    }

    fn big<const L: usize>(l: &[u64; L]) -> BigUint {
        let mut v = BigUint::from(0u8);
        for &d in l.iter().rev() {
            v = (v << 64u32) + d;
        }
        v
    }

    fn check<const L: usize>(seed: &mut u64) {
        for bytes in 1..=L * 8 {
            let mut nb = test_bytes(seed, bytes);
            nb[bytes - 1] |= 1;
            let n = BigUint::from_bytes_be(&nb);
            if n < BigUint::from(3u8) {
                assert!(SmallMont::<L>::new(to_limbs(&n)).is_none());
                continue;
            }
            let m = SmallMont::<L>::new(to_limbs(&n)).unwrap();
            let a = BigUint::from_bytes_be(&test_bytes(seed, L * 8)) % &n;
            let b = BigUint::from_bytes_be(&test_bytes(seed, L * 8)) % &n;
            let am = m.to_mont(&to_limbs(&a));
            let bm = m.to_mont(&to_limbs(&b));
            assert_eq!(big(&m.from_mont(&m.mul(&am, &bm))), (&a * &b) % &n);
            assert_eq!(big(&m.from_mont(&m.one())), BigUint::from(1u8));
            for e in [0u64, 1, 2, 63, 64, 4096, 1 << 40, (*seed >> 20) | 1] {
                assert_eq!(big(&m.pow2(e)), BigUint::from(2u8).modpow(&BigUint::from(e), &n), "2^{e} mod {n}");
            }
        }
    }

    #[test]
    fn matches_num_bigint() {
        let mut seed = 0x51_7cc1_b727_220au64;
        for _ in 0..40 {
            check::<2>(&mut seed);
            check::<4>(&mut seed);
        }
        // Extremes: the largest odd moduli.
        let m = SmallMont::<2>::new([u64::MAX, u64::MAX]).unwrap();
        let a = [u64::MAX - 1, u64::MAX];
        let n = big(&[u64::MAX, u64::MAX]);
        let am = m.to_mont(&a);
        assert_eq!(big(&m.from_mont(&m.mul(&am, &am))), (big(&a) * big(&a)) % &n);
        assert!(SmallMont::<2>::new([2, 0]).is_none());
        assert!(SmallMont::<2>::new([1, 0]).is_none());
        assert!(SmallMont::<2>::new([1, 1]).is_some());
    }
}
