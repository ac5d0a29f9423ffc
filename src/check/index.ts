/**
 * The static call-graph loop checker (rule 4 before the code runs).
 *
 * `checkLoops({ paths, cwd })` builds a TypeScript Program over the paths (with
 * the project's tsconfig options) and, with the type checker, a call graph of
 * what can run synchronously in one task:
 *  - modules: classes extending core's Module; name = the literal given to
 *    `super(rt, name)`, else the class name; entry points: members initialised
 *    with `this.entry(name, policy, fn)`;
 *  - calls: to methods, functions, entry points, closures stored in a variable,
 *    a field or passed for a parameter, implementations of an interface member,
 *    overriding methods; callbacks of `lock.locked`, array iteration and
 *    `new Promise` run in place; timers, `startTask` and code after an `await`
 *    do not (another task, or after the caller's activation is over);
 *  - upcalls: `this.upcall(binding, 'slot')` / `upcallAll(table, 'slot')` reach
 *    every function that can be bound to that member of the slot set type H:
 *    properties of object literals given as H (or Partial<H>), methods of
 *    classes implementing it or passed as it, and, through structural typing,
 *    handlers bound through another interface that is handed over as H (a
 *    layer's own StreamSlots passed on to TCP's TcpSlots); an interface a
 *    module's constructor takes (Telnet's StreamTransport) that the analysed
 *    code never hands a value over as is taken to be handed every analysed
 *    module class that satisfies it (checking `src` alone, where only apps/
 *    build a Telnet server on TCP);
 *  - the module a function runs as: the module class it is written in; for a
 *    handler outside any module, the owner it was bound for (`rt.app('x')`, a
 *    module instance), else a pseudo-module named after its file; helper code
 *    (a connection class, a plain function) runs as each module that calls it.
 * Every elementary cycle that crosses a module boundary is reported once, as a
 * chain of hops (module, function, file, line of the call to the next hop),
 * starting at the entry point it re-enters, and classified:
 *  - 'deferred': it passes through an entry declared 'defer';
 *  - 'unsafe': it calls another module's code that is not an entry point, or a
 *    'reject' entry, or comes back through upcalls alone;
 *  - 'reentrant': every entry point it re-enters is declared 'reentrant'.
 * Upcalls inside a module's locked region (the callback of `lock.locked`, or
 * between `await lock.acquire()` and the release), directly or through the
 * module's own functions, are reported as `lockedUpcalls`.
 *
 * Over-approximations to know: one graph for all instances of a class; every
 * handler bound to a slot anywhere can be behind an upcall of that slot; a
 * non-literal slot name means every slot of H.
 */
export { checkLoops, runCheck, findCycles, DEFAULT_PATHS, type CheckOptions, type CheckRun } from './check.js';
export { runCli, USAGE, type CliIo } from './cli.js';
export { elementaryCycles, stronglyConnected, type CycleLimits, type CycleSearch } from './cycles.js';
export { classifyCycle, chainText } from './classify.js';
export { formatText, toJson, unsafeCount, type JsonReport } from './report.js';
export { toSarif, SARIF_SCHEMA, type SarifOptions } from './sarif.js';
export { collectFiles } from './program.js';
export * from './model.js';
