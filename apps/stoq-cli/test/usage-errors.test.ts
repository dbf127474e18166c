// The new commands refuse bad usage with exit code 2 and a message naming what to give, before
// touching the network or the disk.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/main';

// Outside any npm start ecosystem (a checkout where `npm start` ran has one).
const cwd = process.cwd();
const away = mkdtempSync(join(tmpdir(), 'stoq-cli-usage-'));
beforeAll(() => process.chdir(away));
afterAll(() => {
  process.chdir(cwd);
  rmSync(away, { recursive: true, force: true });
});

async function run(argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await main(argv, { stdout: () => undefined, stderr: (t) => (err += t) });
  return { code, err };
}

test.each([
  [['enroll', '--data-dir', '/nonexistent/x'], /--trustchain "\[ipv6\]:port" .* is required/],
  [['enroll', '--trustchain', '[::1]:7440'], /--data-dir DIR .* is required/],
  [['enroll', '--trustchain', '[::1]:7440', '--data-dir', '/tmp/x', '--root-fingerprint', 'abc'], /--root-fingerprint must be 64 hex digits/],
  [['enroll', '--trustchain', '[::1]:7440', '--data-dir', '/tmp/x', '--service', 'Bad_Name'], /must be lowercase DNS labels/],
  [['status', '--timeout', '0', '--dns', '[::1]:5354'], /--timeout must be milliseconds from 1 to 60000/],
  [['logs', 'a', 'b'], /at most one service name/],
  [['methods', 'caesar', 'extra'], /at most one service name/],
  [['call', 'node/echo', '--dns', '[::1]:5354', '--trustchain', '[::1]:7440'], /--dns .* or --trustchain .*, not both/],
  // --admin is the ecosystem's administrator and nothing else.
  [['call', 'trustchain/list_certificates', '--admin', '--dns', '[::1]:5354'], /--admin uses the administrator identity of an npm start ecosystem .* none was found from here/],
  [['call', 'trustchain/list_certificates', '--admin', '--identity', '/tmp/x', '--dns', '[::1]:5354'], /does not go with --identity, --data-dir or --as/],
  [['methods', '--admin', '--target', '[::1]:4433'], /--admin uses the administrator identity/],
])('stoq %j exits 2', async (argv, message) => {
  const r = await run(argv);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(message);
});
