import { describe, expect, it } from 'vitest';
import { fmt, formatMetrics, formatTable, metric, repeat, runsFrom, summarise, type Sample } from '../../apps/bench/measure.js';

const s = (wallMs: number, cpuMs: number, value = 1): Sample<number> => ({ wallMs, cpuMs, value });

describe('measure: summaries', () => {
  it('min and median of odd and even counts, whatever the order', () => {
    expect(summarise([5, 1, 3])).toEqual({ min: 1, median: 3 });
    expect(summarise([4, 10, 1, 2])).toEqual({ min: 1, median: 3 });
    expect(summarise([7])).toEqual({ min: 7, median: 7 });
    expect(() => summarise([])).toThrow(/no samples/);
  });

  it('a metric summarises each clock separately, in the unit the conversion gives', () => {
    // 1000 tasks per run: ms -> ns per task is ms * 1e6 / 1000.
    const m = metric('x nsPerTask', 'ns/task', [s(2, 1), s(1, 3), s(4, 2)], (ms) => (ms * 1e6) / 1000);
    expect(m).toEqual({ name: 'x nsPerTask', unit: 'ns/task', runs: 3, wall: { min: 1000, median: 2000 }, cpu: { min: 1000, median: 2000 } });
    // Per-sample work counts (calls made in a time-targeted run) divide each sample by its own count.
    const c = metric('c', 'ns/call', [s(10, 10, 10), s(10, 20, 5)], (ms, x) => (ms * 1e6) / x.value);
    expect(c.wall).toEqual({ min: 1e6, median: 1.5e6 });
    expect(c.cpu).toEqual({ min: 1e6, median: 2.5e6 });
  });

  it('repeat runs the sample the asked number of times (at least once) and times each', () => {
    const seen: number[] = [];
    const r = repeat(3, (i) => (seen.push(i), i * 2));
    expect(seen).toEqual([0, 1, 2]);
    expect(r.map((x) => x.value)).toEqual([0, 2, 4]);
    for (const x of r) expect(x.wallMs >= 0 && x.cpuMs >= 0).toBe(true);
    expect(repeat(0, () => 1)).toHaveLength(1);
  });

  it('run counts from the command line: --runs N beats --quick beats the default', () => {
    expect(runsFrom([], 5, 2)).toBe(5);
    expect(runsFrom(['--quick'], 5, 2)).toBe(2);
    expect(runsFrom(['--quick', '--runs', '9'], 5, 2)).toBe(9);
    expect(runsFrom(['--runs', 'x'], 5, 2)).toBe(5);
  });

  it('tables: first column left, numbers right, about three significant digits', () => {
    expect(fmt(1234.5)).toBe('1235');
    expect(fmt(12.345)).toBe('12.3');
    expect(fmt(1.2345)).toBe('1.23');
    expect(fmt(0.12345)).toBe('0.123');
    expect(fmt(undefined)).toBe('-');
    expect(formatTable(['a', 'bb'], [['xyz', '1'], ['q', '22']]).split('\n')).toEqual(['a    bb', '---  --', 'xyz   1', 'q    22']);
    const t = formatMetrics([{ name: 'm', unit: 'ms', runs: 2, wall: { min: 1, median: 2 } }]).split('\n');
    expect(t[0]).toMatch(/^metric\s+unit\s+wall min\s+wall med\s+cpu min\s+cpu med\s+runs$/);
    expect(t[2]).toMatch(/^m\s+ms\s+1\.00\s+2\.00\s+-\s+-\s+2$/);
  });
});
