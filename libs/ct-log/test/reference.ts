// Naive reference Merkle tree written straight from RFC 6962 §2.1 (recursive, no caching), used
// as the oracle for property tests. Deliberately independent of src/ (own SHA-256 calls).
import { createHash } from 'node:crypto';

const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

export const refLeafHash = (leaf: Uint8Array): Buffer => sha(Buffer.from([0]), leaf);
const node = (l: Uint8Array, r: Uint8Array): Buffer => sha(Buffer.from([1]), l, r);

function k(n: number): number {
  let x = 1;
  while (x * 2 < n) x *= 2;
  return x;
}

/** MTH(D[n]) over raw leaf inputs. */
export function refMth(d: readonly Uint8Array[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return refLeafHash(d[0]!);
  const s = k(d.length);
  return node(refMth(d.slice(0, s)), refMth(d.slice(s)));
}

/** PATH(m, D[n]). */
export function refPath(m: number, d: readonly Uint8Array[]): Buffer[] {
  if (d.length <= 1) return [];
  const s = k(d.length);
  return m < s ? [...refPath(m, d.slice(0, s)), refMth(d.slice(s))] : [...refPath(m - s, d.slice(s)), refMth(d.slice(0, s))];
}

function subproof(m: number, d: readonly Uint8Array[], b: boolean): Buffer[] {
  const n = d.length;
  if (m === n) return b ? [] : [refMth(d)];
  const s = k(n);
  return m <= s
    ? [...subproof(m, d.slice(0, s), b), refMth(d.slice(s))]
    : [...subproof(m - s, d.slice(s), false), refMth(d.slice(0, s))];
}

/** PROOF(m, D[n]) for 0 < m < n; [] otherwise. */
export function refProof(m: number, d: readonly Uint8Array[]): Buffer[] {
  return m > 0 && m < d.length ? subproof(m, d, true) : [];
}
