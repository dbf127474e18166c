// A real `trustchain serve` child process for the benchmarks, and an admin RPC client to it
// (the identity `serve` keeps in <data-dir>/admin/, as the `trustchain` CLI uses it).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, onExit } from './support.mjs';

const require = createRequire(import.meta.url);
const { NodeIdentity, StoqTransport } = require('@stoq/core');
const { RpcClient, StaticResolver } = require('@stoq/rpc');
const { ADMIN_DIR, ADMIN_INSTANCE } = require('../dist/server.js');
const { ADMIN_SERVICE } = require('../dist/service/ca-service.js');

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'trustchain.js');

/** Starts `trustchain serve` on fresh [::1] ports; resolves once it logged "trustchain serve ready". */
export async function startServe(dataDir, extraArgs = []) {
  const [stoqPort, dnsPort, ctPort] = [await freePort('udp'), await freePort('udp'), await freePort('tcp')];
  const args = [BIN, 'serve', '--data-dir', dataDir, '--bind', `[::1]:${stoqPort}`, '--dns-bind', `[::1]:${dnsPort}`, '--ct-http-bind', `[::1]:${ctPort}`, ...extraArgs];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STOQ_LOG_LEVEL: 'info' } });
  onExit(() => child.kill('SIGKILL'));
  let out = '';
  let ready = null;
  await new Promise((resolve, reject) => {
    const onData = (d) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('trustchain serve ready')) continue;
        ready = JSON.parse(line);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`trustchain serve exited ${code} before it was ready:\n${out}`)));
  });
  child.stdout.removeAllListeners('data');
  child.stdout.resume();
  return {
    dataDir,
    stoq: ready.stoq,
    dns: ready.dns,
    rootFingerprint: ready.rootFingerprint,
    pid: child.pid,
    stop: () =>
      new Promise((resolve, reject) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`trustchain serve exited ${code} on SIGTERM:\n${out}`))));
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Runs fn(rpcs) with `connections` RpcClients, each on its own connection as TrustChain's admin
 * (one connection carries at most 100 calls at once; many submitters are many connections).
 */
export async function withAdminClients(serve, connections, fn) {
  const identity = await NodeIdentity.loadOrCreate({ dataDir: join(serve.dataDir, ADMIN_DIR), service: ADMIN_SERVICE, instance: ADMIN_INSTANCE, ca: null });
  const transport = StoqTransport.create({ identity, bind: '[::]:0' });
  const conns = [];
  const rpcs = [];
  try {
    for (let i = 0; i < connections; i++) {
      const conn = await transport.connect(serve.stoq, { expectedService: 'trustchain' });
      conns.push(conn);
      rpcs.push(new RpcClient({ connector: async () => conn, resolver: new StaticResolver({ trustchain: [serve.stoq] }), retry: { maxAttempts: 1 }, defaultTimeoutMs: 60_000 }));
    }
    return await fn(rpcs);
  } finally {
    for (const rpc of rpcs) rpc.close();
    for (const conn of conns) conn.close(0, 'done');
    await transport.close();
  }
}
