// Test helpers for the CT service: a foreign CA hierarchy (root → intermediate → leaves, real
// hybrid X.509 from @stoq/core's issueCertificate, native FALCON) whose root the log accepts, a
// stranger CA it does not, and a file-backed CtLog with its own ECDSA + FALCON log keys.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { issueCertificate, nativeFalcon, type FalconKeypair } from '@stoq/core';
import { CtLog, LogSigningKey, type CtLogOptions, type FalconSigner } from '@stoq/ct-log';
import type { Logger } from 'pino';
import { tempDir } from '../ca/support';

const DAY = 86_400_000;
const NOT_BEFORE = new Date(Date.UTC(2029, 11, 1));
const NOT_AFTER = new Date(NOT_BEFORE.getTime() + 3650 * DAY);

interface CaKeys {
  readonly der: Uint8Array;
  readonly key: KeyObject;
  readonly falcon: FalconKeypair;
}

export interface TestPki {
  readonly root: Uint8Array;
  readonly intermediate: Uint8Array;
  /** A fresh leaf under the intermediate (distinct serial and name each call). */
  leaf(name: string): Uint8Array;
}

// One subject key pair for every leaf: only issuance cost matters here, not key diversity.
const leafKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
let leafFalcon: FalconKeypair | null = null;

function selfSigned(commonName: string): CaKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const falcon = nativeFalcon.keypair();
  const { der } = issueCertificate({
    subject: { commonName, organization: 'CT test' },
    subjectPublicKey: publicKey,
    subjectFalconPublicKey: falcon.publicKey,
    issuer: { certificate: null, privateKey, falconSecretKey: falcon.secretKey, falconPublicKey: falcon.publicKey },
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    isCa: true,
  });
  return { der, key: privateKey, falcon };
}

function issuedBy(parent: CaKeys, commonName: string, isCa: boolean, subjectKey: KeyObject, subjectFalcon: FalconKeypair): Uint8Array {
  return issueCertificate({
    subject: { commonName, organization: 'CT test' },
    subjectPublicKey: subjectKey,
    subjectFalconPublicKey: subjectFalcon.publicKey,
    issuer: { certificate: parent.der, privateKey: parent.key, falconSecretKey: parent.falcon.secretKey, falconPublicKey: parent.falcon.publicKey },
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    isCa,
    ...(isCa ? {} : { dnsNames: [`${commonName}.example.test`] }),
  }).der;
}

/** A root, an intermediate CA under it, and leaves under the intermediate. */
export function makePki(name: string): TestPki {
  const root = selfSigned(`${name} Root`);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const falcon = nativeFalcon.keypair();
  const intermediate: CaKeys = { der: issuedBy(root, `${name} Intermediate`, true, publicKey, falcon), key: privateKey, falcon };
  return {
    root: root.der,
    intermediate: intermediate.der,
    leaf: (leafName) => issuedBy(intermediate, leafName, false, leafKey, (leafFalcon ??= nativeFalcon.keypair())),
  };
}

export interface TestLog {
  readonly log: CtLog;
  readonly signingKey: LogSigningKey;
  readonly falcon: FalconSigner;
  readonly falconPublicKey: Uint8Array;
  readonly dir: string;
}

/** A file-backed log in a fresh temp dir accepting `roots`, with its own log keys. */
export async function openLog(roots: readonly Uint8Array[], logger: Logger, extra: Partial<CtLogOptions> = {}): Promise<TestLog> {
  const dir = tempDir('trustchain-ct-');
  const signingKey = LogSigningKey.generate();
  const kp = nativeFalcon.keypair();
  const falcon: FalconSigner = {
    sign: (m) => nativeFalcon.sign(kp.secretKey, m),
    verify: (m, s) => nativeFalcon.verify(kp.publicKey, m, s),
  };
  const log = await CtLog.openInDirectory({ dataDir: join(dir, 'ct'), signingKey, falcon, roots, logger, ...extra });
  return { log, signingKey, falcon, falconPublicKey: kp.publicKey, dir };
}
