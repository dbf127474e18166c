// A snapshot of the application state at a committed height: what a validator that was down
// too long (or lost its disk) installs instead of replaying blocks the others pruned.
//
// The bytes are newline-delimited JSON, one line per row, in a fixed order, so every honest
// validator that committed the same blocks writes the same bytes and the same SHA-256 digest:
//
//   line 1   header  {"format":"hypermesh-snapshot/2","chainTag":…,"height":…,"blockHash":…}
//   then     ["o", operationId, height]                    operations (idempotency), by id
//            ["a", assetId, kind, owner, attributesJson, createdHeight, updatedHeight]  by id
//            ["r", operationId, resultJson]                op_results, by id
//            ["s", nodeIdHex, sequence]                    node_sequences, by node id
//            ["h", height (16 digits), blockHash]          the SNAPSHOT_ANCHOR_BLOCKS committed
//                                                          blocks below the snapshot's, by height
//
// The "h" rows (format 2) let a validator that installs the snapshot check four-proof sets
// anchored to recent blocks it never held (PoTime anchors, at most maxAnchorAgeBlocks old);
// format 1 snapshots, without them, are still read.
//
// Row order within a section is SQLite's BINARY collation of the key (byte order), which does not
// depend on the machine. JSON escapes every control character, so a row never holds a newline.
// A peer's snapshot is trusted only through its digest, which f+1 validators must have signed
// (sync/snapshot-choice.ts); decoding still checks every row, with size limits.
import { createHash } from 'node:crypto';

export const SNAPSHOT_FORMAT = 'hypermesh-snapshot/2';
/** The format before the "h" rows; still read. */
export const SNAPSHOT_FORMAT_V1 = 'hypermesh-snapshot/1';
/**
 * Committed block hashes a snapshot carries below its height: the four-proof default
 * maxAnchorAgeBlocks. A chain configured with older anchors can have a just-synced validator
 * refuse anchors older than this below its snapshot (until its own chain covers them).
 */
export const SNAPSHOT_ANCHOR_BLOCKS = 1000;
/** Largest snapshot a validator accepts from a peer (and writes). */
export const MAX_SNAPSHOT_BYTES = 512 * 1024 * 1024;
/** Longest row (an asset's attributes, an operation's result). */
export const MAX_ROW_BYTES = 1024 * 1024;

export interface SnapshotHeader {
  format: typeof SNAPSHOT_FORMAT | typeof SNAPSHOT_FORMAT_V1;
  /** The chain (ValidatorSet.chainTagHex): a snapshot never crosses chains. */
  chainTag: string;
  height: number;
  blockHash: string;
}

export type OperationRow = readonly [operationId: string, height: number];
export type AssetRow = readonly [assetId: string, kind: string, owner: string, attributes: string, createdHeight: number, updatedHeight: number];
export type ResultRow = readonly [operationId: string, result: string];
export type SequenceRow = readonly [nodeIdHex: string, sequence: string];
export type BlockHashRow = readonly [height: number, blockHash: string];

/** The rows of a snapshot, each section sorted by its key. */
export interface SnapshotRows {
  operations: Iterable<OperationRow>;
  assets: Iterable<AssetRow>;
  results: Iterable<ResultRow>;
  sequences: Iterable<SequenceRow>;
  /** Ascending by height, all below the snapshot's height. */
  blockHashes: Iterable<BlockHashRow>;
}

export class SnapshotFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotFormatError';
  }
}

export function snapshotDigest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The snapshot's bytes (rows are read from the iterables once, in order). */
export function encodeSnapshot(header: Omit<SnapshotHeader, 'format'>, rows: SnapshotRows): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  const line = (value: unknown): void => {
    const b = Buffer.from(`${JSON.stringify(value)}\n`, 'utf8');
    size += b.byteLength;
    if (b.byteLength > MAX_ROW_BYTES + 1) throw new SnapshotFormatError(`a snapshot row is ${b.byteLength} bytes, more than ${MAX_ROW_BYTES}`);
    if (size > MAX_SNAPSHOT_BYTES) throw new SnapshotFormatError(`the snapshot is larger than ${MAX_SNAPSHOT_BYTES} bytes`);
    parts.push(b);
  };
  line({ format: SNAPSHOT_FORMAT, chainTag: header.chainTag, height: header.height, blockHash: header.blockHash });
  for (const r of rows.operations) line(['o', r[0], r[1]]);
  for (const r of rows.assets) line(['a', ...r]);
  for (const r of rows.results) line(['r', r[0], r[1]]);
  for (const r of rows.sequences) line(['s', r[0], r[1]]);
  for (const r of rows.blockHashes) line(['h', heightKey(r[0]), r[1]]);
  return Buffer.concat(parts, size);
}

export interface DecodedSnapshot {
  header: SnapshotHeader;
  operations: OperationRow[];
  assets: AssetRow[];
  results: ResultRow[];
  sequences: SequenceRow[];
  blockHashes: BlockHashRow[];
}

const SECTION_ORDER = ['o', 'a', 'r', 's', 'h'] as const;
/** Heights as fixed-width keys, so that byte order is height order. */
const heightKey = (h: number): string => String(h).padStart(16, '0');
const isStr = (v: unknown): v is string => typeof v === 'string';
const isHeight = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Parses and checks a snapshot: header, row shapes, section order, keys strictly ascending (so
 * no duplicates), every height at or below the snapshot's. Throws SnapshotFormatError naming the
 * line.
 */
export function decodeSnapshot(bytes: Uint8Array): DecodedSnapshot {
  if (bytes.byteLength > MAX_SNAPSHOT_BYTES) throw new SnapshotFormatError(`the snapshot is ${bytes.byteLength} bytes, more than ${MAX_SNAPSHOT_BYTES}`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.byteLength === 0 || buf[buf.byteLength - 1] !== 0x0a) throw new SnapshotFormatError('the snapshot does not end with a newline (truncated?)');
  const out: DecodedSnapshot = { header: null as unknown as SnapshotHeader, operations: [], assets: [], results: [], sequences: [], blockHashes: [] };
  let start = 0;
  let lineNo = 0;
  let section = -1;
  let lastKey: string | null = null;
  while (start < buf.byteLength) {
    const end = buf.indexOf(0x0a, start);
    lineNo++;
    if (end - start > MAX_ROW_BYTES) throw new SnapshotFormatError(`line ${lineNo} is longer than ${MAX_ROW_BYTES} bytes`);
    let v: unknown;
    try {
      v = JSON.parse(buf.toString('utf8', start, end));
    } catch {
      throw new SnapshotFormatError(`line ${lineNo} is not JSON`);
    }
    start = end + 1;
    if (lineNo === 1) {
      const h = v as Partial<SnapshotHeader> | null;
      if (!h || typeof h !== 'object' || (h.format !== SNAPSHOT_FORMAT && h.format !== SNAPSHOT_FORMAT_V1)) throw new SnapshotFormatError(`line 1: not a ${SNAPSHOT_FORMAT} (or ${SNAPSHOT_FORMAT_V1}) header`);
      if (!isStr(h.chainTag) || !isStr(h.blockHash) || !isHeight(h.height) || h.height < 1) throw new SnapshotFormatError('line 1: the header needs chainTag, blockHash and a height of 1 or more');
      out.header = { format: h.format, chainTag: h.chainTag, height: h.height, blockHash: h.blockHash };
      continue;
    }
    if (!Array.isArray(v) || v.length < 3) throw new SnapshotFormatError(`line ${lineNo}: not a row`);
    const tag = SECTION_ORDER.indexOf(v[0] as (typeof SECTION_ORDER)[number]);
    if (tag < 0) throw new SnapshotFormatError(`line ${lineNo}: unknown row kind ${JSON.stringify(v[0])}`);
    if (tag < section) throw new SnapshotFormatError(`line ${lineNo}: a ${String(v[0])} row after a later section`);
    if (tag > section) {
      section = tag;
      lastKey = null;
    }
    const key = v[1];
    if (!isStr(key) || (lastKey !== null && Buffer.compare(Buffer.from(lastKey), Buffer.from(key)) >= 0)) throw new SnapshotFormatError(`line ${lineNo}: keys must be strings in strictly ascending order`);
    lastKey = key;
    const top = out.header.height;
    switch (v[0]) {
      case 'o':
        if (v.length !== 3 || !isHeight(v[2]) || v[2] < 1 || v[2] > top) throw new SnapshotFormatError(`line ${lineNo}: an operation row is ["o", id, height ≤ ${top}]`);
        out.operations.push([key, v[2]]);
        break;
      case 'a':
        if (v.length !== 7 || !isStr(v[2]) || !isStr(v[3]) || !isStr(v[4]) || !isHeight(v[5]) || !isHeight(v[6]) || v[6] > top) throw new SnapshotFormatError(`line ${lineNo}: an asset row is ["a", id, kind, owner, attributes, created, updated ≤ ${top}]`);
        out.assets.push([key, v[2], v[3], v[4], v[5], v[6]]);
        break;
      case 'r':
        if (v.length !== 3 || !isStr(v[2])) throw new SnapshotFormatError(`line ${lineNo}: a result row is ["r", id, result]`);
        out.results.push([key, v[2]]);
        break;
      case 's':
        if (v.length !== 3 || !isStr(v[2]) || !/^[0-9a-f]*$/.test(key) || !/^\d+$/.test(v[2])) throw new SnapshotFormatError(`line ${lineNo}: a sequence row is ["s", nodeIdHex, decimal]`);
        out.sequences.push([key, v[2]]);
        break;
      case 'h': {
        const height = /^\d{16}$/.test(key) ? Number(key) : NaN;
        if (out.header.format === SNAPSHOT_FORMAT_V1 || v.length !== 3 || !isHeight(height) || height < Math.max(1, top - SNAPSHOT_ANCHOR_BLOCKS) || height >= top || !isStr(v[2]) || !/^[0-9a-f]{64}$/.test(v[2])) {
          throw new SnapshotFormatError(`line ${lineNo}: a block hash row is ["h", 16-digit height from ${Math.max(1, top - SNAPSHOT_ANCHOR_BLOCKS)} to ${top - 1}, 64 hex digits] (format ${SNAPSHOT_FORMAT} only)`);
        }
        out.blockHashes.push([height, v[2]]);
        break;
      }
    }
  }
  if (lineNo === 0 || out.header === null) throw new SnapshotFormatError('the snapshot has no header');
  return out;
}
