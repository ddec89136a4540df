import { describe, expect, it } from 'vitest';
import { assertEmbedding, canonicalJson, cleanText, inputsHashOf, maxTextChars } from './knowledge.ts';

describe('cleanText', () => {
  it('normalises, drops NUL bytes and trims', () => {
    expect(cleanText('  cafe\u0301\u0000 ok ')).toBe('café ok');
  });
  it('refuses empty, broken and oversized text with a clear reason', () => {
    expect(() => cleanText('\u0000 ', 'runbook x')).toThrow('runbook x is empty');
    expect(() => cleanText('a\udc00b')).toThrow(/not valid Unicode/);
    expect(() => cleanText('x'.repeat(maxTextChars + 1))).toThrow(/chunk it first/);
  });
});

describe('assertEmbedding', () => {
  const unit = Array.from({ length: 1024 }, (_, i) => (i === 0 ? 1 : 0));
  it('accepts a 1024-d vector and refuses wrong sizes, NaN and zero vectors', () => {
    expect(() => assertEmbedding(unit, 'm')).not.toThrow();
    expect(() => assertEmbedding(unit.slice(1), 'm')).toThrow(
      'embedding from m has 1023 dimensions; expected 1024',
    );
    expect(() => assertEmbedding([Number.NaN, ...unit.slice(1)], 'm')).toThrow(/non-finite/);
    expect(() =>
      assertEmbedding(
        unit.map(() => 0),
        'm',
      ),
    ).toThrow(/all zeros/);
  });
});

describe('inputs hash', () => {
  it('does not depend on key order, and does depend on values', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 0 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[2,{"x":0,"y":1}]},"b":1}',
    );
    expect(inputsHashOf({ a: 1, b: 2 })).toBe(inputsHashOf({ b: 2, a: 1 }));
    expect(inputsHashOf({ a: 1, b: 2 })).not.toBe(inputsHashOf({ a: 1, b: 3 }));
    expect(inputsHashOf({})).toMatch(/^[0-9a-f]{64}$/);
  });
});
