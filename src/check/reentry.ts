/**
 * Re-entries the cycle search cannot see. The runtime's guard looks at
 * modules, not functions: an entry point called while its module has any
 * activation on the task's path meets its policy, even when the function that
 * made the upcall is not reached again (TCP upcalls onAccept, the handler
 * calls tcp.bind). For each module M, a breadth-first search from every call
 * out of M, through code of other modules, to a downcall (or a bypass) into
 * M: each entry of M reached that way and closing no reported cycle is
 * reported as a cycle of its own, closed by M still being on the path.
 */
import { hopOf } from './classify.js';
import type { Edge, Graph, Vertex } from './graph.js';
import type { Cycle, CycleKind, Link } from './model.js';

function label(v: Vertex): string {
  return `${v.module}.${v.name}`;
}

function link(e: Edge): Link {
  if (e.kind === 'upcall') return { kind: 'upcall', slot: e.slot! };
  if (e.kind === 'afterUnwind') return { kind: 'afterUnwind', key: e.unwind!.key, at: e.unwind!.at };
  if (e.kind === 'downcall') return { kind: 'downcall', entry: e.to.entry!.name, policy: e.to.entry!.policy };
  return { kind: e.kind };
}

export function findReentries(graph: Graph, cycles: readonly Cycle[]): Cycle[] {
  // Entries (and bypassed functions) that already close a reported cycle.
  const closed = new Set<string>();
  for (const c of cycles) {
    c.links.forEach((l, i) => {
      if (l.kind !== 'downcall' && l.kind !== 'bypass') return;
      const h = c.chain[(i + 1) % c.chain.length]!;
      closed.add(`${h.module}|${h.file}|${h.function}`);
    });
  }
  const byModule = new Map<string, Edge[]>();
  for (const e of graph.edges) {
    if (!e.crossing) continue;
    const l = byModule.get(e.from.moduleId);
    if (l === undefined) byModule.set(e.from.moduleId, [e]);
    else l.push(e);
  }
  const out: Cycle[] = [];
  for (const [m, starts] of byModule) {
    const parent = new Map<Vertex, Edge>();
    const queue: Vertex[] = [];
    for (const e of starts) {
      if (e.to.moduleId === m || parent.has(e.to)) continue;
      parent.set(e.to, e);
      queue.push(e.to);
    }
    const found = new Map<Vertex, Edge>();
    for (let i = 0; i < queue.length; i++) {
      const x = queue[i]!;
      for (const e of graph.out.get(x) ?? []) {
        const w = e.to;
        if (w.moduleId === m) {
          if ((e.kind === 'downcall' && w.entry!.policy !== 'query') || e.kind === 'bypass') {
            if (!found.has(w)) found.set(w, e);
          }
          continue;
        }
        if (parent.has(w)) continue;
        parent.set(w, e);
        queue.push(w);
      }
    }
    for (const [w, last] of found) {
      const hop = hopOf(w, 0);
      if (closed.has(`${hop.module}|${hop.file}|${hop.function}`)) continue;
      const path: Edge[] = [last];
      for (let v = last.from; ; ) {
        const e = parent.get(v)!;
        path.unshift(e);
        if (e.from.moduleId === m) break;
        v = e.from;
      }
      // chain: w, then the function of M whose call left M, then the way back to w.
      const from = path[0]!.from;
      const chain = [hopOf(w, w.line), ...path.map((e) => hopOf(e.from, e.line))];
      const links: Link[] = [{ kind: 'onPath' }, ...path.map(link)];
      let kind: CycleKind;
      let reason: string;
      const how = `${label(from)} is still on the task's path when ${label(last.from)} calls ${label(w)}`;
      if (last.kind === 'bypass') {
        kind = 'unsafe';
        reason = `${how}, which is not an entry point: the recursion guard never sees the re-entry`;
      } else {
        const e = w.entry!;
        const policy = e.declared !== undefined ? `${e.declared} (taken as '${e.policy}', the strictest)` : `'${e.policy}'`;
        kind = e.policy === 'reject' ? 'unsafe' : e.policy === 'defer' ? 'deferred' : 'reentrant';
        reason =
          kind === 'unsafe'
            ? `${how}, declared ${policy}: it throws RecursionRejected on this path`
            : kind === 'deferred'
              ? `${how}, declared ${policy}: the call waits until the upcall returns`
              : `${how}, declared ${policy}`;
      }
      out.push({ kind, chain, links, reason });
    }
  }
  return out;
}
