// Deterministic binary encoding: one canonical byte string per value, used both for signing
// (via signing.ts) and on the wire. Hand-written instead of protobuf because this library must
// not depend on anything (DESIGN.md "Layers"), protobuf encodings are not canonical, and the
// format is five messages of fixed-width big-endian integers and u16/u32 length-prefixed bytes.
// Every read is bounds-checked and every count/length is checked against ConsensusLimits
// before anything is allocated, so hostile bytes cost at most one pass over the input.
import { CodecError, RejectCode } from './errors';
import { toHex } from './hash';
import type {
  Block,
  BlockHash,
  CommittedBlock,
  Message,
  QuorumCertificate,
  TimeoutCertificate,
  TimeoutSignature,
  ValidatorSignature,
} from './types';

/** Size limits applied when decoding (and asserted when encoding). */
export interface ConsensusLimits {
  /** Largest encoded message. */
  maxMessageBytes: number;
  /** Most operations in one block. */
  maxBlockOps: number;
  /** Largest single operation. */
  maxOpBytes: number;
  /** Largest sum of operation sizes in one block. */
  maxBlockPayloadBytes: number;
  /** Largest signature (FALCON-1024 signatures are up to 1,462 bytes padded; 2 KiB leaves room). */
  maxSignatureBytes: number;
  /** Most signatures in one certificate (at most the validator count in practice). */
  maxValidators: number;
  /** Most blocks in one block response. */
  maxBlocksPerResponse: number;
}

export const DEFAULT_LIMITS: Readonly<ConsensusLimits> = Object.freeze({
  maxMessageBytes: 8 * 1024 * 1024,
  maxBlockOps: 10_000,
  maxOpBytes: 64 * 1024,
  maxBlockPayloadBytes: 4 * 1024 * 1024,
  maxSignatureBytes: 2048,
  maxValidators: 1024,
  maxBlocksPerResponse: 64,
});

const TAG = { proposal: 1, vote: 2, timeout: 3, 'block-request': 4, 'block-response': 5 } as const;
const WIRE_VERSION = 1;
const TWO32 = 2 ** 32;

export class Writer {
  private buf: Uint8Array;
  private dv: DataView;
  private nodeBuf: Buffer;
  private pos = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
    this.dv = new DataView(this.buf.buffer);
    this.nodeBuf = Buffer.from(this.buf.buffer);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.dv = new DataView(next.buffer);
    this.nodeBuf = Buffer.from(next.buffer);
  }

  u8(v: number): this {
    this.ensure(1);
    this.dv.setUint8(this.pos, v);
    this.pos += 1;
    return this;
  }

  u16(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`u16 out of range: ${v}`);
    this.ensure(2);
    this.dv.setUint16(this.pos, v);
    this.pos += 2;
    return this;
  }

  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v >= TWO32) throw new RangeError(`u32 out of range: ${v}`);
    this.ensure(4);
    this.dv.setUint32(this.pos, v);
    this.pos += 4;
    return this;
  }

  /** Non-negative safe integer as 8 bytes big-endian. */
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 must be a non-negative safe integer: ${v}`);
    this.ensure(8);
    this.dv.setUint32(this.pos, Math.floor(v / TWO32));
    this.dv.setUint32(this.pos + 4, v % TWO32);
    this.pos += 8;
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.ensure(bytes.byteLength);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.byteLength;
    return this;
  }

  hash(h: BlockHash): this {
    this.ensure(32);
    // Buffer.write stops at the first non-hex character, so a short count means a bad hash.
    const n = h.length === 64 ? this.nodeBuf.write(h, this.pos, 32, 'hex') : 0;
    if (n !== 32) throw new RangeError(`not a block hash: ${h}`);
    this.pos += 32;
    return this;
  }

  bytes16(b: Uint8Array): this {
    return this.u16(b.byteLength).raw(b);
  }

  bytes32(b: Uint8Array): this {
    return this.u32(b.byteLength).raw(b);
  }

  /** A copy of the bytes written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /** The bytes written, without copying: valid until the writer is written to or reset. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** Start over, keeping the buffer (for hot paths that hash or sign and discard). */
  reset(): this {
    this.pos = 0;
    return this;
  }
}

export class Reader {
  private readonly view: DataView;
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.byteLength) throw new CodecError(RejectCode.MALFORMED, `truncated: need ${n} bytes at offset ${this.pos}`);
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.pos++);
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): number {
    this.need(8);
    const hi = this.view.getUint32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    this.pos += 8;
    const v = hi * TWO32 + lo;
    if (!Number.isSafeInteger(v)) throw new CodecError(RejectCode.MALFORMED, 'integer beyond 2^53');
    return v;
  }

  /** A view into the input (no copy): decoded values share the received buffer. */
  raw(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  hash(): BlockHash {
    this.need(32);
    const h = toHex(this.buf.subarray(this.pos, this.pos + 32));
    this.pos += 32;
    return h;
  }

  bytes16(max: number, what: string): Uint8Array {
    const n = this.u16();
    if (n > max) throw new CodecError(RejectCode.OVERSIZED, `${what}: ${n} bytes > limit ${max}`);
    return this.raw(n);
  }

  bytes32(max: number, what: string): Uint8Array {
    const n = this.u32();
    if (n > max) throw new CodecError(RejectCode.OVERSIZED, `${what}: ${n} bytes > limit ${max}`);
    return this.raw(n);
  }

  count16(max: number, what: string): number {
    const n = this.u16();
    if (n > max) throw new CodecError(RejectCode.OVERSIZED, `${what}: ${n} > limit ${max}`);
    return n;
  }

  get remaining(): number {
    return this.buf.byteLength - this.pos;
  }

  end(): void {
    if (this.remaining !== 0) throw new CodecError(RejectCode.MALFORMED, `${this.remaining} trailing bytes`);
  }
}

function writeQc(w: Writer, qc: QuorumCertificate): void {
  w.u64(qc.view).u64(qc.height).hash(qc.blockHash).u16(qc.signatures.length);
  for (const s of qc.signatures) w.u16(s.validator).bytes16(s.signature);
}

function readSignerOrder(prev: number, id: number): void {
  // Canonical order doubles as duplicate rejection: a signer can never be counted twice.
  if (id <= prev) throw new CodecError(RejectCode.MALFORMED, `signatures not in strictly increasing validator order (${id} after ${prev})`);
}

function readQc(r: Reader, l: ConsensusLimits): QuorumCertificate {
  const view = r.u64();
  const height = r.u64();
  const blockHash = r.hash();
  const n = r.count16(l.maxValidators, 'QC signatures');
  const signatures: ValidatorSignature[] = [];
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const validator = r.u16();
    readSignerOrder(prev, validator);
    prev = validator;
    signatures.push({ validator, signature: r.bytes16(l.maxSignatureBytes, 'signature') });
  }
  return { view, height, blockHash, signatures };
}

function writeTc(w: Writer, tc: TimeoutCertificate): void {
  w.u64(tc.view);
  writeQc(w, tc.highQc);
  w.u16(tc.signatures.length);
  for (const s of tc.signatures) w.u16(s.validator).u64(s.highQcView).bytes16(s.signature);
}

function readTc(r: Reader, l: ConsensusLimits): TimeoutCertificate {
  const view = r.u64();
  const highQc = readQc(r, l);
  const n = r.count16(l.maxValidators, 'TC signatures');
  const signatures: TimeoutSignature[] = [];
  let prev = -1;
  for (let i = 0; i < n; i++) {
    const validator = r.u16();
    readSignerOrder(prev, validator);
    prev = validator;
    signatures.push({ validator, highQcView: r.u64(), signature: r.bytes16(l.maxSignatureBytes, 'signature') });
  }
  return { view, highQc, signatures };
}

function writeOptionalTc(w: Writer, tc: TimeoutCertificate | null): void {
  if (tc === null) w.u8(0);
  else writeTc(w.u8(1), tc);
}

function readOptionalTc(r: Reader, l: ConsensusLimits): TimeoutCertificate | null {
  const flag = r.u8();
  if (flag === 0) return null;
  if (flag !== 1) throw new CodecError(RejectCode.MALFORMED, `bad optional flag ${flag}`);
  return readTc(r, l);
}

export function writeBlock(w: Writer, b: Block): void {
  w.u64(b.height).u64(b.view).u16(b.proposer).hash(b.parentHash);
  writeQc(w, b.justify);
  w.u32(b.payload.length);
  for (const op of b.payload) w.bytes32(op);
}

function readBlock(r: Reader, l: ConsensusLimits): Block {
  const height = r.u64();
  const view = r.u64();
  const proposer = r.u16();
  const parentHash = r.hash();
  const justify = readQc(r, l);
  const n = r.u32();
  if (n > l.maxBlockOps) throw new CodecError(RejectCode.OVERSIZED, `block has ${n} operations > limit ${l.maxBlockOps}`);
  const payload: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < n; i++) {
    const op = r.bytes32(l.maxOpBytes, 'operation');
    total += op.byteLength;
    if (total > l.maxBlockPayloadBytes) throw new CodecError(RejectCode.OVERSIZED, `block payload > limit ${l.maxBlockPayloadBytes} bytes`);
    payload.push(op);
  }
  return { height, view, proposer, parentHash, justify, payload };
}

/** Shared by the encoders below: they finish() (copy out) before returning, and never nest. */
export const scratchWriter = new Writer(4096);
const scratch = scratchWriter;

/** Wire bytes of one message. */
export function encodeMessage(m: Message): Uint8Array {
  const w = scratch.reset();
  w.u8(WIRE_VERSION).u8(TAG[m.type]);
  switch (m.type) {
    case 'proposal':
      writeBlock(w, m.block);
      writeOptionalTc(w, m.tc);
      w.bytes16(m.signature);
      break;
    case 'vote':
      w.u64(m.view).u64(m.height).hash(m.blockHash).u16(m.voter).bytes16(m.signature);
      break;
    case 'timeout':
      w.u64(m.view);
      writeQc(w, m.highQc);
      writeOptionalTc(w, m.lastTc);
      w.u16(m.voter).bytes16(m.signature);
      break;
    case 'block-request':
      w.hash(m.blockHash).u16(m.maxBlocks);
      break;
    case 'block-response':
      w.u16(m.blocks.length);
      for (const b of m.blocks) writeBlock(w, b);
      break;
  }
  return w.finish();
}

/** Decodes one message; throws CodecError (MALFORMED / OVERSIZED). */
export function decodeMessage(bytes: Uint8Array, limits: ConsensusLimits = DEFAULT_LIMITS): Message {
  if (bytes.byteLength > limits.maxMessageBytes) throw new CodecError(RejectCode.OVERSIZED, `message of ${bytes.byteLength} bytes > limit ${limits.maxMessageBytes}`);
  const r = new Reader(bytes);
  const version = r.u8();
  if (version !== WIRE_VERSION) throw new CodecError(RejectCode.MALFORMED, `unknown wire version ${version}`);
  const tag = r.u8();
  let m: Message;
  switch (tag) {
    case TAG.proposal: {
      const block = readBlock(r, limits);
      const tc = readOptionalTc(r, limits);
      m = { type: 'proposal', block, tc, signature: r.bytes16(limits.maxSignatureBytes, 'signature') };
      break;
    }
    case TAG.vote:
      m = { type: 'vote', view: r.u64(), height: r.u64(), blockHash: r.hash(), voter: r.u16(), signature: r.bytes16(limits.maxSignatureBytes, 'signature') };
      break;
    case TAG.timeout: {
      const view = r.u64();
      const highQc = readQc(r, limits);
      const lastTc = readOptionalTc(r, limits);
      m = { type: 'timeout', view, highQc, lastTc, voter: r.u16(), signature: r.bytes16(limits.maxSignatureBytes, 'signature') };
      break;
    }
    case TAG['block-request']: {
      const blockHash = r.hash();
      const maxBlocks = r.u16();
      if (maxBlocks === 0) throw new CodecError(RejectCode.MALFORMED, 'block request for 0 blocks');
      m = { type: 'block-request', blockHash, maxBlocks };
      break;
    }
    case TAG['block-response']: {
      const n = r.count16(limits.maxBlocksPerResponse, 'blocks in response');
      const blocks: Block[] = [];
      for (let i = 0; i < n; i++) blocks.push(readBlock(r, limits));
      m = { type: 'block-response', blocks };
      break;
    }
    default:
      throw new CodecError(RejectCode.MALFORMED, `unknown message tag ${tag}`);
  }
  r.end();
  return m;
}

/** Record format for one block (e.g. the blocks of a persist effect). */
export function encodeBlock(b: Block): Uint8Array {
  const w = scratch.reset();
  w.u8(WIRE_VERSION);
  writeBlock(w, b);
  return w.finish();
}

export function decodeBlock(bytes: Uint8Array, limits: ConsensusLimits = DEFAULT_LIMITS): Block {
  const r = new Reader(bytes);
  if (r.u8() !== WIRE_VERSION) throw new CodecError(RejectCode.MALFORMED, 'unknown record version');
  const b = readBlock(r, limits);
  r.end();
  return b;
}

/** Record format for a block log (what the shell appends on a commit effect). */
export function encodeCommittedBlock(c: CommittedBlock): Uint8Array {
  const w = scratch.reset();
  w.u8(WIRE_VERSION);
  writeBlock(w, c.block);
  w.hash(c.hash);
  writeQc(w, c.qc);
  return w.finish();
}

/** Decodes a block-log record. The caller re-verifies hash and QC if the disk is not trusted. */
export function decodeCommittedBlock(bytes: Uint8Array, limits: ConsensusLimits = DEFAULT_LIMITS): CommittedBlock {
  const r = new Reader(bytes);
  if (r.u8() !== WIRE_VERSION) throw new CodecError(RejectCode.MALFORMED, 'unknown record version');
  const block = readBlock(r, limits);
  const hash = r.hash();
  const qc = readQc(r, limits);
  r.end();
  return { block, hash, qc };
}

export { writeQc, readQc, writeTc, readTc, WIRE_VERSION };
