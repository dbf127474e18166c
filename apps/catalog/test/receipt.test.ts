// Receipts: layout, signing with the native FALCON-1024, verification (also with @noble/post-quantum
// as an independent implementation), and every way a tampered receipt or answer is caught.
import { falcon1024 } from '@noble/post-quantum/falcon.js';
import { nativeFalcon } from '@stoq/core';
import { catalog as proto } from '@stoq/protos';
import { checkExecuteResponse, decodeReceipt, encodeReceipt, inputHash, keyIdOf, outputHash, RECEIPT_BYTES, signReceipt, toU64, verifyReceipt, type ReceiptFields } from '@stoq/catalog-receipt';

const keys = nativeFalcon.keypair();
const signer = { publicKey: keys.publicKey, sign: (m: Uint8Array) => nativeFalcon.sign(keys.secretKey, m) };
const verify = (k: Uint8Array, m: Uint8Array, s: Uint8Array): boolean => nativeFalcon.verify(k, m, s);

const output = { outcome: 0, results: [42n], exitCode: null, stdout: Buffer.from('hi'), stderr: Buffer.alloc(0), stdoutTruncated: false, stderrTruncated: false };
const fields = {
  programHash: Buffer.alloc(32, 1),
  inputHash: inputHash({ exportName: 'add', args: [40n, 2n], argv: [], stdin: Buffer.alloc(0), seed: Buffer.alloc(32), clockStartNs: 5n, fuelLimit: 100n, memoryLimitBytes: 65536n }),
  outputHash: outputHash(output),
  fuelUsed: 7n,
  fee: (1n << 100n) + 3n,
  transferId: (1n << 125n) + 9n,
  outcome: 0,
  issuedAtNs: 1_765_000_000_000_000_000n,
};

test('encodes to 185 bytes and decodes to the same fields', () => {
  const full: ReceiptFields = { ...fields, keyId: keyIdOf(keys.publicKey) };
  const enc = encodeReceipt(full);
  expect(enc.length).toBe(RECEIPT_BYTES);
  const dec = decodeReceipt(enc)!;
  expect({ ...dec, programHash: Buffer.from(dec.programHash), inputHash: Buffer.from(dec.inputHash), outputHash: Buffer.from(dec.outputHash), keyId: Buffer.from(dec.keyId) }).toEqual(full);
  expect(decodeReceipt(enc.subarray(1))).toBeNull();
  expect(decodeReceipt(Buffer.concat([Buffer.from('XATRCPT1'), enc.subarray(8)]))).toBeNull();
});

test('a signed receipt verifies with the native and with the noble FALCON-1024', async () => {
  const r = await signReceipt(fields, signer);
  expect(verifyReceipt(r.encoded, r.signature, r.publicKey, verify)).toMatchObject({ valid: true });
  expect(verifyReceipt(r.encoded, r.signature, r.publicKey, (k, m, s) => falcon1024.verify(s, m, k))).toMatchObject({ valid: true });
  expect(verifyReceipt(r.encoded, r.signature, r.publicKey, verify, keyIdOf(keys.publicKey))).toMatchObject({ valid: true });
});

test('tampering with any byte, the key or the expected signer is caught', async () => {
  const r = await signReceipt(fields, signer);
  for (const at of [0, 8, 40, 72, 104, 112, 128, 144, 145, 160]) {
    const bad = Buffer.from(r.encoded);
    bad[at]! ^= 1;
    expect(verifyReceipt(bad, r.signature, r.publicKey, verify).valid).toBe(false);
  }
  const other = nativeFalcon.keypair();
  expect(verifyReceipt(r.encoded, r.signature, other.publicKey, verify)).toEqual({ valid: false, reason: expect.stringMatching(/key id differs/) });
  expect(verifyReceipt(r.encoded, r.signature, r.publicKey, verify, keyIdOf(other.publicKey))).toEqual({ valid: false, reason: expect.stringMatching(/another key/) });
  const sig = Buffer.from(r.signature);
  sig[sig.length >> 1]! ^= 0x10;
  expect(verifyReceipt(r.encoded, sig, r.publicKey, verify).valid).toBe(false);
});

test('an execute answer whose output was swapped does not verify', async () => {
  const r = await signReceipt(fields, signer);
  const res: proto.ExecuteResponse = {
    outcome: 0,
    results: ['42'],
    exited: false,
    stdout: Buffer.from('hi'),
    stderr: Buffer.alloc(0),
    fuelUsed: toU64(7n),
    fee: String(fields.fee),
    receipt: { encoded: r.encoded, signature: r.signature, publicKey: r.publicKey },
  };
  expect(checkExecuteResponse(res, verify)).toMatchObject({ valid: true });
  expect(checkExecuteResponse({ ...res, results: ['43'] }, verify)).toEqual({ valid: false, reason: expect.stringMatching(/output hash differs/) });
  expect(checkExecuteResponse({ ...res, stdout: Buffer.from('ho') }, verify).valid).toBe(false);
  expect(checkExecuteResponse({ ...res, stdoutTruncated: true }, verify).valid).toBe(false);
  expect(checkExecuteResponse({ ...res, fee: '1' }, verify)).toEqual({ valid: false, reason: expect.stringMatching(/fee/) });
  expect(checkExecuteResponse({ ...res, receipt: null }, verify).valid).toBe(false);
});

test('input and output digests separate every field', () => {
  const base = { exportName: 'f', args: [1n], argv: ['a'], stdin: Buffer.from('x'), seed: Buffer.alloc(32), clockStartNs: 1n, fuelLimit: 2n, memoryLimitBytes: 3n };
  const variants = [base, { ...base, exportName: 'g' }, { ...base, args: [1n, 0n] }, { ...base, args: [-1n] }, { ...base, argv: ['a', ''] }, { ...base, argv: ['', 'a'] }, { ...base, stdin: Buffer.from('y') }, { ...base, seed: Buffer.alloc(32, 1) }, { ...base, clockStartNs: 2n }, { ...base, fuelLimit: 3n }, { ...base, memoryLimitBytes: 4n }];
  expect(new Set(variants.map((v) => inputHash(v).toString('hex'))).size).toBe(variants.length);
  const outs = [output, { ...output, outcome: 1 }, { ...output, results: [] }, { ...output, exitCode: 0 }, { ...output, stdout: Buffer.alloc(0), stderr: Buffer.from('hi') }, { ...output, stderrTruncated: true }];
  expect(new Set(outs.map((o) => outputHash(o).toString('hex'))).size).toBe(outs.length);
});
