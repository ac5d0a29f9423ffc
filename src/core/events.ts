/**
 * What a host lets an observer see: every task start and end, module entry,
 * upcall, deferral, cleanup, drop and module note. Events are built only when
 * somebody subscribed (callers test `runtime.observed` first), so an
 * unobserved stack pays one boolean test per site.
 */

interface Base {
  /** Host (runtime) name. */
  readonly host: string;
  /** Task id, or null for work outside any task. */
  readonly task: number | null;
  /** Clock time in ms. */
  readonly at: number;
}

export type StackEvent =
  | (Base & { readonly kind: 'task-start'; readonly parent: number | null; readonly source: string; readonly module: string })
  | (Base & { readonly kind: 'task-end'; readonly outcome: 'ok' | 'expended'; readonly reason?: string })
  | (Base & {
      readonly kind: 'enter';
      readonly module: string;
      readonly entry: string;
      readonly from: string | null;
      /** A read-only entry point (Module.query): no activation follows. */
      readonly query?: true;
    })
  | (Base & { readonly kind: 'upcall'; readonly from: string; readonly module: string; readonly slot: string; readonly queued: boolean })
  | (Base & {
      readonly kind: 'deferral';
      readonly module: string;
      /** afterUnwind's key ('output'), or the deferred entry point's name. */
      readonly entry: string;
      readonly from: string;
      /** The client the deferred work is for, described; null for a deferred entry point. */
      readonly client: string | null;
    })
  | (Base & { readonly kind: 'deferred-run'; readonly module: string; readonly entry: string; readonly client: string | null })
  | (Base & { readonly kind: 'cleanup'; readonly module: string; readonly client: string | null; readonly reason: string })
  | (Base & { readonly kind: 'drop'; readonly module: string; readonly reason: string; readonly detail?: string })
  | (Base & { readonly kind: 'note'; readonly module: string; readonly text: string });

export type StackEventKind = StackEvent['kind'];

/** One-line human rendering, for traces and logs. */
export function formatEvent(e: StackEvent): string {
  const t = e.task === null ? '-' : `#${e.task}`;
  const head = `${e.at.toFixed(3).padStart(10)}ms ${e.host} ${t}`;
  switch (e.kind) {
    case 'task-start':
      return `${head} task start (${e.source} at ${e.module}${e.parent !== null ? `, parent #${e.parent}` : ''})`;
    case 'task-end':
      return `${head} task end: ${e.outcome}${e.reason !== undefined ? ` (${e.reason})` : ''}`;
    case 'enter':
      return `${head} ${e.from ?? '(outside)'} -> ${e.module}.${e.entry}${e.query === true ? ' (query)' : ''}`;
    case 'upcall':
      return `${head} ${e.from} => ${e.module}.${e.slot}${e.queued ? ' (queued)' : ''}`;
    case 'deferral':
      return `${head} ${e.from} -> ${e.module}.${e.entry}${e.client !== null ? ` [${e.client}]` : ''} deferred`;
    case 'deferred-run':
      return `${head} ${e.module}.${e.entry}${e.client !== null ? ` [${e.client}]` : ''} runs (deferred)`;
    case 'cleanup':
      return `${head} cleanup ${e.module}${e.client !== null ? ` [${e.client}]` : ''}: ${e.reason}`;
    case 'drop':
      return `${head} ${e.module} drop: ${e.reason}${e.detail !== undefined ? ` (${e.detail})` : ''}`;
    case 'note':
      return `${head} ${e.module}: ${e.text}`;
  }
}
