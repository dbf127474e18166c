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

/** What an operation check may look at besides the operation itself. */
export interface OperationCheckContext {
  /** Height of the block that would carry the operation. */
  height: number;
  /**
   * Hash of this replica's committed block at `height` (within the retained window; genesis is
   * height 0), or undefined. Lets a check require operations anchored to a recent committed block.
   */
  committedHash(height: number): BlockHash | undefined;
}

/** Why the application refuses an operation. */
export interface OperationRefusal {
  /** For logs and for the submitter; never parsed by the core. */
  detail: string;
}

/**
 * Application validity, injected by the shell: null if `operation` may be ordered, else why not.
 * Synchronous and free of I/O like the core. It may read the validator's local clock (it decides
 * only whether this replica votes); what the application does with a committed operation must
 * not depend on it, since a block certified by others commits here whatever this check says.
 */
export type OperationCheck = (operation: Uint8Array, ctx: OperationCheckContext) => OperationRefusal | null;

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
  /**
   * Application validity of operations (default: every operation is valid). The replica never
   * votes for a proposal carrying an operation it refuses, and as leader never proposes one (it
   * leaves the mempool with an `operation-dropped` effect).
   */
  validateOperation?: OperationCheck;
  /**
   * Pacing of an idle cluster (units of the shell's clock; default 0 = never wait). A leader with
   * nothing to order (empty mempool, no operation in the uncommitted chain or the block committed
   * last) waits this long before proposing an empty block, so an idle cluster does not spin; an
   * operation offered meanwhile (`offer`) makes it propose at once, with that operation. Must stay
   * well below `timing.baseTimeout`.
   */
  emptyBlockDelay?: number;
  /**
   * Send each vote to every validator, not only to the next leader (default false). Every
   * replica then forms the QC itself and commits as soon as the votes arrive, instead of waiting
   * for the next leader's proposal to bring the QC (that leader's persist and signature, and a
   * hop, come off the commit latency of the others). Costs N − 1 vote messages per voter per
   * view instead of one; the signatures a replica verifies stay the same (the QC in the next
   * proposal is then known and not verified again).
   */
  broadcastVotes?: boolean;
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
