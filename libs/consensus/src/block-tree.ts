// Blocks this replica knows: the committed chain (a bounded window of it, for catch-up requests)
// and the uncommitted blocks above it, with the QC that certifies each block once seen.
import { assertSafety } from './errors';
import type { Block, BlockHash, CommittedBlock, QuorumCertificate } from './types';

interface CommittedTip {
  hash: BlockHash;
  height: number;
  view: number;
}

export class BlockTree {
  private readonly blocks = new Map<BlockHash, Block>();
  /** QC certifying each block (from a child's justify, a timeout, or votes). */
  private readonly qcs = new Map<BlockHash, QuorumCertificate>();
  private readonly committedByHeight = new Map<number, BlockHash>();
  /** Blocks above the committed tip (candidates); pruning looks only at these. */
  private readonly uncommitted = new Set<BlockHash>();
  private tip: CommittedTip;
  private oldestRetained: number;

  constructor(
    genesisBlock: Block,
    genesisHash: BlockHash,
    genesisQc: QuorumCertificate,
    private readonly retainCommitted: number,
  ) {
    this.blocks.set(genesisHash, genesisBlock);
    this.qcs.set(genesisHash, genesisQc);
    this.committedByHeight.set(0, genesisHash);
    this.tip = { hash: genesisHash, height: 0, view: 0 };
    this.oldestRetained = 0;
  }

  get committedTip(): Readonly<CommittedTip> {
    return this.tip;
  }

  get(hash: BlockHash): Block | undefined {
    return this.blocks.get(hash);
  }

  has(hash: BlockHash): boolean {
    return this.blocks.has(hash);
  }

  qcOf(hash: BlockHash): QuorumCertificate | undefined {
    return this.qcs.get(hash);
  }

  committedHashAt(height: number): BlockHash | undefined {
    return this.committedByHeight.get(height);
  }

  /** Adds a block whose hash the caller computed. Blocks at or below the committed height are ignored. */
  add(hash: BlockHash, block: Block): boolean {
    if (block.height <= this.tip.height || this.blocks.has(hash)) return false;
    this.blocks.set(hash, block);
    this.uncommitted.add(hash);
    this.recordQc(block.justify);
    return true;
  }

  recordQc(qc: QuorumCertificate): void {
    const known = this.qcs.get(qc.blockHash);
    if (!known || qc.view > known.view) this.qcs.set(qc.blockHash, qc);
  }

  /**
   * The blocks to commit so that `hash` becomes the committed tip, oldest first; or the hash of
   * the first missing ancestor. Asserts the chain extends the committed tip: committing a block
   * that does not is the one thing consensus exists to prevent.
   */
  pathToCommit(hash: BlockHash): { path: { hash: BlockHash; block: Block }[] } | { missing: BlockHash } {
    const path: { hash: BlockHash; block: Block }[] = [];
    let h = hash;
    for (;;) {
      const b = this.blocks.get(h);
      if (!b) return { missing: h };
      if (b.height <= this.tip.height) {
        assertSafety(b.height === this.tip.height && h === this.tip.hash, 'commit-extends-committed-chain', () =>
          `block ${hash.slice(0, 12)} does not extend the committed block ${this.tip.hash.slice(0, 12)} at height ${this.tip.height} (reached ${h.slice(0, 12)} at height ${b.height})`,
        );
        break;
      }
      path.push({ hash: h, block: b });
      h = b.parentHash;
    }
    return { path: path.reverse() };
  }

  /** Marks one block committed (must be the next height on the tip) and returns it with its QC. */
  commit(hash: BlockHash): CommittedBlock {
    const block = this.blocks.get(hash);
    const qc = this.qcs.get(hash);
    assertSafety(block !== undefined, 'commit-known-block', () => `commit of unknown block ${hash}`);
    assertSafety(block.height === this.tip.height + 1 && block.parentHash === this.tip.hash, 'commit-extends-committed-chain', () => `block at height ${block.height} does not follow the tip ${this.tip.height}`);
    assertSafety(qc !== undefined && qc.blockHash === hash && qc.height === block.height, 'commit-has-qc', () => `commit of block ${hash} without its QC`);
    this.tip = { hash, height: block.height, view: block.view };
    this.committedByHeight.set(block.height, hash);
    this.uncommitted.delete(hash);
    return { block, hash, qc };
  }

  /** Drops forks that can never commit and committed blocks beyond the retention window. */
  prune(): void {
    const tipHeight = this.tip.height;
    for (const h of this.uncommitted) {
      const b = this.blocks.get(h);
      if (!b || b.height <= tipHeight) {
        this.uncommitted.delete(h);
        this.blocks.delete(h);
        this.qcs.delete(h);
      }
    }
    while (this.oldestRetained < tipHeight - this.retainCommitted) {
      const h = this.committedByHeight.get(this.oldestRetained);
      if (h !== undefined) {
        this.blocks.delete(h);
        this.qcs.delete(h);
        this.committedByHeight.delete(this.oldestRetained);
      }
      this.oldestRetained += 1;
    }
  }

  /** `hash` and up to max - 1 ancestors, newest first, stopping before genesis or a gap. */
  chainFrom(hash: BlockHash, max: number): Block[] {
    const out: Block[] = [];
    let b = this.blocks.get(hash);
    while (b && b.height > 0 && out.length < max) {
      out.push(b);
      b = this.blocks.get(b.parentHash);
    }
    return out;
  }

  /**
   * Forgets every block and makes `c` the committed tip (and the oldest block held): the shell
   * installed a snapshot at c's height. Asserts it is above the current tip.
   */
  resetTo(c: CommittedBlock): void {
    assertSafety(c.block.height > this.tip.height, 'reset-moves-forward', () => `reset to height ${c.block.height} at committed height ${this.tip.height}`);
    this.blocks.clear();
    this.qcs.clear();
    this.committedByHeight.clear();
    this.uncommitted.clear();
    this.tip = { hash: c.hash, height: c.block.height, view: c.block.view };
    this.oldestRetained = c.block.height;
    this.blocks.set(c.hash, c.block);
    this.qcs.set(c.hash, c.qc);
    this.committedByHeight.set(c.block.height, c.hash);
  }

  /**
   * Restores a committed chain (ascending) without effects. The first block may sit above
   * genesis (the shell kept only a suffix of its log, e.g. after a snapshot); after it the chain
   * must be contiguous.
   */
  restoreCommitted(c: CommittedBlock): void {
    const base = this.tip.height === 0;
    assertSafety(base || (c.block.height === this.tip.height + 1 && c.block.parentHash === this.tip.hash), 'restored-chain-contiguous', () => `restored block at height ${c.block.height} does not follow ${this.tip.height}`);
    if (base) this.oldestRetained = c.block.height;
    this.blocks.set(c.hash, c.block);
    this.qcs.set(c.hash, c.qc);
    this.recordQc(c.block.justify);
    this.committedByHeight.set(c.block.height, c.hash);
    this.tip = { hash: c.hash, height: c.block.height, view: c.block.view };
  }
}
