// SHA-256 and hex helpers (node:crypto; no dependency).
import { createHash } from 'node:crypto';
import type { BlockHash } from './types';

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Lowercase 64-char hex (the one spelling a BlockHash has, so Map keys match). */
export function isBlockHash(s: string): s is BlockHash {
  return s.length === 64 && HEX64.test(s);
}
