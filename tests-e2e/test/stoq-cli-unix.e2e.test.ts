// The `stoq` command behaves like a Unix tool: help on every subcommand, usage errors exit 2,
// strict JSON input, validated ranges, a data dir found like the documentation says, and trust
// failures explained. Real processes over QUIC on ::1.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStoq, startExampleNode, type StoqProcess } from './support';

let dir: string;
let node: StoqProcess;
let address: string;

beforeAll(async () => {
  ({ dir, node, address } = await startExampleNode('stoq-unix-'));
});
afterAll(async () => {
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
});

test.each(['node', 'ping', 'call', 'methods'])('stoq %s --help prints its usage with examples and exits 0', async (cmd) => {
  for (const flag of ['--help', '-h']) {
    const r = await runStoq([cmd, flag], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^usage: stoq ${cmd} `));
    expect(r.stdout).toMatch(/examples:\n {2}stoq /);
  }
});

test('usage errors exit 2 with a message naming the problem; the top-level help names the dev CA caveat', async () => {
  const unknown = await runStoq(['call', 'node/echo', '--target', address, '--bogus'], dir);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toBe("stoq: Unknown option '--bogus' (see stoq call --help)\n");

  for (const t of ['-5', '99999999999999', '1.5', 'soon']) {
    const r = await runStoq(['ping', address, '--timeout', t], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`stoq: --timeout must be an integer from 1 to 2147483647 ms (about 24.8 days, the largest timer Node.js has), got "${t}"\n`);
  }
  expect((await runStoq(['call', 'node/echo'], dir)).code).toBe(2); // no --target
  expect((await runStoq(['ping'], dir)).code).toBe(2);
  expect((await runStoq(['frobnicate'], dir)).code).toBe(2);
  const bad = await runStoq(['call', 'node/echo', '--target', address, '--data', '{bad'], dir);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/^stoq: --data is not valid JSON/);

  const help = await runStoq(['--help'], dir);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/development CA that issues any identity/);
  expect(help.stdout).toMatch(/npm link/);
});

test('stoq call --json is accepted, and wrong JSON types are refused naming field and type', async () => {
  const ok = await runStoq(['call', 'node/echo', '--json', '--target', address, '--data', '{"text":"hi","delay_ms":1}'], dir);
  expect(ok.stderr).toBe('');
  expect(JSON.parse(ok.stdout)).toEqual({ text: 'hi', payload: '', instance: 'stoq-node' });

  const cases: Array<[string, string, RegExp]> = [
    ['node/echo_stream', '{"count":-1}', /--data\.count: \(uint32\) -1 is out of range 0\.\.4294967295/],
    ['node/echo_stream', '{"count":1.5}', /--data\.count: \(uint32\) expected an integer, got 1\.5/],
    ['node/echo_stream', '{"count":"abc"}', /--data\.count: \(uint32\) expected an integer, got string "abc"/],
    ['node/echo', '{"text":{"a":1}}', /--data\.text: \(string\) expected a JSON string, got an object/],
    ['node/echo', '{"payload":123}', /--data\.payload: \(bytes\) expected a base64 string, got number 123/],
  ];
  for (const [method, data, message] of cases) {
    const r = await runStoq(['call', method, '--target', address, '--data', data], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  }
});

test('--data @FILE and --data - (stdin) carry large payloads; a bad base64 value names its field', async () => {
  const payload = Buffer.alloc(3 * 1024 * 1024, 7).toString('base64url');
  writeFileSync(join(dir, 'big.json'), JSON.stringify({ payload, text: 'file' }));
  const fromFile = await runStoq(['call', 'node/echo', '--target', address, '--data', '@big.json'], dir);
  expect(fromFile.stderr).toBe('');
  const echoed = JSON.parse(fromFile.stdout) as { payload: string; text: string };
  expect(echoed.text).toBe('file');
  expect(Buffer.from(echoed.payload, 'base64').equals(Buffer.alloc(3 * 1024 * 1024, 7))).toBe(true);

  const fromStdin = await runStoq(['call', 'node/echo', '--target', address, '--data', '-'], dir, { input: '{"text":"stdin"}' });
  expect(fromStdin.stderr).toBe('');
  expect(JSON.parse(fromStdin.stdout)).toMatchObject({ text: 'stdin' });

  writeFileSync(join(dir, 'bad.json'), '{"payload":"%%%"}');
  const bad = await runStoq(['call', 'node/echo', '--target', address, '--data', '@bad.json'], dir);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/--data\.payload: \(bytes\) string "%%%" is not valid base64/);

  const missing = await runStoq(['call', 'node/echo', '--target', address, '--data', '@nope.json'], dir);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/--data @nope\.json: cannot read nope\.json: ENOENT/);
});

test('ping times -c round trips and reports min/median/max and a warm handshake', async () => {
  const r = await runStoq(['ping', address, '-c', '4', '--json'], dir);
  expect(r.stderr).toBe('');
  const p = JSON.parse(r.stdout) as { echoMs: number[]; echo: { count: number; minMs: number; medianMs: number; maxMs: number }; handshakeMs: number; reconnectMs: number; warmupHandshakeMs: number };
  expect(p.echoMs).toHaveLength(4);
  const sorted = [...p.echoMs].sort((a, b) => a - b);
  expect(p.echo).toMatchObject({ count: 4, minMs: sorted[0], maxMs: sorted[3], medianMs: (sorted[1]! + sorted[2]!) / 2 });
  for (const v of [p.handshakeMs, p.reconnectMs, p.warmupHandshakeMs]) expect(v).toBeGreaterThan(0);
  const text = await runStoq(['ping', address, '-c', '3'], dir);
  expect(text.stdout).toMatch(/\n {2}echo 64 B x 3: min [\d.]+ \/ median [\d.]+ \/ max [\d.]+ ms\n/);
  expect(text.stdout).toMatch(/fresh client endpoint/);
});

test('the data dir is the one of the nearest stoq.toml up the tree; without one nothing is created', async () => {
  const sub = join(dir, 'docs', 'deeper');
  mkdirSync(sub, { recursive: true });
  const r = await runStoq(['ping', address, '-c', '1', '--verbose'], sub);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe(`stoq: data dir ${join(dir, '.stoq')} (from node.data_dir in ${join(dir, 'stoq.toml')})\n`);
  expect(existsSync(join(sub, '.stoq'))).toBe(false);

  const lonely = mkdtempSync(join(tmpdir(), 'stoq-nowhere-'));
  try {
    const none = await runStoq(['ping', address], lonely);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^stoq: no data dir: pass --data-dir DIR or set STOQ_DATA_DIR, or run inside a directory that has a stoq\.toml/);
    expect(existsSync(join(lonely, '.stoq'))).toBe(false);

    // STOQ_DATA_DIR is honoured; a new CA is announced, and the node (another CA) is explained.
    const other = await runStoq(['ping', address], lonely, { env: { STOQ_DATA_DIR: join(lonely, 'other') } });
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/^stoq: created a new development CA in .*other\/dev-ca \(root sha256:[0-9a-f]{64}\)/);
    expect(other.stderr).toMatch(/presented a certificate that is not issued by a root this client trusts \(TLS: invalid peer certificate: BadSignature\)/);
    expect(other.stderr).toMatch(/trusted root sha256:[0-9a-f]{64} \(the development CA in .*other\/dev-ca, data dir from STOQ_DATA_DIR\)/);
    expect(other.stderr).toMatch(/fix: use the node's data dir .* or pass --trust-root FILE/);

    // Trusting the node's root is half of it: the node does not trust this client's CA either.
    const half = await runStoq(['ping', address, '--trust-root', join(dir, '.stoq', 'dev-ca', 'root.pem')], lonely, { env: { STOQ_DATA_DIR: join(lonely, 'other') } });
    expect(half.code).toBe(1);
    expect(half.stderr).toMatch(/refused this client's certificate .*start the node with --trust-root .*other\/dev-ca\/root\.pem/s);

    const missing = await runStoq(['ping', address, '--data-dir', dir + '/.stoq', '--trust-root', 'nope.pem'], lonely);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`stoq: --trust-root: cannot read trust root nope.pem: no such file\n`);
  } finally {
    rmSync(lonely, { recursive: true, force: true });
  }
});

test('a missing certificates.trust_root names the key and the path', async () => {
  writeFileSync(join(dir, 'trust.toml'), '[transport]\nbind = "[::1]:0"\n[certificates]\ntrust_root = "missing-root.pem"\n');
  const r = await runStoq(['node', '--config', 'trust.toml'], dir);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`stoq: certificates.trust_root in trust.toml: cannot read trust root ${join(dir, 'missing-root.pem')}: no such file\n`);
});
