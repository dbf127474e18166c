import { KeyObject, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { bigIntToBytes, bytesEqual, bytesToBigInt, concatBytes } from './bytes';
import { encodeStakeAttestation } from './codec';
import { checkBytes, checkUtf8 } from './context';
import { fail } from './errors';
import { DOMAIN } from './hash';
import { LIMITS, type FourProofParams } from './params';
import type { OperationContext, PoStakeProof, SignatureAlgorithm, StakeAttestation } from './types';

/**
 * PoStake (who): the ledger (Caesar) attests that `account` has `amount` locked for `nodeId` until
 * `expiresAtMs`, signing tag ‖ canonical-protobuf(attestation) with ECDSA P-256/SHA-256 (64-byte
 * r‖s, low-S so the encoding — and thus the set's proof hash — is not malleable), Ed25519, or
 * FALCON-1024 (Caesar's post-quantum key; `caesar/attest_stake` with a node id). A FALCON
 * signature is randomised, so only the ledger could re-sign the same attestation differently: the
 * node's set, once built, still has one encoding and one proof hash.
 */

/** Caesar's FALCON-1024 public key (PQClean format, 1,793 bytes). */
export interface FalconLedgerKey {
  readonly algorithm: 'falcon-1024';
  readonly publicKey: Uint8Array;
}

/** Public key type accepted by verifiers: a KeyObject (fastest), PEM / DER SPKI, or a FALCON key. */
export type LedgerPublicKey = KeyObject | string | Uint8Array | FalconLedgerKey;

export const FALCON_PUBLIC_KEY_BYTES = 1793;
export const MAX_FALCON_SIGNATURE_BYTES = 1462;

type FalconVerify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;
let falconVerifyFn: FalconVerify | undefined;

/** FALCON verification lives in @stoq/native (PQClean); loaded on first use. */
function falconVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (falconVerifyFn === undefined) {
    let addon: { falconVerify?: unknown };
    try {
      addon = require('@stoq/native') as { falconVerify?: unknown };
    } catch (e) {
      fail('INVALID_ARGUMENT', 'ledgerPublicKey', `FALCON-1024 verification needs @stoq/native (build it: npm run build -w @stoq/native): ${e instanceof Error ? e.message : String(e)}`);
    }
    if (typeof addon.falconVerify !== 'function') fail('INVALID_ARGUMENT', 'ledgerPublicKey', '@stoq/native lacks falconVerify');
    falconVerifyFn = addon.falconVerify as FalconVerify;
  }
  return falconVerifyFn(publicKey, message, signature);
}

function isFalconKey(key: LedgerPublicKey): key is FalconLedgerKey {
  return typeof key === 'object' && !(key instanceof KeyObject) && !(key instanceof Uint8Array) && (key as FalconLedgerKey).algorithm === 'falcon-1024';
}

/** Order of the P-256 group, for the low-S rule. */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P256_HALF_ORDER = P256_ORDER >> 1n;

export function stakeAttestationSigningBytes(attestation: StakeAttestation): Uint8Array {
  return concatBytes(DOMAIN.stakeAttestation, encodeStakeAttestation(attestation));
}

function algorithmOf(key: KeyObject, field: string, code: 'INVALID_ARGUMENT' | 'POSTAKE_INVALID'): SignatureAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256-sha256';
  fail(code, field, `ledger key must be Ed25519 or ECDSA P-256, got ${key.asymmetricKeyType ?? 'unknown'}`);
}

function checkAttestation(a: StakeAttestation, field: string, code: 'INVALID_ARGUMENT' | 'POSTAKE_INVALID'): void {
  if (a === undefined || a === null) fail('PROOF_MISSING', field, 'stake attestation is absent');
  checkUtf8(a.account, `${field}.account`, 1, LIMITS.maxAccountBytes, code);
  if (typeof a.amount !== 'bigint' || a.amount < 0n || a.amount >= 1n << 64n) fail(code, `${field}.amount`, 'must be a uint64 bigint');
  checkBytes(a.nodeId, `${field}.nodeId`, 1, LIMITS.maxNodeIdBytes, code);
  for (const k of ['issuedAtMs', 'expiresAtMs'] as const) {
    if (!Number.isSafeInteger(a[k]) || a[k] < 0) fail(code, `${field}.${k}`, 'must be a non-negative safe integer (ms)');
  }
  if (a.expiresAtMs <= a.issuedAtMs) fail(code, `${field}.expiresAtMs`, 'must be after issuedAtMs');
}

/**
 * What a FALCON-keyed ledger runs: `sign` is its FALCON-1024 signer over
 * stakeAttestationSigningBytes(attestation) (Caesar keeps its secret key to itself).
 */
export function signStakeAttestationWith(attestation: StakeAttestation, sign: (message: Uint8Array) => Uint8Array): PoStakeProof {
  checkAttestation(attestation, 'attestation', 'INVALID_ARGUMENT');
  const signature = sign(stakeAttestationSigningBytes(attestation));
  if (!(signature instanceof Uint8Array) || signature.length < 1 || signature.length > MAX_FALCON_SIGNATURE_BYTES) {
    fail('INVALID_ARGUMENT', 'signature', `the signer returned ${signature instanceof Uint8Array ? `${signature.length} bytes` : 'no bytes'}, not a FALCON-1024 signature`);
  }
  return { attestation: { ...attestation, nodeId: new Uint8Array(attestation.nodeId) }, algorithm: 'falcon-1024', signature: new Uint8Array(signature) };
}

/** What the ledger runs: signs an attestation with its private key (Ed25519 or ECDSA P-256). */
export function signStakeAttestation(attestation: StakeAttestation, ledgerPrivateKey: KeyObject): PoStakeProof {
  if (!(ledgerPrivateKey instanceof KeyObject) || ledgerPrivateKey.type !== 'private') {
    fail('INVALID_ARGUMENT', 'ledgerPrivateKey', 'must be a private KeyObject');
  }
  checkAttestation(attestation, 'attestation', 'INVALID_ARGUMENT');
  const algorithm = algorithmOf(ledgerPrivateKey, 'ledgerPrivateKey', 'INVALID_ARGUMENT');
  const message = stakeAttestationSigningBytes(attestation);
  let signature: Uint8Array;
  if (algorithm === 'ed25519') {
    signature = new Uint8Array(nodeSign(null, message, ledgerPrivateKey));
  } else {
    signature = new Uint8Array(nodeSign('sha256', message, { key: ledgerPrivateKey, dsaEncoding: 'ieee-p1363' }));
    const s = bytesToBigInt(signature.subarray(32));
    if (s > P256_HALF_ORDER) signature.set(bigIntToBytes(P256_ORDER - s, 32), 32); // normalise to low-S
  }
  return {
    attestation: { ...attestation, nodeId: new Uint8Array(attestation.nodeId) },
    algorithm,
    signature,
  };
}

export function toLedgerKeyObject(key: Exclude<LedgerPublicKey, FalconLedgerKey>): KeyObject {
  if (key instanceof KeyObject) {
    return key.type === 'private' ? createPublicKey(key) : key;
  }
  try {
    return typeof key === 'string' ? createPublicKey(key) : createPublicKey({ key: Buffer.from(key), format: 'der', type: 'spki' });
  } catch (e) {
    fail('INVALID_ARGUMENT', 'ledgerPublicKey', `cannot parse public key: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export interface VerifyPoStakeOptions {
  readonly ledgerPublicKey: LedgerPublicKey;
  readonly now: number;
  readonly params: FourProofParams;
}

/** Throws FourProofError (OPERATION_MISMATCH, POSTAKE_INVALID, POSTAKE_EXPIRED, POSTAKE_INSUFFICIENT) unless valid. */
export function verifyPoStake(proof: PoStakeProof, context: OperationContext, options: VerifyPoStakeOptions, field = 'stake'): void {
  if (proof === undefined || proof === null) fail('PROOF_MISSING', field, 'PoStake proof is absent');
  const a = proof.attestation;
  const ledgerKey = options.ledgerPublicKey;
  if (isFalconKey(ledgerKey)) {
    checkBytes(ledgerKey.publicKey, 'ledgerPublicKey.publicKey', FALCON_PUBLIC_KEY_BYTES, FALCON_PUBLIC_KEY_BYTES, 'INVALID_ARGUMENT');
    checkAttestation(a, `${field}.attestation`, 'POSTAKE_INVALID');
    if (proof.algorithm !== 'falcon-1024') fail('POSTAKE_INVALID', `${field}.algorithm`, `signed with ${String(proof.algorithm)}, the ledger key is falcon-1024`);
    checkBytes(proof.signature, `${field}.signature`, 1, MAX_FALCON_SIGNATURE_BYTES, 'POSTAKE_INVALID');
    if (!falconVerify(ledgerKey.publicKey, stakeAttestationSigningBytes(a), proof.signature)) {
      fail('POSTAKE_INVALID', `${field}.signature`, 'does not verify against the ledger public key (is it from this Caesar?)');
    }
  } else {
    const key = toLedgerKeyObject(ledgerKey);
    const expected = algorithmOf(key, 'ledgerPublicKey', 'INVALID_ARGUMENT');
    checkAttestation(a, `${field}.attestation`, 'POSTAKE_INVALID');
    if (proof.algorithm !== expected) fail('POSTAKE_INVALID', `${field}.algorithm`, `signed with ${String(proof.algorithm)}, the ledger key is ${expected}`);
    checkBytes(proof.signature, `${field}.signature`, 64, 64, 'POSTAKE_INVALID');
    if (expected === 'ecdsa-p256-sha256' && bytesToBigInt(proof.signature.subarray(32)) > P256_HALF_ORDER) {
      fail('POSTAKE_INVALID', `${field}.signature`, 'ECDSA signature is not low-S');
    }
    const message = stakeAttestationSigningBytes(a);
    const ok =
      expected === 'ed25519'
        ? nodeVerify(null, message, key, proof.signature)
        : nodeVerify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, proof.signature);
    if (!ok) fail('POSTAKE_INVALID', `${field}.signature`, 'does not verify against the ledger public key');
  }
  if (!bytesEqual(a.nodeId, context.nodeId)) fail('OPERATION_MISMATCH', `${field}.attestation.nodeId`, 'stake is attested for another node');
  if (a.expiresAtMs <= options.now) fail('POSTAKE_EXPIRED', `${field}.attestation.expiresAtMs`, `expired ${options.now - a.expiresAtMs} ms ago`);
  if (a.issuedAtMs > options.now + options.params.timeToleranceMs) {
    fail('POSTAKE_INVALID', `${field}.attestation.issuedAtMs`, `issued ${a.issuedAtMs - options.now} ms in the future`);
  }
  if (a.amount < options.params.minStake) {
    fail('POSTAKE_INSUFFICIENT', `${field}.attestation.amount`, `${a.amount} locked, at least ${options.params.minStake} required`);
  }
}
