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

function writeU128(b: Buffer, v: bigint, at: number): void {
  // Most ids and amounts fit 64 bits: skip the shift and mask (each allocates a bigint).
  if (v <= U64_MAX) {
    b.writeBigUInt64LE(v, at);
    b.writeBigUInt64LE(0n, at + 8);
  } else {
    b.writeBigUInt64LE(v & U64_MAX, at);
    b.writeBigUInt64LE(v >> 64n, at + 8);
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
  let at = 0;
  for (const t of transfers) {
    writeU128(b, t.id, at);
    writeU128(b, t.debitAccountId, at + 16);
    writeU128(b, t.creditAccountId, at + 32);
    writeU128(b, t.amount, at + 48);
    writeU128(b, t.pendingId, at + 64);
    writeU128(b, t.userData128, at + 80);
    b.writeBigUInt64LE(t.userData64, at + 96);
    b.writeUInt32LE(t.userData32, at + 104);
    b.writeUInt32LE(t.timeout, at + 108);
    b.writeUInt32LE(t.ledger, at + 112);
    b.writeUInt16LE(t.code, at + 116);
    b.writeUInt16LE(t.flags, at + 118);
    b.writeBigUInt64LE(t.timestamp, at + 120);
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
