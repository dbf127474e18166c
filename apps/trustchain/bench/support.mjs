// Shared by the TrustChain benchmarks: the JSON line format, free ports, tool checks, cleanup.
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

const round = (x) => Math.round(x * 100) / 100;

/** One result line: {"bench","unit","stoq","peer","peerName","ratio", ...extra}; ratio = stoq / peer. */
export function emit(bench, unit, stoq, peer, peerName, extra = {}) {
  process.stdout.write(`${JSON.stringify({ bench, unit, stoq: round(stoq), peer: round(peer), peerName, ratio: round(stoq / peer), ...extra })}\n`);
}

export const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

/** A port free on [::1] for UDP or TCP right now (the kernel picks it). */
export function freePort(kind = 'tcp') {
  return new Promise((resolve, reject) => {
    if (kind === 'udp') {
      const s = createSocket('udp6');
      s.once('error', reject);
      s.bind(0, '::1', () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
      return;
    }
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '::1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function requireTool(cmd, install) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} is not installed; run: ${install}`);
}

/** Runs a command to completion, throwing with its output if it fails. */
export function runChecked(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  return r.stdout;
}

const cleanups = [];
let installed = false;
/** Registers a synchronous cleanup run when the process exits (normally, by error or by signal). */
export function onExit(fn) {
  cleanups.push(fn);
  if (installed) return;
  installed = true;
  const runAll = () => {
    for (const f of cleanups.splice(0).reverse()) {
      try {
        f();
      } catch {
        // best effort: the process is ending
      }
    }
  };
  process.on('exit', runAll);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      runAll();
      process.exit(130);
    });
  }
}

/** p-th percentile (0..100) of a numeric array (nearest rank). */
export function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Runs a benchmark's main: exit 0 when it resolves, 1 with the stack when it throws. */
export function runBench(name, main) {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${name} failed: ${err.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
