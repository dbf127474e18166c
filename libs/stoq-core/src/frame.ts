// STOQ message framing: each message on a stream is a QUIC varint (RFC 9000 §16) giving the
// payload length, then exactly that many payload bytes. No padding, no checksum (QUIC and TLS
// already protect the bytes). Non-minimal length prefixes are accepted, as RFC 9000 allows.
//
// FrameDecoder is sans-I/O: the stream layer pushes whatever chunks arrive and pulls whole frames.

import { StoqError } from './errors';
import { decodeVarintNumber, varintLength, varintLengthFromFirstByte, writeVarint } from './varint';

/** Default largest frame payload a decoder accepts: 16 MiB. */
export const DEFAULT_MAX_FRAME_LENGTH = 16 * 1024 * 1024;

/** One frame: the varint length of `payload`, then `payload`, in a single allocation. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  const prefix = varintLength(payload.length);
  const out = new Uint8Array(prefix + payload.length);
  writeVarint(payload.length, out, 0);
  out.set(payload, prefix);
  return out;
}

export interface FrameDecoderOptions {
  /** Largest payload accepted; a longer announced length fails at once. Default 16 MiB. */
  maxFrameLength?: number;
}

/**
 * Incremental frame decoder. `push` chunks in any split, then call `next` until it returns
 * `null` (more bytes needed). Work is linear in the bytes pushed: chunks are queued, never
 * concatenated, and each payload byte is copied at most once.
 *
 * A frame that lies inside a single pushed chunk is returned as a view of that chunk (no copy),
 * so callers must not modify a chunk after pushing it. Once the decoder has thrown, it stays
 * failed: the byte stream can no longer be trusted to be in sync.
 */
export class FrameDecoder {
  private limit: number;
  private readonly chunks: Uint8Array[] = [];
  private head = 0; // index of the first live chunk in `chunks`
  private headOffset = 0; // bytes of chunks[head] already consumed
  private buffered = 0;
  private pendingLength = -1; // payload length of the frame being assembled; -1 = prefix not read
  private failure: StoqError | null = null;

  constructor(options: FrameDecoderOptions = {}) {
    this.limit = checkedLimit(options.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH);
  }

  /** Largest payload length a frame may announce. */
  get maxFrameLength(): number {
    return this.limit;
  }

  /**
   * Changes the limit for frames whose length prefix has not been read yet. Lets a protocol
   * hold its first frame to a small limit (an RPC request header) and refuse an oversized
   * announcement as soon as the prefix arrives, then allow larger frames after it.
   */
  setMaxFrameLength(max: number): void {
    this.limit = checkedLimit(max);
  }

  /** Bytes pushed and not yet returned (a length prefix, once parsed, no longer counts). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Adds received bytes. Throws FRAME_TOO_LARGE as soon as a too-long length prefix is complete. */
  push(chunk: Uint8Array): void {
    this.throwIfFailed();
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.pendingLength < 0) this.readPrefix();
  }

  /** The next complete frame's payload, or `null` if more bytes are needed. */
  next(): Uint8Array | null {
    this.throwIfFailed();
    if (this.pendingLength < 0 && !this.readPrefix()) return null;
    const length = this.pendingLength;
    if (this.buffered < length) return null;
    this.pendingLength = -1;
    return this.take(length);
  }

  /**
   * Declares the end of the byte stream. Returns the complete frames still buffered and throws
   * FRAME_TRUNCATED if a partial frame (or partial length prefix) remains.
   */
  end(): Uint8Array[] {
    const frames: Uint8Array[] = [];
    for (let f = this.next(); f !== null; f = this.next()) frames.push(f);
    if (this.buffered > 0 || this.pendingLength >= 0) {
      const what =
        this.pendingLength >= 0
          ? `${this.buffered} of ${this.pendingLength} payload bytes`
          : `${this.buffered} byte(s) of a length prefix`;
      throw this.fail(new StoqError('FRAME_TRUNCATED', `stream ended inside a frame: got ${what}`, {
        details: { bufferedBytes: this.buffered, expectedLength: this.pendingLength >= 0 ? this.pendingLength : undefined },
      }));
    }
    return frames;
  }

  /** Parses the length prefix if all its bytes are buffered; enforces the limit. */
  private readPrefix(): boolean {
    if (this.buffered === 0) return false;
    const first = this.chunks[this.head]![this.headOffset]!;
    const prefixLength = varintLengthFromFirstByte(first);
    if (this.buffered < prefixLength) return false;
    const current = this.chunks[this.head]!;
    const decoded =
      current.length - this.headOffset >= prefixLength
        ? decodeVarintNumber(current, this.headOffset)
        : decodeVarintNumber(this.peek(prefixLength), 0);
    const length = decoded!.value;
    if (length > this.limit) {
      throw this.fail(new StoqError('FRAME_TOO_LARGE', `frame announces ${length} bytes, limit is ${this.limit}`, {
        details: { length, maxFrameLength: this.limit },
      }));
    }
    this.skip(prefixLength);
    this.pendingLength = length;
    return true;
  }

  /** Copies the first `n` (≤ 8) buffered bytes without consuming them. */
  private peek(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    let i = this.head;
    let offset = this.headOffset;
    while (filled < n) {
      const c = this.chunks[i]!;
      const k = Math.min(n - filled, c.length - offset);
      out.set(c.subarray(offset, offset + k), filled);
      filled += k;
      i += 1;
      offset = 0;
    }
    return out;
  }

  private skip(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const c = this.chunks[this.head]!;
      const available = c.length - this.headOffset;
      if (n < available) {
        this.headOffset += n;
        return;
      }
      n -= available;
      this.dropHead();
    }
  }

  /** Removes and returns the first `n` buffered bytes (all present). */
  private take(n: number): Uint8Array {
    this.buffered -= n;
    const first = this.chunks[this.head];
    if (n === 0 || first === undefined) return new Uint8Array(0);
    if (first.length - this.headOffset >= n) {
      const view = first.subarray(this.headOffset, this.headOffset + n);
      this.headOffset += n;
      if (this.headOffset === first.length) this.dropHead();
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[this.head]!;
      const k = Math.min(n - filled, c.length - this.headOffset);
      out.set(c.subarray(this.headOffset, this.headOffset + k), filled);
      filled += k;
      this.headOffset += k;
      if (this.headOffset === c.length) this.dropHead();
    }
    return out;
  }

  private dropHead(): void {
    this.chunks[this.head] = EMPTY; // release the chunk for GC
    this.head += 1;
    this.headOffset = 0;
    if (this.head === this.chunks.length) {
      this.chunks.length = 0;
      this.head = 0;
      return;
    }
    // Compact occasionally so the queue array does not grow without bound (amortised O(1)).
    if (this.head >= 1024 && this.head * 2 >= this.chunks.length) {
      this.chunks.splice(0, this.head);
      this.head = 0;
    }
  }

  private fail(err: StoqError): StoqError {
    this.failure = err;
    return err;
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw this.failure;
  }
}

const EMPTY = new Uint8Array(0);

function checkedLimit(max: number): number {
  if (!Number.isSafeInteger(max) || max < 0) {
    throw new StoqError('INVALID_ARGUMENT', `maxFrameLength must be a non-negative integer, got ${max}`);
  }
  return max;
}
