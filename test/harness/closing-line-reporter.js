// Ends a test run with one plain line, "tests: N passed, N failed, N skipped", after everything jest prints (its
// summary reporter runs after this one, hence the exit hook), so that whatever reads the end of a long log (CI)
// finds the count of tests run without knowing jest's summary format.
export default class ClosingLineReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped`;
    process.once('exit', () => process.stdout.write(`\n${line}\n`));
  }
}
