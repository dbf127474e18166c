// Writes encoded frames to a stream in call order and remembers the first failure. Coalescing
// and backpressure are the stream's: a STOQ stream joins the small writes of one tick into one
// transport operation and makes write() wait while too much is unconfirmed, so each send() is
// one stream write and its promise is the backpressure signal.
import type { StoqStream } from '@stoq/core';

export class FrameWriter {
  private last: Promise<void> = Promise.resolve();
  private error: unknown = null;

  constructor(private readonly stream: Pick<StoqStream, 'write'>) {}

  /** Writes a frame; resolves when the stream accepts more. Rejects once a write has failed. */
  send(frame: Uint8Array): Promise<void> {
    if (this.error !== null) return Promise.reject(this.error);
    let p: Promise<void>;
    try {
      p = this.stream.write(frame);
    } catch (err) {
      this.error = err;
      return Promise.reject(err);
    }
    this.last = p;
    return p.catch((err: unknown) => {
      this.error ??= err;
      throw err;
    });
  }

  /** Resolves when everything sent so far has been accepted by the stream; rejects after a failure. */
  async flush(): Promise<void> {
    try {
      await this.last;
    } catch (err) {
      this.error ??= err;
    }
    if (this.error !== null) throw this.error;
  }

  get failed(): boolean {
    return this.error !== null;
  }
}
