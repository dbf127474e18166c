import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  createPlot,
  encodeFourProofSet,
  generateFourProofSet,
  signStakeAttestation,
  type FourProofSet,
  type OperationContext,
  type Plot,
  type PoStakeProof,
} from '../src';

export const NOW = 1_763_700_000_000;
export const NODE_ID = new Uint8Array(32).map((_, i) => i + 1);
export const OTHER_NODE_ID = new Uint8Array(32).map((_, i) => 200 - i);
export const CONTEXT: OperationContext = { operation: 'trustchain/issue_certificate', assetId: 'cert:caesar-1', nodeId: NODE_ID };
export const IPV6 = '2001:db8::42';

export const ecdsaLedger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
export const ed25519Ledger = generateKeyPairSync('ed25519');

const plots = new Map<string, Plot>();
export function plotFor(nodeId: Uint8Array): Plot {
  const key = Buffer.from(nodeId).toString('hex');
  let plot = plots.get(key);
  if (!plot) {
    plot = createPlot(nodeId);
    plots.set(key, plot);
  }
  return plot;
}

export function stakeFor(nodeId: Uint8Array, key: KeyObject = ecdsaLedger.privateKey, overrides: Partial<{ amount: bigint; expiresAtMs: number; issuedAtMs: number }> = {}): PoStakeProof {
  return signStakeAttestation(
    { account: 'caesar:acct-7', amount: overrides.amount ?? 5_000n, nodeId, issuedAtMs: overrides.issuedAtMs ?? NOW - 60_000, expiresAtMs: overrides.expiresAtMs ?? NOW + 3_600_000 },
    key,
  );
}

export function makeSet(overrides: { context?: OperationContext; sequence?: bigint; now?: number; stake?: PoStakeProof } = {}): FourProofSet {
  const context = overrides.context ?? CONTEXT;
  return generateFourProofSet({
    context,
    plot: plotFor(context.nodeId),
    ipv6Address: IPV6,
    stake: overrides.stake ?? stakeFor(context.nodeId),
    now: overrides.now ?? NOW,
    sequence: overrides.sequence ?? 7n,
  });
}

let cached: { set: FourProofSet; bytes: Uint8Array } | undefined;
/** One valid set (and its encoding) shared by tests that only read it. */
export function validSet(): { set: FourProofSet; bytes: Uint8Array } {
  if (!cached) {
    const set = makeSet();
    cached = { set, bytes: encodeFourProofSet(set) };
  }
  return cached;
}

export const verifyOptions = { ledgerPublicKey: ecdsaLedger.publicKey, now: NOW };

// ---- raw protobuf helpers, to build non-canonical inputs by hand

export function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
}

export interface RawField {
  readonly field: number;
  readonly wireType: number;
  readonly bytes: Uint8Array; // the whole field, tag included
}

/** Splits a message into its top-level fields (wire types 0 and 2 only, as used by this schema). */
export function splitFields(msg: Uint8Array): RawField[] {
  const out: RawField[] = [];
  let i = 0;
  const readVarint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = msg[i++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  while (i < msg.length) {
    const start = i;
    const tag = readVarint();
    const wireType = tag & 7;
    if (wireType === 0) readVarint();
    else if (wireType === 2) {
      const length = readVarint(); // (not `i += readVarint()`: that reads i before the call advances it)
      i += length;
    }
    else throw new Error(`unexpected wire type ${wireType}`);
    out.push({ field: tag >>> 3, wireType, bytes: msg.slice(start, i) });
  }
  return out;
}

export function join(parts: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts.map((p) => Buffer.from(p))));
}
