// Encrypted PKCS#8 (RFC 5958 EncryptedPrivateKeyInfo, PEM label "ENCRYPTED PRIVATE KEY") with
// PBES2 (RFC 8018), as `openssl pkey -passin` and step's pemutil read it.
//
// Written: PBKDF2 with HMAC-SHA256, 600,000 iterations (OWASP's 2023 figure for PBKDF2-SHA256;
// Node's own `export({ cipher })` uses OpenSSL's default of 2,048), a 16-byte random salt, and
// AES-256-CBC with a 16-byte random IV.
// Read: PBES2 with PBKDF2 (HMAC-SHA1/256/384/512, 1,000 to 10,000,000 iterations) or scrypt
// (RFC 7914: N ≤ 2^20, r ≤ 32, p ≤ 16, 128·N·r ≤ 1 GiB), and AES-128/192/256-CBC: what our writer
// and `openssl pkcs8 -topk8 [-v2 aes-256-cbc | -scrypt]` produce. The bounds are checked before
// any key derivation, so a hostile file cannot ask for unbounded work.
//
// CBC is not authenticated: a wrong password shows as bad padding or as bytes that are not a
// PKCS#8 key, both reported as WRONG_PASSWORD. (root-keys.ts opens the authenticated FALCON
// envelope first, so a wrong password is caught there definitively.)
import { createCipheriv, createDecipheriv, createPrivateKey, pbkdf2 as pbkdf2Cb, randomBytes, type KeyObject } from 'node:crypto';
import { derToPem, pemToDer } from '@stoq/core';
import { TAG_INTEGER, TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE, children, contentBytes, encodeOid, encodeTlv, oidContent, readSingle, type Tlv } from '@stoq/der';
import { KeyFileError } from './key-file-errors';
import { MAX_SCRYPT_MEMORY, scryptKey } from './key-envelope';

export const ENCRYPTED_PKCS8_LABEL = 'ENCRYPTED PRIVATE KEY';
export const DEFAULT_PBKDF2_ITERATIONS = 600_000;
/** Largest encrypted key read (a P-384 PKCS#8 key encrypts to ~300 bytes). */
export const MAX_ENCRYPTED_PKCS8_LENGTH = 8 * 1024;
const PBKDF2_ITERATIONS_BOUNDS = [1_000, 10_000_000] as const;

const OID = {
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  scrypt: '1.3.6.1.4.1.11591.4.11',
  hmacWithSHA1: '1.2.840.113549.2.7',
  hmacWithSHA256: '1.2.840.113549.2.9',
  hmacWithSHA384: '1.2.840.113549.2.10',
  hmacWithSHA512: '1.2.840.113549.2.11',
  aes128cbc: '2.16.840.1.101.3.4.1.2',
  aes192cbc: '2.16.840.1.101.3.4.1.22',
  aes256cbc: '2.16.840.1.101.3.4.1.42',
} as const;
const PRF_DIGEST = new Map<string, string>([
  [OID.hmacWithSHA1, 'sha1'],
  [OID.hmacWithSHA256, 'sha256'],
  [OID.hmacWithSHA384, 'sha384'],
  [OID.hmacWithSHA512, 'sha512'],
]);
const CIPHERS = new Map<string, { name: string; keyLength: number }>([
  [OID.aes128cbc, { name: 'aes-128-cbc', keyLength: 16 }],
  [OID.aes192cbc, { name: 'aes-192-cbc', keyLength: 24 }],
  [OID.aes256cbc, { name: 'aes-256-cbc', keyLength: 32 }],
]);
const DER_NULL = Uint8Array.of(0x05, 0x00);

/** A non-negative INTEGER's DER element. */
function encodeUint(value: number): Uint8Array {
  const bytes: number[] = [];
  for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes.length === 0 || bytes[0]! & 0x80) bytes.unshift(0);
  return encodeTlv(TAG_INTEGER, Uint8Array.from(bytes));
}

function pbkdf2(password: Uint8Array, salt: Uint8Array, iterations: number, length: number, digest: string): Promise<Buffer> {
  return new Promise((resolve, reject) => pbkdf2Cb(password, salt, iterations, length, digest, (err, key) => (err ? reject(err) : resolve(key))));
}

/** `key` as an "ENCRYPTED PRIVATE KEY" PEM: PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC. */
export async function encryptPkcs8(key: KeyObject, password: Uint8Array, iterations: number = DEFAULT_PBKDF2_ITERATIONS): Promise<string> {
  if (!Number.isInteger(iterations) || iterations < PBKDF2_ITERATIONS_BOUNDS[0] || iterations > PBKDF2_ITERATIONS_BOUNDS[1]) {
    throw new RangeError(`PBKDF2 iterations ${iterations} outside [${PBKDF2_ITERATIONS_BOUNDS.join(', ')}]`);
  }
  const plain = key.export({ type: 'pkcs8', format: 'der' });
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', await pbkdf2(password, salt, iterations, 32, 'sha256'), iv);
  const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  const kdf = encodeTlv(TAG_SEQUENCE, encodeOid(OID.pbkdf2), encodeTlv(TAG_SEQUENCE, encodeTlv(TAG_OCTET_STRING, salt), encodeUint(iterations), encodeTlv(TAG_SEQUENCE, encodeOid(OID.hmacWithSHA256), DER_NULL)));
  const scheme = encodeTlv(TAG_SEQUENCE, encodeOid(OID.aes256cbc), encodeTlv(TAG_OCTET_STRING, iv));
  const algorithm = encodeTlv(TAG_SEQUENCE, encodeOid(OID.pbes2), encodeTlv(TAG_SEQUENCE, kdf, scheme));
  return derToPem(encodeTlv(TAG_SEQUENCE, algorithm, encodeTlv(TAG_OCTET_STRING, encrypted)), ENCRYPTED_PKCS8_LABEL);
}

/** How an encrypted PKCS#8 key is protected (parsed and bounds-checked, no password needed). */
export type Pbes2Params = {
  readonly kdf: { readonly name: 'pbkdf2'; readonly salt: Uint8Array; readonly iterations: number; readonly digest: string } | { readonly name: 'scrypt'; readonly salt: Uint8Array; readonly log2N: number; readonly r: number; readonly p: number };
  readonly cipher: { readonly name: string; readonly keyLength: number; readonly iv: Uint8Array };
  readonly encrypted: Uint8Array;
};

const malformed = (what: string): KeyFileError => new KeyFileError('KEY_FILE_MALFORMED', `encrypted PKCS#8: ${what}`);
const unsupported = (what: string): KeyFileError => new KeyFileError('KEY_FILE_UNSUPPORTED', `encrypted PKCS#8: ${what}`);

function must(bytes: Uint8Array, tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (tlv === undefined || tlv.tag !== tag) throw malformed(`${what} missing or of the wrong type`);
  return tlv;
}

function oidOf(bytes: Uint8Array, tlv: Tlv | undefined, what: string): string {
  const t = must(bytes, tlv, TAG_OID, what);
  const content = contentBytes(bytes, t);
  for (const known of [...Object.values(OID)]) {
    const c = oidContent(known);
    if (c.length === content.length && c.every((b, i) => content[i] === b)) return known;
  }
  return `unknown OID (${Buffer.from(content).toString('hex')})`;
}

/** A small non-negative INTEGER (≤ 2^31), as parameters are. */
function uintOf(bytes: Uint8Array, tlv: Tlv | undefined, what: string): number {
  const c = contentBytes(bytes, must(bytes, tlv, TAG_INTEGER, what));
  if (c.length === 0 || c[0]! & 0x80) throw malformed(`${what} is not a non-negative integer`);
  const digits = c[0] === 0 ? c.subarray(1) : c;
  if (digits.length > 4) throw unsupported(`${what} is larger than 2^32`);
  return digits.reduce((n, b) => n * 256 + b, 0);
}

function octetsOf(bytes: Uint8Array, tlv: Tlv | undefined, what: string, min: number, max: number): Uint8Array {
  const c = contentBytes(bytes, must(bytes, tlv, TAG_OCTET_STRING, what));
  if (c.length < min || c.length > max) throw malformed(`${what} of ${c.length} bytes (expected ${min}..${max})`);
  return c;
}

/** Parses the EncryptedPrivateKeyInfo DER; KEY_FILE_MALFORMED / _UNSUPPORTED / _TOO_LARGE / _TRUNCATED. */
export function readPbes2(der: Uint8Array): Pbes2Params {
  if (der.length > MAX_ENCRYPTED_PKCS8_LENGTH) throw new KeyFileError('KEY_FILE_TOO_LARGE', `encrypted PKCS#8 of ${der.length} bytes exceeds ${MAX_ENCRYPTED_PKCS8_LENGTH}`);
  let root: Tlv;
  try {
    root = readSingle(der);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new KeyFileError(code === 'TRUNCATED' || code === 'OVERRUN' ? 'KEY_FILE_TRUNCATED' : 'KEY_FILE_MALFORMED', `encrypted PKCS#8: ${(err as Error).message}`, { cause: err });
  }
  try {
    const [alg, data, ...rest] = children(der, must(der, root, TAG_SEQUENCE, 'EncryptedPrivateKeyInfo'));
    if (rest.length > 0) throw malformed('trailing fields');
    const [algOid, params] = children(der, must(der, alg, TAG_SEQUENCE, 'encryptionAlgorithm'));
    const scheme = oidOf(der, algOid, 'encryption algorithm');
    if (scheme !== OID.pbes2) throw unsupported(`encryption algorithm ${scheme}; only PBES2 is read (re-encrypt with \`openssl pkcs8 -topk8 -v2 aes-256-cbc\`)`);
    const [kdfAlg, encAlg] = children(der, must(der, params, TAG_SEQUENCE, 'PBES2-params'));
    const [kdfOid, kdfParams] = children(der, must(der, kdfAlg, TAG_SEQUENCE, 'keyDerivationFunc'));
    const [encOid, ivTlv] = children(der, must(der, encAlg, TAG_SEQUENCE, 'encryptionScheme'));
    const cipherOid = oidOf(der, encOid, 'encryption scheme');
    const cipher = CIPHERS.get(cipherOid);
    if (!cipher) throw unsupported(`cipher ${cipherOid}; AES-128/192/256-CBC are read`);
    const iv = octetsOf(der, ivTlv, 'IV', 16, 16);
    const encrypted = octetsOf(der, data, 'encryptedData', 16, MAX_ENCRYPTED_PKCS8_LENGTH);
    if (encrypted.length % 16 !== 0) throw malformed(`encryptedData of ${encrypted.length} bytes is not whole AES blocks`);
    const kdfName = oidOf(der, kdfOid, 'key derivation function');
    const fields = children(der, must(der, kdfParams, TAG_SEQUENCE, 'KDF parameters'));
    const salt = octetsOf(der, fields[0], 'salt', 8, 64);
    if (kdfName === OID.pbkdf2) {
      const iterations = uintOf(der, fields[1], 'iterationCount');
      if (iterations < PBKDF2_ITERATIONS_BOUNDS[0] || iterations > PBKDF2_ITERATIONS_BOUNDS[1]) throw unsupported(`PBKDF2 iterations ${iterations} outside [${PBKDF2_ITERATIONS_BOUNDS.join(', ')}]`);
      let i = 2;
      if (fields[i]?.tag === TAG_INTEGER) {
        if (uintOf(der, fields[i], 'keyLength') !== cipher.keyLength) throw malformed('keyLength does not match the cipher');
        i++;
      }
      let digest = 'sha1'; // PBKDF2's DEFAULT prf
      if (fields[i] !== undefined) {
        const [prfOid] = children(der, must(der, fields[i], TAG_SEQUENCE, 'prf'));
        const prf = oidOf(der, prfOid, 'prf');
        const d = PRF_DIGEST.get(prf);
        if (!d) throw unsupported(`PBKDF2 prf ${prf}`);
        digest = d;
        i++;
      }
      if (i !== fields.length) throw malformed('trailing PBKDF2 parameters');
      return { kdf: { name: 'pbkdf2', salt, iterations, digest }, cipher: { ...cipher, iv }, encrypted };
    }
    if (kdfName === OID.scrypt) {
      const N = uintOf(der, fields[1], 'scrypt N');
      const r = uintOf(der, fields[2], 'scrypt r');
      const p = uintOf(der, fields[3], 'scrypt p');
      if (fields[4] !== undefined && uintOf(der, fields[4], 'keyLength') !== cipher.keyLength) throw malformed('keyLength does not match the cipher');
      if (fields.length > 5) throw malformed('trailing scrypt parameters');
      const log2N = Math.log2(N);
      if (!Number.isInteger(log2N) || log2N < 1 || log2N > 20 || r < 1 || r > 32 || p < 1 || p > 16 || 128 * N * r > MAX_SCRYPT_MEMORY) {
        throw unsupported(`scrypt N=${N} r=${r} p=${p} outside the read bounds (N a power of 2 ≤ 2^20, r ≤ 32, p ≤ 16, 128·N·r ≤ 1 GiB)`);
      }
      return { kdf: { name: 'scrypt', salt, log2N, r, p }, cipher: { ...cipher, iv }, encrypted };
    }
    throw unsupported(`key derivation function ${kdfName}; PBKDF2 and scrypt are read`);
  } catch (err) {
    if (err instanceof KeyFileError) throw err;
    throw malformed((err as Error).message);
  }
}

/** The private key in an "ENCRYPTED PRIVATE KEY" PEM; WRONG_PASSWORD when `password` does not open it. */
export async function decryptPkcs8(pem: string, password: Uint8Array): Promise<KeyObject> {
  let der: Uint8Array;
  try {
    der = pemToDer(pem, ENCRYPTED_PKCS8_LABEL, 'key file');
  } catch (err) {
    throw new KeyFileError('KEY_FILE_MALFORMED', (err as Error).message, { cause: err });
  }
  const p = readPbes2(der);
  const key =
    p.kdf.name === 'pbkdf2'
      ? await pbkdf2(password, p.kdf.salt, p.kdf.iterations, p.cipher.keyLength, p.kdf.digest)
      : await scryptKey(password, p.kdf.salt, { log2N: p.kdf.log2N, r: p.kdf.r, p: p.kdf.p }, p.cipher.keyLength);
  const wrong = (err: unknown): KeyFileError => new KeyFileError('WRONG_PASSWORD', 'the password does not open this encrypted private key', { cause: err });
  let plain: Buffer;
  try {
    const decipher = createDecipheriv(p.cipher.name, key, p.cipher.iv);
    plain = Buffer.concat([decipher.update(p.encrypted), decipher.final()]);
  } catch (err) {
    throw wrong(err);
  }
  try {
    return createPrivateKey({ key: plain, format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw wrong(err);
  }
}
