// The CLI's pure parts and its usage errors (exit 2 before any connection). The commands against
// a running Caesar are in tests-e2e/test/caesar.e2e.test.ts.
import { main } from '../../src/cli/main';
import { ACCOUNT_FLAG_NAMES, flagNames, parseFlags } from '../../src/cli/records';
import { table } from '../../src/cli/table';

test('tables pad columns and right-align numbers', () => {
  expect(table(['id', 'result'], [['1', 'ok'], ['100', 'exists']])).toBe(' id  result\n  1  ok\n100  exists\n');
});

test('flags by name (snake or camel case) or number, and back', () => {
  expect(parseFlags('debits_must_not_exceed_credits,history', ACCOUNT_FLAG_NAMES)).toBe(2 | 8);
  expect(parseFlags('12', ACCOUNT_FLAG_NAMES)).toBe(12);
  expect(parseFlags('overdraft', ACCOUNT_FLAG_NAMES)).toMatch(/unknown flag "overdraft"/);
  expect(flagNames(2 | 16384, ACCOUNT_FLAG_NAMES)).toEqual(['debits_must_not_exceed_credits', 'mint']);
});

test('usage mistakes exit 2 with a message, before connecting', async () => {
  const err: string[] = [];
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  delete process.env['CAESAR_IDENTITY'];
  delete process.env['STOQ_DNS'];
  try {
    expect(await main(['transfer', '--id', '1', '--from', 'x'])).toBe(2);
    expect(await main(['balance'])).toBe(2);
    expect(await main(['frobnicate'])).toBe(2);
    expect(await main(['accounts', 'create', '--id', '1', '--ledger', '1', '--code', '1'])).toBe(2); // no --identity
    expect(await main(['serve'])).toBe(2);
    expect(await main(['serve', '--config', 'x.toml', '--slash-share', '3/2'])).toBe(2);
    expect(await main(['--help'])).toBe(0);
  } finally {
    spy.mockRestore();
    out.mockRestore();
  }
  expect(err.join('')).toMatch(/--from must be a u128/);
  expect(err.join('')).toMatch(/--identity DIR is required/);
  expect(err.join('')).toMatch(/--slash-share must be a fraction/);
});
