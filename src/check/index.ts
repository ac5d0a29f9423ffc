/**
 * The static call-graph loop checker (rule 4 before the code runs).
 *
 * `checkLoops({ paths, cwd })` builds a TypeScript Program over the paths (with
 * the project's tsconfig options; packages and Node's built-ins left out) and,
 * with the type checker, a call graph of what can run synchronously in one task
 * (extract.ts lists the phases, one module each):
 *  - the runtime is recognised by where its declarations are (the `core`
 *    folder beside the checker), never by name: a user's class called Module
 *    is ordinary code;
 *  - modules: classes extending core's Module; name = the literal given to
 *    `super(rt, name)`, else the class name; entry points: members initialised
 *    with `this.entry(name, policy, fn)` (a policy typed as a union counts as its
 *    strictest member) and read-only `this.query(name, fn)`;
 *  - calls: to methods, functions, entry points, closures stored in a variable,
 *    a field, a Map, a Set or an array (`map.get(k)?.(d)`, `for (const f of fs)`),
 *    or passed for a parameter, implementations of an interface member handed
 *    over, overriding methods; callbacks of `lock.locked`, array iteration and
 *    `new Promise` run in place; timers, `startTask` and code after an
 *    unconditional `await` do not (another task, or after the caller's
 *    activation is over: the runtime's path has unwound); the function handed
 *    to `afterUnwind` runs when the activation unwinds (a deferred edge);
 *  - upcalls: `this.upcall(binding, 'slot')` / `upcallAll(table, 'slot')` reach
 *    every function that can be bound to that member of the slot set type H;
 *  - the module a function runs as: the module class it is written in; a
 *    handler outside any module, when upcalled, the owner it was bound for;
 *    other code (a connection class, a plain function, a handler called
 *    directly) runs as each module that calls it, and a closure of such code
 *    only where the function creating it ran.
 * Findings: every elementary cycle that crosses a module boundary, and every
 * re-entry of a module still on the path that closes none (reentry.ts), as a
 * chain of hops (module, class, function, file:line of the call to the next
 * hop), classified unsafe, deferred or reentrant (classify.ts); upcalls under
 * a module's lock; undeclared cross-module calls (a module's method that is not
 * an entry point or query, called from another module); hand-made callback
 * registries; hand-overs the code suggests but never shows (guessed, not
 * followed). Results can be cached by content (cache.ts).
 *
 * Over-approximations to know: one graph for all instances of a class; every
 * handler bound to a slot anywhere can be behind an upcall of that slot; a
 * non-literal slot name means every slot of H.
 *
 * Import it as `upcall-stack/check`; it needs the `typescript` package
 * (an optional peer dependency of upcall-stack).
 *
 * @module upcall-stack/check
 */
export { checkLoops, runCheck, findCycles, findBypasses, DEFAULT_PATHS, type CheckOptions, type CheckRun } from './check.js';
export { findReentries } from './reentry.js';
export { ResultCache } from './cache.js';
export { runCli, type CliIo, type CliOptions } from './cli.js';
export { elementaryCycles, stronglyConnected, type CycleLimits, type CycleSearch } from './cycles.js';
export { classifyCycle, chainText } from './classify.js';
export { formatText, toJson, unsafeCount, failureCount, type JsonReport } from './report.js';
export { toSarif, SARIF_SCHEMA, type SarifOptions } from './sarif.js';
export { collectFiles } from './program.js';
export * from './model.js';
