// RFC 6962 §3.2 Signed Certificate Timestamps: issue and verify.
import type { KeyObject } from 'node:crypto';
import { type LogSigningKey, toPublicKey, logIdFromPublicKey, verifyDigitallySigned } from './keys';
import { equalBytes } from './merkle';
import { type SignedCertificateTimestamp, type SignedEntry, sctSignatureInput, V1 } from './structs';

/** Signs an SCT for `entry` at `timestamp` (ms). */
export function issueSct(key: LogSigningKey, timestamp: number, entry: SignedEntry, extensions: Uint8Array = new Uint8Array()): SignedCertificateTimestamp {
  const signature = key.sign(sctSignatureInput(timestamp, entry, extensions));
  return { version: V1, logId: key.logId, timestamp, extensions, signature };
}

/** As issueSct, signing on the thread pool. */
export async function issueSctAsync(key: LogSigningKey, timestamp: number, entry: SignedEntry, extensions: Uint8Array = new Uint8Array()): Promise<SignedCertificateTimestamp> {
  const signature = await key.signAsync(sctSignatureInput(timestamp, entry, extensions));
  return { version: V1, logId: key.logId, timestamp, extensions, signature };
}

/** Why an SCT does not verify for `entry` under the log's public key, or null when it does. */
export function explainSct(sct: SignedCertificateTimestamp, entry: SignedEntry, logPublicKey: KeyObject | Uint8Array | string): string | null {
  const pub = toPublicKey(logPublicKey);
  if (sct.version !== V1) return `unsupported SCT version ${sct.version}`;
  if (!equalBytes(sct.logId, logIdFromPublicKey(pub))) return 'SCT log id does not match the log public key';
  if (!verifyDigitallySigned(sct.signature, sctSignatureInput(sct.timestamp, entry, sct.extensions), pub)) {
    return 'SCT signature does not verify';
  }
  return null;
}

/** True when the SCT is a valid signature by this log over `entry`. */
export function verifySct(sct: SignedCertificateTimestamp, entry: SignedEntry, logPublicKey: KeyObject | Uint8Array | string): boolean {
  return explainSct(sct, entry, logPublicKey) === null;
}
