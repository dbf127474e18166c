// The X.509 v2 CRL, signed by a real ECDSA P-384 root, read and verified by the real openssl.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DevCa } from '@stoq/core';
import { encodeCrl, type CrlEntry } from '../../src/core/crl';
import { START_MS, openssl, tempDir } from './support';

let dir: string;
let ca: DevCa;
let rootFile: string;

beforeAll(async () => {
  dir = tempDir();
  ca = await DevCa.openOrCreate(join(dir, 'ca'), { commonName: 'TrustChain Root CA', now: new Date(START_MS) });
  rootFile = join(dir, 'root.pem');
  writeFileSync(rootFile, ca.rootPem);
});

let n = 0;
function writeCrl(entries: readonly CrlEntry[], crlNumber: number, opts: { aki?: boolean; nextUpdate?: number; sign?: (tbs: Uint8Array) => Uint8Array } = {}): string {
  const der = encodeCrl(
    {
      issuerDer: ca.subjectDer,
      ...(opts.aki === false ? {} : { authorityKeyIdentifier: ca.subjectKeyIdentifier! }),
      crlNumber,
      thisUpdate: START_MS,
      nextUpdate: opts.nextUpdate ?? START_MS + 24 * 3600_000,
      entries,
    },
    opts.sign ?? ((tbs) => ca.signClassical(tbs)),
  );
  const file = join(dir, `crl-${n++}.der`);
  writeFileSync(file, der);
  return file;
}

const crlText = (file: string): Promise<string> => openssl(['crl', '-inform', 'DER', '-in', file, '-text', '-noout']);
const crlVerify = (file: string): Promise<string> => openssl(['crl', '-inform', 'DER', '-in', file, '-noout', '-verify', '-CAfile', rootFile]);

describe('CRL', () => {
  it('is a v2 CRL openssl reads: issuer, times, CRL number, AKI, entries with reason codes', async () => {
    const file = writeCrl(
      [
        { serial: '0a1b2c', revokedAt: START_MS - 3600_000, reason: 1 },
        { serial: '7fffffffffffffffffffffffffffffff', revokedAt: START_MS - 60_000, reason: 0 },
        { serial: '01', revokedAt: START_MS - 1000, reason: 4 },
      ],
      5,
    );
    const text = await crlText(file);
    expect(text).toMatch(/Version 2 \(0x1\)/);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA384/);
    expect(text).toMatch(/Issuer: .*CN\s*=\s*TrustChain Root CA/);
    expect(text).toContain('Last Update: Jan  1 00:00:00 2030 GMT');
    expect(text).toContain('Next Update: Jan  2 00:00:00 2030 GMT');
    expect(text).toMatch(/X509v3 CRL Number:\s*\n\s*5\n/);
    const keyId = Buffer.from(ca.subjectKeyIdentifier!).toString('hex').toUpperCase().match(/../g)!.join(':');
    expect(text).toMatch(new RegExp(`X509v3 Authority Key Identifier:\\s*\\n\\s*(keyid:)?${keyId}`));
    expect(text).toMatch(/Serial Number: 0A1B2C\s*\n\s*Revocation Date: Dec 31 23:00:00 2029 GMT\s*\n\s*CRL entry extensions:\s*\n\s*X509v3 CRL Reason Code:\s*\n\s*Key Compromise/);
    // reason 0 (unspecified) carries no reasonCode extension (RFC 5280 §5.3.1)
    expect(text).toMatch(/Serial Number: 7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\s*\n\s*Revocation Date: Dec 31 23:59:00 2029 GMT\s*\n\s*Serial Number: 01/);
    expect(text).toMatch(/Serial Number: 01\s*\n\s*Revocation Date: Dec 31 23:59:59 2029 GMT\s*\n\s*CRL entry extensions:\s*\n\s*X509v3 CRL Reason Code:\s*\n\s*Superseded/);
  });

  it("verifies against the root with openssl's crl -verify", async () => {
    expect(await crlVerify(writeCrl([{ serial: '0a1b2c', revokedAt: START_MS, reason: 1 }], 1))).toContain('verify OK');
  });

  it('with no revocations is still a valid, verifiable CRL', async () => {
    const file = writeCrl([], 0, { aki: false });
    const text = await crlText(file);
    expect(text).toContain('No Revoked Certificates.');
    expect(text).not.toContain('Authority Key Identifier');
    expect(await crlVerify(file)).toContain('verify OK');
  });

  // `openssl crl -verify` exits 0 either way; only its verdict line tells.
  it('fails verification when signed by another key, or altered after signing', async () => {
    const other = await DevCa.openOrCreate(join(dir, 'other-ca'), { now: new Date(START_MS) });
    expect(await crlVerify(writeCrl([], 2, { sign: (tbs) => other.signClassical(tbs) }))).toMatch(/^verify failure$/m);
    const file = writeCrl([{ serial: '0a1b2c', revokedAt: START_MS, reason: 1 }], 3);
    const der = readFileSync(file);
    const at = der.indexOf(Buffer.from([0x0a, 0x1b, 0x2c]));
    der[at] = 0x0b;
    writeFileSync(file, der);
    expect(await crlVerify(file)).toMatch(/^verify failure$/m);
  });

  it('encodes CRL numbers that need more than one byte or a sign byte', async () => {
    for (const num of [127, 128, 255, 65536, 2 ** 40]) {
      expect(await crlText(writeCrl([], num))).toMatch(new RegExp(`X509v3 CRL Number:\\s*\\n\\s*${num}\\n`));
    }
    expect(() => writeCrl([], -1)).toThrow(/non-negative integer/);
  });

  it('uses GeneralizedTime from 2050 on, as RFC 5280 requires', async () => {
    const text = await crlText(writeCrl([], 9, { nextUpdate: Date.UTC(2050, 0, 1) }));
    expect(text).toContain('Next Update: Jan  1 00:00:00 2050 GMT');
  });
});
