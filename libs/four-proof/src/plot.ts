import { checkBytes } from './context';
import { fail } from './errors';
import { MerkleTree } from './merkle';
import { DEFAULT_PARAMS, LIMITS, isPowerOfTwo } from './params';
import { defaultHotPaths } from './hot-paths';
import { deriveBlock, type PlotGenerateFn } from './plot-generate';
import type { SpaceOpening } from './types';

export interface PlotOptions {
  readonly plotBlocks?: number;
  readonly blockSize?: number;
  /** Implementation of the plot hot path; defaults to defaultHotPaths (native when built). */
  readonly plotGenerate?: PlotGenerateFn;
}

/**
 * A prover's committed plot: the full Merkle tree over the node's blocks (2·N·32 bytes kept in
 * memory). Blocks themselves are re-derived on demand when opened. Build once, reuse for every
 * PoSpace proof of the node.
 */
export class Plot {
  private constructor(
    readonly nodeId: Uint8Array,
    readonly plotBlocks: number,
    readonly blockSize: number,
    private readonly tree: MerkleTree,
  ) {}

  static create(nodeId: Uint8Array, options: PlotOptions = {}): Plot {
    const plotBlocks = options.plotBlocks ?? DEFAULT_PARAMS.plotBlocks;
    const blockSize = options.blockSize ?? DEFAULT_PARAMS.blockSize;
    checkBytes(nodeId, 'nodeId', 1, LIMITS.maxNodeIdBytes, 'INVALID_ARGUMENT');
    if (!isPowerOfTwo(plotBlocks) || plotBlocks < 2) fail('INVALID_ARGUMENT', 'plotBlocks', `must be a power of two in [2, 2^31], got ${plotBlocks}`);
    if (!Number.isInteger(blockSize) || blockSize < LIMITS.minBlockSize || blockSize > LIMITS.maxBlockSize || blockSize % 32 !== 0) {
      fail('INVALID_ARGUMENT', 'blockSize', `must be a multiple of 32 in [${LIMITS.minBlockSize}, ${LIMITS.maxBlockSize}], got ${blockSize}`);
    }
    const generate = options.plotGenerate ?? defaultHotPaths.plotGenerate;
    const leaves = generate(new Uint8Array(nodeId), plotBlocks, blockSize);
    if (!(leaves instanceof Uint8Array) || leaves.length !== plotBlocks * 32) {
      fail('INVALID_ARGUMENT', 'plotGenerate', `implementation returned ${leaves?.length} bytes, expected ${plotBlocks * 32}`);
    }
    return new Plot(new Uint8Array(nodeId), plotBlocks, blockSize, MerkleTree.fromLeafHashes(leaves, plotBlocks));
  }

  get merkleRoot(): Uint8Array {
    return this.tree.root;
  }

  /** Committed storage in bytes (plotBlocks × blockSize). */
  get committedBytes(): number {
    return this.plotBlocks * this.blockSize;
  }

  open(index: number): SpaceOpening {
    if (!Number.isInteger(index) || index < 0 || index >= this.plotBlocks) fail('INVALID_ARGUMENT', 'index', `out of range: ${index}`);
    return { index, block: deriveBlock(this.nodeId, index, this.blockSize), path: this.tree.path(index) };
  }
}

export function createPlot(nodeId: Uint8Array, options?: PlotOptions): Plot {
  return Plot.create(nodeId, options);
}
