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

// 4. VDF verification with OpenSSL-backed modPow vs the pure BigInt reference.
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
  const fast = rate(() => lib.wesolowskiVerify(x, y, pi, T, N), 3);
  const slow = rate(bigintVerify, 3);
  emit('vdf_verify_openssl_modpow', 'ops/s', fast, slow, 'vdf_verify_bigint_modpow');
}

process.stderr.write(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, node ${process.version}, load avg ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
