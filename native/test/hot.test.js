// Hot paths (src/hot/): each export against a plain-JS definition (node:crypto, BigInt), sync and
// async variants, and argument errors. The byte-for-byte cross-checks against the TypeScript
// references live in libs/four-proof and libs/ct-log (fast-check).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const native = require('..');

const sha256 = (...parts) => crypto.createHash('sha256').update(Buffer.concat(parts)).digest();
const toBe = (v, len) => Buffer.from(v.toString(16).padStart(len * 2, '0'), 'hex');
const fromBe = (b) => (b.length ? BigInt('0x' + Buffer.from(b).toString('hex')) : 0n);
const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(v)); return b; };
const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32BE(v); return b; };

function leadingZeroBits(h) {
  let bits = 0;
  for (const byte of h) {
    if (byte === 0) { bits += 8; continue; }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

test('merkleLeafHashes = concatenated SHA-256(0x00 ‖ leaf)', () => {
  const leaves = Array.from({ length: 40 }, (_, i) => crypto.randomBytes(i * 37));
  const out = native.merkleLeafHashes(leaves);
  assert.equal(out.length, 40 * 32);
  leaves.forEach((leaf, i) => assert.deepEqual(out.subarray(i * 32, i * 32 + 32), sha256(Buffer.from([0]), leaf)));
  assert.equal(native.merkleLeafHashes([]).length, 0);
});

test('powSearch returns the smallest qualifying nonce and its hash', async () => {
  for (let k = 0; k < 6; k++) {
    const challenge = crypto.randomBytes(k * 17);
    const difficulty = 4 + k;
    const start = BigInt(crypto.randomInt(0, 1 << 20));
    let want = start;
    while (leadingZeroBits(sha256(challenge, u64(want))) < difficulty) want++;
    const found = native.powSearch(challenge, difficulty, start, 1e9);
    assert.equal(found.nonce, want);
    assert.deepEqual(found.hash, sha256(challenge, u64(want)));
    // A slice ending just before the answer finds nothing; a number start works too.
    assert.equal(native.powSearch(challenge, difficulty, start, Number(want - start)), null);
    assert.equal(native.powSearch(challenge, difficulty, Number(start), Number(want - start) + 1).nonce, want);
    assert.equal((await native.powSearchAsync(challenge, difficulty, start, 1e9)).nonce, want);
  }
  assert.equal(native.powSearch(Buffer.from('x'), 0, 2n ** 64n - 1n, 10).nonce, 2n ** 64n - 1n);
  assert.equal(native.powSearch(Buffer.from('x'), 256, 2n ** 64n - 3n, 10), null);
});

test('powSearch rejects bad arguments with INVALID_ARGUMENT', () => {
  assert.throws(() => native.powSearch(Buffer.alloc(32), 257, 0n, 1), { code: 'INVALID_ARGUMENT', message: /^difficultyBits/ });
  assert.throws(() => native.powSearch(Buffer.alloc(32), 8, -1n, 1), { code: 'INVALID_ARGUMENT', message: /^startNonce/ });
  assert.throws(() => native.powSearch(Buffer.alloc(32), 8, 2n ** 64n, 1), { code: 'INVALID_ARGUMENT', message: /^startNonce/ });
  assert.throws(() => native.powSearch(Buffer.alloc(32), 8, 0.5, 1), { code: 'INVALID_ARGUMENT', message: /^startNonce/ });
  assert.throws(() => native.powSearch(Buffer.alloc(2000), 8, 0n, 1), { code: 'INVALID_ARGUMENT', message: /^challenge/ });
  assert.throws(() => native.powSearch(Buffer.alloc(32), 8, 0n, -1), { code: 'INVALID_ARGUMENT', message: /^maxIterations/ });
});

function randomOdd(bytes) {
  const b = crypto.randomBytes(bytes);
  b[0] |= 0x80;
  b[bytes - 1] |= 1;
  return fromBe(b);
}

function modPow(b, e, m) {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

test('vdfEvaluate / vdfProve equal their BigInt definitions, sync and async', async () => {
  for (const bytes of [1, 8, 100, 256]) {
    const n = randomOdd(bytes) | (bytes === 1 ? 3n : 0n);
    const x = fromBe(crypto.randomBytes(bytes + 3)) % (1n << 2048n);
    const ell = randomOdd(16) | (1n << 128n);
    for (const T of [0, 1, 7, 130]) {
      let y = x % n;
      for (let i = 0; i < T; i++) y = (y * y) % n;
      const k = Math.ceil(n.toString(16).length / 2);
      const xb = toBe(x, Math.ceil(x.toString(16).length / 2) || 1);
      assert.deepEqual(native.vdfEvaluate(xb, T, toBe(n, k)), toBe(y, k), `evaluate ${bytes} B, T ${T}`);
      const pi = modPow(x, (1n << BigInt(T)) / ell, n);
      assert.deepEqual(native.vdfProve(xb, T, toBe(ell, 17), toBe(n, k)), toBe(pi, k), `prove ${bytes} B, T ${T}`);
      assert.deepEqual(await native.vdfEvaluateAsync(xb, T, toBe(n, k)), toBe(y, k));
      assert.deepEqual(await native.vdfProveAsync(xb, T, toBe(ell, 17), toBe(n, k)), toBe(pi, k));
    }
  }
});

test('VDF exports reject bad arguments with INVALID_ARGUMENT', () => {
  const n = toBe(randomOdd(256), 256);
  assert.throws(() => native.vdfEvaluate(Buffer.from([2]), 5, Buffer.from([0x10])), { code: 'INVALID_ARGUMENT', message: /^modulus must be odd/ });
  assert.throws(() => native.vdfEvaluate(Buffer.from([2]), 5, Buffer.alloc(257, 0xff)), { code: 'INVALID_ARGUMENT', message: /^modulus has more than 2048 bits/ });
  assert.throws(() => native.vdfEvaluate(Buffer.alloc(257, 1), 5, n), { code: 'INVALID_ARGUMENT', message: /^x has more than 2048 bits/ });
  assert.throws(() => native.vdfEvaluate(Buffer.from([2]), -1, n), { code: 'INVALID_ARGUMENT', message: /^iterations/ });
  assert.throws(() => native.vdfEvaluate(Buffer.from([2]), 2 ** 41, n), { code: 'INVALID_ARGUMENT', message: /^iterations/ });
  assert.throws(() => native.vdfProve(Buffer.from([2]), 5, Buffer.from([1]), n), { code: 'INVALID_ARGUMENT', message: /^ell must be at least 2/ });
  assert.throws(() => native.vdfProve(Buffer.from([2]), 5, Buffer.alloc(33, 1), n), { code: 'INVALID_ARGUMENT', message: /^ell has more than 256 bits/ });
  assert.throws(() => native.vdfEvaluateAsync(Buffer.from([2]), 5, Buffer.from([0x10])), { code: 'INVALID_ARGUMENT', message: /^modulus must be odd/ });
});

function isPrimeByDefinition(n) {
  // Trial division by odd primes < 2048, then Miller–Rabin with bases 2..37 (four-proof primes.ts).
  for (let p = 3; p < 2048; p += 2) {
    let prime = true;
    for (let d = 3; d * d <= p; d += 2) if (p % d === 0) { prime = false; break; }
    if (prime && n % BigInt(p) === 0n) return false;
  }
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) { d >>= 1n; s++; }
  outer: for (const a of [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n]) {
    let x = modPow(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let i = 1; i < s; i++) {
      x = (x * x) % n;
      if (x === n - 1n) continue outer;
      if (x === 1n) return false;
    }
    return false;
  }
  return true;
}

test('hashToPrime = first candidate >= start passing trial division and Miller–Rabin', () => {
  for (let k = 0; k < 40; k++) {
    const digest = crypto.randomBytes(16 + (k % 17));
    let want = fromBe(digest.subarray(0, 16)) | (1n << 127n) | 1n;
    while (!isPrimeByDefinition(want)) want += 2n;
    assert.deepEqual(native.hashToPrime(digest), toBe(want, 16));
  }
  assert.equal(native.hashToPrime(Buffer.alloc(32, 0xff)), null); // the prime is above 2^128 − 1
  assert.throws(() => native.hashToPrime(Buffer.alloc(15)), { code: 'INVALID_ARGUMENT', message: /^digest must be at least 16 bytes/ });
});

test('vdfVerify checks |π^ℓ · x^(2^T mod ℓ)| = y with canonical elements', () => {
  for (const bytes of [8, 256]) {
    const n = randomOdd(bytes);
    const k = bytes;
    const canon = (v) => (v > n >> 1n ? n - v : v);
    const x = canon(fromBe(crypto.randomBytes(bytes)) % n);
    const ell = randomOdd(16);
    const T = 200;
    const y = canon(modPow(x, 1n << BigInt(T), n));
    const pi = canon(modPow(x, (1n << BigInt(T)) / ell, n));
    const v = (xx, yy, pp, tt = T, ll = ell) => native.vdfVerify(toBe(xx, k), toBe(yy, k), toBe(pp, k), tt, toBe(ll, 16), toBe(n, k));
    assert.equal(v(x, y, pi), true);
    assert.equal(v(x, y, pi, T + 1), false);
    assert.equal(v(x, n - y, pi), false); // −y is not canonical
    assert.equal(v(x, y, n - pi), false);
    assert.equal(v(x, canon((y + 1n) % n), pi), false);
    assert.equal(v(0n, y, pi), false);
  }
  const n = toBe(randomOdd(256), 256);
  const one = Buffer.from([1]);
  assert.throws(() => native.vdfVerify(one, one, one, 1, Buffer.from([4]), n), { code: 'INVALID_ARGUMENT', message: /^ell must be odd and at least 3/ });
  assert.throws(() => native.vdfVerify(one, one, Buffer.alloc(257, 1), 1, Buffer.from([5]), n), { code: 'INVALID_ARGUMENT', message: /^pi has more than 2048 bits/ });
  assert.throws(() => native.vdfVerify(one, one, one, 0.5, Buffer.from([5]), n), { code: 'INVALID_ARGUMENT', message: /^iterations/ });
  assert.throws(() => native.vdfVerify(one, one, one, 1, Buffer.from([5]), Buffer.from([0x10])), { code: 'INVALID_ARGUMENT', message: /^modulus must be odd/ });
});

function plotLeaf(nodeId, index, blockSize) {
  const tag = Buffer.from('stoq/four-proof/v1/plot-block\0');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(nodeId.length);
  const parts = [];
  for (let j = 0; j < blockSize / 32; j++) parts.push(sha256(tag, len, nodeId, u32(blockSize), u64(index), u32(j)));
  return sha256(Buffer.from([0]), ...parts);
}

test('plotGenerate = leaf hashes of the counter-mode plot blocks, sync and async', async () => {
  const nodeId = crypto.randomBytes(32);
  const out = native.plotGenerate(nodeId, 33, 96);
  assert.equal(out.length, 33 * 32);
  for (const i of [0, 1, 17, 32]) assert.deepEqual(out.subarray(i * 32, i * 32 + 32), plotLeaf(nodeId, i, 96));
  assert.deepEqual(await native.plotGenerateAsync(nodeId, 33, 96), out);
  assert.throws(() => native.plotGenerate(nodeId, 0, 64), { code: 'INVALID_ARGUMENT', message: /^blockCount/ });
  assert.throws(() => native.plotGenerate(nodeId, 4, 48), { code: 'INVALID_ARGUMENT', message: /^blockSize/ });
  assert.throws(() => native.plotGenerateAsync(nodeId, 4, 0), { code: 'INVALID_ARGUMENT', message: /^blockSize/ });
});
