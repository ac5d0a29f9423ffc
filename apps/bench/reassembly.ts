/**
 * Cost of one out-of-order segment as the reassembly queue fills with 1-byte
 * pieces around a hole (the out-of-order flood of issue #15).
 *
 *   npx tsx apps/bench/reassembly.ts          # table
 *   npx tsx apps/bench/reassembly.ts --json   # JSON lines
 *   npx tsx apps/bench/reassembly.ts --quick  # fewer runs (--runs N: that many)
 *
 * Reports the mean time per insert in successive windows of segments: flat
 * means the cost does not grow with what the queue holds.
 */
import { pathToFileURL } from 'node:url';
import { Rng } from '../../src/core/index.js';
import { ReassemblyQueue } from '../../src/layers/tcp/reassembly.js';
import { formatTable, fmt, metric, roundMetric, runsFrom, type Metric, type Sample, type Stat } from './measure.js';

export interface ReassemblyBenchRow {
  /** Segments inserted before this window. */
  after: number;
  /** Pieces held at the end of the window. */
  pieces: number;
  /** Wall ns per segment, median of the runs. */
  nsPerSegment: number;
  /** ns per segment by each clock, min and median over `runs` runs (each a fresh queue, same segments). */
  wall: Stat;
  cpu: Stat;
  runs: number;
  metric: Metric;
}

export function runReassemblyBench(total = 100_000, window = 10_000, maxBytes = 256 * 1024, runs = 5): ReassemblyBenchRow[] {
  const one = new Uint8Array(1);
  const windows: Array<Array<Sample<number>>> = [];
  for (let r = 0; r < Math.max(1, runs); r++) {
    // The same segments every run, so each window's samples time the same work.
    const rng = new Rng(15);
    const q = new ReassemblyQueue(maxBytes);
    for (let done = 0, w = 0; done < total; done += window, w++) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < window; i++) q.insert(1 + 2 * rng.int(maxBytes), one);
      const ns = Number(process.hrtime.bigint() - t0);
      const c = process.cpuUsage(c0);
      (windows[w] ??= []).push({ wallMs: ns / 1e6, cpuMs: (c.user + c.system) / 1000, value: q.count });
    }
  }
  return windows.map((samples, w) => {
    const m = roundMetric(metric(`after ${w * window} nsPerSegment`, 'ns/segment', samples, (ms) => (ms * 1e6) / window), 1);
    return { after: w * window, pieces: samples[0]!.value, nsPerSegment: m.wall.median, wall: m.wall, cpu: m.cpu!, runs: m.runs, metric: m };
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = runReassemblyBench(100_000, 10_000, 256 * 1024, runsFrom(process.argv, 5, 2));
  if (process.argv.includes('--json')) for (const { metric: m, ...r } of rows) console.log(JSON.stringify({ bench: 'reassembly', ...r, metrics: [m] }));
  else {
    console.log(formatTable(
      ['segments', 'pieces', 'ns/seg min', 'ns/seg med', 'cpu min', 'cpu med', 'runs'],
      rows.map((r) => [String(r.after), String(r.pieces), fmt(r.wall.min), fmt(r.wall.median), fmt(r.cpu.min), fmt(r.cpu.median), String(r.runs)]),
    ));
    console.log('(wall and cpu (process.cpuUsage, user + system) ns per segment in each window of 10,000)');
  }
}
