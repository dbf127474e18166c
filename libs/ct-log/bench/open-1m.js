#!/usr/bin/env node
// CtLog.open at 1,000,000 entries (run `npx tsc -p tsconfig.build.json` first; requires ../dist).
// Writes the log once through CtLog.appendEntry (group commits of up to 2048 entries, ~1.2 KB
// certificates plus a one-root chain), then measures each open in a NEW child process, so the
// RSS figures are the open's alone:
//   checkpoint  side files present: load tree.idx + offsets.idx, read only the frames after
//               the checkpoint                                                      (stoq)
//   full        FileLogStorage({ checkpoints: false }): read every frame, rehash every
//               interior node, as open did before checkpoints                        (peer)
//   rebuild     side files deleted, default options: the full scan plus rebuilding the side
//               files and a checkpoint (the one-time cost for a pre-checkpoint directory)
//   previous    (only with --previous <git rev>) that revision's src/, transpiled to a temp dir:
//               the real previous open (full scan + a Map of base64 leaf hashes)
// Each mode runs REPS times, interleaved; the median is printed. The page cache holds the whole
// log (the machine has the RAM, and nothing here drops caches), so these are warm-cache opens.
// Prints one JSON line per bench: {"bench","unit","stoq","peer","peerName","ratio"}, ratio =
// stoq / peer (for ms and MB lower is better).
// Usage: node bench/open-1m.js [entries] [--keep] [--previous <rev>] | --reuse <kept dir> [--previous <rev>]
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');

const REPS = 3;
const CERT_BYTES = 1200;
const IN_FLIGHT = 8192;

const now = () => Number(process.hrtime.bigint()) / 1e6;
const round = (x) => Math.round(x * 100) / 100;
const mb = (bytes) => bytes / (1024 * 1024);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const log = (line) => process.stderr.write(`${line}\n`);

function falconFromKeys(k) {
  if (k.falconImpl === 'native') {
    const n = require('@stoq/native');
    const sk = Buffer.from(k.falconSecretKey, 'hex');
    const pk = Buffer.from(k.falconPublicKey, 'hex');
    return Promise.resolve({ sign: (m) => n.falconSign(sk, m), verify: (m, s) => n.falconVerify(pk, m, s) });
  }
  return import('@noble/post-quantum/falcon.js').then(({ falcon1024 }) => {
    const sk = Uint8Array.from(Buffer.from(k.falconSecretKey, 'hex'));
    const pk = Uint8Array.from(Buffer.from(k.falconPublicKey, 'hex'));
    return { sign: (m) => falcon1024.sign(m, sk), verify: (m, s) => falcon1024.verify(s, m, pk) };
  });
}

async function makeKeys() {
  const lib = require('../dist/index.js');
  const { cert } = require('./certs.js');
  const key = lib.LogSigningKey.generate();
  let falcon;
  try {
    const n = require('@stoq/native');
    if (typeof n.falconKeypair !== 'function') throw new Error('no falcon');
    const kp = n.falconKeypair();
    falcon = { falconImpl: 'native', falconSecretKey: Buffer.from(kp.secretKey).toString('hex'), falconPublicKey: Buffer.from(kp.publicKey).toString('hex') };
  } catch {
    const { falcon1024 } = await import('@noble/post-quantum/falcon.js');
    const kp = falcon1024.keygen();
    falcon = { falconImpl: 'noble', falconSecretKey: Buffer.from(kp.secretKey).toString('hex'), falconPublicKey: Buffer.from(kp.publicKey).toString('hex') };
  }
  return { logKeyPem: key.privateKey.export({ type: 'pkcs8', format: 'pem' }), rootDer: cert({ subject: 'Bench Root', ca: true }).toString('hex'), ...falcon };
}

async function openOptions(k, storage) {
  const lib = require('../dist/index.js');
  return { storage, signingKey: lib.LogSigningKey.fromPem(k.logKeyPem), falcon: await falconFromKeys(k), roots: [Buffer.from(k.rootDer, 'hex')] };
}

/** Writes `count` entries through CtLog.appendEntry and publishes an STH (open then verifies it). */
async function writeLog(dir, k, count) {
  const lib = require('../dist/index.js');
  const ctlog = await lib.CtLog.open(await openOptions(k, new lib.FileLogStorage(dir)));
  const extra = lib.encodeCertificateChain([Buffer.from(k.rootDer, 'hex')]);
  const t0 = now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const b = crypto.randomBytes(CERT_BYTES);
      b.writeUInt32BE(next++, 0);
      await ctlog.appendEntry({ entryType: 0, certificate: b }, extra);
    }
  };
  let lastReport = t0;
  const reporter = setInterval(() => {
    if (now() - lastReport > 15000) {
      lastReport = now();
      log(`  ${ctlog.treeSize.toLocaleString('en-US')} entries after ${((now() - t0) / 1000).toFixed(0)} s`);
    }
  }, 1000);
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  clearInterval(reporter);
  const sth = await ctlog.getSth();
  await ctlog.close();
  return { ms: now() - t0, treeSize: sth.treeSize };
}

function vmHwmBytes() {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Transpiles libs/ct-log/src at git `rev` into a temp dir (run with NODE_PATH = repo node_modules). */
function buildPrevious(rev) {
  const ts = require('typescript');
  const root = execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: __dirname, encoding: 'utf8' }).trim();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ct-log-prev-'));
  const files = execFileSync('git', ['ls-tree', '--name-only', rev, 'libs/ct-log/src/'], { cwd: root, encoding: 'utf8' }).split('\n').filter((f) => f.endsWith('.ts'));
  for (const f of files) {
    const src = execFileSync('git', ['show', `${rev}:${f}`], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
    const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
    fs.writeFileSync(path.join(out, path.basename(f).replace(/\.ts$/, '.js')), js);
  }
  return { dir: out, nodePath: path.join(root, 'node_modules') };
}

/** In the child: one CtLog.open, its time and memory, printed as JSON on stdout. */
async function child(dir, mode, prevDir) {
  const lib = require(mode === 'previous' ? path.join(prevDir, 'index.js') : '../dist/index.js');
  const k = JSON.parse(fs.readFileSync(path.join(dir, 'bench-keys.json'), 'utf8'));
  const storage = new lib.FileLogStorage(dir, mode === 'full' ? { checkpoints: false } : {});
  const opts = await openOptions(k, storage);
  const rssBefore = process.memoryUsage().rss;
  const t0 = now();
  const ctlog = await lib.CtLog.open(opts);
  const ms = now() - t0;
  const rss = process.memoryUsage().rss;
  const hwm = vmHwmBytes();
  const size = ctlog.treeSize;
  const sthSize = ctlog.lastSth ? ctlog.lastSth.treeSize : -1;
  // A page of get-entries from the middle, to show reads work without the per-frame scan.
  const mid = await ctlog.getEntries(Math.floor(size / 2), Math.floor(size / 2) + 9);
  await ctlog.close();
  process.stdout.write(`${JSON.stringify({ mode, ms, rssBefore, rss, hwm, size, sthSize, midEntries: mid.length })}\n`);
}

let previous = null;
function runChild(dir, mode) {
  const args = [__filename, '--child', dir, mode, ...(mode === 'previous' ? [previous.dir] : [])];
  const env = mode === 'previous' ? { ...process.env, NODE_PATH: previous.nodePath } : process.env;
  const out = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env });
  return JSON.parse(out.trim().split('\n').pop());
}

const SIDE = ['checkpoint.bin', 'tree.idx', 'offsets.idx'];

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args[1], args[2], args[3]);
  if (args.includes('--previous')) previous = buildPrevious(args[args.indexOf('--previous') + 1]);
  const count = Number(args.find((a) => /^\d+$/.test(a)) ?? 1_000_000);
  const reuse = args.includes('--reuse') ? args[args.indexOf('--reuse') + 1] : null;
  const keep = args.includes('--keep') || reuse !== null;
  const dir = reuse ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ct-open-1m-'));
  try {
    let w;
    if (reuse) {
      // A directory kept by an earlier --keep run: measure its log again without rewriting it.
      w = { ms: NaN, treeSize: runChild(dir, 'full').size };
    } else {
      const k = await makeKeys();
      fs.writeFileSync(path.join(dir, 'bench-keys.json'), JSON.stringify(k));
      log(`writing ${count.toLocaleString('en-US')} entries to ${dir} ...`);
      w = await writeLog(dir, k, count);
    }
    const size = (f) => (fs.existsSync(path.join(dir, f)) ? fs.statSync(path.join(dir, f)).size : 0);
    log(`  wrote ${w.treeSize.toLocaleString('en-US')} entries in ${(w.ms / 1000).toFixed(1)} s; entries.log ${mb(size('entries.log')).toFixed(0)} MiB, tree.idx ${mb(size('tree.idx')).toFixed(1)} MiB, offsets.idx ${mb(size('offsets.idx')).toFixed(1)} MiB`);
    const results = { checkpoint: [], full: [], rebuild: [], previous: [] };
    const modes = ['checkpoint', 'full', 'rebuild', ...(previous ? ['previous'] : [])];
    for (let rep = 0; rep < REPS; rep++) {
      for (const mode of modes) {
        if (mode === 'rebuild') for (const f of SIDE) fs.rmSync(path.join(dir, f), { force: true });
        const r = runChild(dir, mode);
        if (r.size !== w.treeSize || r.sthSize !== w.treeSize || r.midEntries !== 10) throw new Error(`${mode} open recovered ${JSON.stringify(r)}`);
        log(`  ${mode.padEnd(10)} open ${r.ms.toFixed(0)} ms, rss ${mb(r.rss).toFixed(0)} MiB (before open ${mb(r.rssBefore).toFixed(0)}), peak ${mb(r.hwm).toFixed(0)} MiB`);
        results[mode].push(r);
      }
    }
    const med = (mode, key) => median(results[mode].map((r) => r[key]));
    const emit = (bench, unit, stoq, peer, peerName) =>
      process.stdout.write(`${JSON.stringify({ bench, unit, stoq: round(stoq), peer: round(peer), peerName, ratio: round(stoq / peer) })}\n`);
    const peerName = 'full scan of entries.log (previous open)';
    emit('ct-log.open_1m', 'ms', med('checkpoint', 'ms'), med('full', 'ms'), peerName);
    emit('ct-log.open_1m_rss', 'MB', mb(med('checkpoint', 'rss')), mb(med('full', 'rss')), peerName);
    emit('ct-log.open_1m_peak_rss', 'MB', mb(med('checkpoint', 'hwm')), mb(med('full', 'hwm')), peerName);
    emit('ct-log.open_1m_rebuild', 'ms', med('rebuild', 'ms'), med('full', 'ms'), 'full scan without rebuilding side files');
    emit('ct-log.open_1m_rebuild_peak_rss', 'MB', mb(med('rebuild', 'hwm')), mb(med('full', 'hwm')), 'full scan without rebuilding side files');
    if (previous) {
      const prevName = `previous open (${args[args.indexOf('--previous') + 1]}: full scan, Map of base64 leaf hashes)`;
      emit('ct-log.open_1m_vs_previous', 'ms', med('checkpoint', 'ms'), med('previous', 'ms'), prevName);
      emit('ct-log.open_1m_rss_vs_previous', 'MB', mb(med('checkpoint', 'rss')), mb(med('previous', 'rss')), prevName);
      emit('ct-log.open_1m_peak_rss_vs_previous', 'MB', mb(med('checkpoint', 'hwm')), mb(med('previous', 'hwm')), prevName);
    }
    log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, node ${process.version}, load avg ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    if (previous) fs.rmSync(previous.dir, { recursive: true, force: true });
    if (keep) log(`kept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
