import fc from 'fast-check';
import {
  crc32c,
  CtLogError,
  decodeCertificateChain,
  decodeDigitallySigned,
  decodeMerkleTreeLeaf,
  decodePrecertChainEntry,
  decodeSct,
  decodeSctList,
  decodeSignedTreeHead,
  encodeCertificateChain,
  encodeDigitallySigned,
  encodeMerkleTreeLeaf,
  encodePrecertChainEntry,
  encodeSct,
  encodeSctList,
  encodeSignedTreeHead,
  LogEntryType,
  sctSignatureInput,
  treeHeadSignatureInput,
  type MerkleTreeLeaf,
  type SignedCertificateTimestamp,
  type SignedEntry,
} from '../src';

const u64hex = (n: number): string => n.toString(16).padStart(16, '0');

describe('RFC 6962 §3.4 MerkleTreeLeaf TLS encoding', () => {
  it('encodes an x509_entry byte for byte', () => {
    const ts = 1_700_000_000_123;
    const leaf: MerkleTreeLeaf = {
      version: 0,
      timestampedEntry: { timestamp: ts, signedEntry: { entryType: LogEntryType.x509_entry, certificate: Buffer.from('aabbcc', 'hex') }, extensions: new Uint8Array() },
    };
    // version(1) leaf_type(1) timestamp(8) entry_type(2) ASN.1Cert<u24> extensions<u16>
    expect(encodeMerkleTreeLeaf(leaf).toString('hex')).toBe(`0000${u64hex(ts)}0000000003aabbcc0000`);
  });

  it('encodes a precert_entry byte for byte', () => {
    const ikh = Buffer.alloc(32, 0x11);
    const leaf: MerkleTreeLeaf = {
      version: 0,
      timestampedEntry: { timestamp: 5, signedEntry: { entryType: LogEntryType.precert_entry, preCert: { issuerKeyHash: ikh, tbsCertificate: Buffer.from('3000', 'hex') } }, extensions: Buffer.from('ee', 'hex') },
    };
    expect(encodeMerkleTreeLeaf(leaf).toString('hex')).toBe(`0000${u64hex(5)}0001${ikh.toString('hex')}00000230000001ee`);
  });

  it('SCT and STH signature inputs follow §3.2 and §3.5', () => {
    const e: SignedEntry = { entryType: LogEntryType.x509_entry, certificate: Buffer.from([1]) };
    expect(sctSignatureInput(7, e, new Uint8Array()).toString('hex')).toBe(`0000${u64hex(7)}000000000101` + '0000');
    const root = Buffer.alloc(32, 0xab);
    expect(treeHeadSignatureInput({ timestamp: 9, treeSize: 3, rootHash: root }).toString('hex')).toBe(`0001${u64hex(9)}${u64hex(3)}${root.toString('hex')}`);
  });

  it('rejects bad leaves with decode errors naming the field', () => {
    expect(() => decodeMerkleTreeLeaf(Buffer.from('0100', 'hex'))).toThrow('MerkleTreeLeaf: unsupported version 1');
    expect(() => decodeMerkleTreeLeaf(Buffer.from('0000000000', 'hex'))).toThrow(/truncated reading timestamp/);
    const good = encodeMerkleTreeLeaf({ version: 0, timestampedEntry: { timestamp: 1, signedEntry: { entryType: 0, certificate: Buffer.from([1]) }, extensions: new Uint8Array() } });
    expect(() => decodeMerkleTreeLeaf(Buffer.concat([good, Buffer.from([0])]))).toThrow(/1 trailing bytes/);
    const badType = Buffer.from(good);
    badType[11] = 7;
    expect(() => decodeMerkleTreeLeaf(badType)).toThrow('unknown LogEntryType 7');
    expect(() => encodeMerkleTreeLeaf({ version: 0, timestampedEntry: { timestamp: 1, signedEntry: { entryType: 0, certificate: new Uint8Array() }, extensions: new Uint8Array() } })).toThrow(
      'ASN.1Cert is 0 bytes, must be 1..16777215',
    );
    expect(() => encodeMerkleTreeLeaf({ version: 0, timestampedEntry: { timestamp: 2 ** 60, signedEntry: { entryType: 0, certificate: Buffer.from([1]) }, extensions: new Uint8Array() } })).toThrow(
      /uint64 value must be a non-negative safe integer/,
    );
  });
});

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const entryArb: fc.Arbitrary<SignedEntry> = fc.oneof(
  bytes(1, 64).map((certificate) => ({ entryType: LogEntryType.x509_entry, certificate }) as SignedEntry),
  fc.record({ issuerKeyHash: bytes(32, 32), tbsCertificate: bytes(1, 64) }).map((preCert) => ({ entryType: LogEntryType.precert_entry, preCert }) as SignedEntry),
);
const norm = (x: unknown): unknown => JSON.parse(JSON.stringify(x, (_k, v) => (v instanceof Uint8Array || (v && v.type === 'Buffer') ? Buffer.from(v.data ?? v).toString('hex') : v)));

describe('codec property tests', () => {
  it('MerkleTreeLeaf round-trips', () => {
    fc.assert(
      fc.property(entryArb, fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), bytes(0, 8), (signedEntry, timestamp, extensions) => {
        const leaf: MerkleTreeLeaf = { version: 0, timestampedEntry: { timestamp, signedEntry, extensions } };
        expect(norm(decodeMerkleTreeLeaf(encodeMerkleTreeLeaf(leaf)))).toEqual(norm(leaf));
      }),
    );
  });

  it('v1 SCT signature input is byte-identical to the MerkleTreeLeaf (the log signs the leaf input)', () => {
    fc.assert(
      fc.property(entryArb, fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), bytes(0, 8), (signedEntry, timestamp, extensions) => {
        const leaf = encodeMerkleTreeLeaf({ version: 0, timestampedEntry: { timestamp, signedEntry, extensions } });
        expect(sctSignatureInput(timestamp, signedEntry, extensions).equals(leaf)).toBe(true);
      }),
    );
  });

  it('SCT, SCT list, DigitallySigned and STH round-trip', () => {
    const sctArb = fc.record({
      logId: bytes(32, 32),
      timestamp: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      extensions: bytes(0, 8),
      sig: bytes(0, 80),
    });
    fc.assert(
      fc.property(fc.array(sctArb, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 2 ** 40 }), (raw, size) => {
        const scts: SignedCertificateTimestamp[] = raw.map((r) => ({
          version: 0,
          logId: r.logId,
          timestamp: r.timestamp,
          extensions: r.extensions,
          signature: { hashAlgorithm: 4, signatureAlgorithm: 3, signature: r.sig },
        }));
        expect(norm(decodeSct(encodeSct(scts[0]!)))).toEqual(norm(scts[0]));
        expect(norm(decodeSctList(encodeSctList(scts)))).toEqual(norm(scts));
        expect(norm(decodeDigitallySigned(encodeDigitallySigned(scts[0]!.signature)))).toEqual(norm(scts[0]!.signature));
        const sth = { treeSize: size, timestamp: raw[0]!.timestamp, rootHash: raw[0]!.logId, treeHeadSignature: { hashAlgorithm: 4, signatureAlgorithm: 3, signature: Buffer.concat([Buffer.from([1]), raw[0]!.sig]) }, falconSignature: Buffer.from([9, 9]) };
        expect(norm(decodeSignedTreeHead(encodeSignedTreeHead(sth)))).toEqual(norm(sth));
      }),
    );
  });

  it('chains and PrecertChainEntry round-trip', () => {
    fc.assert(
      fc.property(fc.array(bytes(1, 40), { maxLength: 5 }), bytes(1, 40), (chain, pre) => {
        expect(decodeCertificateChain(encodeCertificateChain(chain)).map((c) => Buffer.from(c).toString('hex'))).toEqual(chain.map((c) => Buffer.from(c).toString('hex')));
        const d = decodePrecertChainEntry(encodePrecertChainEntry(pre, chain));
        expect(Buffer.from(d.preCertificate).equals(Buffer.from(pre))).toBe(true);
        expect(d.chain.length).toBe(chain.length);
      }),
    );
  });

  it('decoders given arbitrary bytes either decode or throw a CtLogError (never anything else)', () => {
    const decoders = [decodeMerkleTreeLeaf, decodeSct, decodeSctList, decodeSignedTreeHead, decodeCertificateChain, decodePrecertChainEntry, decodeDigitallySigned];
    fc.assert(
      fc.property(bytes(0, 120), (input) => {
        for (const d of decoders) {
          try {
            d(input);
          } catch (err) {
            expect(err).toBeInstanceOf(CtLogError);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('crc32c', () => {
  it('matches the RFC 3720 check values', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    const inc = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    expect(crc32c(inc)).toBe(0x46dd794e);
  });
  it('matches a bitwise reference at every length and alignment (word path included)', () => {
    const bitwise = (d: Uint8Array): number => {
      let c = ~0;
      for (const x of d) {
        c ^= x;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      }
      return ~c >>> 0;
    };
    fc.assert(
      fc.property(bytes(0, 400), fc.nat(7), (data, skew) => {
        const buf = Buffer.alloc(data.length + 8);
        buf.set(data, skew);
        const view = buf.subarray(skew, skew + data.length);
        expect(crc32c(view)).toBe(bitwise(data));
      }),
      { numRuns: 300 },
    );
  });
  it('can be computed in pieces', () => {
    fc.assert(
      fc.property(bytes(0, 100), fc.nat(100), (data, cut) => {
        const c = Math.min(cut, data.length);
        expect(crc32c(data.subarray(c), crc32c(data.subarray(0, c)))).toBe(crc32c(data));
      }),
    );
  });
});
