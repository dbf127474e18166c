#!/usr/bin/env node
'use strict';
require('../dist/sim/cli.js').main(process.argv.slice(2));
