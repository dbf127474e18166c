// Property test of streams over real QUIC: many concurrent streams on one connection, each with
// a random write pattern (sizes across the 64 KiB coalescing threshold, awaited or not) ending
// in FIN or reset, against a server that echoes, resets or stops reading. Every stream must end
// exactly as its plan says, and the connection must keep working afterwards.
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { isStoqError } from '../src/errors';
import type { StoqConnection, StoqStream } from '../src/types';
import { Fixture } from './support/net';

type ServerMode = 'echo' | 'reset' | 'stop';

interface StreamPlan {
  chunks: number[];
  awaitEach: boolean;
  /** null: finish; a number: reset with that code after writing. */
  resetCode: number | null;
  server: ServerMode;
  serverCode: number;
}

const planArb: fc.Arbitrary<StreamPlan> = fc.record({
  chunks: fc.array(fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 60_000, max: 70_000 })), { minLength: 1, maxLength: 8 }),
  awaitEach: fc.boolean(),
  resetCode: fc.option(fc.integer({ min: 1, max: 1000 }), { freq: 4 }),
  server: fc.constantFrom<ServerMode>('echo', 'echo', 'reset', 'stop'),
  serverCode: fc.integer({ min: 1, max: 1000 }),
});

function fill(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

/**
 * Server side: the first byte of each stream names the mode (0 echo, 1 reset, 2 stop), the next
 * two the code; an echo returns everything after these three bytes.
 */
async function serve(sconn: StoqConnection): Promise<void> {
  for (;;) {
    const s = await sconn.acceptStream();
    if (s === null) return;
    void serveStream(s);
  }
}

async function serveStream(s: StoqStream): Promise<void> {
  let head = Buffer.alloc(0);
  try {
    while (head.length < 3) {
      const c = await s.read(3 - head.length);
      if (c === null) throw new Error('stream ended inside the 3-byte head');
      head = Buffer.concat([head, c]);
    }
  } catch (err) {
    // The client reset before its head arrived: pass its code back.
    s.reset(isStoqError(err, 'STREAM_RESET') ? ((err.details?.['code'] as number) ?? 0) : 0);
    return;
  }
  const mode = head[0]!;
  const code = head.readUInt16BE(1);
  if (mode === 1) {
    s.reset(code);
    s.stopSending(code);
    return;
  }
  if (mode === 2) {
    s.stopSending(code);
    s.finish();
    return;
  }
  try {
    for (let c = await s.read(); c !== null; c = await s.read()) await s.write(c);
    s.finish();
  } catch (err) {
    // The client reset its side: pass its code back.
    s.reset(isStoqError(err, 'STREAM_RESET') ? ((err.details?.['code'] as number) ?? 0) : 0);
  }
}

async function readAll(s: StoqStream): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for (let c = await s.read(); c !== null; c = await s.read()) parts.push(c);
  return Buffer.concat(parts);
}

async function runPlan(conn: StoqConnection, plan: StreamPlan, index: number): Promise<void> {
  const s = await conn.openStream();
  const head = Buffer.alloc(3);
  head[0] = plan.server === 'echo' ? 0 : plan.server === 'reset' ? 1 : 2;
  head.writeUInt16BE(plan.serverCode, 1);
  const sent = createHash('sha256');
  const reading = readAll(s).then(
    (data) => ({ data, err: null as unknown }),
    (err: unknown) => ({ data: null, err }),
  );
  const writes: Promise<void>[] = [];
  const write = (b: Buffer): Promise<void> => {
    const p = s.write(b);
    writes.push(p.catch(() => undefined));
    return p;
  };
  await write(head);
  let writeFailure: unknown = null;
  for (const [k, n] of plan.chunks.entries()) {
    const chunk = fill(n, index * 100 + k);
    sent.update(chunk);
    const p = write(chunk);
    if (plan.awaitEach) {
      writeFailure = await p.then(() => null, (e: unknown) => e);
      if (writeFailure !== null) break;
    }
  }
  await Promise.all(writes);
  if (plan.resetCode === null) s.finish();
  else s.reset(plan.resetCode);
  const outcome = await reading;

  if (plan.resetCode !== null) {
    // Our reset may overtake our bytes (even the head): the server then only sees the reset and
    // resets back with our code. If the head did arrive, its mode decides.
    if (outcome.err === null) {
      expect(plan.server).toBe('stop');
      expect(outcome.data!.length).toBe(0);
    } else {
      const codes = plan.server === 'reset' ? [plan.resetCode, plan.serverCode] : [plan.resetCode];
      expect(outcome.err).toMatchObject({ code: 'STREAM_RESET' });
      expect(codes).toContain((outcome.err as { details: { code: number } }).details.code);
    }
  } else if (plan.server === 'reset') {
    expect(outcome.err).toMatchObject({ code: 'STREAM_RESET', details: { code: plan.serverCode } });
  } else if (plan.server === 'stop') {
    // The server finished at once: an empty, clean answer; our writes may have been refused.
    expect(outcome.err).toBeNull();
    expect(outcome.data!.length).toBe(0);
    if (writeFailure !== null) expect(writeFailure).toMatchObject({ code: 'STREAM_STOPPED', details: { code: plan.serverCode } });
  } else {
    // The server echoes everything after the 3-byte head.
    expect(outcome.err).toBeNull();
    expect(createHash('sha256').update(outcome.data!).digest('hex')).toBe(sent.digest('hex'));
  }
}

test('concurrent streams with random write patterns and endings each end as planned; the connection survives', async () => {
  const fx = new Fixture();
  try {
    const ca = await fx.ca();
    const server = fx.server(await fx.identity(ca, 'alpha'));
    void (async () => {
      for (;;) {
        const c = await server.accept();
        if (!c) return;
        void serve(c);
      }
    })();
    const conn = await fx.client(await fx.identity(ca, 'beta')).connect(server.localAddress);
    await fc.assert(
      fc.asyncProperty(fc.array(planArb, { minLength: 1, maxLength: 24 }), async (plans) => {
        await Promise.all(plans.map((p, i) => runPlan(conn, p, i)));
        // Still usable: a plain echo round trip.
        await runPlan(conn, { chunks: [5, 70_000], awaitEach: false, resetCode: null, server: 'echo', serverCode: 1 }, 999);
      }),
      { numRuns: 25, interruptAfterTimeLimit: 60_000, markInterruptAsFailure: true },
    );
  } finally {
    await fx.close();
  }
}, 120_000);
