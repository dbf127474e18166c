// The stream mux's event and operation numbers are defined in Rust (native/src/stream_mux.rs);
// the TypeScript tables must say the same, name for name.
import { loadNative } from '../src/native-binding';
import { EventKind, OpKind } from '../src/stream-mux';

test('event and operation numbers match the native stream mux exactly', () => {
  const native = loadNative().streamMuxCodes();
  expect({ ...EventKind }).toEqual(native.events);
  expect({ ...OpKind }).toEqual(native.ops);
});
