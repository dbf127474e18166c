// The layering rules of DESIGN.md hold for this tree, and the checker finds each kind of breach.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { checkModuleBoundaries } = require('../../scripts/module-boundaries.cjs') as { checkModuleBoundaries(root?: string): string[] };

function pkg(root: string, rel: string, name: string, deps: Record<string, string>, src: string): void {
  mkdirSync(join(root, rel, 'src'), { recursive: true });
  writeFileSync(join(root, rel, 'package.json'), JSON.stringify({ name, dependencies: deps }));
  writeFileSync(join(root, rel, 'src', 'index.ts'), src);
}

test('this repository keeps its module boundaries', () => {
  expect(checkModuleBoundaries()).toEqual([]);
});

test('an app importing an app, a library importing an app, and consensus importing STOQ are caught', () => {
  const root = mkdtempSync(join(tmpdir(), 'stoq-boundaries-'));
  try {
    pkg(root, 'apps/caesar', '@stoq/caesar', {}, "import { x } from '@stoq/trustchain';\n");
    pkg(root, 'apps/trustchain', '@stoq/trustchain', { '@stoq/core': '0.1.0' }, "export const x = 1;\nimport '../../caesar/src/index';\n");
    pkg(root, 'libs/stoq-core', '@stoq/core', {}, "export const y = require('../../../apps/trustchain/src/index');\n");
    pkg(root, 'libs/consensus', '@stoq/consensus', { '@stoq/core': '0.1.0' }, "import { z } from './local';\nimport { w } from '@stoq/rpc';\n");
    const problems = checkModuleBoundaries(root);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^apps\/caesar: an app imports another app .*imports @stoq\/trustchain/),
        expect.stringMatching(/^apps\/trustchain: an app imports another app .*imports \.\.\/\.\.\/caesar\/src\/index/),
        expect.stringMatching(/^libs\/stoq-core: a library imports an app/),
        expect.stringMatching(/^libs\/consensus: libs\/consensus imports STOQ .*depends on @stoq\/core/),
        expect.stringMatching(/^libs\/consensus: libs\/consensus imports STOQ .*imports @stoq\/rpc/),
      ]),
    );
    expect(problems).toHaveLength(5);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
