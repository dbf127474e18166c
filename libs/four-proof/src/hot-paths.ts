import { plotGenerate, type PlotGenerateFn } from './plot-generate';
import { powSearch, type PowSearchFn } from './pow-search';
import { vdfEvaluate, vdfProve, type VdfEvaluateFn, type VdfProveFn } from './vdf-evaluate';

/**
 * The prover's compute-heavy steps, behind small function types so a native implementation
 * (@stoq/native) can be plugged in. Verification never depends on them: a wrong plug-in produces
 * proofs that fail verification (and generators re-check PoWork/plot output sizes eagerly).
 */
export interface HotPaths {
  readonly powSearch: PowSearchFn;
  readonly vdfEvaluate: VdfEvaluateFn;
  readonly vdfProve: VdfProveFn;
  readonly plotGenerate: PlotGenerateFn;
}

/** The TypeScript reference implementations. */
export const referenceHotPaths: HotPaths = Object.freeze({ powSearch, vdfEvaluate, vdfProve, plotGenerate });
