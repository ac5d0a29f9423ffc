/**
 * Elementary cycles of a directed graph: Tarjan's strongly connected
 * components, then Johnson's algorithm inside each component that can hold a
 * cycle worth reporting. Both iterative, so a deep graph cannot overflow the
 * stack. Enumeration is bounded: the number of elementary cycles can grow
 * exponentially, and a checker that never returns helps nobody.
 */

export interface CycleLimits {
  /** Stop after this many accepted cycles. */
  maxCycles: number;
  /** Stop after this many edge visits inside the enumeration. */
  maxSteps: number;
}

export interface CycleSearch {
  /** Node sequences; the edge from the last node back to the first closes each. */
  cycles: number[][];
  truncated: boolean;
  steps: number;
}

/** Scratch arrays for Tarjan, sized for the whole graph and reset after each use. */
class TarjanScratch {
  readonly index: Int32Array;
  readonly low: Int32Array;
  readonly onStack: Uint8Array;
  constructor(n: number) {
    this.index = new Int32Array(n).fill(-1);
    this.low = new Int32Array(n);
    this.onStack = new Uint8Array(n);
  }
}

/**
 * Strongly connected components of the subgraph induced by `allowed`, reached
 * from `starts`. Returns components in the order Tarjan completes them.
 */
export function stronglyConnected(
  succ: readonly (readonly number[])[],
  allowed: (v: number) => boolean,
  starts: Iterable<number>,
  scratch: TarjanScratch = new TarjanScratch(succ.length),
): number[][] {
  const { index, low, onStack } = scratch;
  const touched: number[] = [];
  const stack: number[] = [];
  const comps: number[][] = [];
  let next = 0;
  const work: { v: number; i: number }[] = [];
  const open = (v: number): void => {
    index[v] = low[v] = next++;
    touched.push(v);
    stack.push(v);
    onStack[v] = 1;
    work.push({ v, i: 0 });
  };
  for (const s of starts) {
    if (index[s] !== -1 || !allowed(s)) continue;
    open(s);
    while (work.length > 0) {
      const f = work[work.length - 1]!;
      const ws = succ[f.v]!;
      if (f.i < ws.length) {
        const w = ws[f.i++]!;
        if (!allowed(w)) continue;
        if (index[w] === -1) open(w);
        else if (onStack[w] === 1 && index[w]! < low[f.v]!) low[f.v] = index[w]!;
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const p = work[work.length - 1]!.v;
        if (low[f.v]! < low[p]!) low[p] = low[f.v]!;
      }
      if (low[f.v] === index[f.v]) {
        const comp: number[] = [];
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = 0;
          comp.push(w);
        } while (w !== f.v);
        comps.push(comp);
      }
    }
  }
  for (const v of touched) index[v] = -1;
  return comps;
}

/**
 * Every elementary cycle (self-loops excluded) for which `accept` returns true,
 * each once. `worthSearching(component)` lets the caller skip components that
 * cannot hold an accepted cycle.
 */
export function elementaryCycles(
  succ: readonly (readonly number[])[],
  accept: (cycle: readonly number[]) => boolean,
  worthSearching: (component: readonly number[]) => boolean,
  limits: CycleLimits,
): CycleSearch {
  const n = succ.length;
  const all = Array.from({ length: n }, (_, i) => i);
  const found: number[][] = [];
  let steps = 0;
  let truncated = false;
  const inSub = new Uint8Array(n);
  const blocked = new Uint8Array(n);
  const B: (Set<number> | undefined)[] = new Array<Set<number> | undefined>(n);

  const unblock = (u: number): void => {
    const todo = [u];
    while (todo.length > 0) {
      const x = todo.pop()!;
      if (blocked[x] === 0) continue;
      blocked[x] = 0;
      const bs = B[x];
      if (bs !== undefined) {
        for (const w of bs) todo.push(w);
        bs.clear();
      }
    }
  };

  /** Johnson's CIRCUIT from s, inside the component marked in inSub. False when a limit stopped it. */
  const circuit = (s: number): boolean => {
    const path = [s];
    blocked[s] = 1;
    const frames: { v: number; i: number; found: boolean }[] = [{ v: s, i: 0, found: false }];
    while (frames.length > 0) {
      const f = frames[frames.length - 1]!;
      const ws = succ[f.v]!;
      if (f.i < ws.length) {
        const w = ws[f.i++]!;
        if (inSub[w] === 0) continue;
        if (++steps > limits.maxSteps) return false;
        if (w === s) {
          if (path.length < 2) continue; // a self-loop: not a cycle through modules
          f.found = true;
          if (accept(path)) {
            found.push(path.slice());
            if (found.length >= limits.maxCycles) return false;
          }
        } else if (blocked[w] === 0) {
          path.push(w);
          blocked[w] = 1;
          frames.push({ v: w, i: 0, found: false });
        }
        continue;
      }
      frames.pop();
      path.pop();
      if (f.found) {
        unblock(f.v);
      } else {
        for (const w of ws) {
          if (inSub[w] === 0) continue;
          let bs = B[w];
          if (bs === undefined) B[w] = bs = new Set();
          bs.add(f.v);
        }
      }
      if (frames.length > 0 && f.found) frames[frames.length - 1]!.found = true;
    }
    return true;
  };

  // Johnson's decomposition: enumerate the cycles through one vertex of a
  // component, remove that vertex, and go on in the components that remain.
  // Each cycle is found once, when the first of its vertices is chosen.
  const scratch = new TarjanScratch(n);
  const inComp = new Uint8Array(n);
  const todo = stronglyConnected(succ, () => true, all, scratch).filter((c) => c.length > 1);
  while (todo.length > 0) {
    const comp = todo.pop()!;
    if (!worthSearching(comp)) continue;
    let s = comp[0]!;
    for (const v of comp) if (v < s) s = v;
    for (const v of comp) {
      inSub[v] = 1;
      blocked[v] = 0;
      B[v]?.clear();
    }
    const ok = circuit(s);
    for (const v of comp) inSub[v] = 0;
    if (!ok) {
      truncated = true;
      break;
    }
    for (const v of comp) inComp[v] = 1;
    inComp[s] = 0;
    for (const c of stronglyConnected(succ, (v) => inComp[v] === 1, comp, scratch)) if (c.length > 1) todo.push(c);
    for (const v of comp) inComp[v] = 0;
  }
  return { cycles: found, truncated, steps };
}
