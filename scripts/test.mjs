// `npm test`: the whole suite. Installs and builds on first run, then
//   1. native/: Rust unit tests (cargo test) and the addon's node:test smoke suite,
//   2. one Jest run over every TypeScript package (unit, property, integration, e2e).
// Jest runs last and its closing line "tests: N passed, N failed, N skipped" includes the
// native counts, so the last line speaks for the whole suite. Extra args go to Jest; with
// --skip-native only Jest runs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { changedSince, ensureBuilt, ensureInstalled, root, run, trackedState } from './bootstrap.mjs';

// A clean clone must stay clean: tracked files the install, build or tests change fail the run.
const trackedBefore = trackedState();
ensureInstalled();
ensureBuilt();

const args = process.argv.slice(2);
const skipNative = args.includes('--skip-native');
const jestArgs = args.filter((a) => a !== '--skip-native');
const counts = { passed: 0, failed: 0 };
let nativeFailed = false;

if (!skipNative) {
  process.stderr.write('stoq: native tests (cargo test + node:test smoke suite)…\n');
  const r = spawnSync('npm', ['test', '-w', '@stoq/native'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  process.stdout.write(r.stdout ?? '');
  process.stderr.write(r.stderr ?? '');
  const out = `${r.stdout}\n${r.stderr}`;
  for (const m of out.matchAll(/test result: \w+\. (\d+) passed; (\d+) failed/g)) {
    counts.passed += Number(m[1]);
    counts.failed += Number(m[2]);
  }
  const pass = /^# pass (\d+)$/m.exec(out);
  const fail = /^# fail (\d+)$/m.exec(out);
  if (pass) counts.passed += Number(pass[1]);
  if (fail) counts.failed += Number(fail[1]);
  nativeFailed = r.status !== 0;
  if (nativeFailed && counts.failed === 0) counts.failed = 1; // failed before reporting counts
}

const summaryDir = mkdtempSync(join(tmpdir(), 'stoq-test-'));
const summaryFile = join(summaryDir, 'summary');
const status = run('npx', ['jest', '--ci', ...jestArgs], {
  env: { STOQ_EXTRA_PASSED: String(counts.passed), STOQ_EXTRA_FAILED: String(counts.failed), STOQ_SUMMARY_FILE: summaryFile },
});
// The closing line of the whole run (Jest's own summary goes to stderr before it).
const line = existsSync(summaryFile)
  ? readFileSync(summaryFile, 'utf8')
  : `tests: ${counts.passed} passed, ${counts.failed + 1} failed, 0 skipped`; // Jest died before reporting
rmSync(summaryDir, { recursive: true, force: true });
const dirtied = changedSince(trackedBefore);
if (dirtied.length > 0) {
  process.stderr.write(`\nstoq: the test run changed tracked files (a clean clone must stay clean):\n${dirtied.map((f) => `  ${f}\n`).join('')}`);
}
process.stdout.write(`\n${line}\n`);
process.exit(nativeFailed || dirtied.length > 0 ? 1 : status);
