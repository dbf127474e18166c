// The protocol's data: validators, blocks, certificates and the five wire messages.
// Numbers (views, heights) are non-negative safe integers; hashes are 64-char lowercase hex so
// they work as Map keys and in JSON; signatures are opaque bytes from the injected Signer.

export type ValidatorId = number;
/** SHA-256, lowercase hex. */
export type BlockHash = string;

export interface Validator {
  /** Equals the validator's index in Genesis.validators. */
  id: ValidatorId;
  /** Opaque to the core; handed to the SignatureVerifier (a FALCON-1024 key in apps/hypermesh). */
  publicKey: Uint8Array;
  /** Voting weight (positive integer). Equal weights give the classic N = 3f+1 counting. */
  weight: number;
}

/** Everything a replica must agree on before block 1: chain identity and the validator set. */
export interface Genesis {
  chainId: string;
  validators: readonly Validator[];
}

export interface ValidatorSignature {
  validator: ValidatorId;
  signature: Uint8Array;
}

/** 2f+1 (by weight: more than 2/3) signatures over (height, view, blockHash). */
export interface QuorumCertificate {
  view: number;
  height: number;
  blockHash: BlockHash;
  /** Sorted by validator id, no repeats. */
  signatures: readonly ValidatorSignature[];
}

export interface TimeoutSignature {
  validator: ValidatorId;
  /** View of the highest QC the signer held when it timed out (signed with the view). */
  highQcView: number;
  signature: Uint8Array;
}

/** More than 2/3 of the weight gave up on `view`; carries the highest QC any of them held. */
export interface TimeoutCertificate {
  view: number;
  highQc: QuorumCertificate;
  /** Sorted by validator id, no repeats. */
  signatures: readonly TimeoutSignature[];
}

export interface Block {
  height: number;
  view: number;
  proposer: ValidatorId;
  parentHash: BlockHash;
  /** Certifies the parent: justify.blockHash === parentHash, justify.height === height - 1. */
  justify: QuorumCertificate;
  /** The batch of operations, opaque to consensus. */
  payload: readonly Uint8Array[];
}

/** A block as the application receives it: with the QC that certifies it. */
export interface CommittedBlock {
  block: Block;
  hash: BlockHash;
  qc: QuorumCertificate;
}

export interface Proposal {
  type: 'proposal';
  block: Block;
  /** Present when the view was entered by timeout: justifies block.view = tc.view + 1. */
  tc: TimeoutCertificate | null;
  /** The proposer's signature over (height, view, block hash). */
  signature: Uint8Array;
}

export interface Vote {
  type: 'vote';
  view: number;
  height: number;
  blockHash: BlockHash;
  voter: ValidatorId;
  signature: Uint8Array;
}

export interface TimeoutMessage {
  type: 'timeout';
  view: number;
  highQc: QuorumCertificate;
  /** The TC for view - 1 if the sender entered `view` by timeout (lets laggards follow). */
  lastTc: TimeoutCertificate | null;
  voter: ValidatorId;
  /** Over (view, highQc.view). */
  signature: Uint8Array;
}

/** Ask a peer for `blockHash` and up to maxBlocks - 1 of its ancestors. */
export interface BlockRequest {
  type: 'block-request';
  blockHash: BlockHash;
  maxBlocks: number;
}

/** Newest first: blocks[0] is the requested block, blocks[i+1] is the parent of blocks[i]. */
export interface BlockResponse {
  type: 'block-response';
  blocks: readonly Block[];
}

export type Message = Proposal | Vote | TimeoutMessage | BlockRequest | BlockResponse;
