// PEM (RFC 7468) encoding of DER blocks, strict and size-limited on the way in.

import { StoqError } from '../errors';

/** Largest PEM text we read (a chain of a few hybrid certificates is ~15 KiB). */
export const MAX_PEM_LENGTH = 256 * 1024;
const BLOCK = /-----BEGIN ([A-Z0-9 -]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END ([A-Z0-9 -]+)-----/g;

export function derToPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/**
 * The DER contents of every PEM block labelled `label`, in order. `what` names the source (e.g.
 * a file path) for error messages. Throws if the text holds no such block.
 */
export function pemToDerList(pem: string, label: string, what: string): Uint8Array[] {
  if (pem.length > MAX_PEM_LENGTH) {
    throw new StoqError('TLS_CONFIG', `${what}: PEM text of ${pem.length} characters exceeds ${MAX_PEM_LENGTH}`);
  }
  const out: Uint8Array[] = [];
  let blocks = 0;
  for (const m of pem.matchAll(BLOCK)) {
    blocks++;
    if (m[1] !== m[3]) throw new StoqError('TLS_CONFIG', `${what}: PEM block BEGIN ${m[1]} ends with END ${m[3]}`);
    if (m[1] !== label) continue;
    const b64 = m[2]!.replace(/\s+/g, '');
    const der = Buffer.from(b64, 'base64');
    if (der.toString('base64') !== b64) throw new StoqError('TLS_CONFIG', `${what}: PEM block ${label} is not valid base64`);
    out.push(new Uint8Array(der));
  }
  // A BEGIN line the block pattern did not close is a truncated or mangled block: never skip it.
  const begins = pem.split('-----BEGIN ').length - 1;
  if (begins !== blocks) throw new StoqError('TLS_CONFIG', `${what}: ${begins - blocks} PEM block(s) without a matching END line or with invalid content (truncated?)`);
  if (out.length === 0) throw new StoqError('TLS_CONFIG', `${what}: no PEM block labelled ${label}`);
  return out;
}

/** The single PEM block labelled `label` in `pem`. */
export function pemToDer(pem: string, label: string, what: string): Uint8Array {
  const blocks = pemToDerList(pem, label, what);
  if (blocks.length !== 1) throw new StoqError('TLS_CONFIG', `${what}: expected one ${label} PEM block, found ${blocks.length}`);
  return blocks[0]!;
}
