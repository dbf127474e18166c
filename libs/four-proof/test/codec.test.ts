import fc from 'fast-check';
import { FourProofError, decodeFourProofSet, encodeFourProofSet, verifyFourProofSet, type FourProofErrorCode } from '../src';
import { join, splitFields, validSet, varint, verifyOptions } from './fixtures';

function codeOf(fn: () => unknown): FourProofErrorCode | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof FourProofError) return e.code;
    throw e; // anything but FourProofError fails the test
  }
}

describe('canonical encoding', () => {
  test('top-level fields appear once each, in field-number order', () => {
    const fields = splitFields(validSet().bytes);
    expect(fields.map((f) => f.field)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('trailing bytes are rejected', () => {
    const { bytes } = validSet();
    expect(codeOf(() => decodeFourProofSet(join([bytes, Uint8Array.of(0)])))).toBe('DECODE');
    expect(codeOf(() => decodeFourProofSet(join([bytes, Uint8Array.of(0x08, 0x01)])))).toBe('DECODE'); // a duplicate `version`
  });

  test('unknown fields are rejected', () => {
    const { bytes } = validSet();
    const unknownVarint = Uint8Array.of((15 << 3) | 0, 1);
    const unknownBytes = join([Uint8Array.of((16 << 3) | 2), varint(3), Uint8Array.of(1, 2, 3)]);
    expect(codeOf(() => decodeFourProofSet(join([bytes, unknownVarint])))).toBe('DECODE');
    expect(codeOf(() => decodeFourProofSet(join([bytes, unknownBytes])))).toBe('DECODE');
  });

  test('reordered fields, explicit default values and non-minimal varints are rejected', () => {
    const fields = splitFields(validSet().bytes);
    const reordered = join([fields[1]!.bytes, fields[0]!.bytes, ...fields.slice(2).map((f) => f.bytes)]);
    expect(codeOf(() => decodeFourProofSet(reordered))).toBe('DECODE');
    // version = 1 encoded with a padded varint (0x81 0x00)
    const padded = join([Uint8Array.of(0x08, 0x81, 0x00), ...fields.slice(1).map((f) => f.bytes)]);
    expect(codeOf(() => decodeFourProofSet(padded))).toBe('DECODE');
  });

  test('an explicitly encoded zero value is rejected', () => {
    const fields = splitFields(validSet().bytes);
    const explicitZero = join([fields[0]!.bytes, ...fields.slice(1).map((f) => f.bytes)]);
    expect(decodeFourProofSet(explicitZero)).toBeDefined(); // sanity: the untouched split re-joins
    // Insert `context.asset_id = ""` (field 2, length 0) into the context message.
    const context = splitFields(fields[1]!.bytes.subarray(2 + 0)); // context body starts after tag + 1-byte length
    expect(context.map((f) => f.field)).toEqual([1, 2, 3]);
    const body = join([context[0]!.bytes, Uint8Array.of((2 << 3) | 2, 0), context[2]!.bytes]);
    const contextField = join([Uint8Array.of((2 << 3) | 2), varint(body.length), body]);
    const bytes = join([fields[0]!.bytes, contextField, ...fields.slice(2).map((f) => f.bytes)]);
    // This decodes to a context with assetId "" — a different value, but also a non-canonical form of it.
    expect(codeOf(() => decodeFourProofSet(bytes))).toBe('DECODE');
  });

  test('missing proofs in an encoding -> PROOF_MISSING', () => {
    const fields = splitFields(validSet().bytes);
    for (const missing of [2, 3, 4, 5, 6]) {
      const bytes = join(fields.filter((f) => f.field !== missing).map((f) => f.bytes));
      expect(codeOf(() => decodeFourProofSet(bytes))).toBe('PROOF_MISSING');
    }
  });

  test('size limit is enforced before parsing', () => {
    const { bytes } = validSet();
    expect(codeOf(() => decodeFourProofSet(bytes, { maxBytes: bytes.length }))).toBe('ok');
    expect(codeOf(() => decodeFourProofSet(bytes, { maxBytes: bytes.length - 1 }))).toBe('DECODE');
    expect(codeOf(() => decodeFourProofSet(new Uint8Array(20 * 1024 * 1024), { maxBytes: 64 * 1024 * 1024 }))).toBe('DECODE');
  });

  test('lengths beyond the buffer, and garbage, are DECODE errors', () => {
    expect(codeOf(() => decodeFourProofSet(Uint8Array.of(0x12, 0xff, 0xff, 0xff, 0x0f)))).toBe('DECODE');
    expect(codeOf(() => decodeFourProofSet(Uint8Array.of(0x0b, 0x0c)))).toBe('DECODE'); // group wire type
    expect(codeOf(() => decodeFourProofSet('nope' as unknown as Uint8Array))).toBe('DECODE');
  });
});

describe('property: no mutation of an encoded set verifies, and only FourProofError is ever thrown', () => {
  const { bytes } = validSet();

  test('single-byte mutations', () => {
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (index, xor) => {
        const mutated = Uint8Array.from(bytes);
        mutated[index]! ^= xor;
        const code = codeOf(() => verifyFourProofSet(mutated, verifyOptions));
        expect(code).not.toBe('ok');
      }),
      { numRuns: 400, seed: 0x5709 },
    );
  });

  test('every byte position, flipped once (exhaustive over the first 1 KiB and the tail)', () => {
    const positions = [...Array(Math.min(1024, bytes.length)).keys(), ...Array.from({ length: 400 }, (_, i) => bytes.length - 1 - i)];
    for (const index of positions) {
      const mutated = Uint8Array.from(bytes);
      mutated[index]! ^= 0x01;
      expect(codeOf(() => verifyFourProofSet(mutated, verifyOptions))).not.toBe('ok');
    }
  });

  test('truncations, insertions and deletions', () => {
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), fc.uint8Array({ minLength: 0, maxLength: 4 }), fc.nat({ max: 4 }), (at, insert, del) => {
        if (insert.length === 0 && del === 0) return;
        const mutated = join([bytes.subarray(0, at), insert, bytes.subarray(Math.min(bytes.length, at + del))]);
        expect(codeOf(() => verifyFourProofSet(mutated, verifyOptions))).not.toBe('ok');
      }),
      { numRuns: 300, seed: 0xf0f0 },
    );
    for (const cut of [0, 1, 10, bytes.length >> 1, bytes.length - 1]) {
      expect(codeOf(() => verifyFourProofSet(bytes.subarray(0, cut), verifyOptions))).not.toBe('ok');
    }
  });

  test('random byte strings never throw anything but FourProofError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (random) => {
        expect(codeOf(() => verifyFourProofSet(random, verifyOptions))).not.toBe('ok');
      }),
      { numRuns: 500, seed: 42 },
    );
  });

  test('decode then encode is the identity on every accepted mutation-free input', () => {
    expect(Buffer.from(encodeFourProofSet(decodeFourProofSet(bytes))).equals(Buffer.from(bytes))).toBe(true);
  });
});
