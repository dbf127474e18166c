// The RFC 6962 HTTP API audited by an outside client: certificate-transparency-go's LogClient
// (test/ct/go, built here from the Go module proxy) checks the STH signature with the log's
// public key, rebuilds the tree from get-entries, verifies inclusion proofs and, after the test
// appends more entries, a consistency proof between the two tree heads. The same client with
// another log's key must fail, so a pass means the checks ran.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { LogSigningKey } from '@stoq/ct-log';
import { startCtHttpServer, type CtHttpServer } from '../../src/ct';
import { captureLogger } from '../ca/support';
import { makePki, openLog, type TestLog } from './support';

jest.setTimeout(240_000);

const GO_DIR = join(__dirname, 'go');

/** Builds the Go client once per source version (cached under ~/.cache/stoq). */
function buildClient(): string {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(readFileSync(join(GO_DIR, f)));
  const out = join(homedir(), '.cache', 'stoq', 'ct-go-client', hash.digest('hex').slice(0, 16), 'ctclient');
  if (existsSync(out)) return out;
  mkdirSync(join(out, '..'), { recursive: true });
  try {
    execFileSync('go', ['build', '-o', out, '.'], { cwd: GO_DIR, env: { ...process.env, GOFLAGS: '-mod=mod', GOSUMDB: 'off' }, stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (err) {
    throw new Error(`cannot build the Go CT client in ${GO_DIR} (needs \`go\` on PATH and the Go module proxy): ${(err as Error).message}`);
  }
  return out;
}

const pki = makePki('Outside');
let client: string;
let t: TestLog;
let http: CtHttpServer;
let n = 0;

beforeAll(async () => {
  client = buildClient();
  t = await openLog([pki.root], captureLogger().logger);
  http = await startCtHttpServer({ log: t.log, bind: '[::1]:0', logger: captureLogger().logger, maxEntriesPerRequest: 64 });
});
afterAll(async () => {
  await http?.close();
  await t?.log.close();
});

async function append(count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, () => t.log.addChain([pki.leaf(`leaf-${n++}`), pki.intermediate])));
}

function keyFile(key: LogSigningKey, name: string): string {
  const path = join(t.dir, name);
  writeFileSync(path, key.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  return path;
}

function runClient(pubkey: string, between: () => Promise<void>): Promise<{ code: number | null; stdout: string[]; stderr: string }> {
  const child = spawn(client, ['-url', `http://${http.address}`, '-pubkey', pubkey], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    stdout.push(line);
    // Phase 1 done: grow the log, then let the client audit the new head and the consistency.
    if (line.startsWith('STH1 ')) void between().then(() => child.stdin.end('go\n'));
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

test('certificate-transparency-go verifies STH signatures, inclusion and consistency', async () => {
  await append(300);
  await t.log.getSth();
  const r = await runClient(keyFile(t.signingKey, 'log.pem'), async () => {
    await append(137);
    await t.log.getSth();
  });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout[0]).toMatch(/^STH1 \d+ [0-9a-f]{64}$/);
  expect(Number(r.stdout[0]!.split(' ')[1])).toBeGreaterThanOrEqual(300);
  expect(r.stdout.at(-1)).toBe('OK 300 437'); // consistent from the first tree head to the grown one
});

test('the same client refuses the log under another key', async () => {
  const r = await runClient(keyFile(LogSigningKey.generate(), 'other.pem'), async () => undefined);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^FAIL: .*(signature|verify)/im);
});
