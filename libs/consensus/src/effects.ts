// What the replica asks its shell to do. Effects are an ordered list and order matters:
// everything after a `persist` may be performed only once that persist is durable (written and
// fsync'd). That is how "persist before vote" is enforced without the core doing I/O.
import type { EquivocationEvidence } from './equivocation';
import type { Rejection } from './errors';
import type { SafetyState } from './safety';
import type { Block, CommittedBlock, Message, ValidatorId } from './types';

export type Effect =
  /**
   * Write and fsync the safety state, and store `blocks` (the block this replica is about to
   * vote for or propose) with the uncommitted blocks it keeps until they commit or fall behind
   * the committed height; only then perform the effects after this one. Storing voted blocks is
   * what keeps every certified block available after crashes: 2f+1 signed it, so f+1 honest
   * replicas hold it on disk.
   */
  | { type: 'persist'; state: SafetyState; blocks: readonly Block[] }
  | { type: 'send'; to: ValidatorId; message: Message }
  /** To every other validator. */
  | { type: 'broadcast'; message: Message }
  /** The next block in height order, with its QC; apply to the application state in this order. */
  | { type: 'commit'; committed: CommittedBlock }
  /** (Re)arm the replica's single timer at this time of its clock; call onTimeout then. */
  | { type: 'set-timer'; at: number }
  /** Self-certifying proof that a validator equivocated (report it; e.g. to Caesar for slashing). */
  | { type: 'evidence'; evidence: EquivocationEvidence }
  /**
   * An operation the application's check refused left this replica's mempool (as leader it
   * never proposes one); tell whoever waits for it. Nothing else depends on it.
   */
  | { type: 'operation-dropped'; operation: Uint8Array; detail: string };

/** Result of handing the replica one input. */
export interface Step {
  effects: Effect[];
  /** Why the input was refused (it changed nothing that counts), or null if it was used. */
  rejection: Rejection | null;
}
