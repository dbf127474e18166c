// StoqStream: one QUIC bidi stream from the native engine, plus length-prefixed message framing.
import { encodeFrame, FrameDecoder } from './frame';
import { fromNativeError } from './native-error';
import type { NativeStream } from './native-binding';
import type { StoqStream } from './types';

/** Read size for stream chunks: large enough for bulk transfer, small enough to stay fair. */
export const DEFAULT_READ_CHUNK = 256 * 1024;

/**
 * Writes the native engine completes at once (window open) settle without a trip through the
 * tokio runtime. After this many in a row, one goes the asynchronous way, so a busy stream still
 * yields to timers and I/O.
 */
const SYNC_BUDGET = 32;

export class QuicStoqStream implements StoqStream {
  private readonly decoder: FrameDecoder;
  private ended = false;
  private syncWrites = 0;

  constructor(
    private readonly inner: NativeStream,
    maxMessageBytes: number,
  ) {
    this.decoder = new FrameDecoder({ maxFrameLength: maxMessageBytes });
  }

  get id(): number {
    return this.inner.id;
  }

  async write(data: Uint8Array): Promise<void> {
    try {
      const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      if (++this.syncWrites <= SYNC_BUDGET) {
        const taken = this.inner.writeNow(buf);
        if (taken === buf.length) return;
        this.syncWrites = 0;
        await this.inner.write(taken === 0 ? buf : buf.subarray(taken));
      } else {
        this.syncWrites = 0;
        await this.inner.write(buf);
      }
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  finish(): void {
    try {
      this.inner.finish();
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  async read(maxLength = DEFAULT_READ_CHUNK): Promise<Uint8Array | null> {
    try {
      return await this.inner.read(maxLength);
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  reset(code: number): void {
    try {
      this.inner.reset(code);
    } catch {
      // Already finished or reset: nothing left to abort.
    }
  }

  stopSending(code: number): void {
    try {
      this.inner.stopSending(code);
    } catch {
      // Already stopped or finished by the peer.
    }
  }

  async sendMessage(message: Uint8Array): Promise<void> {
    await this.write(encodeFrame(message));
  }

  async receiveMessage(): Promise<Uint8Array | null> {
    for (;;) {
      const frame = this.decoder.next();
      if (frame) return frame;
      if (this.ended) {
        this.decoder.end(); // throws FRAME_TRUNCATED if a partial frame is left
        return null;
      }
      const chunk = await this.read();
      if (chunk === null) this.ended = true;
      else this.decoder.push(chunk);
    }
  }
}
