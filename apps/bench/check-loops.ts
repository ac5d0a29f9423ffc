/**
 * The static loop checker's speed, as `npm run check:loops` sees it: each run
 * a fresh process (tsx, loading the checker, checking), cold with an empty
 * cache and warm with the cache the run before left. On this project (src +
 * apps) and on a generated stack of N modules (each with slots, entries of
 * every policy, handlers bound on the module below, helpers, and a cycle with
 * its neighbour every few modules; --modules 0 skips it). Prints the machine.
 *
 *   npm run bench -- check-loops
 *   npx tsx apps/bench/check-loops.ts [--json] [--quick] [--modules N] [--runs N]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCheck } from '../../src/check/check.js';
import { runsFrom, summarise, type Metric } from './measure.js';

export interface CheckLoopsBenchRow {
  target: string;
  /** 'cold': a fresh process, empty cache; 'warm': a fresh process, the cache filled by a previous run. */
  mode: 'cold' | 'warm';
  runs: number;
  files: number;
  modules: number;
  edges: number;
  cycles: { unsafe: number; deferred: number; reentrant: number };
  /** Whole process (start of node to exit, tsx and module loading included), as seen by the parent. */
  wallMs: { min: number; median: number };
  /** User + system CPU of that process. */
  cpuMs: { min: number; median: number };
  /** Phases inside the checker, median run. */
  programMs: number;
  graphMs: number;
  cyclesMs: number;
}

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const POLICIES = ['reentrant', 'defer', 'reject'] as const;

/** Source of module i of a generated stack; module i binds its handlers on module i-1. */
function moduleSource(i: number, core: string): string {
  const below = i > 0 ? `M${i - 1}` : undefined;
  const policy = POLICIES[i % 3];
  // Every fourth module answers onReady by sending down again (a cycle with its neighbour below);
  // every seventh does it through a public method that is not an entry point (unsafe).
  const answer = i % 7 === 0 ? 'this.lower?.kick(n);' : i % 4 === 0 ? 'this.lower?.send(new Uint8Array(n));' : 'this.backlog += n;';
  const helpers = Array.from(
    { length: 8 },
    (_, k) => `
  private step${k}(x: number): number {
    const y = (x * ${k + 3}) ^ this.backlog;
    return ${k < 7 ? `y > ${k * 100} ? this.step${k + 1}(y >>> 1) : y` : 'y'};
  }`,
  ).join('');
  return `import { Module, SlotTable, type Binding, type Runtime } from '${core}';
${below !== undefined ? `import type { ${below} } from './m${i - 1}.js';\n` : ''}
export interface M${i}Slots {
  onData(data: Uint8Array): void;
  onReady(room: number): void;
}

export class M${i} extends Module {
  private readonly table = new SlotTable<M${i}Slots>(this, 'up', { onData: 'one', onReady: 'one' });
  private binding: Binding<M${i}Slots> | undefined;
  private backlog = 0;
  private pending: (() => void) | undefined;

  constructor(
    rt: Runtime,
    private readonly lower: ${below ?? 'undefined'},
  ) {
    super(rt, 'm${i}');
    ${below !== undefined ? 'lower.bind(this, { onData: (d) => this.input(d), onReady: (n) => this.ready(n) });' : ''}
  }

  readonly bind = this.entry('bind', 'reject', (owner: Module, handlers: Partial<M${i}Slots>): void => {
    this.lock.locked(() => {
      this.binding = this.table.bind(owner, handlers);
    });
  });

  readonly send = this.entry('send', '${policy}', (data: Uint8Array): void => {
    this.backlog += this.step0(data.length);
    this.output();
  });

  kick(n: number): void {
    this.backlog += n;
    this.output();
  }

  private output(): void {
    ${below !== undefined ? 'this.lower.send(new Uint8Array(this.backlog));' : ''}
    const room = 4096 - this.backlog;
    if (this.binding !== undefined && room > 0) this.upcall(this.binding, 'onReady', room);
  }

  input(data: Uint8Array): void {
    this.pending = () => this.step3(data.length);
    if (this.binding !== undefined) this.upcall(this.binding, 'onData', data.subarray(1));
    this.pending?.();
  }

  private ready(n: number): void {
    ${answer}
  }
${helpers}
}
`;
}

/** Write a stack of `n` modules and the code that assembles it; returns the directory. */
export function generateStack(n: number, dir = fs.mkdtempSync(path.join(os.tmpdir(), 'check-loops-bench-'))): string {
  const core = path.relative(dir, path.join(projectRoot, 'src/core/index.js')).split(path.sep).join('/');
  const spec = core.startsWith('.') ? core : `./${core}`;
  for (let i = 0; i < n; i++) fs.writeFileSync(path.join(dir, `m${i}.ts`), moduleSource(i, spec));
  const lines = [`import { Runtime } from '${spec}';`];
  for (let i = 0; i < n; i++) lines.push(`import { M${i} } from './m${i}.js';`);
  lines.push('', 'export function assemble(): void {', '  const rt = new Runtime();', '  const m0 = new M0(rt, undefined);');
  for (let i = 1; i < n; i++) lines.push(`  const m${i} = new M${i}(rt, m${i - 1});`);
  lines.push(`  m${n - 1}.bind(rt.app('app'), { onData: () => {}, onReady: () => {} });`, '  void m0;', '}', '');
  fs.writeFileSync(path.join(dir, 'assemble.ts'), lines.join('\n'));
  return dir;
}

interface WorkerReport {
  cpuMs: number;
  files: number;
  modules: number;
  edges: number;
  cycles: { unsafe: number; deferred: number; reentrant: number };
  timings: { programMs: number; graphMs: number; cyclesMs: number };
  cache: string | undefined;
}

/** One check in a process of its own, as `npm run check:loops` runs it (tsx, the CLI's cache). */
function runWorker(paths: string[], cacheDir: string): { wallMs: number; report: WorkerReport } {
  const tsx = path.join(projectRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [tsx, fileURLToPath(import.meta.url), '--worker', cacheDir, ...paths], { cwd: projectRoot, encoding: 'utf8' });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`check-loops bench worker failed: ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop()!;
  return { wallMs, report: JSON.parse(line) as WorkerReport };
}

function measure(target: string, paths: string[], runs: number): CheckLoopsBenchRow[] {
  const rows: CheckLoopsBenchRow[] = [];
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'check-loops-cache-'));
  try {
    for (const mode of ['cold', 'warm'] as const) {
      const samples: { wallMs: number; report: WorkerReport }[] = [];
      for (let i = 0; i < runs; i++) {
        // Cold: nothing cached; warm: the cache a run before this one left.
        if (mode === 'cold') fs.rmSync(cacheDir, { recursive: true, force: true });
        else if (i === 0) runWorker(paths, cacheDir);
        samples.push(runWorker(paths, cacheDir));
      }
      const mid = samples.map((x) => x.report).sort((a, b) => a.timings.programMs + a.timings.graphMs - (b.timings.programMs + b.timings.graphMs))[Math.floor(samples.length / 2)]!;
      const r0 = samples[0]!.report;
      rows.push({
        target,
        mode,
        runs,
        files: r0.files,
        modules: r0.modules,
        edges: r0.edges,
        cycles: r0.cycles,
        wallMs: summarise(samples.map((x) => x.wallMs)),
        cpuMs: summarise(samples.map((x) => x.report.cpuMs)),
        programMs: mid.timings.programMs,
        graphMs: mid.timings.graphMs,
        cyclesMs: mid.timings.cyclesMs,
      });
    }
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
  return rows;
}

export function runCheckLoopsBench(opts: { modules?: number; runs?: number } = {}): CheckLoopsBenchRow[] {
  const n = opts.modules ?? 200;
  const runs = Math.max(1, opts.runs ?? 3);
  const rows = measure('project (src + apps)', ['src', 'apps'], runs);
  if (n > 0) {
    const dir = generateStack(n);
    try {
      rows.push(...measure(`generated stack (${n} modules)`, [path.relative(projectRoot, dir)], runs));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

/** The rows as comparable metrics (whole process, ms). */
export function checkLoopsMetrics(rows: readonly CheckLoopsBenchRow[]): Metric[] {
  return rows.map((r) => ({ name: `${r.target} ${r.mode} ms`, unit: 'ms', runs: r.runs, wall: r.wallMs, cpu: r.cpuMs }));
}

/** The machine the numbers come from. */
export function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${os.platform()} ${os.release()}, node ${process.version}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`;
}

function formatRows(rows: readonly CheckLoopsBenchRow[]): string {
  const head = ['target', 'mode', 'files', 'modules', 'edges', 'cycles u/d/r', 'wall min', 'wall med', 'cpu min', 'cpu med', 'program', 'graph', 'cycles'];
  const body = rows.map((r) => [
    r.target,
    r.mode,
    String(r.files),
    String(r.modules),
    String(r.edges),
    `${r.cycles.unsafe}/${r.cycles.deferred}/${r.cycles.reentrant}`,
    r.wallMs.min.toFixed(0),
    r.wallMs.median.toFixed(0),
    r.cpuMs.min.toFixed(0),
    r.cpuMs.median.toFixed(0),
    r.programMs.toFixed(0),
    r.graphMs.toFixed(0),
    r.cyclesMs.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}

if (process.argv[2] === '--worker') {
  // A child of the bench: one check with the CLI's cache, then what it cost this process.
  const [cacheDir, ...paths] = process.argv.slice(3);
  const { result } = runCheck({ cwd: projectRoot, paths, cacheDir: cacheDir! });
  const c = process.cpuUsage();
  const count = (k: string): number => result.cycles.filter((x) => x.kind === k).length;
  const report: WorkerReport = {
    cpuMs: (c.user + c.system) / 1000,
    files: result.files,
    modules: result.modules,
    edges: result.edges,
    cycles: { unsafe: count('unsafe'), deferred: count('deferred'), reentrant: count('reentrant') },
    timings: result.timings,
    cache: result.cache,
  };
  console.log(JSON.stringify(report));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const num = (flag: string): number | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  const modules = num('--modules') ?? (argv.includes('--quick') ? 50 : undefined);
  const runs = runsFrom(argv, 3, 2);
  const rows = runCheckLoopsBench({ ...(modules !== undefined ? { modules } : {}), runs });
  if (argv.includes('--json')) {
    console.log(JSON.stringify({ bench: 'check-loops', machine: machine(), rows, metrics: checkLoopsMetrics(rows) }));
  } else {
    console.log(`machine: ${machine()}`);
    console.log(formatRows(rows));
    console.log(
      '(each run a fresh process like `npm run check:loops`: tsx, loading, checking; cold = empty cache, warm = cache filled by the run before;\n' +
        ' wall and cpu of the whole process in ms, min and median of the runs; program/graph/cycles: the checker\'s phases, median run, 0 on a cache hit)',
    );
  }
}
