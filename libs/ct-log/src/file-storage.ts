// Embedded file backend for the log, in one data directory:
//
//   entries.log  append-only; one frame per group-committed batch, fdatasync'd before the
//                batch's SCTs are released. Byte layout (all integers big-endian):
//                  frame   = magic "CTL1" (4) | payload length u32 | crc32c(payload) u32 |
//                            crc32c(previous 12 header bytes) u32 | payload
//                  payload = first index u64 | timestamp u64 | count u32 | count × entry
//                  entry   = leaf hash (32) | u32 len | leaf input | u32 len | extra data
//                The source of truth: every other file below can be rebuilt from it.
//   tree.idx     every stored Merkle hash in post-order (leaf i, then the parents leaf i
//                completes; storedHashCount in merkle.ts), 32 bytes each, ~64 bytes per leaf.
//   offsets.idx  u64 byte offset in entries.log of each entry record, 8 bytes per entry.
//   checkpoint.bin  tree size, entries.log end offset, final frame, CRCs of the side-file
//                prefixes and the root they cover (layout in checkpoint.ts). Replaced by write
//                tmp + fsync + rename + fsync dir.
//   sth.bin      the latest STH: magic "CTSTH001" (8) | length u32 | crc32c(body) u32 | body
//                (body = encodeSignedTreeHead), replaced like checkpoint.bin.
//   LOCK         pid of the process that has the directory open.
//
// Side files are written only when a checkpoint is taken (every checkpointEvery entries, after
// open, on close): append the new hashes and offsets, fdatasync both, then publish
// checkpoint.bin. Appends never wait for them, so an acknowledged entry depends on entries.log
// alone. Bytes past a checkpoint's prefix (an unfinished later checkpoint) are ignored and cut.
//
// Recovery rule for entries.log: frame N+1 is only written after frame N's fsync returned, so an
// acknowledged entry can never sit in a frame after a torn one. A damaged FINAL frame (partial
// header, payload running past end of file, or bad CRC on the frame that ends at end of file) is a
// torn write that was never acknowledged: it is truncated away. A damaged frame anywhere else —
// i.e. followed by any further bytes forming a valid frame, or more bytes than one frame can hold —
// is corruption: open fails with the file name and byte offset. (A final frame that rotted after
// being acknowledged cannot be told from a torn write; if an STH covered it, CtLog.open fails.)
//
// Recovery rule for the checkpoint: it is used only if checkpoint.bin decodes, entries.log is at
// least entries_end long, an unchanged length comes with an unchanged mtime (else the file was
// rewritten in place), the frame at last_frame_offset has the recorded CRC and ends at
// entries_end with index tree_size, both side-file prefixes match their CRCs, the restored tree
// has the recorded root, and sampled leaf hashes equal those in entries.log. Then only frames
// from entries_end on are read (under the rule above). Otherwise: warn naming the file and the
// reason, scan every frame, rebuild the side files. Frames the checkpoint covers are not
// re-verified at open; readEntries rehashes what it returns against the tree instead.
import { constants, fstatSync, promises as fsp, writeSync } from 'node:fs';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { type Checkpoint, decodeCheckpoint, encodeCheckpoint } from './checkpoint';
import { crc32c } from './crc32c';
import { CorruptionError, CtLogError } from './errors';
import { HASH_SIZE, type Hasher, sha256Hasher } from './hasher';
import { equalBytes, MerkleTree, storedHashCount } from './merkle';
import { decodeSignedTreeHead, encodeSignedTreeHead, type SignedTreeHead } from './sth';
import type { LogStorage, RecoveredState, StoredBatch, StoredEntry } from './storage';

const FRAME_MAGIC = 0x43544c31; // "CTL1"
const FRAME_HEADER = 16;
const PAYLOAD_HEADER = 20;
const STH_MAGIC = Buffer.from('CTSTH001');
const STH_HEADER = 16;
/** Upper bound of one frame's payload; also bounds how much the torn-tail rule may discard. */
export const MAX_FRAME_PAYLOAD = 64 * 1024 * 1024;
const MAX_STH_BYTES = 64 * 1024;
const READ_CHUNK = 4 * 1024 * 1024;

export const ENTRIES_FILE = 'entries.log';
export const STH_FILE = 'sth.bin';
export const CHECKPOINT_FILE = 'checkpoint.bin';
export const TREE_INDEX_FILE = 'tree.idx';
export const OFFSETS_FILE = 'offsets.idx';
const LOCK_FILE = 'LOCK';
const OFFSET_BYTES = 8;
/** Leaves per side-file read or write: bounds the transient buffer to ~4 MiB. */
const SIDE_CHUNK_LEAVES = 65536;
/** Leaf hashes compared between tree.idx and entries.log when a checkpoint is loaded. */
const SPOT_CHECKS = 8;
const DEFAULT_CHECKPOINT_EVERY = 16384;

export interface FileLogStorageOptions {
  logger?: Logger;
  /**
   * Take a checkpoint once this many entries were appended since the last one (default 16384):
   * it bounds how many frames the next open reads. Checkpoints are also taken after open and on
   * close.
   */
  checkpointEvery?: number;
  /** false: no side files and no checkpoint; every open scans all of entries.log. */
  checkpoints?: boolean;
}

/** Encodes one batch frame (exported for tests that need to craft damaged files). */
export function encodeFrame(batch: StoredBatch): Buffer {
  let size = PAYLOAD_HEADER;
  for (const e of batch.entries) size += HASH_SIZE + 8 + e.leafInput.length + e.extraData.length;
  if (size > MAX_FRAME_PAYLOAD) throw new CtLogError('INVALID_ARGUMENT', `batch of ${size} bytes exceeds the frame limit ${MAX_FRAME_PAYLOAD}`);
  const buf = Buffer.allocUnsafe(FRAME_HEADER + size);
  let p = FRAME_HEADER;
  buf.writeBigUInt64BE(BigInt(batch.firstIndex), p);
  buf.writeBigUInt64BE(BigInt(batch.timestamp), p + 8);
  buf.writeUInt32BE(batch.entries.length, p + 16);
  p += PAYLOAD_HEADER;
  for (const e of batch.entries) {
    if (e.leafHash.length !== HASH_SIZE) throw new RangeError(`leaf hash must be ${HASH_SIZE} bytes`);
    buf.set(e.leafHash, p);
    p += HASH_SIZE;
    buf.writeUInt32BE(e.leafInput.length, p);
    buf.set(e.leafInput, p + 4);
    p += 4 + e.leafInput.length;
    buf.writeUInt32BE(e.extraData.length, p);
    buf.set(e.extraData, p + 4);
    p += 4 + e.extraData.length;
  }
  buf.writeUInt32BE(FRAME_MAGIC, 0);
  buf.writeUInt32BE(size, 4);
  buf.writeUInt32BE(crc32c(buf.subarray(FRAME_HEADER)), 8);
  buf.writeUInt32BE(crc32c(buf.subarray(0, 12)), 12);
  return buf;
}

interface FrameHeader {
  ok: boolean;
  length: number;
  payloadCrc: number;
}

function readHeader(buf: Buffer, at: number): FrameHeader {
  const ok = buf.readUInt32BE(at) === FRAME_MAGIC && buf.readUInt32BE(at + 12) === crc32c(buf.subarray(at, at + 12));
  const length = buf.readUInt32BE(at + 4);
  return { ok: ok && length >= PAYLOAD_HEADER && length <= MAX_FRAME_PAYLOAD, length, payloadCrc: buf.readUInt32BE(at + 8) };
}

/** Growable array of numbers (entry offsets) without per-element objects: 8 bytes per entry. */
class OffsetIndex {
  private data = new Float64Array(1024);
  length = 0;

  reserve(n: number): void {
    if (n <= this.data.length) return;
    let len = this.data.length;
    while (len < n) len *= 2;
    const grown = new Float64Array(len);
    grown.set(this.data.subarray(0, this.length));
    this.data = grown;
  }

  push(v: number): void {
    if (this.length === this.data.length) this.reserve(this.length + 1);
    this.data[this.length++] = v;
  }

  get(i: number): number {
    return this.data[i]!;
  }
}

/** Why a checkpoint or side file cannot be used (logged, then open falls back to a full scan). */
class Unusable extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(reason);
  }
}

/** The newest frame of entries.log: what a checkpoint at the current size records. */
interface FrameInfo {
  offset: number;
  crc: number;
  end: number;
}

/** Reads up to len bytes at pos (fewer only at end of file), into `scratch` when it is big enough. */
async function readAt(handle: fsp.FileHandle, pos: number, len: number, scratch?: Buffer): Promise<Buffer> {
  const b = scratch && scratch.length >= len ? scratch.subarray(0, len) : Buffer.allocUnsafe(len);
  let got = 0;
  while (got < len) {
    const { bytesRead } = await handle.read(b, got, len - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return b.subarray(0, got);
}

function writeAllAt(fd: number, buf: Buffer, pos: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, pos + done);
}

export class FileLogStorage implements LogStorage {
  private handle: fsp.FileHandle | null = null;
  private treeFile: fsp.FileHandle | null = null;
  private offsetsFile: fsp.FileHandle | null = null;
  /** Bytes of entries.log holding durable frames. */
  private fileSize = 0;
  /** File offset of each entry record; an entry ends where the next starts (or a frame header does). */
  private offsets = new OffsetIndex();
  private lastFrame: FrameInfo | null = null;
  private lastTimestamp = 0;
  /** The tree returned by open, which the log extends; checkpoints persist it. */
  private tree: MerkleTree | null = null;
  private broken: Error | null = null;
  private readonly logger: Logger | undefined;
  private readonly checkpointEvery: number;
  private readonly useCheckpoints: boolean;
  /** Leaves written to the side files, and the running CRCs of their contents. */
  private sideLeaves = 0;
  private treeCrc = 0;
  private offsetsCrc = 0;
  /** A side-file write failed: no more checkpoints until reopened (the log itself carries on). */
  private sideFailed = false;
  /** Tree size of the last durable checkpoint. */
  private checkpointed = 0;
  private checkpointing: Promise<void> | null = null;

  constructor(
    readonly dir: string,
    options: FileLogStorageOptions = {},
  ) {
    this.logger = options.logger;
    this.checkpointEvery = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    this.useCheckpoints = options.checkpoints ?? true;
    if (!(Number.isSafeInteger(this.checkpointEvery) && this.checkpointEvery >= 0)) {
      throw new CtLogError('INVALID_ARGUMENT', `checkpointEvery must be a non-negative integer, got ${String(options.checkpointEvery)}`);
    }
  }

  get entriesPath(): string {
    return path.join(this.dir, ENTRIES_FILE);
  }

  get sthPath(): string {
    return path.join(this.dir, STH_FILE);
  }

  get checkpointPath(): string {
    return path.join(this.dir, CHECKPOINT_FILE);
  }

  get treeIndexPath(): string {
    return path.join(this.dir, TREE_INDEX_FILE);
  }

  get offsetsPath(): string {
    return path.join(this.dir, OFFSETS_FILE);
  }

  async open(hasher: Hasher = sha256Hasher): Promise<RecoveredState> {
    if (this.handle) throw new CtLogError('UNAVAILABLE', `${this.dir} is already open`);
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await this.lock();
    const handle = await fsp.open(this.entriesPath, constants.O_RDWR | constants.O_CREAT | constants.O_APPEND, 0o600);
    try {
      if (this.useCheckpoints) {
        this.treeFile = await fsp.open(this.treeIndexPath, constants.O_RDWR | constants.O_CREAT, 0o600);
        this.offsetsFile = await fsp.open(this.offsetsPath, constants.O_RDWR | constants.O_CREAT, 0o600);
      }
      const tree = await this.recover(handle, hasher);
      await fsp.rm(`${this.sthPath}.tmp`, { force: true }); // never renamed, so never published
      await fsp.rm(`${this.checkpointPath}.tmp`, { force: true });
      const sth = await this.readSth();
      this.handle = handle;
      this.tree = tree;
      return { tree, lastTimestamp: this.lastTimestamp, sth };
    } catch (err) {
      await handle.close();
      await this.closeSideFiles();
      await this.unlock();
      throw err;
    }
  }

  private async lock(): Promise<void> {
    const lockPath = path.join(this.dir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fsp.writeFile(lockPath, String(process.pid), { flag: 'wx', mode: 0o600 });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const pid = Number((await fsp.readFile(lockPath, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && (pid === process.pid || isAlive(pid))) {
        throw new CtLogError('UNAVAILABLE', `${this.dir} is in use by process ${pid} (${lockPath})`);
      }
      await fsp.rm(lockPath, { force: true }); // stale: its process is gone (e.g. killed)
    }
    throw new CtLogError('UNAVAILABLE', `could not lock ${this.dir}`);
  }

  private async unlock(): Promise<void> {
    await fsp.rm(path.join(this.dir, LOCK_FILE), { force: true });
  }

  private async closeSideFiles(): Promise<void> {
    const files = [this.treeFile, this.offsetsFile];
    this.treeFile = this.offsetsFile = null;
    for (const f of files) await f?.close();
  }

  /** Checkpoint + tail if the checkpoint holds up, else a full scan; then a fresh checkpoint. */
  private async recover(handle: fsp.FileHandle, hasher: Hasher): Promise<MerkleTree> {
    const st = await handle.stat({ bigint: true });
    const total = Number(st.size);
    this.resetState();
    let tree: MerkleTree | null = null;
    let from = 0;
    if (this.useCheckpoints) {
      try {
        tree = await this.loadCheckpoint(handle, total, st.mtimeNs, hasher);
        if (tree) from = this.fileSize;
      } catch (err) {
        const file = err instanceof Unusable || err instanceof CorruptionError ? err.file : this.checkpointPath;
        this.logger?.warn({ file, reason: (err as Error).message }, 'checkpoint unusable: scanning all of entries.log and rebuilding the side files');
        tree = null;
      }
      if (!tree) await this.resetSideFiles();
    }
    if (!tree) {
      this.resetState();
      tree = new MerkleTree(hasher);
    }
    const truncated = await this.scan(handle, total, from, tree);
    if (tree.size > 0 && (tree.size !== this.checkpointed || truncated)) await this.checkpointNow(handle, tree, true);
    return tree;
  }

  private resetState(): void {
    this.offsets = new OffsetIndex();
    this.fileSize = 0;
    this.lastFrame = null;
    this.lastTimestamp = 0;
    this.sideLeaves = 0;
    this.treeCrc = 0;
    this.offsetsCrc = 0;
    this.sideFailed = false;
    this.checkpointed = 0;
    this.broken = null;
  }

  /** The side files are about to be rebuilt: no checkpoint may point at them meanwhile. */
  private async resetSideFiles(): Promise<void> {
    await fsp.rm(this.checkpointPath, { force: true });
    await this.treeFile?.truncate(0);
    await this.offsetsFile?.truncate(0);
  }

  /**
   * Restores the tree and offset index from the side files under checkpoint.bin, after the checks
   * of the recovery rule (header comment). Returns null when there is neither a checkpoint nor
   * anything to scan; throws Unusable / CorruptionError naming the file otherwise.
   */
  private async loadCheckpoint(handle: fsp.FileHandle, total: number, mtimeNs: bigint, hasher: Hasher): Promise<MerkleTree | null> {
    let data: Buffer;
    try {
      data = await fsp.readFile(this.checkpointPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (total === 0) return null;
      throw new Unusable(this.checkpointPath, 'missing (e.g. a directory written before checkpoints existed)');
    }
    const cp = decodeCheckpoint(data, this.checkpointPath);
    const log = this.entriesPath;
    const size = cp.treeSize;
    if (total < cp.entriesEnd) throw new Unusable(log, `entries.log is ${total} bytes, shorter than the checkpoint's ${cp.entriesEnd}`);
    if (total === cp.entriesEnd && mtimeNs !== cp.entriesMtimeNs) {
      throw new Unusable(log, 'entries.log was rewritten in place since the checkpoint (same length, different mtime)');
    }
    const head = await readAt(handle, cp.lastFrameOffset, FRAME_HEADER + PAYLOAD_HEADER);
    const h = head.length === FRAME_HEADER + PAYLOAD_HEADER ? readHeader(head, 0) : null;
    if (
      !h?.ok ||
      h.payloadCrc !== cp.lastFrameCrc ||
      cp.lastFrameOffset + FRAME_HEADER + h.length !== cp.entriesEnd ||
      Number(head.readBigUInt64BE(FRAME_HEADER)) + head.readUInt32BE(FRAME_HEADER + 16) !== size
    ) {
      throw new Unusable(log, `the frame at byte offset ${cp.lastFrameOffset} is not the final frame the checkpoint recorded`);
    }

    if (size * (HASH_SIZE + 8) > cp.entriesEnd) throw new Unusable(this.checkpointPath, `${size} entries cannot fit in ${cp.entriesEnd} bytes`);
    const offBytes = size * OFFSET_BYTES;
    const offFile = this.offsetsFile!;
    const offLen = (await offFile.stat()).size;
    if (offLen < offBytes) throw new Unusable(this.offsetsPath, `${offLen} bytes, the checkpoint covers ${offBytes}`);
    const offsets = new OffsetIndex();
    offsets.reserve(size);
    // One reused chunk buffer: fresh 4 MiB buffers per chunk would pile up as garbage (peak RSS).
    const scratch = Buffer.allocUnsafe((2 * SIDE_CHUNK_LEAVES + 64) * HASH_SIZE);
    let crc = 0;
    let prev = 0;
    for (let a = 0; a < size; a += SIDE_CHUNK_LEAVES) {
      const n = Math.min(SIDE_CHUNK_LEAVES, size - a);
      const chunk = await readAt(offFile, a * OFFSET_BYTES, n * OFFSET_BYTES, scratch);
      if (chunk.length !== n * OFFSET_BYTES) throw new Unusable(this.offsetsPath, 'shorter than it was a moment ago');
      crc = crc32c(chunk, crc);
      for (let i = 0; i < n; i++) {
        const v = chunk.readUInt32BE(i * 8) * 2 ** 32 + chunk.readUInt32BE(i * 8 + 4);
        if (v < prev + (a + i === 0 ? FRAME_HEADER + PAYLOAD_HEADER : HASH_SIZE + 8) || v >= cp.entriesEnd) {
          throw new Unusable(this.offsetsPath, `offset of entry ${a + i} (${v}) is out of order or past entries_end`);
        }
        offsets.push(v);
        prev = v;
      }
    }
    if (crc !== cp.offsetsIdxCrc) throw new Unusable(this.offsetsPath, 'CRC of the covered prefix does not match the checkpoint');

    const treeBytes = storedHashCount(size) * HASH_SIZE;
    const treeFile = this.treeFile!;
    const treeLen = (await treeFile.stat()).size;
    if (treeLen < treeBytes) throw new Unusable(this.treeIndexPath, `${treeLen} bytes, the checkpoint covers ${treeBytes}`);
    const tree = new MerkleTree(hasher);
    tree.reserve(size);
    crc = 0;
    for (let a = 0; a < size; a += SIDE_CHUNK_LEAVES) {
      const b = Math.min(size, a + SIDE_CHUNK_LEAVES);
      const at = storedHashCount(a) * HASH_SIZE;
      const chunk = await readAt(treeFile, at, storedHashCount(b) * HASH_SIZE - at, scratch);
      if (chunk.length !== storedHashCount(b) * HASH_SIZE - at) throw new Unusable(this.treeIndexPath, 'shorter than it was a moment ago');
      crc = crc32c(chunk, crc);
      tree.restoreStoredHashes(chunk, b - a);
    }
    if (crc !== cp.treeIdxCrc) throw new Unusable(this.treeIndexPath, 'CRC of the covered prefix does not match the checkpoint');
    if (!equalBytes(tree.rootAt(size), cp.root)) throw new Unusable(this.treeIndexPath, `root of the restored tree at size ${size} differs from the checkpoint's`);
    // Cheap cross-checks against the source of truth: leaf hashes as entries.log stores them.
    for (let k = 0; k < SPOT_CHECKS; k++) {
      const i = Math.round(((size - 1) * k) / (SPOT_CHECKS - 1));
      const stored = await readAt(handle, offsets.get(i), HASH_SIZE);
      if (stored.length !== HASH_SIZE || !stored.equals(tree.leafHashView(i))) {
        throw new Unusable(log, `leaf hash of entry ${i} at byte offset ${offsets.get(i)} differs from tree.idx`);
      }
    }
    // Drop what an unfinished later checkpoint appended; the next checkpoint rewrites it.
    if (offLen > offBytes) await offFile.truncate(offBytes);
    if (treeLen > treeBytes) await treeFile.truncate(treeBytes);
    this.offsets = offsets;
    this.fileSize = cp.entriesEnd;
    this.lastFrame = { offset: cp.lastFrameOffset, crc: cp.lastFrameCrc, end: cp.entriesEnd };
    this.lastTimestamp = cp.lastTimestamp;
    this.sideLeaves = size;
    this.treeCrc = cp.treeIdxCrc;
    this.offsetsCrc = cp.offsetsIdxCrc;
    this.checkpointed = size;
    return tree;
  }

  /**
   * Reads frames from `from` (0, or a checkpoint's entries_end) to the end, checks CRCs and index
   * continuity, appends their leaves to `tree`, applies the torn-tail rule. True if it truncated.
   */
  private async scan(handle: fsp.FileHandle, total: number, from: number, tree: MerkleTree): Promise<boolean> {
    const file = this.entriesPath;
    let size = tree.size;
    let pos = from;
    let buf: Buffer = Buffer.alloc(0);
    let bufStart = 0; // file offset of buf[0]
    const ensure = async (at: number, len: number): Promise<Buffer> => {
      if (at >= bufStart && at + len <= bufStart + buf.length) return buf;
      buf = await readAt(handle, at, Math.min(Math.max(len, READ_CHUNK), total - at));
      bufStart = at;
      return buf;
    };
    let tornAt = -1;
    while (pos < total) {
      if (total - pos < FRAME_HEADER) {
        tornAt = pos;
        break;
      }
      const b = await ensure(pos, FRAME_HEADER);
      const h = readHeader(b, pos - bufStart);
      if (!h.ok) {
        if (total - pos <= FRAME_HEADER + MAX_FRAME_PAYLOAD && !(await this.validFrameAfter(handle, pos + 1, total))) {
          tornAt = pos;
          break;
        }
        throw new CorruptionError(file, pos, 'bad frame header (magic or header CRC) before the final frame');
      }
      const frameEnd = pos + FRAME_HEADER + h.length;
      if (frameEnd > total) {
        tornAt = pos; // the final frame was cut short
        break;
      }
      const fb = await ensure(pos, FRAME_HEADER + h.length);
      const payloadAt = pos - bufStart + FRAME_HEADER;
      const payload = fb.subarray(payloadAt, payloadAt + h.length);
      if (crc32c(payload) !== h.payloadCrc) {
        if (frameEnd === total) {
          tornAt = pos;
          break;
        }
        throw new CorruptionError(file, pos, `payload CRC mismatch in a non-final frame (${h.length} bytes)`);
      }
      const firstIndex = Number(payload.readBigUInt64BE(0));
      const timestamp = Number(payload.readBigUInt64BE(8));
      const count = payload.readUInt32BE(16);
      if (firstIndex !== size) throw new CorruptionError(file, pos, `frame starts at index ${firstIndex}, expected ${size}`);
      if (count === 0) throw new CorruptionError(file, pos, 'frame holds no entries');
      let p = PAYLOAD_HEADER;
      for (let i = 0; i < count; i++) {
        const entryAt = p;
        if (p + HASH_SIZE + 4 > h.length) throw new CorruptionError(file, pos + FRAME_HEADER + p, `entry ${size} overruns its frame`);
        tree.appendLeafHash(payload.subarray(p, p + HASH_SIZE));
        p += HASH_SIZE;
        const leafLen = payload.readUInt32BE(p);
        p += 4 + leafLen;
        if (p + 4 > h.length) throw new CorruptionError(file, pos + FRAME_HEADER + entryAt, `entry ${size} overruns its frame`);
        const extraLen = payload.readUInt32BE(p);
        p += 4 + extraLen;
        if (p > h.length) throw new CorruptionError(file, pos + FRAME_HEADER + entryAt, `entry ${size} overruns its frame`);
        this.offsets.push(pos + FRAME_HEADER + entryAt);
        size += 1;
      }
      if (p !== h.length) throw new CorruptionError(file, pos, `${h.length - p} stray bytes after the last entry of the frame`);
      this.lastTimestamp = Math.max(this.lastTimestamp, timestamp);
      this.lastFrame = { offset: pos, crc: h.payloadCrc, end: frameEnd };
      pos = frameEnd;
    }
    if (tornAt >= 0) {
      this.logger?.warn({ file, offset: tornAt, discardedBytes: total - tornAt }, 'truncating torn final frame (never acknowledged)');
      await handle.truncate(tornAt);
      await handle.sync();
      pos = tornAt;
    }
    this.fileSize = pos;
    return tornAt >= 0;
  }

  /** Whether any valid frame (header CRC and payload CRC) starts in (from, total). */
  private async validFrameAfter(handle: fsp.FileHandle, from: number, total: number): Promise<boolean> {
    if (from >= total) return false;
    const rest = await readAt(handle, from, total - from);
    for (let i = rest.indexOf('CTL1'); i >= 0 && i + FRAME_HEADER <= rest.length; i = rest.indexOf('CTL1', i + 1)) {
      const h = readHeader(rest, i);
      if (h.ok && i + FRAME_HEADER + h.length <= rest.length && crc32c(rest.subarray(i + FRAME_HEADER, i + FRAME_HEADER + h.length)) === h.payloadCrc) {
        return true;
      }
    }
    return false;
  }

  private async readSth(): Promise<SignedTreeHead | null> {
    const file = this.sthPath;
    let data: Buffer;
    try {
      data = await fsp.readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    if (data.length < STH_HEADER) throw new CorruptionError(file, 0, `file is ${data.length} bytes, shorter than its ${STH_HEADER}-byte header`);
    if (!data.subarray(0, 8).equals(STH_MAGIC)) throw new CorruptionError(file, 0, 'bad magic');
    const len = data.readUInt32BE(8);
    if (len > MAX_STH_BYTES || STH_HEADER + len !== data.length) {
      throw new CorruptionError(file, 8, `length field ${len} does not match the file size ${data.length}`);
    }
    const body = data.subarray(STH_HEADER);
    if (crc32c(body) !== data.readUInt32BE(12)) throw new CorruptionError(file, STH_HEADER, 'CRC mismatch');
    try {
      return decodeSignedTreeHead(body);
    } catch (err) {
      throw new CorruptionError(file, STH_HEADER, (err as Error).message);
    }
  }

  appendBatch(batch: StoredBatch): Promise<void> {
    const handle = this.handle;
    if (!handle) return Promise.reject(new CtLogError('UNAVAILABLE', 'storage is not open'));
    if (this.broken) return Promise.reject(new CtLogError('UNAVAILABLE', `storage stopped after a failed write: ${this.broken.message}`));
    if (batch.firstIndex !== this.offsets.length) {
      return Promise.reject(new Error(`batch starts at ${batch.firstIndex}, storage holds ${this.offsets.length}`));
    }
    let frame: Buffer;
    try {
      frame = encodeFrame(batch);
      // Copy into the page cache synchronously (cheap); the fdatasync below runs on the thread
      // pool, so the caller can sign SCTs while the disk flushes.
      let written = 0;
      while (written < frame.length) written += writeSync(handle.fd, frame, written, frame.length - written);
    } catch (err) {
      this.broken = err as Error;
      return Promise.reject(err);
    }
    const start = this.fileSize;
    return handle.datasync().then(
      () => {
        let p = start + FRAME_HEADER + PAYLOAD_HEADER;
        for (const e of batch.entries) {
          this.offsets.push(p);
          p += HASH_SIZE + 8 + e.leafInput.length + e.extraData.length;
        }
        this.fileSize = start + frame.length;
        this.lastFrame = { offset: start, crc: frame.readUInt32BE(8), end: this.fileSize };
        this.lastTimestamp = Math.max(this.lastTimestamp, batch.timestamp);
      },
      (err: Error) => {
        this.broken = err;
        throw err;
      },
    );
  }

  onTreeAdvanced(): void {
    const { handle, tree } = this;
    if (!handle || !tree || this.checkpointing || this.checkpointEvery === 0) return;
    if (tree.size - this.checkpointed < this.checkpointEvery) return;
    this.checkpointing = this.checkpointNow(handle, tree, false).finally(() => {
      this.checkpointing = null;
    });
  }

  /**
   * Resolves once no checkpoint is being written, with the tree size the last durable one covers
   * (0 if none): for operators (e.g. before copying the directory) and for tests.
   */
  async whenCheckpointed(): Promise<number> {
    while (this.checkpointing) await this.checkpointing;
    return this.checkpointed;
  }

  /**
   * Appends the side-file records for the leaves since the last checkpoint, makes them durable,
   * then publishes checkpoint.bin. Only at a size the newest frame ends (the tree caught up with
   * storage). Never rejects: a lost checkpoint only makes the next open read more frames.
   */
  private async checkpointNow(handle: fsp.FileHandle, tree: MerkleTree, force: boolean): Promise<void> {
    const size = tree.size;
    const frame = this.lastFrame;
    if (!this.useCheckpoints || this.sideFailed || size === 0 || (!force && size === this.checkpointed)) return;
    if (size !== this.offsets.length || !frame || frame.end !== this.fileSize) return;
    try {
      // Synchronous part: a consistent snapshot even if the log appends while we fsync.
      this.writeSide(tree, size);
      const cp: Checkpoint = {
        treeSize: size,
        entriesEnd: frame.end,
        entriesMtimeNs: fstatSync(handle.fd, { bigint: true }).mtimeNs,
        lastFrameOffset: frame.offset,
        lastFrameCrc: frame.crc,
        lastTimestamp: this.lastTimestamp,
        treeIdxCrc: this.treeCrc,
        offsetsIdxCrc: this.offsetsCrc,
        root: tree.rootAt(size),
      };
      await Promise.all([this.treeFile!.datasync(), this.offsetsFile!.datasync()]);
      await this.replaceFile(this.checkpointPath, encodeCheckpoint(cp));
      this.checkpointed = size;
    } catch (err) {
      this.sideFailed = true;
      this.logger?.warn({ err, file: this.checkpointPath, treeSize: size }, 'checkpoint failed; no more checkpoints until the log is reopened');
    }
  }

  private writeSide(tree: MerkleTree, size: number): void {
    const treeFd = this.treeFile!.fd;
    const offFd = this.offsetsFile!.fd;
    for (let a = this.sideLeaves; a < size; ) {
      const b = Math.min(size, a + SIDE_CHUNK_LEAVES);
      const hashes = tree.storedHashes(a, b);
      const offs = Buffer.allocUnsafe((b - a) * OFFSET_BYTES);
      for (let i = a; i < b; i++) {
        const v = this.offsets.get(i);
        offs.writeUInt32BE(Math.floor(v / 2 ** 32), (i - a) * 8);
        offs.writeUInt32BE(v % 2 ** 32, (i - a) * 8 + 4);
      }
      writeAllAt(treeFd, hashes, storedHashCount(a) * HASH_SIZE);
      writeAllAt(offFd, offs, a * OFFSET_BYTES);
      this.treeCrc = crc32c(hashes, this.treeCrc);
      this.offsetsCrc = crc32c(offs, this.offsetsCrc);
      this.sideLeaves = a = b;
    }
  }

  async readEntries(start: number, end: number): Promise<StoredEntry[]> {
    const handle = this.handle;
    if (!handle) throw new CtLogError('UNAVAILABLE', 'storage is not open');
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && 0 <= start && start <= end && end <= this.offsets.length)) {
      throw new RangeError(`entries [${start}, ${end}) are outside the stored range [0, ${this.offsets.length})`);
    }
    if (start === end) return [];
    // Consecutive entries may span frames; read the whole span and skip frame headers by offset.
    // The span ends where entry `end` starts (at most one frame header too far) or at the end.
    const file = this.entriesPath;
    const from = this.offsets.get(start);
    const to = end < this.offsets.length ? this.offsets.get(end) : this.fileSize;
    const buf = await readAt(handle, from, to - from);
    if (buf.length !== to - from) throw new CorruptionError(file, from + buf.length, 'unexpected end of file');
    const out: StoredEntry[] = [];
    for (let i = start; i < end; i++) {
      const at = this.offsets.get(i);
      let p = at - from;
      const overrun = (): CorruptionError => new CorruptionError(file, at, `entry ${i} overruns the bytes before the next entry`);
      if (p + HASH_SIZE + 4 > buf.length) throw overrun();
      const leafHash = buf.subarray(p, p + HASH_SIZE);
      p += HASH_SIZE;
      const leafLen = buf.readUInt32BE(p);
      if (p + 8 + leafLen > buf.length) throw overrun();
      const leafInput = buf.subarray(p + 4, p + 4 + leafLen);
      p += 4 + leafLen;
      const extraLen = buf.readUInt32BE(p);
      if (p + 4 + extraLen > buf.length) throw overrun();
      const extraData = buf.subarray(p + 4, p + 4 + extraLen);
      out.push({ leafHash, leafInput, extraData });
    }
    this.checkAgainstTree(start, out);
    return out;
  }

  /**
   * Open no longer CRC-checks the frames a checkpoint covers, so what is served is checked here:
   * each leaf input must hash to the tree's leaf hash (one batched hash call per page).
   */
  private checkAgainstTree(start: number, entries: StoredEntry[]): void {
    const tree = this.tree;
    if (!tree) return;
    const n = Math.max(0, Math.min(entries.length, tree.size - start));
    const hashes = tree.hasher.hashLeaves(entries.slice(0, n).map((e) => e.leafInput));
    for (let k = 0; k < n; k++) {
      const want = tree.leafHashView(start + k);
      if (!equalBytes(hashes[k]!, want) || !equalBytes(entries[k]!.leafHash, want)) {
        throw new CorruptionError(this.entriesPath, this.offsets.get(start + k), `entry ${start + k} does not match its leaf hash in the tree`);
      }
    }
  }

  async writeSth(sth: SignedTreeHead): Promise<void> {
    if (!this.handle) throw new CtLogError('UNAVAILABLE', 'storage is not open');
    const body = encodeSignedTreeHead(sth);
    const header = Buffer.alloc(STH_HEADER);
    STH_MAGIC.copy(header, 0);
    header.writeUInt32BE(body.length, 8);
    header.writeUInt32BE(crc32c(body), 12);
    await this.replaceFile(this.sthPath, Buffer.concat([header, body]));
  }

  /** Atomic, durable replace: write tmp, fsync, rename over `file`, fsync the directory. */
  private async replaceFile(file: string, data: Buffer): Promise<void> {
    const tmp = `${file}.tmp`;
    const fh = await fsp.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
    const dir = await fsp.open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  async close(): Promise<void> {
    const handle = this.handle;
    if (!handle) return;
    this.handle = null;
    await this.checkpointing;
    if (this.tree && !this.broken) await this.checkpointNow(handle, this.tree, false);
    this.tree = null;
    await this.closeSideFiles();
    await handle.close();
    await this.unlock();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
