// The new commands refuse bad usage with exit code 2 and a message naming what to give, before
// touching the network or the disk.
import { main } from '../src/main';

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
])('stoq %j exits 2', async (argv, message) => {
  const r = await run(argv);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(message);
});
