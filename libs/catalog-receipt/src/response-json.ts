// An execute answer as JSON (what `catalog run --json` prints and `catalog verify-receipt`
// reads): bytes as base64, hashes and key ids as hex, 64-bit and 128-bit numbers as strings.
import { catalog as proto } from '@stoq/protos';
import { outcomeName, outcomeNumber } from './outcome';
import { fromU64, toU64 } from './u64';

export interface ReceiptJson {
  programHash: string;
  inputHash: string;
  outputHash: string;
  fuelUsed: string;
  fee: string;
  transferId: string;
  outcome: string;
  issuedAt: string;
  keyId: string;
  publicKey: string;
  signature: string;
  encoded: string;
}

export interface ExecuteJson {
  outcome: string;
  message: string;
  results: string[];
  exitCode: number | null;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  fuelUsed: string;
  fee: string;
  receipt: ReceiptJson | null;
}

const b64 = (b: Uint8Array | null | undefined): string => Buffer.from(b ?? new Uint8Array()).toString('base64');
const hex = (b: Uint8Array | null | undefined): string => Buffer.from(b ?? new Uint8Array()).toString('hex');

export function executeJson(r: proto.ExecuteResponse): ExecuteJson {
  const rc = r.receipt;
  return {
    outcome: outcomeName(r.outcome ?? 0),
    message: r.message ?? '',
    results: [...(r.results ?? [])],
    exitCode: r.exited ? (r.exitCode ?? 0) : null,
    stdout: b64(r.stdout),
    stderr: b64(r.stderr),
    stdoutTruncated: r.stdoutTruncated ?? false,
    stderrTruncated: r.stderrTruncated ?? false,
    fuelUsed: String(fromU64(r.fuelUsed)),
    fee: r.fee ?? '0',
    receipt: rc
      ? {
          programHash: rc.programHash ?? '',
          inputHash: rc.inputHash ?? '',
          outputHash: rc.outputHash ?? '',
          fuelUsed: String(fromU64(rc.fuelUsed)),
          fee: rc.fee ?? '0',
          transferId: rc.transferId ?? '',
          outcome: outcomeName(rc.outcome ?? 0),
          issuedAt: String(fromU64(rc.issuedAt)),
          keyId: hex(rc.keyId),
          publicKey: b64(rc.publicKey),
          signature: b64(rc.signature),
          encoded: b64(rc.encoded),
        }
      : null,
  };
}

/** The inverse of executeJson; throws on a field of the wrong shape. */
export function executeFromJson(j: ExecuteJson): proto.ExecuteResponse {
  const bytes = (s: unknown, f: string): Buffer => {
    if (typeof s !== 'string') throw new TypeError(`${f}: expected base64 text`);
    return Buffer.from(s, 'base64');
  };
  const rc = j.receipt;
  return {
    outcome: outcomeNumber(j.outcome),
    message: j.message,
    results: j.results,
    exited: j.exitCode !== null,
    exitCode: j.exitCode ?? 0,
    stdout: bytes(j.stdout, 'stdout'),
    stderr: bytes(j.stderr, 'stderr'),
    stdoutTruncated: j.stdoutTruncated,
    stderrTruncated: j.stderrTruncated,
    fuelUsed: toU64(BigInt(j.fuelUsed)),
    fee: j.fee,
    receipt: rc
      ? {
          programHash: rc.programHash,
          inputHash: rc.inputHash,
          outputHash: rc.outputHash,
          fuelUsed: toU64(BigInt(rc.fuelUsed)),
          fee: rc.fee,
          transferId: rc.transferId,
          outcome: outcomeNumber(rc.outcome),
          issuedAt: toU64(BigInt(rc.issuedAt)),
          keyId: Buffer.from(rc.keyId, 'hex'),
          publicKey: bytes(rc.publicKey, 'receipt.publicKey'),
          signature: bytes(rc.signature, 'receipt.signature'),
          encoded: bytes(rc.encoded, 'receipt.encoded'),
        }
      : null,
  };
}
