// Durable, permission-checked files for keys and certificates.
//
// - A key set (a CA's or a node's) comes into existence in one step: all its files are written
//   into a fresh temporary directory next to the target, each fsynced, then the directory is
//   fsynced and renamed onto the target. A crash leaves either no set or a complete one (plus a
//   temporary directory, which the next start reports).
// - A single file (a renewed certificate) is replaced atomically: temp file, fsync, rename, fsync
//   of the directory.
// - Temporary names carry the writer's pid, so a start can tell a concurrent writer's file
//   (its process is alive: leave it alone) from one left by a crash (report it, never adopt it).
// - Like ssh, we refuse private keys that group or others can access, and files or directories
//   that others can write (they could swap a key or a trust root under us).

import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { IdentityError } from './errors';

export const PRIVATE_FILE_MODE = 0o600;
export const PUBLIC_FILE_MODE = 0o644;
export const PRIVATE_DIR_MODE = 0o700;
/** Largest key or certificate file we read. */
export const MAX_IDENTITY_FILE_BYTES = 256 * 1024;

// Lazy name: a greedy one swallowed the pid (".cert.pem.<pid>"), so a live writer's temp file
// (a holder renewing while another process reads the set) was taken for an interrupted write.
const TEMP_FILE = /^\.(.+?)\.(?:(\d+)\.)?[0-9a-f]{12}\.tmp$/;
const CREATION_DIR = /^\.(.+)\.creating\.(\d+)\.[0-9a-f]{12}$/;

const q = (path: string): string => `'${path.replace(/'/g, `'\\''`)}'`;
const octal = (mode: number): string => `0${mode.toString(8).padStart(3, '0')}`;

/** Create `dir` (and parents) if missing, with mode 0700 for the directories we create. */
export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

function tempSuffix(): string {
  return `${process.pid}.${randomBytes(6).toString('hex')}`;
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Temp entries of `dir` written by a process that is gone (or by an older STOQ, without a pid in
 * the name). `pidOf` returns an entry's pid (undefined: none in the name) or null for other
 * entries. Existence is re-checked after the pid: a writer that renamed its temp and exited
 * between our readdir and the pid check left nothing behind.
 */
async function leftoversIn(dir: string, pidOf: (entry: string) => string | undefined | null): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir)) {
    const pid = pidOf(e);
    if (pid === null || (pid !== undefined && processAlive(Number(pid)))) continue;
    const still = await lstat(join(dir, e)).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw err;
      },
    );
    if (still) out.push(join(dir, e));
  }
  return out;
}

async function writeAndSync(path: string, data: string | Uint8Array, mode: number, flags: number): Promise<void> {
  const handle = await open(path, flags, mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed the creation mode
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Atomically replace `path` with `data`, leaving it with exactly `mode`. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${tempSuffix()}.tmp`);
  try {
    await writeAndSync(tmp, data, mode, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dirname(path));
}

export interface SetFile {
  name: string;
  data: string | Uint8Array;
  mode: number;
}

/**
 * Create directory `target` holding exactly `files`, all or nothing (see the top of this file).
 * `target` must not exist or be an empty directory. Returns false, writing nothing, when another
 * process created `target` first (the caller then loads that one).
 */
export async function createDirectoryAtomic(target: string, files: readonly SetFile[]): Promise<boolean> {
  const parent = dirname(target);
  await ensureDir(parent);
  const tmp = join(parent, `.${basename(target)}.creating.${tempSuffix()}`);
  await mkdir(tmp, { mode: PRIVATE_DIR_MODE });
  let committed = false;
  try {
    const dir = await open(tmp, constants.O_RDONLY);
    try {
      await dir.chmod(PRIVATE_DIR_MODE);
    } finally {
      await dir.close();
    }
    for (const f of files) await writeAndSync(join(tmp, f.name), f.data, f.mode, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL);
    await syncDir(tmp);
    try {
      await rename(tmp, target); // replaces an empty directory, fails on a non-empty one
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
      throw err;
    }
    committed = true;
    await syncDir(parent);
    return true;
  } finally {
    if (!committed) await rm(tmp, { recursive: true, force: true });
  }
}

export interface SetDirectory {
  /** Names of the directory's entries; empty when the directory does not exist. */
  entries: Set<string>;
  exists: boolean;
}

/**
 * Look at the directory holding a key set before reading anything: its permissions and its
 * parent's, and leftovers of interrupted writes (a creation directory next to it, temp files in
 * it). Writes nothing. `what` names the set in messages ("development CA", "identity").
 */
export async function inspectSetDirectory(dir: string, what: string): Promise<SetDirectory> {
  const parent = dirname(dir);
  const parentStat = await stat(parent).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (parentStat) {
    // Others who can write the parent can rename the set away and plant their own (unless sticky).
    if ((parentStat.mode & 0o002) !== 0 && (parentStat.mode & 0o1000) === 0) {
      throw new IdentityError(
        'IDENTITY_PERMISSIONS',
        [parent],
        `${what} ${dir}: its parent directory ${parent} is world-writable (mode ${octal(parentStat.mode & 0o7777)}), so anyone could replace the keys; run: chmod o-w ${q(parent)}`,
        { details: { path: parent, mode: parentStat.mode & 0o7777 } },
      );
    }
    const leftovers = await leftoversIn(parent, (e) => {
      const m = CREATION_DIR.exec(e);
      return m && m[1] === basename(dir) ? m[2] : null;
    });
    if (leftovers.length > 0) {
      throw new IdentityError(
        'IDENTITY_TEMP_LEFTOVER',
        leftovers,
        `${what} ${dir}: found ${leftovers.join(', ')}, left by a creation that was interrupted (crash or kill) before it completed; ` +
          `it was never used. Remove it (rm -r ${leftovers.map(q).join(' ')}) and start again` +
          (leftovers.length === 1 ? '' : ' (all of them)'),
      );
    }
  }
  const st = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!st) return { entries: new Set(), exists: false };
  if (!st.isDirectory()) {
    throw new IdentityError('IDENTITY_DAMAGED', [dir], `${what} ${dir} is not a directory; move it away to create a new ${what}`);
  }
  if ((st.mode & 0o022) !== 0) {
    throw new IdentityError(
      'IDENTITY_PERMISSIONS',
      [dir],
      `${what} directory ${dir} is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode ${octal(st.mode & 0o7777)}), so they could replace the keys; run: chmod go-w ${q(dir)}`,
      { details: { path: dir, mode: st.mode & 0o7777 } },
    );
  }
  const entries = await readdir(dir);
  const temps = await leftoversIn(dir, (e) => {
    const m = TEMP_FILE.exec(e);
    return m ? m[2] : null;
  });
  if (temps.length > 0) {
    throw new IdentityError(
      'IDENTITY_TEMP_LEFTOVER',
      temps,
      `${what} ${dir}: found ${temps.join(', ')}, left by a write that was interrupted; it was never used and the files it was to replace are intact. ` +
        `Remove it (rm ${temps.map(q).join(' ')}) and start again`,
    );
  }
  return { entries: new Set(entries), exists: true };
}

export type FileKind = 'private' | 'public';

/**
 * Read a file of a key set as UTF-8. A private file that group or others can access, or any file
 * that group or others can write, is refused (checked on the open descriptor, so the file
 * checked is the file read). Empty and oversized files are damaged; `remedy` says what to do.
 */
export async function readSetFile(path: string, kind: FileKind, what: string, remedy: string): Promise<string> {
  const handle = await open(path, constants.O_RDONLY).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new IdentityError('IDENTITY_INCOMPLETE', [path], `${what}: ${path} is missing`, { cause: err });
    throw err;
  });
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new IdentityError('IDENTITY_DAMAGED', [path], `${what}: ${path} is not a regular file; ${remedy}`);
    const mode = st.mode & 0o777;
    if (kind === 'private' && (mode & 0o077) !== 0) {
      throw new IdentityError(
        'IDENTITY_PERMISSIONS',
        [path],
        `permissions ${octal(mode)} for private key file ${q(path)} are too open: it must not be accessible by group or others (run: chmod 600 ${q(path)})`,
        { details: { path, mode } },
      );
    }
    if (kind === 'public' && (mode & 0o022) !== 0) {
      throw new IdentityError(
        'IDENTITY_PERMISSIONS',
        [path],
        `permissions ${octal(mode)} for ${q(path)} let group or others replace it (run: chmod 644 ${q(path)})`,
        { details: { path, mode } },
      );
    }
    if (st.size === 0) throw new IdentityError('IDENTITY_DAMAGED', [path], `${what}: ${path} is empty; ${remedy}`);
    if (st.size > MAX_IDENTITY_FILE_BYTES) {
      throw new IdentityError('IDENTITY_DAMAGED', [path], `${what}: ${path} is ${st.size} bytes, more than the ${MAX_IDENTITY_FILE_BYTES} an identity file may have; ${remedy}`);
    }
    return (await handle.readFile()).toString('utf8');
  } finally {
    await handle.close();
  }
}
