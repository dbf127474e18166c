import fc from 'fast-check';
import { isZoneError, type ZoneErrorCode } from '../../src/dns/errors';
import { Zone, type RecordInput, type RegistrationOwner, type SrvRecord } from '../../src/dns/zone';

const caesar1: RegistrationOwner = { service: 'caesar', instance: 'caesar-1' };
const caesar2: RegistrationOwner = { service: 'caesar', instance: 'caesar-2' };
const LEASE = 30_000;
const T0 = 1_000_000;

function own(zone: Zone, owner: RegistrationOwner, address = '2001:db8::1', port = 4433): RecordInput[] {
  return zone.instanceRecords(owner, { address, port, txt: ['v=1'] });
}

function expectRefused(fn: () => unknown, code: ZoneErrorCode): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(isZoneError(thrown)).toBe(true);
  expect((thrown as { code: string }).code).toBe(code);
}

describe('Zone: authorization rule', () => {
  test('a service publishes its SRV, its instance host AAAA and TXT under both', () => {
    const zone = new Zone();
    const reg = zone.register(caesar1, [...own(zone, caesar1), { type: 'TXT', name: '_stoq._udp.caesar.hypermesh', text: ['shared'] }], LEASE, T0);
    expect(reg.records.map((r) => `${r.type} ${r.name}`).sort()).toEqual([
      'AAAA caesar-1.caesar.hypermesh.',
      'SRV _stoq._udp.caesar.hypermesh.',
      'TXT _stoq._udp.caesar.hypermesh.',
      'TXT caesar-1.caesar.hypermesh.',
    ]);
    expect(reg.expiresAt).toBe(T0 + LEASE);
  });

  test.each<[string, RecordInput, ZoneErrorCode]>([
    ['another service SRV name', { type: 'SRV', name: '_stoq._udp.trustchain.hypermesh.', priority: 0, weight: 1, port: 1, target: 'caesar-1.caesar.hypermesh.' }, 'NAME_OF_OTHER_SERVICE'],
    ['another service host', { type: 'AAAA', name: 'tc-1.trustchain.hypermesh.', address: '::1' }, 'NAME_OF_OTHER_SERVICE'],
    ['a name outside the zone', { type: 'AAAA', name: 'caesar-1.caesar.example.', address: '::1' }, 'NAME_OUTSIDE_ZONE'],
    ['a look-alike zone', { type: 'AAAA', name: 'caesar-1.caesar.nothypermesh.', address: '::1' }, 'NAME_OUTSIDE_ZONE'],
    ['another instance of its service', { type: 'AAAA', name: 'caesar-2.caesar.hypermesh.', address: '::1' }, 'NAME_OF_OTHER_INSTANCE'],
    ['the service name itself', { type: 'TXT', name: 'caesar.hypermesh.', text: ['x'] }, 'NAME_NOT_ALLOWED'],
    ['a name below its host', { type: 'AAAA', name: 'x.caesar-1.caesar.hypermesh.', address: '::1' }, 'NAME_NOT_ALLOWED'],
    ['a _tcp SRV', { type: 'SRV', name: '_stoq._tcp.caesar.hypermesh.', priority: 0, weight: 1, port: 1, target: 'caesar-1.caesar.hypermesh.' }, 'NAME_NOT_ALLOWED'],
    ['the apex', { type: 'TXT', name: 'hypermesh.', text: ['x'] }, 'NAME_NOT_ALLOWED'],
    ['the name server host', { type: 'AAAA', name: 'ns.hypermesh.', address: '::1' }, 'NAME_OF_OTHER_SERVICE'],
    ['AAAA at the SRV name', { type: 'AAAA', name: '_stoq._udp.caesar.hypermesh.', address: '::1' }, 'TYPE_NOT_ALLOWED'],
    ['SRV at the host', { type: 'SRV', name: 'caesar-1.caesar.hypermesh.', priority: 0, weight: 1, port: 1, target: 'caesar-1.caesar.hypermesh.' }, 'TYPE_NOT_ALLOWED'],
    ['a CNAME', { type: 'CNAME', name: 'caesar-1.caesar.hypermesh.', address: '::1' } as unknown as RecordInput, 'TYPE_NOT_ALLOWED'],
    ['an SRV pointing elsewhere', { type: 'SRV', name: '_stoq._udp.caesar.hypermesh.', priority: 0, weight: 1, port: 1, target: 'tc-1.trustchain.hypermesh.' }, 'SRV_TARGET_NOT_OWNED'],
    ['an IPv4 address', { type: 'AAAA', name: 'caesar-1.caesar.hypermesh.', address: '127.0.0.1' }, 'RECORD_INVALID'],
    ['an IPv4-mapped address', { type: 'AAAA', name: 'caesar-1.caesar.hypermesh.', address: '::ffff:127.0.0.1' }, 'RECORD_INVALID'],
    ['the unspecified address', { type: 'AAAA', name: 'caesar-1.caesar.hypermesh.', address: '::' }, 'RECORD_INVALID'],
    ['port 0', { type: 'SRV', name: '_stoq._udp.caesar.hypermesh.', priority: 0, weight: 1, port: 0, target: 'caesar-1.caesar.hypermesh.' }, 'RECORD_INVALID'],
    ['priority 65536', { type: 'SRV', name: '_stoq._udp.caesar.hypermesh.', priority: 65536, weight: 1, port: 1, target: 'caesar-1.caesar.hypermesh.' }, 'RECORD_INVALID'],
    ['a TTL longer than the lease', { type: 'AAAA', name: 'caesar-1.caesar.hypermesh.', address: '::1', ttl: 31 }, 'RECORD_INVALID'],
    ['a negative TTL', { type: 'AAAA', name: 'caesar-1.caesar.hypermesh.', address: '::1', ttl: -1 }, 'RECORD_INVALID'],
    ['a 256-byte TXT string', { type: 'TXT', name: 'caesar-1.caesar.hypermesh.', text: ['x'.repeat(256)] }, 'RECORD_INVALID'],
    ['an empty label', { type: 'AAAA', name: 'caesar-1..caesar.hypermesh.', address: '::1' }, 'NAME_INVALID'],
    ['a 64-character label', { type: 'AAAA', name: `${'a'.repeat(64)}.caesar.hypermesh.`, address: '::1' }, 'NAME_INVALID'],
    ['a space in a label', { type: 'AAAA', name: 'caesar 1.caesar.hypermesh.', address: '::1' }, 'NAME_INVALID'],
  ])('caesar/caesar-1 may not publish %s', (_what, record, code) => {
    const zone = new Zone();
    const before = zone.version;
    expectRefused(() => zone.register(caesar1, [record], LEASE, T0), code);
    expect(zone.version).toBe(before);
    expect(zone.registrations(T0)).toEqual([]);
  });

  test('a refused registration leaves the owner previous records in place', () => {
    const zone = new Zone();
    zone.register(caesar1, own(zone, caesar1), LEASE, T0);
    const v = zone.version;
    expectRefused(() => zone.register(caesar1, [...own(zone, caesar1, '2001:db8::9'), { type: 'AAAA', name: 'tc-1.trustchain.hypermesh', address: '::1' }], LEASE, T0 + 1), 'NAME_OF_OTHER_SERVICE');
    expect(zone.version).toBe(v);
    expect(zone.lookup('caesar-1.caesar.hypermesh.', 'AAAA', T0 + 1).answers).toEqual([{ type: 'AAAA', name: 'caesar-1.caesar.hypermesh.', ttl: 10, address: '2001:db8::1' }]);
  });

  test('owners, leases and limits', () => {
    const zone = new Zone({ limits: { maxRecordsPerRegistration: 3, maxInstancesPerService: 2, maxRegistrations: 3 } });
    expectRefused(() => zone.register({ service: 'Caesar', instance: 'c1' }, [], LEASE, T0), 'OWNER_INVALID');
    expectRefused(() => zone.register({ service: 'caesar', instance: '_c1' }, [], LEASE, T0), 'OWNER_INVALID');
    expectRefused(() => zone.register({ service: 'ns', instance: 'x' }, [], LEASE, T0), 'OWNER_INVALID');
    expectRefused(() => zone.register(caesar1, [], LEASE, T0), 'NO_RECORDS');
    expectRefused(() => zone.register(caesar1, own(zone, caesar1), 0, T0), 'LEASE_INVALID');
    expectRefused(() => zone.register(caesar1, own(zone, caesar1), 1.5e3 + 0.5, T0), 'LEASE_INVALID');
    expectRefused(() => zone.register(caesar1, own(zone, caesar1), 3_600_001, T0), 'LEASE_INVALID');
    const four = [...own(zone, caesar1), { type: 'TXT', name: '_stoq._udp.caesar.hypermesh.', text: ['x'] } as const];
    expectRefused(() => zone.register(caesar1, four, LEASE, T0), 'TOO_MANY_RECORDS');
    zone.register(caesar1, own(zone, caesar1), LEASE, T0);
    zone.register(caesar2, own(zone, caesar2), LEASE, T0);
    const caesar3 = { service: 'caesar', instance: 'caesar-3' };
    expectRefused(() => zone.register(caesar3, own(zone, caesar3), LEASE, T0), 'TOO_MANY_INSTANCES');
    const tc = { service: 'trustchain', instance: 'tc-1' };
    const cat = { service: 'catalog', instance: 'cat-1' };
    zone.register(tc, own(zone, tc), LEASE, T0);
    expectRefused(() => zone.register(cat, own(zone, cat), LEASE, T0), 'ZONE_FULL');
    // Renewing at the limit is fine.
    zone.register(tc, own(zone, tc), LEASE, T0 + 1);
  });

  test('names are case-insensitive and canonicalised', () => {
    const zone = new Zone();
    const reg = zone.register(caesar1, [{ type: 'SRV', name: '_STOQ._UDP.Caesar.HyperMesh', priority: 0, weight: 1, port: 9, target: 'CAESAR-1.caesar.hypermesh' }], LEASE, T0);
    expect(reg.records[0]!.name).toBe('_stoq._udp.caesar.hypermesh.');
    expect((reg.records[0] as SrvRecord).target).toBe('caesar-1.caesar.hypermesh.');
    expect(zone.lookup('_Stoq._Udp.CAESAR.hypermesh', 'SRV', T0).answers).toHaveLength(1);
  });

  test('property: a registration is accepted exactly when every name is the owner', () => {
    const services = ['caesar', 'trustchain', 'catalog'];
    const instances = ['a', 'b'];
    const nameArb = fc.oneof(
      fc.record({ kind: fc.constant('srv' as const), service: fc.constantFrom(...services) }),
      fc.record({ kind: fc.constant('host' as const), service: fc.constantFrom(...services), instance: fc.constantFrom(...instances) }),
      fc.record({ kind: fc.constant('other' as const), name: fc.constantFrom('hypermesh.', 'caesar.hypermesh.', 'x.a.caesar.hypermesh.', '_stoq._udp.caesar.example.', 'a.caesar.') }),
    );
    fc.assert(
      fc.property(fc.constantFrom(...services), fc.constantFrom(...instances), nameArb, fc.constantFrom('SRV', 'AAAA', 'TXT'), (service, instance, target, type) => {
        const zone = new Zone();
        const owner = { service, instance };
        const name = target.kind === 'srv' ? `_stoq._udp.${target.service}.hypermesh.` : target.kind === 'host' ? `${target.instance}.${target.service}.hypermesh.` : target.name;
        const record: RecordInput =
          type === 'SRV'
            ? { type: 'SRV', name, priority: 0, weight: 1, port: 1, target: `${instance}.${service}.hypermesh.` }
            : type === 'AAAA'
              ? { type: 'AAAA', name, address: '2001:db8::5' }
              : { type: 'TXT', name, text: ['t'] };
        const mine =
          (target.kind === 'srv' && target.service === service && (type === 'SRV' || type === 'TXT')) ||
          (target.kind === 'host' && target.service === service && target.instance === instance && (type === 'AAAA' || type === 'TXT'));
        let accepted = true;
        try {
          zone.register(owner, [record], LEASE, T0);
        } catch (err) {
          if (!isZoneError(err)) throw err;
          accepted = false;
        }
        expect(accepted).toBe(mine);
      }),
      { numRuns: 500 },
    );
  });
});

describe('Zone: leases', () => {
  test('records vanish when the lease lapses unless renewed', () => {
    const zone = new Zone();
    zone.register(caesar1, own(zone, caesar1), 10_000, T0);
    expect(zone.lookup('_stoq._udp.caesar.hypermesh.', 'SRV', T0 + 9_999).answers).toHaveLength(1);
    expect(zone.lookup('_stoq._udp.caesar.hypermesh.', 'SRV', T0 + 10_000).rcode).toBe('NXDOMAIN');

    zone.register(caesar2, own(zone, caesar2), 10_000, T0);
    zone.register(caesar2, own(zone, caesar2), 10_000, T0 + 8_000); // renewed
    expect(zone.lookup('_stoq._udp.caesar.hypermesh.', 'SRV', T0 + 17_999).answers).toHaveLength(1);
    expect(zone.expire(T0 + 18_000).map((r) => r.owner.instance)).toEqual(['caesar-2']);
    expect(zone.registrations(T0 + 18_000)).toEqual([]);
  });

  test('a renewal with the same records changes nothing served; new records replace the old', () => {
    const zone = new Zone();
    zone.register(caesar1, own(zone, caesar1, '2001:db8::1', 1000), LEASE, T0);
    const v = zone.version;
    zone.register(caesar1, own(zone, caesar1, '2001:db8::1', 1000), LEASE, T0 + 1000);
    expect(zone.version).toBe(v);
    zone.register(caesar1, own(zone, caesar1, '2001:db8::2', 2000), LEASE, T0 + 2000);
    expect(zone.version).toBeGreaterThan(v);
    const srv = zone.lookup('_stoq._udp.caesar.hypermesh.', 'SRV', T0 + 2000);
    expect(srv.answers).toEqual([{ type: 'SRV', name: '_stoq._udp.caesar.hypermesh.', ttl: 10, priority: 0, weight: 1, port: 2000, target: 'caesar-1.caesar.hypermesh.' }]);
    expect(srv.additionals).toEqual([{ type: 'AAAA', name: 'caesar-1.caesar.hypermesh.', ttl: 10, address: '2001:db8::2' }]);
  });

  test('deregister withdraws at once; the SOA serial follows every change', () => {
    const zone = new Zone();
    const s0 = zone.soa.serial;
    zone.register(caesar1, own(zone, caesar1), LEASE, T0);
    zone.register(caesar2, own(zone, caesar2, '2001:db8::2'), LEASE, T0);
    expect(zone.lookup('_stoq._udp.caesar.hypermesh.', 'SRV', T0).answers).toHaveLength(2);
    expect(zone.deregister(caesar1)).toBe(true);
    expect(zone.deregister(caesar1)).toBe(false);
    expect(zone.lookup('_stoq._udp.caesar.hypermesh.', 'SRV', T0).answers.map((r) => (r as SrvRecord).target)).toEqual(['caesar-2.caesar.hypermesh.']);
    expect(zone.lookup('caesar-1.caesar.hypermesh.', 'AAAA', T0).rcode).toBe('NXDOMAIN');
    expect(zone.soa.serial).toBe(s0 + 3);
  });

  test('load takes back the running registrations and skips lapsed ones', () => {
    const zone = new Zone();
    zone.register(caesar1, own(zone, caesar1), 10_000, T0);
    zone.register(caesar2, own(zone, caesar2, '2001:db8::2'), 20_000, T0);
    const saved = JSON.parse(JSON.stringify(zone.registrations(T0))) as ReturnType<Zone['registrations']>;
    const again = Zone.load(saved, T0 + 15_000);
    expect(again.registrations(T0 + 15_000).map((r) => r.owner.instance)).toEqual(['caesar-2']);
    expect(again.lookup('_stoq._udp.caesar.hypermesh.', 'SRV', T0 + 15_000).answers).toEqual(zone.lookup('_stoq._udp.caesar.hypermesh.', 'SRV', T0 + 15_000).answers);
    expect(again.lookup('_stoq._udp.caesar.hypermesh.', 'SRV', T0 + 20_000).rcode).toBe('NXDOMAIN');
    const forged = [{ ...saved[0]!, owner: { service: 'trustchain', instance: 'caesar-2' } }];
    expectRefused(() => Zone.load(forged, T0), 'NAME_OF_OTHER_SERVICE');
  });

  test('property: after any sequence of register/deregister/expire the SRV RRset is what the leases say', () => {
    const owners = ['a', 'b', 'c', 'd'].map((i) => ({ service: 'caesar', instance: i }));
    const op = fc.oneof(
      fc.record({ op: fc.constant('register' as const), who: fc.nat(3), port: fc.integer({ min: 1, max: 3 }), lease: fc.integer({ min: 1000, max: 5000 }) }),
      fc.record({ op: fc.constant('deregister' as const), who: fc.nat(3) }),
      fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const zone = new Zone();
        const model = new Map<string, { port: number; until: number }>();
        let now = T0;
        for (const o of ops) {
          if (o.op === 'register') {
            const owner = owners[o.who]!;
            zone.register(owner, zone.instanceRecords(owner, { address: '2001:db8::1', port: o.port, ttl: 1 }), o.lease, now);
            model.set(owner.instance, { port: o.port, until: now + o.lease });
          } else if (o.op === 'deregister') {
            expect(zone.deregister(owners[o.who]!)).toBe(model.has(owners[o.who]!.instance) && model.get(owners[o.who]!.instance)!.until > now);
            model.delete(owners[o.who]!.instance);
          } else {
            now += o.ms;
          }
          for (const [k, v] of model) if (v.until <= now) model.delete(k);
          const answer = zone.lookup('_stoq._udp.caesar.hypermesh.', 'SRV', now);
          const got = answer.answers.map((r) => `${(r as SrvRecord).target} ${(r as SrvRecord).port}`).sort();
          const want = [...model].map(([i, v]) => `${i}.caesar.hypermesh. ${v.port}`).sort();
          expect(got).toEqual(want);
          expect(answer.rcode).toBe(want.length > 0 ? 'NOERROR' : 'NXDOMAIN');
          expect(answer.additionals).toHaveLength(want.length);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('Zone: DNS-SD service enumeration', () => {
  test('PTR at _services._dns-sd._udp names each service with a live SRV, and drops it when its leases lapse', () => {
    const zone = new Zone();
    zone.register(caesar1, own(zone, caesar1), LEASE, T0);
    zone.register(caesar2, own(zone, caesar2, '2001:db8::2'), LEASE, T0);
    zone.register({ service: 'catalog', instance: 'catalog-1' }, own(zone, { service: 'catalog', instance: 'catalog-1' }), 2 * LEASE, T0);
    const ptr = zone.lookup('_services._dns-sd._udp.hypermesh', 'PTR', T0 + 1);
    expect(ptr.rcode).toBe('NOERROR');
    expect(ptr.answers.map((r) => `${r.type} ${(r as { target: string }).target}`)).toEqual(['PTR _stoq._udp.caesar.hypermesh.', 'PTR _stoq._udp.catalog.hypermesh.']);
    expect(zone.lookup('_services._dns-sd._udp.hypermesh', 'SRV', T0 + 1)).toMatchObject({ rcode: 'NOERROR', answers: [] });
    expect(zone.services(T0 + LEASE)).toEqual(['catalog']);
    expect(zone.lookup('_services._dns-sd._udp.hypermesh', 'PTR', 3 * LEASE + T0)).toMatchObject({ rcode: 'NOERROR', answers: [] });
  });

  test('no service can register the enumeration name', () => {
    const zone = new Zone();
    expectRefused(() => zone.register(caesar1, [{ type: 'TXT', name: '_services._dns-sd._udp.hypermesh', text: ['x'] }], LEASE, T0), 'NAME_OF_OTHER_SERVICE');
  });
});

describe('Zone: lookup', () => {
  const zone = new Zone({ nameServerAddresses: ['::1'] });
  zone.register(caesar1, own(zone, caesar1), LEASE, T0);

  test.each<[string, string, string, number, boolean]>([
    // name, type, rcode, answers, SOA in authority
    ['_stoq._udp.caesar.hypermesh.', 'SRV', 'NOERROR', 1, false],
    ['_stoq._udp.caesar.hypermesh.', 'AAAA', 'NOERROR', 0, true], // NODATA
    ['caesar-1.caesar.hypermesh.', 'AAAA', 'NOERROR', 1, false],
    ['caesar-1.caesar.hypermesh.', 'TXT', 'NOERROR', 1, false],
    ['caesar-1.caesar.hypermesh.', 'A', 'NOERROR', 0, true], // NODATA
    ['caesar-1.caesar.hypermesh.', 'ANY', 'NOERROR', 2, false],
    ['caesar.hypermesh.', 'SRV', 'NOERROR', 0, true], // empty non-terminal
    ['_udp.caesar.hypermesh.', 'SRV', 'NOERROR', 0, true], // empty non-terminal
    ['caesar-2.caesar.hypermesh.', 'AAAA', 'NXDOMAIN', 0, true],
    ['x.caesar-1.caesar.hypermesh.', 'AAAA', 'NXDOMAIN', 0, true],
    ['_stoq._udp.trustchain.hypermesh.', 'SRV', 'NXDOMAIN', 0, true],
    ['hypermesh.', 'SOA', 'NOERROR', 1, false],
    ['hypermesh.', 'NS', 'NOERROR', 1, false],
    ['hypermesh.', 'SRV', 'NOERROR', 0, true],
    ['ns.hypermesh.', 'AAAA', 'NOERROR', 1, false],
    ['example.com.', 'A', 'REFUSED', 0, false],
    ['hypermesh.example.', 'SRV', 'REFUSED', 0, false],
    ['.', 'NS', 'REFUSED', 0, false],
  ])('%s %s → %s', (name, type, rcode, answers, soa) => {
    const a = zone.lookup(name, type, T0);
    expect(a.rcode).toBe(rcode);
    expect(a.answers).toHaveLength(answers);
    expect(a.authorities.map((r) => r.type)).toEqual(soa ? ['SOA'] : []);
    expect(a.authoritative).toBe(rcode !== 'REFUSED');
  });

  test('negative answers carry the SOA with min(TTL, MINIMUM); NS answers carry glue', () => {
    const neg = zone.lookup('nope.hypermesh.', 'SRV', T0);
    expect(neg.authorities[0]).toMatchObject({ type: 'SOA', name: 'hypermesh.', ttl: 5, mname: 'ns.hypermesh.', rname: 'hostmaster.hypermesh.', minimum: 5 });
    const ns = zone.lookup('HYPERMESH', 'NS', T0);
    expect(ns.answers).toEqual([{ type: 'NS', name: 'hypermesh.', ttl: 60, host: 'ns.hypermesh.' }]);
    expect(ns.additionals).toEqual([{ type: 'AAAA', name: 'ns.hypermesh.', ttl: 60, address: '::1' }]);
  });

  test('an RRset is served with its smallest TTL', () => {
    const z = new Zone();
    z.register(caesar1, z.instanceRecords(caesar1, { address: '2001:db8::1', port: 1, ttl: 7 }), LEASE, T0);
    z.register(caesar2, z.instanceRecords(caesar2, { address: '2001:db8::2', port: 1, ttl: 3 }), LEASE, T0);
    expect(z.lookup('_stoq._udp.caesar.hypermesh.', 'SRV', T0).answers.map((r) => r.ttl)).toEqual([3, 3]);
  });

  test('the master file holds every record', () => {
    const text = zone.toMasterFile();
    expect(text).toContain('$ORIGIN hypermesh.');
    expect(text).toMatch(/^hypermesh\. 60 IN SOA ns\.hypermesh\. hostmaster\.hypermesh\. \d+ 3600 600 86400 5$/m);
    expect(text).toContain('hypermesh. 60 IN NS ns.hypermesh.');
    expect(text).toContain('ns.hypermesh. 60 IN AAAA ::1');
    expect(text).toContain('_stoq._udp.caesar.hypermesh. 10 IN SRV 0 1 4433 caesar-1.caesar.hypermesh.');
    expect(text).toContain('caesar-1.caesar.hypermesh. 10 IN AAAA 2001:db8::1');
    expect(text).toContain('caesar-1.caesar.hypermesh. 10 IN TXT "v=1"');
  });
});
