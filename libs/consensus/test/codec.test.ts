import fc from 'fast-check';
import { CodecError, decodeBlock, decodeCommittedBlock, decodeMessage, decodeSafetyState, encodeBlock, encodeCommittedBlock, encodeMessage, encodeSafetyState, type Block, type QuorumCertificate } from '../src';
import { blockArb, messageArb, qcArb, tcArb, u53 } from './arbitraries';

const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)));

describe('codec', () => {
  test('every message round-trips, and its encoding is canonical', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        const bytes = encodeMessage(m);
        const back = decodeMessage(bytes);
        expect(plain(back)).toEqual(plain(m));
        expect(Buffer.from(encodeMessage(back)).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test('any prefix or corruption of a message is rejected with a CodecError, never another exception', () => {
    fc.assert(
      fc.property(messageArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (m, at, byte) => {
        const bytes = encodeMessage(m);
        const cut = at % bytes.length;
        expect(() => decodeMessage(bytes.subarray(0, cut))).toThrow(CodecError);
        const corrupt = bytes.slice();
        corrupt[cut] = byte;
        try {
          decodeMessage(corrupt);
        } catch (e) {
          expect(e).toBeInstanceOf(CodecError);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('random bytes never crash the decoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeMessage(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(CodecError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('signers out of order or repeated are malformed (a signer can never count twice)', () => {
    const qc: QuorumCertificate = { view: 1, height: 1, blockHash: 'ab'.repeat(32), signatures: [{ validator: 1, signature: new Uint8Array([1]) }, { validator: 1, signature: new Uint8Array([2]) }] };
    const bytes = encodeMessage({ type: 'timeout', view: 2, highQc: qc, lastTc: null, voter: 0, signature: new Uint8Array(1) });
    expect(() => decodeMessage(bytes)).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
  });

  test('limits: counts and lengths beyond them are OVERSIZED before anything is allocated', () => {
    const block: Block = { height: 1, view: 1, proposer: 0, parentHash: 'ab'.repeat(32), justify: { view: 0, height: 0, blockHash: 'cd'.repeat(32), signatures: [] }, payload: [new Uint8Array(10), new Uint8Array(10)] };
    const bytes = encodeMessage({ type: 'proposal', block, tc: null, signature: new Uint8Array(4) });
    const limits = { maxMessageBytes: 1 << 20, maxBlockOps: 1, maxOpBytes: 64, maxBlockPayloadBytes: 1024, maxSignatureBytes: 64, maxValidators: 16, maxBlocksPerResponse: 4 };
    expect(() => decodeMessage(bytes, limits)).toThrow(expect.objectContaining({ code: 'OVERSIZED' }));
    expect(() => decodeMessage(bytes, { ...limits, maxBlockOps: 2, maxOpBytes: 5 })).toThrow(expect.objectContaining({ code: 'OVERSIZED' }));
    expect(() => decodeMessage(bytes, { ...limits, maxBlockOps: 2, maxBlockPayloadBytes: 15 })).toThrow(expect.objectContaining({ code: 'OVERSIZED' }));
    expect(() => decodeMessage(bytes, { ...limits, maxBlockOps: 2, maxMessageBytes: 10 })).toThrow(expect.objectContaining({ code: 'OVERSIZED' }));
    expect(decodeMessage(bytes, { ...limits, maxBlockOps: 2 }).type).toBe('proposal');
  });

  test('records: blocks, committed blocks and the safety state round-trip', () => {
    fc.assert(
      fc.property(blockArb, qcArb, fc.option(tcArb, { nil: null }), u53, u53, (block, qc, tc, a, b) => {
        expect(plain(decodeBlock(encodeBlock(block)))).toEqual(plain(block));
        const c = { block, hash: qc.blockHash, qc };
        expect(plain(decodeCommittedBlock(encodeCommittedBlock(c)))).toEqual(plain(c));
        const s = { lastVotedView: a, lastProposedView: b, lockedQc: qc, highTc: tc };
        expect(plain(decodeSafetyState(encodeSafetyState(s)))).toEqual(plain(s));
      }),
      { numRuns: 100 },
    );
  });
});
