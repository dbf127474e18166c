// Content addresses: a program is named by the lowercase hex SHA-256 of its module bytes.
import { createHash } from 'node:crypto';
import { CatalogError } from '../errors';

const HEX64 = /^[0-9a-f]{64}$/;

export function programHash(module: Uint8Array): string {
  return createHash('sha256').update(module).digest('hex');
}

export function parseProgramHash(v: string | null | undefined, field: string): string {
  const s = (v ?? '').toLowerCase();
  if (!HEX64.test(s)) throw new CatalogError('INVALID_ARGUMENT', `${field}: expected 64 hex characters (a SHA-256), got ${JSON.stringify((v ?? '').slice(0, 80))}`);
  return s;
}

export function isProgramHash(s: string): boolean {
  return HEX64.test(s);
}
