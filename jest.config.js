// Root Jest config: one run over every package that has a jest.config.js, with a closing
// "N passed, N failed, N skipped" line (scripts/summary-reporter.js) that CI reads.
const fs = require('node:fs');
const path = require('node:path');

const dirs = ['libs', 'apps'].flatMap((d) =>
  fs.existsSync(path.join(__dirname, d))
    ? fs.readdirSync(path.join(__dirname, d)).map((p) => path.join(__dirname, d, p))
    : [],
);
dirs.push(path.join(__dirname, 'tests-e2e'));

module.exports = {
  projects: dirs.filter((d) => fs.existsSync(path.join(d, 'jest.config.js'))),
  // Cross-process and 64 MiB tests take seconds; no test depends on being fast.
  testTimeout: 120000,
  reporters: ['default', '<rootDir>/scripts/summary-reporter.js'],
};
