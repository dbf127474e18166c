import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { appendHop, createHopInfo, hasVisited, validateHopInfo } from '../src/packet/hop';
import { formatIpv6, parseIpv6, parseIpv6Endpoint } from '../src/packet/ipv6';
import { MAX_SEED_FAN_OUT, createSeedInfo, selectSeedPeers, validateSeedInfo } from '../src/packet/seed';

const errCode = (code: string) => expect.objectContaining({ code });
const addr = (i: number) => parseIpv6(`2001:db8::${i.toString(16)}`);

describe('IPv6 addresses', () => {
  it('parses and formats addresses (RFC 5952 canonical text)', () => {
    expect(formatIpv6(parseIpv6('2001:0db8:0000:0000:0000:0000:0000:0001'))).toBe('2001:db8::1');
    expect(formatIpv6(parseIpv6('::1'))).toBe('::1');
    expect(formatIpv6(parseIpv6('::'))).toBe('::');
    expect(formatIpv6(parseIpv6('fe80::1:0:0:0:1'))).toBe('fe80:0:0:1::1'); // longest run wins
    expect(formatIpv6(parseIpv6('2001:db8:0:0:1:0:0:1'))).toBe('2001:db8::1:0:0:1'); // tie: first run
    expect(formatIpv6(parseIpv6('2001:db8:0:1:1:1:1:1'))).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatIpv6(parseIpv6('64:ff9b::192.0.2.1'))).toBe('64:ff9b::c000:201');
  });

  it('round-trips any 16-byte non-mapped address through text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        fc.pre(!(bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff));
        expect(Array.from(parseIpv6(formatIpv6(bytes)))).toEqual(Array.from(bytes));
      }),
    );
  });

  it('refuses IPv4 and IPv4-mapped addresses with IPV4_REFUSED, garbage with INVALID_ADDRESS', () => {
    expect(() => parseIpv6('192.0.2.1')).toThrow(errCode('IPV4_REFUSED'));
    expect(() => parseIpv6('::ffff:192.0.2.1')).toThrow(errCode('IPV4_REFUSED'));
    expect(() => parseIpv6('::ffff:c000:201')).toThrow(errCode('IPV4_REFUSED'));
    expect(() => parseIpv6('fe80::1%eth0')).toThrow(errCode('INVALID_ADDRESS'));
    expect(() => parseIpv6('2001:db8::g')).toThrow(errCode('INVALID_ADDRESS'));
  });

  it('parses [addr]:port endpoints', () => {
    expect(parseIpv6Endpoint('[::1]:4433')).toEqual({ address: '::1', port: 4433 });
    expect(parseIpv6Endpoint('[::]:0')).toEqual({ address: '::', port: 0 });
    expect(() => parseIpv6Endpoint('127.0.0.1:4433')).toThrow(errCode('IPV4_REFUSED'));
    expect(() => parseIpv6Endpoint('[::ffff:127.0.0.1]:4433')).toThrow(errCode('IPV4_REFUSED'));
    expect(() => parseIpv6Endpoint('[::1]:65536')).toThrow(/65536/);
    expect(() => parseIpv6Endpoint('::1:4433')).toThrow(errCode('INVALID_ADDRESS'));
    expect(() => parseIpv6Endpoint('[::1]')).toThrow(errCode('INVALID_ADDRESS'));
  });
});

describe('HopInfo', () => {
  it('appends hops immutably up to the hop limit, then throws HOP_LIMIT', () => {
    let info = createHopInfo(3);
    info = appendHop(info, '2001:db8::1');
    const before = info;
    info = appendHop(info, addr(2));
    info = appendHop(info, addr(3));
    expect(before.hops.length).toBe(1);
    expect(info.hops.map(formatIpv6)).toEqual(['2001:db8::1', '2001:db8::2', '2001:db8::3']);
    expect(hasVisited(info, '2001:db8::2')).toBe(true);
    expect(() => appendHop(info, addr(4))).toThrow(errCode('HOP_LIMIT'));
  });

  it('detects loops with HOP_LOOP, naming the address', () => {
    const info = appendHop(appendHop(createHopInfo(), addr(1)), addr(2));
    expect(() => appendHop(info, '2001:db8:0::1')).toThrow(expect.objectContaining({ code: 'HOP_LOOP', message: expect.stringContaining('2001:db8::1') }));
  });

  it('refuses IPv4 and mapped hop addresses with IPV4_REFUSED', () => {
    const mapped = new Uint8Array(16);
    mapped.set([0xff, 0xff, 10, 0, 0, 1], 10);
    expect(() => appendHop(createHopInfo(), '10.0.0.1')).toThrow(errCode('IPV4_REFUSED'));
    expect(() => appendHop(createHopInfo(), mapped)).toThrow(errCode('IPV4_REFUSED'));
    expect(() => appendHop(createHopInfo(), new Uint8Array(4))).toThrow(errCode('INVALID_ADDRESS'));
  });

  it('validates received routes', () => {
    expect(() => validateHopInfo({ hops: [addr(1), addr(2)], hopLimit: 1 })).toThrow(errCode('HOP_LIMIT'));
    expect(() => validateHopInfo({ hops: [addr(1), addr(1)], hopLimit: 5 })).toThrow(errCode('HOP_LOOP'));
    expect(() => validateHopInfo({ hops: [], hopLimit: 0 })).toThrow(/hop_limit/);
    expect(() => validateHopInfo({ hops: [], hopLimit: 256 })).toThrow(/hop_limit/);
    expect(() => validateHopInfo({ hops: [addr(1)], hopLimit: 1 })).not.toThrow();
  });
});

describe('seed selection (rendezvous hashing)', () => {
  const candidates = Array.from({ length: 20 }, (_, i) => addr(i + 1));
  const seed = new Uint8Array(createHash('sha256').update('payload').digest());

  it('is deterministic, order-independent and picks the n heaviest', () => {
    const a = selectSeedPeers(candidates, 3, seed);
    const b = selectSeedPeers([...candidates].reverse(), 3, seed);
    expect(a.map(formatIpv6)).toEqual(b.map(formatIpv6));
    expect(a.length).toBe(3);
    // matches the documented weight: SHA-256(u32 BE seed length || seed || candidate)
    const weight = (c: Uint8Array) =>
      createHash('sha256').update(Buffer.from([0, 0, 0, 32])).update(seed).update(c).digest();
    const byWeight = [...candidates].sort((x, y) => Buffer.compare(weight(y), weight(x)));
    expect(a.map(formatIpv6)).toEqual(byWeight.slice(0, 3).map(formatIpv6));
  });

  it('moves only the replicas of a removed candidate (minimal disruption)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 32 }), fc.nat(19), (s, removeIdx) => {
        const before = selectSeedPeers(candidates, 5, s).map(formatIpv6);
        const removed = formatIpv6(candidates[removeIdx]!);
        const after = selectSeedPeers(candidates.filter((_, i) => i !== removeIdx), 5, s).map(formatIpv6);
        const kept = before.filter((x) => x !== removed);
        expect(after.slice(0, kept.length)).toEqual(kept);
      }),
    );
  });

  it('counts duplicate candidates once and returns all when fewer than n', () => {
    expect(selectSeedPeers([addr(1), addr(1), addr(2)], 5, seed).length).toBe(2);
    expect(() => selectSeedPeers(candidates, -1, seed)).toThrow(/fan-out/);
  });

  it('createSeedInfo excludes the origin and produces a valid SeedInfo', () => {
    const info = createSeedInfo({ origin: candidates[0]!, candidates, fanOut: 19, seedBytes: seed, generation: 2n });
    expect(info.replicaPeers.length).toBe(19);
    expect(info.replicaPeers.map(formatIpv6)).not.toContain(formatIpv6(candidates[0]!));
    expect(info.generation).toBe(2n);
  });

  it('validateSeedInfo names what is wrong', () => {
    const base = { origin: addr(1), fanOut: 2, replicaPeers: [addr(2), addr(3)], generation: 0n };
    expect(() => validateSeedInfo(base)).not.toThrow();
    expect(() => validateSeedInfo({ ...base, fanOut: 0 })).toThrow(errCode('SEED_INVALID'));
    expect(() => validateSeedInfo({ ...base, fanOut: MAX_SEED_FAN_OUT + 1 })).toThrow(errCode('SEED_INVALID'));
    expect(() => validateSeedInfo({ ...base, fanOut: 1 })).toThrow(/2 replica peers for fan_out 1/);
    expect(() => validateSeedInfo({ ...base, replicaPeers: [addr(2), addr(2)] })).toThrow(/listed twice/);
    expect(() => validateSeedInfo({ ...base, replicaPeers: [addr(1)] })).toThrow(/is the origin/);
    expect(() => validateSeedInfo({ ...base, origin: new Uint8Array(4) })).toThrow(errCode('INVALID_ADDRESS'));
  });
});
