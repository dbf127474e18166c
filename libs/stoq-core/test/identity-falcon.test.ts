// src/falcon.ts: the lazily loaded native FALCON-1024 scheme.

describe('nativeFalcon', () => {
  afterEach(() => {
    jest.dontMock('@stoq/native');
    jest.resetModules();
  });

  test('importing falcon.ts never loads the addon; using it without the addon says how to build it', () => {
    jest.doMock('@stoq/native', () => {
      throw new Error("Cannot find module '@stoq/native'");
    }, { virtual: true });
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { nativeFalcon } = require('../src/falcon') as typeof import('../src/falcon');
      expect(() => nativeFalcon.keypair()).toThrow(/^the native addon @stoq\/native is not built.*npm run build/);
      expect(() => nativeFalcon.verify(new Uint8Array(1793), new Uint8Array(1), new Uint8Array(1))).toThrow(/native addon @stoq\/native is not built/);
    });
  });

  test('an addon without the FALCON functions is reported by name', () => {
    jest.doMock('@stoq/native', () => ({ falconKeypair: () => ({}) }), { virtual: true });
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { nativeFalcon } = require('../src/falcon') as typeof import('../src/falcon');
      expect(() => nativeFalcon.sign(new Uint8Array(2305), new Uint8Array(1))).toThrow(/does not export falconSign\(\)/);
    });
  });

  test('keys and signatures have the PQClean FALCON-1024 sizes and verify', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { nativeFalcon, FALCON_PUBLIC_KEY_LENGTH, FALCON_SECRET_KEY_LENGTH, FALCON_MAX_SIGNATURE_LENGTH } = require('../src/falcon') as typeof import('../src/falcon');
    const pair = nativeFalcon.keypair();
    expect(pair.publicKey).toHaveLength(FALCON_PUBLIC_KEY_LENGTH);
    expect(pair.secretKey).toHaveLength(FALCON_SECRET_KEY_LENGTH);
    const message = new TextEncoder().encode('stoq');
    const sig = nativeFalcon.sign(pair.secretKey, message);
    expect(sig.length).toBeLessThanOrEqual(FALCON_MAX_SIGNATURE_LENGTH);
    expect(nativeFalcon.verify(pair.publicKey, message, sig)).toBe(true);
    expect(nativeFalcon.verify(pair.publicKey, new TextEncoder().encode('stoQ'), sig)).toBe(false);
    const other = nativeFalcon.keypair();
    expect(nativeFalcon.verify(other.publicKey, message, sig)).toBe(false);
  });
});
