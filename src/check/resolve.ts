/**
 * Phase 3: from the declarations recorded at each call and upcall site to the
 * functions that can run there, then the module each function runs as.
 */
import type * as ts from 'typescript';
import type { Extraction } from './context.js';
import type { FnNode } from './graph.js';
import { isFunctionWithBody } from './syntax.js';
import { declSources } from './values.js';

export class Resolver {
  private readonly memo = new Map<ts.Node, FnNode[]>();

  constructor(private readonly cx: Extraction) {}

  /** Every function that can run when `root` is called. */
  resolve(root: ts.Node): FnNode[] {
    const memo = this.memo.get(root);
    if (memo !== undefined) return memo;
    const cx = this.cx;
    const out = new Set<FnNode>();
    const seen = new Set<ts.Node>();
    const stack: ts.Node[] = [root];
    while (stack.length > 0) {
      const d = stack.pop()!;
      if (seen.has(d)) continue;
      seen.add(d);
      const a = cx.alias.get(d);
      if (a !== undefined) {
        out.add(a);
      } else if (isFunctionWithBody(d)) {
        const n = cx.nodeFor(d);
        if (n !== undefined) out.add(n);
      } else {
        for (const s of declSources(cx, d)) stack.push(s);
      }
      const more = cx.refs.get(d);
      if (more !== undefined) for (const m of more) stack.push(m);
    }
    const list = [...out].sort((x, y) => x.id - y.id);
    this.memo.set(root, list);
    return list;
  }

  /** Only the declaration itself (`super.f()`): no overrides. */
  private exact(d: ts.Node): FnNode[] {
    const a = this.cx.alias.get(d);
    if (a !== undefined) return [a];
    if (isFunctionWithBody(d)) {
      const n = this.cx.nodeFor(d);
      return n !== undefined ? [n] : [];
    }
    return this.resolve(d);
  }

  resolveAll(): void {
    const cx = this.cx;
    const uniq = (xs: FnNode[]): FnNode[] => [...new Set(xs)];
    // Resolving can create nodes (a function only reached through a reference): the list grows as we go.
    for (let i = 0; i < cx.nodes.length; i++) {
      const n = cx.nodes[i]!;
      for (const s of n.calls) s.targets = uniq(s.refs.flatMap((r) => (s.exact ? this.exact(r) : this.resolve(r))));
      for (const u of n.upcalls) u.targets = uniq(u.slotDecls.flatMap((d) => this.resolve(d)));
    }
    for (const r of cx.regions) r.rootNodes = uniq(r.roots.flatMap((d) => this.resolve(d)));
  }
}

/**
 * Lexical module first; a handler outside any module that is the target of an
 * upcall belongs to the owner it was bound for, else to its file. Other code
 * is left to the vertices (it runs as whichever module calls it).
 */
export function assignModules(cx: Extraction): void {
  for (const n of cx.nodes) {
    if (n.lexical !== undefined) {
      n.module = n.lexical.name;
      n.moduleId = n.lexical.id;
      n.anchored = true;
    }
  }
  for (const n of cx.nodes) {
    for (const u of n.upcalls) {
      for (const t of u.targets) {
        if (t.anchored) continue;
        const m = cx.ownerHint.get(t.decl) ?? cx.pseudoModule(t.file);
        t.module = m.name;
        t.moduleId = m.id;
        t.anchored = true;
      }
    }
  }
  for (const n of cx.nodes) {
    if (n.anchored) continue;
    const m = cx.pseudoModule(n.file);
    n.module = m.name;
    n.moduleId = m.id;
  }
}
