// The HyperMesh genesis file as services other than the validators use it (TrustChain approves
// earned certificates with it, Caesar rewards and slashes with it). The validators enroll with
// TrustChain before the file can be written, so a service may start first: a missing file is
// looked for again on each use until it appears, and once read it is kept (a genesis never
// changes). A file that exists but is not a valid genesis is an error, at start and on use.
import { readFileSync } from 'node:fs';
import { GenesisError, parseGenesis, type LoadedGenesis } from '@stoq/consensus';
import { ServiceError } from './errors';

export interface GenesisSource {
  /** The genesis, or null while the file does not exist yet. Throws ServiceError GENESIS_INVALID. */
  current(): LoadedGenesis | null;
}

export function genesisFileSource(path: string): GenesisSource {
  const read = (): LoadedGenesis | null => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new ServiceError('GENESIS_INVALID', `${path}: cannot read the HyperMesh genesis (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new ServiceError('GENESIS_INVALID', `${path}: the HyperMesh genesis is not JSON (${(err as Error).message})`, { cause: err });
    }
    try {
      return parseGenesis(doc, path);
    } catch (err) {
      if (err instanceof GenesisError) throw new ServiceError('GENESIS_INVALID', err.message, { cause: err });
      throw err;
    }
  };
  let loaded = read();
  return {
    current: () => (loaded ??= read()),
  };
}
