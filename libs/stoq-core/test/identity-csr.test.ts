// STOQ CSRs: built by createCsr, read by openssl, parsed and verified by parseCsr; tampered or
// foreign requests are refused with a CsrError naming the problem.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsrError, createCsr, falconCsrMessage, nativeFalcon, parseCsr, FALCON_CSR_CONTEXT, MAX_CSR_LENGTH } from '../src';

const falcon = nativeFalcon.keypair();
const tlsKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

function csr(overrides: Partial<Parameters<typeof createCsr>[0]> = {}): Uint8Array {
  return createCsr({ service: 'caesar', instance: 'caesar-1', tlsKey, falconPublicKey: falcon.publicKey, ipAddresses: ['::1'], ...overrides });
}

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof CsrError) return `${err.reason}: ${err.message}`;
    throw err;
  }
  throw new Error('expected a CsrError');
}

describe('STOQ CSR', () => {
  it('round-trips names, keys and the FALCON key', () => {
    const der = csr();
    const p = parseCsr(der);
    expect(p.commonName).toBe('caesar-1');
    expect(p.organization).toBe('STOQ');
    expect(p.service).toBe('caesar');
    expect(p.dnsNames).toEqual(['caesar-1.caesar.hypermesh', 'caesar.hypermesh', 'caesar']);
    expect(p.ipAddresses).toEqual(['::1']);
    expect(Buffer.from(p.falconPublicKey).equals(Buffer.from(falcon.publicKey))).toBe(true);
    expect(p.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('is a PKCS#10 request openssl reads and verifies', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stoq-csr-'));
    const file = join(dir, 'req.der');
    writeFileSync(file, csr());
    const out = execFileSync('openssl', ['req', '-inform', 'DER', '-in', file, '-noout', '-text', '-verify'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toMatch(/Subject: O\s*=\s*STOQ, CN\s*=\s*caesar-1/);
    expect(out).toContain('DNS:caesar.hypermesh');
    expect(out).toContain('2.5.29.72');
  });

  it('refuses a request whose signature does not verify', () => {
    const der = csr();
    const tampered = Uint8Array.from(der);
    const at = Buffer.from(der).indexOf(Buffer.from('caesar-1'));
    tampered[at] = 'd'.charCodeAt(0); // "daesar-1": the signed info changed
    expect(reason(() => parseCsr(tampered))).toMatch(/^CSR_SIGNATURE: .*does not verify/);
  });

  it('refuses a CSR whose key is not a point on P-256, before checking its signature', () => {
    const der = csr();
    const spki = parseCsr(der).spkiDer;
    const at = Buffer.from(der).indexOf(Buffer.from(spki)) + spki.length - 1; // last byte of Y
    const offCurve = Uint8Array.from(der);
    offCurve[at] = offCurve[at]! ^ 1;
    expect(reason(() => parseCsr(offCurve))).toMatch(/^CSR_UNSUPPORTED_KEY: .*not on P-256/);
  });

  it('refuses garbage, empty and oversized input', () => {
    expect(reason(() => parseCsr(new Uint8Array(0)))).toMatch(/^CSR_MALFORMED: the CSR is empty/);
    expect(reason(() => parseCsr(Uint8Array.from([0x30, 0x03, 0x02, 0x01])))).toMatch(/^CSR_MALFORMED/);
    expect(reason(() => parseCsr(Buffer.from('-----BEGIN CERTIFICATE REQUEST-----')))).toMatch(/^CSR_MALFORMED/);
    expect(reason(() => parseCsr(new Uint8Array(MAX_CSR_LENGTH + 1)))).toMatch(/^CSR_TOO_LARGE/);
  });

  it('refuses a key that is not ECDSA P-256', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    expect(reason(() => parseCsr(csr({ tlsKey: p384 })))).toMatch(/^CSR_UNSUPPORTED_KEY: .*secp384r1/);
  });

  it('binds the FALCON proof to this exact CSR', () => {
    const der = csr();
    const sig = nativeFalcon.sign(falcon.secretKey, falconCsrMessage(der));
    expect(nativeFalcon.verify(falcon.publicKey, falconCsrMessage(der), sig)).toBe(true);
    expect(nativeFalcon.verify(falcon.publicKey, falconCsrMessage(csr({ instance: 'caesar-2' })), sig)).toBe(false);
    expect(Buffer.from(falconCsrMessage(der)).subarray(0, FALCON_CSR_CONTEXT.length).toString('latin1')).toBe(FALCON_CSR_CONTEXT);
  });
});

describe('parseCsr on corrupted input', () => {
  it('refuses any mutation or truncation of a valid CSR with a CsrError, never another exception', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = createCsr({ service: 'caesar', instance: 'caesar-1', tlsKey: privateKey, falconPublicKey: nativeFalcon.keypair().publicKey, ipAddresses: ['::1'] });
    // A small seeded generator: the same mutations on every run.
    let seed = 0x9e3779b9;
    const next = (n: number): number => {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6b) >>> 0;
      return seed % n;
    };
    for (let round = 0; round < 3000; round++) {
      const bad = Uint8Array.from(der);
      for (let k = 0, edits = 1 + next(3); k < edits; k++) bad[next(bad.length)] = next(256);
      const input = next(4) === 0 ? bad.subarray(0, next(bad.length)) : bad;
      try {
        parseCsr(input);
      } catch (err) {
        if (!(err instanceof CsrError)) throw new Error(`round ${round}: ${(err as Error).constructor.name}: ${(err as Error).message}`);
      }
    }
  });
});
