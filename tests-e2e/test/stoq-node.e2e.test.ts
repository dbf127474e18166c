// `stoq node` and `stoq ping` as real processes talking STOQ over ::1.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStoq, StoqProcess, writeExampleConfig } from './support';

let dir: string;
let node: StoqProcess | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'stoq-e2e-'));
  writeExampleConfig(dir);
});
afterEach(async () => {
  await node?.stop();
  node = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function startNode(): Promise<string> {
  node = StoqProcess.start(['node', '--config', 'stoq.toml'], dir);
  const ready = await node.waitFor((l) => l.msg === 'stoq node listening');
  return ready.address as string;
}

test('stoq ping completes the full handshake with a running stoq node and round-trips a message', async () => {
  const address = await startNode();
  const r = await runStoq(['ping', address, '--json', '--count', '3'], dir);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const result = JSON.parse(r.stdout) as { keyExchangeGroup: string; peer: { instance: string; service: string }; echoMs: number[]; handshakeMs: number; rttMs: number };
  expect(result.keyExchangeGroup).toBe('X25519MLKEM768');
  expect(result.peer).toMatchObject({ instance: 'stoq-node', service: 'node' });
  expect(result.echoMs).toHaveLength(3);
  expect(result.handshakeMs).toBeGreaterThan(0);
  // The node logged the authenticated connection from the CLI identity.
  const conn = await node!.waitFor((l) => l.msg === 'connection');
  expect(conn).toMatchObject({ peer: 'cli', service: 'cli', group: 'X25519MLKEM768' });

  const human = await runStoq(['ping', address], dir);
  expect(human.code).toBe(0);
  expect(human.stdout).toMatch(/^connected to \[::1\]:\d+ as stoq-node \(service node\)\n  handshake [\d.]+ ms \(TLS 1\.3 X25519MLKEM768 \+ FALCON-1024 exchange\), rtt [\d.]+ ms/);
});

test('the node keeps its identity across restarts, and stops cleanly on SIGTERM', async () => {
  const first = await startNode();
  const fp1 = node!.lines.find((l) => l.msg === 'stoq node listening')!.fingerprint;
  expect(await node!.stop()).toBe(0);
  await startNode();
  const fp2 = node!.lines.find((l) => l.msg === 'stoq node listening')!.fingerprint;
  expect(fp2).toBe(fp1);
  expect(first).toMatch(/^\[::1\]:\d+$/);
});

test('ping reports clear errors: IPv4 target, nothing listening, wrong service', async () => {
  const v4 = await runStoq(['ping', '127.0.0.1:4433'], dir);
  expect(v4.code).toBe(1);
  expect(v4.stderr).toMatch(/IPv4.*IPv6-only/);

  const silent = await runStoq(['ping', '[::1]:9', '--timeout', '1500'], dir);
  expect(silent.code).toBe(1);
  expect(silent.stderr).toMatch(/no STOQ node answered at \[::1\]:9|timed out|refused/);

  const address = await startNode();
  const wrong = await runStoq(['ping', address, '--expect-service', 'caesar'], dir);
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toMatch(/expected service "caesar".*"node"/);
});

test('a config error names the offending key and the node does not start', async () => {
  copyFileSync(join(dir, 'stoq.toml'), join(dir, 'bad.toml'));
  writeFileSync(join(dir, 'bad.toml'), readFileSync(join(dir, 'bad.toml'), 'utf8').replace('bind = "[::1]:0"', 'bind = "127.0.0.1:4433"'));
  const r = await runStoq(['node', '--config', 'bad.toml'], dir);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/transport\.bind/);
  expect(r.stderr).toMatch(/IPv4/);
});

test('performance.max_rpc_message_bytes decides the largest RPC message the node takes', async () => {
  const address = await startNode(); // the example config: 4 MiB
  const refused = await runStoq(['ping', address, '--size', '5000000', '--count', '1'], dir);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/a message frame of 5000\d{3} bytes is over the message limit of 4194304 bytes/);
  await node!.stop();

  const toml = readFileSync(join(dir, 'stoq.toml'), 'utf8').replace('max_rpc_message_bytes = 4194304', 'max_rpc_message_bytes = 33554432');
  writeFileSync(join(dir, 'stoq.toml'), toml);
  const bigger = await startNode();
  const ok = await runStoq(['ping', bigger, '--size', '5000000', '--count', '1', '--json'], dir);
  expect(ok.stderr).toBe('');
  expect(ok.code).toBe(0);
  expect((JSON.parse(ok.stdout) as { echo: { sizeBytes: number } }).echo.sizeBytes).toBe(5_000_000);
});
