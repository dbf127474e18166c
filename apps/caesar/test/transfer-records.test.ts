// The 128-byte transfer record (TigerBeetle's layout): every field round-trips at the boundaries
// of the encoder's fast paths (2^32, 2^53, 2^64), and the bytes sit where the layout says.
import { encodeTransfers, decodeTransfers, TRANSFER_RECORD_BYTES } from '../src/store/transfer-records';
import type { Transfer } from '../src';
import { LedgerError } from '../src';

const edges = [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n, 2n ** 64n, 2n ** 127n + 5n, 2n ** 128n - 1n];
const u64 = (v: bigint): bigint => v % 2n ** 64n;

test('records round-trip every field at the encoder boundaries', () => {
  const transfers: Transfer[] = edges.map((v, i) => ({
    id: v,
    debitAccountId: edges[(i + 1) % edges.length]!,
    creditAccountId: edges[(i + 2) % edges.length]!,
    amount: edges[(i + 3) % edges.length]!,
    pendingId: edges[(i + 4) % edges.length]!,
    userData128: edges[(i + 5) % edges.length]!,
    userData64: u64(edges[(i + 6) % edges.length]!),
    userData32: 0xffff_ffff - i,
    timeout: i * 1000,
    ledger: 0xffff_ffff,
    code: 0xffff - i,
    flags: i,
    timestamp: u64(v),
  }));
  const blob = encodeTransfers(transfers);
  expect(blob.length).toBe(transfers.length * TRANSFER_RECORD_BYTES);
  expect([...decodeTransfers(blob, 'test')]).toEqual(transfers);
});

test('fields sit at TigerBeetle offsets, little-endian', () => {
  const blob = encodeTransfers([{ id: 0x0102n, debitAccountId: 3n, creditAccountId: 4n, amount: 2n ** 64n + 5n, pendingId: 0n, userData128: 0n, userData64: 6n, userData32: 7, timeout: 8, ledger: 9, code: 10, flags: 11, timestamp: 12n }]);
  expect([blob[0], blob[1], blob[16], blob[32], blob[48], blob[56], blob[96], blob[104], blob[108], blob[112], blob[116], blob[118], blob[120]]).toEqual([2, 1, 3, 4, 5, 1, 6, 7, 8, 9, 10, 11, 12]);
});

test('a BLOB that is not whole records is STORE_DAMAGED', () => {
  for (const bad of [Buffer.alloc(0), Buffer.alloc(127), Buffer.alloc(129), 'text']) {
    expect(() => [...decodeTransfers(bad, 'row 1')]).toThrow(LedgerError);
  }
});
