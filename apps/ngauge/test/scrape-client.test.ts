// StoqScrapeClient against real STOQ servers that misbehave: one that never answers (the scrape
// ends at its deadline), one that answers garbage bytes on every stream, and one whose
// certificate names another service. Each is a failed scrape with a reason, never a hang or a
// crash, and a healthy server next to them is scraped normally.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DevCa, NodeIdentity, StoqTransport, systemClock } from '@stoq/core';
import { RpcServer, rpcProto } from '@stoq/rpc';
import { StoqScrapeClient, uint64Number } from '../src/stoq-scrape-client';

// A hang would show as this test's timeout; every scrape here has a 1.5 s deadline.
jest.setTimeout(60_000);

let dir: string;
let ca: DevCa;
const transports: StoqTransport[] = [];

async function identity(service: string, instance: string): Promise<NodeIdentity> {
  return NodeIdentity.loadOrCreate({ dataDir: join(dir, instance), service, instance, ca, ipAddresses: ['::1'] });
}

/** A listening transport whose connections get `onConnection`. */
async function server(service: string, instance: string, onConnection: (conn: Awaited<ReturnType<StoqTransport['accept']>> & object) => void): Promise<string> {
  const t = StoqTransport.listen({ identity: await identity(service, instance), bind: '[::1]:0' });
  transports.push(t);
  void (async () => {
    for (;;) {
      const conn = await t.accept();
      if (!conn) return;
      onConnection(conn);
    }
  })();
  return t.localAddress;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ngauge-scrape-client-'));
  ca = await DevCa.openOrCreate(join(dir, 'ca'));
});

afterAll(async () => {
  for (const t of transports) await t.close();
  rmSync(dir, { recursive: true, force: true });
});

test('hanging, garbage and wrongly named targets fail their scrape; a healthy one is scraped', async () => {
  const healthyRpc = new RpcServer({ service: 'good' });
  const healthy = await server('good', 'good-1', (c) => void healthyRpc.serveConnection(c));
  // Accepts streams and never answers.
  const hanging = await server('slow', 'slow-1', (c) => void (async () => {
    for (;;) if (!(await c.acceptStream())) return;
  })());
  // Answers every stream with bytes that are no RPC frame.
  const garbage = await server('junk', 'junk-1', (c) => void (async () => {
    for (;;) {
      const s = await c.acceptStream();
      if (!s) return;
      void s.write(Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 200) & 0xff)).then(() => s.finish());
    }
  })());
  const impostorRpc = new RpcServer({ service: 'other' });
  const impostor = await server('other', 'other-1', (c) => void impostorRpc.serveConnection(c));

  const me = StoqTransport.create({ identity: await identity('ngauge', 'ngauge-1'), bind: '[::1]:0' });
  transports.push(me);
  const client = new StoqScrapeClient(me, systemClock);
  const scrape = (service: string, instance: string, address: string) =>
    client.scrape({ service, instance, address }, 1500).then(
      (r) => ({ ok: true as const, r }),
      (e: unknown) => ({ ok: false as const, error: (e as Error).message }),
    );

  const [good, slow, junk, other] = await Promise.all([
    scrape('good', 'good-1', healthy),
    scrape('slow', 'slow-1', hanging),
    scrape('junk', 'junk-1', garbage),
    scrape('caesar', 'other-1', impostor), // its certificate names "other", not "caesar"
  ]);

  expect(good.ok && good.r.health).toBe('SERVING');
  expect(good.ok && good.r.methods.map((m) => m.path)).toEqual(expect.arrayContaining(['good/health', 'good/metrics']));
  expect(slow).toMatchObject({ ok: false, error: expect.stringMatching(/deadline|DEADLINE_EXCEEDED/i) });
  expect(junk.ok).toBe(false);
  expect(other.ok).toBe(false);
  client.close();
});

it('converts decoded uint64 fields (Long objects past 2^53) to the nearest double', () => {
  for (const text of ['0', '7', '4294967301', '9007199254740993', '12345678901234567891', '18446744073709551615']) {
    const type = rpcProto.MethodMetricsType;
    const started: unknown = (type.decode(type.encode(type.fromObject({ path: 'x/y', started: text })).finish()) as { started?: unknown }).started;
    if (text.length > 15) expect(typeof started).toBe('object'); // a Long: the case this is for
    expect(uint64Number(started)).toBe(Number(text));
  }
  expect(uint64Number(null)).toBe(0);
  expect(uint64Number(undefined)).toBe(0);
  expect(uint64Number(12)).toBe(12);
});
