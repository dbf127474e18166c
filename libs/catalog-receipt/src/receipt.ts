// Execution receipts: what a Catalog instance signs with its FALCON-1024 key about one run, so
// anyone holding the receipt and the instance's public key can check what was run, on what
// input, with what output, for how much fuel and fee, settled by which Caesar transfer.
//
// Layout (185 bytes, big-endian integers):
//   magic "CATRCPT1" (8) | program hash (32) | input hash (32) | output hash (32) |
//   fuel used u64 (8) | fee u128 (16) | Caesar transfer id u128 (16) | outcome u8 (1) |
//   issued at ns u64 (8) | key id = SHA-256(public key) (32)
import { createHash } from 'node:crypto';
import { u128Bytes, u128FromBytes } from './u128-bytes';

export const RECEIPT_MAGIC = Buffer.from('CATRCPT1', 'latin1');
export const RECEIPT_BYTES = 185;

export interface ReceiptFields {
  readonly programHash: Uint8Array;
  readonly inputHash: Uint8Array;
  readonly outputHash: Uint8Array;
  readonly fuelUsed: bigint;
  readonly fee: bigint;
  readonly transferId: bigint;
  readonly outcome: number;
  readonly issuedAtNs: bigint;
  readonly keyId: Uint8Array;
}

export interface ReceiptSigner {
  readonly publicKey: Uint8Array;
  /** May sign off the JS thread (FALCON-1024 signing costs ~0.4 ms of CPU). */
  sign(message: Uint8Array): Promise<Uint8Array> | Uint8Array;
}

export interface SignedReceipt {
  readonly fields: ReceiptFields;
  readonly encoded: Buffer;
  readonly signature: Uint8Array;
  readonly publicKey: Uint8Array;
}

export type ReceiptVerdict =
  | { readonly valid: true; readonly fields: ReceiptFields }
  | { readonly valid: false; readonly reason: string };

export function keyIdOf(publicKey: Uint8Array): Buffer {
  return createHash('sha256').update(publicKey).digest();
}

function fixed(name: string, v: Uint8Array, len: number): Uint8Array {
  if (v.length !== len) throw new RangeError(`receipt ${name} must be ${len} bytes, got ${v.length}`);
  return v;
}

export function encodeReceipt(f: ReceiptFields): Buffer {
  const tail = Buffer.alloc(8 + 16 + 16 + 1 + 8);
  tail.writeBigUInt64BE(f.fuelUsed, 0);
  u128Bytes(f.fee).copy(tail, 8);
  u128Bytes(f.transferId).copy(tail, 24);
  tail.writeUInt8(f.outcome, 40);
  tail.writeBigUInt64BE(f.issuedAtNs, 41);
  return Buffer.concat([
    RECEIPT_MAGIC,
    fixed('program hash', f.programHash, 32),
    fixed('input hash', f.inputHash, 32),
    fixed('output hash', f.outputHash, 32),
    tail,
    fixed('key id', f.keyId, 32),
  ]);
}

export function decodeReceipt(b: Uint8Array): ReceiptFields | null {
  if (b.length !== RECEIPT_BYTES) return null;
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (!buf.subarray(0, 8).equals(RECEIPT_MAGIC)) return null;
  return {
    programHash: buf.subarray(8, 40),
    inputHash: buf.subarray(40, 72),
    outputHash: buf.subarray(72, 104),
    fuelUsed: buf.readBigUInt64BE(104),
    fee: u128FromBytes(buf.subarray(112, 128)),
    transferId: u128FromBytes(buf.subarray(128, 144)),
    outcome: buf.readUInt8(144),
    issuedAtNs: buf.readBigUInt64BE(145),
    keyId: buf.subarray(153, 185),
  };
}

export async function signReceipt(fields: Omit<ReceiptFields, 'keyId'>, signer: ReceiptSigner): Promise<SignedReceipt> {
  const full: ReceiptFields = { ...fields, keyId: keyIdOf(signer.publicKey) };
  const encoded = encodeReceipt(full);
  return { fields: full, encoded, signature: await signer.sign(encoded), publicKey: signer.publicKey };
}

/** FALCON-1024 verification: (public key, message, signature) → valid. */
export type FalconVerify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

/**
 * Checks a receipt from its bytes alone: layout, that the key id names the given key, and the
 * signature. Whether the key is a Catalog instance's you trust is the caller's question
 * (`expectedKeyId`, or the certificate the key came in).
 */
export function verifyReceipt(encoded: Uint8Array, signature: Uint8Array, publicKey: Uint8Array, verify: FalconVerify, expectedKeyId?: Uint8Array): ReceiptVerdict {
  const fields = decodeReceipt(encoded);
  if (fields === null) return { valid: false, reason: `not a receipt (${RECEIPT_BYTES} bytes starting "CATRCPT1" expected, got ${encoded.length} bytes)` };
  const keyId = keyIdOf(publicKey);
  if (!keyId.equals(fields.keyId)) return { valid: false, reason: 'the public key is not the one the receipt names (key id differs)' };
  if (expectedKeyId !== undefined && !keyId.equals(expectedKeyId)) return { valid: false, reason: 'the receipt was signed by another key than the expected one' };
  let ok = false;
  try {
    ok = verify(publicKey, encoded, signature);
  } catch {
    ok = false;
  }
  return ok ? { valid: true, fields } : { valid: false, reason: 'the FALCON-1024 signature does not verify' };
}
