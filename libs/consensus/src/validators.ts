// The validator set from genesis: weights, quorum arithmetic, leader rotation, and the chain
// identity every signature is bound to (so a vote on one chain is worthless on another).
import { Writer } from './codec';
import { sha256, toHex } from './hash';
import type { Block, BlockHash, Genesis, QuorumCertificate, Validator, ValidatorId } from './types';
import { computeBlockHash } from './signing';

const ZERO_HASH: BlockHash = '0'.repeat(64);

export class ValidatorSet {
  readonly validators: readonly Validator[];
  readonly totalWeight: number;
  /**
   * Weight needed for a certificate: more than 2/3 of the total. With N equal weights and
   * N = 3f+1 this is 2f+1; in general it is N - f, so any two quorums share at least f+1
   * validators, one of which is honest.
   */
  readonly quorumWeight: number;
  /** Most weight that may be faulty: f. */
  readonly faultyWeight: number;
  /** SHA-256 of the canonical genesis encoding; prefixes every signed message. */
  readonly chainTag: Uint8Array;
  readonly genesisBlock: Block;
  readonly genesisBlockHash: BlockHash;
  /** The certificate of the genesis block: view 0, no signatures, valid by definition. */
  readonly genesisQc: QuorumCertificate;

  private constructor(readonly genesis: Genesis) {
    const vs = genesis.validators;
    if (vs.length < 1) throw new RangeError('genesis has no validators');
    if (vs.length > 0xffff) throw new RangeError('more than 65535 validators');
    let total = 0;
    vs.forEach((v, i) => {
      if (v.id !== i) throw new RangeError(`validator ${i} has id ${v.id}; ids must equal their index`);
      if (!Number.isSafeInteger(v.weight) || v.weight < 1) throw new RangeError(`validator ${i} weight must be a positive integer`);
      if (v.publicKey.byteLength < 1 || v.publicKey.byteLength > 0xffff) throw new RangeError(`validator ${i} public key size`);
      total += v.weight;
    });
    if (!Number.isSafeInteger(total)) throw new RangeError('total weight overflows');
    this.validators = vs.map((v) => ({ id: v.id, publicKey: v.publicKey, weight: v.weight }));
    this.totalWeight = total;
    this.quorumWeight = Math.floor((2 * total) / 3) + 1;
    this.faultyWeight = Math.floor((total - 1) / 3);
    const w = new Writer(64 + vs.length * 64);
    const chainId = new TextEncoder().encode(genesis.chainId);
    w.raw(new TextEncoder().encode('stoq-consensus/genesis/v1')).bytes16(chainId).u16(vs.length);
    for (const v of vs) w.u16(v.id).bytes16(v.publicKey).u64(v.weight);
    this.chainTag = sha256(w.finish());
    // The genesis block has no parent to certify: its justify is the empty certificate of height 0.
    const genesisJustify: QuorumCertificate = { view: 0, height: 0, blockHash: ZERO_HASH, signatures: [] };
    this.genesisBlock = { height: 0, view: 0, proposer: 0, parentHash: ZERO_HASH, justify: genesisJustify, payload: [] };
    this.genesisBlockHash = computeBlockHash(this.chainTag, this.genesisBlock);
    this.genesisQc = { view: 0, height: 0, blockHash: this.genesisBlockHash, signatures: [] };
  }

  static fromGenesis(genesis: Genesis): ValidatorSet {
    return new ValidatorSet(genesis);
  }

  get size(): number {
    return this.validators.length;
  }

  get chainTagHex(): string {
    return toHex(this.chainTag);
  }

  has(id: number): id is ValidatorId {
    return Number.isInteger(id) && id >= 0 && id < this.validators.length;
  }

  weightOf(id: ValidatorId): number {
    return this.validators[id]!.weight;
  }

  publicKeyOf(id: ValidatorId): Uint8Array {
    return this.validators[id]!.publicKey;
  }

  /** Round-robin leader of a view. */
  leader(view: number): ValidatorId {
    return view % this.validators.length;
  }

  isGenesisQc(qc: QuorumCertificate): boolean {
    return qc.view === 0 && qc.height === 0 && qc.blockHash === this.genesisBlockHash && qc.signatures.length === 0;
  }
}
