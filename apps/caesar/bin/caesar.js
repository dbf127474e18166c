#!/usr/bin/env node
'use strict';
// A start-up failure of `caesar serve` (STORE_LOCKED, STORE_DAMAGED, CONFIG_INVALID, …) is printed
// with its stable code, so scripts and operators can tell the causes apart.
require('../dist/cli/main.js')
  .main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((err) => {
    const code = err && typeof err.code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(err.code) ? `${err.code}: ` : '';
    process.stderr.write(`caesar: ${code}${err && err.message ? err.message : String(err)}\n`);
    process.exit(1);
  });
