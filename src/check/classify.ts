/**
 * Turning a cycle of the call graph into a finding: which kind, why, and a
 * chain of hops starting at a stable place.
 *
 * Going once round a cycle puts every module on it on the task's path, so
 * each downcall on the cycle meets its module already there, and its declared
 * policy decides (core's Module.entry):
 *  - a 'defer' entry queues the call until the upcall returns, and a function
 *    handed to `afterUnwind` runs when the activation unwinds: the recursion
 *    is cut, the cycle is `deferred`;
 *  - otherwise, any call into another module's code that is not an entry point
 *    (a bypass) or into a 'reject' entry, or a cycle that comes back through
 *    upcalls alone, is `unsafe`: nothing allows the re-entry;
 *  - a cycle whose every downcall is 'reentrant' (or a read-only query) is
 *    `reentrant`: allowed.
 * An entry whose policy is a union type counts as its strictest member
 * ('reject', then 'defer', then 'reentrant'), and the reason says so.
 */
import type { Edge, Vertex } from './graph.js';
import type { Cycle, CycleKind, Hop, Link } from './model.js';

const KIND_ORDER: Record<CycleKind, number> = { unsafe: 0, deferred: 1, reentrant: 2 };

function label(n: Vertex): string {
  return `${n.module}.${n.name}`;
}

/** `'reject'`, or `'reject' | 'reentrant' (taken as 'reject', the strictest)`. */
function policyText(n: Vertex): string {
  const e = n.entry!;
  return e.declared !== undefined ? `${e.declared} (taken as '${e.policy}', the strictest)` : `'${e.policy}'`;
}

function before(a: Vertex, b: Vertex): boolean {
  if (a.file !== b.file) return a.file < b.file;
  if (a.line !== b.line) return a.line < b.line;
  return a.id < b.id;
}

export function classifyCycle(edges: readonly Edge[]): { kind: CycleKind; reason: string } {
  const query = edges.find((e) => e.kind === 'downcall' && e.to.entry?.policy === 'query');
  if (query !== undefined) {
    return {
      kind: 'unsafe',
      reason: `${label(query.to)} is a query, and this path calls up from it: the runtime refuses an upcall (or afterUnwind) inside a query`,
    };
  }
  const unwind = edges.find((e) => e.kind === 'afterUnwind');
  if (unwind !== undefined) {
    return {
      kind: 'deferred',
      reason: `${label(unwind.from)} hands ${label(unwind.to)} to afterUnwind (key '${unwind.unwind!.key}', ${unwind.unwind!.at}): it runs when ${unwind.from.module}'s activation unwinds`,
    };
  }
  const defer = edges.find((e) => e.kind === 'downcall' && e.to.entry?.policy === 'defer');
  if (defer !== undefined) {
    return { kind: 'deferred', reason: `${label(defer.to)} is declared ${policyText(defer.to)}: the call from ${label(defer.from)} waits until the upcall returns` };
  }
  const bypass = edges.find((e) => e.kind === 'bypass');
  if (bypass !== undefined) {
    const callback = bypass.to.fn.lexical !== undefined && bypass.to.fn.lexical.decl !== bypass.to.fn.decl.parent;
    return {
      kind: 'unsafe',
      reason: callback
        ? `${label(bypass.from)} calls ${label(bypass.to)}, a callback of ${bypass.to.module} it keeps itself, directly instead of through an upcall: ` +
          `${bypass.to.module} is never on the task's path, and the recursion guard never sees the re-entry`
        : `${label(bypass.from)} calls ${label(bypass.to)}, which is not an entry point: the recursion guard never sees the re-entry`,
    };
  }
  const reject = edges.find((e) => e.kind === 'downcall' && e.to.entry?.policy === 'reject');
  if (reject !== undefined) {
    return {
      kind: 'unsafe',
      reason: `${label(reject.to)} is declared ${policyText(reject.to)}: the call from ${label(reject.from)} throws RecursionRejected on this path`,
    };
  }
  const downcalls = edges.filter((e) => e.kind === 'downcall');
  if (downcalls.length === 0) {
    const up = edges.find((e) => e.crossing)!;
    return { kind: 'unsafe', reason: `${up.to.module} is re-entered through upcalls alone: no entry point declares the recursion` };
  }
  const named = [...new Set(downcalls.map((e) => `${label(e.to)}${e.to.entry!.policy === 'query' ? ' (a read-only query)' : ''}`))];
  const queries = downcalls.every((e) => e.to.entry!.policy === 'query');
  const declared = downcalls.find((e) => e.to.entry!.declared !== undefined);
  const verb = queries ? (named.length > 1 ? 'are declared queries' : 'is a declared query') : `${named.length > 1 ? 'are' : 'is'} declared 'reentrant'`;
  const union = declared !== undefined ? ` (${label(declared.to)}: ${policyText(declared.to)})` : '';
  return { kind: 'reentrant', reason: `${queries ? [...new Set(downcalls.map((e) => label(e.to)))].join(', ') : named.join(', ')} ${verb}${union}` };
}

function link(e: Edge): Link {
  if (e.kind === 'upcall') return { kind: 'upcall', slot: e.slot! };
  if (e.kind === 'afterUnwind') return { kind: 'afterUnwind', key: e.unwind!.key, at: e.unwind!.at };
  if (e.kind === 'downcall') return { kind: 'downcall', entry: e.to.entry!.name, policy: e.to.entry!.policy };
  return { kind: e.kind };
}

/**
 * A finding for the cycle `nodes` (edge i goes from nodes[i] to nodes[i+1],
 * the last back to the first). The chain starts at the entry point the cycle
 * re-enters (the earliest in the source if several), else at its earliest function.
 */
export function toCycle(nodes: readonly Vertex[], edgeOf: (from: Vertex, to: Vertex) => Edge): Cycle {
  const k = nodes.length;
  const edges = nodes.map((n, i) => edgeOf(n, nodes[(i + 1) % k]!));
  let start = -1;
  for (let i = 0; i < k; i++) {
    const into = edges[(i + k - 1) % k]!;
    if (into.kind !== 'downcall' && into.kind !== 'bypass') continue;
    if (start < 0 || before(nodes[i]!, nodes[start]!)) start = i;
  }
  if (start < 0) {
    start = 0;
    for (let i = 1; i < k; i++) if (before(nodes[i]!, nodes[start]!)) start = i;
  }
  const chain: Hop[] = [];
  const links: Link[] = [];
  for (let j = 0; j < k; j++) {
    const i = (start + j) % k;
    const n = nodes[i]!;
    chain.push(hopOf(n, edges[i]!.line));
    links.push(link(edges[i]!));
  }
  const { kind, reason } = classifyCycle(edges);
  return { kind, chain, links, reason };
}

export function hopOf(n: Vertex, line: number): Hop {
  return n.className !== undefined
    ? { module: n.module, class: n.className, function: n.name, file: n.file, line }
    : { module: n.module, function: n.name, file: n.file, line };
}

export function chainText(c: { chain: readonly Hop[] }): string {
  return [...c.chain, c.chain[0]!].map((h) => `${h.module}.${h.function}`).join(' -> ');
}

export function compareCycles(a: Cycle, b: Cycle): number {
  const k = KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
  if (k !== 0) return k;
  const ka = a.chain.map((h) => `${h.file}:${String(h.line).padStart(6, '0')}:${h.module}.${h.function}`).join('|');
  const kb = b.chain.map((h) => `${h.file}:${String(h.line).padStart(6, '0')}:${h.module}.${h.function}`).join('|');
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
