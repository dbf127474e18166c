// verifySavedAnswer's own contract (the signature checks are covered by apps/catalog's
// receipt.test.ts and apps/stoq-cli's verify-receipt.test.ts): what is not a saved answer throws
// SavedAnswerError; outcomes keep their wire numbers (appended only).
import { outcomeName, outcomeNumber, RUN_OUTCOMES, SavedAnswerError, verifySavedAnswer } from '../src/index';

test('what is not a saved answer is a SavedAnswerError', () => {
  const never = (): boolean => {
    throw new Error('not reached');
  };
  expect(() => verifySavedAnswer('not json', never)).toThrow(SavedAnswerError);
  expect(() => verifySavedAnswer('{"outcome":"NO_SUCH_OUTCOME"}', never)).toThrow(SavedAnswerError);
});

test('run outcomes keep their wire numbers', () => {
  expect(RUN_OUTCOMES.indexOf('TIMEOUT')).toBe(6);
  expect(outcomeNumber('JS_EXCEPTION')).toBe(7);
  expect(outcomeName(7)).toBe('JS_EXCEPTION');
  expect(() => outcomeName(8)).toThrow();
});
