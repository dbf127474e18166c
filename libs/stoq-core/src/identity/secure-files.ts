// Durable, permission-checked files for keys and certificates.
//
// Writes are atomic (temp file, fsync, rename, fsync of the directory), so a crash leaves either
// the old file or the new one, never a torn one. Private keys are written 0600 and, like ssh,
// we refuse to read a private key that group or others can access.

import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { StoqError } from '../errors';

export const PRIVATE_FILE_MODE = 0o600;
export const PUBLIC_FILE_MODE = 0o644;
export const PRIVATE_DIR_MODE = 0o700;
/** Largest key or certificate file we read. */
export const MAX_IDENTITY_FILE_BYTES = 256 * 1024;

/** Create `dir` (and parents) if missing, with mode 0700 for the directories we create. */
export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** Atomically replace `path` with `data`, leaving it with exactly `mode`. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed or the creation mode
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dirname(path));
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** True when `path` exists (any type). */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Read a bounded regular file as UTF-8. */
export async function readBoundedFile(path: string): Promise<string> {
  const handle = await open(path, constants.O_RDONLY);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new StoqError('TLS_CONFIG', `${path} is not a regular file`);
    if (st.size > MAX_IDENTITY_FILE_BYTES) {
      throw new StoqError('TLS_CONFIG', `${path} is ${st.size} bytes, more than the ${MAX_IDENTITY_FILE_BYTES} an identity file may have`);
    }
    return (await handle.readFile()).toString('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * Read a private key file, refusing it (as ssh does) when group or others have any access.
 * The check uses the open file descriptor, so the file checked is the file read.
 */
export async function readPrivateFile(path: string): Promise<string> {
  const handle = await open(path, constants.O_RDONLY);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new StoqError('TLS_CONFIG', `${path} is not a regular file`);
    const mode = st.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new StoqError(
        'TLS_CONFIG',
        `permissions 0${mode.toString(8)} for private key file '${path}' are too open: it must not be accessible by group or others (run: chmod 600 '${path}')`,
        { details: { path, mode } },
      );
    }
    if (st.size > MAX_IDENTITY_FILE_BYTES) {
      throw new StoqError('TLS_CONFIG', `${path} is ${st.size} bytes, more than the ${MAX_IDENTITY_FILE_BYTES} an identity file may have`);
    }
    return (await handle.readFile()).toString('utf8');
  } finally {
    await handle.close();
  }
}

