// Operations waiting for a block. Bounded (the shell maps "full" to RESOURCE_EXHAUSTED);
// an operation leaves when a committed block carries it, and comes back if the block this
// replica proposed it in is orphaned.
import { createHash } from 'node:crypto';
import type { BlockHash } from './types';

export interface MempoolLimits {
  maxOps: number;
  maxBytes: number;
}

export const DEFAULT_MEMPOOL: Readonly<MempoolLimits> = Object.freeze({ maxOps: 100_000, maxBytes: 64 * 1024 * 1024 });

export type SubmitResult = 'accepted' | 'duplicate' | 'full' | 'too-large';

function opKey(op: Uint8Array): string {
  const b = Buffer.from(op.buffer, op.byteOffset, op.byteLength);
  return op.byteLength <= 48 ? `r${b.toString('latin1')}` : `h${createHash('sha256').update(b).digest('base64')}`;
}

export class Mempool {
  private readonly pending = new Map<string, Uint8Array>();
  private readonly proposed = new Map<BlockHash, { height: number; ops: Map<string, Uint8Array> }>();
  private bytes = 0;

  constructor(private readonly limits: MempoolLimits) {}

  get size(): number {
    return this.pending.size;
  }

  submit(op: Uint8Array, maxOpBytes: number): SubmitResult {
    if (op.byteLength > maxOpBytes) return 'too-large';
    const key = opKey(op);
    if (this.pending.has(key)) return 'duplicate';
    for (const p of this.proposed.values()) if (p.ops.has(key)) return 'duplicate';
    if (this.pending.size >= this.limits.maxOps || this.bytes + op.byteLength > this.limits.maxBytes) return 'full';
    this.pending.set(key, op);
    this.bytes += op.byteLength;
    return 'accepted';
  }

  /**
   * Up to maxOps / maxBytes queued operations (oldest first) for a block this replica proposes.
   * Operations `refuse` objects to leave the queue for good and come back in `dropped`.
   */
  take(maxOps: number, maxBytes: number, refuse: (op: Uint8Array) => string | null = () => null): { ops: Uint8Array[]; dropped: { op: Uint8Array; detail: string }[] } {
    const ops: Uint8Array[] = [];
    const dropped: { op: Uint8Array; detail: string }[] = [];
    let bytes = 0;
    for (const [key, op] of this.pending) {
      if (ops.length >= maxOps || bytes + op.byteLength > maxBytes) break;
      const detail = refuse(op);
      if (detail !== null) {
        this.pending.delete(key); // deleting the current entry while iterating a Map is safe
        this.bytes -= op.byteLength;
        dropped.push({ op, detail });
        continue;
      }
      ops.push(op);
      bytes += op.byteLength;
    }
    return { ops, dropped };
  }

  /**
   * Block `hash` at `height` (proposed by us or anyone) carries `payload`: operations of ours in
   * it leave the queue, so the next leader does not propose them again, and come back if the
   * block is orphaned.
   */
  inBlock(hash: BlockHash, height: number, payload: readonly Uint8Array[]): void {
    if (this.pending.size === 0 || payload.length === 0 || this.proposed.has(hash)) return;
    let ops: Map<string, Uint8Array> | null = null;
    for (const op of payload) {
      const k = opKey(op);
      const mine = this.pending.get(k);
      if (!mine) continue;
      this.pending.delete(k);
      this.bytes -= mine.byteLength;
      (ops ??= new Map()).set(k, mine);
    }
    if (ops) this.proposed.set(hash, { height, ops });
  }

  /**
   * Operations of ours in the proposed blocks `abandoned` names go back to the queue (oldest
   * first is kept: re-queued ones go to the end). Used when a TC shows such a block will not be
   * extended; if it commits after all, `committed` drops the copies again.
   */
  release(abandoned: (hash: BlockHash) => boolean): number {
    let n = 0;
    for (const [h, p] of this.proposed) {
      if (!abandoned(h)) continue;
      this.proposed.delete(h);
      for (const [k, op] of p.ops) {
        if (this.pending.has(k)) continue;
        this.pending.set(k, op);
        this.bytes += op.byteLength;
        n++;
      }
    }
    return n;
  }

  /** A block committed at `height`: drop its operations; re-queue ours from orphaned blocks at or below it. */
  committed(hash: BlockHash, height: number, payload: readonly Uint8Array[]): void {
    if (this.proposed.has(hash)) this.proposed.delete(hash);
    else if (this.pending.size > 0) {
      for (const op of payload) {
        const k = opKey(op);
        const p = this.pending.get(k);
        if (p) {
          this.pending.delete(k);
          this.bytes -= p.byteLength;
        }
      }
    }
    for (const [h, p] of this.proposed) {
      if (p.height > height) continue;
      this.proposed.delete(h);
      for (const [k, op] of p.ops) {
        if (!this.pending.has(k)) {
          this.pending.set(k, op);
          this.bytes += op.byteLength;
        }
      }
    }
  }
}
