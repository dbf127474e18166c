//! FALCON-1024 signing from an expanded secret key, on x86-64 with AVX2.
//!
//! PQClean's `crypto_sign_signature` (what `pqcrypto-falcon` calls) starts every signature from
//! the encoded secret key: it decodes f, g, F, recomputes G, and rebuilds the LDL tree of the
//! basis ("sign_dyn"). That is about half of a signature's cost, and STOQ signs with few,
//! long-lived keys (a node's identity key in every handshake, the CA's key for every
//! certificate). So the key is expanded once (`expand_privkey`, 120 KiB) and each signature is
//! made with `sign_tree`, as the Falcon reference implementation offers. The signature is the same
//! PQClean compressed detached format, byte for byte the same procedure after the key: nonce,
//! constant-time hash-to-point, the same sampler; only where the tree comes from differs.
//!
//! A key is decoded and checked (its NTRU equation) on its first signature, which is made from
//! the decoded basis ("sign_dyn", as PQClean does every time); it is expanded on its second.
//! The caches hold SHA-256 digests of keys, not the keys. CPUs without the AVX2 code's features
//! sign through pqcrypto as before, without that check.
//!
//! The C functions are PQClean's own (compiled by pqcrypto-falcon into this addon); they are
//! internal to PQClean, so their declarations here must follow the pinned pqcrypto-falcon
//! version's `inner.h` (0.4.1).

use std::os::raw::{c_int, c_uint, c_void};
use std::sync::{Arc, Mutex};

const LOGN: c_uint = 10;
const N: usize = 1 << LOGN;
const NONCE_LEN: usize = 40;
/// PQClean CRYPTO_BYTES for falcon-1024: header, nonce and compressed signature.
const SIGNATURE_BYTES: usize = 1462;
const SECRET_KEY_BYTES: usize = 2305;
/// (8·logn + 40)·2^logn bytes of `fpr` (double).
const EXPANDED_KEY_FPRS: usize = (8 * LOGN as usize + 40) * N / 8;
/// sign_dyn needs 72·2^logn bytes of 64-bit aligned scratch (sign_tree and expand_privkey 48).
const TMP_U64S: usize = 72 * N / 8;
/// Expanded keys kept (most recently used first): a process signs with one or two keys.
const CACHE_SIZE: usize = 4;
/// Keys signed with once, remembered (by digest) so that their second signature expands them.
const CHECKED_SIZE: usize = 8;

/// pqcrypto-internals' `shake256incctx` (fips202.h): the Keccak state and the absorb position.
#[repr(C)]
struct Shake256IncCtx {
    ctx: [u64; 26],
}

extern "C" {
    fn shake256_inc_init(state: *mut Shake256IncCtx);
    fn shake256_inc_absorb(state: *mut Shake256IncCtx, input: *const u8, inlen: usize);
    fn shake256_inc_finalize(state: *mut Shake256IncCtx);
    fn shake256_inc_ctx_release(state: *mut Shake256IncCtx);
    fn PQCRYPTO_RUST_randombytes(buf: *mut u8, len: usize) -> c_int;
    static PQCLEAN_FALCON1024_AVX2_max_fg_bits: [u8; 11];
    static PQCLEAN_FALCON1024_AVX2_max_FG_bits: [u8; 11];
    fn PQCLEAN_FALCON1024_AVX2_trim_i8_decode(x: *mut i8, logn: c_uint, bits: c_uint, input: *const c_void, max_in_len: usize) -> usize;
    fn PQCLEAN_FALCON1024_AVX2_complete_private(big_g: *mut i8, f: *const i8, g: *const i8, big_f: *const i8, logn: c_uint, tmp: *mut u8) -> c_int;
    fn PQCLEAN_FALCON1024_AVX2_expand_privkey(expanded_key: *mut f64, f: *const i8, g: *const i8, big_f: *const i8, big_g: *const i8, logn: c_uint, tmp: *mut u8);
    fn PQCLEAN_FALCON1024_AVX2_hash_to_point_ct(sc: *mut Shake256IncCtx, x: *mut u16, logn: c_uint, tmp: *mut u8);
    fn PQCLEAN_FALCON1024_AVX2_sign_dyn(sig: *mut i16, rng: *mut Shake256IncCtx, f: *const i8, g: *const i8, big_f: *const i8, big_g: *const i8, hm: *const u16, logn: c_uint, tmp: *mut u8);
    fn PQCLEAN_FALCON1024_AVX2_sign_tree(sig: *mut i16, rng: *mut Shake256IncCtx, expanded_key: *const f64, hm: *const u16, logn: c_uint, tmp: *mut u8);
    fn PQCLEAN_FALCON1024_AVX2_comp_encode(out: *mut c_void, max_out_len: usize, x: *const i16, logn: c_uint) -> usize;
}

/// SHA-256 of a secret key: what the caches hold and compare, never the key itself.
type KeyId = [u8; 32];

fn key_id(secret_key: &[u8]) -> KeyId {
    crate::hash::digest(secret_key)
}

/// Constant-time equality of two key ids.
fn same_key(a: &KeyId, b: &KeyId) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn zero<T: Copy + Default>(v: &mut [T]) {
    for x in v.iter_mut() {
        // Volatile, so the compiler cannot drop the stores to memory about to be freed.
        unsafe { std::ptr::write_volatile(x, T::default()) };
    }
}

/// Scratch memory for PQClean (64-bit aligned), zeroed when dropped.
struct Scratch(Vec<u64>);

impl Scratch {
    fn new() -> Self {
        Scratch(vec![0u64; TMP_U64S])
    }
    fn bytes(&mut self) -> *mut u8 {
        self.0.as_mut_ptr().cast()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        zero(&mut self.0);
    }
}

/// The NTRU basis (f, g, F, G) of a decoded secret key. Zeroed when dropped.
struct Basis {
    f: [i8; N],
    g: [i8; N],
    big_f: [i8; N],
    big_g: [i8; N],
}

impl Drop for Basis {
    fn drop(&mut self) {
        zero(&mut self.f);
        zero(&mut self.g);
        zero(&mut self.big_f);
        zero(&mut self.big_g);
    }
}

/// A secret key's LDL tree, ready for `sign_tree`. Zeroed when dropped.
struct ExpandedKey {
    id: KeyId,
    tree: Vec<f64>,
}

impl Drop for ExpandedKey {
    fn drop(&mut self) {
        zero(&mut self.tree);
    }
}

struct Cache {
    /// Most recently used first, at most CACHE_SIZE.
    expanded: Vec<Arc<ExpandedKey>>,
    /// Keys signed with once (checked sound, not expanded), most recent first, at most CHECKED_SIZE.
    checked: Vec<KeyId>,
}

static CACHE: Mutex<Cache> = Mutex::new(Cache { expanded: Vec::new(), checked: Vec::new() });

/// What `sign` did.
pub enum Signed {
    /// The signature.
    Signature(Vec<u8>),
    /// The key does not decode, or is not a Falcon key pair's secret half.
    Damaged,
}

/// What a signature is made from: the cached tree, or (a key's first signature here, as
/// PQClean's own signing does each time) the decoded basis. Expanding costs about 0.6 ms more
/// than one signature, which a one-shot key (an enrolling client's) never earns back.
enum Keying {
    Tree(Arc<ExpandedKey>),
    Basis(Box<Basis>),
}

/// Whether this CPU runs the AVX2 code, which pqcrypto-falcon compiles with -mavx2 -mbmi
/// -mbmi2 -maes -mpopcnt -mpclmul (else the caller signs through pqcrypto as before).
pub fn available() -> bool {
    use std::is_x86_feature_detected as has;
    has!("avx2") && has!("bmi1") && has!("bmi2") && has!("aes") && has!("popcnt") && has!("pclmulqdq")
}

/// Decodes a PQClean FALCON-1024 secret key into its basis, checked: None if it does not decode
/// or is not an NTRU basis (then PQClean's signing would search forever for a short vector).
fn decode(secret_key: &[u8]) -> Option<Box<Basis>> {
    if secret_key.len() != SECRET_KEY_BYTES || secret_key[0] != 0x50 + LOGN as u8 {
        return None;
    }
    let mut basis = Box::new(Basis { f: [0; N], g: [0; N], big_f: [0; N], big_g: [0; N] });
    let mut tmp = Scratch::new();
    // SAFETY: buffers have the sizes inner.h asks for logn = 10; inputs are bounded by their lengths.
    unsafe {
        let fg_bits = c_uint::from(PQCLEAN_FALCON1024_AVX2_max_fg_bits[LOGN as usize]);
        let big_fg_bits = c_uint::from(PQCLEAN_FALCON1024_AVX2_max_FG_bits[LOGN as usize]);
        let b = &mut *basis;
        let mut u = 1usize;
        for (poly, bits) in [(&mut b.f, fg_bits), (&mut b.g, fg_bits), (&mut b.big_f, big_fg_bits)] {
            let v = PQCLEAN_FALCON1024_AVX2_trim_i8_decode(poly.as_mut_ptr(), LOGN, bits, secret_key[u..].as_ptr().cast(), SECRET_KEY_BYTES - u);
            if v == 0 {
                return None;
            }
            u += v;
        }
        if u != SECRET_KEY_BYTES {
            return None;
        }
        if PQCLEAN_FALCON1024_AVX2_complete_private(b.big_g.as_mut_ptr(), b.f.as_ptr(), b.g.as_ptr(), b.big_f.as_ptr(), LOGN, tmp.bytes()) == 0 {
            return None;
        }
    }
    // complete_private makes fG − gF = q hold modulo 12289 only; a damaged key that passes it
    // (say every coefficient −1) is not a basis, and signing with it never ends. Every real key
    // satisfies it over the integers.
    if !ntru_equation_holds(&basis) {
        return None;
    }
    Some(basis)
}

/// The basis's LDL tree.
fn expand(id: KeyId, basis: &Basis) -> ExpandedKey {
    let mut tree = vec![0f64; EXPANDED_KEY_FPRS];
    let mut tmp = Scratch::new();
    // SAFETY: as in decode; the tree has (8·logn + 40)·2^logn bytes.
    unsafe {
        PQCLEAN_FALCON1024_AVX2_expand_privkey(tree.as_mut_ptr(), basis.f.as_ptr(), basis.g.as_ptr(), basis.big_f.as_ptr(), basis.big_g.as_ptr(), LOGN, tmp.bytes());
    }
    ExpandedKey { id, tree }
}

/// NTT prime for the check: 15·2^27 + 1 ≡ 1 (mod 2n), so x^n + 1 splits into distinct linear
/// factors and evaluating at its n roots is exact; 31 generates its multiplicative group.
const NTT_P: u64 = 2_013_265_921;

fn pow_mod(mut base: u64, mut exp: u64) -> u64 {
    let mut acc = 1u64;
    base %= NTT_P;
    while exp > 0 {
        if exp & 1 == 1 {
            acc = acc * base % NTT_P;
        }
        base = base * base % NTT_P;
        exp >>= 1;
    }
    acc
}

/// ψ^i (the twist) and ω^i = ψ^(2i) for i < n, ψ a primitive 2n-th root of unity mod NTT_P.
struct NttTables {
    psi_pows: Vec<u64>,
    omega_pows: Vec<u64>,
}

fn ntt_tables() -> &'static NttTables {
    static TABLES: std::sync::OnceLock<NttTables> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let psi = pow_mod(31, (NTT_P - 1) / (2 * N as u64));
        assert_eq!(pow_mod(psi, N as u64), NTT_P - 1, "ψ must be a primitive 2n-th root");
        let (mut psi_pows, mut omega_pows) = (Vec::with_capacity(N), Vec::with_capacity(N));
        let (mut p, mut o) = (1u64, 1u64);
        for _ in 0..N {
            psi_pows.push(p);
            omega_pows.push(o);
            p = p * psi % NTT_P;
            o = o * psi % NTT_P * psi % NTT_P;
        }
        NttTables { psi_pows, omega_pows }
    })
}

fn add_mod(a: u64, b: u64) -> u64 {
    let s = a + b;
    if s >= NTT_P { s - NTT_P } else { s }
}

/// `a` evaluated at the n roots ψ^(2k+1) of x^n + 1 modulo NTT_P: twisted by ψ^i, then a
/// cyclic radix-2 NTT with ω = ψ² (in bit-reversed order, which the pointwise check ignores).
fn negacyclic_ntt(a: &[i8; N], t: &NttTables) -> Vec<u64> {
    let mut x: Vec<u64> = a.iter().zip(&t.psi_pows).map(|(&c, &w)| (i64::from(c)).rem_euclid(NTT_P as i64) as u64 * w % NTT_P).collect();
    // Gentleman–Sande (decimation in frequency): natural order in, bit-reversed order out.
    let mut len = N;
    while len >= 2 {
        let half = len / 2;
        let stride = N / len;
        for start in (0..N).step_by(len) {
            for k in 0..half {
                let (u, v) = (x[start + k], x[start + k + half]);
                x[start + k] = add_mod(u, v);
                x[start + k + half] = (u + NTT_P - v) % NTT_P * t.omega_pows[k * stride] % NTT_P;
            }
        }
        len = half;
    }
    x
}

/// Whether f·G − g·F = q in Z[x]/(x^n + 1), Falcon's NTRU equation. Checked modulo NTT_P at all
/// n roots of x^n + 1, which is exact modulo NTT_P; and as every coefficient of f·G − g·F is at
/// most 2·n·127² < 2^26 in absolute value, far below NTT_P / 2, exact over the integers.
fn ntru_equation_holds(b: &Basis) -> bool {
    let t = ntt_tables();
    let (f, g, big_f, big_g) = (negacyclic_ntt(&b.f, t), negacyclic_ntt(&b.g, t), negacyclic_ntt(&b.big_f, t), negacyclic_ntt(&b.big_g, t));
    // The constant q evaluates to q at every root.
    (0..N).all(|i| (f[i] * big_g[i] % NTT_P + NTT_P - g[i] * big_f[i] % NTT_P) % NTT_P == 12289)
}

/// What to sign `secret_key` with: its cached tree; on its first use here, its checked basis; on
/// its second, its tree, made now and cached. None for a damaged key.
fn keying(secret_key: &[u8]) -> Option<Keying> {
    let id = key_id(secret_key);
    let second_use = {
        let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = cache.expanded.iter().position(|k| same_key(&k.id, &id)) {
            let key = cache.expanded.remove(i);
            cache.expanded.insert(0, key.clone());
            return Some(Keying::Tree(key));
        }
        match cache.checked.iter().position(|k| same_key(k, &id)) {
            Some(i) => {
                cache.checked.remove(i);
                true
            }
            None => false,
        }
    };
    // Decoded and expanded outside the lock.
    let basis = decode(secret_key)?;
    if !second_use {
        let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        cache.checked.insert(0, id);
        cache.checked.truncate(CHECKED_SIZE);
        return Some(Keying::Basis(basis));
    }
    let key = Arc::new(expand(id, &basis));
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    // Another thread may have expanded it meanwhile: keep one.
    cache.expanded.retain(|k| !same_key(&k.id, &id));
    cache.expanded.insert(0, key.clone());
    cache.expanded.truncate(CACHE_SIZE);
    Some(Keying::Tree(key))
}

/// A PQClean compressed detached FALCON-1024 signature (header 0x3a, 40-byte nonce, compressed
/// s2), the procedure of PQClean's do_sign with the key's tree or basis as `keying` gives it.
pub fn sign(secret_key: &[u8], message: &[u8]) -> Signed {
    let Some(keying) = keying(secret_key) else {
        return Signed::Damaged;
    };
    let mut hm = [0u16; N];
    let mut sig = [0i16; N];
    let mut tmp = Scratch::new();
    let mut seed = [0u8; 48];
    let mut sc = Shake256IncCtx { ctx: [0; 26] };
    // A too-long signature cannot be encoded (practically never: PQClean fails there too); the
    // next attempt draws a new nonce and seed.
    for _ in 0..8 {
        let mut out = vec![0u8; SIGNATURE_BYTES];
        out[0] = 0x30 + LOGN as u8;
        // SAFETY: as in PQClean's do_sign, with the sizes inner.h gives for logn = 10.
        let encoded = unsafe {
            PQCRYPTO_RUST_randombytes(out[1..].as_mut_ptr(), NONCE_LEN);
            shake256_inc_init(&mut sc);
            shake256_inc_absorb(&mut sc, out[1..].as_ptr(), NONCE_LEN);
            shake256_inc_absorb(&mut sc, message.as_ptr(), message.len());
            shake256_inc_finalize(&mut sc);
            PQCLEAN_FALCON1024_AVX2_hash_to_point_ct(&mut sc, hm.as_mut_ptr(), LOGN, tmp.bytes());
            shake256_inc_ctx_release(&mut sc);

            PQCRYPTO_RUST_randombytes(seed.as_mut_ptr(), seed.len());
            shake256_inc_init(&mut sc);
            shake256_inc_absorb(&mut sc, seed.as_ptr(), seed.len());
            shake256_inc_finalize(&mut sc);
            match &keying {
                Keying::Tree(key) => PQCLEAN_FALCON1024_AVX2_sign_tree(sig.as_mut_ptr(), &mut sc, key.tree.as_ptr(), hm.as_ptr(), LOGN, tmp.bytes()),
                Keying::Basis(b) => PQCLEAN_FALCON1024_AVX2_sign_dyn(sig.as_mut_ptr(), &mut sc, b.f.as_ptr(), b.g.as_ptr(), b.big_f.as_ptr(), b.big_g.as_ptr(), hm.as_ptr(), LOGN, tmp.bytes()),
            }
            shake256_inc_ctx_release(&mut sc);
            PQCLEAN_FALCON1024_AVX2_comp_encode(out[1 + NONCE_LEN..].as_mut_ptr().cast(), SIGNATURE_BYTES - NONCE_LEN - 1, sig.as_ptr(), LOGN)
        };
        // The sampler's seed state is secret.
        zero(&mut seed);
        zero(&mut sc.ctx);
        if encoded != 0 {
            out.truncate(1 + NONCE_LEN + encoded);
            return Signed::Signature(out);
        }
    }
    Signed::Damaged
}


#[cfg(test)]
mod tests {
    use super::*;

    /// f·G − g·F in Z[x]/(x^n + 1) by schoolbook multiplication.
    fn naive(b: &Basis) -> Vec<i32> {
        let mut c = vec![0i32; N];
        for i in 0..N {
            for j in 0..N {
                let t = i32::from(b.f[i]) * i32::from(b.big_g[j]) - i32::from(b.g[i]) * i32::from(b.big_f[j]);
                if i + j < N {
                    c[i + j] += t;
                } else {
                    c[i + j - N] -= t;
                }
            }
        }
        c
    }

    /// The NTT check agrees with schoolbook multiplication: on real keys (the equation holds), on
    /// real keys with one coefficient changed or F rotated, and on small constructed bases.
    #[test]
    fn ntru_check_matches_schoolbook_multiplication() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..6 {
            let (_, sk) = crate::falcon::keypair();
            let mut b = decode(&sk).expect("a real key decodes and passes");
            assert_eq!(naive(&b)[0], 12289);
            assert!(naive(&b)[1..].iter().all(|&x| x == 0));
            let i = (rand() % N as u64) as usize;
            match round % 3 {
                0 => b.big_g[i] = b.big_g[i].wrapping_add(1).clamp(-127, 127),
                1 => b.f[i] = -b.f[i],
                _ => b.big_f.rotate_left(1),
            }
            let c = naive(&b);
            let holds = c[0] == 12289 && c[1..].iter().all(|&x| x == 0);
            assert_eq!(ntru_equation_holds(&b), holds, "round {round}");
        }
        // Constant polynomials with f·G − g·F = 97·127 − 1·30 = q hold; one more term in F breaks it.
        let mut b = Box::new(Basis { f: [0; N], g: [0; N], big_f: [0; N], big_g: [0; N] });
        (b.f[0], b.big_g[0], b.g[0], b.big_f[0]) = (97, 127, 1, 30);
        assert!(ntru_equation_holds(&b));
        b.big_f[N - 1] = 1; // f·G − g·F gains −x^(n−1)
        assert!(!ntru_equation_holds(&b));
        assert!(naive(&b)[N - 1] != 0);
    }
}
