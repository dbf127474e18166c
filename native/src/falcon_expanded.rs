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
/// sign_tree needs 48·2^logn bytes of 64-bit aligned scratch; expand_privkey as much.
const TMP_U64S: usize = 48 * N / 8;
/// Expanded keys kept (most recently used first): a process signs with one or two keys.
const CACHE_SIZE: usize = 4;

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
    fn PQCLEAN_FALCON1024_AVX2_sign_tree(sig: *mut i16, rng: *mut Shake256IncCtx, expanded_key: *const f64, hm: *const u16, logn: c_uint, tmp: *mut u8);
    fn PQCLEAN_FALCON1024_AVX2_comp_encode(out: *mut c_void, max_out_len: usize, x: *const i16, logn: c_uint) -> usize;
}

/// A secret key's LDL tree, ready for `sign_tree`. Zeroed when dropped.
struct ExpandedKey {
    secret_key: Vec<u8>,
    tree: Vec<f64>,
}

impl Drop for ExpandedKey {
    fn drop(&mut self) {
        zero(&mut self.secret_key);
        zero(&mut self.tree);
    }
}

fn zero<T: Copy + Default>(v: &mut [T]) {
    for x in v.iter_mut() {
        // Volatile, so the compiler cannot drop the stores to memory about to be freed.
        unsafe { std::ptr::write_volatile(x, T::default()) };
    }
}

/// A secret key signed with once and not expanded (yet). Zeroed when dropped.
struct SeenKey(Vec<u8>);

impl Drop for SeenKey {
    fn drop(&mut self) {
        zero(&mut self.0);
    }
}

/// Keys are expanded on their second signature: expanding costs about 0.6 ms more than one
/// signature from the encoded key, which a one-shot key (an enrolling client's) never earns back.
struct Cache {
    /// Most recently used first, at most CACHE_SIZE.
    expanded: Vec<Arc<ExpandedKey>>,
    /// Most recently seen first, at most SEEN_SIZE.
    seen: Vec<SeenKey>,
}

const SEEN_SIZE: usize = 8;

static CACHE: Mutex<Cache> = Mutex::new(Cache { expanded: Vec::new(), seen: Vec::new() });

/// What `sign` did.
pub enum Signed {
    /// The signature.
    Signature(Vec<u8>),
    /// The key's first signature here: the caller signs from the encoded key (and the next
    /// signature with this key expands it).
    FirstUse,
    /// The key does not decode, or is not a Falcon key pair's secret half.
    Damaged,
}

/// Whether this CPU runs the AVX2 code (else the caller signs through pqcrypto as before).
pub fn available() -> bool {
    std::is_x86_feature_detected!("avx2")
}

/// Decodes and expands a PQClean FALCON-1024 secret key; None if it does not decode (the caller
/// has checked its length and header, so that means damaged key material).
fn expand(secret_key: &[u8]) -> Option<ExpandedKey> {
    if secret_key.len() != SECRET_KEY_BYTES || secret_key[0] != 0x50 + LOGN as u8 {
        return None;
    }
    let (mut f, mut g, mut big_f, mut big_g) = ([0i8; N], [0i8; N], [0i8; N], [0i8; N]);
    let mut tmp = vec![0u64; TMP_U64S];
    let mut tree = vec![0f64; EXPANDED_KEY_FPRS];
    // SAFETY: buffers have the sizes inner.h asks for logn = 10; inputs are bounded by their lengths.
    unsafe {
        let fg_bits = c_uint::from(PQCLEAN_FALCON1024_AVX2_max_fg_bits[LOGN as usize]);
        let big_fg_bits = c_uint::from(PQCLEAN_FALCON1024_AVX2_max_FG_bits[LOGN as usize]);
        let mut u = 1usize;
        for (poly, bits) in [(&mut f, fg_bits), (&mut g, fg_bits), (&mut big_f, big_fg_bits)] {
            let v = PQCLEAN_FALCON1024_AVX2_trim_i8_decode(poly.as_mut_ptr(), LOGN, bits, secret_key[u..].as_ptr().cast(), SECRET_KEY_BYTES - u);
            if v == 0 {
                return None;
            }
            u += v;
        }
        if u != SECRET_KEY_BYTES {
            return None;
        }
        if PQCLEAN_FALCON1024_AVX2_complete_private(big_g.as_mut_ptr(), f.as_ptr(), g.as_ptr(), big_f.as_ptr(), LOGN, tmp.as_mut_ptr().cast()) == 0 {
            return None;
        }
    }
    // complete_private makes fG − gF = q hold mod q only; a damaged key that passes it (say all
    // coefficients −1) would make sign_tree search forever for a short signature. Over the
    // integers it holds for every real key (about 1 ms, once per key).
    if !ntru_equation_holds(&f, &g, &big_f, &big_g) {
        return None;
    }
    // SAFETY: as above.
    unsafe {
        PQCLEAN_FALCON1024_AVX2_expand_privkey(tree.as_mut_ptr(), f.as_ptr(), g.as_ptr(), big_f.as_ptr(), big_g.as_ptr(), LOGN, tmp.as_mut_ptr().cast());
    }
    zero(&mut f);
    zero(&mut g);
    zero(&mut big_f);
    zero(&mut big_g);
    zero(&mut tmp);
    Some(ExpandedKey { secret_key: secret_key.to_vec(), tree })
}

/// Whether f·G − g·F = q in Z[x]/(x^n + 1), Falcon's NTRU equation (|coefficients| ≤ 127, so
/// every sum fits an i32).
fn ntru_equation_holds(f: &[i8; N], g: &[i8; N], big_f: &[i8; N], big_g: &[i8; N]) -> bool {
    let mut c = vec![0i32; N];
    for i in 0..N {
        let (fi, gi) = (i32::from(f[i]), i32::from(g[i]));
        if fi == 0 && gi == 0 {
            continue;
        }
        for j in 0..N {
            let t = fi * i32::from(big_g[j]) - gi * i32::from(big_f[j]);
            // x^n = −1: a product term of degree i + j ≥ n wraps around negated.
            if i + j < N {
                c[i + j] += t;
            } else {
                c[i + j - N] -= t;
            }
        }
    }
    let holds = c[0] == 12289 && c[1..].iter().all(|&x| x == 0);
    zero(&mut c);
    holds
}

/// The expanded form of `secret_key` from the cache, or made now on its second use; None on its
/// first use. Err(()) if it does not expand (damaged).
fn expanded(secret_key: &[u8]) -> Result<Option<Arc<ExpandedKey>>, ()> {
    {
        let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = cache.expanded.iter().position(|k| k.secret_key == secret_key) {
            let key = cache.expanded.remove(i);
            cache.expanded.insert(0, key.clone());
            return Ok(Some(key));
        }
        match cache.seen.iter().position(|k| k.0 == secret_key) {
            Some(i) => drop(cache.seen.remove(i)),
            None => {
                cache.seen.insert(0, SeenKey(secret_key.to_vec()));
                cache.seen.truncate(SEEN_SIZE);
                return Ok(None);
            }
        }
    }
    // Expanded outside the lock (about 1 ms); two threads racing on a new key both expand it.
    let key = Arc::new(expand(secret_key).ok_or(())?);
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    cache.expanded.insert(0, key.clone());
    cache.expanded.truncate(CACHE_SIZE);
    Ok(Some(key))
}

/// A PQClean compressed detached FALCON-1024 signature (header 0x3a, 40-byte nonce, compressed
/// s2) from the key's expanded form; see `Signed` for the other outcomes.
pub fn sign(secret_key: &[u8], message: &[u8]) -> Signed {
    let key = match expanded(secret_key) {
        Ok(Some(key)) => key,
        Ok(None) => return Signed::FirstUse,
        Err(()) => return Signed::Damaged,
    };
    let mut out = vec![0u8; SIGNATURE_BYTES];
    out[0] = 0x30 + LOGN as u8;
    let mut hm = [0u16; N];
    let mut sig = [0i16; N];
    let mut tmp = vec![0u64; TMP_U64S];
    let mut seed = [0u8; 48];
    let mut sc = Shake256IncCtx { ctx: [0; 26] };
    // SAFETY: as in PQClean's do_sign, with the sizes inner.h gives for logn = 10.
    let encoded = unsafe {
        PQCRYPTO_RUST_randombytes(out[1..].as_mut_ptr(), NONCE_LEN);
        shake256_inc_init(&mut sc);
        shake256_inc_absorb(&mut sc, out[1..].as_ptr(), NONCE_LEN);
        shake256_inc_absorb(&mut sc, message.as_ptr(), message.len());
        shake256_inc_finalize(&mut sc);
        PQCLEAN_FALCON1024_AVX2_hash_to_point_ct(&mut sc, hm.as_mut_ptr(), LOGN, tmp.as_mut_ptr().cast());
        shake256_inc_ctx_release(&mut sc);

        PQCRYPTO_RUST_randombytes(seed.as_mut_ptr(), seed.len());
        shake256_inc_init(&mut sc);
        shake256_inc_absorb(&mut sc, seed.as_ptr(), seed.len());
        shake256_inc_finalize(&mut sc);
        PQCLEAN_FALCON1024_AVX2_sign_tree(sig.as_mut_ptr(), &mut sc, key.tree.as_ptr(), hm.as_ptr(), LOGN, tmp.as_mut_ptr().cast());
        shake256_inc_ctx_release(&mut sc);
        PQCLEAN_FALCON1024_AVX2_comp_encode(out[1 + NONCE_LEN..].as_mut_ptr().cast(), SIGNATURE_BYTES - NONCE_LEN - 1, sig.as_ptr(), LOGN)
    };
    zero(&mut seed);
    zero(&mut tmp);
    if encoded == 0 {
        // Too long to encode (vanishingly rare): PQClean fails here too; sign again.
        return sign(secret_key, message);
    }
    out.truncate(1 + NONCE_LEN + encoded);
    Signed::Signature(out)
}
