// The native addon throws and rejects with `Error`s whose `code` property is one of its codes
// (native/src/error.rs); this turns them into StoqError with that code. Nothing here reads the
// message: test/native-error-codes.test.ts checks that every code the addon has is known here.
import { StoqError, type StoqErrorCode } from './errors';

/** The native codes; each is also a StoqError code of the same name. */
const NATIVE_CODES: ReadonlySet<string> = new Set<StoqErrorCode>([
  'IPV4_REFUSED',
  'INVALID_ADDRESS',
  'INVALID_ARGUMENT',
  'TLS_CONFIG',
  'BIND_FAILED',
  'HANDSHAKE_FAILED',
  'HANDSHAKE_INCOMPLETE',
  'CONNECTION_LOST',
  'STREAM_CLOSED',
  'ZERO_RTT_REJECTED',
  'DATAGRAM',
  'ENDPOINT_CLOSED',
  'NOT_ACCEPTING',
  'FALCON_REJECTED',
  'NATIVE_INTERNAL',
]);

/** @internal exported for the vocabulary test. */
export function nativeCodeOf(code: string): StoqErrorCode | undefined {
  return NATIVE_CODES.has(code) ? (code as StoqErrorCode) : undefined;
}

export function fromNativeError(err: unknown): StoqError {
  if (err instanceof StoqError) return err;
  // Duck-typed, not `instanceof Error`: the addon's errors come from the main realm, and code
  // running in a vm context (Jest) has another `Error`.
  const fields = typeof err === 'object' && err !== null ? (err as { message?: unknown; code?: unknown }) : {};
  const message = typeof fields.message === 'string' ? fields.message : String(err);
  const raw = fields.code;
  const code = typeof raw === 'string' ? nativeCodeOf(raw) : undefined;
  if (code !== undefined) return new StoqError(code, message);
  // napi-rs's own argument conversion ("NumberExpected", "InvalidArg", ...): the caller passed
  // a value of the wrong type to the binding.
  if (typeof raw === 'string' && /Expected$|^InvalidArg$/.test(raw)) {
    return new StoqError('INVALID_ARGUMENT', message, { cause: err, details: { napiStatus: raw } });
  }
  return new StoqError('NATIVE_INTERNAL', message, { cause: err, details: raw === undefined ? {} : { napiStatus: raw } });
}
