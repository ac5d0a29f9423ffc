/**
 * The client side: a handle on a named service, and the handle of one call.
 *
 * A call's completion is held in its handle until the client asks for it
 * (`result()`) or binds a callback (`onDone`): an outcome nobody asked for is
 * kept, not thrown away and not raised as an unhandled rejection.
 */
import type { Binding, ModuleTimer } from '../../core/index.js';
import type { ServerEntry } from './directory.js';
import type { ArgsOf, ResultOf, ServiceSpec } from './spec.js';

/** Which server answered a call. */
export interface ServerInfo {
  /** Text form of its address (dotted IPv4, or IPv6). */
  readonly address: string;
  readonly port: number;
  readonly serverId: number;
}

export type CallOutcome<R = unknown> =
  | { readonly ok: true; readonly value: R; readonly server: ServerInfo }
  | { readonly ok: false; readonly reason: string; readonly detail: string; readonly server?: ServerInfo };

/** What `call` rejects with. */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  constructor(
    readonly reason: string,
    readonly detail: string,
  ) {
    super(detail === '' ? reason : `${reason}: ${detail}`);
  }
}

export interface CallOptions {
  /** Fail the call if no result came within this many ms (the server's task gets the same deadline). */
  deadlineMs?: number;
}

/** The slot a client's callbacks are delivered through (one binding per ServiceClient). */
export interface ClientSlots {
  onDone(callback: (o: CallOutcome<unknown>) => void, outcome: CallOutcome<unknown>): void;
}

/** How one call went, for people and tests. */
export interface CallRecord {
  /** Requests sent, first transmission included. */
  transmissions: number;
  /** Of which retransmissions (same server, no answer yet). */
  retransmissions: number;
  /** Times the call moved to another server because one failed it. */
  failovers: number;
  /** Servers tried, in order (address:port#id). */
  readonly servers: string[];
}

/** One call in flight: the Services module's client state for it. */
export class OutgoingCall {
  target: ServerEntry | undefined = undefined;
  targetKey = '';
  /** Servers that failed this call (never asked again). */
  readonly excluded = new Set<string>();
  /** Transmissions to the current target without a sign of life. */
  attempts = 0;
  rtoMs: number;
  timer: ModuleTimer | null = null;
  deadlineTimer: ModuleTimer | null = null;
  waitingForLookup = false;
  /** Why the last server that failed the call did (shown if none is left). */
  lastFailure = '';

  constructor(
    readonly handle: CallHandle<unknown>,
    readonly client: ClientInfo,
    readonly service: string,
    readonly body: Uint8Array,
    readonly token: Uint8Array,
    readonly flags: number,
    readonly deadlineMs: number,
    initialRtoMs: number,
  ) {
    this.rtoMs = initialRtoMs;
  }

  describe(): string {
    return `call:${this.service}.${this.handle.call}#${this.handle.seq}`;
  }
}

/**
 * The completion of one call. Exactly one outcome, ever; it waits here until
 * the client awaits `result()` or binds `onDone`.
 */
export class CallHandle<R> {
  private settled: CallOutcome<R> | undefined = undefined;
  private callbacks: Array<(o: CallOutcome<R>) => void> = [];
  private waiters: Array<{ resolve: (v: R) => void; reject: (e: ServiceError) => void }> = [];
  readonly record: CallRecord = { transmissions: 0, retransmissions: 0, failovers: 0, servers: [] };
  /** Clock time the call was made and finished. */
  readonly startedAt: number;
  finishedAt = -1;

  /** @internal */
  constructor(
    readonly service: string,
    readonly call: string,
    readonly clientId: number,
    readonly seq: number,
    now: number,
    /** @internal delivers a callback through the client's binding (an upcall in a task of its own). */
    private readonly deliver: (h: CallHandle<R>, cb: (o: CallOutcome<R>) => void, o: CallOutcome<R>) => void,
  ) {
    this.startedAt = now;
  }

  get done(): boolean {
    return this.settled !== undefined;
  }

  /** The outcome, once there is one. */
  get outcome(): CallOutcome<R> | undefined {
    return this.settled;
  }

  /** The result; rejects with a ServiceError if the call failed. */
  result(): Promise<R> {
    const o = this.settled;
    if (o !== undefined) return o.ok ? Promise.resolve(o.value) : Promise.reject(new ServiceError(o.reason, o.detail));
    return new Promise<R>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Call `cb` with the outcome (at once if it is in): an upcall into the client's owner module. */
  onDone(cb: (o: CallOutcome<R>) => void): this {
    if (this.settled !== undefined) this.deliver(this, cb, this.settled);
    else this.callbacks.push(cb);
    return this;
  }

  /** @internal the Services module settles the call, once. */
  settle(o: CallOutcome<R>, now: number): boolean {
    if (this.settled !== undefined) return false;
    this.settled = o;
    this.finishedAt = now;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      if (o.ok) w.resolve(o.value);
      else w.reject(new ServiceError(o.reason, o.detail));
    }
    const cbs = this.callbacks;
    this.callbacks = [];
    for (const cb of cbs) this.deliver(this, cb, o);
    return true;
  }
}

/** What the Services module offers a ServiceClient (kept narrow so the client is only an API). */
export interface CallPort {
  startCall(client: ClientInfo, call: string, args: unknown, opts: CallOptions): CallHandle<unknown>;
}

/** What the Services module needs of a ServiceClient (whatever its spec's type). */
export interface ClientInfo {
  readonly service: string;
  readonly spec: ServiceSpec | undefined;
  readonly token: Uint8Array;
  binding: Binding<ClientSlots> | null;
  describe(): string;
}

/**
 * A client's handle on a named service. It does not know where the servers
 * are: the Services module finds them (lookup, cache) for each call.
 */
export class ServiceClient<S extends ServiceSpec> implements ClientInfo {
  /** @internal */
  binding: Binding<ClientSlots> | null = null;

  /** @internal */
  constructor(
    readonly service: string,
    /** Checked before sending (arguments) and on arrival (results), when given. */
    readonly spec: S | undefined,
    readonly token: Uint8Array,
    private readonly port: CallPort,
  ) {}

  describe(): string {
    return `client:${this.service}`;
  }

  /** Stop using the service: callbacks of calls still in flight are no longer delivered (results still held in their handles). */
  close(): void {
    this.binding?.unbind();
  }

  /** The same object, seen through the narrow interface the module uses (keeps the checker off the spec's deep types). */
  private get info(): ClientInfo {
    return this as object as ClientInfo;
  }

  /** Make a call and wait for its result (rejects with ServiceError). */
  call<K extends keyof S & string>(name: K, args: ArgsOf<S, K>, opts: CallOptions = {}): Promise<ResultOf<S, K>> {
    return (this.port.startCall(this.info, name, args, opts) as CallHandle<ResultOf<S, K>>).result();
  }

  /** Make a call; its completion is held in the handle until asked for. */
  send<K extends keyof S & string>(name: K, args: ArgsOf<S, K>, opts: CallOptions = {}): CallHandle<ResultOf<S, K>> {
    return this.port.startCall(this.info, name, args, opts) as CallHandle<ResultOf<S, K>>;
  }
}
