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
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}

module.exports = SummaryReporter;
