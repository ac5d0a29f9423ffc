/**
 * What a service declares: its calls, each with the shape of its arguments and
 * result and the extensions it wants. Server and client are typed from the
 * same declaration, and the server checks both shapes at the boundary.
 */
import type { CallExt } from './ext/index.js';
import type { Infer, Shape } from './shape.js';

export interface CallSpec<A extends Shape = Shape, R extends Shape = Shape> {
  readonly args: A;
  readonly result: R;
  /** A notification: the caller only learns that it was done (cooldown applies to these). */
  readonly notify?: boolean;
  /** Extensions of this call (deadline, cooldown, ordering, token). */
  readonly ext?: CallExt;
}

/** A service: call name -> its declaration. */
export type ServiceSpec = Readonly<Record<string, CallSpec>>;

/** Keeps the literal types of a declaration (so `Infer` sees the shapes). */
export function defineService<S extends ServiceSpec>(spec: S): S {
  for (const [name, c] of Object.entries(spec)) {
    if (name === '' || new TextEncoder().encode(name).length > 255) throw new RangeError(`call name ${JSON.stringify(name)}: 1..255 bytes`);
    if (c.ext?.cooldownMs !== undefined && c.notify !== true) throw new RangeError(`call '${name}': cooldown is for notification calls (notify: true)`);
  }
  return spec;
}

export type ArgsOf<S extends ServiceSpec, K extends keyof S> = Infer<S[K]['args']>;
export type ResultOf<S extends ServiceSpec, K extends keyof S> = Infer<S[K]['result']>;
