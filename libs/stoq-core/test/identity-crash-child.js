// Child process for identity-state.test.ts: opens (creating if needed) a development CA and a
// node identity from the TypeScript sources, and can SIGKILL itself at a chosen point of the
// writes to simulate a crash: `--kill-at-rename <regex>` just before renaming a path whose
// basename matches, `--kill-at-write <n>` when opening the n-th file for writing inside a
// creation directory (so n-1 files are complete). Prints "ca <fingerprint>" and
// "identity <fingerprint>" for what it opened. Runs the sources through a tiny transpile-on-require
// hook (typescript.transpileModule), as libs/ct-log/test/crash-writer.js does.
'use strict';
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const path = require('node:path');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  module._compile(out.outputText, filename);
};

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const die = () => process.kill(process.pid, 'SIGKILL');

const renameAt = opt('--kill-at-rename');
if (renameAt !== undefined) {
  const re = new RegExp(renameAt);
  const rename = fsp.rename;
  fsp.rename = (from, to) => (re.test(path.basename(String(from))) ? die() : rename(from, to));
}
const writeAt = opt('--kill-at-write');
if (writeAt !== undefined) {
  let n = 0;
  const open = fsp.open;
  fsp.open = (p, flags, mode) => {
    const writing = typeof flags === 'number' && (flags & fs.constants.O_WRONLY) !== 0;
    if (writing && path.basename(path.dirname(String(p))).includes('.creating.') && ++n === Number(writeAt)) die();
    return open(p, flags, mode);
  };
}

const { DevCa } = require('../src/identity/dev-ca.ts');
const { NodeIdentity } = require('../src/identity/node-identity.ts');

async function main() {
  const caDir = opt('--ca');
  const ca = await DevCa.openOrCreate(caDir);
  process.stdout.write(`ca ${ca.fingerprint}\n`);
  const dataDir = opt('--identity');
  if (dataDir !== undefined) {
    const now = opt('--now');
    const id = await NodeIdentity.loadOrCreate({ dataDir, service: 'caesar', instance: 'caesar-1', ca, ...(now ? { now: new Date(now) } : {}) });
    process.stdout.write(`identity ${id.fingerprint}\n`);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err.code ?? ''} ${err.message}\n`);
    process.exit(1);
  },
);
