#!/usr/bin/env node
// @stoq/four-proof benchmarks (run `npm run build -w @stoq/four-proof` first; this requires ../dist).
// Prints one JSON line per benchmark: {"bench","unit","stoq","peer","peerName","ratio"}, where
// ratio = stoq / peer (higher is better for every unit here). Everything runs in this one process,
// single-threaded, with the default parameters unless the bench name says otherwise.
'use strict';
const crypto = require('node:crypto');
const os = require('node:os');
const lib = require('../dist/index.js');

const seconds = () => Number(process.hrtime.bigint()) / 1e9;
const round = (x) => Math.round(x * 100) / 100;
const emit = (bench, unit, stoq, peer, peerName) =>
  process.stdout.write(`${JSON.stringify({ bench, unit, stoq: round(stoq), peer: round(peer), peerName, ratio: round(stoq / peer) })}\n`);

/** Operations per second of fn, run for at least minSeconds (after one warm-up call). */
function rate(fn, minSeconds) {
  fn(0);
  let n = 0;
  const t0 = seconds();
  let t = t0;
  while (t - t0 < minSeconds) {
    fn(++n);
    t = seconds();
  }
  return n / (t - t0);
}

const NOW = 1_763_700_000_000;
const nodeId = crypto.createHash('sha256').update('bench-node').digest();
const ledger = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const context = { operation: 'trustchain/issue_certificate', assetId: 'cert:bench', nodeId };
const plot = lib.createPlot(nodeId);
const stake = lib.signStakeAttestation({ account: 'bench', amount: 1000n, nodeId, issuedAtMs: NOW - 1000, expiresAtMs: NOW + 3_600_000 }, ledger.privateKey);
const generate = (i) => lib.generateFourProofSet({ context: { ...context, assetId: `cert:bench-${i}` }, plot, ipv6Address: '2001:db8::1', stake, now: NOW, sequence: BigInt(i + 1) });

// 1. Four-proof set verification (decode + all four checks + proof hash) vs generation.
const sets = Array.from({ length: 32 }, (_, i) => lib.encodeFourProofSet(generate(i)));
const verifyRate = rate((i) => lib.verifyFourProofSet(sets[i % sets.length], { ledgerPublicKey: ledger.publicKey, now: NOW }), 5);
const generateRate = rate((i) => generate(1000 + i), 5);
emit('four_proof_set_verify', 'sets/s', verifyRate, generateRate, 'four_proof_set_generate (same params, plot prebuilt)');

// 2. Plot generation on its own (what a node pays once per plot; reused across proofs).
const plotRate = rate(() => lib.createPlot(nodeId), 3);
emit('plot_generate_1024x64', 'plots/s', plotRate, generateRate, 'four_proof_set_generate');

// 3. VDF: verification vs evaluation + proof, at the default T and at T = 2^16.
const x = lib.vdfInput(new Uint8Array(32), NOW, 1n, 0);
for (const T of [4096, 65536]) {
  const { y, pi } = lib.wesolowskiProve(x, T, lib.RSA2048_MODULUS);
  if (!lib.wesolowskiVerify(x, y, pi, T, lib.RSA2048_MODULUS)) throw new Error('VDF self-check failed');
  const verify = rate(() => lib.wesolowskiVerify(x, y, pi, T, lib.RSA2048_MODULUS), 3);
  const evaluate = rate(() => lib.wesolowskiProve(x, T, lib.RSA2048_MODULUS), T > 10000 ? 8 : 3);
  emit(`vdf_verify_T${T}`, 'ops/s', verify, evaluate, `vdf_evaluate_and_prove_T${T} (reference BigInt)`);
}

// 4. VDF verification, TypeScript reference (OpenSSL-backed modPow) vs the pure BigInt version.
{
  const T = 4096;
  const { y, pi } = lib.wesolowskiProve(x, T, lib.RSA2048_MODULUS);
  const N = lib.RSA2048_MODULUS;
  const bigintVerify = () => {
    const l = lib.challengePrime(x, y, T, N);
    const r = lib.modPowBigInt(2n, BigInt(T), l);
    const lhs = (lib.modPowBigInt(pi, l, N) * lib.modPowBigInt(x, r, N)) % N;
    if (lib.canonicalElement(lhs, N) !== y) throw new Error('BigInt verify failed');
  };
  const fast = rate(() => lib.wesolowskiVerify(x, y, pi, T, N, undefined, lib.referenceHotPaths), 3);
  const slow = rate(bigintVerify, 3);
  emit('vdf_verify_openssl_modpow', 'ops/s', fast, slow, 'vdf_verify_bigint_modpow');
}

// 5. Hot paths: @stoq/native (the default when built) vs the TypeScript references, same inputs.
if (lib.nativeHotPaths) {
  const nat = lib.nativeHotPaths;
  const ref = lib.referenceHotPaths;
  const TS = 'typescript-reference';
  const N = lib.RSA2048_MODULUS;
  const T = 4096;
  const xs = Array.from({ length: 4 }, (_, i) => lib.vdfInput(crypto.createHash('sha256').update(`x${i}`).digest(), NOW, 1n, T));
  const ells = xs.map((xi) => lib.challengePrime(xi, lib.canonicalElement(ref.vdfEvaluate(xi, T, N), N), T, N));
  for (const [name, fn] of [
    ['vdf_evaluate', (h, i) => h.vdfEvaluate(xs[i % 4], T, N)],
    ['vdf_prove', (h, i) => h.vdfProve(xs[i % 4], T, ells[i % 4], N)],
  ]) {
    if (fn(nat, 0) !== fn(ref, 0)) throw new Error(`${name}: native and reference differ`);
    emit(`hot.${name}_T${T}`, 'ops/s', rate((i) => fn(nat, i), 3), rate((i) => fn(ref, i), 3), TS);
  }
  // Verification hot paths: ℓ derivation and the Wesolowski equation (what set verification runs).
  const digests = Array.from({ length: 64 }, (_, i) => crypto.createHash('sha256').update(`d${i}`).digest());
  if (nat.hashToPrime(digests[0]) !== ref.hashToPrime(digests[0])) throw new Error('hash_to_prime: native and reference differ');
  emit('hot.hash_to_prime', 'primes/s', rate((i) => nat.hashToPrime(digests[i % 64]), 3), rate((i) => ref.hashToPrime(digests[i % 64]), 3), TS);
  const proofs = xs.map((xi, i) => ({ x: xi, ...lib.wesolowskiProve(xi, T, N, nat), ell: 0n })).map((p) => ({ ...p, ell: lib.challengePrime(p.x, p.y, T, N) }));
  if (!proofs.every((p) => nat.vdfVerify(p.x, p.y, p.pi, T, p.ell, N) && ref.vdfVerify(p.x, p.y, p.pi, T, p.ell, N))) throw new Error('vdf_verify self-check failed');
  emit(`hot.vdf_verify_T${T}`, 'ops/s', rate((i) => nat.vdfVerify(proofs[i % 4].x, proofs[i % 4].y, proofs[i % 4].pi, T, proofs[i % 4].ell, N), 3), rate((i) => ref.vdfVerify(proofs[i % 4].x, proofs[i % 4].y, proofs[i % 4].pi, T, proofs[i % 4].ell, N), 3), TS);
  const challenges = Array.from({ length: 64 }, (_, i) => crypto.createHash('sha256').update(`c${i}`).digest());
  const D = 16; // ≈ 65,536 hashes per search
  emit(`hot.pow_search_d${D}`, 'searches/s', rate((i) => nat.powSearch(challenges[i % 64], D, 0n), 3), rate((i) => ref.powSearch(challenges[i % 64], D, 0n), 3), TS);
  emit('hot.plot_generate_1024x64', 'plots/s', rate(() => nat.plotGenerate(nodeId, 1024, 64), 3), rate(() => ref.plotGenerate(nodeId, 1024, 64), 3), TS);
  emit('hot.plot_generate_16384x4096', 'plots/s', rate(() => nat.plotGenerate(nodeId, 16384, 4096), 3), rate(() => ref.plotGenerate(nodeId, 16384, 4096), 5), TS);
  // Whole-set generation with every hot path native vs every hot path TypeScript (plots prebuilt).
  const gen = (hotPaths) => (i) => lib.generateFourProofSet({ context: { ...context, assetId: `cert:hot-${i}` }, plot, ipv6Address: '2001:db8::1', stake, now: NOW, sequence: BigInt(i + 1), hotPaths });
  emit('hot.four_proof_set_generate', 'sets/s', rate(gen(nat), 5), rate(gen(ref), 5), TS);
} else {
  process.stderr.write('@stoq/native hot paths not available: hot.* benches skipped\n');
}

process.stderr.write(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, node ${process.version}, load avg ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
