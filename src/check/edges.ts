/**
 * Phase 4: vertices and classified edges. A vertex is a function as run by one
 * module: code of a module class, and a handler reached through an upcall,
 * has one; any other function (a connection class, a decoder, a handler
 * called directly) has one per module whose activation calls it, since at run
 * time that module's frame is the one on the task's path while it runs.
 * Calls made after an unconditional `await` of their body are left out: they
 * run once the caller's activation is over.
 */
import type { Extraction } from './context.js';
import type { Edge, FnNode, ModuleRef, Vertex } from './graph.js';
import { enclosingFunction } from './syntax.js';
import { TS } from './ts.js';

interface Site {
  line: number;
  pos: number;
  targets: FnNode[];
  slot?: string;
  async: boolean;
  unwind?: { key: string; at: string };
}

export function buildEdges(cx: Extraction): { vertices: Vertex[]; edges: Edge[] } {
  const vertices: Vertex[] = [];
  const byKey = new Map<string, Vertex>();
  /** Edges waiting for a vertex: a closure of helper code exists only where the function creating it ran. */
  const waiting = new Map<string, (() => void)[]>();
  const keyOf = (fn: FnNode, ctx: ModuleRef | undefined): string => (ctx === undefined ? String(fn.id) : `${fn.id}@${ctx.id}`);
  /** `fn` on its own (ctx undefined, anchored code), or as run by the module `ctx`. */
  const vertex = (fn: FnNode, ctx: ModuleRef | undefined): Vertex => {
    const own = ctx === undefined;
    const key = keyOf(fn, ctx);
    let v = byKey.get(key);
    if (v === undefined) {
      v = {
        id: vertices.length,
        fn,
        module: own ? fn.module : ctx.name,
        moduleId: own ? fn.moduleId : ctx.id,
        name: fn.name,
        file: fn.file,
        line: fn.line,
        entry: fn.entry,
        anchored: own,
        className: fn.className,
      };
      vertices.push(v);
      byKey.set(key, v);
      const w = waiting.get(key);
      if (w !== undefined) {
        waiting.delete(key);
        for (const f of w) f();
      }
    }
    return v;
  };
  /** The helper function creating closure `t`, if `t` is one. */
  const creator = (t: FnNode): FnNode | undefined => {
    if (!TS.isArrowFunction(t.decl) && !TS.isFunctionExpression(t.decl)) return undefined;
    const f = enclosingFunction(t.decl);
    const g = f !== undefined ? cx.nodeOf.get(f) : undefined;
    return g !== undefined && !g.anchored ? g : undefined;
  };
  for (const n of cx.nodes) if (n.anchored) vertex(n, undefined);
  const edges: Edge[] = [];
  const seen = new Set<string>();
  const addEdge = (v: Vertex, s: Site, t: FnNode): void => {
    const upcall = s.slot !== undefined;
    const w = t.anchored && (upcall || t.lexical !== undefined) ? vertex(t, undefined) : vertex(t, { id: v.moduleId, name: v.module });
    if (w === v) return;
    const key = `${v.id}>${w.id}`;
    if (seen.has(key)) return;
    seen.add(key);
    const crossing = v.moduleId !== w.moduleId;
    let kind: Edge['kind'];
    if (upcall) kind = 'upcall';
    else if (s.unwind !== undefined) kind = 'afterUnwind';
    else if (!crossing) kind = 'call';
    else kind = w.entry !== undefined ? 'downcall' : 'bypass';
    edges.push({ from: v, to: w, line: s.line, pos: s.pos, kind, crossing, ...(upcall ? { slot: s.slot! } : {}), ...(s.unwind !== undefined ? { unwind: s.unwind } : {}) });
  };
  for (let i = 0; i < vertices.length; i++) {
    const v = vertices[i]!;
    const here: ModuleRef = { id: v.moduleId, name: v.module };
    const sites: Site[] = [...v.fn.calls, ...v.fn.upcalls];
    sites.sort((a, b) => a.pos - b.pos);
    for (const s of sites) {
      if (s.async) continue;
      const upcall = s.slot !== undefined;
      for (const t of upcall ? s.targets : ownFirst(v.moduleId, s.targets)) {
        const g = t.anchored ? undefined : creator(t);
        const gKey = g !== undefined ? keyOf(g, here) : undefined;
        if (gKey !== undefined && !byKey.has(gKey)) {
          const list = waiting.get(gKey);
          const f = (): void => addEdge(v, s, t);
          if (list === undefined) waiting.set(gKey, [f]);
          else list.push(f);
          continue;
        }
        addEdge(v, s, t);
      }
    }
  }
  return { vertices, edges };
}

/**
 * A call through an interface or a stored callback that can reach code of the
 * calling module or code of other modules is taken to reach the caller's own:
 * a callback is handed over by the module it belongs to (a decoder shared by
 * Telnet's client and server calls back whichever module is running it).
 * Entry points stay: they are guarded wherever they are called from.
 */
function ownFirst(moduleId: string, targets: FnNode[]): FnNode[] {
  if (!targets.some((t) => t.anchored && t.moduleId === moduleId)) return targets;
  return targets.filter((t) => !t.anchored || t.moduleId === moduleId || t.entry !== undefined);
}
