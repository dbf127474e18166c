// The password envelope of a secret that has no standard encrypted format (the FALCON-1024
// secret key of an offline root): scrypt derives an AES-256-GCM key from the password.
//
// Envelope version 1 (all integers unsigned bytes; "|" is concatenation):
//
//   offset  size  field
//   0       4     magic "SQKE"
//   4       1     version = 1
//   5       1     kdf = 1 (scrypt, RFC 7914)
//   6       1     log2(N)   scrypt cost; written as 17 (N = 131072), read in [10, 20]
//   7       1     r         scrypt block size; written as 8, read in [1, 32]
//   8       1     p         scrypt parallelism; written as 1, read in [1, 16]
//   9       16    salt      random
//   25      12    nonce     random (a fresh key per envelope too, as the salt is fresh)
//   37      n     ciphertext   AES-256-GCM of the secret
//   37+n    16    tag          GCM tag over ciphertext, AAD = bytes 0..36 | UTF-8(context)
//
// key = scrypt(password, salt, N, r, p, 32 bytes). The whole header is authenticated (so a
// lowered cost or a swapped salt fails like a wrong password), and so is `context`, what the
// secret is (e.g. "FALCON-1024 SECRET KEY"), so an envelope cannot be passed off as another
// kind. The read limits bound the work (scrypt memory ≤ 1 GiB) and the size an envelope may have.
//
// Sans-I/O: bytes in, bytes out (scrypt runs on libuv's thread pool; nothing touches files).
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, type ScryptOptions } from 'node:crypto';
import { KeyFileError } from './key-file-errors';

export const ENVELOPE_MAGIC = Uint8Array.from([0x53, 0x51, 0x4b, 0x45]); // "SQKE"
export const ENVELOPE_VERSION = 1;
export const KDF_SCRYPT = 1;
export const SALT_LENGTH = 16;
export const NONCE_LENGTH = 12;
export const TAG_LENGTH = 16;
export const HEADER_LENGTH = 4 + 1 + 1 + 3 + SALT_LENGTH + NONCE_LENGTH; // 37
/** Largest envelope read: a FALCON-1024 secret key (2,305 bytes) is far below this. */
export const MAX_ENVELOPE_LENGTH = 16 * 1024;
/** Largest scrypt memory (128·N·r bytes) an envelope may ask for when read. */
export const MAX_SCRYPT_MEMORY = 1024 * 1024 * 1024;

export interface ScryptCost {
  /** log2 of scrypt's N. */
  readonly log2N: number;
  readonly r: number;
  readonly p: number;
}

/** What new envelopes use: N = 2^17, r = 8, p = 1 (128 MiB of memory, a few hundred ms per open). */
export const DEFAULT_SCRYPT_COST: ScryptCost = { log2N: 17, r: 8, p: 1 };
const READ_BOUNDS = { log2N: [10, 20], r: [1, 32], p: [1, 16] } as const;

function checkCost(cost: ScryptCost, onError: (message: string) => never): void {
  for (const k of ['log2N', 'r', 'p'] as const) {
    const [lo, hi] = READ_BOUNDS[k];
    if (!Number.isInteger(cost[k]) || cost[k] < lo || cost[k] > hi) onError(`scrypt ${k} ${cost[k]} is outside [${lo}, ${hi}]`);
  }
  if (128 * 2 ** cost.log2N * cost.r > MAX_SCRYPT_MEMORY) onError(`scrypt N=2^${cost.log2N}, r=${cost.r} needs more than ${MAX_SCRYPT_MEMORY} bytes`);
}

/** scrypt with Node's memory cap raised to what the cost needs (its default, 32 MiB, is below N = 2^17). */
export function scryptKey(password: Uint8Array, salt: Uint8Array, cost: ScryptCost, length = 32): Promise<Buffer> {
  const N = 2 ** cost.log2N;
  const options: ScryptOptions = { N, r: cost.r, p: cost.p, maxmem: 128 * N * cost.r + 128 * cost.r * cost.p + 1024 * 1024 };
  return new Promise((resolve, reject) => scryptCb(password, salt, length, options, (err, key) => (err ? reject(err) : resolve(key))));
}

function aad(header: Uint8Array, context: string): Buffer {
  return Buffer.concat([header, Buffer.from(context, 'utf8')]);
}

/** Seals `secret` under `password`; `context` names what it is and must be given again to open it. */
export async function sealEnvelope(secret: Uint8Array, password: Uint8Array, context: string, cost: ScryptCost = DEFAULT_SCRYPT_COST): Promise<Uint8Array> {
  checkCost(cost, (m) => {
    throw new RangeError(m);
  });
  if (secret.length + HEADER_LENGTH + TAG_LENGTH > MAX_ENVELOPE_LENGTH) throw new RangeError(`a secret of ${secret.length} bytes does not fit an envelope of at most ${MAX_ENVELOPE_LENGTH}`);
  const salt = randomBytes(SALT_LENGTH);
  const nonce = randomBytes(NONCE_LENGTH);
  const header = Buffer.concat([ENVELOPE_MAGIC, Uint8Array.of(ENVELOPE_VERSION, KDF_SCRYPT, cost.log2N, cost.r, cost.p), salt, nonce]);
  const key = await scryptKey(password, salt, cost);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad(header, context));
  const body = Buffer.concat([cipher.update(secret), cipher.final()]);
  return new Uint8Array(Buffer.concat([header, body, cipher.getAuthTag()]));
}

/** The header fields of an envelope, checked (no password needed). */
export interface EnvelopeHeader {
  readonly version: number;
  readonly cost: ScryptCost;
  readonly salt: Uint8Array;
  readonly nonce: Uint8Array;
  readonly secretLength: number;
}

export function readEnvelopeHeader(envelope: Uint8Array): EnvelopeHeader {
  if (envelope.length > MAX_ENVELOPE_LENGTH) throw new KeyFileError('KEY_FILE_TOO_LARGE', `envelope of ${envelope.length} bytes exceeds ${MAX_ENVELOPE_LENGTH}`);
  if (envelope.length < ENVELOPE_MAGIC.length || !ENVELOPE_MAGIC.every((b, i) => envelope[i] === b)) {
    throw new KeyFileError('KEY_FILE_MALFORMED', 'not a STOQ key envelope (magic "SQKE" missing)');
  }
  if (envelope.length < 5) throw new KeyFileError('KEY_FILE_TRUNCATED', 'envelope ends before its version byte');
  const version = envelope[4]!;
  if (version !== ENVELOPE_VERSION) throw new KeyFileError('KEY_FILE_UNSUPPORTED', `envelope version ${version}; this build reads version ${ENVELOPE_VERSION} only`);
  if (envelope.length < HEADER_LENGTH + TAG_LENGTH + 1) throw new KeyFileError('KEY_FILE_TRUNCATED', `envelope of ${envelope.length} bytes is shorter than its ${HEADER_LENGTH}-byte header, a secret and the ${TAG_LENGTH}-byte tag`);
  if (envelope[5] !== KDF_SCRYPT) throw new KeyFileError('KEY_FILE_UNSUPPORTED', `envelope KDF ${envelope[5]}; version 1 knows scrypt (1) only`);
  const cost: ScryptCost = { log2N: envelope[6]!, r: envelope[7]!, p: envelope[8]! };
  checkCost(cost, (m) => {
    throw new KeyFileError('KEY_FILE_UNSUPPORTED', `envelope asks for ${m}`);
  });
  return {
    version,
    cost,
    salt: envelope.subarray(9, 9 + SALT_LENGTH),
    nonce: envelope.subarray(9 + SALT_LENGTH, HEADER_LENGTH),
    secretLength: envelope.length - HEADER_LENGTH - TAG_LENGTH,
  };
}

/**
 * Opens an envelope. WRONG_PASSWORD when the tag does not verify: a wrong password, or any
 * altered byte (header, ciphertext, tag) or another `context`; never returns unauthenticated bytes.
 * `expectedLength`, when given, is checked before any work (a truncated file fails fast).
 */
export async function openEnvelope(envelope: Uint8Array, password: Uint8Array, context: string, expectedLength?: number): Promise<Uint8Array> {
  const h = readEnvelopeHeader(envelope);
  if (expectedLength !== undefined && h.secretLength !== expectedLength) {
    throw new KeyFileError(h.secretLength < expectedLength ? 'KEY_FILE_TRUNCATED' : 'KEY_FILE_MALFORMED', `envelope holds ${h.secretLength} secret bytes, a ${context} is ${expectedLength}`);
  }
  const key = await scryptKey(password, h.salt, h.cost);
  const decipher = createDecipheriv('aes-256-gcm', key, h.nonce);
  decipher.setAAD(aad(envelope.subarray(0, HEADER_LENGTH), context));
  decipher.setAuthTag(envelope.subarray(envelope.length - TAG_LENGTH));
  const body = envelope.subarray(HEADER_LENGTH, envelope.length - TAG_LENGTH);
  try {
    return new Uint8Array(Buffer.concat([decipher.update(body), decipher.final()]));
  } catch (err) {
    throw new KeyFileError('WRONG_PASSWORD', `the password does not open this ${context} (wrong password, or the file was altered)`, { cause: err });
  }
}
