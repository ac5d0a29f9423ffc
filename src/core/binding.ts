/**
 * Upcall slots and bindings.
 *
 * A module declares a table of typed slots; a client binds a set of handlers and
 * gets a Binding. Everything that can be wrong with a binding is checked once,
 * at bind time; after that the module holds the Binding and an upcall is a
 * direct call of a handler it already has: no lookup, no queue, no copy.
 */
import { BindError } from './errors.js';
import type { Module } from './module.js';

/** 'one': at most one binding may supply this slot (delivery). 'many': fan-out (taps). */
export type SlotMode = 'one' | 'many';

/** A handler set type: each slot is a function. */
export type SlotSpec<H> = { readonly [K in keyof H]-?: SlotMode };

type AnyFn = (...args: never[]) => unknown;

export class Binding<H extends object> {
  bound = true;
  constructor(
    readonly table: SlotTable<H>,
    /** The module above, on whose behalf the handlers run. */
    readonly owner: Module,
    readonly handlers: Partial<H>,
    /**
     * The owner's client state for this binding (a Telnet session bound to one
     * connection): the owner's frame carries it, so the owner's cleanup gets it
     * if a task through this binding is expended.
     */
    public client: unknown,
  ) {}

  /** Idempotent; safe during an upcall (the current upcall finishes, later ones skip it). */
  unbind(): void {
    if (!this.bound) return;
    this.bound = false;
    this.table.remove(this);
  }

  has(slot: keyof H): boolean {
    return this.bound && typeof this.handlers[slot] === 'function';
  }
}

export class SlotTable<H extends object> {
  private list: readonly Binding<H>[] = [];

  constructor(
    readonly module: Module,
    readonly name: string,
    readonly spec: SlotSpec<H>,
  ) {}

  /**
   * Bind handlers on behalf of `owner`. Throws BindError if a handler names a
   * slot the table does not have, is not a function, or takes a 'one' slot
   * that is already bound.
   */
  bind(owner: Module, handlers: Partial<H>, client?: unknown): Binding<H> {
    this.check(handlers, true);
    const b = new Binding<H>(this, owner, handlers, client);
    // concat makes the array its exact size; a spread grew it by push, to 17 slots for one binding
    this.list = this.list.concat(b);
    return b;
  }

  /**
   * A binding that stands alone: one client's own handlers (a TCP connection's),
   * checked as `bind` checks them, but not listed in the table, so 'one' holds
   * within the binding and no other binding competes for its slots. The module
   * keeps it with its client and upcalls it directly; `bindings` never shows
   * it. A table and a list per connection weighed more than the binding.
   */
  bindAlone(owner: Module, handlers: Partial<H>, client?: unknown): Binding<H> {
    this.check(handlers, false);
    return new Binding<H>(this, owner, handlers, client);
  }

  /** Throws BindError for a handler set that `bind` (`listed`) or `bindAlone` must refuse. */
  private check(handlers: Partial<H>, listed: boolean): void {
    // for-in over own keys: Object.keys made an array per bind, one per connection
    for (const key in handlers) {
      if (!Object.hasOwn(handlers, key)) continue;
      const mode = (this.spec as Record<string, SlotMode | undefined>)[key];
      if (mode === undefined) {
        throw new BindError(`${this.module.name}/${this.name} has no slot '${key}' (slots: ${Object.keys(this.spec).join(', ')})`);
      }
      const h = (handlers as Record<string, unknown>)[key];
      if (h !== undefined && typeof h !== 'function') {
        throw new BindError(`${this.module.name}/${this.name}: handler for '${key}' is not a function`);
      }
      if (listed && mode === 'one' && h !== undefined) {
        for (const b of this.list) {
          if (typeof (b.handlers as Record<string, unknown>)[key] === 'function') {
            throw new BindError(`${this.module.name}/${this.name}: slot '${key}' is already bound by '${b.owner.name}'`);
          }
        }
      }
    }
  }

  /** @internal */
  remove(b: Binding<H>): void {
    // A binding standing alone was never listed.
    if (this.list.indexOf(b) < 0) return;
    this.list = this.list.filter((x) => x !== b);
  }

  /** A snapshot: binding or unbinding during iteration does not disturb it. */
  get bindings(): readonly Binding<H>[] {
    return this.list;
  }

  /** The binding that supplies `slot`, for 'one' slots. */
  bindingFor(slot: keyof H): Binding<H> | undefined {
    for (const b of this.list) if (typeof b.handlers[slot] === 'function') return b;
    return undefined;
  }

  get size(): number {
    return this.list.length;
  }
}

export type SlotArgs<H, K extends keyof H> = H[K] extends ((...a: infer A) => unknown) | undefined ? A : never;
export type SlotReturn<H, K extends keyof H> = H[K] extends ((...a: never[]) => infer R) | undefined ? R : never;
export type { AnyFn };
