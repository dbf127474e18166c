import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { DnsResponder } from '../../src/dns/responder';
import { Zone, type RegistrationOwner } from '../../src/dns/zone';
import { query } from './support';

const T0 = 1_000_000;
const LEASE = 30_000;

function zoneWith(instances: number, service = 'caesar'): Zone {
  const zone = new Zone();
  for (let i = 0; i < instances; i++) {
    const owner: RegistrationOwner = { service, instance: `${service}-${i}` };
    zone.register(owner, zone.instanceRecords(owner, { address: `2001:db8::${(i + 1).toString(16)}`, port: 4000 + i }), LEASE, T0);
  }
  return zone;
}

function decode(bytes: Buffer | null): dnsPacket.DecodedPacket & { rcode?: string; opcode?: string } {
  expect(bytes).not.toBeNull();
  return dnsPacket.decode(bytes!) as dnsPacket.DecodedPacket & { rcode?: string; opcode?: string };
}

function opt(p: dnsPacket.Packet): dnsPacket.OptAnswer | undefined {
  return p.additionals?.find((a): a is dnsPacket.OptAnswer => a.type === 'OPT');
}

describe('DnsResponder: answers', () => {
  const zone = zoneWith(2);
  const responder = new DnsResponder(zone);

  test('SRV answer with AAAA additionals, AA set, ID and RD echoed', () => {
    const reply = responder.respond(query('_stoq._udp.caesar.hypermesh', { id: 4242 }), 'udp', T0);
    expect(reply).toMatchObject({ rcode: 'NOERROR', malformed: false, truncated: false });
    const p = decode(reply.bytes);
    expect(p.id).toBe(4242);
    expect(p.type).toBe('response');
    expect(p.flag_aa).toBe(true);
    expect(p.flag_rd).toBe(true);
    expect(p.flag_ra).toBe(false);
    expect(p.flag_tc).toBe(false);
    expect(p.rcode).toBe('NOERROR');
    expect(p.answers!.map((a) => (a as dnsPacket.SrvAnswer).data)).toEqual([
      { priority: 0, weight: 1, port: 4000, target: 'caesar-0.caesar.hypermesh' },
      { priority: 0, weight: 1, port: 4001, target: 'caesar-1.caesar.hypermesh' },
    ]);
    expect(p.additionals!.map((a) => [a.type, a.name, (a as dnsPacket.StringAnswer).data])).toEqual([
      ['AAAA', 'caesar-0.caesar.hypermesh', '2001:db8::1'],
      ['AAAA', 'caesar-1.caesar.hypermesh', '2001:db8::2'],
    ]);
  });

  test('the question is echoed as sent (case included) and looked up case-insensitively', () => {
    const reply = responder.respond(query('_STOQ._Udp.CaEsAr.HYPERMESH', { rd: false }), 'udp', T0);
    const p = decode(reply.bytes);
    expect(p.questions).toEqual([{ name: '_STOQ._Udp.CaEsAr.HYPERMESH', type: 'SRV', class: 'IN' }]);
    expect(p.flag_rd).toBe(false);
    expect(p.answers).toHaveLength(2);
  });

  test.each<[string, dnsPacket.RecordType, string, number, number]>([
    ['_stoq._udp.caesar.hypermesh', 'AAAA', 'NOERROR', 0, 1], // NODATA
    ['caesar.hypermesh', 'SRV', 'NOERROR', 0, 1], // empty non-terminal
    ['_stoq._udp.nobody.hypermesh', 'SRV', 'NXDOMAIN', 0, 1],
    ['example.com', 'A', 'REFUSED', 0, 0],
    ['hypermesh', 'SOA', 'NOERROR', 1, 0],
  ])('%s %s → %s', (name, type, rcode, answers, authorities) => {
    const reply = responder.respond(query(name, { type }), 'udp', T0);
    expect(reply.rcode).toBe(rcode);
    const p = decode(reply.bytes);
    expect(p.rcode).toBe(rcode);
    expect(p.answers).toHaveLength(answers);
    expect(p.authorities!.map((a) => a.type)).toEqual(authorities === 1 ? ['SOA'] : []);
    expect(p.flag_aa).toBe(rcode !== 'REFUSED');
  });

  test('class CH, AXFR and opcodes other than QUERY', () => {
    const ch = dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'version.bind', type: 'TXT', class: 'CH' }] });
    expect(responder.respond(ch, 'udp', T0).rcode).toBe('REFUSED');
    expect(responder.respond(query('hypermesh', { type: 'AXFR' }), 'tcp', T0).rcode).toBe('REFUSED');
    const notify = Buffer.from(query('hypermesh', { type: 'SOA' }));
    notify.writeUInt16BE(notify.readUInt16BE(2) | (4 << 11), 2);
    const r = responder.respond(notify, 'udp', T0);
    expect(r).toMatchObject({ rcode: 'NOTIMP', malformed: false });
    expect(decode(r.bytes).opcode).toBe('NOTIFY');
  });

  test('answers follow the zone: new registrations and lapsed leases are seen through the cache', () => {
    const z = zoneWith(1);
    const r = new DnsResponder(z);
    const ask = (now: number): number => decode(r.respond(query('_stoq._udp.caesar.hypermesh'), 'udp', now).bytes).answers!.length;
    expect(ask(T0)).toBe(1);
    const owner = { service: 'caesar', instance: 'late' };
    z.register(owner, z.instanceRecords(owner, { address: '2001:db8::99', port: 1 }), 60_000, T0 + 1);
    expect(ask(T0 + 1)).toBe(2);
    expect(ask(T0 + LEASE)).toBe(1); // caesar-0's lease lapsed
    expect(r.respond(query('_stoq._udp.caesar.hypermesh'), 'udp', T0 + 60_001).rcode).toBe('NXDOMAIN');
  });
});

describe('DnsResponder: EDNS0 and truncation', () => {
  test('an OPT in the query gets an OPT back (our payload size, DO copied); BADVERS for version 1', () => {
    const responder = new DnsResponder(zoneWith(1));
    const p = decode(responder.respond(query('_stoq._udp.caesar.hypermesh', { edns: 4096, dnssecOk: true }), 'udp', T0).bytes);
    expect(opt(p)).toMatchObject({ udpPayloadSize: 1232, ednsVersion: 0, flag_do: true });
    const plain = decode(responder.respond(query('_stoq._udp.caesar.hypermesh'), 'udp', T0).bytes);
    expect(opt(plain)).toBeUndefined();
    const bad = responder.respond(query('_stoq._udp.caesar.hypermesh', { edns: 1232, ednsVersion: 1 }), 'udp', T0);
    expect(bad.rcode).toBe('BADVERS');
    const b = decode(bad.bytes);
    expect(b.rcode).toBe('NOERROR'); // lower 4 bits of 16
    expect(opt(b)).toMatchObject({ extendedRcode: 1, ednsVersion: 0 });
  });

  test('an answer over 512 bytes without EDNS: TC, no records; the same over TCP: everything', () => {
    const zone = zoneWith(10);
    const responder = new DnsResponder(zone);
    const q = query('_stoq._udp.caesar.hypermesh');
    const udp = responder.respond(q, 'udp', T0);
    expect(udp.truncated).toBe(true);
    expect(udp.bytes!.length).toBeLessThanOrEqual(512);
    const p = decode(udp.bytes);
    expect(p.flag_tc).toBe(true);
    expect(p.answers).toEqual([]);
    expect(p.questions).toHaveLength(1);
    const tcp = responder.respond(q, 'tcp', T0);
    expect(tcp.truncated).toBe(false);
    const t = decode(tcp.bytes);
    expect(t.flag_tc).toBe(false);
    expect(t.answers).toHaveLength(10);
    expect(t.additionals).toHaveLength(10);
  });

  test('the EDNS payload size decides: the additionals go first (no TC), then TC', () => {
    const zone = zoneWith(10); // SRV RRset ~ 0.8 kB, with the AAAAs ~ 1.4 kB
    const big = new DnsResponder(zone, { maxUdpPayload: 4096 });
    const full = decode(big.respond(query('_stoq._udp.caesar.hypermesh', { edns: 4096 }), 'udp', T0).bytes);
    expect(full.answers).toHaveLength(10);
    expect(full.additionals!.filter((a) => a.type === 'AAAA')).toHaveLength(10);

    const r1232 = big.respond(query('_stoq._udp.caesar.hypermesh', { edns: 1232 }), 'udp', T0);
    expect(r1232.truncated).toBe(false);
    expect(r1232.bytes!.length).toBeLessThanOrEqual(1232);
    const minimal = decode(r1232.bytes);
    expect(minimal.answers).toHaveLength(10);
    expect(minimal.additionals!.map((a) => a.type)).toEqual(['OPT']);

    // A payload size below 512 counts as 512 (RFC 6891 §6.2.5).
    const small = new DnsResponder(zoneWith(3));
    const r100 = small.respond(query('_stoq._udp.caesar.hypermesh', { edns: 100 }), 'udp', T0);
    expect(r100.truncated).toBe(false);
    expect(r100.bytes!.length).toBeGreaterThan(100);
    expect(decode(r100.bytes).answers).toHaveLength(3);

    // Our own maximum caps what the client offers.
    const capped = new DnsResponder(zone, { maxUdpPayload: 600 });
    const r = capped.respond(query('_stoq._udp.caesar.hypermesh', { edns: 4096 }), 'udp', T0);
    expect(r.truncated).toBe(true);
    expect(r.bytes!.length).toBeLessThanOrEqual(600);
  });

  test('property: a UDP response never exceeds the limit, and TC is set exactly when the answer records do not fit', () => {
    fc.assert(
      // EDNS sizes from 1: dns-packet's encoder writes `udpPayloadSize || 4096`, so 0 cannot be sent through it.
      fc.property(fc.integer({ min: 0, max: 30 }), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }), (n, edns) => {
        const zone = zoneWith(n);
        const responder = new DnsResponder(zone, { maxUdpPayload: 4096 });
        const q = query('_stoq._udp.caesar.hypermesh', edns === undefined ? {} : { edns });
        const reply = responder.respond(q, 'udp', T0);
        const limit = edns === undefined ? 512 : Math.min(Math.max(edns, 512), 4096);
        expect(reply.bytes!.length).toBeLessThanOrEqual(limit);
        const tcp = decode(responder.respond(q, 'tcp', T0).bytes);
        const answerOnly = dnsPacket.encode({ ...tcp, additionals: tcp.additionals!.filter((a) => a.type === 'OPT') }).length;
        expect(reply.truncated).toBe(answerOnly > limit);
        const p = decode(reply.bytes);
        expect(p.answers!.length).toBe(reply.truncated ? 0 : n);
      }),
      { numRuns: 100 },
    );
  });
});

describe('DnsResponder: malformed packets', () => {
  const responder = new DnsResponder(zoneWith(2));
  const good = query('_stoq._udp.caesar.hypermesh', { id: 0xbeef });

  function header(qd: number, id = 0xbeef): Buffer {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(id, 0);
    h.writeUInt16BE(0x0100, 2);
    h.writeUInt16BE(qd, 4);
    return h;
  }

  test.each<[string, () => Buffer, 'FORMERR' | null]>([
    ['an empty packet', () => Buffer.alloc(0), null],
    ['a truncated header', () => good.subarray(0, 7), null],
    ['a response (QR set)', () => Buffer.from([...good.subarray(0, 2), good[2]! | 0x80, ...good.subarray(3)]), null],
    ['a header announcing a question that is not there', () => header(1), 'FORMERR'],
    ['a question cut short', () => good.subarray(0, good.length - 3), 'FORMERR'],
    ['no question', () => header(0), 'FORMERR'],
    ['two questions', () => dnsPacket.encode({ type: 'query', id: 0xbeef, questions: [{ name: 'a.hypermesh', type: 'A' }, { name: 'b.hypermesh', type: 'A' }] }), 'FORMERR'],
    ['a compression pointer to itself', () => Buffer.concat([header(1), Buffer.from([0xc0, 12, 0, 33, 0, 1])]), 'FORMERR'],
    ['a compression pointer loop', () => Buffer.concat([header(1), Buffer.from([1, 0x61, 0xc0, 12, 0, 33, 0, 1])]), 'FORMERR'],
    ['a forward compression pointer', () => Buffer.concat([header(1), Buffer.from([0xc0, 14, 1, 0x61, 0, 0, 33, 0, 1])]), 'FORMERR'],
    ['a pointer into the header', () => Buffer.concat([header(1), Buffer.from([0xc0, 0x04, 0, 33, 0, 1])]), 'FORMERR'],
    ['a label with a "." inside', () => Buffer.concat([header(1), Buffer.from('\x11_stoq._udp.caesar\x09hypermesh\x00\x00\x21\x00\x01', 'latin1')]), 'FORMERR'],
    ['a bad label type (0x40)', () => Buffer.concat([header(1), Buffer.from([0x41, 0x61, 0, 0, 33, 0, 1])]), 'FORMERR'],
    ['trailing bytes', () => Buffer.concat([good, Buffer.from([1, 2, 3])]), 'FORMERR'],
    ['an oversized packet', () => Buffer.concat([good, Buffer.alloc(4000)]), 'FORMERR'],
    ['two OPT records', () => {
      const o = { type: 'OPT' as const, name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
      return dnsPacket.encode({ type: 'query', id: 0xbeef, questions: [{ name: 'hypermesh', type: 'SOA' }], additionals: [o, o] });
    }, 'FORMERR'],
    ['garbage after a valid header', () => Buffer.concat([header(1), Buffer.from([0xff, 0xfe, 0xfd, 0xfc, 0xfb])]), 'FORMERR'],
  ])('%s', (_what, make, rcode) => {
    const reply = responder.respond(make(), 'udp', T0);
    expect(reply.malformed).toBe(true);
    expect(reply.rcode).toBe(rcode);
    expect(typeof reply.reason).toBe('string');
    if (rcode === null) {
      expect(reply.bytes).toBeNull();
    } else {
      const p = decode(reply.bytes);
      expect(p.id).toBe(0xbeef);
      expect(p.type).toBe('response');
      expect(p.rcode).toBe(rcode);
      expect(p.questions).toEqual([]);
    }
    // The responder keeps answering.
    expect(decode(responder.respond(good, 'udp', T0).bytes).answers).toHaveLength(2);
  });

  test('property: no input makes respond throw; whatever it sends is a response with the query ID', () => {
    const mutated = fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(good.length)).map(([i, b, cut]) => {
      const copy = Buffer.from(good);
      copy[i] = b;
      return copy.subarray(0, Math.max(cut, 1));
    });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), mutated), (bytes) => {
        for (const transport of ['udp', 'tcp'] as const) {
          const reply = responder.respond(bytes, transport, T0);
          if (reply.bytes === null) {
            expect(reply.malformed).toBe(true);
            continue;
          }
          expect(reply.bytes.readUInt16BE(0)).toBe(Buffer.from(bytes).readUInt16BE(0));
          const p = dnsPacket.decode(reply.bytes);
          expect(p.type).toBe('response');
          if (transport === 'udp') expect(reply.bytes.length).toBeLessThanOrEqual(1232);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('DnsResponder: the reply caches', () => {
  // A random walk of queries (names in and out of the zone, any case, types, IDs, RD, EDNS,
  // UDP/TCP, garbage) interleaved with registrations and lapsing leases: with both caches on,
  // every reply is byte for byte the reply of a responder that caches nothing.
  const names = ['_stoq._udp.caesar.hypermesh', 'caesar-0.caesar.hypermesh', 'caesar-1.caesar.hypermesh', 'late.caesar.hypermesh', 'hypermesh', 'nobody.hypermesh', 'example.com'];
  const types: dnsPacket.RecordType[] = ['SRV', 'AAAA', 'TXT', 'SOA', 'NS', 'A'];
  const recase = (name: string, mask: number): string => [...name].map((c, i) => ((mask >> i % 31) & 1 ? c.toUpperCase() : c)).join('');
  const queryArb = fc.record({
    name: fc.constantFrom(...names),
    mask: fc.nat(),
    type: fc.constantFrom(...types),
    id: fc.integer({ min: 0, max: 65535 }),
    rd: fc.boolean(),
    edns: fc.option(fc.constantFrom(512, 1232, 4096), { nil: undefined }),
    tcp: fc.boolean(),
  });
  // Steps pick from a small pool of packets, so the same bytes come back after the zone changed.
  const step = fc.oneof(
    fc.record({ kind: fc.constant('send' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('register' as const), port: fc.integer({ min: 1, max: 65535 }) }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: LEASE }) }),
  );
  const packet = fc.oneof(
    { weight: 5, arbitrary: queryArb.map((q) => ({ bytes: query(recase(q.name, q.mask), { id: q.id, type: q.type, rd: q.rd, ...(q.edns !== undefined ? { edns: q.edns } : {}) }), tcp: q.tcp })) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 12, maxLength: 40 }).map((b) => ({ bytes: Buffer.from(b), tcp: false })) },
  );

  test('never change a reply', () => {
    fc.assert(
      fc.property(fc.array(packet, { minLength: 1, maxLength: 6 }), fc.array(step, { maxLength: 60 }), (pool, steps) => {
        const zone = zoneWith(2);
        const cached = new DnsResponder(zone);
        const uncached = new DnsResponder(zone, { cacheEntries: 0 });
        let now = T0;
        for (const s of steps) {
          if (s.kind === 'register') {
            const owner = { service: 'caesar', instance: 'late' };
            zone.register(owner, zone.instanceRecords(owner, { address: '2001:db8::99', port: s.port }), LEASE, now);
          } else if (s.kind === 'advance') {
            now += s.ms;
          } else {
            const p = pool[s.pick % pool.length]!;
            const transport = p.tcp ? 'tcp' : 'udp';
            expect(cached.respond(p.bytes, transport, now)).toEqual(uncached.respond(p.bytes, transport, now));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  test('a repeated query gets its own ID back', () => {
    const responder = new DnsResponder(zoneWith(1));
    for (const id of [1, 2, 65535, 1]) {
      expect(decode(responder.respond(query('_stoq._udp.caesar.hypermesh', { id }), 'udp', T0).bytes).id).toBe(id);
    }
  });
});
