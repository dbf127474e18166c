// @stoq/consensus: the pure BFT replica state machine (no I/O; see README.md) and what a shell
// and a certificate checker need around it. The simulator lives under ./sim (not exported here).
export { Replica } from './replica';
export { DEFAULT_TIMING, type OperationCheck, type OperationCheckContext, type OperationRefusal, type ReplicaOptions, type ReplicaStatus, type RestoredState, type PacemakerTiming } from './replica-options';
export type { Effect, Step } from './effects';
export type {
  Block,
  BlockHash,
  BlockRequest,
  BlockResponse,
  CommittedBlock,
  Genesis,
  Message,
  Proposal,
  QuorumCertificate,
  TimeoutCertificate,
  TimeoutMessage,
  TimeoutSignature,
  Validator,
  ValidatorId,
  ValidatorSignature,
  Vote,
} from './types';
export type { Signer, SignatureVerifier, SignedItem } from './crypto';
export { ValidatorSet } from './validators';
export { verifyQuorumCertificate, verifyTimeoutCertificate } from './certificates';
export { verifyEquivocationEvidence, type EquivocationEvidence, type SignedStatement } from './equivocation';
export { type SafetyState, type UnsafeMutationForTests, encodeSafetyState, decodeSafetyState, initialSafetyState } from './safety';
export { encodeMessage, decodeMessage, encodeBlock, decodeBlock, encodeCommittedBlock, decodeCommittedBlock, DEFAULT_LIMITS, type ConsensusLimits } from './codec';
export { computeBlockHash, voteSigningBytes, proposalSigningBytes, timeoutSigningBytes } from './signing';
export { RejectCode, CodecError, SafetyViolation, type Rejection } from './errors';
export type { Verdict } from './verdict';
export type { SubmitResult, MempoolLimits } from './mempool';
export { GENESIS_FORMAT, FALCON1024_PUBLIC_KEY_BYTES, GenesisError, genesisToJson, parseGenesis, type GenesisFile, type GenesisValidator, type LoadedGenesis } from './genesis-file';
export { verifyCommittedBlock, type CommitProof } from './commit-proof';
