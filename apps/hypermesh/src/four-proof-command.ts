// `hypermesh four-proof`: writes the chain's four-proof rules file (proofs/four-proof-config.ts)
// from Caesar's FALCON-1024 public key (its <data_dir>/identity/falcon.pub), validated the way
// `serve --four-proof` reads it.
import { readFile, writeFile } from 'node:fs/promises';
import { pemToDer } from '@stoq/core';
import { HyperMeshError } from './errors';
import { FOUR_PROOF_CONFIG_FORMAT, parseFourProofConfig } from './proofs/four-proof-config';

export interface FourProofCommandOptions {
  ledgerFalconKeyPath: string;
  out: string;
  maxAnchorAgeBlocks?: number;
  powDifficulty?: number;
  minStake?: string;
}

export async function buildFourProofConfig(o: FourProofCommandOptions): Promise<void> {
  let key: Uint8Array;
  try {
    key = pemToDer(await readFile(o.ledgerFalconKeyPath, 'utf8'), 'FALCON-1024 PUBLIC KEY', o.ledgerFalconKeyPath);
  } catch (err) {
    throw new HyperMeshError('FOUR_PROOF_CONFIG_INVALID', `${o.ledgerFalconKeyPath}: cannot read the ledger's FALCON-1024 public key: ${(err as Error).message}`, { cause: err });
  }
  const params = { ...(o.powDifficulty !== undefined ? { powDifficulty: o.powDifficulty } : {}), ...(o.minStake !== undefined ? { minStake: o.minStake } : {}) };
  const doc = { format: FOUR_PROOF_CONFIG_FORMAT, ledgerKey: { algorithm: 'falcon-1024', publicKey: Buffer.from(key).toString('base64') }, params, maxAnchorAgeBlocks: o.maxAnchorAgeBlocks ?? 1000 };
  parseFourProofConfig(doc, 'the new four-proof rules'); // the same checks every validator applies
  await writeFile(o.out, `${JSON.stringify(doc, null, 2)}\n`, { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') throw new HyperMeshError('USAGE', `${o.out} exists: the chain's rules are never overwritten (remove it first if you mean to)`);
    throw err;
  });
}
