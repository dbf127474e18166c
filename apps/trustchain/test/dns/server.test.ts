// The DNS server on real sockets, asked by the real `dig` (Debian's bind9-dnsutils).
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import * as dnsPacket from 'dns-packet';
import { isStoqError } from '@stoq/core';
import { DnsServer } from '../../src/dns/server';
import { Zone, type RegistrationOwner } from '../../src/dns/zone';
import { ManualClock } from '@stoq/core';
import { dig, query } from './support';

const LEASE = 60_000;

function register(zone: Zone, clock: ManualClock, service: string, n: number): void {
  for (let i = 0; i < n; i++) {
    const owner: RegistrationOwner = { service, instance: `${service}-${i}` };
    zone.register(owner, zone.instanceRecords(owner, { address: `2001:db8::${service.length.toString(16)}:${(i + 1).toString(16)}`, port: 7000 + i, priority: i % 2 }), LEASE, clock.now());
  }
}

describe('DnsServer with dig', () => {
  const clock = new ManualClock();
  const zone = new Zone();
  let server: DnsServer;
  let port: string;

  beforeAll(async () => {
    register(zone, clock, 'caesar', 2);
    register(zone, clock, 'catalog', 30); // an SRV answer far over 1232 bytes
    server = await DnsServer.start({ zone, bind: '[::1]:0', clock });
    port = String(server.port);
  });
  afterAll(() => server.close());

  test('SRV with AAAA additionals over UDP', async () => {
    const r = await dig(['@::1', '-p', port, 'SRV', '_stoq._udp.caesar.hypermesh']);
    expect(r.status).toBe('NOERROR');
    expect(r.flags).toContain('aa');
    expect(r.flags).not.toContain('tc');
    expect(r.section('ANSWER').map((f) => f.slice(3).join(' '))).toEqual([
      'SRV 0 1 7000 caesar-0.caesar.hypermesh.',
      'SRV 1 1 7001 caesar-1.caesar.hypermesh.',
    ]);
    expect(r.section('ADDITIONAL').map((f) => `${f[0]} ${f[3]} ${f[4]}`)).toEqual([
      'caesar-0.caesar.hypermesh. AAAA 2001:db8::6:1',
      'caesar-1.caesar.hypermesh. AAAA 2001:db8::6:2',
    ]);
    expect(server.counters().udpQueries).toBeGreaterThanOrEqual(1);
  });

  test('DNS-SD enumeration: PTR _services._dns-sd._udp lists every registered service', async () => {
    const r = await dig(['@::1', '-p', port, 'PTR', '_services._dns-sd._udp.hypermesh']);
    expect(r.status).toBe('NOERROR');
    expect(r.section('ANSWER').map((f) => f.slice(3).join(' '))).toEqual(['PTR _stoq._udp.caesar.hypermesh.', 'PTR _stoq._udp.catalog.hypermesh.']);
    const srv = await dig(['@::1', '-p', port, 'SRV', '_services._dns-sd._udp.hypermesh']);
    expect(srv.status).toBe('NOERROR');
    expect(srv.section('ANSWER')).toEqual([]);
  });

  test('the same over TCP (+tcp)', async () => {
    const before = server.counters().tcpQueries;
    const r = await dig(['@::1', '-p', port, '+tcp', 'SRV', '_STOQ._UDP.Caesar.Hypermesh']);
    expect(r.status).toBe('NOERROR');
    expect(r.section('ANSWER')).toHaveLength(2);
    expect(r.section('ADDITIONAL')).toHaveLength(2);
    expect(server.counters().tcpQueries).toBe(before + 1);
  });

  test('a truncated UDP answer makes dig retry over TCP and get every record', async () => {
    const before = server.counters();
    const r = await dig(['@::1', '-p', port, 'SRV', '_stoq._udp.catalog.hypermesh']);
    expect(r.stdout).toContain('Truncated, retrying in TCP mode');
    expect(r.status).toBe('NOERROR');
    expect(r.section('ANSWER')).toHaveLength(30);
    expect(r.section('ADDITIONAL')).toHaveLength(30);
    const after = server.counters();
    expect(after.truncated).toBe(before.truncated + 1);
    expect(after.tcpQueries).toBe(before.tcpQueries + 1);
    // Without EDNS the 512-byte limit applies; +ignore shows the TC response itself.
    const tc = await dig(['@::1', '-p', port, '+noedns', '+ignore', 'SRV', '_stoq._udp.catalog.hypermesh']);
    expect(tc.flags).toContain('tc');
    expect(tc.section('ANSWER')).toHaveLength(0);
  });

  test('NXDOMAIN, NODATA (also for an empty non-terminal) and REFUSED as dig sees them', async () => {
    const nx = await dig(['@::1', '-p', port, 'SRV', '_stoq._udp.nobody.hypermesh']);
    expect(nx.status).toBe('NXDOMAIN');
    expect(nx.flags).toContain('aa');
    expect(nx.section('AUTHORITY').map((f) => f[3])).toEqual(['SOA']);
    const nodata = await dig(['@::1', '-p', port, 'AAAA', '_stoq._udp.caesar.hypermesh']);
    expect(nodata.status).toBe('NOERROR');
    expect(nodata.section('ANSWER')).toHaveLength(0);
    expect(nodata.section('AUTHORITY').map((f) => f[3])).toEqual(['SOA']);
    const ent = await dig(['@::1', '-p', port, 'SRV', 'caesar.hypermesh']);
    expect(ent.status).toBe('NOERROR');
    expect(ent.section('ANSWER')).toHaveLength(0);
    const refused = await dig(['@::1', '-p', port, 'A', 'example.com']);
    expect(refused.status).toBe('REFUSED');
    expect(refused.flags).not.toContain('aa');
    const soa = await dig(['@::1', '-p', port, 'SOA', 'hypermesh']);
    expect(soa.section('ANSWER').map((f) => f.slice(3, 6).join(' '))).toEqual(['SOA ns.hypermesh. hostmaster.hypermesh.']);
  });

  test('malformed and oversized packets are counted; the server keeps answering', async () => {
    const before = server.counters();
    const sock = dgram.createSocket({ type: 'udp6', ipv6Only: true });
    await new Promise<void>((resolve) => sock.bind(0, '::1', resolve));
    const replies: Buffer[] = [];
    const header = Buffer.from([0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
    const answered = [
      Buffer.concat([header, Buffer.from([0xc0, 12, 0, 33, 0, 1])]), // pointer loop
      Buffer.concat([query('_stoq._udp.caesar.hypermesh', { id: 0xabcd }), Buffer.alloc(2000)]), // oversized
      Buffer.concat([header, Buffer.from('garbage!garbage!', 'latin1')]),
      Buffer.from([0xab, 0xcd, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]), // no question
    ];
    const droppedPackets = [Buffer.from([1, 2, 3]), Buffer.alloc(0)];
    const got = new Promise<void>((resolve) =>
      sock.on('message', (m) => {
        replies.push(m);
        if (replies.length === answered.length) resolve();
      }),
    );
    for (const p of [...droppedPackets, ...answered]) sock.send(p, server.port, '::1');
    await got;
    sock.close();
    for (const m of replies) {
      const p = dnsPacket.decode(m) as dnsPacket.DecodedPacket & { rcode: string };
      expect(p.id).toBe(0xabcd);
      expect(p.rcode).toBe('FORMERR');
    }
    // TCP: a length prefix over the limit closes that connection, and only it.
    const bad = net.connect(server.port, '::1');
    await once(bad, 'connect');
    bad.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
    await once(bad, 'close');

    const r = await dig(['@::1', '-p', port, 'SRV', '_stoq._udp.caesar.hypermesh']);
    expect(r.section('ANSWER')).toHaveLength(2);
    const rt = await dig(['@::1', '-p', port, '+tcp', 'SRV', '_stoq._udp.caesar.hypermesh']);
    expect(rt.section('ANSWER')).toHaveLength(2);
    // The unanswered datagrams were sent first on the same socket, so they were handled before
    // the answered ones came back; the TCP frame was counted before its connection closed.
    const after = server.counters();
    expect(after.malformed - before.malformed).toBe(droppedPackets.length + answered.length + 1);
    expect(after.dropped - before.dropped).toBe(droppedPackets.length + 1);
    expect(after.answers.FORMERR - before.answers.FORMERR).toBe(answered.length);
  });

  test('several queries on one TCP connection are answered in order', async () => {
    const sock = net.connect(server.port, '::1');
    await once(sock, 'connect');
    const names = ['_stoq._udp.caesar.hypermesh', 'caesar-0.caesar.hypermesh', 'nope.hypermesh'];
    // All three in one write, the second split across two more to test reassembly.
    const frames = names.map((n, i) => dnsPacket.streamEncode({ type: 'query', id: 100 + i, questions: [{ name: n, type: i === 1 ? 'AAAA' : 'SRV' }] }));
    const all = Buffer.concat(frames);
    sock.write(all.subarray(0, frames[0]!.length + 5));
    sock.write(all.subarray(frames[0]!.length + 5));
    const got: { id: number; rcode: string; answers: number }[] = [];
    let buf = Buffer.alloc(0);
    await new Promise<void>((resolve) =>
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const p = dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))) as dnsPacket.DecodedPacket & { rcode: string };
          got.push({ id: p.id!, rcode: p.rcode, answers: p.answers!.length });
          buf = buf.subarray(2 + buf.readUInt16BE(0));
        }
        if (got.length === 3) resolve();
      }),
    );
    sock.destroy();
    expect(got).toEqual([
      { id: 100, rcode: 'NOERROR', answers: 2 },
      { id: 101, rcode: 'NOERROR', answers: 1 },
      { id: 102, rcode: 'NXDOMAIN', answers: 0 },
    ]);
  });

  test('an idle TCP connection is closed after the idle timeout', async () => {
    const sock = net.connect(server.port, '::1');
    await once(sock, 'connect');
    // The server has seen the connection once it answers a query on it.
    sock.write(dnsPacket.streamEncode({ type: 'query', id: 7, questions: [{ name: 'hypermesh', type: 'SOA' }] }));
    await once(sock, 'data');
    const before = server.counters().tcpIdleClosed;
    const closed = once(sock, 'close');
    clock.advance(10_000);
    await closed;
    expect(server.counters().tcpIdleClosed).toBe(before + 1);
  });

  test('records vanish from DNS when their lease lapses', async () => {
    const owner = { service: 'ephemeral', instance: 'e-1' };
    zone.register(owner, zone.instanceRecords(owner, { address: '2001:db8::e', port: 1 }), 5_000, clock.now());
    expect((await dig(['@::1', '-p', port, 'SRV', '_stoq._udp.ephemeral.hypermesh'])).section('ANSWER')).toHaveLength(1);
    clock.advance(5_000);
    expect((await dig(['@::1', '-p', port, 'SRV', '_stoq._udp.ephemeral.hypermesh'])).status).toBe('NXDOMAIN');
  });
});

describe('DnsServer binding', () => {
  test.each(['127.0.0.1:0', '[::ffff:127.0.0.1]:0'])('refuses the IPv4 bind address %s', async (bind) => {
    const err: unknown = await DnsServer.start({ zone: new Zone(), bind }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isStoqError(err, 'IPV4_REFUSED')).toBe(true);
  });

  test('binds UDP and TCP on one port, IPv6 only', async () => {
    const server = await DnsServer.start({ zone: new Zone(), bind: '[::1]:0' });
    try {
      expect(server.endpoint).toBe(`[::1]:${server.port}`);
      const r = await dig(['@::1', '-p', String(server.port), '+tcp', 'NS', 'hypermesh']);
      expect(r.section('ANSWER').map((f) => f[4])).toEqual(['ns.hypermesh.']);
      await expect(DnsServer.start({ zone: new Zone(), bind: server.endpoint })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await server.close();
    }
  });
});
