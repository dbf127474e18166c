// What benchmarks that need a real HyperMesh cluster share: child processes whose readiness is a
// log line, and TrustChain + N validator processes on [::1] (enrolled with join tokens, genesis
// from their keys, peers found through TrustChain DNS) with TrustChain's admin identity as client.
// Used by apps/hypermesh/bench/consensus.mjs and apps/trustchain/bench/earned-issuance.mjs; needs
// the built packages (npm run build).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = {
  trustchain: join(ROOT, 'apps', 'trustchain', 'bin', 'trustchain.js'),
  caesar: join(ROOT, 'apps', 'caesar', 'bin', 'caesar.js'),
  hypermesh: join(ROOT, 'apps', 'hypermesh', 'bin', 'hypermesh.js'),
};

const children = new Set();
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/** A line as JSON (pino), or null. */
export function jsonLine(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** A pino `msg` matcher for start(): resolves with the parsed line. */
export const logMessage = (msg) => (text) => {
  const l = jsonLine(text);
  return l?.msg === msg ? l : null;
};

/**
 * Spawns `cmd args` with stdout and stderr appended to `logPath`; resolves with { child, ready }
 * once `ready(line)` returns something truthy for an output line, rejects if it exits first.
 */
export function start(cmd, args, { cwd, logPath, ready, env = {} }) {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const fd = openSync(logPath, 'a');
  return new Promise((resolve, reject) => {
    const onLine = (text) => {
      writeFileSync(fd, `${text}\n`);
      const m = ready(text);
      if (m) resolve({ child, ready: m });
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.once('exit', (code, signal) => {
      children.delete(child);
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
      reject(new Error(`${cmd} ${args.join(' ').slice(0, 80)} exited (${code ?? signal}) before it was ready; see ${logPath}`));
    });
  });
}

/** Runs `node bin args` to completion; its stdout, or an error with its stderr. */
export function runNode(bin, args, cwd, env = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** SIGTERM, then SIGKILL after 30 s. */
export async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

/** A service's service.toml in `home`, enrolling with TrustChain `tc` (its "serve ready" line). */
export function serviceConfig(home, instance, tc) {
  mkdirSync(home, { recursive: true });
  writeFileSync(
    join(home, 'service.toml'),
    ['[node]', `name = "${instance}"`, 'data_dir = "data"', '[transport]', 'bind = "[::1]:0"', '[certificates]', `root_fingerprint = "${tc.rootFingerprint}"`, '[service]', `trustchain = "${tc.stoq}"`, `dns = "${tc.dns}"`, 'lease_seconds = 5', ''].join('\n'),
  );
}

/**
 * TrustChain, then `validators` HyperMesh validators enrolled with join tokens, the genesis
 * (chain `chainId`) written to `<dir>/genesis.json`, then the validators serving. Options:
 * `trustchainArgs` (extra `serve` flags), `beforeValidators({ tc, tcDir, token })` (e.g. start
 * Caesar; may return extra validator `serve` flags), `nodeFlags` (e.g. --cpu-prof). Resolves with
 * { tc, tcDir, token, genesisFile, validators: [{ child, ready }], admin: { identity, transport },
 * procs } once the chain has committed height 2; `procs` are stopped by close().
 */
export async function startHyperMeshCluster(dir, { chainId = 'bench', validators: n = 4, trustchainArgs = [], beforeValidators, nodeFlags = [] } = {}) {
  const core = require('@stoq/core');
  const rpcLib = require('@stoq/rpc');
  const protos = require('@stoq/protos');
  const procs = [];
  const close = async () => {
    for (const c of procs.reverse()) await stop(c);
  };
  try {
    const tcDir = join(dir, 'trustchain');
    const genesisFile = join(dir, 'genesis.json');
    const tcp = await start(process.execPath, [BIN.trustchain, 'serve', '--data-dir', tcDir, '--bind', '[::1]:0', '--dns-bind', '[::1]:0', '--ct-http-bind', '[::1]:0', ...trustchainArgs], { cwd: dir, logPath: join(dir, 'trustchain.log'), ready: logMessage('trustchain serve ready') });
    procs.push(tcp.child);
    const tc = tcp.ready;
    const token = (service) => runNode(BIN.trustchain, ['token', 'create', '--service', service, '--ttl', '1h', '--data-dir', tcDir], dir).trim();
    const extra = (await beforeValidators?.({ tc, tcDir, token, procs })) ?? [];
    const homes = [];
    for (let i = 1; i <= n; i++) {
      const home = join(dir, `hypermesh-${i}`);
      homes.push(home);
      serviceConfig(home, `hypermesh-${i}`, tc);
      runNode(BIN.hypermesh, ['enroll', '--config', 'service.toml'], home, { STOQ_JOIN_TOKEN: token('hypermesh') });
    }
    runNode(BIN.hypermesh, ['genesis', '--chain-id', chainId, '--out', genesisFile, ...homes.flatMap((h) => ['--config', join(h, 'service.toml')])], dir);
    const vs = await Promise.all(
      homes.map((h, i) => start(process.execPath, [...nodeFlags, BIN.hypermesh, 'serve', '--config', 'service.toml', '--genesis', genesisFile, ...extra], { cwd: h, logPath: join(dir, `hypermesh-${i + 1}.log`), ready: logMessage('hypermesh validator ready') })),
    );
    procs.push(...vs.map((v) => v.child));

    // TrustChain's admin identity: a client every service accepts.
    const adminDir = join(tcDir, 'admin');
    const leaf = core.parseHybridCertificate(core.pemToDerList(readFileSync(join(adminDir, 'identity', 'cert.pem'), 'utf8'), 'CERTIFICATE', 'cert')[0]);
    const identity = await core.NodeIdentity.loadOrCreate({ dataDir: adminDir, service: 'admin', instance: leaf.commonName, ca: null, ipAddresses: [...leaf.ipAddresses] });
    const transport = core.StoqTransport.create({ identity, bind: '[::1]:0' });
    const probe = new rpcLib.RpcClient({ connector: (ep, o) => transport.connect(ep, { ...o, serverName: 'hypermesh.hypermesh' }), resolver: new rpcLib.StaticResolver({ hypermesh: [vs[0].ready.stoq] }), retry: { maxAttempts: 1 } });
    try {
      for (const deadline = Date.now() + 60_000; ; ) {
        const s = await probe.call(protos.hypermesh.ConsensusMethods.status, {}, { timeoutMs: 5000 }).catch(() => null);
        if (s && Number(s.committedHeight) >= 2) break;
        if (Date.now() > deadline) throw new Error('HyperMesh did not start committing within 60 s');
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      probe.close();
    }
    return {
      tc,
      tcDir,
      token,
      genesisFile,
      validators: vs,
      admin: { identity, transport },
      close: async () => {
        await transport.close();
        await close();
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}
