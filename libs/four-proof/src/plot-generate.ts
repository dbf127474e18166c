import { u32be } from './bytes';
import { DOMAIN } from './hash';
import { hash as nodeHash } from 'node:crypto';

/**
 * Plot derivation: block i of node n is the SHA-256 counter-mode expansion
 *   block_i = ‖_{j < blockSize/32} SHA-256(tag ‖ u16 len(n) ‖ n ‖ u32be(blockSize) ‖ u64be(i) ‖ u32be(j)).
 * `plotGenerate` is a hot path (a native implementation may replace it): it returns the
 * concatenated Merkle leaf hashes SHA-256(0x00 ‖ block_i) for every block, in index order.
 */
export type PlotGenerateFn = (nodeId: Uint8Array, plotBlocks: number, blockSize: number) => Uint8Array;

/** Preimage layout shared by every counter hash of one (node, blockSize): only i and j change. */
function blockPreimage(nodeId: Uint8Array, blockSize: number): { buf: Buffer; indexAt: number } {
  const tag = DOMAIN.plotBlock;
  const buf = Buffer.alloc(tag.length + 2 + nodeId.length + 4 + 8 + 4);
  let o = 0;
  buf.set(tag, o);
  o += tag.length;
  buf.writeUInt16BE(nodeId.length, o);
  o += 2;
  buf.set(nodeId, o);
  o += nodeId.length;
  buf.set(u32be(blockSize), o);
  o += 4;
  return { buf, indexAt: o };
}

function fillBlock(pre: { buf: Buffer; indexAt: number }, index: number, out: Uint8Array, blockSize: number): void {
  const { buf, indexAt } = pre;
  buf.writeUInt32BE(Math.floor(index / 2 ** 32), indexAt);
  buf.writeUInt32BE(index >>> 0, indexAt + 4);
  for (let j = 0; j < blockSize / 32; j++) {
    buf.writeUInt32BE(j, indexAt + 8);
    out.set(nodeHash('sha256', buf, 'buffer'), j * 32);
  }
}

/** The deterministic content of one plot block (what a verifier recomputes for each opening). */
export function deriveBlock(nodeId: Uint8Array, index: number, blockSize: number): Uint8Array {
  const out = new Uint8Array(blockSize);
  fillBlock(blockPreimage(nodeId, blockSize), index, out, blockSize);
  return out;
}

/** Reference implementation of the plot hot path. */
export const plotGenerate: PlotGenerateFn = (nodeId, plotBlocks, blockSize) => {
  const pre = blockPreimage(nodeId, blockSize);
  const leafInput = new Uint8Array(1 + blockSize); // 0x00 ‖ block
  const block = leafInput.subarray(1);
  const leaves = new Uint8Array(plotBlocks * 32);
  for (let i = 0; i < plotBlocks; i++) {
    fillBlock(pre, i, block, blockSize);
    leaves.set(nodeHash('sha256', leafInput, 'buffer'), i * 32);
  }
  return leaves;
};
