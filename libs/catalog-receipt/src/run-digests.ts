// The input and output hashes a receipt commits to: SHA-256 over a canonical, length-prefixed
// encoding, so two parties holding the same request and response compute the same digests
// (docs/catalog-api.md, "Receipts", spells the layout out).
import { createHash, type Hash } from 'node:crypto';

export interface RunInput {
  readonly exportName: string;
  readonly args: readonly bigint[];
  readonly argv: readonly string[];
  readonly stdin: Uint8Array;
  readonly seed: Uint8Array;
  readonly clockStartNs: bigint;
  readonly fuelLimit: bigint;
  readonly memoryLimitBytes: bigint;
  /** JavaScript programs: SHA-256 of the QuickJS runtime that ran the source (absent for wasm). */
  readonly runtimeHash?: Uint8Array;
}

export interface RunOutput {
  readonly outcome: number;
  readonly results: readonly bigint[];
  readonly exitCode: number | null;
  readonly stdout: Uint8Array;
  readonly stderr: Uint8Array;
  readonly stdoutTruncated: boolean;
  readonly stderrTruncated: boolean;
}

function u64(h: Hash, v: bigint): void {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, v));
  h.update(b);
}

function bytes(h: Hash, v: Uint8Array): void {
  u64(h, BigInt(v.length));
  h.update(v);
}

function i64s(h: Hash, vs: readonly bigint[]): void {
  u64(h, BigInt(vs.length));
  for (const v of vs) u64(h, v);
}

export function inputHash(i: RunInput): Buffer {
  const h = createHash('sha256').update('catalog input v1\0');
  bytes(h, Buffer.from(i.exportName, 'utf8'));
  i64s(h, i.args);
  u64(h, BigInt(i.argv.length));
  for (const a of i.argv) bytes(h, Buffer.from(a, 'utf8'));
  bytes(h, i.stdin);
  bytes(h, i.seed);
  u64(h, i.clockStartNs);
  u64(h, i.fuelLimit);
  u64(h, i.memoryLimitBytes);
  if (i.runtimeHash !== undefined) bytes(h, i.runtimeHash);
  return h.digest();
}

export function outputHash(o: RunOutput): Buffer {
  const h = createHash('sha256').update('catalog output v1\0');
  h.update(Buffer.from([o.outcome]));
  i64s(h, o.results);
  h.update(Buffer.from([o.exitCode === null ? 0 : 1]));
  u64(h, BigInt(o.exitCode ?? 0));
  bytes(h, o.stdout);
  bytes(h, o.stderr);
  h.update(Buffer.from([(o.stdoutTruncated ? 1 : 0) | (o.stderrTruncated ? 2 : 0)]));
  return h.digest();
}
