// Sans-I/O codec for the frames of one RPC stream: each frame is a QUIC varint length (the
// stoq-core framing) followed by one protobuf `stoq.rpc.v1.Frame`. Pure functions only; the
// sequencing rules live in call-sequencer.ts.
import { encodeFrame } from '@stoq/core';
import { FrameType, RequestHeaderType, TrailerType } from '../proto/rpc';
import { isValidPath } from '../method';
import { RpcError, type Metadata } from '../rpc-error';
import { Status, isStatus } from '../status';

export interface RequestHeaderFields {
  path: string;
  /** Relative timeout in ms; undefined = no deadline. */
  timeoutMs: number | undefined;
  metadata: Metadata;
  idempotencyKey: string;
}

export interface TrailerFields {
  code: Status;
  message: string;
  metadata: Metadata;
}

export type RpcFrame =
  | { readonly kind: 'header'; readonly header: RequestHeaderFields }
  | { readonly kind: 'message'; readonly data: Uint8Array }
  | { readonly kind: 'trailer'; readonly trailer: TrailerFields }
  | { readonly kind: 'half_close' };

/** Largest timeout a header may carry: ~24.8 days, the range of a Node timer. */
export const MAX_TIMEOUT_MS = 2_147_483_647;
export const MAX_METADATA_KEY = 128;
const METADATA_KEY_RE = /^[a-z0-9][a-z0-9._-]*$/;

// Protobuf tags of Frame's fields (field number << 3 | wire type 2).
const TAG_MESSAGE = 0x12;
const TAG_HALF_CLOSE = 0x22;

/** Frame { half_close {} } with its length prefix: [0x02, 0x22, 0x00]. */
const HALF_CLOSE_FRAME = encodeFrame(Uint8Array.of(TAG_HALF_CLOSE, 0x00));

function protobufVarintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len += 1;
  }
  return len;
}

function writeProtobufVarint(n: number, out: Uint8Array, offset: number): number {
  while (n >= 0x80) {
    out[offset++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[offset++] = n;
  return offset;
}

/** One MESSAGE frame around an encoded application message (hand-encoded: the hot path). */
export function encodeMessageFrame(data: Uint8Array): Uint8Array {
  const inner = 1 + protobufVarintLength(data.length) + data.length;
  const payload = new Uint8Array(inner);
  payload[0] = TAG_MESSAGE;
  const at = writeProtobufVarint(data.length, payload, 1);
  payload.set(data, at);
  return encodeFrame(payload);
}

export function encodeHalfCloseFrame(): Uint8Array {
  return HALF_CLOSE_FRAME;
}

// Default values are left out, as proto3 encoders do, so frames are minimal.
export function encodeHeaderFrame(header: RequestHeaderFields): Uint8Array {
  const h: Record<string, unknown> = { path: header.path };
  if (header.timeoutMs !== undefined && header.timeoutMs > 0) h['timeoutMs'] = header.timeoutMs;
  if (Object.keys(header.metadata).length > 0) h['metadata'] = header.metadata;
  if (header.idempotencyKey !== '') h['idempotencyKey'] = header.idempotencyKey;
  return encodeFrame(FrameType.encode({ header: h }).finish());
}

export function encodeTrailerFrame(trailer: TrailerFields): Uint8Array {
  const t: Record<string, unknown> = {};
  if (trailer.code !== Status.OK) t['code'] = trailer.code;
  if (trailer.message !== '') t['message'] = trailer.message;
  if (Object.keys(trailer.metadata).length > 0) t['metadata'] = trailer.metadata;
  return encodeFrame(FrameType.encode({ trailer: t }).finish());
}

function malformed(what: string): RpcError {
  return new RpcError(Status.INVALID_ARGUMENT, `malformed frame: ${what}`);
}

function checkMetadata(raw: unknown, where: string): Metadata {
  const out: Metadata = {};
  if (raw === null || raw === undefined) return out;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (k.length > MAX_METADATA_KEY || !METADATA_KEY_RE.test(k)) {
      throw malformed(`${where} metadata key "${k.slice(0, 40)}" is not lowercase [a-z0-9._-] of at most ${MAX_METADATA_KEY} chars`);
    }
    out[k] = String(v);
  }
  return out;
}

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v !== null && typeof v === 'object' && 'toNumber' in v) return (v as { toNumber(): number }).toNumber();
  return Number(v);
}

/** Reads a protobuf varint at `offset`; returns [value, next offset] or null if malformed. */
function readProtobufVarint(bytes: Uint8Array, offset: number): [number, number] | null {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 8 && offset < bytes.length; i++) {
    const b = bytes[offset++]!;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [value, offset];
    scale *= 128;
  }
  return null;
}

/**
 * Decodes one frame payload (without its length prefix). Throws RpcError INVALID_ARGUMENT
 * naming what is wrong; never anything else.
 */
export function decodeFramePayload(payload: Uint8Array): RpcFrame {
  // Fast path: a MESSAGE frame that is exactly tag + length + bytes (what every encoder emits).
  if (payload.length >= 2 && payload[0] === TAG_MESSAGE) {
    const v = readProtobufVarint(payload, 1);
    if (v !== null && v[1] + v[0] === payload.length) return { kind: 'message', data: payload.subarray(v[1]) };
  }
  if (payload.length === 2 && payload[0] === TAG_HALF_CLOSE && payload[1] === 0) return { kind: 'half_close' };
  let decoded: Record<string, unknown>;
  try {
    decoded = FrameType.decode(payload) as unknown as Record<string, unknown>;
  } catch (err) {
    throw malformed(`not a stoq.rpc.v1.Frame (${err instanceof Error ? err.message : String(err)})`);
  }
  const kind = (decoded as { kind?: string }).kind;
  switch (kind) {
    case 'message':
      return { kind: 'message', data: decoded['message'] as Uint8Array };
    case 'half_close':
    case 'halfClose':
      return { kind: 'half_close' };
    case 'header': {
      const h = RequestHeaderType.toObject(decoded['header'] as never, { longs: Number, defaults: true }) as Record<string, unknown>;
      const path = String(h['path']);
      if (!isValidPath(path)) throw malformed(`request path "${path.slice(0, 80)}" is not "service/method"`);
      const timeout = toNumber(h['timeoutMs']);
      if (!Number.isSafeInteger(timeout) || timeout < 0 || timeout > MAX_TIMEOUT_MS) {
        throw malformed(`timeout_ms ${String(h['timeoutMs'])} is outside 0..${MAX_TIMEOUT_MS}`);
      }
      return {
        kind: 'header',
        header: {
          path,
          timeoutMs: timeout === 0 ? undefined : timeout,
          metadata: checkMetadata(h['metadata'], 'header'),
          idempotencyKey: String(h['idempotencyKey'] ?? ''),
        },
      };
    }
    case 'trailer': {
      const t = TrailerType.toObject(decoded['trailer'] as never, { defaults: true }) as Record<string, unknown>;
      const code = toNumber(t['code']);
      return {
        kind: 'trailer',
        trailer: {
          // An unknown code from a newer peer is reported as UNKNOWN, as gRPC does.
          code: isStatus(code) ? code : Status.UNKNOWN,
          message: String(t['message'] ?? ''),
          metadata: checkMetadata(t['metadata'], 'trailer'),
        },
      };
    }
    default:
      throw malformed('frame carries none of header, message, trailer, half_close');
  }
}
