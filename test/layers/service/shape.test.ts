import { describe, expect, it } from 'vitest';
import { checkShape, describeShape, s, type Infer } from '../../../src/layers/service/shape.js';

const entry = s.object({ key: s.string(), value: s.optional(s.union(s.string(), s.null())), tags: s.array(s.literal('a')), n: s.integer() });

describe('shapes', () => {
  it('accepts values of the shape and types them', () => {
    const v: Infer<typeof entry> = { key: 'k', tags: ['a'], n: 3 };
    expect(checkShape(entry, v)).toBeNull();
    expect(checkShape(entry, { key: 'k', value: null, tags: [], n: 0 })).toBeNull();
    expect(checkShape(s.record(s.number()), { a: 1, b: 2.5 })).toBeNull();
    expect(checkShape(s.any(), undefined)).toBeNull();
  });

  it('names the first problem with its path', () => {
    expect(checkShape(entry, { key: 1, tags: [], n: 0 }, 'args')).toBe('args.key: expected string, got number');
    expect(checkShape(entry, { key: 'k', tags: ['b'], n: 0 }, 'args')).toBe('args.tags[0]: expected "a", got string');
    expect(checkShape(entry, { key: 'k', tags: [], n: 1.5 })).toBe('value.n: expected integer, got number');
    expect(checkShape(entry, { key: 'k', tags: [], n: 1, extra: true })).toBe('value.extra: not expected');
    expect(checkShape(entry, [])).toBe('value: expected object, got array');
    expect(checkShape(s.number(), Infinity)).toBe('value: expected number, got number');
  });

  it('refuses values nested deeper than it will walk', () => {
    type Deep = { next?: Deep };
    let v: Deep = {};
    for (let i = 0; i < 100; i++) v = { next: v };
    const any = s.record(s.any());
    let sh = any as ReturnType<typeof s.record>;
    for (let i = 0; i < 100; i++) sh = s.record(sh);
    expect(checkShape(sh, v)).toMatch(/nested too deep/);
  });

  it('describes itself', () => {
    expect(describeShape(entry)).toBe('{ key: string, value: string | null?, tags: "a"[], n: integer }');
  });
});
