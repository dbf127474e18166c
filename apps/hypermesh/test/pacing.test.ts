// The pacing rule: an empty proposal waits only when nothing waits on it.
import type { Block, BlockHash } from '@stoq/consensus';
import { mayPace } from '../src/pacing';

const qc = { view: 0, height: 0, blockHash: 'g', signatures: [] };
function chain(payloads: number[]): { blocks: Map<BlockHash, Block>; tip: Block } {
  const blocks = new Map<BlockHash, Block>();
  let parent = 'g';
  blocks.set('g', { height: 0, view: 0, proposer: 0, parentHash: '', justify: qc, payload: [] });
  let tip = blocks.get('g')!;
  payloads.forEach((n, i) => {
    const b: Block = { height: i + 1, view: i + 1, proposer: 0, parentHash: parent, justify: qc, payload: Array.from({ length: n }, () => new Uint8Array([1])) };
    parent = `b${i + 1}`;
    blocks.set(parent, b);
    tip = b;
  });
  return { blocks, tip };
}
const proposalOn = (tip: Block, parentHash: string): Block => ({ height: tip.height + 1, view: tip.view + 1, proposer: 0, parentHash, justify: qc, payload: [] });

test('idle chain: an empty proposal may wait', () => {
  const { blocks, tip } = chain([0, 0, 0, 0]);
  expect(mayPace(proposalOn(tip, 'b4'), { mempoolSize: 0, committedHeight: 3, block: (h) => blocks.get(h) })).toBe(true);
});

test('operations in the mempool: no pacing', () => {
  const { blocks, tip } = chain([0, 0, 0]);
  expect(mayPace(proposalOn(tip, 'b3'), { mempoolSize: 1, committedHeight: 2, block: (h) => blocks.get(h) })).toBe(false);
});

test('an uncommitted ancestor carries operations: no pacing (the next blocks commit it)', () => {
  const { blocks, tip } = chain([0, 0, 5, 0]);
  expect(mayPace(proposalOn(tip, 'b4'), { mempoolSize: 0, committedHeight: 2, block: (h) => blocks.get(h) })).toBe(false);
});

test('the block this validator committed last carries operations: no pacing (this proposal brings the others its commit)', () => {
  // b3 (with operations) was just committed here by the QC of b4; the others learn that QC from this proposal.
  const { blocks, tip } = chain([0, 0, 5, 0]);
  expect(mayPace(proposalOn(tip, 'b4'), { mempoolSize: 0, committedHeight: 3, block: (h) => blocks.get(h) })).toBe(false);
});

test('operations committed further back: pacing again', () => {
  const { blocks, tip } = chain([0, 5, 0, 0]);
  expect(mayPace(proposalOn(tip, 'b4'), { mempoolSize: 0, committedHeight: 3, block: (h) => blocks.get(h) })).toBe(true);
});
