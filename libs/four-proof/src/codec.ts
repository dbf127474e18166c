import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as protobuf from 'protobufjs';
import { bytesEqual } from './bytes';
import { FourProofError, fail, type FourProofErrorCode } from './errors';
import { DEFAULT_PARAMS, LIMITS } from './params';
import type {
  FourProofSet,
  OperationContext,
  PoSpaceProof,
  PoStakeProof,
  PoTimeProof,
  PoWorkProof,
  SignatureAlgorithm,
  SpaceOpening,
  StakeAttestation,
} from './types';

/**
 * Canonical protobuf codec for proto/four_proof.proto (package stoq.fourproof.v1), via protobufjs.
 * Encoding writes fields in field-number order and omits proto3 defaults; decoding enforces a size
 * limit, maps to the TypeScript types, and then re-encodes and compares bytes, so exactly one
 * encoding of each value is accepted (no unknown fields, duplicates, reordering, default values
 * on the wire, over-long varints or trailing bytes).
 */

export const PROTO_PACKAGE = 'stoq.fourproof.v1';

// The .proto is the single source of truth; the build copies it next to the compiled JS.
const root = protobuf.parse(readFileSync(join(__dirname, 'proto', 'four_proof.proto'), 'utf8')).root;
const FourProofSetType = root.lookupType(`${PROTO_PACKAGE}.FourProofSet`);
const StakeAttestationType = root.lookupType(`${PROTO_PACKAGE}.StakeAttestation`);
const PoStakeProofType = root.lookupType(`${PROTO_PACKAGE}.PoStakeProof`);

const ALGORITHM_TO_WIRE: Record<SignatureAlgorithm, number> = { 'ecdsa-p256-sha256': 1, ed25519: 2, 'falcon-1024': 3 };
const WIRE_TO_ALGORITHM: Record<number, SignatureAlgorithm> = { 1: 'ecdsa-p256-sha256', 2: 'ed25519', 3: 'falcon-1024' };
const U64_MAX = (1n << 64n) - 1n;

type Wire = Record<string, unknown>;
type Long = protobuf.Long;

// ---------------------------------------------------------------- TS -> wire (omitting defaults)

class WireWriter {
  readonly out: Wire = {};
  constructor(
    private readonly field: string,
    private readonly code: FourProofErrorCode,
  ) {}
  private name(key: string): string {
    return `${this.field}.${key}`;
  }
  bytes(key: string, value: unknown): this {
    if (!(value instanceof Uint8Array)) fail(this.code, this.name(key), 'must be a Uint8Array');
    if (value.length > 0) this.out[key] = value;
    return this;
  }
  string(key: string, value: unknown): this {
    if (typeof value !== 'string') fail(this.code, this.name(key), 'must be a string');
    if (value.length > 0) this.out[key] = value;
    return this;
  }
  uint32(key: string, value: unknown): this {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      fail(this.code, this.name(key), 'must be a uint32');
    }
    if (value !== 0) this.out[key] = value;
    return this;
  }
  uint64(key: string, value: unknown): this {
    let v: bigint;
    if (typeof value === 'bigint') v = value;
    else if (typeof value === 'number' && Number.isSafeInteger(value)) v = BigInt(value);
    else fail(this.code, this.name(key), 'must be a uint64 (bigint or safe integer)');
    if (v < 0n || v > U64_MAX) fail(this.code, this.name(key), 'out of uint64 range');
    if (v !== 0n) this.out[key] = new protobuf.util.LongBits(Number(v & 0xffffffffn), Number(v >> 32n)).toLong(true);
    return this;
  }
  message(key: string, value: Wire): this {
    this.out[key] = value;
    return this;
  }
  repeated(key: string, values: unknown, map: (v: unknown, i: number) => unknown): this {
    if (!Array.isArray(values)) fail(this.code, this.name(key), 'must be an array');
    if (values.length > 0) this.out[key] = values.map(map);
    return this;
  }
}

function present<T>(value: T | undefined | null, field: string, what: string): T {
  if (value === undefined || value === null) fail('PROOF_MISSING', field, `${what} is absent`);
  return value;
}

function contextToWire(c: OperationContext, f: string, code: FourProofErrorCode): Wire {
  return new WireWriter(f, code).string('operation', c.operation).string('assetId', c.assetId).bytes('nodeId', c.nodeId).out;
}

function openingToWire(o: SpaceOpening, f: string, code: FourProofErrorCode): Wire {
  const w = new WireWriter(f, code).uint32('index', o.index).bytes('block', o.block);
  return w.repeated('path', o.path, (p, i) => {
    if (!(p instanceof Uint8Array)) fail(code, `${f}.path[${i}]`, 'must be a Uint8Array');
    return p;
  }).out;
}

function spaceToWire(p: PoSpaceProof, f: string, code: FourProofErrorCode): Wire {
  return new WireWriter(f, code)
    .bytes('operationHash', p.operationHash)
    .bytes('nodeId', p.nodeId)
    .bytes('ipv6Address', p.ipv6Address)
    .uint32('plotBlocks', p.plotBlocks)
    .uint32('blockSize', p.blockSize)
    .bytes('merkleRoot', p.merkleRoot)
    .repeated('openings', p.openings, (o, i) => openingToWire(present(o as SpaceOpening, `${f}.openings[${i}]`, 'opening'), `${f}.openings[${i}]`, code)).out;
}

function attestationToWire(a: StakeAttestation, f: string, code: FourProofErrorCode): Wire {
  return new WireWriter(f, code)
    .string('account', a.account)
    .uint64('amount', a.amount)
    .bytes('nodeId', a.nodeId)
    .uint64('issuedAtMs', a.issuedAtMs)
    .uint64('expiresAtMs', a.expiresAtMs).out;
}

function stakeToWire(p: PoStakeProof, f: string, code: FourProofErrorCode): Wire {
  const algorithm = ALGORITHM_TO_WIRE[p.algorithm];
  if (algorithm === undefined) fail(code, `${f}.algorithm`, `unknown signature algorithm ${String(p.algorithm)}`);
  const w = new WireWriter(f, code);
  if (code !== 'DECODE') present(p.attestation, `${f}.attestation`, 'stake attestation');
  if (p.attestation) w.message('attestation', attestationToWire(p.attestation, `${f}.attestation`, code));
  return w.uint32('algorithm', algorithm).bytes('signature', p.signature).out;
}

function workToWire(p: PoWorkProof, f: string, code: FourProofErrorCode): Wire {
  return new WireWriter(f, code).bytes('operationHash', p.operationHash).uint32('difficulty', p.difficulty).uint64('nonce', p.nonce).out;
}

function timeToWire(p: PoTimeProof, f: string, code: FourProofErrorCode): Wire {
  const w = new WireWriter(f, code)
    .bytes('operationHash', p.operationHash)
    .uint64('timestampMs', p.timestampMs)
    .uint64('sequence', p.sequence)
    .uint64('iterations', p.iterations)
    .bytes('output', p.output)
    .bytes('proof', p.proof);
  if (p.anchor !== undefined) {
    // A present anchor is never the default value on the wire (height ≥ 1, 32-byte hash), so the
    // absent/present distinction survives a round trip.
    if (typeof p.anchor.height !== 'bigint' || p.anchor.height < 1n) fail(code, `${f}.anchor.height`, 'must be a bigint ≥ 1');
    if (!(p.anchor.hash instanceof Uint8Array) || p.anchor.hash.length !== 32) fail(code, `${f}.anchor.hash`, 'must be 32 bytes');
    w.uint64('anchorHeight', p.anchor.height).bytes('anchorHash', p.anchor.hash);
  }
  return w.out;
}

/** Absent parts (possible only while decoding) are skipped; callers check presence separately. */
type PartialSet = { [K in keyof FourProofSet]?: FourProofSet[K] | undefined };

function setToWire(s: PartialSet, code: FourProofErrorCode): Wire {
  if (s === null || typeof s !== 'object') fail(code, 'set', 'must be an object');
  const w = new WireWriter('set', code).uint32('version', s.version);
  if (s.context) w.message('context', contextToWire(s.context, 'context', code));
  if (s.space) w.message('space', spaceToWire(s.space, 'space', code));
  if (s.stake) w.message('stake', stakeToWire(s.stake, 'stake', code));
  if (s.work) w.message('work', workToWire(s.work, 'work', code));
  if (s.time) w.message('time', timeToWire(s.time, 'time', code));
  return w.out;
}

const SET_PARTS = [
  ['context', 'operation context'],
  ['space', 'PoSpace proof'],
  ['stake', 'PoStake proof'],
  ['work', 'PoWork proof'],
  ['time', 'PoTime proof'],
] as const;

function requireComplete(s: PartialSet): FourProofSet {
  for (const [key, what] of SET_PARTS) present(s[key], key, what);
  return s as FourProofSet;
}

function encodeWire(type: protobuf.Type, wire: Wire): Uint8Array {
  const buf = type.encode(wire).finish();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).slice();
}

// ---------------------------------------------------------------- wire -> TS

function wireBytes(v: unknown): Uint8Array {
  return v instanceof Uint8Array ? new Uint8Array(v) : new Uint8Array(0); // copy: never alias the input buffer
}

function wireU64(v: unknown): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'number') return BigInt(v);
  const l = v as Long;
  return (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
}

function wireSafe(v: unknown, field: string): number {
  const b = wireU64(v);
  if (b > BigInt(Number.MAX_SAFE_INTEGER)) fail('DECODE', field, `value ${b} exceeds 2^53 - 1`);
  return Number(b);
}

function wireU32(v: unknown): number {
  return typeof v === 'number' ? v >>> 0 : 0;
}

function wireString(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function wireArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function wireMessage(v: unknown): Wire | undefined {
  return v === undefined || v === null ? undefined : (v as Wire);
}

function stakeFromWire(st: Wire, f: string): PoStakeProof {
  const att = wireMessage(st.attestation);
  const algorithm = WIRE_TO_ALGORITHM[wireU32(st.algorithm)];
  if (algorithm === undefined) fail('DECODE', `${f}.algorithm`, `unknown signature algorithm ${String(st.algorithm)}`);
  return {
    // An absent attestation is reported as PROOF_MISSING after the canonical check.
    attestation: (att && {
      account: wireString(att.account),
      amount: wireU64(att.amount),
      nodeId: wireBytes(att.nodeId),
      issuedAtMs: wireSafe(att.issuedAtMs, `${f}.attestation.issuedAtMs`),
      expiresAtMs: wireSafe(att.expiresAtMs, `${f}.attestation.expiresAtMs`),
    }) as StakeAttestation,
    algorithm,
    signature: wireBytes(st.signature),
  };
}

function setFromWire(m: Wire): PartialSet {
  const c = wireMessage(m.context);
  const sp = wireMessage(m.space);
  const st = wireMessage(m.stake);
  const wk = wireMessage(m.work);
  const tm = wireMessage(m.time);
  return {
    version: wireU32(m.version),
    context: c && { operation: wireString(c.operation), assetId: wireString(c.assetId), nodeId: wireBytes(c.nodeId) },
    space: sp && {
      operationHash: wireBytes(sp.operationHash),
      nodeId: wireBytes(sp.nodeId),
      ipv6Address: wireBytes(sp.ipv6Address),
      plotBlocks: wireU32(sp.plotBlocks),
      blockSize: wireU32(sp.blockSize),
      merkleRoot: wireBytes(sp.merkleRoot),
      openings: wireArray(sp.openings).map((o) => {
        const ow = o as Wire;
        return { index: wireU32(ow.index), block: wireBytes(ow.block), path: wireArray(ow.path).map(wireBytes) };
      }),
    },
    stake: st && stakeFromWire(st, 'stake'),
    work: wk && { operationHash: wireBytes(wk.operationHash), difficulty: wireU32(wk.difficulty), nonce: wireU64(wk.nonce) },
    time: tm && {
      operationHash: wireBytes(tm.operationHash),
      timestampMs: wireSafe(tm.timestampMs, 'time.timestampMs'),
      sequence: wireU64(tm.sequence),
      iterations: wireSafe(tm.iterations, 'time.iterations'),
      output: wireBytes(tm.output),
      proof: wireBytes(tm.proof),
      ...anchorFromWire(tm),
    },
  };
}

function anchorFromWire(tm: Wire): { anchor?: PoTimeProof['anchor'] } {
  const height = wireU64(tm.anchorHeight);
  const hash = wireBytes(tm.anchorHash);
  if (height === 0n && hash.length === 0) return {};
  if (height === 0n || hash.length !== 32) fail('DECODE', 'time.anchor', 'anchor_height (≥ 1) and a 32-byte anchor_hash come together');
  return { anchor: { height, hash } };
}

// ---------------------------------------------------------------- public API

/** Canonical encoding of a set. Throws FourProofError (PROOF_MISSING / INVALID_ARGUMENT) on malformed input. */
export function encodeFourProofSet(set: FourProofSet): Uint8Array {
  if (set === null || typeof set !== 'object') fail('INVALID_ARGUMENT', 'set', 'must be an object');
  return encodeWire(FourProofSetType, setToWire(requireComplete(set), 'INVALID_ARGUMENT'));
}

export interface DecodeOptions {
  /** Largest accepted input in bytes; defaults to DEFAULT_PARAMS.maxEncodedBytes (512 KiB). */
  readonly maxBytes?: number;
}

/**
 * Decodes a canonical encoding. Throws FourProofError: DECODE (oversized, malformed or
 * non-canonical bytes) or PROOF_MISSING (a proof or the context is absent). Never anything else.
 */
export function decodeFourProofSet(bytes: Uint8Array, options: DecodeOptions = {}): FourProofSet {
  const maxBytes = Math.min(options.maxBytes ?? DEFAULT_PARAMS.maxEncodedBytes, LIMITS.maxEncodedBytes);
  if (!(bytes instanceof Uint8Array)) fail('DECODE', 'FourProofSet', 'input must be a Uint8Array');
  if (bytes.length > maxBytes) fail('DECODE', 'FourProofSet', `${bytes.length} bytes exceeds the ${maxBytes}-byte limit`);
  let set: PartialSet;
  try {
    // Read the decoded message directly: absent fields resolve to the prototype's proto3 defaults.
    set = setFromWire(FourProofSetType.decode(bytes) as unknown as Wire);
  } catch (e) {
    if (e instanceof FourProofError) throw e;
    fail('DECODE', 'FourProofSet', `malformed protobuf: ${e instanceof Error ? e.message : String(e)}`);
  }
  let canonical: Uint8Array;
  try {
    canonical = encodeWire(FourProofSetType, setToWire(set, 'DECODE'));
  } catch (e) {
    if (e instanceof FourProofError) throw e;
    fail('DECODE', 'FourProofSet', `cannot re-encode: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!bytesEqual(canonical, bytes)) {
    fail('DECODE', 'FourProofSet', 'not the canonical encoding (unknown or duplicate field, field order, default value on the wire, non-minimal varint, invalid UTF-8 or trailing bytes)');
  }
  const complete = requireComplete(set);
  present(complete.stake.attestation, 'stake.attestation', 'stake attestation');
  return complete;
}

/** Canonical encoding of a stake attestation (the signed payload, after the domain tag). */
export function encodeStakeAttestation(attestation: StakeAttestation): Uint8Array {
  return encodeWire(StakeAttestationType, attestationToWire(attestation, 'attestation', 'INVALID_ARGUMENT'));
}

/** Largest encoded PoStakeProof accepted (a FALCON signature plus the attestation). */
export const MAX_STAKE_PROOF_BYTES = 4096;

/** Canonical encoding of a PoStake proof (what `caesar/attest_stake` hands a node for its set). */
export function encodePoStakeProof(proof: PoStakeProof): Uint8Array {
  if (proof === null || typeof proof !== 'object') fail('INVALID_ARGUMENT', 'stake', 'must be an object');
  return encodeWire(PoStakeProofType, stakeToWire(proof, 'stake', 'INVALID_ARGUMENT'));
}

/** Decodes a canonical PoStake proof; throws FourProofError DECODE / PROOF_MISSING only. */
export function decodePoStakeProof(bytes: Uint8Array): PoStakeProof {
  if (!(bytes instanceof Uint8Array)) fail('DECODE', 'stake', 'input must be a Uint8Array');
  if (bytes.length > MAX_STAKE_PROOF_BYTES) fail('DECODE', 'stake', `${bytes.length} bytes exceeds the ${MAX_STAKE_PROOF_BYTES}-byte limit`);
  let proof: PoStakeProof;
  let canonical: Uint8Array;
  try {
    proof = stakeFromWire(PoStakeProofType.decode(bytes) as unknown as Wire, 'stake');
    canonical = encodeWire(PoStakeProofType, stakeToWire(proof, 'stake', 'DECODE'));
  } catch (e) {
    if (e instanceof FourProofError) throw e;
    fail('DECODE', 'stake', `malformed protobuf: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!bytesEqual(canonical, bytes)) fail('DECODE', 'stake', 'not the canonical encoding');
  present(proof.attestation, 'stake.attestation', 'stake attestation');
  return proof;
}
