import { bytesEqual } from './bytes';
import { isPowerOfTwo } from './params';
import { leafHash, rootFromPath } from './merkle';
import { deriveBlock } from './plot-generate';

/**
 * The hashing half of PoSpace verification, a hot path (a native implementation may replace it):
 * opening k passes when `blocks[k]` (blockSize bytes) is the node's derived plot block
 * `indices[k]` and its Merkle path (`paths[k]`: log2(plotBlocks) sibling hashes, leaf level
 * first) leads to `root`. `blocks` and `paths` are the openings' bytes concatenated in order.
 * Returns the first failing k, or -1 when all pass. Shapes (index = challenge, lengths) are the
 * caller's job (verifyPoSpace); mismatched lengths throw RangeError.
 */
export type PoSpaceOpeningsFn = (
  root: Uint8Array,
  nodeId: Uint8Array,
  blockSize: number,
  plotBlocks: number,
  indices: readonly number[],
  blocks: Uint8Array,
  paths: Uint8Array,
) => number;

/** Reference implementation of the PoSpace openings hot path. */
export const pospaceVerifyOpenings: PoSpaceOpeningsFn = (root, nodeId, blockSize, plotBlocks, indices, blocks, paths) => {
  if (!isPowerOfTwo(plotBlocks) || plotBlocks < 2) throw new RangeError(`plotBlocks must be a power of two >= 2, got ${plotBlocks}`);
  const depth = Math.log2(plotBlocks);
  const n = indices.length;
  if (blocks.length !== n * blockSize) throw new RangeError(`blocks must be ${n} x ${blockSize} bytes, got ${blocks.length}`);
  if (paths.length !== n * depth * 32) throw new RangeError(`paths must be ${n} x ${depth} x 32 bytes, got ${paths.length}`);
  for (let k = 0; k < n; k++) {
    const index = indices[k]!;
    const block = blocks.subarray(k * blockSize, (k + 1) * blockSize);
    if (!bytesEqual(block, deriveBlock(nodeId, index, blockSize))) return k;
    const path: Uint8Array[] = [];
    for (let h = 0; h < depth; h++) path.push(paths.subarray((k * depth + h) * 32, (k * depth + h + 1) * 32));
    if (!bytesEqual(rootFromPath(leafHash(block), index, path, 'paths', 'POSPACE_INVALID'), root)) return k;
  }
  return -1;
};
