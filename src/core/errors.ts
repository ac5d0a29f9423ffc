/**
 * Errors the runtime raises. Each names what a reader of a log needs to find
 * the fault: the module, the slot or entry point, and the task.
 */

/** Rule 2 broken: a module called up while it held its own lock. */
export class LayerViolation extends Error {
  constructor(
    readonly module: string,
    readonly slot: string,
    readonly task: number,
  ) {
    super(`layer violation: module '${module}' made upcall '${slot}' while holding its lock (task ${task})`);
    this.name = 'LayerViolation';
  }
}

/** A downcall into a module already on the task's path whose entry point rejects recursion. */
export class RecursionRejected extends Error {
  constructor(
    readonly module: string,
    readonly entry: string,
    readonly task: number,
    readonly path: readonly string[],
  ) {
    super(
      `recursion rejected: '${module}.${entry}' called while '${module}' is already on task ${task}'s path (${path.join(' -> ')})`,
    );
    this.name = 'RecursionRejected';
  }
}

/** A binding that does not fit the slots it names. Raised once, at bind time. */
export class BindError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BindError';
  }
}

/** Raised inside a task that has been expended (aborted, failed or past its deadline). */
export class TaskExpended extends Error {
  constructor(
    readonly task: number,
    readonly reason: string,
    cause?: unknown,
  ) {
    super(`task ${task} expended: ${reason}${cause instanceof Error ? `: ${cause.message}` : ''}`, { cause });
    this.name = 'TaskExpended';
  }
}
