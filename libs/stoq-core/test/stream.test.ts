// QuicStoqStream over real QUIC on ::1: what callers rely on from a stream's write and read side
// now that both run through the connection's native stream mux.
import { createHash } from 'node:crypto';
import type { StoqConnection, StoqStream } from '../src/types';
import { Fixture } from './support/net';

let fx: Fixture;
beforeEach(() => {
  fx = new Fixture();
});
afterEach(async () => {
  await fx.close();
});

/** A connected pair: our side of a stream and the server's side of the same stream. */
async function streamPair(): Promise<{ ours: StoqStream; theirs: StoqStream; conn: StoqConnection }> {
  const ca = await fx.ca();
  const server = fx.server(await fx.identity(ca, 'alpha'));
  const accepted = server.accept();
  const conn = await fx.client(await fx.identity(ca, 'beta')).connect(server.localAddress);
  const sconn = (await accepted)!;
  const ours = await conn.openStream();
  await ours.write(Uint8Array.of(0)); // the peer sees a stream once data arrives on it
  const theirs = (await sconn.acceptStream())!;
  expect(Array.from((await theirs.read(1))!)).toEqual([0]);
  return { ours, theirs, conn };
}

async function readAll(s: StoqStream): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for (let c = await s.read(); c !== null; c = await s.read()) parts.push(c);
  return Buffer.concat(parts);
}

/** True when `p` is still pending once the microtasks queued so far have run. */
async function pending(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await Promise.resolve();
  await Promise.resolve();
  return !settled;
}

test('small writes reusing one buffer arrive intact and in order (write copies before it returns)', async () => {
  const { ours, theirs } = await streamPair();
  const buf = Buffer.alloc(8);
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 5000; i++) {
    buf.writeUInt32BE(i, 0);
    buf.writeUInt32BE((i ^ 0xa5a5a5a5) >>> 0, 4);
    writes.push(ours.write(buf)); // same buffer every time, rewritten before the tick ends
  }
  ours.finish();
  await Promise.all(writes);
  const got = await readAll(theirs);
  expect(got.length).toBe(5000 * 8);
  for (let i = 0; i < 5000; i++) {
    expect(got.readUInt32BE(i * 8)).toBe(i);
    expect(got.readUInt32BE(i * 8 + 4)).toBe((i ^ 0xa5a5a5a5) >>> 0);
  }
});

test('a reader that does not read holds the writer back; reading releases it and every byte arrives', async () => {
  const { ours, theirs } = await streamPair();
  const chunk = Buffer.alloc(64 * 1024);
  const total = 64 << 20;
  const sent = createHash('sha256');
  let written = 0;
  let blockedAt = -1;
  let writer: Promise<void> | null = null;
  // Write until a write() stays pending: flow control plus the stream's windows must stop us
  // long before 64 MiB while nobody reads.
  while (written < total) {
    for (let j = 0; j < chunk.length; j += 4) chunk.writeUInt32BE((written + j) >>> 0, j);
    sent.update(chunk);
    const w = ours.write(chunk);
    written += chunk.length;
    if (await pending(w)) {
      blockedAt = written;
      writer = w;
      break;
    }
  }
  expect(blockedAt).toBeGreaterThan(0);
  expect(blockedAt).toBeLessThan(24 << 20); // 8 MiB stream window + 1 MiB held + 1 MiB unconfirmed, with slack
  const reading = readAll(theirs);
  await writer;
  while (written < total) {
    for (let j = 0; j < chunk.length; j += 4) chunk.writeUInt32BE((written + j) >>> 0, j);
    sent.update(chunk);
    await ours.write(chunk);
    written += chunk.length;
  }
  ours.finish();
  const got = await reading;
  expect(got.length).toBe(total); // streamPair already read the opening byte
  expect(createHash('sha256').update(got).digest('hex')).toBe(sent.digest('hex'));
}, 60_000);

test("the peer's reset reaches a pending read as STREAM_RESET with the peer's code", async () => {
  const { ours, theirs } = await streamPair();
  const read = ours.read();
  theirs.reset(7);
  await expect(read).rejects.toMatchObject({ code: 'STREAM_RESET', details: { code: 7 } });
});

test("after the peer's STOP_SENDING, writes fail with STREAM_STOPPED and the peer's code", async () => {
  const { ours, theirs } = await streamPair();
  theirs.stopSending(9);
  let failure: unknown = null;
  for (let i = 0; i < 100_000 && failure === null; i++) {
    try {
      await ours.write(Buffer.alloc(1024, i));
    } catch (err) {
      failure = err;
    }
    await new Promise<void>((resolve) => setImmediate(resolve)); // let the STOPPED event in
  }
  expect(failure).toMatchObject({ code: 'STREAM_STOPPED', details: { code: 9 } });
  // Reading after our own stopSending is refused the same way.
  ours.stopSending(3);
  await expect(ours.read()).rejects.toMatchObject({ code: 'STREAM_STOPPED', details: { code: 3 } });
});
