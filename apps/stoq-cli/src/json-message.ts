// Strict proto3 JSON -> protobuf message conversion for `stoq call --data`, following the proto3
// JSON mapping (https://protobuf.dev/programming-guides/json/): what the mapping rejects is
// rejected here, naming the field path and its type, instead of being coerced the way
// protobufjs' `fromObject` does (-1 -> 4294967295, 1.5 -> 1, "abc" -> 0, {} -> "[object Object]").
// Pure: no I/O. The result is a plain object whose values protobufjs takes as they are
// (numbers, decimal strings for 64-bit integers, Uint8Array for bytes, enum numbers).
import type * as protobuf from 'protobufjs';

export class JsonMappingError extends Error {
  readonly code = 'JSON_MAPPING_INVALID';
  constructor(
    /** Path of the offending value, e.g. `--data.items[2].count`. */
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'JsonMappingError';
  }
}

interface IntRange {
  min: bigint;
  max: bigint;
  wide: boolean; // 64-bit: kept as a decimal string so no precision is lost
}

const INT_RANGES: Record<string, IntRange> = {
  int32: { min: -(2n ** 31n), max: 2n ** 31n - 1n, wide: false },
  sint32: { min: -(2n ** 31n), max: 2n ** 31n - 1n, wide: false },
  sfixed32: { min: -(2n ** 31n), max: 2n ** 31n - 1n, wide: false },
  uint32: { min: 0n, max: 2n ** 32n - 1n, wide: false },
  fixed32: { min: 0n, max: 2n ** 32n - 1n, wide: false },
  int64: { min: -(2n ** 63n), max: 2n ** 63n - 1n, wide: true },
  sint64: { min: -(2n ** 63n), max: 2n ** 63n - 1n, wide: true },
  sfixed64: { min: -(2n ** 63n), max: 2n ** 63n - 1n, wide: true },
  uint64: { min: 0n, max: 2n ** 64n - 1n, wide: true },
  fixed64: { min: 0n, max: 2n ** 64n - 1n, wide: true },
};
const FLOAT32_MAX = 3.4028234663852886e38;
const INT32_RANGE = INT_RANGES['int32']!;

/** The proto field name (`delay_ms`) of a protobufjs field name (`delayMs`). */
export function protoFieldName(jsonName: string): string {
  return jsonName.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function mapKeyType(field: protobuf.Field): string {
  return (field as unknown as protobuf.MapField).keyType;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}

function typeLabel(field: protobuf.Field): string {
  const base = field.resolvedType ? field.resolvedType.fullName.replace(/^\./, '') : field.type;
  if (field.map) return `map<${mapKeyType(field)}, ${base}>`;
  return field.repeated ? `repeated ${base}` : base;
}

/** Converts `json` to a plain object for `type.fromObject`, or throws JsonMappingError. */
export function jsonToMessageObject(type: protobuf.Type, json: unknown, path = '--data'): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new JsonMappingError(path, `expected a JSON object for ${type.fullName.replace(/^\./, '')}, got ${describe(json)}`);
  }
  const byName = new Map<string, protobuf.Field>();
  for (const f of type.fieldsArray) {
    byName.set(f.name, f);
    byName.set(protoFieldName(f.name), f);
  }
  const out: Record<string, unknown> = {};
  const given = new Map<protobuf.Field, string>();
  const oneofs = new Map<string, string>();
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    const field = byName.get(key);
    if (!field) {
      const names = type.fieldsArray.map((f) => f.name).join(', ') || 'none';
      throw new JsonMappingError(`${path}.${key}`, `${type.fullName.replace(/^\./, '')} has no field "${key}" (fields: ${names})`);
    }
    const previous = given.get(field);
    if (previous !== undefined) {
      throw new JsonMappingError(`${path}.${key}`, `field "${field.name}" is given twice (as "${previous}" and "${key}")`);
    }
    given.set(field, key);
    if (value === null) continue; // null means the default value (proto3 JSON)
    if (field.partOf) {
      const other = oneofs.get(field.partOf.name);
      if (other !== undefined) {
        throw new JsonMappingError(`${path}.${key}`, `"${other}" and "${key}" are both members of oneof "${field.partOf.name}": set at most one`);
      }
      oneofs.set(field.partOf.name, key);
    }
    out[field.name] = convertField(field, value, `${path}.${key}`);
  }
  return out;
}

function convertField(field: protobuf.Field, value: unknown, path: string): unknown {
  if (field.map) {
    if (typeof value !== 'object' || Array.isArray(value) || value === null) {
      throw new JsonMappingError(path, `(${typeLabel(field)}) expected a JSON object, got ${describe(value)}`);
    }
    const keyType = mapKeyType(field);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      checkMapKey(keyType, k, `${path}[${JSON.stringify(k)}]`);
      if (v === null) throw new JsonMappingError(`${path}[${JSON.stringify(k)}]`, `(${typeLabel(field)}) map values must not be null`);
      out[k] = convertSingle(field, v, `${path}[${JSON.stringify(k)}]`);
    }
    return out;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) throw new JsonMappingError(path, `(${typeLabel(field)}) expected a JSON array, got ${describe(value)}`);
    return value.map((v, i) => {
      if (v === null) throw new JsonMappingError(`${path}[${i}]`, `(${typeLabel(field)}) elements must not be null`);
      return convertSingle(field, v, `${path}[${i}]`);
    });
  }
  return convertSingle(field, value, path);
}

function convertSingle(field: protobuf.Field, value: unknown, path: string): unknown {
  const resolved = field.resolvedType;
  if (resolved && 'fieldsArray' in resolved) {
    const t = resolved as protobuf.Type;
    if (t.fullName.startsWith('.google.protobuf.')) {
      throw new JsonMappingError(path, `${t.fullName.slice(1)} has its own JSON form, which stoq call does not convert yet`);
    }
    return jsonToMessageObject(t, value, path);
  }
  if (resolved) return enumValue(resolved as protobuf.Enum, value, path);
  const label = field.type;
  const range = INT_RANGES[label];
  if (range) return integer(value, range, label, path);
  switch (label) {
    case 'double':
    case 'float':
      return floating(value, label, path);
    case 'bool':
      if (typeof value !== 'boolean') throw new JsonMappingError(path, `(bool) expected true or false, got ${describe(value)}`);
      return value;
    case 'string':
      if (typeof value !== 'string') throw new JsonMappingError(path, `(string) expected a JSON string, got ${describe(value)}`);
      return value;
    case 'bytes':
      return base64(value, path);
    default:
      throw new JsonMappingError(path, `field type ${label} is not known`);
  }
}

/** Integers: JSON numbers or decimal strings; no fractions, no out-of-range values. */
function integer(value: unknown, range: IntRange, label: string, path: string): number | string {
  let n: bigint;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || !Number.isInteger(value)) throw new JsonMappingError(path, `(${label}) expected an integer, got ${value}`);
    if (!Number.isSafeInteger(value)) {
      throw new JsonMappingError(path, `(${label}) ${value} is beyond 2^53 and may have lost precision in JSON: give it as a string, e.g. "${BigInt(value)}"`);
    }
    n = BigInt(value);
  } else if (typeof value === 'string') {
    // Exponent forms ("1e3") are valid JSON numbers the mapping allows in strings too.
    if (/^-?\d+$/.test(value)) n = BigInt(value);
    else if (/^-?\d+(\.\d+)?[eE][+-]?\d+$/.test(value) && Number.isSafeInteger(Number(value))) n = BigInt(Number(value));
    else throw new JsonMappingError(path, `(${label}) expected an integer, got ${describe(value)}`);
  } else {
    throw new JsonMappingError(path, `(${label}) expected an integer (number or decimal string), got ${describe(value)}`);
  }
  if (n < range.min || n > range.max) throw new JsonMappingError(path, `(${label}) ${n} is out of range ${range.min}..${range.max}`);
  return range.wide ? n.toString() : Number(n);
}

function floating(value: unknown, label: 'double' | 'float', path: string): number {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (value === 'NaN') return NaN;
  else if (value === 'Infinity') return Infinity;
  else if (value === '-Infinity') return -Infinity;
  else if (typeof value === 'string' && /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value)) n = Number(value);
  else throw new JsonMappingError(path, `(${label}) expected a number (or "NaN", "Infinity", "-Infinity"), got ${describe(value)}`);
  if (label === 'float' && Number.isFinite(n) && Math.abs(n) > FLOAT32_MAX) {
    throw new JsonMappingError(path, `(float) ${n} is out of range for a 32-bit float`);
  }
  return n;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64URL = /^[A-Za-z0-9\-_]*={0,2}$/;

/** Standard or URL-safe base64, padded or not (the mapping accepts both on input). */
export function base64(value: unknown, path: string): Uint8Array {
  if (typeof value !== 'string') throw new JsonMappingError(path, `(bytes) expected a base64 string, got ${describe(value)}`);
  const padded = value.endsWith('=');
  const body = value.replace(/=+$/, '');
  const ok =
    (BASE64.test(value) || BASE64URL.test(value)) &&
    body.length % 4 !== 1 &&
    (!padded || value.length % 4 === 0) &&
    value.length - body.length <= 2;
  if (!ok) throw new JsonMappingError(path, `(bytes) ${describe(value)} is not valid base64 (standard or URL-safe alphabet)`);
  return new Uint8Array(Buffer.from(body.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
}

function enumValue(e: protobuf.Enum, value: unknown, path: string): number {
  const name = e.fullName.replace(/^\./, '');
  if (typeof value === 'string') {
    const n = e.values[value];
    if (n === undefined) throw new JsonMappingError(path, `(${name}) ${JSON.stringify(value)} is not one of ${Object.keys(e.values).join(', ')}`);
    return n;
  }
  if (typeof value === 'number' && Number.isInteger(value) && BigInt(value) >= INT32_RANGE.min && BigInt(value) <= INT32_RANGE.max) return value;
  throw new JsonMappingError(path, `(${name}) expected an enum name (${Object.keys(e.values).join(', ')}) or an int32 number, got ${describe(value)}`);
}

function checkMapKey(keyType: string, key: string, path: string): void {
  if (keyType === 'string') return;
  if (keyType === 'bool') {
    if (key !== 'true' && key !== 'false') throw new JsonMappingError(path, `(map key bool) expected "true" or "false", got ${JSON.stringify(key)}`);
    return;
  }
  const range = INT_RANGES[keyType];
  if (!range) throw new JsonMappingError(path, `map key type ${keyType} is not known`);
  integer(key, range, `map key ${keyType}`, path);
}

/** JSON -> message: strict conversion, then protobufjs builds the message from exact values. */
export function messageFromJson(type: protobuf.Type, json: unknown, path = '--data'): protobuf.Message {
  type.root.resolveAll();
  return type.fromObject(jsonToMessageObject(type, json, path));
}

/** Message -> proto3 JSON (64-bit integers as strings, bytes as base64, enums by name, NaN as "NaN"). */
export function messageToJson(type: protobuf.Type, msg: protobuf.Message): Record<string, unknown> {
  return type.toObject(msg, { longs: String, enums: String, bytes: String, defaults: true, json: true });
}
