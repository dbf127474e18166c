// The strict proto3 JSON mapping of `stoq call --data`: what the mapping rejects must fail naming
// the field and its type (protobufjs' fromObject would coerce it), what it allows must round-trip.
import fc from 'fast-check';
import * as protobuf from 'protobufjs';
import { JsonMappingError, messageFromJson, messageToJson } from '../src/json-message';
import { EchoRequestType, EchoStreamRequestType } from '../src/node.proto';

const root = protobuf.Root.fromJSON({
  nested: {
    t: {
      nested: {
        Kind: { values: { KIND_UNKNOWN: 0, KIND_A: 1, KIND_B: 2 } },
        Inner: { fields: { note: { type: 'string', id: 1 } } },
        All: {
          oneofs: { choice: { oneof: ['left', 'right'] } },
          fields: {
            i32: { type: 'int32', id: 1 },
            u32: { type: 'uint32', id: 2 },
            i64: { type: 'int64', id: 3 },
            u64: { type: 'uint64', id: 4 },
            f32: { type: 'float', id: 5 },
            f64: { type: 'double', id: 6 },
            flag: { type: 'bool', id: 7 },
            text: { type: 'string', id: 8 },
            blob: { type: 'bytes', id: 9 },
            kind: { type: 'Kind', id: 10 },
            inner: { type: 'Inner', id: 11 },
            tags: { rule: 'repeated', type: 'string', id: 12 },
            counts: { keyType: 'int32', type: 'uint64', id: 13 },
            left: { type: 'string', id: 14 },
            right: { type: 'string', id: 15 },
            delayMs: { type: 'uint32', id: 16 },
          },
        },
      },
    },
  },
} as protobuf.INamespace);
const All = root.lookupType('t.All');

function error(type: protobuf.Type, json: unknown): JsonMappingError {
  try {
    messageFromJson(type, json);
  } catch (err) {
    expect(err).toBeInstanceOf(JsonMappingError);
    return err as JsonMappingError;
  }
  throw new Error(`expected ${JSON.stringify(json)} to be rejected`);
}

describe('the coercions protobufjs would do are refused, naming field and type', () => {
  const cases: Array<[protobuf.Type, unknown, string, RegExp]> = [
    [EchoStreamRequestType, { count: -1 }, '--data.count', /\(uint32\) -1 is out of range 0\.\.4294967295/],
    [EchoStreamRequestType, { count: 1.5 }, '--data.count', /\(uint32\) expected an integer, got 1\.5/],
    [EchoStreamRequestType, { count: 'abc' }, '--data.count', /\(uint32\) expected an integer, got string "abc"/],
    [EchoRequestType, { text: { a: 1 } }, '--data.text', /\(string\) expected a JSON string, got an object/],
    [EchoRequestType, { payload: 123 }, '--data.payload', /\(bytes\) expected a base64 string, got number 123/],
    [EchoRequestType, { payload: 'not base64!' }, '--data.payload', /\(bytes\) .* is not valid base64/],
    [EchoRequestType, { txt: 'x' }, '--data.txt', /has no field "txt" \(fields: payload, text, delayMs\)/],
    [All, { flag: 'true' }, '--data.flag', /\(bool\) expected true or false/],
    [All, { u32: 4294967296 }, '--data.u32', /out of range/],
    [All, { i32: -2147483649 }, '--data.i32', /out of range/],
    [All, { u64: '-1' }, '--data.u64', /\(uint64\) -1 is out of range 0\.\.18446744073709551615/],
    [All, { i64: 2 ** 60 }, '--data.i64', /give it as a string/],
    [All, { f32: 1e39 }, '--data.f32', /32-bit float/],
    [All, { f64: 'fast' }, '--data.f64', /\(double\) expected a number/],
    [All, { kind: 'KIND_C' }, '--data.kind', /\(t\.Kind\) "KIND_C" is not one of KIND_UNKNOWN, KIND_A, KIND_B/],
    [All, { kind: 1.5 }, '--data.kind', /\(t\.Kind\) expected an enum name/],
    [All, { tags: 'a' }, '--data.tags', /\(repeated string\) expected a JSON array/],
    [All, { tags: ['a', 3] }, '--data.tags[1]', /\(string\) expected a JSON string, got number 3/],
    [All, { counts: { x: '1' } }, '--data.counts["x"]', /map key int32/],
    [All, { inner: { nope: 1 } }, '--data.inner.nope', /t\.Inner has no field "nope"/],
    [All, { left: 'a', right: 'b' }, '--data.right', /both members of oneof "choice"/],
    [All, { delayMs: 1, delay_ms: 2 }, '--data.delay_ms', /given twice/],
  ];
  it.each(cases.map(([type, json, field, message]) => ({ type, data: JSON.stringify(json), json, field, message })))('$data -> $field', ({ type, json, field, message }) => {
    const err = error(type, json);
    expect(err.field).toBe(field);
    expect(err.code).toBe('JSON_MAPPING_INVALID');
    expect(err.message).toMatch(message);
    expect(err.message.startsWith(`${field}: `)).toBe(true);
  });

  it('refuses a non-object body', () => {
    expect(error(EchoRequestType, [1]).message).toMatch(/expected a JSON object for stoq\.node\.v1\.EchoRequest, got an array/);
  });
});

describe('what the proto3 JSON mapping allows is accepted', () => {
  it('takes the lowerCamel JSON name and the proto field name', () => {
    expect(messageToJson(EchoRequestType, messageFromJson(EchoRequestType, { delay_ms: 5 }))).toMatchObject({ delayMs: 5 });
    expect(messageToJson(EchoRequestType, messageFromJson(EchoRequestType, { delayMs: 5 }))).toMatchObject({ delayMs: 5 });
  });

  it('takes integers as numbers or strings, 64-bit ones exactly', () => {
    const m = messageToJson(All, messageFromJson(All, { i32: '-7', u32: '4294967295', i64: '-9223372036854775808', u64: '18446744073709551615', counts: { '-3': 9 } }));
    expect(m).toMatchObject({ i32: -7, u32: 4294967295, i64: '-9223372036854775808', u64: '18446744073709551615', counts: { '-3': '9' } });
    expect(messageToJson(All, messageFromJson(All, { u32: 1e3, i64: '1e3' }))).toMatchObject({ u32: 1000, i64: '1000' });
  });

  it('takes bytes as standard or URL-safe base64, with or without padding', () => {
    const bytes = Uint8Array.from([0xfb, 0xff, 0xfe, 0x01]);
    for (const text of ['+//+AQ==', '-__-AQ==', '+//+AQ', '-__-AQ']) {
      expect(Buffer.from((messageFromJson(All, { blob: text }) as unknown as { blob: Uint8Array }).blob)).toEqual(Buffer.from(bytes));
    }
  });

  it('takes enums by name or number, floats as numbers or the special strings, null as the default', () => {
    expect(messageToJson(All, messageFromJson(All, { kind: 'KIND_B' }))).toMatchObject({ kind: 'KIND_B' });
    expect(messageToJson(All, messageFromJson(All, { kind: 1 }))).toMatchObject({ kind: 'KIND_A' });
    expect(messageToJson(All, messageFromJson(All, { f64: 'NaN', f32: '-Infinity' }))).toMatchObject({ f64: 'NaN', f32: '-Infinity' });
    expect(messageToJson(All, messageFromJson(All, { text: null, inner: { note: 'n' } }))).toMatchObject({ text: '', inner: { note: 'n' } });
  });
});

describe('properties', () => {
  const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
  const i64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
  const valid = fc.record(
    {
      i32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      u32: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      i64: i64.map(String),
      u64: u64.map(String),
      f64: fc.double({ noNaN: true, noDefaultInfinity: true }),
      flag: fc.boolean(),
      text: fc.string(),
      blob: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64')),
      kind: fc.constantFrom('KIND_UNKNOWN', 'KIND_A', 'KIND_B'),
      tags: fc.array(fc.string(), { maxLength: 4 }),
      counts: fc.dictionary(fc.integer({ min: -1000, max: 1000 }).map(String), u64.map(String), { maxKeys: 4 }),
    },
    { requiredKeys: [] },
  );

  it('valid proto3 JSON survives JSON -> message -> wire -> message -> JSON unchanged', () => {
    fc.assert(
      fc.property(valid, (json) => {
        const wire = All.encode(messageFromJson(All, json)).finish();
        const back = messageToJson(All, All.decode(wire));
        for (const [k, v] of Object.entries(json)) {
          if (k === 'f64') expect(back[k]).toBe(Object.is(v, -0) ? -0 : v);
          else expect(back[k]).toEqual(v);
        }
      }),
    );
  });

  it('any integer outside a field range or any fraction is refused for that field, never wrapped', () => {
    const bad = fc.oneof(
      fc.integer({ min: 2 ** 32, max: Number.MAX_SAFE_INTEGER }),
      fc.integer({ min: Number.MIN_SAFE_INTEGER, max: -1 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
    );
    fc.assert(
      fc.property(bad, (n) => {
        expect(error(All, { u32: n }).field).toBe('--data.u32');
      }),
    );
  });

  it('a value of the wrong JSON type is refused for every scalar field', () => {
    const cases: Array<[string, fc.Arbitrary<unknown>]> = [
      ['text', fc.oneof(fc.integer(), fc.boolean(), fc.object(), fc.array(fc.string()))],
      ['flag', fc.oneof(fc.integer(), fc.string(), fc.object())],
      ['u64', fc.oneof(fc.boolean(), fc.object(), fc.array(fc.integer()), fc.string().filter((s) => !/^-?\d+$/.test(s) && !/[eE]/.test(s)))],
      ['blob', fc.oneof(fc.integer(), fc.boolean(), fc.object(), fc.array(fc.integer()))],
    ];
    for (const [field, arb] of cases) {
      fc.assert(
        fc.property(arb, (v) => {
          expect(error(All, { [field]: v }).field).toBe(`--data.${field}`);
        }),
      );
    }
  });
});
