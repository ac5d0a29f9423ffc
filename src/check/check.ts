/**
 * The checker as a function: paths in, findings out. The CLI, the benchmark
 * and the tests all come through here.
 */
import { performance } from 'node:perf_hooks';
import type ts from 'typescript';
import { chainText, compareCycles, toCycle } from './classify.js';
import { elementaryCycles, type CycleLimits } from './cycles.js';
import { buildGraph } from './extract.js';
import { countEdges, type Edge, type Graph, type Vertex } from './graph.js';
import { findLockedUpcalls } from './locks.js';
import type { CheckResult, Cycle } from './model.js';
import { collectFiles, compilerOptions, createProgram } from './program.js';

export const DEFAULT_PATHS: readonly string[] = ['src', 'apps'];

export interface CheckOptions {
  /** Files or directories, relative to cwd. Default: `src` and `apps` (those that exist). */
  paths?: readonly string[];
  /** Default: process.cwd(). Output paths are relative to it. */
  cwd?: string;
  /** tsconfig.json to take compiler options from; default: the nearest one at or above cwd. */
  tsconfig?: string;
  limits?: Partial<CycleLimits>;
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

export interface CheckRun {
  result: CheckResult;
  /** For callers that want to look further (the benchmark, tests). */
  graph: Graph;
  program: ts.Program;
}

export function runCheck(opts: CheckOptions = {}): CheckRun {
  const t0 = performance.now();
  const cwd = opts.cwd ?? process.cwd();
  const files = collectFiles(opts.paths ?? DEFAULT_PATHS, cwd, opts.paths === undefined);
  const program = createProgram(files, compilerOptions(cwd, opts.tsconfig));
  const t1 = performance.now();
  const graph = buildGraph(program, files, cwd);
  const t2 = performance.now();
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const { cycles, truncated } = findCycles(graph, limits);
  const lockedUpcalls = findLockedUpcalls(graph);
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
    moduleList: graph.modules.map((m) => ({ name: m.name, className: m.className, file: m.file, line: m.line, entries: [...m.entries] })),
    edges: graph.edges.length,
    edgeCounts: countEdges(graph.edges),
    cycles,
    lockedUpcalls,
    notes,
    truncated,
    timings: { programMs: t1 - t0, graphMs: t2 - t1, cyclesMs: t3 - t2, totalMs: t3 - t0 },
  };
  return { result, graph, program };
}

/** Check the given paths (default `src` and `apps`). Throws CheckInputError for bad input. */
export function checkLoops(opts: CheckOptions = {}): CheckResult {
  return runCheck(opts).result;
}
