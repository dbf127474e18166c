// Every error code the addon sets maps to a StoqError code here, and the code survives both the
// throwing (sync) and the rejecting (async) path as a property, not as text in the message.
import { loadNative } from '../src/native-binding';
import { fromNativeError, nativeCodeOf } from '../src/native-error';
import { StoqError } from '../src/errors';

interface Probe {
  errorCodes(): string[];
  errorProbe(code: string, message: string): void;
  errorProbeAsync(code: string, message: string): Promise<void>;
}
const native = loadNative() as unknown as Probe;

test('every native error code is known, thrown or rejected', async () => {
  const codes = native.errorCodes();
  expect(codes.length).toBeGreaterThan(10);
  for (const code of codes) {
    expect({ code, known: nativeCodeOf(code) !== undefined }).toEqual({ code, known: true });
    let thrown: unknown;
    try {
      native.errorProbe(code, 'something specific');
    } catch (e) {
      thrown = e;
    }
    const rejected = await native.errorProbeAsync(code, 'something specific').then(() => undefined, (e: unknown) => e);
    for (const e of [thrown, rejected]) {
      const mapped = fromNativeError(e);
      expect({ code: mapped.code, message: mapped.message }).toEqual({ code: nativeCodeOf(code), message: 'something specific' });
    }
  }
});

test('a wrong argument type reaching the binding is INVALID_ARGUMENT; anything else NATIVE_INTERNAL', () => {
  const bad = Object.assign(new Error('Failed to convert JavaScript value `String "x"` into rust type `f64`'), { code: 'NumberExpected' });
  expect(fromNativeError(bad).code).toBe('INVALID_ARGUMENT');
  expect(fromNativeError(new Error('no code at all')).code).toBe('NATIVE_INTERNAL');
  const already = new StoqError('TIMEOUT', 'kept');
  expect(fromNativeError(already)).toBe(already);
});
