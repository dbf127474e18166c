// The native addon reports errors as "CODE: sentence". Turn them into StoqError with that code.
// napi-rs (3.16) gives an exported function's error only a napi status, so the code travels in
// the message; the vocabulary is native/src/error.rs's ALL_CODES, and
// test/native-error-codes.test.ts checks that every code there is mapped here.
import { StoqError, type StoqErrorCode } from './errors';

/** @internal exported for the vocabulary test. */
export const NATIVE_CODES: ReadonlySet<string> = new Set([
  'IPV4_REFUSED',
  'INVALID_ADDRESS',
  'TLS_CONFIG',
  'HANDSHAKE_FAILED',
  'CONNECTION_LOST',
  'STREAM_RESET',
  'STREAM_STOPPED',
  'STREAM_CLOSED',
  'ZERO_RTT_REJECTED',
  'DATAGRAM',
  'BIND_FAILED',
  'HANDSHAKE_INCOMPLETE',
  'NOT_ACCEPTING',
  'INVALID_ARGUMENT',
  'ENDPOINT_CLOSED',
  'FALCON_REJECTED',
]);

export function fromNativeError(err: unknown): StoqError {
  if (err instanceof StoqError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // napi-rs may prefix the message with the JS error name ("Error: ").
  const m = /^(?:[A-Za-z]*Error: )?([A-Z0-9_]+): ([\s\S]*)$/.exec(message);
  if (m && NATIVE_CODES.has(m[1]!)) {
    // Resets and stop-sending carry the peer's application error code: keep it machine-readable.
    const appCode = m[1] === 'STREAM_RESET' || m[1] === 'STREAM_STOPPED' ? /code (\d+)/.exec(m[2]!) : null;
    return new StoqError(m[1] as StoqErrorCode, m[2]!, appCode ? { details: { code: Number(appCode[1]) } } : {});
  }
  if (m && m[1] === 'FALCON') return new StoqError('FALCON_REJECTED', m[2]!);
  return new StoqError('CONNECTION_LOST', message);
}
