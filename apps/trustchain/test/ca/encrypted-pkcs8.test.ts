// Encrypted PKCS#8 (src/core/encrypted-pkcs8.ts) against openssl both ways, its read bounds, and
// the password-file reading (src/core/password.ts) that must match `openssl -passin file:`.
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { TAG_INTEGER, TAG_OCTET_STRING, TAG_SEQUENCE, encodeOid, encodeTlv } from '@stoq/der';
import { join } from 'node:path';
import { pemToDer, derToPem } from '@stoq/core';
import { ENCRYPTED_PKCS8_LABEL, decryptPkcs8, encryptPkcs8, readPbes2 } from '../../src/core/encrypted-pkcs8';
import { KeyFileError, type KeyFileErrorCode } from '../../src/core/key-file-errors';
import { MAX_PASSWORD_BYTES, passwordFromFile } from '../../src/core/password';
import { openssl, run, tempDir } from './support';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const password = Buffer.from('pässwörd with spaces');
const spki = (k: KeyObject): string => createPublicKey(k).export({ type: 'spki', format: 'der' }).toString('hex');

async function failure(p: Promise<unknown> | (() => unknown)): Promise<KeyFileErrorCode> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(KeyFileError);
    return (err as KeyFileError).code;
  }
  throw new Error('expected a KeyFileError');
}

describe('encrypted PKCS#8', () => {
  it('writes PBES2 / PBKDF2-HMAC-SHA256 600,000 / AES-256-CBC that openssl opens with the password file, and refuses a wrong one', async () => {
    const dir = tempDir();
    const pem = await encryptPkcs8(privateKey, password);
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    const p = readPbes2(pemToDer(pem, ENCRYPTED_PKCS8_LABEL, 'test'));
    expect(p.kdf).toMatchObject({ name: 'pbkdf2', iterations: 600_000, digest: 'sha256' });
    expect(p.cipher).toMatchObject({ name: 'aes-256-cbc', keyLength: 32 });
    writeFileSync(join(dir, 'root.key'), pem, { mode: 0o600 });
    writeFileSync(join(dir, 'pw'), Buffer.concat([password, Buffer.from('\n')]));
    writeFileSync(join(dir, 'bad'), 'password\n');
    const parsed = await openssl(['asn1parse', '-in', join(dir, 'root.key')]);
    expect(parsed).toMatch(/:PBES2[\s\S]*:PBKDF2[\s\S]*INTEGER\s+:0927C0[\s\S]*:hmacWithSHA256[\s\S]*:aes-256-cbc/);
    const pub = await openssl(['pkey', '-in', join(dir, 'root.key'), '-passin', `file:${join(dir, 'pw')}`, '-pubout', '-outform', 'DER', '-out', join(dir, 'pub.der')]);
    expect(pub).toBe('');
    expect(readFileSync(join(dir, 'pub.der')).toString('hex')).toBe(spki(privateKey));
    await expect(openssl(['pkey', '-in', join(dir, 'root.key'), '-passin', `file:${join(dir, 'bad')}`, '-noout'])).rejects.toThrow();
    expect(spki(await decryptPkcs8(pem, password))).toBe(spki(privateKey));
    expect(await failure(decryptPkcs8(pem, Buffer.from('password')))).toBe('WRONG_PASSWORD');
  });

  it('reads what `openssl pkcs8 -topk8` writes with PBKDF2 and with scrypt', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'plain.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    writeFileSync(join(dir, 'pw'), Buffer.concat([password, Buffer.from('\n')]));
    for (const extra of [['-v2', 'aes-256-cbc'], ['-v2', 'aes-128-cbc', '-v2prf', 'hmacWithSHA512'], ['-scrypt']]) {
      const out = join(dir, `${extra.join('')}.pem`);
      await run('openssl', ['pkcs8', '-topk8', '-in', join(dir, 'plain.pem'), '-out', out, '-passout', `file:${join(dir, 'pw')}`, ...extra]);
      expect([extra, spki(await decryptPkcs8(readFileSync(out, 'utf8'), password))]).toEqual([extra, spki(privateKey)]);
    }
  });

  it('bounds the work and the size, and refuses what is not PBES2 before deriving any key', async () => {
    const pem = await encryptPkcs8(privateKey, password, 1000);
    const der = pemToDer(pem, ENCRYPTED_PKCS8_LABEL, 'test');
    // PBES2 as our writer lays it out, with the KDF parameters chosen here.
    const seq = (...parts: Uint8Array[]): Uint8Array => encodeTlv(TAG_SEQUENCE, ...parts);
    const octets = (n: number): Uint8Array => encodeTlv(TAG_OCTET_STRING, new Uint8Array(n));
    const int = (hex: string): Uint8Array => encodeTlv(TAG_INTEGER, Buffer.from(hex, 'hex'));
    const pbes2 = (kdf: Uint8Array): Uint8Array =>
      seq(seq(encodeOid('1.2.840.113549.1.5.13'), seq(kdf, seq(encodeOid('2.16.840.1.101.3.4.1.42'), octets(16)))), octets(64));
    const pbkdf2 = (iterations: string): Uint8Array => seq(encodeOid('1.2.840.113549.1.5.12'), seq(octets(16), int(iterations), seq(encodeOid('1.2.840.113549.2.9'), Uint8Array.of(5, 0))));
    const scrypt = (n: string, r: string, p: string): Uint8Array => seq(encodeOid('1.3.6.1.4.1.11591.4.11'), seq(octets(16), int(n), int(r), int(p)));
    expect(readPbes2(pbes2(pbkdf2('0927c0'))).kdf).toMatchObject({ name: 'pbkdf2', iterations: 600_000 });
    const tooMuch = (d: Uint8Array): Promise<string> => failure(() => readPbes2(d)).then((c) => c);
    expect(await tooMuch(pbes2(pbkdf2('7fffffff')))).toBe('KEY_FILE_UNSUPPORTED'); // 2^31 iterations: refused before any work
    expect(await tooMuch(pbes2(pbkdf2('0100')))).toBe('KEY_FILE_UNSUPPORTED'); // 256: too few to be a protection
    expect(await tooMuch(pbes2(scrypt('40000000', '08', '01')))).toBe('KEY_FILE_UNSUPPORTED'); // N = 2^30
    expect(await tooMuch(pbes2(scrypt('3000', '08', '01')))).toBe('KEY_FILE_UNSUPPORTED'); // N not a power of 2
    expect(readPbes2(pbes2(scrypt('4000', '08', '01'))).kdf).toMatchObject({ name: 'scrypt', log2N: 14, r: 8, p: 1 });
    expect(await tooMuch(seq(seq(encodeOid('1.2.840.113549.1.5.3'), seq(octets(8), int('0800'))), octets(64)))).toBe('KEY_FILE_UNSUPPORTED'); // PBES1
    expect(await failure(() => readPbes2(new Uint8Array(8 * 1024 + 1)))).toBe('KEY_FILE_TOO_LARGE');
    expect(await failure(() => readPbes2(der.subarray(0, der.length - 5)))).toBe('KEY_FILE_TRUNCATED');
    expect(await failure(decryptPkcs8(derToPem(der, 'PRIVATE KEY'), password))).toBe('KEY_FILE_MALFORMED');
    await expect(encryptPkcs8(privateKey, password, 20_000_000)).rejects.toThrow(RangeError);
  });
});

describe('password files', () => {
  it('take one line without its line end, as openssl -passin file: does, and refuse what openssl would cut', () => {
    const b = (s: string): Uint8Array => Buffer.from(s);
    expect(Buffer.from(passwordFromFile(b('secret\n'), 'f')).toString()).toBe('secret');
    expect(Buffer.from(passwordFromFile(b('secret\r\n'), 'f')).toString()).toBe('secret');
    expect(Buffer.from(passwordFromFile(b('se cret '), 'f')).toString()).toBe('se cret ');
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (err) {
        return `${(err as KeyFileError).code}: ${(err as Error).message}`;
      }
      return 'ok';
    };
    expect(code(() => passwordFromFile(b('\n'), 'f'))).toMatch(/^PASSWORD_INVALID: f: the password is empty/);
    expect(code(() => passwordFromFile(b('one\ntwo\n'), 'f'))).toMatch(/^PASSWORD_INVALID: f holds more than one line/);
    expect(code(() => passwordFromFile(b('x'.repeat(MAX_PASSWORD_BYTES + 1)), 'f'))).toMatch(/^PASSWORD_INVALID/);
    expect(code(() => passwordFromFile(b('x'.repeat(MAX_PASSWORD_BYTES)), 'f'))).toBe('ok');
    expect(code(() => passwordFromFile(new Uint8Array(5000), 'f'))).toMatch(/^PASSWORD_INVALID: f is 5000 bytes/);
  });
});
