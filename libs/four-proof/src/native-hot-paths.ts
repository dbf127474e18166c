import { bigIntToBytes, bytesToBigInt } from './bytes';
import type { HotPaths } from './hot-paths';
import { isPowerOfTwo } from './params';
import { plotGenerate as referencePlotGenerate, type PlotGenerateFn } from './plot-generate';
import { pospaceVerifyOpenings as referencePospaceVerifyOpenings, type PoSpaceOpeningsFn } from './pospace-openings';
import { powSearch as referencePowSearch, type PowSearchFn } from './pow-search';
import { hashToPrime as referenceHashToPrime, type HashToPrimeFn } from './primes';
import { vdfEvaluate as referenceEvaluate, vdfProve as referenceProve, type VdfEvaluateFn, type VdfProveFn } from './vdf-evaluate';
import { vdfVerify as referenceVdfVerify, type VdfVerifyFn } from './vdf-verify';

/**
 * The hot paths implemented in Rust by @stoq/native (native/src/hot/), adapted to the
 * HotPaths function types. Results are identical to the TypeScript references (cross-checked by
 * test/native-hot-paths.test.ts); inputs outside the native domain — an even modulus or one above
 * 2048 bits, ℓ outside [2, 2^256) (verification: an even ℓ or ℓ < 3), elements of more bytes than
 * N, a plot above 2^26 blocks or 2^20-byte blocks, a prime above 2^128 − 1, PoSpace openings with
 * a root not 32 bytes, a non-u32 index or mismatched buffer lengths — run the reference.
 */

/** The slice of the @stoq/native API used here (see native/README.md, "Hot paths"). */
export interface NativeHotPathBindings {
  powSearch(challenge: Uint8Array, difficultyBits: number, startNonce: bigint | number, maxIterations: number): { nonce: bigint; hash: Uint8Array } | null;
  vdfEvaluate(x: Uint8Array, iterations: number, modulus: Uint8Array): Uint8Array;
  vdfProve(x: Uint8Array, iterations: number, ell: Uint8Array, modulus: Uint8Array): Uint8Array;
  plotGenerate(nodeId: Uint8Array, blockCount: number, blockSize: number): Uint8Array;
  /** 16 big-endian bytes, or null when the prime does not fit in 128 bits. */
  hashToPrime(digest: Uint8Array): Uint8Array | null;
  vdfVerify(x: Uint8Array, y: Uint8Array, pi: Uint8Array, iterations: number, ell: Uint8Array, modulus: Uint8Array): boolean;
  /** First failing opening or -1; throws on malformed arguments. */
  pospaceVerifyOpenings(root: Uint8Array, nodeId: Uint8Array, blockSize: number, leafCount: number, indices: number[], blocks: Uint8Array, paths: Uint8Array): number;
}

const U64_MAX = (1n << 64n) - 1n;
/** Nonces per native call; the loop only matters after 2^32 misses (difficulty ≳ 32 bits). */
const POW_SLICE = 2 ** 32;
const MAX_MODULUS = 1n << 2048n;
const MAX_ELL = 1n << 256n;
const MAX_NATIVE_PLOT_BLOCKS = 2 ** 26;
const MAX_NATIVE_BLOCK_SIZE = 2 ** 20;
const MAX_NATIVE_ITERATIONS = 2 ** 40;

function byteLength(v: bigint): number {
  return Math.ceil(v.toString(16).length / 2);
}

function nativeModulus(modulus: bigint, iterations: number): boolean {
  return modulus >= 3n && modulus < MAX_MODULUS && (modulus & 1n) === 1n && Number.isSafeInteger(iterations) && iterations >= 0 && iterations <= MAX_NATIVE_ITERATIONS;
}

export function createNativeHotPaths(addon: NativeHotPathBindings): HotPaths {
  const powSearch: PowSearchFn = (challenge, difficulty, startNonce) => {
    if (startNonce < 0n || startNonce > U64_MAX || challenge.length > 1024 || !(difficulty >= 0 && difficulty <= 256)) {
      return referencePowSearch(challenge, difficulty, startNonce);
    }
    let start = startNonce;
    for (;;) {
      const found = addon.powSearch(challenge, difficulty, start, POW_SLICE);
      if (found) return found.nonce;
      start += BigInt(POW_SLICE);
      if (start > U64_MAX) throw new RangeError('nonce space exhausted');
    }
  };

  const vdfEvaluate: VdfEvaluateFn = (x, iterations, modulus) => {
    if (!nativeModulus(modulus, iterations) || x < 0n) return referenceEvaluate(x, iterations, modulus);
    const k = byteLength(modulus);
    return bytesToBigInt(addon.vdfEvaluate(bigIntToBytes(x % modulus, k), iterations, bigIntToBytes(modulus, k)));
  };

  const vdfProve: VdfProveFn = (x, iterations, ell, modulus) => {
    if (!nativeModulus(modulus, iterations) || x < 0n || ell < 2n || ell >= MAX_ELL) return referenceProve(x, iterations, ell, modulus);
    const k = byteLength(modulus);
    return bytesToBigInt(addon.vdfProve(bigIntToBytes(x % modulus, k), iterations, bigIntToBytes(ell, byteLength(ell)), bigIntToBytes(modulus, k)));
  };

  const plotGenerate: PlotGenerateFn = (nodeId, plotBlocks, blockSize) => {
    const inDomain =
      Number.isInteger(plotBlocks) && plotBlocks >= 1 && plotBlocks <= MAX_NATIVE_PLOT_BLOCKS &&
      Number.isInteger(blockSize) && blockSize >= 32 && blockSize <= MAX_NATIVE_BLOCK_SIZE && blockSize % 32 === 0 &&
      nodeId.length <= 0xffff;
    return inDomain ? addon.plotGenerate(nodeId, plotBlocks, blockSize) : referencePlotGenerate(nodeId, plotBlocks, blockSize);
  };

  const hashToPrime: HashToPrimeFn = (digest) => {
    if (!(digest instanceof Uint8Array) || digest.length < 16) return referenceHashToPrime(digest); // its RangeError
    const prime = addon.hashToPrime(digest);
    return prime === null ? referenceHashToPrime(digest) : bytesToBigInt(prime);
  };

  // One-entry cache of the modulus bytes (always RSA-2048 in practice).
  let lastModulus = 0n;
  let lastModulusBytes: Uint8Array = new Uint8Array(0);
  const vdfVerify: VdfVerifyFn = (x, y, pi, iterations, ell, modulus) => {
    if (!nativeModulus(modulus, iterations) || ell < 3n || ell >= MAX_ELL || (ell & 1n) === 0n) {
      return referenceVdfVerify(x, y, pi, iterations, ell, modulus);
    }
    if (modulus !== lastModulus) {
      lastModulusBytes = bigIntToBytes(modulus, byteLength(modulus));
      lastModulus = modulus;
    }
    const k = lastModulusBytes.length;
    const limit = 1n << BigInt(8 * k);
    // An element wider than N is not canonical: the reference rejects it (false) as native would.
    if (x < 0n || y < 0n || pi < 0n || x >= limit || y >= limit || pi >= limit) return referenceVdfVerify(x, y, pi, iterations, ell, modulus);
    return addon.vdfVerify(bigIntToBytes(x, k), bigIntToBytes(y, k), bigIntToBytes(pi, k), iterations, bigIntToBytes(ell, byteLength(ell)), lastModulusBytes);
  };

  const pospaceVerifyOpenings: PoSpaceOpeningsFn = (root, nodeId, blockSize, plotBlocks, indices, blocks, paths) => {
    const n = indices.length;
    const inDomain =
      root.length === 32 && nodeId.length <= 0xffff &&
      Number.isInteger(blockSize) && blockSize >= 32 && blockSize <= MAX_NATIVE_BLOCK_SIZE && blockSize % 32 === 0 &&
      isPowerOfTwo(plotBlocks) && plotBlocks >= 2 &&
      blocks.length === n * blockSize && paths.length === n * Math.log2(plotBlocks) * 32 &&
      indices.every((i) => Number.isInteger(i) && i >= 0 && i <= 0xffffffff);
    if (!inDomain) return referencePospaceVerifyOpenings(root, nodeId, blockSize, plotBlocks, indices, blocks, paths);
    return addon.pospaceVerifyOpenings(root, nodeId, blockSize, plotBlocks, indices as number[], blocks, paths);
  };

  return Object.freeze({ powSearch, vdfEvaluate, vdfProve, plotGenerate, hashToPrime, vdfVerify, pospaceVerifyOpenings });
}

function isBindings(addon: unknown): addon is NativeHotPathBindings {
  const a = addon as Partial<Record<keyof NativeHotPathBindings, unknown>> | null;
  return (
    !!a &&
    typeof a.powSearch === 'function' &&
    typeof a.vdfEvaluate === 'function' &&
    typeof a.vdfProve === 'function' &&
    typeof a.plotGenerate === 'function' &&
    typeof a.hashToPrime === 'function' &&
    typeof a.vdfVerify === 'function' &&
    typeof a.pospaceVerifyOpenings === 'function'
  );
}

/** The native hot paths if @stoq/native is built and exports them, else null. */
export function loadNativeHotPaths(): HotPaths | null {
  let addon: unknown;
  try {
    addon = require('@stoq/native');
  } catch {
    return null; // not built: the TypeScript references remain the default
  }
  return isBindings(addon) ? createNativeHotPaths(addon) : null;
}
