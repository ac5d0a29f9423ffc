/**
 * What the loop checker reports. Plain records, so the CLI, the SARIF writer,
 * the benchmark and the tests all read the same thing.
 */

/**
 * The recursion policy an entry point declares (mirrors core's RecursionPolicy),
 * or 'query' for a read-only entry declared with `query(name, fn)`.
 */
export type Policy = 'reentrant' | 'defer' | 'reject' | 'query';

export type CycleKind = 'unsafe' | 'deferred' | 'reentrant';

/**
 * One function on a cycle. `line` is where this function makes the call (or
 * the upcall) that leads to the next hop, so each hop points at a link of the
 * chain; the last hop's call leads back to the first.
 */
export interface Hop {
  module: string;
  /** The class the function is written in (the module's class, or a helper class); absent for a plain function. */
  class?: string;
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
 *  - 'upcall': an upcall through a slot into a handler bound to it;
 *  - 'afterUnwind': the function handed to `afterUnwind(client, key, fn)`: it
 *    runs when the module's activation for that client unwinds, not now;
 *  - 'onPath': no call: a re-entry's first hop is an entry of a module whose
 *    activation (the next hop) is still on the task's path.
 */
export type LinkKind = 'call' | 'downcall' | 'bypass' | 'upcall' | 'afterUnwind' | 'onPath';

export interface Link {
  kind: LinkKind;
  /** Slot name, for upcalls. */
  slot?: string;
  /** Entry name and its declared policy, for downcalls. */
  entry?: string;
  policy?: Policy;
  /** For afterUnwind links: the key, and where afterUnwind is called (file:line). */
  key?: string;
  at?: string;
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

export interface EntrySummary {
  name: string;
  policy: Policy;
  /** When the policy is not one literal: what the type allows (`'reject' | 'reentrant'`); `policy` is the strictest. */
  declared?: string;
}

export interface ModuleSummary {
  name: string;
  className: string;
  file: string;
  line: number;
  entries: EntrySummary[];
}

export interface EdgeCounts {
  onPath?: number;
  call: number;
  downcall: number;
  bypass: number;
  upcall: number;
  afterUnwind: number;
}

/**
 * A call from one module into another module's code that is not a declared
 * entry point (or query): the runtime does not see the module boundary, so
 * neither its recursion guard nor its cleanup applies. CI fails on one.
 */
export interface BypassCall {
  /** The caller, at the line of the call. */
  from: Hop;
  /** The function called, at its declaration. */
  to: Hop;
}

/**
 * A module keeping its clients' callbacks itself (a Map, an array, a field)
 * instead of binding them through a SlotTable: calling them is not an upcall,
 * so the runtime never puts the client's module on the task's path.
 */
export interface CallbackRegistry {
  module: string;
  class: string;
  file: string;
  /** Where a callback given by a client is stored. */
  line: number;
  /** The field holding them (`subscribers`). */
  field: string;
  /** The function storing it (an entry point, usually). */
  function: string;
}

/**
 * A hand-over the checker did not see but that the code suggests: a class
 * satisfying an interface that the analysed code calls, with no value of the
 * class ever handed over as it. Not followed: it makes no cycle.
 */
export interface GuessedHandOver {
  /** The interface (or class type) called through. */
  interface: string;
  file: string;
  line: number;
  /** The class that could stand behind it, where it is declared. */
  class: string;
  classFile: string;
  classLine: number;
  /** Module of that class, when it is one. */
  module?: string;
  /** Why it was considered: `implements` clause, or a module constructor taking the interface. */
  why: string;
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
  /** Undeclared cross-module calls, sorted by caller place. */
  bypasses: BypassCall[];
  registries: CallbackRegistry[];
  guessedHandOvers: GuessedHandOver[];
  /** Things the reader should know (enumeration cap reached, an upcall whose slot type is unknown). */
  notes: string[];
  /** True when cycle enumeration stopped at its cap: the list is incomplete. */
  truncated: boolean;
  timings: { programMs: number; graphMs: number; cyclesMs: number; totalMs: number };
  /** 'hit' when the result came from the cache (timings then are the lookup's). */
  cache?: 'hit' | 'miss' | 'off';
}

/** Bad arguments or unreadable input: the CLI exits 2 with `message`. */
export class CheckInputError extends Error {
  override readonly name = 'CheckInputError';
}
