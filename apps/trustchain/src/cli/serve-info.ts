// <data-dir>/serve.json: where a running `trustchain serve` listens, written atomically at start
// and removed at a clean stop, so the client commands find the server from the data dir alone.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PUBLIC_FILE_MODE, writeFileAtomic } from '@stoq/core';
import { CliError } from './cli-error';

export const SERVE_FILE = 'serve.json';

export interface ServeInfo {
  readonly pid: number;
  readonly instance: string;
  /** STOQ address, `[addr]:port`. */
  readonly stoq: string;
  readonly dns: string;
  /** RFC 6962 HTTP API, or null while it is not served. */
  readonly ctHttp: string | null;
  readonly rootFingerprint: string;
  readonly startedAt: string;
}

export async function writeServeInfo(dataDir: string, info: ServeInfo): Promise<void> {
  await writeFileAtomic(join(dataDir, SERVE_FILE), `${JSON.stringify(info, null, 2)}\n`, PUBLIC_FILE_MODE);
}

/** Removes serve.json if it is still this process's (a newer serve may have replaced it). */
export async function removeServeInfo(dataDir: string, pid: number): Promise<void> {
  const info = await readServeInfo(dataDir).catch(() => null);
  if (info?.pid === pid) await rm(join(dataDir, SERVE_FILE), { force: true });
}

export async function readServeInfo(dataDir: string): Promise<ServeInfo> {
  const path = join(dataDir, SERVE_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CliError('UNREACHABLE', `no TrustChain is serving ${dataDir} (${path} does not exist); start \`trustchain serve --data-dir ${dataDir}\``);
    }
    throw new CliError('DATA_DIR', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  let info: unknown;
  try {
    info = JSON.parse(text);
  } catch (err) {
    throw new CliError('DATA_DIR', `${path} is not JSON (${(err as Error).message}); restart \`trustchain serve\` to rewrite it`, { cause: err });
  }
  const i = info as Partial<ServeInfo>;
  if (typeof i.stoq !== 'string' || typeof i.rootFingerprint !== 'string') throw new CliError('DATA_DIR', `${path} names no STOQ address; restart \`trustchain serve\` to rewrite it`);
  return i as ServeInfo;
}
