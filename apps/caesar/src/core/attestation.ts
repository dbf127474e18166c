// Stake attestations: Caesar's signed statement "account A has at least S bonded on ledger L,
// valid from F to U", which libs/four-proof's PoStake carries and anyone can verify offline with
// Caesar's public key. Pure: the signature scheme is injected (FALCON in production, by key id),
// `now` is passed in.
//
// Revocation without a round trip: an attestation may not be valid for longer than the unbonding
// period. Unstaked funds stay locked (and slashable) for that period, so the stake behind an
// unexpired attestation can still be slashed: unstaking cannot outrun it. Verifiers that are
// online may also pass `isRevoked` (e.g. Caesar's list of slashed accounts).
//
// Wire format (version 1, big-endian, at most MAX_ATTESTATION_BYTES):
//   magic "CSRATT01" (8) | ledger u32 | account u128 | staked amount u128 | valid_from u64 (ns) |
//   valid_until u64 (ns) | key id length u8 | key id (1..64) | signature length u16 | signature
//   (1..MAX_SIGNATURE_BYTES)
// The signature covers SIGNING_CONTEXT || every byte before the signature length.
import { LedgerError } from '../errors';
import { isU128, isU32, isU64 } from './integers';
import { type AccountReader, stakeOf, type StakingConfig } from './staking';

export const ATTESTATION_MAGIC = Buffer.from('CSRATT01', 'latin1');
const SIGNING_CONTEXT = Buffer.from('caesar stake attestation v1\0', 'latin1');
export const MAX_KEY_ID_BYTES = 64;
/** Room for FALCON-1024 signatures (≤ 1,462 bytes) and then some. */
export const MAX_SIGNATURE_BYTES = 2048;
const FIXED = 8 + 4 + 16 + 16 + 8 + 8;
export const MAX_ATTESTATION_BYTES = FIXED + 1 + MAX_KEY_ID_BYTES + 2 + MAX_SIGNATURE_BYTES;

export interface StakeAttestation {
  readonly ledger: number;
  readonly account: bigint;
  /** Bonded stake at issue time (a lower bound while the attestation is valid). */
  readonly stakedAmount: bigint;
  readonly validFrom: bigint;
  readonly validUntil: bigint;
  /** Which Caesar key signed it. */
  readonly keyId: Uint8Array;
  readonly signature: Uint8Array;
}

export interface AttestationSigner {
  readonly keyId: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

export interface AttestationVerifier {
  /** Whether the key id names a Caesar key this verifier trusts. */
  knowsKey(keyId: Uint8Array): boolean;
  verify(keyId: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

export type AttestationVerdict =
  | 'ok'
  | 'malformed'
  | 'unknown_key'
  | 'bad_signature'
  | 'wrong_ledger'
  | 'not_yet_valid'
  | 'expired'
  | 'validity_too_long'
  | 'insufficient_stake'
  | 'revoked';

export interface IssueRequest {
  readonly account: bigint;
  readonly now: bigint;
  /** How long it is valid (ns); at most the unbonding period. */
  readonly validityNs: bigint;
}

/** Signs the account's bonded stake now. Throws LedgerError for a validity past the unbonding period or no stake. */
export function issueStakeAttestation(accounts: AccountReader, request: IssueRequest, config: StakingConfig, signer: AttestationSigner): StakeAttestation {
  const { account, now, validityNs } = request;
  if (!isU64(now) || !isU64(validityNs) || validityNs === 0n || now + validityNs > (1n << 64n) - 1n) {
    throw new LedgerError('INVALID_ARGUMENT', 'now and validityNs must be u64 nanoseconds, validityNs > 0');
  }
  if (validityNs > config.unbondingPeriodNs) {
    throw new LedgerError('INVALID_ARGUMENT', `an attestation may be valid for at most the unbonding period (${config.unbondingPeriodNs} ns)`);
  }
  const bonded = stakeOf(accounts, account).bonded;
  if (bonded === 0n) throw new LedgerError('INVALID_ARGUMENT', `account ${account} has no bonded stake`);
  checkKeyId(signer.keyId);
  const body = encodeBody({ ledger: config.ledger, account, stakedAmount: bonded, validFrom: now, validUntil: now + validityNs, keyId: signer.keyId });
  const signature = signer.sign(signingMessage(body));
  if (signature.length < 1 || signature.length > MAX_SIGNATURE_BYTES) throw new LedgerError('INVALID_ARGUMENT', `the signer returned a ${signature.length}-byte signature`);
  return { ledger: config.ledger, account, stakedAmount: bonded, validFrom: now, validUntil: now + validityNs, keyId: Uint8Array.from(signer.keyId), signature: Uint8Array.from(signature) };
}

export interface VerifyOptions {
  readonly now: bigint;
  /** The ledger whose stake counts. */
  readonly ledger: number;
  /** Reject attestations for less stake than this (default 1). */
  readonly minStake?: bigint;
  /** Longest validity window accepted (the unbonding period the verifier knows). */
  readonly maxValidityNs: bigint;
  /** Online check of revocation (slashed accounts); offline verifiers leave it out. */
  readonly isRevoked?: (a: StakeAttestation) => boolean;
}

/** Verifies an attestation from its signature alone (plus the optional revocation check). */
export function verifyStakeAttestation(a: StakeAttestation, verifier: AttestationVerifier, options: VerifyOptions): AttestationVerdict {
  let body: Buffer;
  try {
    body = encodeBody(a);
    if (!(a.signature instanceof Uint8Array) || a.signature.length < 1 || a.signature.length > MAX_SIGNATURE_BYTES) return 'malformed';
  } catch {
    return 'malformed';
  }
  if (a.validUntil <= a.validFrom) return 'malformed';
  if (!verifier.knowsKey(a.keyId)) return 'unknown_key';
  if (!verifier.verify(a.keyId, signingMessage(body), a.signature)) return 'bad_signature';
  if (a.ledger !== options.ledger) return 'wrong_ledger';
  if (a.validUntil - a.validFrom > options.maxValidityNs) return 'validity_too_long';
  if (options.now < a.validFrom) return 'not_yet_valid';
  if (options.now >= a.validUntil) return 'expired';
  if (a.stakedAmount < (options.minStake ?? 1n)) return 'insufficient_stake';
  if (options.isRevoked?.(a)) return 'revoked';
  return 'ok';
}

export function encodeStakeAttestation(a: StakeAttestation): Uint8Array {
  const body = encodeBody(a);
  if (a.signature.length < 1 || a.signature.length > MAX_SIGNATURE_BYTES) throw new LedgerError('INVALID_ARGUMENT', 'signature length out of range');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(a.signature.length);
  return Buffer.concat([body, len, a.signature]);
}

/** Decodes the wire format; throws LedgerError INVALID_ARGUMENT for anything else (size-limited). */
export function decodeStakeAttestation(bytes: Uint8Array): StakeAttestation {
  const fail = (why: string): never => {
    throw new LedgerError('INVALID_ARGUMENT', `not a stake attestation: ${why}`);
  };
  if (!(bytes instanceof Uint8Array)) fail('not bytes');
  if (bytes.length > MAX_ATTESTATION_BYTES) fail(`${bytes.length} bytes, at most ${MAX_ATTESTATION_BYTES}`);
  if (bytes.length < FIXED + 1 + 1 + 2 + 1) fail(`${bytes.length} bytes is too short`);
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (!b.subarray(0, 8).equals(ATTESTATION_MAGIC)) fail('bad magic');
  const ledger = b.readUInt32BE(8);
  const account = (b.readBigUInt64BE(12) << 64n) | b.readBigUInt64BE(20);
  const stakedAmount = (b.readBigUInt64BE(28) << 64n) | b.readBigUInt64BE(36);
  const validFrom = b.readBigUInt64BE(44);
  const validUntil = b.readBigUInt64BE(52);
  const keyLen = b.readUInt8(FIXED);
  if (keyLen < 1 || keyLen > MAX_KEY_ID_BYTES) fail(`key id length ${keyLen}`);
  const sigAt = FIXED + 1 + keyLen;
  if (b.length < sigAt + 2) fail('truncated');
  const sigLen = b.readUInt16BE(sigAt);
  if (sigLen < 1 || sigLen > MAX_SIGNATURE_BYTES) fail(`signature length ${sigLen}`);
  if (b.length !== sigAt + 2 + sigLen) fail(`length ${b.length} does not match its fields (${sigAt + 2 + sigLen})`);
  return {
    ledger,
    account,
    stakedAmount,
    validFrom,
    validUntil,
    keyId: Uint8Array.from(b.subarray(FIXED + 1, sigAt)),
    signature: Uint8Array.from(b.subarray(sigAt + 2)),
  };
}

function encodeBody(a: Omit<StakeAttestation, 'signature'>): Buffer {
  if (!isU32(a.ledger) || !isU128(a.account) || !isU128(a.stakedAmount) || !isU64(a.validFrom) || !isU64(a.validUntil)) {
    throw new LedgerError('INVALID_ARGUMENT', 'attestation field out of range');
  }
  checkKeyId(a.keyId);
  const b = Buffer.alloc(FIXED + 1 + a.keyId.length);
  ATTESTATION_MAGIC.copy(b, 0);
  b.writeUInt32BE(a.ledger, 8);
  b.writeBigUInt64BE(a.account >> 64n, 12);
  b.writeBigUInt64BE(a.account & 0xffff_ffff_ffff_ffffn, 20);
  b.writeBigUInt64BE(a.stakedAmount >> 64n, 28);
  b.writeBigUInt64BE(a.stakedAmount & 0xffff_ffff_ffff_ffffn, 36);
  b.writeBigUInt64BE(a.validFrom, 44);
  b.writeBigUInt64BE(a.validUntil, 52);
  b.writeUInt8(a.keyId.length, FIXED);
  b.set(a.keyId, FIXED + 1);
  return b;
}

function signingMessage(body: Buffer): Uint8Array {
  return Buffer.concat([SIGNING_CONTEXT, body]);
}

function checkKeyId(keyId: Uint8Array): void {
  if (!(keyId instanceof Uint8Array) || keyId.length < 1 || keyId.length > MAX_KEY_ID_BYTES) {
    throw new LedgerError('INVALID_ARGUMENT', `a key id is 1..${MAX_KEY_ID_BYTES} bytes`);
  }
}
