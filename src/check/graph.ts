/**
 * The call graph the checker reasons about: one node per function that can run
 * (method, function, arrow, entry point), edges for calls and for upcalls
 * resolved to the handlers that can be bound to the slot.
 */
import type ts from 'typescript';
import type { CallbackRegistry, EdgeCounts, EntrySummary, GuessedHandOver, LinkKind } from './model.js';

/**
 * Which module: `name` is what the runtime calls it (and what reports show);
 * `id` tells apart two classes given the same default name (TcpObserver and
 * Tcp are both 'tcp', never on one host together).
 */
export interface ModuleRef {
  readonly id: string;
  readonly name: string;
}

export interface ModuleInfo extends ModuleRef {
  /** Runtime name: the literal passed to `super(rt, name)`, else the class name. */
  readonly name: string;
  readonly className: string;
  readonly decl: ts.ClassLikeDeclaration;
  readonly file: string;
  readonly line: number;
  readonly entries: EntrySummary[];
}

/** A call made by a function, targets still as declarations until the walk is over. */
export interface CallSite {
  readonly refs: readonly ts.Node[];
  /** Only the declarations themselves, no overrides or implementations (`super.f()`). */
  readonly exact: boolean;
  readonly line: number;
  readonly pos: number;
  /** After an `await` of the same body: it runs on a later turn, not inside the caller's activation. */
  readonly async: boolean;
  /** The function handed to `afterUnwind(client, key, fn)`: runs when the activation unwinds. */
  readonly unwind?: { readonly key: string; readonly at: string };
  targets: FnNode[];
}

export interface UpcallSite {
  /** Declarations of the slot member(s) in the slot set type. */
  readonly slotDecls: readonly ts.Node[];
  readonly slot: string;
  readonly line: number;
  readonly pos: number;
  readonly async: boolean;
  targets: FnNode[];
}

export interface FnNode {
  readonly id: number;
  /** The function-like node, or the property holding an entry built from a reference. */
  readonly decl: ts.Node;
  name: string;
  readonly file: string;
  readonly line: number;
  /** Module class the function is written in, if any. */
  readonly lexical: ModuleInfo | undefined;
  entry: EntrySummary | undefined;
  /** The class it is written in, if any. */
  readonly className: string | undefined;
  readonly calls: CallSite[];
  readonly upcalls: UpcallSite[];
  /**
   * Module of code written in a module class (or of a handler: the owner it was
   * bound for, else a pseudo-module named after its file). Helper code is not
   * anchored: it runs as whichever module calls it (see Vertex); here it has
   * the pseudo-module of its file.
   */
  module: string;
  moduleId: string;
  anchored: boolean;
}

/**
 * A vertex of the graph: a function as run by one module. Code of a module
 * (its class, a handler bound for it) has one vertex; helper code outside any
 * module (a connection class, a decoder, a plain function) has one per module
 * whose activation calls it, since at run time it is that module's frame that
 * is on the task's path while it runs.
 */
export interface Vertex {
  readonly id: number;
  readonly fn: FnNode;
  readonly module: string;
  readonly moduleId: string;
  readonly name: string;
  readonly file: string;
  readonly line: number;
  readonly entry: FnNode['entry'];
  readonly anchored: boolean;
  readonly className: string | undefined;
}

export interface Edge {
  readonly from: Vertex;
  readonly to: Vertex;
  readonly line: number;
  readonly pos: number;
  kind: LinkKind;
  readonly slot?: string;
  /** For 'afterUnwind' edges: afterUnwind's key and its call site (file:line). */
  readonly unwind?: { readonly key: string; readonly at: string };
  /** The edge enters another module. */
  crossing: boolean;
}

/** A region where a module holds a lock: the callback of `locked(...)`, or code after `await acquire()`. */
export interface LockRegion {
  readonly holder: FnNode;
  readonly line: number;
  /** Functions run under the lock (callbacks of `locked`). */
  readonly roots: readonly ts.Node[];
  /** Source ranges of `holder` run under the lock (after `acquire`). */
  readonly ranges: readonly (readonly [number, number])[];
  rootNodes: FnNode[];
}

export interface Graph {
  readonly fns: FnNode[];
  readonly vertices: Vertex[];
  readonly modules: ModuleInfo[];
  /** Deduplicated: one edge per caller -> callee pair, synchronous calls only. */
  readonly edges: Edge[];
  readonly out: Map<Vertex, Edge[]>;
  readonly regions: LockRegion[];
  readonly files: number;
  readonly notes: string[];
  readonly registries: CallbackRegistry[];
  readonly guessedHandOvers: GuessedHandOver[];
}

export function countEdges(edges: readonly Edge[]): EdgeCounts {
  const c: EdgeCounts = { call: 0, downcall: 0, bypass: 0, upcall: 0, afterUnwind: 0 };
  for (const e of edges) c[e.kind]++;
  return c;
}
