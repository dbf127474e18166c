// Prints the plain closing line CI understands: "tests: N passed, N failed, N skipped".
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failedSuites = results.numFailedTestSuites - countSuitesWithFailedTests(results);
    process.stdout.write(
      `\ntests: ${results.numPassedTests} passed, ${results.numFailedTests + failedSuites} failed, ${skipped} skipped\n`,
    );
  }
}

// A suite that fails to load has no failed tests of its own; count it as one failure.
function countSuitesWithFailedTests(results) {
  return results.testResults.filter((s) => s.numFailingTests > 0).length;
}

module.exports = SummaryReporter;
