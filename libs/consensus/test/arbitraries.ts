// fast-check generators for the protocol's values (structurally valid, semantically random).
import fc from 'fast-check';
import type { Block, Message, QuorumCertificate, TimeoutCertificate } from '../src';

export const hashArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
export const u53 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
export const sig = fc.uint8Array({ minLength: 0, maxLength: 40 });
export const signers = fc.uniqueArray(fc.integer({ min: 0, max: 20 }), { maxLength: 6 }).map((ids) => ids.sort((a, b) => a - b));
export const qcArb: fc.Arbitrary<QuorumCertificate> = fc.record({ view: u53, height: u53, blockHash: hashArb, ids: signers, sigs: fc.array(sig, { minLength: 6, maxLength: 6 }) }).map(({ ids, sigs, ...rest }) => ({ ...rest, signatures: ids.map((validator, i) => ({ validator, signature: sigs[i]! })) }));
export const tcArb: fc.Arbitrary<TimeoutCertificate> = fc.record({ view: u53, highQc: qcArb, ids: signers, sigs: fc.array(sig, { minLength: 6, maxLength: 6 }), hv: u53 }).map(({ ids, sigs, hv, ...rest }) => ({ ...rest, signatures: ids.map((validator, i) => ({ validator, highQcView: hv, signature: sigs[i]! })) }));
export const blockArb: fc.Arbitrary<Block> = fc.record({ height: u53, view: u53, proposer: fc.integer({ min: 0, max: 65535 }), parentHash: hashArb, justify: qcArb, payload: fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 5 }) });
export const messageArb: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant('proposal' as const), block: blockArb, tc: fc.option(tcArb, { nil: null }), signature: sig }),
  fc.record({ type: fc.constant('vote' as const), view: u53, height: u53, blockHash: hashArb, voter: fc.integer({ min: 0, max: 65535 }), signature: sig }),
  fc.record({ type: fc.constant('timeout' as const), view: u53, highQc: qcArb, lastTc: fc.option(tcArb, { nil: null }), voter: fc.integer({ min: 0, max: 65535 }), signature: sig }),
  fc.record({ type: fc.constant('block-request' as const), blockHash: hashArb, maxBlocks: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ type: fc.constant('block-response' as const), blocks: fc.array(blockArb, { maxLength: 3 }) }),
);

