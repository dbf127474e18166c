// Embedded file backend for the log, in one data directory:
//
//   entries.log  append-only; one frame per group-committed batch, fdatasync'd before the
//                batch's SCTs are released. Byte layout (all integers big-endian):
//                  frame   = magic "CTL1" (4) | payload length u32 | crc32c(payload) u32 |
//                            crc32c(previous 12 header bytes) u32 | payload
//                  payload = first index u64 | timestamp u64 | count u32 | count × entry
//                  entry   = leaf hash (32) | u32 len | leaf input | u32 len | extra data
//   sth.bin      the latest STH: magic "CTSTH001" (8) | length u32 | crc32c(body) u32 | body
//                (body = encodeSignedTreeHead), replaced by write tmp + fsync + rename + fsync dir.
//   LOCK         pid of the process that has the directory open.
//
// Recovery rule for entries.log: frame N+1 is only written after frame N's fsync returned, so an
// acknowledged entry can never sit in a frame after a torn one. A damaged FINAL frame (partial
// header, payload running past end of file, or bad CRC on the frame that ends at end of file) is a
// torn write that was never acknowledged: it is truncated away. A damaged frame anywhere else —
// i.e. followed by any further bytes forming a valid frame, or more bytes than one frame can hold —
// is corruption: open fails with the file name and byte offset. (A final frame that rotted after
// being acknowledged cannot be told from a torn write; if an STH covered it, CtLog.open fails.)
import { constants, promises as fsp, writeSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { crc32c } from './crc32c';
import { CorruptionError, CtLogError } from './errors';
import { HASH_SIZE } from './hasher';
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
const LOCK_FILE = 'LOCK';

export interface FileLogStorageOptions {
  logger?: Logger;
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

/** Growable array of numbers (entry offsets) without per-element objects. */
class OffsetIndex {
  private data = new Float64Array(1024);
  length = 0;

  push(v: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }

  get(i: number): number {
    return this.data[i]!;
  }
}

export class FileLogStorage implements LogStorage {
  private handle: fsp.FileHandle | null = null;
  private fileSize = 0;
  /** File offset of each entry record; entry i spans [offsets[i], ends[i]). */
  private readonly offsets = new OffsetIndex();
  private readonly ends = new OffsetIndex();
  private broken: Error | null = null;
  private readonly logger: Logger | undefined;

  constructor(
    readonly dir: string,
    options: FileLogStorageOptions = {},
  ) {
    this.logger = options.logger;
  }

  get entriesPath(): string {
    return path.join(this.dir, ENTRIES_FILE);
  }

  get sthPath(): string {
    return path.join(this.dir, STH_FILE);
  }

  async open(): Promise<RecoveredState> {
    if (this.handle) throw new CtLogError('UNAVAILABLE', `${this.dir} is already open`);
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await this.lock();
    const handle = await fsp.open(this.entriesPath, constants.O_RDWR | constants.O_CREAT | constants.O_APPEND, 0o600);
    try {
      const recovered = await this.scan(handle);
      await fsp.rm(`${this.sthPath}.tmp`, { force: true }); // never renamed, so never published
      const sth = await this.readSth();
      this.handle = handle;
      return { ...recovered, sth };
    } catch (err) {
      await handle.close();
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

  /** Reads every frame, checks CRCs and index continuity, applies the torn-tail rule. */
  private async scan(handle: fsp.FileHandle): Promise<Omit<RecoveredState, 'sth'>> {
    const file = this.entriesPath;
    const st: Stats = await handle.stat();
    const total = st.size;
    const hashes: Buffer[] = [];
    let size = 0;
    let lastTimestamp = 0;
    let pos = 0;
    let buf = Buffer.alloc(0);
    let bufStart = 0; // file offset of buf[0]
    const ensure = async (from: number, len: number): Promise<Buffer> => {
      if (from >= bufStart && from + len <= bufStart + buf.length) return buf;
      const want = Math.max(len, READ_CHUNK);
      const n = Math.min(want, total - from);
      const b = Buffer.allocUnsafe(n);
      let got = 0;
      while (got < n) {
        const { bytesRead } = await handle.read(b, got, n - got, from + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      buf = b.subarray(0, got);
      bufStart = from;
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
        hashes.push(Buffer.from(payload.subarray(p, p + HASH_SIZE)));
        p += HASH_SIZE;
        const leafLen = payload.readUInt32BE(p);
        p += 4 + leafLen;
        if (p + 4 > h.length) throw new CorruptionError(file, pos + FRAME_HEADER + entryAt, `entry ${size} overruns its frame`);
        const extraLen = payload.readUInt32BE(p);
        p += 4 + extraLen;
        if (p > h.length) throw new CorruptionError(file, pos + FRAME_HEADER + entryAt, `entry ${size} overruns its frame`);
        this.offsets.push(pos + FRAME_HEADER + entryAt);
        this.ends.push(pos + FRAME_HEADER + p);
        size += 1;
      }
      if (p !== h.length) throw new CorruptionError(file, pos, `${h.length - p} stray bytes after the last entry of the frame`);
      lastTimestamp = Math.max(lastTimestamp, timestamp);
      pos = frameEnd;
    }
    if (tornAt >= 0) {
      this.logger?.warn({ file, offset: tornAt, discardedBytes: total - tornAt }, 'truncating torn final frame (never acknowledged)');
      await handle.truncate(tornAt);
      await handle.sync();
      pos = tornAt;
    }
    this.fileSize = pos;
    return { size, leafHashes: Buffer.concat(hashes), lastTimestamp };
  }

  /** Whether any valid frame (header CRC and payload CRC) starts in (from, total). */
  private async validFrameAfter(handle: fsp.FileHandle, from: number, total: number): Promise<boolean> {
    if (from >= total) return false;
    const rest = Buffer.allocUnsafe(total - from);
    await handle.read(rest, 0, rest.length, from);
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
          this.ends.push(p);
        }
        this.fileSize = start + frame.length;
      },
      (err: Error) => {
        this.broken = err;
        throw err;
      },
    );
  }

  async readEntries(start: number, end: number): Promise<StoredEntry[]> {
    const handle = this.handle;
    if (!handle) throw new CtLogError('UNAVAILABLE', 'storage is not open');
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && 0 <= start && start <= end && end <= this.offsets.length)) {
      throw new RangeError(`entries [${start}, ${end}) are outside the stored range [0, ${this.offsets.length})`);
    }
    if (start === end) return [];
    // Consecutive entries may span frames; read the whole span and skip frame headers by offset.
    const from = this.offsets.get(start);
    const to = this.ends.get(end - 1);
    const buf = Buffer.allocUnsafe(to - from);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await handle.read(buf, got, buf.length - got, from + got);
      if (bytesRead === 0) throw new CorruptionError(this.entriesPath, from + got, 'unexpected end of file');
      got += bytesRead;
    }
    const out: StoredEntry[] = [];
    for (let i = start; i < end; i++) {
      let p = this.offsets.get(i) - from;
      const leafHash = buf.subarray(p, p + HASH_SIZE);
      p += HASH_SIZE;
      const leafLen = buf.readUInt32BE(p);
      const leafInput = buf.subarray(p + 4, p + 4 + leafLen);
      p += 4 + leafLen;
      const extraLen = buf.readUInt32BE(p);
      const extraData = buf.subarray(p + 4, p + 4 + extraLen);
      out.push({ leafHash, leafInput, extraData });
    }
    return out;
  }

  async writeSth(sth: SignedTreeHead): Promise<void> {
    if (!this.handle) throw new CtLogError('UNAVAILABLE', 'storage is not open');
    const body = encodeSignedTreeHead(sth);
    const header = Buffer.alloc(STH_HEADER);
    STH_MAGIC.copy(header, 0);
    header.writeUInt32BE(body.length, 8);
    header.writeUInt32BE(crc32c(body), 12);
    const tmp = `${this.sthPath}.tmp`;
    const fh = await fsp.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(Buffer.concat([header, body]));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, this.sthPath);
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
