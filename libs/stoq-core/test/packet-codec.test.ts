import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parse } from 'protobufjs';
import { StoqError } from '../src/errors';
import { STOQ_PACKET_PROTO_PATH, decodeStoqPacket, encodeStoqPacket, type StoqPacket } from '../src/packet/codec';
import { appendHop, createHopInfo } from '../src/packet/hop';
import { parseIpv6 } from '../src/packet/ipv6';
import { shardMessage } from '../src/packet/shard';
import { computeToken, verifyToken } from '../src/packet/token';

const errCode = (code: string) => expect.objectContaining({ code });
const U64 = (1n << 64n) - 1n;

function fullPacket(): StoqPacket {
  const message = Uint8Array.from({ length: 100 }, (_, i) => i);
  const shard = shardMessage(U64, message, 30)[1]!;
  const base = { streamId: 4n, sequence: U64 - 1n, data: shard.data };
  return {
    ...base,
    token: computeToken(base),
    shard: shard.info,
    hopInfo: appendHop(appendHop(createHopInfo(8), '2001:db8::1'), '2001:db8::2'),
    seedInfo: { origin: parseIpv6('2001:db8::1'), fanOut: 2, replicaPeers: [parseIpv6('2001:db8::3')], generation: 1n << 40n },
  };
}

/** Hand-assembled protobuf: field `n` as length-delimited bytes. */
function lenField(n: number, bytes: number[]): number[] {
  return [(n << 3) | 2, bytes.length, ...bytes];
}

describe('StoqPacket codec', () => {
  it('round-trips every extension, including uint64 extremes', () => {
    const packet = fullPacket();
    const decoded = decodeStoqPacket(encodeStoqPacket(packet));
    expect(decoded).toEqual(packet);
    expect(() => verifyToken(decoded)).not.toThrow();
  });

  it('round-trips a bare packet and leaves absent extensions undefined', () => {
    const decoded = decodeStoqPacket(encodeStoqPacket({ streamId: 0n, sequence: 0n, data: new Uint8Array(0) }));
    expect(decoded).toEqual({ streamId: 0n, sequence: 0n, data: new Uint8Array(0) });
    expect(decoded.token).toBeUndefined();
  });

  it('round-trips arbitrary ids, sequences and data', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: U64 }), fc.bigInt({ min: 0n, max: U64 }), fc.uint8Array({ maxLength: 200 }), (streamId, sequence, data) => {
        const p = { streamId, sequence, data, token: computeToken({ streamId, sequence, data }) };
        expect(decodeStoqPacket(encodeStoqPacket(p))).toEqual(p);
      }),
    );
  });

  it('matches the .proto field numbers (an outside encoder interoperates)', () => {
    // stream_id = 1 (varint 5), sequence = 2 (varint 6), data = 3 ("hi"), token = 4 { digest = 1 }
    const digest = Array.from({ length: 32 }, (_, i) => i);
    const bytes = Uint8Array.from([0x08, 5, 0x10, 6, ...lenField(3, [0x68, 0x69]), ...lenField(4, lenField(1, digest))]);
    const p = decodeStoqPacket(bytes);
    expect(p.streamId).toBe(5n);
    expect(p.sequence).toBe(6n);
    expect(Buffer.from(p.data).toString()).toBe('hi');
    expect(Array.from(p.token!.digest)).toEqual(digest);
    // and the schema file really declares them
    const schema = parse(readFileSync(STOQ_PACKET_PROTO_PATH, 'utf8')).root.lookupType('stoq.v1.StoqPacket');
    expect(Object.fromEntries(Object.values(schema.fields).map((f) => [f.name, f.id]))).toEqual({
      streamId: 1, sequence: 2, data: 3, token: 4, shard: 5, hopInfo: 6, seedInfo: 7,
    });
  });

  it('refuses oversized input before parsing (PACKET_TOO_LARGE)', () => {
    expect(() => decodeStoqPacket(new Uint8Array(101), { maxBytes: 100 })).toThrow(errCode('PACKET_TOO_LARGE'));
  });

  it('reports malformed protobuf as PACKET_MALFORMED', () => {
    expect(() => decodeStoqPacket(Uint8Array.from([0x1a, 10, 1, 2]))).toThrow(errCode('PACKET_MALFORMED')); // truncated bytes
    expect(() => decodeStoqPacket(Uint8Array.from([0x08, 0xff, 0xff]))).toThrow(errCode('PACKET_MALFORMED')); // truncated varint
  });

  it('names the field of a structurally invalid extension', () => {
    expect(() => decodeStoqPacket(Uint8Array.from(lenField(4, lenField(1, [1, 2, 3]))))).toThrow(/token\.digest is 3 bytes/);
    const hash = Array.from({ length: 32 }, () => 7);
    // shard { index 5, count 2, total_length 10, hashes }
    const shard = [0x10, 5, 0x18, 2, 0x20, 10, ...lenField(5, hash), ...lenField(6, hash)];
    expect(() => decodeStoqPacket(Uint8Array.from(lenField(5, shard)))).toThrow(/shard: index 5 is not below count 2/);
    // hop_info with a 4-byte hop
    expect(() => decodeStoqPacket(Uint8Array.from(lenField(6, [...lenField(1, [10, 0, 0, 1]), 0x10, 4])))).toThrow(
      expect.objectContaining({ code: 'PACKET_MALFORMED', message: expect.stringContaining('hops[0]') }),
    );
  });

  it('keeps extension codes for routing faults (HOP_LOOP, IPV4_REFUSED, SEED_INVALID)', () => {
    const a = Array.from(parseIpv6('2001:db8::1'));
    const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1];
    expect(() => decodeStoqPacket(Uint8Array.from(lenField(6, [...lenField(1, a), ...lenField(1, a), 0x10, 4])))).toThrow(errCode('HOP_LOOP'));
    expect(() => decodeStoqPacket(Uint8Array.from(lenField(6, [...lenField(1, mapped), 0x10, 4])))).toThrow(errCode('IPV4_REFUSED'));
    expect(() => decodeStoqPacket(Uint8Array.from(lenField(7, [...lenField(1, a), 0x10, 0])))).toThrow(errCode('SEED_INVALID'));
  });

  it('refuses to encode what a peer would reject', () => {
    const p = fullPacket();
    expect(() => encodeStoqPacket({ ...p, token: { digest: new Uint8Array(1) } })).toThrow(errCode('PACKET_MALFORMED'));
    expect(() => encodeStoqPacket({ ...p, streamId: -1n })).toThrow(errCode('INVALID_ARGUMENT'));
    expect(() => encodeStoqPacket({ ...p, hopInfo: { hops: [parseIpv6('::1'), parseIpv6('::1')], hopLimit: 3 } })).toThrow(errCode('HOP_LOOP'));
  });

  it('never throws anything but StoqError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeStoqPacket(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(StoqError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws anything but StoqError on mutations of a valid packet', () => {
    const valid = encodeStoqPacket(fullPacket());
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(valid.length), (edits, cut) => {
        const bytes = Uint8Array.from(valid);
        for (const [i, v] of edits) bytes[i] = v;
        try {
          decodeStoqPacket(bytes.subarray(0, cut));
        } catch (err) {
          expect(err).toBeInstanceOf(StoqError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
