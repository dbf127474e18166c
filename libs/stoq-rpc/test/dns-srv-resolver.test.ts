// DnsSrvResolver: the pure mapping from DNS answers to targets, and the UDP/TCP querier against
// a DNS server on [::1] (a dns-packet fixture: TrustChain's real DNS server is an app, which a
// library's tests may not import; tests-e2e resolves through it).
import dgram from 'node:dgram';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import dnsPacket from 'dns-packet';
import { DnsQueryError, DnsSrvResolver, UdpDnsQuerier, resolutionFromDns, type DnsAnswer } from '../src';

const bounds = { minMs: 1000, maxMs: 300_000, negativeMs: 5000 };
const srv = (target: string, port: number, priority = 0, weight = 1, ttl = 30): dnsPacket.Answer => ({
  type: 'SRV',
  name: '_stoq._udp.caesar.hypermesh',
  ttl,
  data: { target, port, priority, weight },
});
const aaaa = (name: string, address: string, ttl = 30): dnsPacket.Answer => ({ type: 'AAAA', name, ttl, data: address });
const answer = (a: Partial<DnsAnswer>): DnsAnswer => ({ rcode: 'NOERROR', answers: [], authorities: [], additionals: [], ...a });

describe('resolutionFromDns', () => {
  it('pairs SRV targets with their AAAA records, keeping priority and weight, TTL = smallest', () => {
    const r = resolutionFromDns(
      'caesar',
      answer({
        answers: [srv('c-1.caesar.hypermesh', 4433, 0, 3, 60), srv('c-2.caesar.hypermesh', 4434, 1, 1, 20)],
        additionals: [aaaa('c-1.caesar.hypermesh', 'fd00::1', 90), aaaa('C-2.caesar.hypermesh.', 'fd00::2', 45), aaaa('c-1.caesar.hypermesh', 'fd00::11')],
      }),
      bounds,
    );
    expect(r.targets).toEqual([
      { endpoint: '[fd00::1]:4433', expectedService: 'caesar', priority: 0, weight: 3 },
      { endpoint: '[fd00::11]:4433', expectedService: 'caesar', priority: 0, weight: 3 },
      { endpoint: '[fd00::2]:4434', expectedService: 'caesar', priority: 1, weight: 1 },
    ]);
    expect(r.ttlMs).toBe(20_000);
  });

  it('treats NXDOMAIN and NODATA as "no instance now", cached for the SOA minimum', () => {
    const soa: dnsPacket.Answer = {
      type: 'SOA',
      name: 'hypermesh',
      ttl: 60,
      data: { mname: 'ns', rname: 'h', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 7 },
    };
    expect(resolutionFromDns('caesar', answer({ rcode: 'NXDOMAIN', authorities: [soa] }), bounds)).toEqual({ targets: [], ttlMs: 7000 });
    expect(resolutionFromDns('caesar', answer({}), bounds)).toEqual({ targets: [], ttlMs: 5000 });
  });

  it('clamps TTLs, skips the "." target and targets without an address, and fails on SERVFAIL/REFUSED', () => {
    const r = resolutionFromDns('caesar', answer({ answers: [srv('.', 0, 0, 0, 0), srv('gone.hypermesh', 1)] }), bounds);
    expect(r).toEqual({ targets: [], ttlMs: 1000 });
    expect(() => resolutionFromDns('caesar', answer({ rcode: 'REFUSED' }), bounds)).toThrow(/REFUSED for service "caesar"/);
  });
});

/** A DNS server fixture on [::1]: answers from `zone`, truncates UDP answers above `udpLimit`. */
async function fixtureServer(zone: Record<string, dnsPacket.Answer[]>, udpLimit = 4096) {
  const queries: Array<{ via: 'udp' | 'tcp'; name: string; type: string }> = [];
  const respond = (msg: Buffer, via: 'udp' | 'tcp'): Buffer => {
    const q = dnsPacket.decode(msg);
    const question = q.questions![0]!;
    queries.push({ via, name: question.name, type: question.type });
    const key = `${question.name.toLowerCase().replace(/\.$/, '')} ${question.type.toLowerCase()}`;
    const found = zone[key];
    const res = {
      type: 'response' as const,
      id: q.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER,
      questions: q.questions,
      answers: (found ?? []).filter((a) => a.type === question.type),
      additionals: (found ?? []).filter((a) => a.type !== question.type),
      ...(found ? {} : { rcode: 'NXDOMAIN' }),
    };
    const full = dnsPacket.encode(res as dnsPacket.Packet);
    if (via === 'udp' && full.length > udpLimit) {
      return dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.TRUNCATED_RESPONSE, questions: q.questions });
    }
    return full;
  };
  const udp = dgram.createSocket({ type: 'udp6', ipv6Only: true });
  await new Promise<void>((r) => udp.bind(0, '::1', r));
  const port = (udp.address() as AddressInfo).port;
  udp.on('message', (msg, rinfo) => udp.send(respond(msg, 'udp'), rinfo.port, rinfo.address));
  const tcp = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const out = respond(buf.subarray(2, 2 + buf.readUInt16BE(0)), 'tcp');
        const len = Buffer.alloc(2);
        len.writeUInt16BE(out.length);
        sock.end(Buffer.concat([len, out]));
      }
    });
  });
  await new Promise<void>((r) => tcp.listen(port, '::1', r));
  return {
    server: `[::1]:${port}`,
    queries,
    close: async () => {
      udp.close();
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}

describe('DnsSrvResolver over UDP/TCP', () => {
  it('resolves SRV + AAAA from the additional section, and asks for AAAA when missing', async () => {
    const dns = await fixtureServer({
      '_stoq._udp.caesar.hypermesh srv': [srv('c-1.caesar.hypermesh', 4433), srv('c-2.caesar.hypermesh', 4434), aaaa('c-1.caesar.hypermesh', '::1')],
      'c-2.caesar.hypermesh aaaa': [aaaa('c-2.caesar.hypermesh', 'fd00::2')],
    });
    try {
      const r = await new DnsSrvResolver({ server: dns.server }).resolve('caesar');
      expect(r.targets.map((t) => t.endpoint)).toEqual(['[::1]:4433', '[fd00::2]:4434']);
      expect(dns.queries.map((q) => `${q.via} ${q.type}`)).toEqual(['udp SRV', 'udp AAAA']);
      const none = await new DnsSrvResolver({ server: dns.server }).resolve('nobody');
      expect(none.targets).toEqual([]);
    } finally {
      await dns.close();
    }
  });

  it('retries a truncated answer over TCP', async () => {
    const many = Array.from({ length: 40 }, (_, i) => [srv(`c-${i}.caesar.hypermesh`, 5000 + i), aaaa(`c-${i}.caesar.hypermesh`, `fd00::${i + 1}`)]).flat();
    const dns = await fixtureServer({ '_stoq._udp.caesar.hypermesh srv': many }, 512);
    try {
      const r = await new DnsSrvResolver({ server: dns.server }).resolve('caesar');
      expect(r.targets).toHaveLength(40);
      expect(dns.queries.map((q) => q.via)).toEqual(['udp', 'tcp']);
    } finally {
      await dns.close();
    }
  });

  it('fails with TIMEOUT when nothing answers, and refuses IPv4 servers', async () => {
    const silent = dgram.createSocket({ type: 'udp6', ipv6Only: true });
    await new Promise<void>((r) => silent.bind(0, '::1', r));
    try {
      const q = new UdpDnsQuerier({ server: `[::1]:${(silent.address() as AddressInfo).port}`, timeoutMs: 100, attempts: 2 });
      const err = await q.query('_stoq._udp.x.hypermesh', 'SRV').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DnsQueryError);
      expect((err as DnsQueryError).code).toBe('TIMEOUT');
    } finally {
      silent.close();
    }
    expect(() => new UdpDnsQuerier({ server: '127.0.0.1:53' })).toThrow(/IPv4/);
  });
});
