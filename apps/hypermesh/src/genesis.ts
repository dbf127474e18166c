// The genesis file on disk (the format and its validation are @stoq/consensus's genesis-file.ts),
// and which validator this instance is.
import { readFile } from 'node:fs/promises';
import { GenesisError, parseGenesis as parseGenesisDocument, type GenesisFile, type GenesisValidator, type LoadedGenesis } from '@stoq/consensus';
import { HyperMeshError } from './errors';

export { GENESIS_FORMAT, FALCON1024_PUBLIC_KEY_BYTES, genesisToJson, type GenesisFile, type GenesisValidator, type LoadedGenesis } from '@stoq/consensus';

/** Validates a parsed genesis document; every problem is GENESIS_INVALID naming its field. */
export function parseGenesis(doc: unknown, where = 'genesis'): LoadedGenesis {
  try {
    return parseGenesisDocument(doc, where);
  } catch (err) {
    if (err instanceof GenesisError) throw new HyperMeshError('GENESIS_INVALID', err.message, { cause: err });
    throw err;
  }
}

export async function loadGenesis(path: string): Promise<LoadedGenesis> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new HyperMeshError('GENESIS_INVALID', `${path}: cannot read the genesis file: ${(err as Error).message}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new HyperMeshError('GENESIS_INVALID', `${path}: not JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseGenesis(doc, path);
}

/** The validator this instance is, checked by instance name and FALCON key. */
export function selfInGenesis(g: GenesisFile, instance: string, falconPublicKey: Uint8Array): GenesisValidator {
  const v = g.validators.find((x) => x.instance === instance);
  if (!v) throw new HyperMeshError('NOT_A_VALIDATOR', `instance "${instance}" is not in the genesis validator set (${g.validators.map((x) => x.instance).join(', ')})`);
  if (!Buffer.from(v.falconPublicKey).equals(Buffer.from(falconPublicKey))) {
    throw new HyperMeshError('NOT_A_VALIDATOR', `instance "${instance}": its FALCON-1024 key (identity/falcon.pub) is not the one genesis lists for validator ${v.id}`);
  }
  return v;
}
