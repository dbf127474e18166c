// `hypermesh genesis`: the genesis file from the validators' enrolled identities (their configs:
// instance name = node.name, FALCON public key = <data_dir>/identity/falcon.pub) or from
// published keys (`--validator instance=path/to/falcon.pub`).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfigWithSections, NODE_IDENTITY_FILES, pemToDer } from '@stoq/core';
import { readServiceSection } from '@stoq/service';
import { HyperMeshError } from './errors';
import { genesisToJson, parseGenesis, type GenesisValidator } from './genesis';

export interface GenesisCommandOptions {
  chainId: string;
  out: string;
  configs: readonly string[];
  validators: readonly string[];
}

async function falconKeyFile(path: string): Promise<Uint8Array> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new HyperMeshError('GENESIS_INVALID', `${path}: cannot read the FALCON public key (enroll the validator first: hypermesh enroll): ${(err as Error).message}`, { cause: err });
  }
  try {
    return pemToDer(pem, 'FALCON-1024 PUBLIC KEY', path);
  } catch (err) {
    throw new HyperMeshError('GENESIS_INVALID', `${path}: ${(err as Error).message}`, { cause: err });
  }
}

export async function buildGenesis(o: GenesisCommandOptions): Promise<string> {
  const entries: Array<Omit<GenesisValidator, 'id'>> = [];
  for (const configPath of o.configs) {
    const { config } = await loadConfigWithSections(configPath, { sections: { service: readServiceSection } });
    entries.push({ instance: config.node.name, falconPublicKey: await falconKeyFile(join(config.node.dataDir, NODE_IDENTITY_FILES.dir, NODE_IDENTITY_FILES.falconPub)), weight: 1, address: null });
  }
  for (const spec of o.validators) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new HyperMeshError('USAGE', `--validator ${spec}: expected instance=path/to/falcon.pub`);
    entries.push({ instance: spec.slice(0, eq), falconPublicKey: await falconKeyFile(spec.slice(eq + 1)), weight: 1, address: null });
  }
  const doc = JSON.parse(genesisToJson({ chainId: o.chainId, validators: entries.map((e, id) => ({ ...e, id })) })) as unknown;
  const g = parseGenesis(doc, 'the new genesis'); // the same checks every validator applies
  const text = genesisToJson(g);
  await writeFile(o.out, text, { flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') throw new HyperMeshError('USAGE', `${o.out} exists: a genesis is never overwritten (remove it first if you mean to)`);
    throw err;
  });
  return g.sha256;
}
