/**
 * The call graph the checker reasons about: one node per function that can run
 * (method, function, arrow, entry point), edges for calls and for upcalls
 * resolved to the handlers that can be bound to the slot.
 */
import type ts from 'typescript';
import type { EdgeCounts, LinkKind, Policy } from './model.js';

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
  readonly entries: { name: string; policy: Policy }[];
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
  entry: { name: string; policy: Policy } | undefined;
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
}

export interface Edge {
  readonly from: Vertex;
  readonly to: Vertex;
  readonly line: number;
  readonly pos: number;
  kind: LinkKind;
  readonly slot?: string;
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
}

export function countEdges(edges: readonly Edge[]): EdgeCounts {
  const c: EdgeCounts = { call: 0, downcall: 0, bypass: 0, upcall: 0 };
  for (const e of edges) c[e.kind]++;
  return c;
}
