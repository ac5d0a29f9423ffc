import { describe, expect, it } from 'vitest';
import { DupCache, seqBefore } from '../../../src/layers/service/dup-cache.js';

const bytes = new Uint8Array([1]);

describe('the duplicate cache', () => {
  it('knows a request it saw, keeps its answer until acknowledged, then only that it ran', () => {
    const c = new DupCache();
    expect(c.lookup('p', 1, 1).kind).toBe('new');
    const e = c.begin('p', 1, 1, 'kv');
    expect(c.lookup('p', 1, 1)).toMatchObject({ kind: 'seen', entry: { state: 'running' } });
    c.finish(e, 'done', bytes);
    expect(c.unacknowledged()).toBe(1);
    expect(c.acknowledge('p', 1)).toBe(true);
    expect(c.lookup('p', 1, 1)).toMatchObject({ kind: 'seen', entry: { state: 'acked', answer: null } });
    expect(c.stats.duplicates).toBe(2);
  });

  it("forgets what lies below the client's floor and calls such requests stale", () => {
    const c = new DupCache();
    for (let i = 1; i <= 5; i++) c.finish(c.begin('p', i, 1, 'kv'), 'done', bytes);
    expect(c.stats.entries).toBe(5);
    expect(c.lookup('p', 3, 4).kind).toBe('stale');
    expect(c.stats.entries).toBe(2);
    expect(c.lookup('p', 4, 4).kind).toBe('seen');
  });

  it('stays within its capacity: acknowledged first, running never', () => {
    const c = new DupCache(3);
    const a = c.begin('p', 1, 1, 'kv');
    c.finish(a, 'done', bytes);
    c.acknowledge('p', 1);
    const b = c.begin('p', 2, 1, 'kv');
    c.finish(b, 'done', bytes);
    c.begin('p', 3, 1, 'kv');
    c.begin('p', 4, 1, 'kv');
    expect(c.stats.entries).toBe(3);
    expect(c.lookup('p', 1, 1).kind).toBe('new');
    expect(c.stats.evictedUnacked).toBe(0);
    c.begin('p', 5, 1, 'kv');
    expect(c.stats.evictedUnacked).toBe(1);
    expect(c.lookup('p', 3, 1).kind).toBe('seen');
  });

  it('orders sequence numbers across the wrap', () => {
    expect(seqBefore(0xffffffff, 1)).toBe(true);
    expect(seqBefore(1, 0xffffffff)).toBe(false);
  });
});
