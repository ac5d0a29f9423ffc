import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { borrowScript, compare, projectImports, figuresFromJson, formatComparison, resolveRef } from '../../apps/bench/against.js';
import { main as benchMain, parseBenchArgs } from '../../apps/bench/index.js';
import { runMain } from '../support/output.js';

const run = (argv: string[]) => runMain(benchMain, argv);

describe('bench --against: the command line', () => {
  it('--help lists --against and --rounds, runs nothing', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--against REF\s+also run the benchmarks at REF/);
    expect(r.out).toContain('--rounds N');
    expect(r.out).not.toContain('machine:');
    // The runner's helpers are not benchmarks.
    expect(r.out).not.toMatch(/^\s+(measure|against)\s/m);
  });

  it('a REF that names no commit: one line, exit 2, nothing on stdout', async () => {
    for (const ref of ['no-such-branch-xyz', '--json', 'deadbeef0000']) {
      const r = await run(['--against', ref, 'runtime']);
      expect(r.code, ref).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toMatch(/^bench: --against(: "[^"\n]+" is not a commit, tag or branch here| needs a value \(REF\)) \(try --help\)\n$/);
    }
  });

  it('parses REF, names and rounds; --rounds alone is an error', () => {
    expect(parseBenchArgs(['--against', 'HEAD~1', 'runtime', '--rounds', '4'])).toEqual({ names: ['runtime'], json: false, quick: false, against: 'HEAD~1', rounds: 4 });
    expect(() => parseBenchArgs(['--rounds', '2'])).toThrow('--rounds is for --against');
    expect(() => parseBenchArgs(['--against', 'HEAD', 'nope'])).toThrow(/unknown benchmark "nope"/);
  });

  it('resolves a real ref to a commit and refuses option-like text', () => {
    expect(resolveRef(process.cwd(), 'HEAD')).toMatch(/^[0-9a-f]{40}$/);
    expect(resolveRef(process.cwd(), '--all')).toBeUndefined();
  });
});

describe('bench --against: the comparison', () => {
  const now = (wall: number, cpu: number): string =>
    JSON.stringify({ bench: 'runtime', rows: [], metrics: [{ name: 'unobserved nsPerTask', unit: 'ns/task', runs: 3, wall: { min: wall - 1, median: wall }, cpu: { min: cpu - 1, median: cpu } }] });
  // What the benchmark printed before it had metrics: wall figures in its rows.
  const legacy = (ns: number): string => `not json\n${JSON.stringify({ bench: 'runtime', rows: [{ case: 'unobserved', nsPerTask: ns, bytesPerTask: 800 }, { case: 'old only', nsPerTask: 5 }] })}\n`;

  it('reads new metrics and old rows under the same names', () => {
    expect([...figuresFromJson('runtime', now(100, 90))]).toEqual([['unobserved nsPerTask', { unit: 'ns/task', wall: 100, cpu: 90 }]]);
    expect(figuresFromJson('runtime', legacy(200)).get('unobserved nsPerTask')).toEqual({ unit: 'ns/task', wall: 200 });
    const bulk = figuresFromJson('tcp-bulk', JSON.stringify({ bench: 'tcp-bulk', rows: [{ substrate: 'stack', mtu: 1500, cpuUsPerDataSegment: 12.5 }] }));
    expect(bulk.get('stack 1500 usPerDataSegment')).toEqual({ unit: 'us/data seg', cpu: 12.5 });
  });

  it('summarises each side over its processes; ratio is there/here', () => {
    const here = [figuresFromJson('runtime', now(100, 80)), figuresFromJson('runtime', now(120, 90)), figuresFromJson('runtime', now(110, 100))];
    const there = [figuresFromJson('runtime', legacy(300)), figuresFromJson('runtime', legacy(200))];
    const rows = compare('runtime', here, there);
    const wall = rows.find((r) => r.metric === 'unobserved nsPerTask' && r.clock === 'wall')!;
    expect(wall.here).toEqual({ min: 100, median: 110 });
    expect(wall.there).toEqual({ min: 200, median: 250 });
    expect(wall.ratio).toEqual({ min: 2, median: 250 / 110 });
    const cpu = rows.find((r) => r.metric === 'unobserved nsPerTask' && r.clock === 'cpu')!;
    expect(cpu.there).toBeUndefined();
    expect(cpu.ratio).toBeUndefined();
    const table = formatComparison(rows);
    expect(table).toMatch(/unobserved nsPerTask\s+ns\/task\s+cpu\s+80\.0\s+90\.0\s+-\s+-\s+n\/a there/);
    expect(table).toMatch(/old only nsPerTask\s+ns\/task\s+wall\s+-\s+-\s+5\.00\s+5\.00\s+n\/a here/);
  });
});

describe('bench --against: a benchmark REF does not have', () => {
  it('runs there from this checkout\'s script, copying only what REF lacks and never over its files', () => {
    const top = mkdtempSync(path.join(tmpdir(), 'borrow-'));
    try {
      const here = path.join(top, 'here');
      const there = path.join(top, 'there');
      const bench = (root: string): string => path.join(root, 'apps', 'bench');
      mkdirSync(bench(here), { recursive: true });
      mkdirSync(bench(there), { recursive: true });
      writeFileSync(path.join(bench(here), 'new.ts'), 'new here');
      writeFileSync(path.join(bench(here), 'old.ts'), 'old here');
      writeFileSync(path.join(bench(here), 'measure.ts'), 'measure here');
      writeFileSync(path.join(bench(there), 'old.ts'), 'old there');
      expect(borrowScript(here, there, 'old')).toEqual([]);
      expect(readFileSync(path.join(bench(there), 'old.ts'), 'utf8')).toBe('old there');
      expect(borrowScript(here, there, 'new')).toEqual([path.join('apps', 'bench', 'new.ts'), path.join('apps', 'bench', 'measure.ts')]);
      expect(readFileSync(path.join(bench(there), 'new.ts'), 'utf8')).toBe('new here');
      // REF's own helper stays.
      writeFileSync(path.join(bench(there), 'measure.ts'), 'measure there');
      writeFileSync(path.join(bench(here), 'newer.ts'), 'newer here');
      expect(borrowScript(here, there, 'newer')).toEqual([path.join('apps', 'bench', 'newer.ts')]);
      expect(readFileSync(path.join(bench(there), 'measure.ts'), 'utf8')).toBe('measure there');
      // A script importing a module REF does not have is not borrowed: REF could not run it.
      writeFileSync(path.join(bench(here), 'needs.ts'), "import { x } from '../../src/layers/absent.js';\nimport { y } from './measure.js';\n");
      mkdirSync(path.join(there, 'src', 'core'), { recursive: true });
      writeFileSync(path.join(there, 'src', 'core', 'index.ts'), '');
      expect(projectImports("import { a } from '../../src/core/index.js';\nimport type { B } from '../../src/layers/absent.js';")).toEqual(['src/core/index.ts', 'src/layers/absent.ts']);
      expect(borrowScript(here, there, 'needs')).toEqual([]);
      writeFileSync(path.join(bench(here), 'fits.ts'), "import { a } from '../../src/core/index.js';\n");
      expect(borrowScript(here, there, 'fits')).toEqual([path.join('apps', 'bench', 'fits.ts')]);
    } finally {
      rmSync(top, { recursive: true, force: true });
    }
  });
});
