/**
 * The decoded (TypeScript) shape of every message in proto/four_proof.proto.
 * uint64 quantities that may exceed 2^53 (stake amount, sequence, nonce) are bigint;
 * millisecond timestamps and VDF iteration counts are numbers (validated to be safe integers).
 */

/** What all four proofs are about: the operation, the asset it touches, and the acting node. */
export interface OperationContext {
  /** e.g. "trustchain/issue_certificate"; 1..256 UTF-8 bytes. */
  readonly operation: string;
  /** Asset the operation touches; 0..256 UTF-8 bytes. */
  readonly assetId: string;
  /** The acting node's id (e.g. SHA-256 of its public key); 1..64 bytes. */
  readonly nodeId: Uint8Array;
}

/** One opened plot block: the block, and its Merkle authentication path (siblings, leaf to root). */
export interface SpaceOpening {
  readonly index: number;
  readonly block: Uint8Array;
  readonly path: readonly Uint8Array[];
}

/** PoSpace (where): a Merkle-committed plot of `plotBlocks` blocks bound to an IPv6 address. */
export interface PoSpaceProof {
  readonly operationHash: Uint8Array;
  readonly nodeId: Uint8Array;
  /** 16 bytes; IPv4-mapped and unspecified addresses are rejected. */
  readonly ipv6Address: Uint8Array;
  readonly plotBlocks: number;
  readonly blockSize: number;
  readonly merkleRoot: Uint8Array;
  readonly openings: readonly SpaceOpening[];
}

export type SignatureAlgorithm = 'ecdsa-p256-sha256' | 'ed25519' | 'falcon-1024';

/** What the ledger (Caesar) attests: `account` has `amount` locked for `nodeId` until `expiresAtMs`. */
export interface StakeAttestation {
  /** 1..256 UTF-8 bytes. */
  readonly account: string;
  /** Locked amount in the ledger's smallest unit; uint64. */
  readonly amount: bigint;
  readonly nodeId: Uint8Array;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
}

/** PoStake (who): a stake attestation signed by the ledger's key. */
export interface PoStakeProof {
  readonly attestation: StakeAttestation;
  readonly algorithm: SignatureAlgorithm;
  /** ECDSA: 64-byte r‖s (IEEE P1363), low-S; Ed25519: 64 bytes; FALCON-1024: 1..1462 bytes. */
  readonly signature: Uint8Array;
}

/** PoWork (what/how): SHA-256(SHA-256(tag ‖ operationHash ‖ u8 difficulty) ‖ u64be(nonce)) has >= `difficulty` leading zero bits. */
export interface PoWorkProof {
  readonly operationHash: Uint8Array;
  readonly difficulty: number;
  readonly nonce: bigint;
}

/** PoTime (when): a Wesolowski VDF over RSA-2048 whose input binds operation, timestamp and sequence. */
export interface PoTimeProof {
  readonly operationHash: Uint8Array;
  readonly timestampMs: number;
  readonly sequence: bigint;
  /** T, the number of sequential squarings. */
  readonly iterations: number;
  /** y = x^(2^T) mod N, canonical representative (<= (N-1)/2), 256 bytes big-endian. */
  readonly output: Uint8Array;
  /** π = x^floor(2^T / ℓ) mod N, canonical representative, 256 bytes big-endian. */
  readonly proof: Uint8Array;
  /** The committed block the proof is anchored to (randomness beacon), or absent. */
  readonly anchor?: BlockAnchor;
}

/** A committed HyperMesh block: height ≥ 1 and its 32-byte hash. */
export interface BlockAnchor {
  readonly height: bigint;
  readonly hash: Uint8Array;
}

export interface FourProofSet {
  /** Format version; currently 1. */
  readonly version: number;
  readonly context: OperationContext;
  readonly space: PoSpaceProof;
  readonly stake: PoStakeProof;
  readonly work: PoWorkProof;
  readonly time: PoTimeProof;
}
