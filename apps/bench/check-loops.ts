/**
 * The static loop checker's speed: on this project (src + apps), and on a
 * generated stack of 200 modules (each with slots, entries of every policy,
 * handlers bound on the module below, helpers, and a cycle with its neighbour
 * every few modules). Each target is checked several times in one process:
 * the first run parses the standard library and @types (cold), later runs
 * reuse them (warm), which is what a test suite or a watch loop sees.
 *
 *   npx tsx apps/bench/check-loops.ts [--json] [--modules N] [--runs N]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCheck } from '../../src/check/check.js';

export interface CheckLoopsBenchRow {
  target: string;
  files: number;
  modules: number;
  edges: number;
  cycles: { unsafe: number; deferred: number; reentrant: number };
  /** First run in the process: parses the standard library and @types too. */
  coldMs: number;
  /** Best of the later runs, and its phases. */
  warmMs: number;
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

function measure(target: string, paths: string[], runs: number): CheckLoopsBenchRow {
  let row: CheckLoopsBenchRow | undefined;
  for (let r = 0; r < runs; r++) {
    const { result } = runCheck({ cwd: projectRoot, paths });
    const t = result.timings;
    const count = (k: string): number => result.cycles.filter((c) => c.kind === k).length;
    if (row === undefined) {
      row = {
        target,
        files: result.files,
        modules: result.modules,
        edges: result.edges,
        cycles: { unsafe: count('unsafe'), deferred: count('deferred'), reentrant: count('reentrant') },
        coldMs: t.totalMs,
        warmMs: Infinity,
        programMs: t.programMs,
        graphMs: t.graphMs,
        cyclesMs: t.cyclesMs,
      };
    } else if (t.totalMs < row.warmMs) {
      Object.assign(row, { warmMs: t.totalMs, programMs: t.programMs, graphMs: t.graphMs, cyclesMs: t.cyclesMs });
    }
  }
  if (row!.warmMs === Infinity) row!.warmMs = row!.coldMs;
  return row!;
}

export function runCheckLoopsBench(opts: { modules?: number; runs?: number } = {}): CheckLoopsBenchRow[] {
  const n = opts.modules ?? 200;
  const runs = Math.max(1, opts.runs ?? 3);
  const rows = [measure('project (src + apps)', ['src', 'apps'], runs)];
  const dir = generateStack(n);
  try {
    rows.push(measure(`generated stack (${n} modules)`, [path.relative(projectRoot, dir)], runs));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

function formatRows(rows: readonly CheckLoopsBenchRow[]): string {
  const head = ['target', 'files', 'modules', 'edges', 'cycles u/d/r', 'cold ms', 'warm ms', 'program', 'graph', 'cycles'];
  const body = rows.map((r) => [
    r.target,
    String(r.files),
    String(r.modules),
    String(r.edges),
    `${r.cycles.unsafe}/${r.cycles.deferred}/${r.cycles.reentrant}`,
    r.coldMs.toFixed(0),
    r.warmMs.toFixed(0),
    r.programMs.toFixed(0),
    r.graphMs.toFixed(0),
    r.cyclesMs.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const num = (flag: string): number | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  const modules = num('--modules');
  const runs = num('--runs');
  const rows = runCheckLoopsBench({ ...(modules !== undefined ? { modules } : {}), ...(runs !== undefined ? { runs } : {}) });
  if (argv.includes('--json')) {
    console.log(JSON.stringify({ bench: 'check-loops', rows }));
  } else {
    console.log(formatRows(rows));
    console.log('(cold: first run in the process, parsing lib and @types; warm: best later run and its phases, in ms)');
  }
}
