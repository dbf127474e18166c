// A transfer as a fixed 128-byte record: TigerBeetle's Transfer layout (little-endian), so a
// batch of transfers is stored as ONE BLOB (a row of the transfer log) instead of one row per
// transfer with four B-tree inserts each — the per-row cost that kept the store under 100k/s.
//
//   offset  size  field               offset  size  field
//        0    16  id                     104     4  user_data_32
//       16    16  debit_account_id       108     4  timeout
//       32    16  credit_account_id      112     4  ledger
//       48    16  amount                 116     2  code
//       64    16  pending_id             118     2  flags
//       80    16  user_data_128          120     8  timestamp
//       96     8  user_data_64
import { LedgerError } from '../errors';
import type { Transfer } from '../core/types';

export const TRANSFER_RECORD_BYTES = 128;

const U64_MAX = (1n << 64n) - 1n;
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const TWO_32 = 2 ** 32;

/** Writes a u64 as two u32 words; values up to 2^53 (most ids, amounts, timestamps) without bigint arithmetic. */
function writeU64(v: DataView, x: bigint, at: number): void {
  if (x <= SAFE) {
    const n = Number(x);
    v.setUint32(at, n % TWO_32, true);
    v.setUint32(at + 4, Math.floor(n / TWO_32), true);
  } else {
    v.setBigUint64(at, x, true);
  }
}

function writeU128(v: DataView, x: bigint, at: number): void {
  if (x <= U64_MAX) {
    writeU64(v, x, at);
    v.setUint32(at + 8, 0, true);
    v.setUint32(at + 12, 0, true);
  } else {
    v.setBigUint64(at, x & U64_MAX, true);
    v.setBigUint64(at + 8, x >> 64n, true);
  }
}

function readU128(b: Buffer, at: number): bigint {
  const lo = b.readBigUInt64LE(at);
  const hi = b.readBigUInt64LE(at + 8);
  return hi === 0n ? lo : (hi << 64n) | lo;
}

/** Encodes transfers (in timestamp order) as consecutive records. */
export function encodeTransfers(transfers: readonly Transfer[]): Buffer {
  const b = Buffer.allocUnsafe(transfers.length * TRANSFER_RECORD_BYTES);
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  let at = 0;
  for (const t of transfers) {
    writeU128(v, t.id, at);
    writeU128(v, t.debitAccountId, at + 16);
    writeU128(v, t.creditAccountId, at + 32);
    writeU128(v, t.amount, at + 48);
    writeU128(v, t.pendingId, at + 64);
    writeU128(v, t.userData128, at + 80);
    writeU64(v, t.userData64, at + 96);
    v.setUint32(at + 104, t.userData32, true);
    v.setUint32(at + 108, t.timeout, true);
    v.setUint32(at + 112, t.ledger, true);
    v.setUint16(at + 116, t.code, true);
    v.setUint16(at + 118, t.flags, true);
    writeU64(v, t.timestamp, at + 120);
    at += TRANSFER_RECORD_BYTES;
  }
  return b;
}

/** Decodes the records of one BLOB; `where` names it in the STORE_DAMAGED error. */
export function* decodeTransfers(blob: unknown, where: string): Generator<Transfer> {
  if (!(blob instanceof Uint8Array) || blob.length === 0 || blob.length % TRANSFER_RECORD_BYTES !== 0) {
    throw new LedgerError('STORE_DAMAGED', `${where} is not a whole number of ${TRANSFER_RECORD_BYTES}-byte transfer records; the ledger database is damaged`);
  }
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.length);
  for (let at = 0; at < b.length; at += TRANSFER_RECORD_BYTES) {
    yield {
      id: readU128(b, at),
      debitAccountId: readU128(b, at + 16),
      creditAccountId: readU128(b, at + 32),
      amount: readU128(b, at + 48),
      pendingId: readU128(b, at + 64),
      userData128: readU128(b, at + 80),
      userData64: b.readBigUInt64LE(at + 96),
      userData32: b.readUInt32LE(at + 104),
      timeout: b.readUInt32LE(at + 108),
      ledger: b.readUInt32LE(at + 112),
      code: b.readUInt16LE(at + 116),
      flags: b.readUInt16LE(at + 118),
      timestamp: b.readBigUInt64LE(at + 120),
    };
  }
}
