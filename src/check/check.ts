/**
 * The checker as a function: paths in, findings out. The CLI, the benchmark
 * and the tests all come through here.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type * as ts from 'typescript';
import { ResultCache } from './cache.js';
import { chainText, compareCycles, hopOf, toCycle } from './classify.js';
import { elementaryCycles, type CycleLimits } from './cycles.js';
import { buildGraph } from './extract.js';
import { countEdges, type Edge, type Graph, type Vertex } from './graph.js';
import { findLockedUpcalls } from './locks.js';
import { findReentries } from './reentry.js';
import { CheckInputError, type BypassCall, type CheckResult, type Cycle } from './model.js';
import { collectFiles, compilerOptions, createProgram, findTsconfig } from './program.js';
import { DEFAULT_RUNTIME_DIR } from './runtime-api.js';

export const DEFAULT_PATHS: readonly string[] = ['src', 'apps'];

const CHECKER_DIR = path.dirname(fileURLToPath(import.meta.url));

export interface CheckOptions {
  /** Files or directories, relative to cwd. Default: `src` and `apps` (those that exist). */
  paths?: readonly string[];
  /** Default: process.cwd(). Output paths are relative to it. */
  cwd?: string;
  /** tsconfig.json to take compiler options from; default: the nearest one at or above cwd. */
  tsconfig?: string;
  limits?: Partial<CycleLimits>;
  /**
   * A directory to keep results in, keyed by the content of every file they
   * depend on (see cache.ts); `false` or absent: no cache.
   */
  cacheDir?: string | false;
  /** The runtime's directory (default: the `core` folder beside the checker). */
  runtimeDir?: string;
}

const DEFAULT_LIMITS: CycleLimits = { maxCycles: 10_000, maxSteps: 20_000_000 };

/** Cycles crossing a module boundary, as findings. */
export function findCycles(graph: Graph, limits: CycleLimits): { cycles: Cycle[]; truncated: boolean } {
  const nodes = graph.vertices;
  const succ: number[][] = nodes.map(() => []);
  const edgeAt = new Map<string, Edge>();
  const crossingFrom = new Uint8Array(nodes.length);
  for (const e of graph.edges) {
    succ[e.from.id]!.push(e.to.id);
    edgeAt.set(`${e.from.id}>${e.to.id}`, e);
  }
  for (const s of succ) s.sort((a, b) => a - b);
  const edgeOf = (from: Vertex, to: Vertex): Edge => edgeAt.get(`${from.id}>${to.id}`)!;
  const crossesInside = (comp: readonly number[]): boolean => {
    const inComp = new Set(comp);
    for (const v of comp) {
      for (const e of graph.out.get(nodes[v]!) ?? []) if (e.crossing && inComp.has(e.to.id)) return true;
    }
    return false;
  };
  for (const e of graph.edges) if (e.crossing) crossingFrom[e.from.id] = 1;
  const accept = (cycle: readonly number[]): boolean => {
    for (let i = 0; i < cycle.length; i++) {
      const a = cycle[i]!;
      if (crossingFrom[a] === 0) continue;
      if (edgeAt.get(`${a}>${cycle[(i + 1) % cycle.length]!}`)!.crossing) return true;
    }
    return false;
  };
  const search = elementaryCycles(succ, accept, crossesInside, limits);
  const cycles = search.cycles.map((c) => toCycle(c.map((i) => nodes[i]!), edgeOf));
  cycles.sort(compareCycles);
  return { cycles, truncated: search.truncated };
}

/**
 * Calls from one module into another module's method that is not a declared
 * entry point or query. Helper code (a connection class, a wire function) runs
 * as its caller and is never one; a module's constructor (one module building
 * another) is not a call into a running module.
 */
export function findBypasses(graph: Graph): BypassCall[] {
  const out: BypassCall[] = [];
  const seen = new Set<string>();
  for (const e of graph.edges) {
    if (e.kind !== 'bypass') continue;
    const t = e.to.fn;
    if (t.lexical === undefined || t.name.endsWith('constructor')) continue;
    const from = hopOf(e.from, e.line);
    const to = hopOf(e.to, t.line);
    const key = `${from.file}:${from.line}>${to.file}:${to.line}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ from, to });
  }
  out.sort((a, b) => (a.from.file !== b.from.file ? (a.from.file < b.from.file ? -1 : 1) : a.from.line - b.from.line));
  return out;
}

export interface CheckRun {
  result: CheckResult;
  /** For callers that want to look further (the benchmark, tests); absent when the result came from the cache. */
  graph?: Graph;
  program?: ts.Program;
}

export function runCheck(opts: CheckOptions = {}): CheckRun {
  const t0 = performance.now();
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  // The checker is a tool beside the stack, not a part of it: it does not check itself.
  const files = collectFiles(opts.paths ?? DEFAULT_PATHS, cwd, opts.paths === undefined).filter((f) => path.dirname(f) !== CHECKER_DIR);
  if (files.length === 0) throw new CheckInputError('nothing to check: the paths hold only the checker itself');
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const runtimeDir = opts.runtimeDir ?? DEFAULT_RUNTIME_DIR;
  const cache = opts.cacheDir !== undefined && opts.cacheDir !== false ? new ResultCache(path.resolve(cwd, opts.cacheDir)) : undefined;
  const tsconfig = findTsconfig(cwd, opts.tsconfig);
  let key = '';
  if (cache !== undefined) {
    key = cache.key({ cwd, files, tsconfig, options: { limits, runtimeDir } });
    const hit = cache.get(key);
    if (hit !== undefined) {
      const ms = performance.now() - t0;
      return { result: { ...hit, timings: { programMs: 0, graphMs: 0, cyclesMs: 0, totalMs: ms }, cache: 'hit' } };
    }
  }
  const program = createProgram(files, compilerOptions(cwd, opts.tsconfig));
  const t1 = performance.now();
  const graph = buildGraph(program, files, cwd, runtimeDir);
  const t2 = performance.now();
  const found = findCycles(graph, limits);
  const truncated = found.truncated;
  // Re-entries complete a full list; a truncated one is incomplete anyway (its note says so).
  const cycles = truncated ? found.cycles : [...found.cycles, ...findReentries(graph, found.cycles)].sort(compareCycles);
  const lockedUpcalls = findLockedUpcalls(graph);
  const bypasses = findBypasses(graph);
  const t3 = performance.now();
  const notes = [...graph.notes];
  if (truncated) {
    notes.push(
      `cycle enumeration stopped at its limit (${limits.maxCycles} cycles or ${limits.maxSteps} steps): ` +
        `${cycles.length} reported, there are more; the first is ${cycles[0] !== undefined ? chainText(cycles[0]) : 'none'}`,
    );
  }
  const result: CheckResult = {
    files: graph.files,
    modules: graph.modules.length,
    moduleList: graph.modules.map((m) => ({ name: m.name, className: m.className, file: m.file, line: m.line, entries: m.entries.map((e) => ({ ...e })) })),
    edges: graph.edges.length,
    edgeCounts: countEdges(graph.edges),
    cycles,
    lockedUpcalls,
    bypasses,
    registries: graph.registries,
    guessedHandOvers: graph.guessedHandOvers,
    notes,
    truncated,
    timings: { programMs: t1 - t0, graphMs: t2 - t1, cyclesMs: t3 - t2, totalMs: t3 - t0 },
    cache: cache !== undefined ? 'miss' : 'off',
  };
  if (cache !== undefined) {
    // Every project file the program read beyond the roots (the runtime, imported helpers).
    const roots = new Set(files.map((f) => path.resolve(f)));
    const deps = program
      .getSourceFiles()
      .filter((sf) => !sf.isDeclarationFile && !sf.fileName.includes('/node_modules/') && !roots.has(path.resolve(sf.fileName)))
      .map((sf) => path.resolve(sf.fileName));
    cache.set(key, deps, result);
  }
  return { result, graph, program };
}

/** Check the given paths (default `src` and `apps`). Throws CheckInputError for bad input. */
export function checkLoops(opts: CheckOptions = {}): CheckResult {
  return runCheck(opts).result;
}
