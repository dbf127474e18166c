// Writes encoded frames to a stream, coalescing frames produced while a write is in flight
// into one write (fewer transport calls under load) with a bounded buffer: send() waits when
// more than `highWaterBytes` are queued, so a slow reader slows the producer (backpressure).
import type { StoqStream } from '@stoq/core';

const DEFAULT_HIGH_WATER = 256 * 1024;

export class FrameWriter {
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private pumping: Promise<void> | null = null;
  private error: unknown = null;
  private drained: Array<() => void> = [];

  constructor(
    private readonly stream: Pick<StoqStream, 'write'>,
    private readonly highWaterBytes = DEFAULT_HIGH_WATER,
  ) {}

  /** Queues a frame; resolves once the queue is below the high-water mark. Rejects after a write failed. */
  async send(frame: Uint8Array): Promise<void> {
    if (this.error !== null) throw this.error;
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    if (this.pumping === null) this.pumping = this.pump();
    while (this.queuedBytes > this.highWaterBytes && this.error === null) {
      await new Promise<void>((resolve) => this.drained.push(resolve));
    }
    if (this.error !== null) throw this.error;
  }

  /** Resolves when everything queued has been accepted by the transport. */
  async flush(): Promise<void> {
    while (this.pumping !== null) await this.pumping;
    if (this.error !== null) throw this.error;
  }

  get failed(): boolean {
    return this.error !== null;
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.length === 1 ? this.queue[0]! : concat(this.queue, this.queuedBytes);
        this.queue = [];
        this.queuedBytes = 0;
        this.wakeDrained();
        await this.stream.write(batch);
      }
    } catch (err) {
      this.error = err;
      this.queue = [];
      this.queuedBytes = 0;
    } finally {
      this.pumping = null;
      this.wakeDrained();
    }
  }

  private wakeDrained(): void {
    const d = this.drained;
    this.drained = [];
    for (const w of d) w();
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
