import fc from 'fast-check';
import { encodeFrame } from '@stoq/core';
import {
  ClientCallSequencer,
  RpcError,
  ServerCallSequencer,
  Status,
  decodeFramePayload,
  encodeHalfCloseFrame,
  encodeHeaderFrame,
  encodeMessageFrame,
  encodeTrailerFrame,
  type MethodKind,
  type ServerInboundEvent,
} from '../src';
import { FrameType } from '../src/proto/rpc';

const header = { path: 'caesar/transfer', timeoutMs: 1500, metadata: { 'x-trace': 'abc' }, idempotencyKey: 'k1' };
const kindOf = (kind: MethodKind) => () => kind;

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Splits bytes at the given cut points (any split must decode the same). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

function feedServer(seq: ServerCallSequencer, chunks: Uint8Array[]): ServerInboundEvent[] {
  const events: ServerInboundEvent[] = [];
  for (const c of chunks) events.push(...seq.push(c));
  events.push(...seq.end());
  return events;
}

describe('frame codec', () => {
  it('round-trips every frame kind', () => {
    const frames = [
      encodeHeaderFrame(header),
      encodeMessageFrame(Uint8Array.of(1, 2, 3)),
      encodeHalfCloseFrame(),
      encodeTrailerFrame({ code: Status.NOT_FOUND, message: 'no such account', metadata: { retry: 'no' } }),
    ];
    const decoded = frames.map((f) => decodeFramePayload(f.subarray(1)));
    expect(decoded[0]).toEqual({ kind: 'header', header });
    expect(decoded[1]).toEqual({ kind: 'message', data: Uint8Array.of(1, 2, 3) });
    expect(decoded[2]).toEqual({ kind: 'half_close' });
    expect(decoded[3]).toEqual({ kind: 'trailer', trailer: { code: Status.NOT_FOUND, message: 'no such account', metadata: { retry: 'no' } } });
  });

  it('hand-encoded message and half-close frames equal the protobuf encoding of Frame', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        const viaProtobuf = encodeFrame(FrameType.encode({ message: data }).finish());
        expect(encodeMessageFrame(data)).toEqual(viaProtobuf);
      }),
    );
    expect(encodeHalfCloseFrame()).toEqual(encodeFrame(FrameType.encode({ halfClose: {} }).finish()));
  });

  it('produces the byte layouts documented in docs/wire-protocol.md (section 5)', () => {
    expect([...encodeMessageFrame(Uint8Array.of(1, 2, 3))]).toEqual([0x05, 0x12, 0x03, 1, 2, 3]);
    expect([...encodeHalfCloseFrame()]).toEqual([0x02, 0x22, 0x00]);
    expect([...encodeTrailerFrame({ code: Status.OK, message: '', metadata: {} })]).toEqual([0x02, 0x1a, 0x00]);
    expect(decodeFramePayload(Uint8Array.of(0x1a, 0x00))).toEqual({ kind: 'trailer', trailer: { code: Status.OK, message: '', metadata: {} } });
  });

  it('names what is wrong with bad frames', () => {
    expect(() => decodeFramePayload(Uint8Array.of())).toThrow(/none of header, message, trailer, half_close/);
    expect(() => decodeFramePayload(Uint8Array.of(0x0a, 0x05, 1))).toThrow(/not a stoq.rpc.v1.Frame/);
    const badPath = FrameType.encode({ header: { path: 'no-slash' } }).finish();
    expect(() => decodeFramePayload(badPath)).toThrow(/request path "no-slash" is not "service\/method"/);
    const badKey = FrameType.encode({ header: { path: 'a/b', metadata: { 'Upper': 'x' } } }).finish();
    expect(() => decodeFramePayload(badKey)).toThrow(/metadata key "Upper"/);
    const hugeTimeout = FrameType.encode({ header: { path: 'a/b', timeoutMs: 2 ** 40 } }).finish();
    expect(() => decodeFramePayload(hugeTimeout)).toThrow(/timeout_ms .* is outside/);
  });

  it('maps an unknown trailer code to UNKNOWN', () => {
    const f = decodeFramePayload(FrameType.encode({ trailer: { code: 99, message: 'x' } }).finish());
    expect(f).toEqual({ kind: 'trailer', trailer: { code: Status.UNKNOWN, message: 'x', metadata: {} } });
  });
});

describe('ServerCallSequencer', () => {
  const request = (kind: MethodKind, messages: Uint8Array[]) =>
    concat([encodeHeaderFrame(header), ...messages.map(encodeMessageFrame), encodeHalfCloseFrame()]);

  it('yields header, messages and half-close for any split of the bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), (msgs, cuts) => {
        const bytes = request('bidi_streaming', msgs);
        const events = feedServer(new ServerCallSequencer(undefined, kindOf('bidi_streaming')), split(bytes, cuts));
        expect(events).toEqual([{ type: 'header', header }, ...msgs.map((data) => ({ type: 'message', data })), { type: 'half_close' }]);
      }),
    );
  });

  it('takes FIN without HALF_CLOSE as an implicit half-close', () => {
    const bytes = concat([encodeHeaderFrame(header), encodeMessageFrame(Uint8Array.of(7))]);
    const events = feedServer(new ServerCallSequencer(undefined, kindOf('unary')), [bytes]);
    expect(events.map((e) => e.type)).toEqual(['header', 'message', 'half_close']);
  });

  const violation = (bytes: Uint8Array, kind: MethodKind = 'unary', limits?: { maxHeaderBytes: number; maxMessageBytes: number }) => {
    try {
      feedServer(new ServerCallSequencer(limits, kindOf(kind)), [bytes]);
    } catch (err) {
      expect(err).toBeInstanceOf(RpcError);
      return err as RpcError;
    }
    throw new Error('expected a violation');
  };

  it('enforces the sequencing rules with INVALID_ARGUMENT', () => {
    expect(violation(new Uint8Array(0))).toMatchObject({ code: Status.INVALID_ARGUMENT, message: 'stream ended before a request header' });
    expect(violation(encodeMessageFrame(Uint8Array.of(1))).message).toMatch(/expected a request header first, got a message frame/);
    expect(violation(request('unary', [])).message).toMatch(/unary call needs exactly one request message, got 0/);
    expect(violation(request('unary', [Uint8Array.of(1), Uint8Array.of(2)])).message).toMatch(/more than one request message/);
    expect(violation(concat([request('unary', [Uint8Array.of(1)]), encodeMessageFrame(Uint8Array.of(2))])).message).toMatch(/message frame after half-close/);
    expect(violation(concat([encodeHeaderFrame(header), encodeHeaderFrame(header)])).message).toMatch(/may not send a header frame/);
    expect(violation(concat([encodeHeaderFrame(header), encodeTrailerFrame({ code: 0, message: '', metadata: {} })])).message).toMatch(/may not send a trailer/);
    expect(violation(encodeHeaderFrame(header).subarray(0, 5))).toMatchObject({ code: Status.INVALID_ARGUMENT });
    expect(violation(encodeHeaderFrame(header).subarray(0, 5)).message).toMatch(/stream ended inside a frame/);
  });

  it('enforces size limits with RESOURCE_EXHAUSTED', () => {
    const limits = { maxHeaderBytes: 64, maxMessageBytes: 10 };
    const bigHeader = encodeHeaderFrame({ ...header, metadata: { big: 'x'.repeat(100) } });
    expect(violation(bigHeader, 'unary', limits)).toMatchObject({ code: Status.RESOURCE_EXHAUSTED });
    expect(violation(request('unary', [new Uint8Array(11)]), 'unary', limits)).toMatchObject({
      code: Status.RESOURCE_EXHAUSTED,
      message: 'request message is 11 bytes, limit is 10',
    });
    // A length prefix beyond every limit fails before the bytes arrive.
    const seq = new ServerCallSequencer(limits);
    expect(() => seq.push(Uint8Array.of(0x80, 0x10, 0x00, 0x00))).toThrow(expect.objectContaining({ code: Status.RESOURCE_EXHAUSTED }));
  });

  it('refuses a first frame announcing more than the header limit as soon as its length prefix arrives', () => {
    // Within the message limit, beyond the header limit: only the header limit applies to the
    // first frame, so the server need not wait (header timeout) for bytes it would refuse.
    const seq = new ServerCallSequencer({ maxHeaderBytes: 16 * 1024, maxMessageBytes: 4 * 1024 * 1024 });
    const prefix = Uint8Array.of(0x80, 0x10, 0x00, 0x00); // QUIC varint: 1 MiB
    expect(() => seq.push(prefix)).toThrow(
      expect.objectContaining({ code: Status.RESOURCE_EXHAUSTED, message: 'request header: frame announces 1048576 bytes, limit is 16384' }),
    );
    // After the header, message-sized frames are accepted.
    const ok = new ServerCallSequencer({ maxHeaderBytes: 16 * 1024, maxMessageBytes: 4 * 1024 * 1024 }, kindOf('unary'));
    const big = new Uint8Array(1024 * 1024).fill(3);
    expect(feedServer(ok, [request('unary', [big])]).map((e) => e.type)).toEqual(['header', 'message', 'half_close']);
  });

  it('never throws anything but RpcError on random bytes, in any split', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 8 }), fc.constantFrom<MethodKind>('unary', 'bidi_streaming'), (bytes, cuts, kind) => {
        const seq = new ServerCallSequencer({ maxHeaderBytes: 256, maxMessageBytes: 256 }, kindOf(kind));
        try {
          feedServer(seq, split(bytes, cuts));
        } catch (err) {
          expect(err).toBeInstanceOf(RpcError);
          expect([Status.INVALID_ARGUMENT, Status.RESOURCE_EXHAUSTED]).toContain((err as RpcError).code);
          // Once failed, it stays failed.
          expect(() => seq.push(Uint8Array.of(0))).toThrow(RpcError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('survives random frames with valid framing but arbitrary protobuf inside', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 60 }), { maxLength: 5 }), (payloads) => {
        const bytes = concat([encodeHeaderFrame(header), ...payloads.map((p) => encodeFrame(p))]);
        try {
          feedServer(new ServerCallSequencer(undefined, kindOf('bidi_streaming')), [bytes]);
        } catch (err) {
          expect(err).toBeInstanceOf(RpcError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('ClientCallSequencer', () => {
  it('accepts messages then a trailer for streaming kinds, in any split', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 5 }), fc.array(fc.nat(), { maxLength: 8 }), (msgs, cuts) => {
        const bytes = concat([...msgs.map(encodeMessageFrame), encodeTrailerFrame({ code: Status.OK, message: '', metadata: {} })]);
        const seq = new ClientCallSequencer('server_streaming');
        const events = split(bytes, cuts).flatMap((c) => seq.push(c));
        events.push(...seq.end());
        expect(events).toEqual([...msgs.map((data) => ({ type: 'message', data })), { type: 'trailer', trailer: { code: 0, message: '', metadata: {} } }]);
        expect(seq.done).toBe(true);
      }),
    );
  });

  it('reports server protocol violations as INTERNAL', () => {
    const ok = encodeTrailerFrame({ code: Status.OK, message: '', metadata: {} });
    const run = (kind: MethodKind, bytes: Uint8Array) => {
      const seq = new ClientCallSequencer(kind);
      seq.push(bytes);
      seq.end();
    };
    expect(() => run('unary', ok)).toThrow(/unary call ended OK with 0 response messages/);
    expect(() => run('unary', concat([encodeMessageFrame(Uint8Array.of(1)), encodeMessageFrame(Uint8Array.of(2))]))).toThrow(/more than one response/);
    expect(() => run('server_streaming', encodeMessageFrame(Uint8Array.of(1)))).toThrow(/ended without a trailer/);
    expect(() => run('server_streaming', concat([ok, encodeMessageFrame(Uint8Array.of(1))]))).toThrow(/message frame after the trailer/);
    expect(() => run('server_streaming', encodeHeaderFrame(header))).toThrow(/may not send a header frame/);
    try {
      run('unary', encodeHeaderFrame(header));
    } catch (err) {
      expect((err as RpcError).code).toBe(Status.INTERNAL);
    }
    // A failed (non-OK) unary call carries no message: fine.
    expect(() => run('unary', encodeTrailerFrame({ code: Status.NOT_FOUND, message: 'x', metadata: {} }))).not.toThrow();
  });

  it('never throws anything but RpcError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        const seq = new ClientCallSequencer('bidi_streaming', { maxHeaderBytes: 128, maxMessageBytes: 128 });
        try {
          for (const c of split(bytes, cuts)) seq.push(c);
          seq.end();
        } catch (err) {
          expect(err).toBeInstanceOf(RpcError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
