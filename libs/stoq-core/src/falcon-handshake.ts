// The STOQ FALCON exchange (DESIGN.md, "Handshake"), pure part: what each side signs and how
// the three messages of the exchange are encoded. The I/O shell lives in transport.ts.
//
// After QUIC/TLS completes, both sides derive the same 64-byte TLS exporter value
// (RFC 8446 §7.5, label EXPORTER-STOQ-FALCON, empty context). Each side signs
//   "STOQ-FALCON-v1" ‖ 0x00 ‖ role ("client" | "server") ‖ 0x00 ‖ exporter
// with its FALCON-1024 key. The role string stops a peer from reflecting our own signature back
// at us; the exporter binds the signature to this very TLS session, so it cannot be replayed on
// another connection.
//
// Messages, each one varint-length-prefixed frame on the first client-initiated bidi stream
// (stream id 0), in this order:
//   1. client -> server  AUTH_PROOF  = 0x01 ‖ falcon signature of the client
//   2. server -> client  AUTH_PROOF  = 0x01 ‖ falcon signature of the server
//   3. client -> server  AUTH_OK     = 0x02, then FIN
// A client that presented no TLS certificate (an enrolling node; only a server that accepts
// anonymous clients lets its TLS handshake through) has no FALCON key to prove: its message 1
// is AUTH_ANONYMOUS = 0x03 instead. The server checks that the TLS session really has no
// client certificate, then continues with message 2; the client still verifies it.
// A side that rejects the other closes the connection with an application error code
// (FALCON_REJECTED_CODE) and a reason naming what failed.

export const EXPORTER_LABEL = 'EXPORTER-STOQ-FALCON';
export const EXPORTER_LENGTH = 64;
export const ALPN = 'stoq/1';

export const AUTH_PROOF = 0x01;
export const AUTH_OK = 0x02;
export const AUTH_ANONYMOUS = 0x03;
/** Largest FALCON-1024 signature (PQClean, compressed) plus the tag byte, with headroom. */
export const MAX_AUTH_FRAME = 2048;

/** Application close codes used by the transport (QUIC APPLICATION_CLOSE). */
export const CloseCode = {
  NORMAL: 0,
  FALCON_REJECTED: 0x5101,
  PEER_REJECTED: 0x5102,
  AUTH_PROTOCOL: 0x5103,
  AUTH_TIMEOUT: 0x5104,
  CONNECTION_LIMIT: 0x5105,
} as const;

export type Role = 'client' | 'server';

const PREFIX = Buffer.from('STOQ-FALCON-v1\0', 'latin1');

export function signedTranscript(role: Role, exporter: Uint8Array): Buffer {
  return Buffer.concat([PREFIX, Buffer.from(`${role}\0`, 'latin1'), exporter]);
}

export function encodeAuthProof(signature: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + signature.length);
  out[0] = AUTH_PROOF;
  out.set(signature, 1);
  return out;
}

export type AuthMessage = { kind: 'proof'; signature: Uint8Array } | { kind: 'ok' } | { kind: 'anonymous' };

export function decodeAuthMessage(frame: Uint8Array): AuthMessage {
  if (frame.length === 0) throw new Error('empty FALCON handshake message');
  if (frame.length > MAX_AUTH_FRAME) throw new Error(`FALCON handshake message of ${frame.length} bytes exceeds ${MAX_AUTH_FRAME}`);
  if (frame[0] === AUTH_PROOF) {
    if (frame.length < 2) throw new Error('FALCON proof without a signature');
    return { kind: 'proof', signature: frame.subarray(1) };
  }
  if (frame[0] === AUTH_OK && frame.length === 1) return { kind: 'ok' };
  if (frame[0] === AUTH_ANONYMOUS && frame.length === 1) return { kind: 'anonymous' };
  throw new Error(`unknown FALCON handshake message tag 0x${frame[0]!.toString(16)}`);
}
