// Verifying an execute answer as a third party: the receipt's signature, and that the receipt's
// output hash is the hash of the output shown next to it (so the output cannot be swapped).
import { catalog as proto } from '@stoq/protos';
import { fromU64 } from './u64';
import { verifyReceipt, type FalconVerify, type ReceiptVerdict } from './receipt';
import { outputHash } from './run-digests';

export function checkExecuteResponse(res: proto.ExecuteResponse, verify: FalconVerify, expectedKeyId?: Uint8Array): ReceiptVerdict {
  const r = res.receipt;
  if (!r || !r.encoded || !r.signature || !r.publicKey) return { valid: false, reason: 'the answer carries no receipt' };
  const verdict = verifyReceipt(r.encoded, r.signature, r.publicKey, verify, expectedKeyId);
  if (!verdict.valid) return verdict;
  const out = outputHash({
    outcome: res.outcome ?? 0,
    results: (res.results ?? []).map((v) => BigInt(v)),
    exitCode: res.exited ? (res.exitCode ?? 0) : null,
    stdout: res.stdout ?? new Uint8Array(),
    stderr: res.stderr ?? new Uint8Array(),
    stdoutTruncated: res.stdoutTruncated ?? false,
    stderrTruncated: res.stderrTruncated ?? false,
  });
  if (!out.equals(Buffer.from(verdict.fields.outputHash))) return { valid: false, reason: 'the output shown is not the output the receipt signs (output hash differs)' };
  if (fromU64(res.fuelUsed) !== verdict.fields.fuelUsed || (res.fee ?? '0') !== String(verdict.fields.fee)) return { valid: false, reason: 'the fuel or fee shown differs from the receipt' };
  return verdict;
}
