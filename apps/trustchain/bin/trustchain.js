#!/usr/bin/env node
'use strict';
// Exit explicitly: the QUIC engine's background threads must not keep a finished command alive.
require('../dist/main.js').main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`trustchain: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
