// Simulated disk of one replica: the safety state in two alternating checksummed slots (a torn
// write damages only the slot being written, so recovery falls back to the previous state) and
// an append-only block log of checksummed records, fsync'd together. A crash loses every write
// not yet fsync'd and may leave the first of them torn on disk; recovery stops the log at the
// first bad record.
import { crc32 } from 'node:zlib';
import type { Block } from '../types';
import type { Prng } from './prng';

function frame(seq: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + payload.byteLength);
  const v = new DataView(out.buffer);
  v.setUint32(0, payload.byteLength);
  v.setUint32(4, seq);
  v.setUint32(8, crc32(payload, seq) >>> 0);
  out.set(payload, 12);
  return out;
}

function unframe(rec: Uint8Array): { seq: number; payload: Uint8Array } | null {
  if (rec.byteLength < 12) return null;
  const v = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
  const len = v.getUint32(0);
  if (rec.byteLength !== 12 + len) return null;
  const seq = v.getUint32(4);
  const payload = rec.subarray(12);
  return (crc32(payload, seq) >>> 0) === v.getUint32(8) ? { seq, payload } : null;
}

function torn(prng: Prng, rec: Uint8Array): Uint8Array {
  // A prefix made it to the platter, possibly followed by garbage.
  const cut = prng.int(0, rec.byteLength - 1);
  const out = rec.slice(0, cut + (prng.chance(0.5) ? 0 : 1));
  if (out.byteLength > 0 && prng.chance(0.5)) out[out.byteLength - 1]! ^= 0xff;
  return out;
}

export class SimDisk {
  private readonly slots: (Uint8Array | null)[] = [null, null];
  private stateSeq = 0;
  private readonly log: Uint8Array[] = [];
  private unsynced: Uint8Array[] = [];
  /**
   * Uncommitted voted blocks, durable with the safety state they are persisted with. Kept as
   * objects: they are never torn (a persist torn by a crash stores none), and the codec is tested
   * on its own.
   */
  private blocks: Block[] = [];
  fsyncs = 0;
  tornWrites = 0;

  /** Write the safety state and the voted blocks, and fsync everything (the persist effect). */
  persistState(payload: Uint8Array, blocks: readonly Block[] = []): void {
    for (const b of blocks) this.blocks.push(b);
    this.stateSeq++;
    this.slots[this.stateSeq % 2] = frame(this.stateSeq, payload);
    this.fsync();
  }

  /** The crash hit in the middle of persistState: the slot holds a torn write, nothing is synced. */
  tornPersist(prng: Prng, payload: Uint8Array): void {
    const seq = this.stateSeq + 1;
    this.slots[seq % 2] = torn(prng, frame(seq, payload));
    this.tornWrites++;
  }

  /** Buffered append to the block log (durable at the next fsync). */
  append(payload: Uint8Array): void {
    this.unsynced.push(frame(0, payload));
  }

  fsync(): void {
    for (const r of this.unsynced) this.log.push(r);
    this.unsynced = [];
    this.fsyncs++;
  }

  /** Power loss: unsynced appends vanish, the first may be left torn. */
  crash(prng: Prng, tornProbability: number): void {
    if (this.unsynced.length > 0 && prng.chance(tornProbability)) {
      this.log.push(torn(prng, this.unsynced[0]!));
      this.tornWrites++;
    }
    this.unsynced = [];
  }

  /** The block log reached `height`: voted blocks at or below it are no longer needed. */
  pruneBlocks(height: number): void {
    if (this.blocks.length > 64) this.blocks = this.blocks.filter((b) => b.height > height);
  }

  /** What a restarting replica reads back. A torn tail of the log is truncated (as a real recovery would). */
  recover(): { state: Uint8Array | null; log: Uint8Array[]; blocks: Block[] } {
    let best: { seq: number; payload: Uint8Array } | null = null;
    for (const s of this.slots) {
      const r = s ? unframe(s) : null;
      if (r && (!best || r.seq > best.seq)) best = r;
    }
    if (best) this.stateSeq = Math.max(this.stateSeq, best.seq);
    const log: Uint8Array[] = [];
    let i = 0;
    for (; i < this.log.length; i++) {
      const r = unframe(this.log[i]!);
      if (!r) break;
      log.push(r.payload);
    }
    this.log.length = i;
    return { state: best ? best.payload : null, log, blocks: [...this.blocks] };
  }
}
