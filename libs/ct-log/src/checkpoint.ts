// checkpoint.bin: where the tree stood when the side files were last made durable, so open can
// load the tree instead of re-reading every frame of entries.log. Byte layout (big-endian):
//
//   checkpoint = magic "CTCK" (4) | version u16 (1) | body length u16 (84) | crc32c(body) u32 | body
//   body       = tree_size u64          entries [0, tree_size) are covered
//              | entries_end u64        byte offset in entries.log where entry tree_size-1's frame ends
//              | entries_mtime_ns u64   entries.log mtime when the checkpoint was taken
//              | last_frame_offset u64  where that final covered frame starts
//              | last_frame_crc u32     its payload CRC (as in its header)
//              | last_timestamp u64     largest batch timestamp of the covered frames
//              | tree_idx_crc u32       crc32c of tree.idx [0, 32 × storedHashCount(tree_size))
//              | offsets_idx_crc u32    crc32c of offsets.idx [0, 8 × tree_size)
//              | root [32]              MTH of the covered entries
//
// Pure codec: no I/O. Every decode failure is a CorruptionError naming the file and offset; the
// file backend treats any of them as "no usable checkpoint" and falls back to a full scan.
import { crc32c } from './crc32c';
import { CorruptionError } from './errors';
import { HASH_SIZE } from './hasher';

export const CHECKPOINT_MAGIC = Buffer.from('CTCK');
export const CHECKPOINT_VERSION = 1;
const HEADER = 12;
const BODY = 84;
export const CHECKPOINT_BYTES = HEADER + BODY;

export interface Checkpoint {
  treeSize: number;
  entriesEnd: number;
  /** entries.log mtime in ns when taken: an in-place rewrite that keeps the size changes it. */
  entriesMtimeNs: bigint;
  lastFrameOffset: number;
  lastFrameCrc: number;
  lastTimestamp: number;
  treeIdxCrc: number;
  offsetsIdxCrc: number;
  root: Uint8Array;
}

function u64(v: number, name: string): bigint {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative safe integer, got ${v}`);
  return BigInt(v);
}

export function encodeCheckpoint(cp: Checkpoint): Buffer {
  if (cp.root.length !== HASH_SIZE) throw new RangeError(`root must be ${HASH_SIZE} bytes, got ${cp.root.length}`);
  const buf = Buffer.alloc(CHECKPOINT_BYTES);
  CHECKPOINT_MAGIC.copy(buf, 0);
  buf.writeUInt16BE(CHECKPOINT_VERSION, 4);
  buf.writeUInt16BE(BODY, 6);
  let p = HEADER;
  buf.writeBigUInt64BE(u64(cp.treeSize, 'treeSize'), p);
  buf.writeBigUInt64BE(u64(cp.entriesEnd, 'entriesEnd'), p + 8);
  buf.writeBigUInt64BE(BigInt.asUintN(64, cp.entriesMtimeNs), p + 16);
  buf.writeBigUInt64BE(u64(cp.lastFrameOffset, 'lastFrameOffset'), p + 24);
  buf.writeUInt32BE(cp.lastFrameCrc >>> 0, p + 32);
  buf.writeBigUInt64BE(u64(cp.lastTimestamp, 'lastTimestamp'), p + 36);
  buf.writeUInt32BE(cp.treeIdxCrc >>> 0, p + 44);
  buf.writeUInt32BE(cp.offsetsIdxCrc >>> 0, p + 48);
  p += 52;
  buf.set(cp.root, p);
  buf.writeUInt32BE(crc32c(buf.subarray(HEADER)), 8);
  return buf;
}

function safe(v: bigint, file: string, at: number, name: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptionError(file, at, `${name} ${v} is not a safe integer`);
  return Number(v);
}

/** Decodes checkpoint.bin (`file` names it in errors). */
export function decodeCheckpoint(data: Uint8Array, file: string): Checkpoint {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < HEADER) throw new CorruptionError(file, 0, `file is ${buf.length} bytes, shorter than its ${HEADER}-byte header`);
  if (!buf.subarray(0, 4).equals(CHECKPOINT_MAGIC)) throw new CorruptionError(file, 0, 'bad magic');
  const version = buf.readUInt16BE(4);
  if (version !== CHECKPOINT_VERSION) throw new CorruptionError(file, 4, `unsupported version ${version} (want ${CHECKPOINT_VERSION})`);
  const len = buf.readUInt16BE(6);
  if (len !== BODY || buf.length !== HEADER + len) {
    throw new CorruptionError(file, 6, `body length field ${len} and file size ${buf.length} do not match the ${BODY}-byte body`);
  }
  const body = buf.subarray(HEADER);
  if (crc32c(body) !== buf.readUInt32BE(8)) throw new CorruptionError(file, HEADER, 'CRC mismatch');
  const at = (o: number): number => HEADER + o;
  const treeSize = safe(body.readBigUInt64BE(0), file, at(0), 'tree_size');
  const entriesEnd = safe(body.readBigUInt64BE(8), file, at(8), 'entries_end');
  const lastFrameOffset = safe(body.readBigUInt64BE(24), file, at(24), 'last_frame_offset');
  const lastTimestamp = safe(body.readBigUInt64BE(36), file, at(36), 'last_timestamp');
  if (treeSize === 0) throw new CorruptionError(file, at(0), 'checkpoint of an empty tree');
  if (lastFrameOffset >= entriesEnd) throw new CorruptionError(file, at(24), `last frame offset ${lastFrameOffset} is not below entries_end ${entriesEnd}`);
  return {
    treeSize,
    entriesEnd,
    entriesMtimeNs: body.readBigUInt64BE(16),
    lastFrameOffset,
    lastFrameCrc: body.readUInt32BE(32),
    lastTimestamp,
    treeIdxCrc: body.readUInt32BE(44),
    offsetsIdxCrc: body.readUInt32BE(48),
    root: Buffer.from(body.subarray(52, 52 + HASH_SIZE)),
  };
}
