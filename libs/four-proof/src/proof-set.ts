import { hash as nodeHash } from 'node:crypto';
import { encodeFourProofSet, decodeFourProofSet } from './codec';
import { checkContext } from './context';
import { fail } from './errors';
import { defaultHotPaths, type HotPaths } from './hot-paths';
import { resolveParams, type FourProofParams } from './params';
import type { Plot } from './plot';
import { generatePoSpace, verifyPoSpace } from './pospace';
import { verifyPoStake, type LedgerPublicKey } from './postake';
import { generatePoTime, verifyPoTime } from './potime';
import { generatePoWork, verifyPoWork } from './powork';
import type { AnchorCheck } from './potime';
import type { BlockAnchor, FourProofSet, OperationContext, PoStakeProof } from './types';

export const FOUR_PROOF_SET_VERSION = 1;

export interface GenerateFourProofSetInput {
  readonly context: OperationContext;
  /** The node's plot (build once with createPlot and reuse). */
  readonly plot: Plot;
  /** The node's IPv6 address the PoSpace claim binds (text or 16 bytes). */
  readonly ipv6Address: string | Uint8Array;
  /** Stake attestation obtained from the ledger (see signStakeAttestation). */
  readonly stake: PoStakeProof;
  /** Current time, ms since the Unix epoch (this library has no clock). */
  readonly now: number;
  /** The node's next sequence number (strictly greater than any it used before). */
  readonly sequence: bigint;
  /** A recent committed HyperMesh block PoTime binds (required by validators that check anchors). */
  readonly anchor?: BlockAnchor;
  readonly params?: Partial<FourProofParams>;
  readonly hotPaths?: Partial<HotPaths>;
}

/** Produces all four proofs over one operation context. */
export function generateFourProofSet(input: GenerateFourProofSetInput): FourProofSet {
  const params = resolveParams(input.params);
  const hot: HotPaths = { ...defaultHotPaths, ...(input.hotPaths ?? {}) };
  checkContext(input.context, 'context', 'INVALID_ARGUMENT');
  if (input.stake === undefined || input.stake === null) fail('PROOF_MISSING', 'stake', 'stake attestation is required');
  const space = generatePoSpace({ plot: input.plot, context: input.context, ipv6Address: input.ipv6Address, challenges: params.spaceChallenges });
  const work = generatePoWork(input.context, { difficulty: params.powDifficulty, powSearch: hot.powSearch });
  const time = generatePoTime({
    context: input.context,
    timestampMs: input.now,
    sequence: input.sequence,
    iterations: params.vdfIterations,
    ...(input.anchor === undefined ? {} : { anchor: input.anchor }),
    implementations: { vdfEvaluate: hot.vdfEvaluate, vdfProve: hot.vdfProve, hashToPrime: hot.hashToPrime },
  });
  return { version: FOUR_PROOF_SET_VERSION, context: input.context, space, stake: input.stake, work, time };
}

/** Combined proof hash: SHA-256 over the canonical encoding of the set. */
export function fourProofSetHash(set: FourProofSet | Uint8Array): Uint8Array {
  const bytes = set instanceof Uint8Array ? set : encodeFourProofSet(set);
  const d = nodeHash('sha256', bytes, 'buffer');
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

export interface VerifyFourProofSetOptions {
  /** The ledger's (Caesar's) stake-attestation public key. */
  readonly ledgerPublicKey: LedgerPublicKey;
  /** Verifier's current time, ms since the Unix epoch. */
  readonly now: number;
  /** Last sequence number accepted from this node (the set's PoTime sequence must exceed it). */
  readonly lastSequence?: bigint;
  /** Minimums to enforce; defaults to DEFAULT_PARAMS. */
  readonly params?: Partial<FourProofParams>;
  /** Verification hot paths (hashToPrime, vdfVerify, pospaceVerifyOpenings); default defaultHotPaths (native when built). */
  readonly hotPaths?: Partial<HotPaths>;
  /** Require PoTime's anchor to be acceptable to the chain (see AnchorCheck); absent = not required. */
  readonly checkAnchor?: AnchorCheck;
}

export interface FourProofVerification {
  readonly ok: true;
  /** SHA-256 of the canonical encoding: the value TrustChain embeds and HyperMesh votes on. */
  readonly proofHash: Uint8Array;
  /** The node's sequence number carried by PoTime (the caller's next `lastSequence`). */
  readonly sequence: bigint;
}

/**
 * Verifies a four-proof set (decoded, or its canonical encoding). Returns { ok: true, proofHash }
 * or throws FourProofError naming the first failing proof and field. Order: structure and
 * bindings first, then the cheap checks (PoWork, time window, stake), then PoSpace and the VDF.
 */
export function verifyFourProofSet(set: FourProofSet | Uint8Array, options: VerifyFourProofSetOptions): FourProofVerification {
  const params = resolveParams(options.params);
  if (!Number.isSafeInteger(options.now) || options.now < 0) fail('INVALID_ARGUMENT', 'now', 'must be a non-negative safe integer (ms)');
  let decoded: FourProofSet;
  let encoded: Uint8Array;
  if (set instanceof Uint8Array) {
    decoded = decodeFourProofSet(set, { maxBytes: params.maxEncodedBytes });
    encoded = set;
  } else {
    if (set === null || typeof set !== 'object') fail('INVALID_ARGUMENT', 'set', 'must be a FourProofSet or its encoding');
    for (const [key, what] of [['context', 'operation context'], ['space', 'PoSpace proof'], ['stake', 'PoStake proof'], ['work', 'PoWork proof'], ['time', 'PoTime proof']] as const) {
      if (set[key] === undefined || set[key] === null) fail('PROOF_MISSING', key, `${what} is absent`);
    }
    decoded = set;
    encoded = encodeFourProofSet(set);
    if (encoded.length > params.maxEncodedBytes) fail('DECODE', 'set', `encoding is ${encoded.length} bytes, limit ${params.maxEncodedBytes}`);
  }
  if (decoded.version !== FOUR_PROOF_SET_VERSION) fail('DECODE', 'version', `unsupported version ${decoded.version}, expected ${FOUR_PROOF_SET_VERSION}`);
  const context = decoded.context;
  checkContext(context, 'context', 'DECODE');
  verifyPoWork(decoded.work, context, params);
  verifyPoStake(decoded.stake, context, { ledgerPublicKey: options.ledgerPublicKey, now: options.now, params });
  const implementations = { hashToPrime: options.hotPaths?.hashToPrime ?? defaultHotPaths.hashToPrime, vdfVerify: options.hotPaths?.vdfVerify ?? defaultHotPaths.vdfVerify };
  verifyPoTime(decoded.time, context, {
    now: options.now,
    params,
    implementations,
    ...(options.lastSequence === undefined ? {} : { lastSequence: options.lastSequence }),
    ...(options.checkAnchor === undefined ? {} : { checkAnchor: options.checkAnchor }),
  });
  verifyPoSpace(decoded.space, context, params, 'space', options.hotPaths?.pospaceVerifyOpenings ?? defaultHotPaths.pospaceVerifyOpenings);
  return { ok: true, proofHash: fourProofSetHash(encoded), sequence: decoded.time.sequence };
}
