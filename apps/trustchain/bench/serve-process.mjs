// A real `trustchain serve` child process for the benchmarks, and an admin RPC client to it
// (the identity `serve` keeps in <data-dir>/admin/, as the `trustchain` CLI uses it).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { onExit } from './support.mjs';

const require = createRequire(import.meta.url);
const { NodeIdentity, StoqTransport } = require('@stoq/core');
const { RpcClient, StaticResolver } = require('@stoq/rpc');
const { ADMIN_DIR, ADMIN_INSTANCE } = require('../dist/server.js');
const { ADMIN_SERVICE } = require('../dist/service/ca-service.js');

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'trustchain.js');

/** Starts `trustchain serve` on [::1] ports it picks; resolves once it logged "trustchain serve ready". */
export async function startServe(dataDir, extraArgs = []) {
  const args = [BIN, 'serve', '--data-dir', dataDir, '--bind', '[::1]:0', '--dns-bind', '[::1]:0', '--ct-http-bind', '[::1]:0', ...extraArgs];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STOQ_LOG_LEVEL: 'info' } });
  onExit(() => child.kill('SIGKILL'));
  let out = '';
  child.stderr.on('data', (d) => (out += d.toString()));
  const lines = createInterface({ input: child.stdout });
  const ready = await new Promise((resolve, reject) => {
    lines.on('line', (text) => {
      if (!text.includes('trustchain serve ready')) return;
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new Error(`trustchain serve's ready line is not JSON: ${text} (${err.message})`));
      }
    });
    child.once('exit', (code) => reject(new Error(`trustchain serve exited ${code} before it was ready:\n${out}`)));
  });
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
