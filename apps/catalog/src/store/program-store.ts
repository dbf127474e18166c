// Durable, content-addressed program store: <dir>/<hash>.wasm (the module; <hash>.js for a
// JavaScript program's source) and <hash>.json (its
// record, written second: the commit marker). Each file is written to a temporary name, fsynced,
// renamed into place and the directory fsynced, so an acknowledged upload survives a crash and a
// crash mid-upload leaves nothing that looks committed. Opening refuses damaged state (a record
// without its module, a module whose bytes do not hash to its name) instead of repairing it;
// a module without a record was never acknowledged and is removed.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CatalogError } from '../errors';
import { isProgramHash } from '../core/program-hash';

export interface ExportRecord {
  readonly name: string;
  readonly params: readonly string[];
  readonly results: readonly string[];
}

export interface ProgramRecord {
  readonly hash: string;
  readonly size: number;
  /** "<service>/<instance>" of the first uploader. */
  readonly owner: string;
  readonly uploadedAtNs: string;
  readonly exports: readonly ExportRecord[];
  readonly imports: readonly string[];
  readonly assetId: string;
  readonly assetHeight: string;
  /** Absent in records written before JavaScript programs: 'wasm'. */
  readonly language?: ProgramLanguageName;
  /** JavaScript programs: SHA-256 (hex) of the QuickJS runtime they were checked with. */
  readonly runtimeHash?: string;
}

export type ProgramLanguageName = 'wasm' | 'javascript';

/** The file holding a program's bytes. */
export function programFile(hash: string, language: ProgramLanguageName | undefined): string {
  return `${hash}.${language === 'javascript' ? 'js' : 'wasm'}`;
}

function writeDurably(dir: string, name: string, data: Uint8Array | string): void {
  const tmp = join(dir, `.${name}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

export class ProgramStore {
  private readonly records = new Map<string, ProgramRecord>();
  private sorted: string[] | null = null;

  private constructor(readonly dir: string) {}

  static open(dir: string): ProgramStore {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const store = new ProgramStore(dir);
    const names = readdirSync(dir);
    const modules = new Set(names.filter((n) => !n.startsWith('.') && (n.endsWith('.wasm') || n.endsWith('.js'))));
    for (const n of names) {
      if (n.startsWith('.') && n.endsWith('.tmp')) unlinkSync(join(dir, n)); // never renamed: never acknowledged
    }
    for (const n of names.filter((x) => x.endsWith('.json'))) {
      const hash = n.slice(0, -5);
      if (!isProgramHash(hash)) throw new CatalogError('STORE_DAMAGED', `${join(dir, n)}: not a program record name`);
      let record: ProgramRecord;
      try {
        record = JSON.parse(readFileSync(join(dir, n), 'utf8')) as ProgramRecord;
      } catch (cause) {
        throw new CatalogError('STORE_DAMAGED', `${join(dir, n)}: unreadable record: ${(cause as Error).message}`, { cause });
      }
      const file = programFile(hash, record.language);
      if (!modules.has(file)) throw new CatalogError('STORE_DAMAGED', `${join(dir, n)}: its module ${file} is missing`);
      const bytes = readFileSync(join(dir, file));
      const actual = createHash('sha256').update(bytes).digest('hex');
      if (actual !== hash) throw new CatalogError('STORE_DAMAGED', `${join(dir, file)}: its bytes hash to ${actual}, not to its name`);
      if (record.hash !== hash || record.size !== bytes.length) throw new CatalogError('STORE_DAMAGED', `${join(dir, n)}: the record does not describe its module`);
      store.records.set(hash, record);
      modules.delete(file);
    }
    for (const orphan of modules) unlinkSync(join(dir, orphan)); // module written, record not: never acknowledged
    return store;
  }

  get size(): number {
    return this.records.size;
  }

  get(hash: string): ProgramRecord | undefined {
    return this.records.get(hash);
  }

  /** Stores a new program durably; returns false (and changes nothing) if it is already stored. */
  add(record: ProgramRecord, module: Uint8Array): boolean {
    if (this.records.has(record.hash)) return false;
    writeDurably(this.dir, programFile(record.hash, record.language), module);
    writeDurably(this.dir, `${record.hash}.json`, JSON.stringify(record));
    this.records.set(record.hash, record);
    this.sorted = null;
    return true;
  }

  /** Replaces a program's record (e.g. its HyperMesh asset id once committed). */
  update(record: ProgramRecord): void {
    if (!this.records.has(record.hash)) throw new CatalogError('NO_SUCH_PROGRAM', `no program ${record.hash}`);
    writeDurably(this.dir, `${record.hash}.json`, JSON.stringify(record));
    this.records.set(record.hash, record);
  }

  module(hash: string): Promise<Buffer> {
    return readFile(join(this.dir, programFile(hash, this.records.get(hash)?.language)));
  }

  /** Records ordered by hash, after `after` (exclusive), filtered. */
  list(after: string, limit: number, filter: (r: ProgramRecord) => boolean): ProgramRecord[] {
    this.sorted ??= [...this.records.keys()].sort();
    const out: ProgramRecord[] = [];
    for (const h of this.sorted) {
      if (h <= after) continue;
      const r = this.records.get(h)!;
      if (!filter(r)) continue;
      out.push(r);
      if (out.length === limit) break;
    }
    return out;
  }
}
