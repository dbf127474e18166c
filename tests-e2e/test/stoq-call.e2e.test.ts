// `stoq call` and `stoq methods` against a running `stoq node` process, over real QUIC on ::1.
import { rmSync } from 'node:fs';
import { runStoq, startExampleNode, type StoqProcess } from './support';

let dir: string;
let node: StoqProcess;
let address: string;

beforeAll(async () => {
  ({ dir, node, address } = await startExampleNode('stoq-call-'));
});
afterAll(async () => {
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('stoq methods lists the node service with kinds and types, found through the certificate', async () => {
  const r = await runStoq(['methods', '--target', address, '--json'], dir);
  expect(r.stderr).toBe('');
  const listing = JSON.parse(r.stdout) as { service: string; methods: Array<{ path: string; kind: string }> };
  expect(listing.service).toBe('node');
  expect(listing.methods.map((m) => `${m.path}:${m.kind}`)).toEqual(
    expect.arrayContaining(['node/echo:unary', 'node/echo_stream:server_streaming', 'node/stats:unary', 'node/health:unary', 'node/_methods:unary']),
  );
});

test('stoq call prints the JSON response of a unary call and each message of a stream', async () => {
  const echo = await runStoq(['call', 'node/echo', '--target', address, '--data', '{"text":"hello","payload":"AQID"}'], dir);
  expect(echo.code).toBe(0);
  expect(JSON.parse(echo.stdout)).toEqual({ text: 'hello', payload: 'AQID', instance: 'stoq-node' });

  const stream = await runStoq(['call', 'node/echo_stream', '--target', address, '--data', '{"text":"tick","count":3}'], dir);
  expect(stream.code).toBe(0);
  expect(stream.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text)).toEqual(['tick 1', 'tick 2', 'tick 3']);

  const stats = await runStoq(['call', 'node/stats', '--target', address], dir);
  expect(Number((JSON.parse(stats.stdout) as { authenticatedConnections: string }).authenticatedConnections)).toBeGreaterThanOrEqual(3);
});

test('stoq call reports clear errors: unknown method, bad field, handler error, unreachable', async () => {
  const unknown = await runStoq(['call', 'node/nope', '--target', address], dir);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toMatch(/node has no method node\/nope \(it has: .*node\/echo/);

  const badField = await runStoq(['call', 'node/echo', '--target', address, '--data', '{"txt":"x"}'], dir);
  expect(badField.code).toBe(1);
  expect(badField.stderr).toMatch(/has no field "txt"/);

  const invalid = await runStoq(['call', 'node/echo_stream', '--target', address, '--data', '{"count":0}'], dir);
  expect(invalid.code).toBe(1);
  expect(invalid.stderr).toMatch(/INVALID_ARGUMENT: count must be 1\.\.100000, got 0/);

  const wrongService = await runStoq(['call', 'caesar/transfer', '--target', address], dir);
  expect(wrongService.code).toBe(1);
  expect(wrongService.stderr).toMatch(/expected service "caesar".*"node"/);

  const late = await runStoq(['call', 'node/echo', '--target', address, '--data', '{"text":"slow","delayMs":30000}', '--timeout', '1000'], dir);
  expect(late.code).toBe(1);
  expect(late.stderr).toMatch(/DEADLINE_EXCEEDED/);

  const unreachable = await runStoq(['call', 'node/echo', '--target', '[::1]:9', '--timeout', '1500'], dir);
  expect(unreachable.code).toBe(1);
  expect(unreachable.stderr).toMatch(/no STOQ node answered at \[::1\]:9/);
});

test('state-changing methods are denied by default: only the admin identity may drain the node', async () => {
  const denied = await runStoq(['call', 'node/set_serving', '--target', address, '--data', '{"serving":false}'], dir);
  expect(denied.code).toBe(1);
  expect(denied.stderr).toMatch(/PERMISSION_DENIED/);
  expect(denied.stderr).toMatch(/cli/);

  const drained = await runStoq(['call', 'node/set_serving', '--as', 'admin', '--target', address, '--data', '{"serving":false}'], dir);
  expect(drained.stderr).toBe('');
  expect(JSON.parse(drained.stdout)).toEqual({ serving: false });
  const health = await runStoq(['call', 'node/health', '--target', address], dir);
  expect(JSON.parse(health.stdout)).toMatchObject({ status: 'NOT_SERVING' });

  await runStoq(['call', 'node/set_serving', '--as', 'admin', '--target', address, '--data', '{"serving":true}'], dir);
  const back = await runStoq(['call', 'node/health', '--target', address], dir);
  expect(JSON.parse(back.stdout)).toMatchObject({ status: 'SERVING' });
});
