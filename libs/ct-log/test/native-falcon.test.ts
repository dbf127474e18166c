// The production FALCON path: @stoq/native's falconKeypair/falconSign/falconVerify signing the STH
// of a real log. Runs once the addon is built (`node -e "require('@stoq/native')"` works);
// until then it is reported as skipped, and the noble implementation covers FALCON elsewhere.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { falcon1024 } from '@noble/post-quantum/falcon.js';
import { CtLog, FileLogStorage, LogSigningKey, verifySth } from '../src';
import { loadNative, nativeSigner } from './helpers/falcon';
import { makePki } from './helpers/x509';

const native = loadNative();
const maybe = native ? it : it.skip;
if (!native) console.warn('native-falcon tests skipped: @stoq/native is not built or lacks FALCON exports');

describe('STH with @stoq/native FALCON-1024', () => {
  maybe('signs with native, verifies with native and with an independent implementation', async () => {
    const falcon = nativeSigner(native!);
    const pki = makePki('Native');
    const dir = mkdtempSync(join(tmpdir(), 'ct-native-'));
    try {
      const key = LogSigningKey.generate();
      const log = await CtLog.open({ storage: new FileLogStorage(dir), signingKey: key, falcon, roots: [pki.root.der] });
      await log.addChain([pki.leaf('n.example').der, pki.intermediate.der]);
      const sth = await log.getSth();
      expect(verifySth(sth, key.publicKey, falcon)).toBe(true);
      // Cross-check: the native signature is a standard FALCON-1024 signature.
      const noble = { verify: (m: Uint8Array, s: Uint8Array) => falcon1024.verify(s, m, falcon.publicKey) };
      expect(verifySth(sth, key.publicKey, noble)).toBe(true);
      const tampered = { ...sth, treeSize: sth.treeSize + 1 };
      expect(verifySth(tampered, key.publicKey, falcon)).toBe(false);
      await log.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
