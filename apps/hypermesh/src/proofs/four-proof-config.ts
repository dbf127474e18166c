// The chain's four-proof rules, from a JSON file every validator of the chain must be given
// identically (`hypermesh serve --four-proof <file>`): validators with different rules vote
// differently, which costs liveness for the requests they disagree on (never safety).
//
//   { "format": "hypermesh-four-proof/1",
//     "ledgerKey": { "algorithm": "falcon-1024", "publicKey": "<base64, 1793 bytes>" }   (Caesar's key)
//              | { "algorithm": "spki", "publicKey": "<base64 DER SubjectPublicKeyInfo, P-256 or Ed25519>" },
//     "params": { "plotBlocks": 1024, "blockSize": 64, "spaceChallenges": 16, "powDifficulty": 12,
//                 "vdfIterations": 4096, "timeToleranceMs": 30000, "minStake": "1" },   (minimums; all optional)
//     "maxAnchorAgeBlocks": 1000 }                                                      (0: PoTime anchors not required)
import { readFile } from 'node:fs/promises';
import { FourProofError, resolveParams, type FourProofParams, type LedgerPublicKey } from '@stoq/four-proof';
import { HyperMeshError } from '../errors';
import type { ProofVerifierConfig } from './proof-verifier';

export const FOUR_PROOF_CONFIG_FORMAT = 'hypermesh-four-proof/1';
const FALCON_PUBLIC_KEY_BYTES = 1793;
const NUMBER_PARAMS = ['plotBlocks', 'blockSize', 'spaceChallenges', 'powDifficulty', 'vdfIterations', 'timeToleranceMs', 'maxEncodedBytes'] as const;

function fail(where: string, msg: string): never {
  throw new HyperMeshError('FOUR_PROOF_CONFIG_INVALID', `${where}: ${msg}`);
}

function base64(where: string, v: unknown): Uint8Array {
  if (typeof v !== 'string' || v.length === 0) fail(where, 'must be base64');
  const b = Buffer.from(v, 'base64');
  if (b.toString('base64') !== v) fail(where, 'must be canonical base64');
  return new Uint8Array(b);
}

/** Validates a parsed config document; every problem names its field. */
export function parseFourProofConfig(doc: unknown, where = 'four-proof config'): ProofVerifierConfig {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail(where, 'not a JSON object');
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['format', 'ledgerKey', 'params', 'maxAnchorAgeBlocks'].includes(k)) fail(where, `unknown key "${k}"`);
  if (o['format'] !== FOUR_PROOF_CONFIG_FORMAT) fail(where, `format must be "${FOUR_PROOF_CONFIG_FORMAT}"`);
  const lk = o['ledgerKey'];
  if (typeof lk !== 'object' || lk === null) fail(`${where}: ledgerKey`, 'must be { algorithm, publicKey }');
  const { algorithm, publicKey } = lk as Record<string, unknown>;
  let ledgerPublicKey: LedgerPublicKey;
  const key = base64(`${where}: ledgerKey.publicKey`, publicKey);
  if (algorithm === 'falcon-1024') {
    if (key.length !== FALCON_PUBLIC_KEY_BYTES) fail(`${where}: ledgerKey.publicKey`, `a FALCON-1024 public key is ${FALCON_PUBLIC_KEY_BYTES} bytes, got ${key.length}`);
    ledgerPublicKey = { algorithm: 'falcon-1024', publicKey: key };
  } else if (algorithm === 'spki') ledgerPublicKey = key;
  else fail(`${where}: ledgerKey.algorithm`, 'must be "falcon-1024" or "spki"');
  const params: { -readonly [K in keyof FourProofParams]?: FourProofParams[K] } = {};
  const rawParams = o['params'] ?? {};
  if (typeof rawParams !== 'object' || rawParams === null || Array.isArray(rawParams)) fail(`${where}: params`, 'must be an object');
  for (const [k, v] of Object.entries(rawParams as Record<string, unknown>)) {
    if (k === 'minStake') {
      if (typeof v !== 'string' || !/^\d{1,20}$/.test(v)) fail(`${where}: params.minStake`, 'must be a decimal string');
      params.minStake = BigInt(v);
    } else if ((NUMBER_PARAMS as readonly string[]).includes(k)) {
      if (typeof v !== 'number') fail(`${where}: params.${k}`, 'must be a number');
      params[k as (typeof NUMBER_PARAMS)[number]] = v;
    } else fail(`${where}: params`, `unknown parameter "${k}"`);
  }
  try {
    resolveParams(params);
  } catch (err) {
    if (err instanceof FourProofError) fail(`${where}: ${err.field}`, err.message);
    throw err;
  }
  const age = o['maxAnchorAgeBlocks'] ?? 1000;
  if (typeof age !== 'number' || !Number.isSafeInteger(age) || age < 0 || age > 1_000_000) fail(`${where}: maxAnchorAgeBlocks`, 'must be an integer from 0 to 1000000');
  return { ledgerPublicKey, params, maxAnchorAgeBlocks: age };
}

export async function loadFourProofConfig(path: string): Promise<ProofVerifierConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new HyperMeshError('FOUR_PROOF_CONFIG_INVALID', `${path}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new HyperMeshError('FOUR_PROOF_CONFIG_INVALID', `${path}: not JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseFourProofConfig(doc, path);
}
