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
  return op.byteLength <= 48 ? `r${b.toString('base64')}` : `h${createHash('sha256').update(b).digest('base64')}`;
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

  /** Takes up to maxOps / maxBytes operations (oldest first) for a block this replica proposes. */
  take(maxOps: number, maxBytes: number): { keys: string[]; ops: Uint8Array[] } {
    const keys: string[] = [];
    const ops: Uint8Array[] = [];
    let bytes = 0;
    for (const [k, op] of this.pending) {
      if (ops.length >= maxOps || bytes + op.byteLength > maxBytes) break;
      keys.push(k);
      ops.push(op);
      bytes += op.byteLength;
    }
    return { keys, ops };
  }

  /** The operations just taken went into block `hash` at `height`. */
  markProposed(hash: BlockHash, height: number, taken: { keys: string[]; ops: Uint8Array[] }): void {
    if (taken.keys.length === 0) return;
    const ops = new Map<string, Uint8Array>();
    taken.keys.forEach((k, i) => {
      ops.set(k, taken.ops[i]!);
      this.pending.delete(k);
      this.bytes -= taken.ops[i]!.byteLength;
    });
    this.proposed.set(hash, { height, ops });
  }

  /** A block committed at `height`: drop its operations; re-queue ours from orphaned blocks at or below it. */
  committed(hash: BlockHash, height: number, payload: readonly Uint8Array[]): void {
    const mine = this.proposed.get(hash);
    if (mine) this.proposed.delete(hash);
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
