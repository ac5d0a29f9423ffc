/**
 * From a TypeScript Program to the call graph that matters for layering, in
 * phases, each in a module of its own:
 *  1. modules.ts: the module classes and their runtime names;
 *  2. walk.ts: functions, calls, entry points and queries, afterUnwind, with
 *     slots.ts (upcall sites), values.ts (what a callee or a container can
 *     hold), flow.ts (what is handed over as what), registry.ts (callbacks a
 *     module keeps itself) and regions.ts (locked regions);
 *  3. guesses.ts: hand-overs the code suggests but never shows (reported, not followed);
 *  4. resolve.ts: call targets, and the module each function runs as;
 *  5. edges.ts: vertices and classified edges.
 *
 * The runtime's own files (runtime-api.ts says which) are not analysed: its
 * internals call handlers reflectively, and what they mean is modelled here.
 */
import type * as ts from 'typescript';
import { Extraction } from './context.js';
import { buildEdges } from './edges.js';
import type { Edge, Graph, Vertex } from './graph.js';
import { guessedHandOvers } from './guesses.js';
import { findModules } from './modules.js';
import { assignModules, Resolver } from './resolve.js';
import { RuntimeApi } from './runtime-api.js';
import { walkFiles } from './walk.js';

export function buildGraph(program: ts.Program, rootFiles: readonly string[], cwd: string, runtimeDir?: string): Graph {
  const runtime = new RuntimeApi(program, runtimeDir);
  const cx = new Extraction(program, runtime, cwd);
  for (const f of rootFiles) {
    const sf = program.getSourceFile(f);
    if (sf !== undefined && !runtime.isRuntimeFile(sf.fileName)) cx.analysed.add(sf);
  }
  findModules(cx);
  walkFiles(cx);
  guessedHandOvers(cx);
  new Resolver(cx).resolveAll();
  assignModules(cx);
  const { vertices, edges } = buildEdges(cx);
  const out = new Map<Vertex, Edge[]>();
  for (const e of edges) {
    const l = out.get(e.from);
    if (l === undefined) out.set(e.from, [e]);
    else l.push(e);
  }
  cx.registries.sort((a, b) => (a.file !== b.file ? (a.file < b.file ? -1 : 1) : a.line - b.line));
  return {
    fns: cx.nodes,
    vertices,
    modules: cx.modules,
    edges,
    out,
    regions: cx.regions,
    files: cx.analysed.size,
    notes: cx.notes,
    registries: cx.registries,
    guessedHandOvers: cx.guessedHandOvers,
  };
}
