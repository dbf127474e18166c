// Catch-up: a replica missing a block (the parent of a proposal, the block of a QC it learned,
// ancestors to commit) asks a peer for it and up to maxBlocksPerResponse - 1 ancestors. The
// replica only ever asks for hashes it took from a verified QC or a signed proposal, so a
// response is authenticated by hash-chaining down from the requested block.
import type { BlockTree } from './block-tree';
import type { ConsensusLimits } from './codec';
import { RejectCode, type Rejection } from './errors';
import type { Block, BlockHash, BlockRequest, BlockResponse, ValidatorId } from './types';

const MAX_OUTSTANDING_REQUESTS = 16;

export class BlockFetcher {
  private readonly outstanding = new Map<BlockHash, { peer: ValidatorId; at: number; attempts: number }>();

  constructor(
    private readonly self: ValidatorId,
    private readonly validators: number,
    private readonly maxBlocks: number,
    /** A request unanswered this long may be sent again (to the next peer on retry). */
    private readonly retryAfter: number,
  ) {}

  isOutstanding(hash: BlockHash): boolean {
    return this.outstanding.has(hash);
  }

  done(hash: BlockHash): void {
    this.outstanding.delete(hash);
  }

  /** Forgets every outstanding request (the replica jumped to a snapshot). */
  clear(): void {
    this.outstanding.clear();
  }

  /** The request to send now, or null if one is in flight (or too many are). */
  request(hash: BlockHash, peer: ValidatorId, now: number): { to: ValidatorId; request: BlockRequest } | null {
    const existing = this.outstanding.get(hash);
    if (existing && now - existing.at < this.retryAfter) return null;
    if (!existing && this.outstanding.size >= MAX_OUTSTANDING_REQUESTS) return null;
    const to = peer === this.self ? (peer + 1) % this.validators : peer;
    this.outstanding.set(hash, { peer: to, at: now, attempts: (existing?.attempts ?? 0) + 1 });
    return { to, request: { type: 'block-request', blockHash: hash, maxBlocks: this.maxBlocks } };
  }

  /**
   * Requests to send again, each to the next peer, for blocks still missing. After every peer
   * was asked twice the request is dropped (the block may be a fork everyone pruned), so stale
   * hashes cannot fill the table; a later need for the block asks again.
   */
  retry(now: number, has: (hash: BlockHash) => boolean): { to: ValidatorId; request: BlockRequest }[] {
    const out: { to: ValidatorId; request: BlockRequest }[] = [];
    for (const [hash, r] of [...this.outstanding]) {
      if (has(hash) || r.attempts >= 2 * this.validators) {
        this.outstanding.delete(hash);
        continue;
      }
      if (now - r.at < this.retryAfter) continue;
      let next = (r.peer + 1) % this.validators;
      if (next === this.self) next = (next + 1) % this.validators;
      const req = this.request(hash, next, now);
      if (req) out.push(req);
    }
    return out;
  }
}

/**
 * How many block requests each peer may have served per view. A response can be 64 blocks for a
 * 40-byte request; the budget keeps one peer from making a replica do unbounded work, while
 * catch-up (one request per response) is only slowed when views stall.
 */
export class RequestBudget {
  private readonly served = new Map<ValidatorId, number>();

  constructor(private readonly perView: number) {}

  allow(peer: ValidatorId): boolean {
    const n = this.served.get(peer) ?? 0;
    if (n >= this.perView) return false;
    this.served.set(peer, n + 1);
    return true;
  }

  /** A new view: every peer's budget is full again. */
  reset(): void {
    this.served.clear();
  }
}

/** The response to a peer's request: the block and its ancestors we hold, within the size limit. */
export function serveBlocks(tree: BlockTree, req: BlockRequest, limits: ConsensusLimits): BlockResponse | Rejection {
  const max = Math.min(req.maxBlocks, limits.maxBlocksPerResponse);
  const blocks: Block[] = [];
  let bytes = 0;
  for (const b of tree.chainFrom(req.blockHash, max)) {
    bytes += 256 + b.payload.reduce((s, op) => s + op.byteLength + 4, 0) + b.justify.signatures.reduce((s, x) => s + x.signature.byteLength + 4, 0);
    if (blocks.length > 0 && bytes > limits.maxMessageBytes / 2) break;
    blocks.push(b);
  }
  if (blocks.length === 0) return { code: RejectCode.UNKNOWN_BLOCK, detail: `no block ${req.blockHash.slice(0, 16)}` };
  return { type: 'block-response', blocks };
}

/** A response must start at a block we asked for and chain down by parent hashes. */
export function checkResponseChain(res: BlockResponse, hashes: readonly BlockHash[], fetcher: BlockFetcher): Rejection | null {
  if (res.blocks.length === 0) return { code: RejectCode.UNSOLICITED, detail: 'empty block response' };
  if (!fetcher.isOutstanding(hashes[0]!)) return { code: RejectCode.UNSOLICITED, detail: 'response to no outstanding request' };
  for (let i = 1; i < res.blocks.length; i++) {
    if (hashes[i] !== res.blocks[i - 1]!.parentHash) return { code: RejectCode.UNSOLICITED, detail: 'blocks in the response do not chain' };
  }
  return null;
}
