import { loadNativeHotPaths } from './native-hot-paths';
import { plotGenerate, type PlotGenerateFn } from './plot-generate';
import { pospaceVerifyOpenings, type PoSpaceOpeningsFn } from './pospace-openings';
import { powSearch, type PowSearchFn } from './pow-search';
import { hashToPrime, type HashToPrimeFn } from './primes';
import { vdfEvaluate, vdfProve, type VdfEvaluateFn, type VdfProveFn } from './vdf-evaluate';
import { vdfVerify, type VdfVerifyFn } from './vdf-verify';

/**
 * The compute-heavy steps, behind small function types so a native implementation (@stoq/native)
 * can be plugged in. The prover's (powSearch, vdfEvaluate, vdfProve, plotGenerate) cannot weaken
 * verification: a wrong plug-in produces proofs that fail it (and generators re-check PoWork/plot
 * output sizes eagerly). The three verification steps (hashToPrime, vdfVerify,
 * pospaceVerifyOpenings) are trusted: native and reference are cross-checked on random and
 * adversarial inputs (test/native-hot-paths.test.ts).
 */
export interface HotPaths {
  readonly powSearch: PowSearchFn;
  readonly vdfEvaluate: VdfEvaluateFn;
  readonly vdfProve: VdfProveFn;
  readonly plotGenerate: PlotGenerateFn;
  /** Fiat–Shamir challenge prime ℓ (prover and verifier). */
  readonly hashToPrime: HashToPrimeFn;
  /** The Wesolowski equation |π^ℓ · x^r| = y (verifier). */
  readonly vdfVerify: VdfVerifyFn;
  /** PoSpace openings: derived blocks and Merkle paths against the root (verifier). */
  readonly pospaceVerifyOpenings: PoSpaceOpeningsFn;
}

/** The TypeScript reference implementations. */
export const referenceHotPaths: HotPaths = Object.freeze({ powSearch, vdfEvaluate, vdfProve, plotGenerate, hashToPrime, vdfVerify, pospaceVerifyOpenings });

/** The @stoq/native implementations, or null when the addon is not built / lacks them. */
export const nativeHotPaths: HotPaths | null = loadNativeHotPaths();

/**
 * What generateFourProofSet, createPlot and verification use unless told otherwise: native when it
 * loads (each measured faster, see README "Figures"), else the references. Pass `referenceHotPaths`
 * to force TS.
 */
export const defaultHotPaths: HotPaths = nativeHotPaths ?? referenceHotPaths;
