// Prints the plain closing line CI understands: "tests: N passed, N failed, N skipped".
// scripts/test.mjs passes the native suite's counts in STOQ_EXTRA_PASSED / STOQ_EXTRA_FAILED so
// the line covers the whole `npm test` run.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    // A suite that fails to load has no failed tests of its own; count it as one failure.
    const brokenSuites = results.testResults.filter((s) => s.testExecError && s.numFailingTests === 0).length;
    const passed = results.numPassedTests + Number(process.env.STOQ_EXTRA_PASSED ?? 0);
    const failed = results.numFailedTests + brokenSuites + Number(process.env.STOQ_EXTRA_FAILED ?? 0);
    const line = `tests: ${passed} passed, ${failed} failed, ${skipped} skipped`;
    // Under `npm test`, scripts/test.mjs prints the line itself after Jest's own summary, so it
    // is the run's last line.
    if (process.env.STOQ_SUMMARY_FILE) require('node:fs').writeFileSync(process.env.STOQ_SUMMARY_FILE, line);
    else process.stdout.write(`\n${line}\n`);
  }
}

module.exports = SummaryReporter;
