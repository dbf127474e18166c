// The FALCON key envelope (src/core/key-envelope.ts): round trip, every altered byte refused as
// WRONG_PASSWORD (GCM), truncation, unknown versions and KDFs, costs outside the read bounds,
// the size limit, and the context binding.
import { randomBytes } from 'node:crypto';
import { DEFAULT_SCRYPT_COST, HEADER_LENGTH, MAX_ENVELOPE_LENGTH, TAG_LENGTH, openEnvelope, readEnvelopeHeader, sealEnvelope } from '../../src/core/key-envelope';
import { KeyFileError, type KeyFileErrorCode } from '../../src/core/key-file-errors';

const CONTEXT = 'FALCON-1024 SECRET KEY';
const LOW = { log2N: 10, r: 8, p: 1 }; // the lowest cost read: keeps the many opens below fast
const password = Buffer.from('correct horse battery staple');
const secret = randomBytes(2305);

async function failure(p: Promise<unknown>): Promise<KeyFileErrorCode> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(KeyFileError);
    return (err as KeyFileError).code;
  }
  throw new Error('expected a KeyFileError');
}

describe('key envelope v1', () => {
  it('round-trips at the default cost (scrypt N=2^17, r=8, p=1) and records it in the header', async () => {
    const env = await sealEnvelope(secret, password, CONTEXT);
    expect(env.length).toBe(HEADER_LENGTH + secret.length + TAG_LENGTH);
    expect(Buffer.from(env.subarray(0, 9)).toString('hex')).toBe('53514b4501011108' + '01');
    expect(readEnvelopeHeader(env).cost).toEqual(DEFAULT_SCRYPT_COST);
    expect(Buffer.from(await openEnvelope(env, password, CONTEXT, 2305)).equals(secret)).toBe(true);
    // Fresh salt and nonce every time.
    const again = await sealEnvelope(secret, password, CONTEXT, LOW);
    expect(Buffer.from(again.subarray(9, HEADER_LENGTH)).equals(Buffer.from(env.subarray(9, HEADER_LENGTH)))).toBe(false);
  });

  it('a wrong password, another context or any altered byte is WRONG_PASSWORD, never other bytes', async () => {
    const env = await sealEnvelope(secret, password, CONTEXT, LOW);
    expect(await failure(openEnvelope(env, Buffer.from('correct horse battery stapler'), CONTEXT))).toBe('WRONG_PASSWORD');
    expect(await failure(openEnvelope(env, password, 'ECDSA P-384 KEY'))).toBe('WRONG_PASSWORD');
    // Every field after the version: cost bytes (kept in bounds), salt, nonce, ciphertext, tag.
    for (const at of [6, 7, 8, 9, 24, 25, 36, HEADER_LENGTH, HEADER_LENGTH + 1000, env.length - TAG_LENGTH - 1, env.length - TAG_LENGTH, env.length - 1]) {
      const t = Uint8Array.from(env);
      t[at] = at === 6 ? 11 : at === 7 ? 7 : at === 8 ? 2 : t[at]! ^ 0x01;
      expect([at, await failure(openEnvelope(t, password, CONTEXT))]).toEqual([at, 'WRONG_PASSWORD']);
    }
  });

  it('refuses truncated files, wrong magic, versions and KDFs it does not know, costs outside the bounds and oversized input', async () => {
    const env = await sealEnvelope(secret, password, CONTEXT, LOW);
    expect(await failure(openEnvelope(env.subarray(0, 3), password, CONTEXT))).toBe('KEY_FILE_MALFORMED');
    expect(await failure(openEnvelope(env.subarray(0, 4), password, CONTEXT))).toBe('KEY_FILE_TRUNCATED');
    expect(await failure(openEnvelope(env.subarray(0, HEADER_LENGTH + TAG_LENGTH), password, CONTEXT))).toBe('KEY_FILE_TRUNCATED');
    expect(await failure(openEnvelope(env.subarray(0, env.length - 100), password, CONTEXT, 2305))).toBe('KEY_FILE_TRUNCATED');
    expect(await failure(openEnvelope(env.subarray(0, env.length - 100), password, CONTEXT))).toBe('WRONG_PASSWORD'); // no length known: the tag catches it
    const set = (i: number, v: number): Uint8Array => {
      const t = Uint8Array.from(env);
      t[i] = v;
      return t;
    };
    expect(await failure(openEnvelope(set(0, 0x54), password, CONTEXT))).toBe('KEY_FILE_MALFORMED');
    const v2 = await failure(openEnvelope(set(4, 2), password, CONTEXT));
    expect(v2).toBe('KEY_FILE_UNSUPPORTED');
    await expect(openEnvelope(set(4, 2), password, CONTEXT)).rejects.toThrow(/version 2; this build reads version 1 only/);
    expect(await failure(openEnvelope(set(5, 2), password, CONTEXT))).toBe('KEY_FILE_UNSUPPORTED');
    await expect(openEnvelope(set(6, 30), password, CONTEXT)).rejects.toThrow(/scrypt log2N 30 is outside \[10, 20\]/); // 2^30 work refused before any
    expect(await failure(openEnvelope(set(6, 9), password, CONTEXT))).toBe('KEY_FILE_UNSUPPORTED');
    expect(await failure(openEnvelope(set(7, 0), password, CONTEXT))).toBe('KEY_FILE_UNSUPPORTED');
    expect(await failure(openEnvelope(set(8, 0), password, CONTEXT))).toBe('KEY_FILE_UNSUPPORTED');
    const big = new Uint8Array(MAX_ENVELOPE_LENGTH + 1);
    big.set(env.subarray(0, HEADER_LENGTH));
    expect(await failure(openEnvelope(big, password, CONTEXT))).toBe('KEY_FILE_TOO_LARGE');
    await expect(sealEnvelope(secret, password, CONTEXT, { log2N: 21, r: 8, p: 1 })).rejects.toThrow(RangeError);
  });
});
