import { hash as nodeHash } from 'node:crypto';

/**
 * Hashcash over SHA-256: the proof-of-work hash is SHA-256(challenge ‖ u64be(nonce)).
 * `powSearch` is a hot path (a native implementation may replace it); this is the reference.
 */
export type PowSearchFn = (challenge: Uint8Array, difficulty: number, startNonce: bigint) => bigint;

export function leadingZeroBits(hash: Uint8Array): number {
  let bits = 0;
  for (const byte of hash) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

export function powHash(challenge: Uint8Array, nonce: bigint): Uint8Array {
  const buf = Buffer.alloc(challenge.length + 8);
  buf.set(challenge, 0);
  buf.writeBigUInt64BE(nonce, challenge.length);
  const d = nodeHash('sha256', buf, 'buffer');
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Smallest nonce >= startNonce whose hash has >= difficulty leading zero bits. */
export const powSearch: PowSearchFn = (challenge, difficulty, startNonce) => {
  const buf = Buffer.alloc(challenge.length + 8);
  buf.set(challenge, 0);
  const at = challenge.length;
  let hi = Number(startNonce >> 32n);
  let lo = Number(startNonce & 0xffffffffn);
  for (;;) {
    buf.writeUInt32BE(hi, at);
    buf.writeUInt32BE(lo, at + 4);
    if (leadingZeroBits(nodeHash('sha256', buf, 'buffer')) >= difficulty) return (BigInt(hi) << 32n) | BigInt(lo);
    lo++;
    if (lo === 2 ** 32) {
      lo = 0;
      hi++;
      if (hi === 2 ** 32) throw new RangeError('nonce space exhausted');
    }
  }
};
