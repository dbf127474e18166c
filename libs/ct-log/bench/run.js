#!/usr/bin/env node
// @stoq/ct-log benchmarks (run `npm run build -w @stoq/ct-log` first; this requires ../dist).
// Prints one JSON line per benchmark: {"bench","unit","stoq","peer","peerName","ratio"}, where
// ratio = stoq / peer (higher is better for every unit here). Each peer runs in the same process.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const lib = require('../dist/index.js');

const now = () => Number(process.hrtime.bigint()) / 1e9;
const emit = (bench, unit, stoq, peer, peerName) =>
  process.stdout.write(`${JSON.stringify({ bench, unit, stoq: round(stoq), peer: round(peer), peerName, ratio: round(stoq / peer) })}\n`);
const round = (x) => Math.round(x * 100) / 100;

async function loadFalcon() {
  try {
    const n = require('@stoq/native');
    if (typeof n.falconKeypair === 'function') {
      const kp = n.falconKeypair();
      return { sign: (m) => n.falconSign(kp.secretKey, m), verify: (m, s) => n.falconVerify(kp.publicKey, m, s) };
    }
  } catch {
    // fall through to the JS implementation
  }
  const { falcon1024 } = await import('@noble/post-quantum/falcon.js');
  const kp = falcon1024.keygen();
  return { sign: (m) => falcon1024.sign(m, kp.secretKey), verify: (m, s) => falcon1024.verify(s, m, kp.publicKey) };
}

const { cert } = require('./certs.js');
// A root certificate so CtLog.open has an accepted root (appendEntry does not validate chains).
const selfSignedRootDer = () => cert({ subject: 'Bench Root', ca: true });

const CERT_BYTES = 1200; // about a real leaf certificate
function certLike(i) {
  const b = crypto.randomBytes(CERT_BYTES);
  b.writeUInt32BE(i, 0);
  return b;
}

/** Durable appends through the library: concurrent submitters, group commit, SCT per entry. */
async function benchBatchedAppends(dir, signingKey, falcon, root, count, hasher) {
  const log = await lib.CtLog.open({ storage: new lib.FileLogStorage(dir), signingKey, falcon, roots: [root], hasher });
  const entries = Array.from({ length: count }, (_, i) => ({ entryType: 0, certificate: certLike(i) }));
  const extra = lib.encodeCertificateChain([root]);
  const t0 = now();
  let next = 0;
  // 2048 submitters in flight, like many concurrent add-chain requests.
  const worker = async () => {
    while (next < count) {
      const e = entries[next++];
      await log.appendEntry(e, extra);
    }
  };
  await Promise.all(Array.from({ length: 2048 }, worker));
  const secs = now() - t0;
  if (log.treeSize !== count) throw new Error(`expected ${count} entries, got ${log.treeSize}`);
  await log.close();
  return count / secs;
}

/** The naive peer: one write + one fsync per entry, same record work (encode, hash, CRC, SCT). */
function benchNaiveAppends(dir, signingKey, root, count) {
  const fd = fs.openSync(path.join(dir, 'naive.log'), 'a');
  const extra = lib.encodeCertificateChain([root]);
  const t0 = now();
  for (let i = 0; i < count; i++) {
    const entry = { entryType: 0, certificate: certLike(i) };
    const ts = Date.now();
    const leafInput = lib.encodeMerkleTreeLeaf({ version: 0, timestampedEntry: { timestamp: ts, signedEntry: entry, extensions: new Uint8Array() } });
    const frame = lib.encodeFrame({ firstIndex: i, timestamp: ts, entries: [{ leafHash: lib.sha256Hasher.hashLeaf(leafInput), leafInput, extraData: extra }] });
    fs.writeSync(fd, frame);
    fs.fdatasyncSync(fd);
    lib.issueSct(signingKey, ts, entry);
  }
  const secs = now() - t0;
  fs.closeSync(fd);
  return count / secs;
}

/** Durable add-chain end to end ([leaf, intermediate]: X.509 parse + signature checks + append), batched. */
async function benchAddChain(dir, signingKey, falcon, count) {
  const rootKey = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const interKey = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const root = cert({ subject: 'Bench Root', key: rootKey, ca: true });
  const inter = cert({ subject: 'Bench Intermediate', key: interKey, ca: true, issuerName: 'Bench Root', issuerKey: rootKey });
  const leaves = Array.from({ length: count }, (_, i) => cert({ subject: `leaf${i}.bench`, issuerName: 'Bench Intermediate', issuerKey: interKey }));
  const log = await lib.CtLog.open({ storage: new lib.FileLogStorage(dir), signingKey, falcon, roots: [root] });
  const t0 = now();
  let next = 0;
  const worker = async () => {
    while (next < count) await log.addChain([leaves[next++], inter]);
  };
  await Promise.all(Array.from({ length: 1024 }, worker));
  const secs = now() - t0;
  await log.close();
  return count / secs;
}

// Naive RFC 6962 §2.1 reference (recursive, no caching) as the proof peer.
const H = (...p) => {
  const h = crypto.createHash('sha256');
  for (const x of p) h.update(x);
  return h.digest();
};
const splitK = (n) => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
function naiveMth(leafHashes, a, b) {
  if (b - a === 1) return leafHashes[a];
  const k = splitK(b - a);
  return H(Buffer.from([1]), naiveMth(leafHashes, a, a + k), naiveMth(leafHashes, a + k, b));
}
function naivePath(m, leafHashes, a, b) {
  if (b - a <= 1) return [];
  const k = splitK(b - a);
  return m < k
    ? [...naivePath(m, leafHashes, a, a + k), naiveMth(leafHashes, a + k, b)]
    : [...naivePath(m - k, leafHashes, a + k, b), naiveMth(leafHashes, a, a + k)];
}
/** Recursive verification mirroring PATH(m, D[n]): rebuild the root from the proof, last hash first. */
function naiveRootFromPath(m, n, leafHash, proof) {
  if (n === 1) return proof.length === 0 ? leafHash : null;
  if (proof.length === 0) return null;
  const k = splitK(n);
  const last = proof[proof.length - 1];
  const rest = proof.slice(0, -1);
  if (m < k) {
    const l = naiveRootFromPath(m, k, leafHash, rest);
    return l && H(Buffer.from([1]), l, last);
  }
  const r = naiveRootFromPath(m - k, n - k, leafHash, rest);
  return r && H(Buffer.from([1]), last, r);
}

function timeOps(fn, minSeconds) {
  let ops = 0;
  const t0 = now();
  let t = t0;
  while (t - t0 < minSeconds) {
    for (let i = 0; i < 16; i++) fn(ops++);
    t = now();
  }
  return ops / (t - t0);
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ct-bench-'));
  try {
    const signingKey = lib.LogSigningKey.generate();
    const falcon = await loadFalcon();
    const root = selfSignedRootDer();

    const batched = await benchBatchedAppends(path.join(dir, 'batched'), signingKey, falcon, root, 50_000);
    const naive = benchNaiveAppends(dir, signingKey, root, 400);
    emit('ct-log.append_durable', 'leaves/s', batched, naive, 'one write+fdatasync per entry');

    if (lib.nativeHasher) {
      // Leaf hashing alone: one group commit's worth (2048 certificate-sized leaves) per call.
      const leaves = Array.from({ length: 2048 }, (_, i) => certLike(i));
      const perSec = (h) => 2048 * timeOps(() => h.hashLeaves(leaves), 1.5);
      emit('ct-log.leaf_hash_batch', 'leaves/s', perSec(lib.nativeHasher), perSec(lib.referenceHasher), 'typescript-reference');
      // The durable append path end to end with each hasher (fewer entries than above).
      const withNative = await benchBatchedAppends(path.join(dir, 'hasher-native'), signingKey, falcon, root, 20_000, lib.nativeHasher);
      const withTs = await benchBatchedAppends(path.join(dir, 'hasher-ts'), signingKey, falcon, root, 20_000, lib.referenceHasher);
      emit('ct-log.append_durable_native_hasher', 'leaves/s', withNative, withTs, 'typescript-reference');
    } else {
      process.stderr.write('@stoq/native merkleLeafHashes not available: native hasher benches skipped\n');
    }

    const addChain = await benchAddChain(path.join(dir, 'addchain'), signingKey, falcon, 10_000);
    emit('ct-log.add_chain_durable', 'chains/s', addChain, naive, 'one write+fdatasync per entry (no chain check)');

    // Proofs over a tree of 2^14 + 1234 leaves (not a power of two, so proofs mix both shapes).
    const N = 16384 + 1234;
    const tree = new lib.MerkleTree();
    const leafHashes = [];
    for (let i = 0; i < N; i++) {
      const h = lib.sha256Hasher.hashLeaf(Buffer.from(`leaf ${i}`));
      leafHashes.push(h);
      tree.appendLeafHash(h);
    }
    const rootHash = tree.rootAt(N);
    const idx = (i) => (i * 7919) % N;
    const genOps = timeOps((i) => tree.inclusionProof(idx(i), N), 1.0);
    const naiveGenOps = timeOps((i) => naivePath(idx(i), leafHashes, 0, N), 1.0);
    emit('ct-log.inclusion_proof_generate', 'proofs/s', genOps, naiveGenOps, 'naive recursive RFC 6962 PATH');

    const proofs = Array.from({ length: 1024 }, (_, i) => tree.inclusionProof(idx(i), N));
    const verOps = timeOps((i) => {
      if (!lib.verifyInclusion(idx(i % 1024), N, leafHashes[idx(i % 1024)], proofs[i % 1024], rootHash)) throw new Error('verify failed');
    }, 1.0);
    const naiveVerOps = timeOps((i) => {
      const r = naiveRootFromPath(idx(i % 1024), N, leafHashes[idx(i % 1024)], proofs[i % 1024]);
      if (!r || !r.equals(rootHash)) throw new Error('naive verify failed');
    }, 1.0);
    emit('ct-log.inclusion_proof_verify', 'verifications/s', verOps, naiveVerOps, 'naive recursive verifier');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.stderr.write(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, node ${process.version}, load avg ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`)).catch((err) => {
  console.error(err);
  process.exit(1);
});
