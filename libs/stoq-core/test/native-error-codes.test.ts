// Every error code the addon can put in front of a message maps to a StoqError code here, so
// no native error reaches a caller as an unrecognised CONNECTION_LOST.
import { loadNative } from '../src/native-binding';
import { fromNativeError, NATIVE_CODES } from '../src/native-error';

test('every native error code is mapped to its StoqError code', () => {
  const codes = loadNative().errorCodes();
  expect(codes.length).toBeGreaterThan(10);
  for (const code of codes) {
    const err = fromNativeError(new Error(`${code}: something specific`));
    expect({ code, mapped: err.code, message: err.message }).toEqual({
      code,
      mapped: code === 'FALCON' ? 'FALCON_REJECTED' : code,
      message: 'something specific',
    });
    if (code !== 'FALCON') expect(NATIVE_CODES.has(code)).toBe(true);
  }
});
