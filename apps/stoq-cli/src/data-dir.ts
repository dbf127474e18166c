// Which data dir (development CA + identities) a command uses. In order: --data-dir, the
// STOQ_DATA_DIR environment variable, else the `node.data_dir` of the nearest stoq.toml found by
// walking up from the current directory (so `stoq ping` run from docs/ uses the repository's
// .stoq, the same one `npm start` uses). Without any of them the command refuses to run rather
// than create a new CA in whatever directory it was started from.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadConfig } from '@stoq/core';
import { CliError } from './cli-error';

export const DATA_DIR_ENV = 'STOQ_DATA_DIR';
export const CONFIG_FILE_NAME = 'stoq.toml';

export interface DataDirChoice {
  /** Absolute path. */
  dir: string;
  /** Where the choice came from, for messages: `--data-dir`, `STOQ_DATA_DIR` or `node.data_dir in /x/stoq.toml`. */
  source: string;
}

export interface DataDirInputs {
  flag?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** The explicit choices only (flag, then environment), or null. */
export function explicitDataDir({ flag, env = process.env, cwd = process.cwd() }: DataDirInputs): DataDirChoice | null {
  if (flag !== undefined && flag !== '') return { dir: resolve(cwd, flag), source: '--data-dir' };
  const fromEnv = env[DATA_DIR_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return { dir: resolve(cwd, fromEnv), source: DATA_DIR_ENV };
  return null;
}

/** The nearest stoq.toml at or above `start`, or null. */
export function findConfigUpwards(start: string): string | null {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    const candidate = join(dir, CONFIG_FILE_NAME);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

export async function resolveDataDir(inputs: DataDirInputs = {}): Promise<DataDirChoice> {
  const explicit = explicitDataDir(inputs);
  if (explicit) return explicit;
  const cwd = inputs.cwd ?? process.cwd();
  const configPath = findConfigUpwards(cwd);
  if (!configPath) {
    throw new CliError(
      'DATA_DIR',
      `no data dir: pass --data-dir DIR or set ${DATA_DIR_ENV}, or run inside a directory that has a ${CONFIG_FILE_NAME} ` +
        `(none found from ${cwd} up to /). The data dir holds the development CA; use the node's, so both trust each other.`,
    );
  }
  let config;
  try {
    config = await loadConfig(configPath);
  } catch (err) {
    throw new CliError('DATA_DIR', `looking for the data dir in ${configPath}: ${(err as Error).message} (or pass --data-dir DIR)`, { cause: err });
  }
  return { dir: config.node.dataDir, source: `node.data_dir in ${configPath}` };
}
