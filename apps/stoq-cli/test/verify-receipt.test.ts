// stoq verify-receipt: a saved Catalog answer with a genuine receipt verifies (exit 0); a changed
// output, another expected key, a forged signature or a file that is not an answer is refused
// (exit 1); bad usage exits 2. The answer is made here with a real FALCON-1024 key and the same
// library Catalog signs with.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executeJson, keyIdOf, outputHash, signReceipt, toU64 } from '@stoq/catalog-receipt';
import { falconKeypair, falconSign } from '@stoq/native';
import { main } from '../src/main';

let dir: string;
let answer: ReturnType<typeof executeJson>;
let keyId: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stoq-receipt-'));
  const keys = falconKeypair();
  const stdout = Buffer.from('hello\n');
  const programHash = Buffer.alloc(32, 1);
  const receipt = await signReceipt(
    { programHash, inputHash: Buffer.alloc(32, 2), outputHash: outputHash({ outcome: 0, results: [], exitCode: null, stdout, stderr: Buffer.alloc(0), stdoutTruncated: false, stderrTruncated: false }), fuelUsed: 1234n, fee: 1234n, transferId: 99n, outcome: 0, issuedAtNs: 1_700_000_000_000_000_000n },
    { publicKey: keys.publicKey, sign: (m) => Promise.resolve(falconSign(keys.secretKey, m)) },
  );
  keyId = keyIdOf(keys.publicKey).toString('hex');
  answer = executeJson({
    outcome: 0, message: '', results: [], exited: false, exitCode: 0, stdout, stderr: Buffer.alloc(0), stdoutTruncated: false, stderrTruncated: false, fuelUsed: 1234, fee: '1234',
    receipt: { programHash: programHash.toString('hex'), inputHash: Buffer.alloc(32, 2).toString('hex'), outputHash: Buffer.from(receipt.fields.outputHash).toString('hex'), fuelUsed: 1234, fee: '1234', transferId: '99', outcome: 0, issuedAt: toU64(receipt.fields.issuedAtNs), keyId: receipt.fields.keyId, publicKey: receipt.publicKey, signature: receipt.signature, encoded: receipt.encoded },
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

function save(name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

test('a genuine answer verifies, with and without the expected key id', async () => {
  const file = save('good.json', answer);
  const r = await run(['verify-receipt', file]);
  expect([r.code, r.err]).toEqual([0, '']);
  expect(r.out).toMatch(new RegExp(`^receipt valid: program ${'01'.repeat(32)}, fuel 1234, fee 1234, transfer 99, signed by key ${keyId}`));
  const pinned = await run(['verify-receipt', file, '--key-id', keyId, '--json']);
  expect(pinned.code).toBe(0);
  expect(JSON.parse(pinned.out)).toMatchObject({ valid: true, fuelUsed: '1234', keyId });
});

test('a changed output, another key, a forged signature or a non-answer is refused with exit 1', async () => {
  const changed = await run(['verify-receipt', save('changed.json', { ...answer, stdout: Buffer.from('HELLO\n').toString('base64') })]);
  expect(changed.code).toBe(1);
  expect(changed.err).toMatch(/receipt does not verify/);
  const otherKey = await run(['verify-receipt', save('good2.json', answer), '--key-id', 'ab'.repeat(32)]);
  expect(otherKey.code).toBe(1);
  const sig = Buffer.from(answer.receipt!.signature, 'base64');
  sig[sig.length - 1]! ^= 1;
  const forged = await run(['verify-receipt', save('forged.json', { ...answer, receipt: { ...answer.receipt!, signature: sig.toString('base64') } })]);
  expect(forged.code).toBe(1);
  const junk = await run(['verify-receipt', save('junk.json', 'not json')]);
  expect(junk.code).toBe(1);
  expect(junk.err).toMatch(/not a saved catalog run --json answer/);
});

test('usage errors exit 2', async () => {
  expect((await run(['verify-receipt'])).code).toBe(2);
  expect((await run(['verify-receipt', 'a.json', '--key-id', 'xyz'])).code).toBe(2);
  expect((await run(['verify-receipt', '--help'])).code).toBe(0);
});
