// Packet extensions over real connections on ::1: a 64 MiB message sharded over several
// streams and reassembled; corrupt shards and replayed tokens detected at the receiver.
import { createHash } from 'node:crypto';
import { StoqError } from '../src/errors';
import { PacketReceiver, computeToken, encodeStoqPacket, shardMessage, type StoqPacket } from '../src/packet';
import fc from 'fast-check';
import { computeTokens } from '../src/packet';
import { nativeBatchHasher, receivePackets, sendSharded } from '../src/packet-io';
import type { StoqConnection, StoqStream } from '../src/types';
import { bytes, Fixture } from './support/net';

let fx: Fixture;
beforeEach(() => {
  fx = new Fixture();
});
afterEach(async () => {
  await fx.close();
});

/** A server whose every incoming stream feeds one PacketReceiver; results are collected. */
async function packetServer(receiver: PacketReceiver) {
  const ca = await fx.ca();
  const server = fx.server(await fx.identity(ca, 'alpha'), { maxMessageBytes: 4 << 20 });
  const messages: Uint8Array[] = [];
  const errors: StoqError[] = [];
  let settle: () => void = () => undefined;
  const changed = () => settle();
  const next = () => new Promise<void>((r) => (settle = r));
  void (async () => {
    const conn = await server.accept();
    for (;;) {
      const stream = await conn!.acceptStream();
      if (!stream) return;
      receivePackets(stream, receiver, (m) => {
        messages.push(m);
        changed();
      }).catch((e: StoqError) => {
        errors.push(e);
        stream.stopSending(1);
        changed();
      });
    }
  })();
  const client = fx.client(await fx.identity(ca, 'beta'), { maxMessageBytes: 4 << 20 });
  const conn: StoqConnection = await client.connect(server.localAddress);
  const waitFor = async (pred: () => boolean) => {
    while (!pred()) await next();
  };
  return { conn, messages, errors, waitFor };
}

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

test('a 64 MiB message crosses 4 streams as 1 MiB shards and is reassembled intact', async () => {
  const { conn, messages, errors, waitFor } = await packetServer(new PacketReceiver());
  const data = bytes(64 << 20, 42);
  await sendSharded(conn, data, { messageId: 7n, shardSize: 1 << 20, lanes: 4 });
  await waitFor(() => messages.length === 1 || errors.length > 0);
  expect(errors).toEqual([]);
  expect(messages[0]!.length).toBe(data.length);
  expect(sha(messages[0]!)).toBe(sha(data));
}, 120_000);

async function sendPackets(stream: StoqStream, packets: StoqPacket[]): Promise<void> {
  for (const p of packets) await stream.sendMessage(encodeStoqPacket(p));
}

function tokenized(p: Omit<StoqPacket, 'token'>): StoqPacket {
  return { ...p, token: computeToken(p) };
}

test('a corrupt shard is detected (SHARD_CORRUPT) and the message is not delivered', async () => {
  const { conn, messages, errors, waitFor } = await packetServer(new PacketReceiver());
  const shards = shardMessage(9n, bytes(10_000, 3), 1000);
  const corrupt = shards.map((s, i) => {
    const data = i === 4 ? Uint8Array.from(s.data, (b, j) => (j === 0 ? b ^ 0xff : b)) : s.data;
    // The token is recomputed over the corrupt bytes, so only the shard hash can catch it.
    return tokenized({ streamId: 1n, sequence: BigInt(i), data, shard: s.info });
  });
  const stream = await conn.openStream();
  // The receiver stops the stream at the corrupt shard, so later writes may be refused.
  await sendPackets(stream, corrupt)
    .then(() => stream.finish())
    .catch((e: StoqError) => expect(e.code).toBe('STREAM_STOPPED'));
  await waitFor(() => errors.length > 0);
  expect(errors[0]!.code).toBe('SHARD_CORRUPT');
  expect(errors[0]!.message).toMatch(/shard 4|index 4/);
  expect(messages).toEqual([]);
});

test('a replayed packet is detected by its token sequence (TOKEN_REPLAYED), a tampered one by its digest', async () => {
  const { conn, messages, errors, waitFor } = await packetServer(new PacketReceiver());
  const first = tokenized({ streamId: 5n, sequence: 0n, data: Buffer.from('transfer 10 to bob') });
  const s1 = await conn.openStream();
  await sendPackets(s1, [first, first]); // the second copy is a replay
  s1.finish();
  await waitFor(() => errors.length > 0);
  expect(messages.map((m) => Buffer.from(m).toString())).toEqual(['transfer 10 to bob']);
  expect(errors[0]!.code).toBe('TOKEN_REPLAYED');

  const tampered = { ...tokenized({ streamId: 6n, sequence: 0n, data: Buffer.from('transfer 10 to bob') }), data: Buffer.from('transfer 99 to eve') };
  const s2 = await conn.openStream();
  await sendPackets(s2, [tampered]);
  s2.finish();
  await waitFor(() => errors.length > 1);
  expect(errors[1]!.code).toBe('TOKEN_INVALID');
  expect(messages.length).toBe(1);
});

test('native batch token hashing equals the TypeScript token for any packets', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ streamId: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), sequence: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), data: fc.uint8Array({ maxLength: 300 }) }), { maxLength: 20 }),
      (inputs) => {
        const native = computeTokens(inputs, nativeBatchHasher).map((t) => Buffer.from(t.digest).toString('hex'));
        const ts = computeTokens(inputs).map((t) => Buffer.from(t.digest).toString('hex'));
        expect(native).toEqual(ts);
      },
    ),
  );
});
