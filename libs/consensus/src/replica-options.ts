// Configuration and status types of a Replica (replica.ts).
import type { ConsensusLimits } from './codec';
import type { Signer, SignatureVerifier } from './crypto';
import type { MempoolLimits } from './mempool';
import type { SafetyState, UnsafeMutationForTests } from './safety';
import type { Block, BlockHash, CommittedBlock, Genesis, ValidatorId } from './types';
import type { ValidatorSet } from './validators';

export interface PacemakerTiming {
  /** Timeout of a view that follows a QC (units of the shell's clock, e.g. ms). */
  baseTimeout: number;
  /** Cap of the doubling after consecutive timed-out views. */
  maxTimeout: number;
}

export const DEFAULT_TIMING: Readonly<PacemakerTiming> = Object.freeze({ baseTimeout: 1000, maxTimeout: 60_000 });

/** What a restarted replica gets back from its disk. */
export interface RestoredState {
  /** The last durable persist effect. */
  safety: SafetyState;
  /** The durable block log, ascending: from height 1, or a contiguous suffix of it (after a snapshot). */
  committed: readonly CommittedBlock[];
  /** Blocks from persist effects not yet committed (any order; ones at or below the committed height are ignored). */
  pendingBlocks?: readonly Block[];
}

export interface ReplicaOptions {
  genesis: Genesis | ValidatorSet;
  self: ValidatorId;
  signer: Signer;
  verifier: SignatureVerifier;
  timing?: Partial<PacemakerTiming>;
  limits?: Partial<ConsensusLimits>;
  mempool?: Partial<MempoolLimits>;
  /** Committed blocks kept in memory to serve catch-up requests (default 10,000). */
  retainCommittedBlocks?: number;
  /** How many views ahead of its own a replica buffers votes and timeouts (default 4). */
  maxViewAhead?: number;
  restored?: RestoredState;
  /** Breaks the protocol on purpose; for the simulator's mutation tests only. */
  unsafeMutationForTests?: UnsafeMutationForTests;
}

export interface ReplicaStatus {
  self: ValidatorId;
  view: number;
  leader: ValidatorId;
  highQcView: number;
  lockedQcView: number;
  lastVotedView: number;
  committedHeight: number;
  committedHash: BlockHash;
  mempoolSize: number;
}
