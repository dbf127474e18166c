// The native addon reports errors as "CODE: sentence". Turn them into StoqError with that code.
import { StoqError, type StoqErrorCode } from './errors';

const NATIVE_CODES: ReadonlySet<string> = new Set([
  'IPV4_REFUSED',
  'INVALID_ADDRESS',
  'TLS_CONFIG',
  'HANDSHAKE_FAILED',
  'CONNECTION_LOST',
  'STREAM_RESET',
  'STREAM_STOPPED',
  'ENDPOINT_CLOSED',
  'FALCON_REJECTED',
]);

export function fromNativeError(err: unknown): StoqError {
  if (err instanceof StoqError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // napi-rs may prefix the message with the JS error name ("Error: ").
  const m = /^(?:[A-Za-z]*Error: )?([A-Z0-9_]+): ([\s\S]*)$/.exec(message);
  if (m && NATIVE_CODES.has(m[1]!)) return new StoqError(m[1] as StoqErrorCode, m[2]!);
  if (m && m[1] === 'FALCON') return new StoqError('FALCON_REJECTED', m[2]!);
  return new StoqError('CONNECTION_LOST', message);
}
