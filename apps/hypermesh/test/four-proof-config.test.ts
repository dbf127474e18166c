// The chain's four-proof rules file: what is accepted, and every refusal names its field.
import { nativeFalcon } from '@stoq/core';
import { generateKeyPairSync } from 'node:crypto';
import { isHyperMeshError } from '../src/errors';
import { parseFourProofConfig } from '../src/proofs/four-proof-config';

const falcon = Buffer.from(nativeFalcon.keypair().publicKey).toString('base64');
const spki = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const base = { format: 'hypermesh-four-proof/1', ledgerKey: { algorithm: 'falcon-1024', publicKey: falcon } };

function problem(doc: unknown): string {
  try {
    parseFourProofConfig(doc, 'f.json');
  } catch (err) {
    if (isHyperMeshError(err, 'FOUR_PROOF_CONFIG_INVALID')) return err.message;
    throw err;
  }
  return 'ok';
}

test('a FALCON ledger key or an SPKI, optional minimums and anchor window', () => {
  const c = parseFourProofConfig({ ...base, params: { powDifficulty: 16, minStake: '1000' }, maxAnchorAgeBlocks: 50 });
  expect(c).toMatchObject({ ledgerPublicKey: { algorithm: 'falcon-1024' }, params: { powDifficulty: 16, minStake: 1000n }, maxAnchorAgeBlocks: 50 });
  expect(parseFourProofConfig(base).maxAnchorAgeBlocks).toBe(1000);
  expect(parseFourProofConfig({ ...base, ledgerKey: { algorithm: 'spki', publicKey: spki } }).ledgerPublicKey).toBeInstanceOf(Uint8Array);
});

test('refusals name the field', () => {
  expect(problem({ ...base, format: 'x' })).toMatch(/f\.json: format must be/);
  expect(problem({ ...base, extra: 1 })).toMatch(/unknown key "extra"/);
  expect(problem({ ...base, ledgerKey: { algorithm: 'falcon-1024', publicKey: 'AAAA' } })).toMatch(/ledgerKey\.publicKey: a FALCON-1024 public key is 1793 bytes/);
  expect(problem({ ...base, ledgerKey: { algorithm: 'rsa', publicKey: spki } })).toMatch(/ledgerKey\.algorithm/);
  expect(problem({ ...base, params: { powDifficulty: 99 } })).toMatch(/params\.powDifficulty/);
  expect(problem({ ...base, params: { minStake: 5 } })).toMatch(/params\.minStake: must be a decimal string/);
  expect(problem({ ...base, params: { speed: 1 } })).toMatch(/unknown parameter "speed"/);
  expect(problem({ ...base, maxAnchorAgeBlocks: -1 })).toMatch(/maxAnchorAgeBlocks/);
});
