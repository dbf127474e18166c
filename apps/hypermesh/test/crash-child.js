// Child process of crash.test.ts: a 4-replica in-memory cluster (test/cluster.ts, real FALCON
// signatures, real stores under argv[2]) running until it is killed. It prints one line per
// signed message that left a replica ("sent <id> <vote|timeout|proposal> <view>") and per block
// committed to a store ("commit <id> <height> <hash>"): each line is an acknowledgement of what
// must survive the SIGKILL. TypeScript sources are transpiled on require (never a stale dist/).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  module._compile(out.outputText, filename);
};

const { TestCluster, falconKeys } = require('./cluster.ts');

const root = process.argv[2];
const keys = falconKeys();
fs.writeFileSync(path.join(root, 'keys.json'), JSON.stringify(keys.map((k) => ({ publicKey: Buffer.from(k.publicKey).toString('base64'), secretKey: Buffer.from(k.secretKey).toString('base64') }))));
const c = new TestCluster(root);
const out = [];
const flush = () => {
  if (out.length > 0) fs.writeSync(1, out.splice(0).join(''));
};
c.onSend = (from, m) => {
  // onSend runs when the runner performs the send: after the persist before it returned.
  if (m.type === 'vote' && m.voter === from) out.push(`sent ${from} vote ${m.view}\n`);
  if (m.type === 'timeout' && m.voter === from) out.push(`sent ${from} timeout ${m.view}\n`);
  if (m.type === 'proposal' && m.block.proposer === from) out.push(`sent ${from} proposal ${m.block.view}\n`);
  flush();
};
for (const n of c.nodes) {
  const append = n.store.appendCommitted.bind(n.store);
  n.store.appendCommitted = (b, ids) => {
    const r = append(b, ids);
    out.push(`commit ${n.id} ${b.block.height} ${b.hash}\n`);
    flush();
    return r;
  };
}
fs.writeSync(1, 'ready\n');
void (async () => {
  for (;;) await c.run(() => false, 1_000_000_000);
})();
