// Child process for the crash test: appends to a log in a loop and prints one line per
// acknowledged entry ("ack <index> <leafHashHex>") and per persisted STH ("sth <size> <rootHex>").
// The parent SIGKILLs it at a random moment. Runs the TypeScript sources through a tiny
// transpile-on-require hook (typescript.transpileModule), so it never depends on a stale dist/.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');
const { createPrivateKey } = require('node:crypto');

require.extensions['.ts'] = (module, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  module._compile(out.outputText, filename);
};

const { CtLog, FileLogStorage, LogSigningKey } = require('../src/index.ts');
const { makeCert } = require('./helpers/x509.ts');

async function main() {
  const [dir, keysFile] = process.argv.slice(2);
  const keys = JSON.parse(fs.readFileSync(keysFile, 'utf8'));
  const { falcon1024 } = await import('@noble/post-quantum/falcon.js');
  const fsk = Buffer.from(keys.falconSecretKey, 'hex');
  const fpk = Buffer.from(keys.falconPublicKey, 'hex');
  const falcon = { sign: (m) => falcon1024.sign(m, fsk), verify: (m, s) => falcon1024.verify(s, m, fpk) };
  const intermediate = { der: Buffer.from(keys.intermediateDer, 'hex'), key: createPrivateKey(keys.intermediateKeyPem), name: keys.intermediateName };
  const log = await CtLog.open({
    // Checkpoint every 16 entries so the kills also land inside checkpoint writes.
    storage: new FileLogStorage(path.resolve(dir), { checkpointEvery: 16 }),
    signingKey: LogSigningKey.fromPem(keys.logKeyPem),
    falcon,
    roots: [Buffer.from(keys.rootDer, 'hex')],
    maxBatchEntries: 64,
  });
  const out = (line) => process.stdout.write(`${line}\n`);
  out(`open ${log.treeSize}`);
  let n = 0;
  const worker = async () => {
    for (;;) {
      const leaf = makeCert({ subject: `crash-${process.pid}-${n++}`, issuer: intermediate });
      const r = await log.addChain([leaf.der, intermediate.der]);
      out(`ack ${r.leafIndex} ${Buffer.from(r.leafHash).toString('hex')}`);
      if (r.leafIndex % 97 === 0) {
        const sth = await log.getSth();
        out(`sth ${sth.treeSize} ${Buffer.from(sth.rootHash).toString('hex')}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 24 }, worker));
}

main().catch((err) => {
  process.stderr.write(`crash-writer failed: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
