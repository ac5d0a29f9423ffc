/**
 * Rule 2 statically: an upcall made while a module holds its own lock. The
 * region is the callback of `lock.locked(...)` or the statements between
 * `await lock.acquire()` and the release; the upcall may be in it directly or
 * in a function of the same module it calls synchronously. The runtime throws
 * LayerViolation there; this finds it before the path runs.
 */
import type { FnNode, Graph, LockRegion } from './graph.js';
import type { Hop, LockedUpcall } from './model.js';

interface Step {
  readonly node: FnNode;
  /** Which of the node's sites run under the lock. */
  readonly inRegion: (site: { pos: number; async: boolean }) => boolean;
  readonly parent: Step | undefined;
  /** Line in the parent where the call to this node is made. */
  readonly viaLine: number;
}

function hops(step: Step, lastLine: number, module: string): Hop[] {
  const out: Hop[] = [];
  let line = lastLine;
  for (let s: Step | undefined = step; s !== undefined; s = s.parent) {
    out.push({ module: s.node.anchored ? s.node.module : module, function: s.node.name, file: s.node.file, line });
    line = s.viaLine;
  }
  return out.reverse();
}

function regionFindings(region: LockRegion): LockedUpcall[] {
  const holder = region.holder;
  const module = holder.module;
  const moduleId = holder.moduleId;
  const found: LockedUpcall[] = [];
  const reported = new Set<string>();
  const visited = new Set<FnNode>();
  const queue: Step[] = [];
  const sync = (s: { async: boolean }): boolean => !s.async;
  if (region.ranges.length > 0) {
    const ranges = region.ranges;
    queue.push({ node: holder, inRegion: (s) => ranges.some(([a, b]) => s.pos >= a && s.pos < b), parent: undefined, viaLine: region.line });
  }
  const top: Step = { node: holder, inRegion: () => false, parent: undefined, viaLine: region.line };
  for (const r of region.rootNodes) {
    // The callback of locked() runs entirely under the lock, awaits included.
    visited.add(r);
    queue.push({ node: r, inRegion: () => true, parent: top, viaLine: region.line });
  }
  for (let i = 0; i < queue.length; i++) {
    const step = queue[i]!;
    for (const u of step.node.upcalls) {
      if (!step.inRegion(u)) continue;
      const key = `${step.node.id}@${u.pos}`;
      if (reported.has(key)) continue;
      reported.add(key);
      const path = hops(step, u.line, module);
      found.push({
        module,
        function: holder.name,
        file: holder.file,
        line: region.line,
        slot: u.slot,
        upcall: path[path.length - 1]!,
        path,
      });
    }
    for (const c of step.node.calls) {
      if (!step.inRegion(c)) continue;
      for (const t of c.targets) {
        // Helper code runs as the module holding the lock; another module's code is not this module's upcall.
        if ((t.anchored && t.moduleId !== moduleId) || visited.has(t)) continue;
        visited.add(t);
        queue.push({ node: t, inRegion: sync, parent: step, viaLine: c.line });
      }
    }
  }
  return found;
}

export function findLockedUpcalls(graph: Graph): LockedUpcall[] {
  const all: LockedUpcall[] = [];
  const seen = new Set<string>();
  for (const r of graph.regions) {
    for (const f of regionFindings(r)) {
      // One slot upcall site may be listed once per slot it can name; keep each (region, site, slot) once.
      const key = `${f.file}:${f.line}>${f.upcall.file}:${f.upcall.line}:${f.slot}`;
      if (seen.has(key)) continue;
      seen.add(key);
      all.push(f);
    }
  }
  all.sort((a, b) => (a.file !== b.file ? (a.file < b.file ? -1 : 1) : a.line - b.line || (a.slot < b.slot ? -1 : a.slot > b.slot ? 1 : 0)));
  return all;
}
