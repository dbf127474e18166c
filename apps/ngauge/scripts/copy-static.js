#!/usr/bin/env node
// Bundles the dashboard's static assets into dist/static at build time (no CDN at run time):
// the page's own files from static/ and uPlot's browser build from node_modules.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const out = path.join(root, 'dist', 'static');
fs.mkdirSync(out, { recursive: true });
for (const f of fs.readdirSync(path.join(root, 'static'))) fs.copyFileSync(path.join(root, 'static', f), path.join(out, f));
const uplot = path.dirname(require.resolve('uplot/package.json'));
for (const f of ['uPlot.iife.min.js', 'uPlot.min.css']) fs.copyFileSync(path.join(uplot, 'dist', f), path.join(out, f));
