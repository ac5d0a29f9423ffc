/**
 * Cost of the runtime itself: one task crossing three modules with two upcalls
 * and one re-entrant downcall, with nobody observing and with a subscriber.
 * Shows that an unobserved stack builds no events: bytes per task come only from
 * the frames and the task object. A third case makes the downcall an arm, as
 * TCP's armSend: the middle module's work for its client runs deferred
 * (afterUnwind) when its activation unwinds.
 *
 *   npx tsx apps/bench/runtime.ts [--json] [--quick] [--runs N]
 */
import v8 from 'node:v8';
import { formatMetrics, metric, repeat, roundMetric, runsFrom, type Metric, type Stat } from './measure.js';
import { Module, Runtime, SlotTable, VirtualClock, type Binding } from '../../src/core/index.js';

interface Up {
  onValue(v: number): number;
}

class Lower extends Module {
  readonly t = new SlotTable<Up>(this, 'up', { onValue: 'one' });
  b!: Binding<Up>;
  constructor(rt: Runtime) {
    super(rt, 'lower');
  }
  arrive(v: number): unknown {
    return this.startTask('frame', () => this.upcall(this.b, 'onValue', v));
  }
}

class Middle extends Module {
  readonly t = new SlotTable<Up>(this, 'up', { onValue: 'one' });
  b!: Binding<Up>;
  /** The one client, like a connection. */
  readonly client = { armed: false, flushed: 0 };
  constructor(rt: Runtime, lower: Lower) {
    super(rt, 'middle');
    lower.b = lower.t.bind(this, { onValue: (v) => this.input(v) });
  }
  private input(v: number): number {
    this.claim(this.client);
    return this.upcall(this.b, 'onValue', v) as number;
  }
  readonly send = this.entry('send', 'reentrant', (v: number) => v + 1);
  readonly arm = this.entry('arm', 'reentrant', (v: number) => {
    const c = this.client;
    this.claim(c);
    c.armed = true;
    this.afterUnwind(c, 'output', () => this.output(c));
    return v;
  });
  private output(c: { armed: boolean; flushed: number }): void {
    if (c.armed) c.flushed++;
    c.armed = false;
  }
}

export interface RuntimeBenchRow {
  case: string;
  /** Wall ns per task, median of the runs. */
  nsPerTask: number;
  bytesPerTask: number;
  /** ns per task by each clock, min and median of `runs` runs. */
  wall: Stat;
  cpu: Stat;
  runs: number;
}

function measure(observed: boolean, n: number, runs: number, arm = false): { row: RuntimeBenchRow; metric: Metric } {
  const rt = new Runtime({ clock: new VirtualClock() });
  const lower = new Lower(rt);
  const middle = new Middle(rt, lower);
  middle.b = middle.t.bind(rt.app('app'), { onValue: arm ? (v) => middle.arm(v) : (v) => middle.send(v) });
  let events = 0;
  const sub = observed ? rt.events.subscribe(() => events++) : undefined;
  for (let i = 0; i < 20_000; i++) lower.arrive(i);
  const bytes = allocatedBytes(() => {
    for (let i = 0; i < n; i++) lower.arrive(i);
  }) / n;
  events = 0;
  const samples = repeat(runs, () => {
    for (let i = 0; i < n; i++) lower.arrive(i);
  });
  sub?.unsubscribe();
  const label = observed ? `observed (${(events / n / samples.length).toFixed(0)} events/task)` : 'unobserved';
  const name = arm ? `${label}, arm + deferral` : label;
  const m = roundMetric(metric(`${name} nsPerTask`, 'ns/task', samples, (ms) => (ms * 1e6) / n), 1);
  return { row: { case: name, nsPerTask: m.wall.median, bytesPerTask: bytes, wall: m.wall, cpu: m.cpu!, runs: m.runs }, metric: m };
}

/** Bytes allocated on the JS heap while fn runs: heap growth plus what each GC in between reclaimed. */
function allocatedBytes(fn: () => void): number {
  const profiler = new v8.GCProfiler();
  const before = v8.getHeapStatistics().used_heap_size;
  profiler.start();
  fn();
  const after = v8.getHeapStatistics().used_heap_size;
  const stats = profiler.stop() as unknown as { statistics: Array<{ beforeGC: { heapStatistics: { usedHeapSize: number } }; afterGC: { heapStatistics: { usedHeapSize: number } } }> };
  let reclaimed = 0;
  for (const g of stats.statistics) reclaimed += g.beforeGC.heapStatistics.usedHeapSize - g.afterGC.heapStatistics.usedHeapSize;
  return after - before + reclaimed;
}

export function runRuntimeBench(n = 100_000, runs = 7): { rows: RuntimeBenchRow[]; metrics: Metric[] } {
  // Run the unobserved case twice so the first measurement is not paying for JIT warm-up.
  measure(false, n, 1);
  const all = [measure(false, n, runs), measure(true, n, runs), measure(false, n, runs, true)];
  return { rows: all.map((x) => x.row), metrics: all.map((x) => x.metric) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { rows, metrics } = runRuntimeBench(100_000, runsFrom(process.argv, 7, 3));
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ bench: 'runtime', rows, metrics }));
  } else {
    console.log('one task: NIC-like source -> 2 upcalls -> 1 re-entrant downcall');
    console.log('case                               bytes/task');
    for (const r of rows) console.log(`${r.case.padEnd(33)} ${r.bytesPerTask.toFixed(0).padStart(11)}`);
    console.log(formatMetrics(metrics));
    console.log('(bytes/task: heap growth plus what the GCs in the window reclaimed, from v8.GCProfiler; cpu: process.cpuUsage, user + system)');
  }
}
