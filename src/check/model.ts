/**
 * What the loop checker reports. Plain records, so the CLI, the SARIF writer,
 * the benchmark and the tests all read the same thing.
 */

/** The recursion policy an entry point declares (mirrors core's RecursionPolicy). */
export type Policy = 'reentrant' | 'defer' | 'reject';

export type CycleKind = 'unsafe' | 'deferred' | 'reentrant';

/**
 * One function on a cycle. `line` is where this function makes the call (or
 * the upcall) that leads to the next hop, so each hop points at a link of the
 * chain; the last hop's call leads back to the first.
 */
export interface Hop {
  module: string;
  function: string;
  /** Relative to the working directory, with '/' separators. */
  file: string;
  line: number;
}

/**
 * How a hop reaches the next one:
 *  - 'call': an ordinary call inside one module (or into helper code it runs);
 *  - 'downcall': a call into another module's entry point (its policy applies);
 *  - 'bypass': a call into another module's code that is not an entry point,
 *    so the runtime's recursion guard never sees it;
 *  - 'upcall': an upcall through a slot into a handler bound to it.
 */
export type LinkKind = 'call' | 'downcall' | 'bypass' | 'upcall';

export interface Link {
  kind: LinkKind;
  /** Slot name, for upcalls. */
  slot?: string;
  /** Entry name and its declared policy, for downcalls. */
  entry?: string;
  policy?: Policy;
}

export interface Cycle {
  kind: CycleKind;
  chain: Hop[];
  /** links[i] goes from chain[i] to chain[(i + 1) % chain.length]. */
  links: Link[];
  /** One sentence: why the cycle got its kind. */
  reason: string;
}

/** Rule 2 seen statically: an upcall made while the module holds its own lock. */
export interface LockedUpcall {
  /** The function holding the lock, and the line where it takes it. */
  module: string;
  function: string;
  file: string;
  line: number;
  slot: string;
  /** Where the upcall is made. */
  upcall: Hop;
  /** From the locked region to the upcall, the last hop being the upcall site. */
  path: Hop[];
}

export interface ModuleSummary {
  name: string;
  className: string;
  file: string;
  line: number;
  entries: { name: string; policy: Policy }[];
}

export interface EdgeCounts {
  call: number;
  downcall: number;
  bypass: number;
  upcall: number;
}

export interface CheckResult {
  /** TypeScript files analysed (the runtime's own files excluded). */
  files: number;
  /** Classes extending core's Module. */
  modules: number;
  moduleList: ModuleSummary[];
  /** Distinct caller -> callee pairs in the call graph. */
  edges: number;
  edgeCounts: EdgeCounts;
  /** Sorted: unsafe first, then deferred, then reentrant; within a kind by chain. */
  cycles: Cycle[];
  lockedUpcalls: LockedUpcall[];
  /** Things the reader should know (enumeration cap reached, an upcall whose slot type is unknown). */
  notes: string[];
  /** True when cycle enumeration stopped at its cap: the list is incomplete. */
  truncated: boolean;
  timings: { programMs: number; graphMs: number; cyclesMs: number; totalMs: number };
}

/** Bad arguments or unreadable input: the CLI exits 2 with `message`. */
export class CheckInputError extends Error {
  override readonly name = 'CheckInputError';
}
