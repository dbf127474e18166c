#!/usr/bin/env node
'use strict';
require('../dist/cli/main.js')
  .main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((err) => {
    process.stderr.write(`catalog: ${err && err.message ? err.message : String(err)}\n`);
    process.exit(1);
  });
