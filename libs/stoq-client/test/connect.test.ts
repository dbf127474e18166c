// connect() says what is missing before it touches the network. (It is used against a real
// ecosystem by tests-e2e/test/launcher.e2e.test.ts, which runs examples/pay-with-caesar.mjs.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectError, SERVICE_METHODS, connect } from '../src';

const nowhere = mkdtempSync(join(tmpdir(), 'stoq-client-'));
afterAll(() => rmSync(nowhere, { recursive: true, force: true }));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectError);
    return (err as ConnectError).code;
  }
}

test('missing DNS, missing identity and unknown services are ConnectErrors with stable codes', async () => {
  const saved = { dns: process.env['STOQ_DNS'], id: process.env['STOQ_IDENTITY'] };
  delete process.env['STOQ_DNS'];
  delete process.env['STOQ_IDENTITY'];
  try {
    expect(await codeOf(connect('caesar', { from: nowhere }))).toBe('NO_DNS');
    expect(await codeOf(connect('caesar', { from: nowhere, dns: '[::1]:5354' }))).toBe('NO_IDENTITY');
    expect(await codeOf(connect('caesar', { from: nowhere, dns: '[::1]:5354', identity: nowhere }))).toBe('NO_IDENTITY');
    expect(await codeOf(connect('nope' as keyof typeof SERVICE_METHODS, { from: nowhere }))).toBe('UNKNOWN_SERVICE');
    // The administrator only from an ecosystem, and never mixed with a given identity.
    expect(await codeOf(connect('caesar', { from: nowhere, dns: '[::1]:5354', admin: true }))).toBe('NO_IDENTITY');
    expect(await codeOf(connect('caesar', { from: nowhere, dns: '[::1]:5354', admin: true, identity: nowhere }))).toBe('NO_IDENTITY');
  } finally {
    if (saved.dns !== undefined) process.env['STOQ_DNS'] = saved.dns;
    if (saved.id !== undefined) process.env['STOQ_IDENTITY'] = saved.id;
  }
});

test('every service maps to its generated methods, named as STOQ paths', () => {
  expect(SERVICE_METHODS.caesar.createTransfers.path).toBe('caesar/create_transfers');
  expect(SERVICE_METHODS.ngauge.targets.path).toBe('ngauge/targets');
  expect(SERVICE_METHODS['trustchain/ct'].getSth.path).toBe('trustchain/ct/get_sth');
});
