// Method definitions: the contract shared by server and client (path, streaming kind,
// protobuf types, idempotency). Generated stubs (scripts/proto-ts.js) are lists of these.
import type * as protobuf from 'protobufjs';

export type MethodKind = 'unary' | 'server_streaming' | 'client_streaming' | 'bidi_streaming';

export const METHOD_KINDS: readonly MethodKind[] = ['unary', 'server_streaming', 'client_streaming', 'bidi_streaming'];

export interface MethodDefinition<Req, Res, K extends MethodKind = MethodKind> {
  /** `service/method`; the first segment is the service name. */
  readonly path: string;
  readonly kind: K;
  readonly requestType: protobuf.Type;
  readonly responseType: protobuf.Type;
  /**
   * Safe to execute more than once: the client retries it on UNAVAILABLE and may send it as
   * 0-RTT early data (which an attacker can replay).
   */
  readonly idempotent: boolean;
  /** Phantom fields carrying the message types; never set at run time. */
  readonly __req?: Req;
  readonly __res?: Res;
}

// Method names: lowercase letters, digits, `_`, `-`, `.`; segments joined by `/`.
const PATH_RE = /^[a-z0-9][a-z0-9_.-]*(\/[a-zA-Z0-9_][a-zA-Z0-9_.-]*)+$/;

export function isValidPath(path: string): boolean {
  return path.length <= 256 && PATH_RE.test(path);
}

/** The service segment of `service/method`. */
export function serviceOfPath(path: string): string {
  const slash = path.indexOf('/');
  return slash < 0 ? path : path.slice(0, slash);
}

export function defineMethod<Req, Res, K extends MethodKind = MethodKind>(def: {
  path: string;
  kind: K;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
  idempotent?: boolean;
}): MethodDefinition<Req, Res, K> {
  if (!isValidPath(def.path)) {
    throw new TypeError(`invalid method path "${def.path}": expected "service/method" (lowercase service, [A-Za-z0-9_.-] segments, at most 256 chars)`);
  }
  if (!(['unary', 'server_streaming', 'client_streaming', 'bidi_streaming'] as const).includes(def.kind)) {
    throw new TypeError(`invalid method kind "${String(def.kind)}" for ${def.path}`);
  }
  return Object.freeze({
    path: def.path,
    kind: def.kind,
    requestType: def.requestType,
    responseType: def.responseType,
    idempotent: def.idempotent ?? false,
  });
}

/** Whether the caller sends a stream of messages (vs exactly one). */
export function clientStreams(kind: MethodKind): boolean {
  return kind === 'client_streaming' || kind === 'bidi_streaming';
}

/** Whether the callee sends a stream of messages (vs exactly one on success). */
export function serverStreams(kind: MethodKind): boolean {
  return kind === 'server_streaming' || kind === 'bidi_streaming';
}
