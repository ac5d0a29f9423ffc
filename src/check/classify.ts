/**
 * Turning a cycle of the call graph into a finding: which kind, why, and a
 * chain of hops starting at a stable place.
 *
 * Going once round a cycle puts every module on it on the task's path, so
 * each downcall on the cycle meets its module already there, and its declared
 * policy decides (core's Module.entry):
 *  - a 'defer' entry queues the call until the upcall returns: the recursion is
 *    cut, the cycle is `deferred`;
 *  - otherwise, any call into another module's code that is not an entry point
 *    (a bypass) or into a 'reject' entry, or a cycle that comes back through
 *    upcalls alone, is `unsafe`: nothing allows the re-entry;
 *  - a cycle whose every downcall is 'reentrant' is `reentrant`: allowed.
 */
import type { Edge, Vertex } from './graph.js';
import type { Cycle, CycleKind, Hop, Link } from './model.js';

const KIND_ORDER: Record<CycleKind, number> = { unsafe: 0, deferred: 1, reentrant: 2 };

function label(n: Vertex): string {
  return `${n.module}.${n.name}`;
}

function before(a: Vertex, b: Vertex): boolean {
  if (a.file !== b.file) return a.file < b.file;
  if (a.line !== b.line) return a.line < b.line;
  return a.id < b.id;
}

export function classifyCycle(edges: readonly Edge[]): { kind: CycleKind; reason: string } {
  const defer = edges.find((e) => e.kind === 'downcall' && e.to.entry?.policy === 'defer');
  if (defer !== undefined) {
    return { kind: 'deferred', reason: `${label(defer.to)} is declared 'defer': the call from ${label(defer.from)} waits until the upcall returns` };
  }
  const bypass = edges.find((e) => e.kind === 'bypass');
  if (bypass !== undefined) {
    return {
      kind: 'unsafe',
      reason: `${label(bypass.from)} calls ${label(bypass.to)}, which is not an entry point: the recursion guard never sees the re-entry`,
    };
  }
  const reject = edges.find((e) => e.kind === 'downcall' && e.to.entry?.policy === 'reject');
  if (reject !== undefined) {
    return {
      kind: 'unsafe',
      reason: `${label(reject.to)} is declared 'reject': the call from ${label(reject.from)} throws RecursionRejected on this path`,
    };
  }
  const downcalls = edges.filter((e) => e.kind === 'downcall');
  if (downcalls.length === 0) {
    const up = edges.find((e) => e.crossing)!;
    return { kind: 'unsafe', reason: `${up.to.module} is re-entered through upcalls alone: no entry point declares the recursion` };
  }
  const names = [...new Set(downcalls.map((e) => label(e.to)))].join(', ');
  return { kind: 'reentrant', reason: `${names} ${downcalls.length > 1 ? 'are' : 'is'} declared 'reentrant'` };
}

function link(e: Edge): Link {
  if (e.kind === 'upcall') return { kind: 'upcall', slot: e.slot! };
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
    chain.push({ module: n.module, function: n.name, file: n.file, line: edges[i]!.line });
    links.push(link(edges[i]!));
  }
  const { kind, reason } = classifyCycle(edges);
  return { kind, chain, links, reason };
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
