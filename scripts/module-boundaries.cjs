// Module boundaries (DESIGN.md "Layers"): apps talk over STOQ only, so
//   - an app never imports another app,
//   - a library never imports an app,
//   - libs/consensus imports nothing of STOQ (it is a pure state machine + simulator).
// Checked from each workspace's package.json dependencies and from every import/require in its
// src/ (relative paths that leave the package count too). `node scripts/module-boundaries.cjs`
// prints violations and exits 1; the build runs it, and tests-e2e has a test that does.
'use strict';
const { readdirSync, readFileSync, statSync, existsSync } = require('node:fs');
const { dirname, join, relative, resolve, sep } = require('node:path');

const repoRoot = resolve(__dirname, '..');

function workspaces(root) {
  const out = [];
  for (const group of ['apps', 'libs']) {
    const dir = join(root, group);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const pkg = join(dir, name, 'package.json');
      if (!existsSync(pkg)) continue;
      const json = JSON.parse(readFileSync(pkg, 'utf8'));
      out.push({ kind: group === 'apps' ? 'app' : 'lib', dir: join(dir, name), rel: `${group}/${name}`, name: json.name, deps: Object.keys({ ...json.dependencies, ...json.devDependencies, ...json.peerDependencies }) });
    }
  }
  return out;
}

function sourceFiles(dir) {
  if (!existsSync(dir)) return [];
  const files = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) files.push(...sourceFiles(p));
    else if (/\.(ts|mts|cts|js|mjs|cjs)$/.test(entry) && !entry.endsWith('.d.ts')) files.push(p);
  }
  return files;
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;

/** Every violation, as "<workspace>: <what> (<where>)". */
function checkModuleBoundaries(root = repoRoot) {
  const ws = workspaces(root);
  const byName = new Map(ws.map((w) => [w.name, w]));
  const problems = [];
  const forbidden = (from, target) => {
    if (!target || target === from) return null;
    if (target.kind === 'app') return from.kind === 'app' ? 'an app imports another app (apps talk over STOQ only)' : 'a library imports an app';
    if (from.rel === 'libs/consensus' && (target.name.startsWith('@stoq/') || target.rel === 'native')) return 'libs/consensus imports STOQ (it must stay a pure state machine)';
    return null;
  };
  for (const w of ws) {
    for (const dep of w.deps) {
      const why = forbidden(w, byName.get(dep)) ?? (w.rel === 'libs/consensus' && dep.startsWith('@stoq/') ? 'libs/consensus imports STOQ (it must stay a pure state machine)' : null);
      if (why) problems.push(`${w.rel}: ${why}: depends on ${dep} (package.json)`);
    }
    for (const file of sourceFiles(join(w.dir, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(IMPORT)) {
        const spec = m[1];
        let target;
        if (spec.startsWith('.')) {
          const abs = resolve(dirname(file), spec);
          if (abs === w.dir || abs.startsWith(w.dir + sep)) continue;
          target = ws.find((o) => abs === o.dir || abs.startsWith(o.dir + sep)) ?? (abs.startsWith(join(root, 'native')) ? { kind: 'native', rel: 'native', name: '@stoq/native' } : undefined);
          if (!target) continue;
        } else {
          const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
          target = byName.get(pkg);
          if (!target && w.rel === 'libs/consensus' && pkg.startsWith('@stoq/')) target = { kind: 'lib', rel: pkg, name: pkg };
        }
        const why = forbidden(w, target);
        if (why) problems.push(`${w.rel}: ${why}: imports ${spec} (${relative(root, file)})`);
      }
    }
  }
  return problems;
}

module.exports = { checkModuleBoundaries };

if (require.main === module) {
  const problems = checkModuleBoundaries();
  for (const p of problems) process.stderr.write(`module boundary: ${p}\n`);
  process.exit(problems.length > 0 ? 1 : 0);
}
