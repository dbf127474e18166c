#!/usr/bin/env node
// Regenerates src/<name>.ts from proto/<name>.proto with @stoq/rpc's proto-ts generator.
//   node libs/protos/scripts/generate.js           write the files
//   node libs/protos/scripts/generate.js --check   exit 1 if a generated file is stale
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const here = path.join(__dirname, '..');
const generator = path.join(here, '..', 'stoq-rpc', 'scripts', 'proto-ts.js');
/** Proto file -> extra generator arguments (service-name overrides). */
const PROTOS = {
  'trustchain.proto': ['--service', 'Ct=trustchain/ct'],
  'ngauge.proto': ['--service', 'NGauge=ngauge'],
  'caesar.proto': ['--service', 'Caesar=caesar'],
  'catalog.proto': ['--service', 'Catalog=catalog'],
  'hypermesh.proto': ['--service', 'Consensus=hypermesh/consensus', '--service', 'Assets=hypermesh/assets'],
};

const check = process.argv.includes('--check');
let stale = 0;
for (const [file, extra] of Object.entries(PROTOS)) {
  const target = path.join(here, 'src', file.replace(/\.proto$/, '.ts'));
  const out = check ? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'protos-')), 'out.ts') : target;
  execFileSync(process.execPath, [generator, ...extra, '-o', out, path.join(here, 'proto', file)], { stdio: 'inherit' });
  if (check && fs.readFileSync(out, 'utf8') !== fs.readFileSync(target, 'utf8')) {
    process.stderr.write(`${path.relative(process.cwd(), target)} is stale: run node libs/protos/scripts/generate.js\n`);
    stale++;
  }
}
process.exit(stale > 0 ? 1 : 0);
