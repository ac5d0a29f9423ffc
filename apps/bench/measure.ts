/**
 * Repeated measurement for the benchmarks: wall time and CPU time
 * (process.cpuUsage, user + system) of each run, summarised as min and median.
 * On a shared, noisy machine the minimum is the least disturbed run and CPU time
 * is what the code would cost with a core to itself; the median shows the
 * spread. Every benchmark reports its figures as `Metric`s so `bench --against`
 * can compare any of them the same way.
 */

/** One run of a sample: wall and CPU time in milliseconds, and what the sample returned. */
export interface Sample<T = unknown> {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly value: T;
}

export interface Stat {
  readonly min: number;
  readonly median: number;
}

/**
 * One figure of a benchmark, both clocks, in `unit` (always a time: smaller is
 * better). `name` is the row's label and the JSON key the benchmark had before
 * (e.g. 'unobserved nsPerTask'), so older versions' output can be matched.
 */
export interface Metric {
  readonly name: string;
  readonly unit: string;
  readonly runs: number;
  readonly wall: Stat;
  /** Absent when the CPU time of the measured work is unknown. */
  readonly cpu?: Stat;
}

/** Minimum and median (mean of the middle two for an even count). Empty input is a programmer error. */
export function summarise(xs: readonly number[]): Stat {
  if (xs.length === 0) throw new Error('summarise: no samples');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { min: s[0]!, median: s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2 };
}

const cpuMsSince = (c0: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
};

/** Runs `fn` once, timing it by both clocks. */
export function sample<T>(fn: () => T): Sample<T> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const wallMs = performance.now() - t0;
  return { wallMs, cpuMs: cpuMsSince(c0), value };
}

/** Runs `fn` `runs` times (at least once), timing each run. */
export function repeat<T>(runs: number, fn: (run: number) => T): Array<Sample<T>> {
  const out: Array<Sample<T>> = [];
  for (let i = 0; i < Math.max(1, runs); i++) out.push(sample(() => fn(i)));
  return out;
}

/** As `repeat` for asynchronous work (CPU time then includes whatever else the process did meanwhile). */
export async function repeatAsync<T>(runs: number, fn: (run: number) => Promise<T>): Promise<Array<Sample<T>>> {
  const out: Array<Sample<T>> = [];
  for (let i = 0; i < Math.max(1, runs); i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const value = await fn(i);
    out.push({ wallMs: performance.now() - t0, cpuMs: cpuMsSince(c0), value });
  }
  return out;
}

/**
 * A metric from samples; `per` turns a sample's milliseconds into the unit
 * (e.g. ns per task: `(ms, s) => ms * 1e6 / s.value`). Default: milliseconds.
 */
export function metric<T>(name: string, unit: string, samples: ReadonlyArray<Sample<T>>, per: (ms: number, s: Sample<T>) => number = (ms) => ms): Metric {
  return {
    name,
    unit,
    runs: samples.length,
    wall: summarise(samples.map((s) => per(s.wallMs, s))),
    cpu: summarise(samples.map((s) => per(s.cpuMs, s))),
  };
}

/** Number of repetitions from the command line: `--runs N`, else `quick` with --quick, else `normal`. */
export function runsFrom(argv: readonly string[], normal: number, quick: number): number {
  const i = argv.indexOf('--runs');
  if (i >= 0) {
    const n = Number(argv[i + 1]);
    if (Number.isInteger(n) && n >= 1) return n;
  }
  return argv.includes('--quick') ? quick : normal;
}

/** A number with about 3 significant digits, for tables. */
export function fmt(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

/** Columns of a metric table row: name, unit, wall min/median, cpu min/median, runs. */
export function metricCells(m: Metric): string[] {
  return [m.name, m.unit, fmt(m.wall.min), fmt(m.wall.median), fmt(m.cpu?.min), fmt(m.cpu?.median), String(m.runs)];
}

export const METRIC_HEAD = ['metric', 'unit', 'wall min', 'wall med', 'cpu min', 'cpu med', 'runs'];

/** Aligned text table: the first column left-aligned, the others right-aligned. */
export function formatTable(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatMetrics(metrics: readonly Metric[]): string {
  return formatTable(METRIC_HEAD, metrics.map(metricCells));
}

/** Rounds for JSON output (keeps lines short, the figures are not that precise). */
export function roundStat(s: Stat, digits = 3): Stat {
  const f = 10 ** digits;
  return { min: Math.round(s.min * f) / f, median: Math.round(s.median * f) / f };
}

export function roundMetric(m: Metric, digits = 3): Metric {
  return { ...m, wall: roundStat(m.wall, digits), ...(m.cpu !== undefined ? { cpu: roundStat(m.cpu, digits) } : {}) };
}
