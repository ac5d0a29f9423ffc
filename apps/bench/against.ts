/**
 * `bench --against REF`: the same benchmarks on another commit and on this
 * checkout, in one run, so both see the same machine at the same time.
 *
 * REF is checked out in a temporary `git worktree` (under os.tmpdir(), removed
 * afterwards, also on failure and Ctrl-C). Its dependencies: when its
 * package-lock.json is byte-identical to this checkout's, node_modules is a
 * symlink to ours (the same packages, and seconds instead of a minute of
 * `npm ci`); otherwise `npm ci` runs there. Benchmarks run from source with tsx
 * on both sides, so nothing else needs building.
 *
 * Each benchmark runs as a process of its own with --json, alternately here and
 * there (here, there, there, here, here, there...: the order flips every round
 * so neither side always runs on a warmer or quieter machine). Each process's
 * figures are its in-process medians; across the rounds we print min and median
 * per side and the ratio there/here (times: above 1 means here is faster).
 *
 * A benchmark REF does not have (one added since) runs there from this
 * checkout's script, copied into the temporary worktree with the helpers it
 * needs that REF lacks (never over a file REF has): the same measurement of
 * REF's code, provided REF has every project module the script imports
 * (else the benchmark runs here only). A borrowed script may meet REF's code at
 * its worst (the reassembly flood on a quadratic queue): its processes there
 * are stopped after BORROWED_TIMEOUT_MS, and once one is, that side's other
 * rounds are skipped.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fmt, formatTable, summarise, type Metric, type Stat } from './measure.js';

/** One process's figures: metric name -> unit and its wall / cpu value (in-process medians). */
export type RunFigures = Map<string, { unit: string; wall?: number; cpu?: number }>;

const git = (root: string, args: string[]): string => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** The commit REF names, or undefined when it names none. */
export function resolveRef(root: string, ref: string): string | undefined {
  if (ref.startsWith('-') || ref.trim() === '') return undefined;
  try {
    return git(root, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  } catch {
    return undefined;
  }
}

/**
 * Figures of benchmarks that predate `metrics` in their JSON: the time-like keys
 * of their rows, named as the current benchmarks name them so both sides match.
 */
const LEGACY_LABEL: Record<string, (row: Record<string, unknown>) => string | undefined> = {
  runtime: (r) => (typeof r['case'] === 'string' ? r['case'] : undefined),
  checksum: (r) => `${String(r['impl'])} ${String(r['bytes'])}B+${String(r['offset'])}`,
  reassembly: (r) => `after ${String(r['after'])}`,
  'tcp-bulk': (r) => `${String(r['substrate'])} ${String(r['mtu'])}`,
};
const LEGACY_KEYS: Record<string, { key: string; name: string; unit: string; clock: 'wall' | 'cpu' }> = {
  nsPerTask: { key: 'nsPerTask', name: 'nsPerTask', unit: 'ns/task', clock: 'wall' },
  nsPerCall: { key: 'nsPerCall', name: 'nsPerCall', unit: 'ns/call', clock: 'wall' },
  nsPerSegment: { key: 'nsPerSegment', name: 'nsPerSegment', unit: 'ns/segment', clock: 'wall' },
  cpuUsPerDataSegment: { key: 'cpuUsPerDataSegment', name: 'usPerDataSegment', unit: 'us/data seg', clock: 'cpu' },
};

/** Figures from a benchmark's --json output (its JSON lines; other lines ignored). */
export function figuresFromJson(bench: string, stdout: string): RunFigures {
  const out: RunFigures = new Map();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (Array.isArray(o['metrics'])) {
      for (const m of o['metrics'] as Metric[]) out.set(m.name, { unit: m.unit, wall: m.wall.median, ...(m.cpu !== undefined ? { cpu: m.cpu.median } : {}) });
      continue;
    }
    const label = LEGACY_LABEL[bench];
    if (label === undefined) continue;
    const rows = Array.isArray(o['rows']) ? (o['rows'] as Array<Record<string, unknown>>) : [o];
    for (const row of rows) {
      const l = label(row);
      if (l === undefined) continue;
      for (const k of Object.values(LEGACY_KEYS)) {
        const v = row[k.key];
        if (typeof v !== 'number') continue;
        const name = `${l} ${k.name}`;
        const f = out.get(name) ?? { unit: k.unit };
        f[k.clock] = v;
        out.set(name, f);
      }
    }
  }
  return out;
}

export interface Comparison {
  readonly bench: string;
  readonly metric: string;
  readonly unit: string;
  readonly clock: 'wall' | 'cpu';
  readonly here?: Stat;
  readonly there?: Stat;
  /** there / here of min and of median (above 1: here is faster). */
  readonly ratio?: Stat;
}

/** Per metric and clock: both sides summarised over their processes, and the ratio. */
export function compare(bench: string, here: readonly RunFigures[], there: readonly RunFigures[]): Comparison[] {
  const names = new Set<string>();
  for (const f of [...here, ...there]) for (const n of f.keys()) names.add(n);
  const out: Comparison[] = [];
  const side = (runs: readonly RunFigures[], name: string, clock: 'wall' | 'cpu'): Stat | undefined => {
    const xs = runs.map((f) => f.get(name)?.[clock]).filter((x): x is number => typeof x === 'number');
    return xs.length > 0 ? summarise(xs) : undefined;
  };
  for (const name of names) {
    const unit = [...here, ...there].map((f) => f.get(name)?.unit).find((u) => u !== undefined) ?? '';
    for (const clock of ['wall', 'cpu'] as const) {
      const h = side(here, name, clock);
      const t = side(there, name, clock);
      if (h === undefined && t === undefined) continue;
      const ratio = h !== undefined && t !== undefined ? { min: t.min / h.min, median: t.median / h.median } : undefined;
      out.push({ bench, metric: name, unit, clock, ...(h ? { here: h } : {}), ...(t ? { there: t } : {}), ...(ratio ? { ratio } : {}) });
    }
  }
  return out;
}

export function formatComparison(rows: readonly Comparison[]): string {
  return formatTable(
    ['metric', 'unit', 'clock', 'here min', 'here med', 'there min', 'there med', 'ratio min', 'ratio med'],
    rows.map((r) => [
      r.metric, r.unit, r.clock, fmt(r.here?.min), fmt(r.here?.median), fmt(r.there?.min), fmt(r.there?.median),
      r.ratio ? r.ratio.min.toFixed(2) : r.here ? 'n/a there' : 'n/a here',
      r.ratio ? r.ratio.median.toFixed(2) : '',
    ]),
  );
}

/** A checkout of REF in a temporary worktree, ready to run benchmarks. */
export interface RefTree {
  readonly dir: string;
  readonly commit: string;
  /** How its node_modules came to be. */
  readonly deps: 'symlink' | 'npm ci';
  remove(): void;
}

export function createRefTree(root: string, commit: string, log: (s: string) => void): RefTree {
  const dir = mkdtempSync(path.join(tmpdir(), 'upcall-bench-ref-'));
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    try {
      git(root, ['worktree', 'remove', '--force', dir]);
    } catch {
      // Half-made or already gone: the folder and git's record of it, separately.
    }
    rmSync(dir, { recursive: true, force: true });
    try {
      git(root, ['worktree', 'prune']);
    } catch {
      // nothing to prune
    }
  };
  try {
    git(root, ['worktree', 'add', '--detach', dir, commit]);
    let lockThere: string | undefined;
    try {
      lockThere = git(root, ['show', `${commit}:package-lock.json`]);
    } catch {
      lockThere = undefined;
    }
    const lockHere = existsSync(path.join(root, 'package-lock.json')) ? readFileSync(path.join(root, 'package-lock.json'), 'utf8').trim() : undefined;
    let deps: RefTree['deps'];
    if (lockThere !== undefined && lockThere === lockHere && existsSync(path.join(root, 'node_modules'))) {
      symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
      deps = 'symlink';
    } else {
      log(`package-lock.json differs at ${commit.slice(0, 9)}: npm ci there`);
      execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
      deps = 'npm ci';
    }
    return { dir, commit, deps, remove };
  } catch (e) {
    remove();
    throw e;
  }
}

/** How long a borrowed script may run at REF, per process. */
const BORROWED_TIMEOUT_MS = 120_000;

/** Helpers of the benchmark scripts that a borrowed script may need. */
const SCRIPT_HELPERS = ['measure.ts'];

/** The project modules (`../../src/...`) a benchmark script imports, as .ts paths from the root. */
export function projectImports(scriptText: string): string[] {
  const out: string[] = [];
  for (const m of scriptText.matchAll(/from '\.\.\/\.\.\/(src\/[^']+)\.js'/g)) out.push(`${m[1]!}.ts`);
  return out;
}

/**
 * Copies this checkout's `apps/bench/NAME.ts` into the REF tree `dir`, where
 * it is absent, with the helpers REF lacks. Returns the files copied: none
 * when REF has the script (its own is used) or lacks a module the script
 * imports (REF cannot run it: here only).
 */
export function borrowScript(root: string, dir: string, name: string): string[] {
  const rel = (f: string): string => path.join('apps', 'bench', f);
  if (existsSync(path.join(dir, rel(`${name}.ts`)))) return [];
  const script = path.join(root, rel(`${name}.ts`));
  if (!existsSync(script)) return [];
  if (projectImports(readFileSync(script, 'utf8')).some((m) => !existsSync(path.join(dir, m)))) return [];
  const copied: string[] = [];
  for (const f of [`${name}.ts`, ...SCRIPT_HELPERS]) {
    const from = path.join(root, rel(f));
    const to = path.join(dir, rel(f));
    if (existsSync(to) || !existsSync(from)) continue;
    copyFileSync(from, to);
    copied.push(rel(f));
  }
  return copied;
}

/** Runs one benchmark process; resolves with its stdout, or an error line. */
function runOnce(cwd: string, script: string, args: readonly string[], track: (c: ChildProcess | undefined) => void, timeoutMs?: number): Promise<{ ok: true; stdout: string } | { ok: false; error: string; timedOut?: boolean }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--import', 'tsx', script, '--json', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    track(c);
    let timedOut = false;
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      c.kill('SIGKILL');
    }, timeoutMs);
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    c.on('error', (e) => resolve({ ok: false, error: e.message }));
    c.on('close', (code, signal) => {
      track(undefined);
      if (timer !== undefined) clearTimeout(timer);
      if (timedOut) resolve({ ok: false, error: `stopped after ${Math.round(timeoutMs! / 1000)} s (a borrowed script on ${path.basename(cwd)}'s code)`, timedOut: true });
      else if (code === 0) resolve({ ok: true, stdout: out });
      else resolve({ ok: false, error: `exit ${code ?? signal}: ${err.trim().split('\n').slice(-1)[0] ?? ''}` });
    });
  });
}

export interface AgainstOptions {
  readonly root: string;
  readonly ref: string;
  readonly commit: string;
  readonly names: readonly string[];
  readonly rounds: number;
  readonly quick: boolean;
  readonly json: boolean;
}

/** The whole --against run; returns the exit status. */
export async function runAgainst(o: AgainstOptions): Promise<number> {
  const say = (s: string): void => {
    if (o.json) process.stderr.write(`${s}\n`);
    else console.log(s);
  };
  let child: ChildProcess | undefined;
  let tree: RefTree | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    child?.kill(sig);
    tree?.remove();
    process.stderr.write(`bench: interrupted (${sig}); worktree removed\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    tree = createRefTree(o.root, o.commit, say);
    say(`against ${o.ref} = ${o.commit.slice(0, 9)} (${git(o.root, ['log', '-1', '--format=%s', o.commit]).slice(0, 70)})`);
    say(`worktree ${tree.dir}; node_modules: ${tree.deps === 'symlink' ? 'symlink to this checkout (package-lock.json identical)' : 'npm ci (package-lock.json differs)'}`);
    say(`${o.rounds} process(es) per side, alternating; figures per process are its medians; ratio = there/here (above 1: here is faster)`);
    say(`cpu: process.cpuUsage (user + system); n/a there: the benchmark at ${o.ref} has no such figure (e.g. it predates CPU time)\n`);
    let failed = 0;
    const args = o.quick ? ['--quick'] : [];
    for (const name of o.names) {
      const rel = path.join('apps', 'bench', `${name}.ts`);
      const borrowed = borrowScript(o.root, tree.dir, name);
      const thereHas = existsSync(path.join(tree.dir, rel));
      const sides = { here: [] as RunFigures[], there: [] as RunFigures[] };
      const errors: string[] = [];
      let thereStopped = false;
      for (let k = 0; k < o.rounds; k++) {
        const order: Array<'here' | 'there'> = k % 2 === 0 ? ['here', 'there'] : ['there', 'here'];
        for (const side of order) {
          if (side === 'there' && (!thereHas || thereStopped)) continue;
          const cwd = side === 'here' ? o.root : tree.dir;
          const limit = side === 'there' && borrowed.length > 0 ? BORROWED_TIMEOUT_MS : undefined;
          const r = await runOnce(cwd, rel, args, (c) => (child = c), limit);
          if (r.ok) sides[side].push(figuresFromJson(name, r.stdout));
          else {
            errors.push(`${side}: ${r.error}`);
            if (r.timedOut === true) thereStopped = true;
          }
        }
      }
      const rows = compare(name, sides.here, sides.there);
      if (o.json) {
        if (!thereHas) console.log(JSON.stringify({ bench: name, against: o.commit, there: 'absent' }));
        else if (borrowed.length > 0) console.log(JSON.stringify({ bench: name, against: o.commit, there: 'this checkout\'s script', copied: borrowed }));
        for (const r of rows) console.log(JSON.stringify({ ...r, against: o.commit }));
      } else {
        console.log(`== ${name}${thereHas ? (borrowed.length > 0 ? `: not at ${o.ref}; this checkout's script run on ${o.ref}'s code` : '') : `: not at ${o.ref} (here only)`}`);
        if (rows.length > 0) console.log(formatComparison(rows));
        else console.log('(no figures)');
      }
      for (const e of errors) process.stderr.write(`${name} ${e}\n`);
      if (errors.length > 0) failed++;
      if (!o.json) console.log('');
    }
    return failed === 0 ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    tree?.remove();
  }
}
