// A service's own config section ([caesar] in caesar.toml): read with the file, typed by its
// reader, unknown keys refused naming the file, the section and the key; runServeCommand hands it
// to the app's settings together with the flags before anything else starts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStoqError, type ConfigSection } from '@stoq/core';
import { COMMON_SERVE_OPTIONS, isServiceError, loadServiceConfig, runServeCommand, type ServiceConfigSection } from '../src';

interface Shop {
  readonly store: string;
  readonly file: string | null;
  readonly limit: number;
}
const SHOP: ServiceConfigSection<Shop> = {
  name: 'shop',
  read: (s: ConfigSection, baseDir: string) => {
    const file = s.optionalString('file');
    return { store: s.oneOf('store', 'memory', ['memory', 'disk'] as const), file: file === null ? null : join(baseDir, file), limit: s.int('limit', 10, 1, 100) };
  },
};

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stoq-service-section-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, `[node]\nname = "shop-1"\n[service]\nlease_seconds = 10\n${text}`);
  return path;
}

async function refusal(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a refusal');
}

describe('loadServiceConfig', () => {
  it('reads the declared section, typed, with paths relative to the file; [service] as before', async () => {
    const loaded = await loadServiceConfig(config('a.toml', '[shop]\nstore = "disk"\nfile = "shop.db"\nlimit = 7\n'), SHOP);
    expect(loaded.own).toEqual({ store: 'disk', file: join(dir, 'shop.db'), limit: 7 });
    expect(loaded.service.leaseSeconds).toBe(10);
    expect(loaded.config.node.name).toBe('shop-1');
    expect(loaded.baseDir).toBe(dir);
  });

  it('reads an absent section as empty (the reader\'s defaults), and without a declaration gives undefined', async () => {
    expect((await loadServiceConfig(config('b.toml', ''), SHOP)).own).toEqual({ store: 'memory', file: null, limit: 10 });
    expect((await loadServiceConfig(config('c.toml', '')).then((l) => l.own))).toBeUndefined();
  });

  it('refuses an unknown key naming the file, the section and the key; bad values name the key', async () => {
    const path = config('d.toml', '[shop]\nstore = "disk"\nlimt = 7\n');
    const err = await refusal(loadServiceConfig(path, SHOP));
    expect(isStoqError(err, 'CONFIG_INVALID')).toBe(true);
    expect(err.message).toBe(`${path}: shop.limt: unknown key`);
    const bad = await refusal(loadServiceConfig(config('e.toml', '[shop]\nlimit = 1000\n'), SHOP));
    expect(bad.message).toMatch(/e\.toml: shop\.limit: 1000 is out of range 1\.\.100$/);
    const kind = await refusal(loadServiceConfig(config('f.toml', '[shop]\nstore = "cloud"\n'), SHOP));
    expect(kind.message).toMatch(/f\.toml: shop\.store: "cloud" is not one of memory, disk$/);
  });

  it('refuses the section when the service does not declare it, as before', async () => {
    const err = await refusal(loadServiceConfig(config('g.toml', '[shop]\nstore = "disk"\n')));
    expect(err.message).toMatch(/g\.toml: shop: unknown section/);
  });

  it('refuses a declaration that would shadow a section runService reads', async () => {
    for (const name of ['service', 'node', 'transport', 'Shop', '']) {
      const err = await refusal(loadServiceConfig(config('h.toml', ''), { name, read: () => null }));
      expect(isServiceError(err, 'CONFIG_INVALID')).toBe(true);
    }
  });
});

describe('runServeCommand with a section', () => {
  class FlagError extends Error {}
  const usage = 'usage: shop serve --config FILE [--limit N]';
  const options = { ...COMMON_SERVE_OPTIONS, limit: { type: 'string' } } as const;
  let stderr = '';
  beforeEach(() => {
    stderr = '';
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    });
  });
  afterEach(() => jest.restoreAllMocks());

  const command = (seen: Array<{ values: Record<string, unknown>; fromFile: Shop | undefined }>) => ({
    service: 'shop',
    usage,
    options,
    section: SHOP,
    usageErrors: [FlagError],
    settings: (values: Record<string, unknown>, fromFile?: Shop): Shop => {
      seen.push({ values, fromFile });
      if (values['limit'] === 'x') throw new FlagError('--limit must be a number');
      return { ...fromFile!, limit: values['limit'] === undefined ? fromFile!.limit : Number(values['limit']) };
    },
    checkFlags: (values: Record<string, unknown>): void => {
      if (values['limit'] === 'none') throw new FlagError('--limit none: checked before the file');
    },
    setup: () => undefined,
  });

  it('gives settings the flags and the file\'s section while the config loads, before the service starts', async () => {
    const seen: Array<{ values: Record<string, unknown>; fromFile: Shop | undefined }> = [];
    // No service.trustchain: runService stops right after the config, so what ran before it shows.
    const err = await refusal(runServeCommand(['--config', config('i.toml', '[shop]\nstore = "disk"\nlimit = 7\n'), '--limit', '3'], command(seen)));
    expect(isServiceError(err, 'CONFIG_INVALID')).toBe(true);
    expect(err.message).toMatch(/service\.trustchain is not set/);
    expect(seen).toEqual([{ values: expect.objectContaining({ limit: '3' }), fromFile: { store: 'disk', file: null, limit: 7 } }]);
  });

  it('a bad flag is a usage error (exit 2); an unknown key in the section is refused before settings run', async () => {
    const seen: Array<{ values: Record<string, unknown>; fromFile: Shop | undefined }> = [];
    expect(await runServeCommand(['--config', config('j.toml', '[shop]\nstore = "disk"\n'), '--limit', 'x'], command(seen))).toBe(2);
    expect(stderr).toBe('shop serve: --limit must be a number\n');
    seen.length = 0;
    const path = config('k.toml', '[shop]\nstroe = "disk"\n');
    const err = await refusal(runServeCommand(['--config', path, '--limit', 'x'], command(seen)));
    expect(err.message).toBe(`${path}: shop.stroe: unknown key`);
    expect(seen).toEqual([]);
  });

  it('checkFlags refuses what the flags alone get wrong before the config file is read', async () => {
    const seen: Array<{ values: Record<string, unknown>; fromFile: Shop | undefined }> = [];
    expect(await runServeCommand(['--config', join(dir, 'missing.toml'), '--limit', 'none'], command(seen))).toBe(2);
    expect(stderr).toBe('shop serve: --limit none: checked before the file\n');
    expect(seen).toEqual([]);
  });
});
