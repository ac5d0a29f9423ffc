/**
 * Shapes: what a call's arguments and result must look like, checked where a
 * value crosses the service boundary (arguments on arrival at the server,
 * results before they leave it, both before a client sends).
 *
 * Values travel as JSON, so shapes describe JSON values only. A shape is plain
 * data (it could be sent in an offer); `Infer<S>` gives its TypeScript type so
 * handlers and clients are typed from the same declaration.
 */

/** A shape as data: what `checkShape` walks. */
export type ShapeNode =
  | { readonly t: 'string' }
  | { readonly t: 'number' }
  | { readonly t: 'integer' }
  | { readonly t: 'boolean' }
  | { readonly t: 'null' }
  | { readonly t: 'any' }
  | { readonly t: 'literal'; readonly v: string | number | boolean }
  | { readonly t: 'array'; readonly of: Shape }
  | { readonly t: 'record'; readonly of: Shape }
  | { readonly t: 'object'; readonly fields: Readonly<Record<string, Shape>> }
  | { readonly t: 'optional'; readonly of: Shape }
  | { readonly t: 'union'; readonly of: readonly Shape[] };

/**
 * A shape whose values have type T. The type rides on a phantom member the
 * constructors never set, so `Infer` is one step, however deep the shape.
 */
export type Shape<T = unknown> = ShapeNode & { readonly __type?: () => T };

/** The TypeScript type of the values a shape accepts. */
export type Infer<S> = S extends { readonly __type?: () => infer T } ? T : unknown;

type Optional<T> = Shape<T | undefined> & { readonly t: 'optional' };
type OptionalKeys<F> = { [K in keyof F]: F[K] extends { readonly t: 'optional' } ? K : never }[keyof F];
type ObjectOf<F> = { [K in Exclude<keyof F, OptionalKeys<F>>]: Infer<F[K]> } & { [K in OptionalKeys<F>]?: Infer<F[K]> };
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** Shape constructors. */
export const s = {
  string: (): Shape<string> => ({ t: 'string' }),
  number: (): Shape<number> => ({ t: 'number' }),
  integer: (): Shape<number> => ({ t: 'integer' }),
  boolean: (): Shape<boolean> => ({ t: 'boolean' }),
  null: (): Shape<null> => ({ t: 'null' }),
  any: (): Shape<unknown> => ({ t: 'any' }),
  literal: <const V extends string | number | boolean>(v: V): Shape<V> => ({ t: 'literal', v }),
  array: <E>(of: Shape<E>): Shape<E[]> => ({ t: 'array', of: of as Shape }),
  record: <E>(of: Shape<E>): Shape<Record<string, E>> => ({ t: 'record', of: of as Shape }),
  object: <F extends Record<string, Shape>>(fields: F): Shape<Simplify<ObjectOf<F>>> => ({ t: 'object', fields: fields as Record<string, Shape> }),
  optional: <E>(of: Shape<E>): Optional<E> => ({ t: 'optional', of: of as Shape }),
  union: <E extends readonly Shape[]>(...of: E): Shape<Infer<E[number]>> => ({ t: 'union', of: of as readonly Shape[] }),
};

/** Nesting deeper than this is refused (a hostile body cannot make the check recurse without end). */
const MAX_DEPTH = 32;

/**
 * Whether `value` has shape `shape`: null if it does, else the first problem
 * as one line ("args.key: expected string, got number"). Never throws.
 */
export function checkShape(shape: Shape, value: unknown, path = 'value'): string | null {
  return check(shape, value, path, 0);
}

function check(sh: ShapeNode, v: unknown, path: string, depth: number): string | null {
  if (depth > MAX_DEPTH) return `${path}: nested too deep`;
  switch (sh.t) {
    case 'any':
      return null;
    case 'string':
      return typeof v === 'string' ? null : expected(path, 'string', v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? null : expected(path, 'number', v);
    case 'integer':
      return Number.isSafeInteger(v) ? null : expected(path, 'integer', v);
    case 'boolean':
      return typeof v === 'boolean' ? null : expected(path, 'boolean', v);
    case 'null':
      return v === null ? null : expected(path, 'null', v);
    case 'literal':
      return v === sh.v ? null : expected(path, JSON.stringify(sh.v), v);
    case 'optional':
      return v === undefined ? null : check(sh.of, v, path, depth + 1);
    case 'array': {
      if (!Array.isArray(v)) return expected(path, 'array', v);
      for (let i = 0; i < v.length; i++) {
        const p = check(sh.of, v[i], `${path}[${i}]`, depth + 1);
        if (p !== null) return p;
      }
      return null;
    }
    case 'record': {
      if (!isPlainObject(v)) return expected(path, 'object', v);
      for (const k of Object.keys(v)) {
        const p = check(sh.of, v[k], `${path}.${k}`, depth + 1);
        if (p !== null) return p;
      }
      return null;
    }
    case 'object': {
      if (!isPlainObject(v)) return expected(path, 'object', v);
      for (const k of Object.keys(sh.fields)) {
        const p = check(sh.fields[k]!, v[k], `${path}.${k}`, depth + 1);
        if (p !== null) return p;
      }
      for (const k of Object.keys(v)) if (!Object.hasOwn(sh.fields, k)) return `${path}.${k}: not expected`;
      return null;
    }
    case 'union': {
      for (const alt of sh.of) if (check(alt, v, path, depth + 1) === null) return null;
      return expected(path, sh.of.map(describeShape).join(' | '), v);
    }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function expected(path: string, what: string, v: unknown): string {
  const got = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  return `${path}: expected ${what}, got ${got}`;
}

/** A shape as a short type expression, for messages and the demo. */
export function describeShape(sh: Shape): string {
  switch (sh.t) {
    case 'literal':
      return JSON.stringify(sh.v);
    case 'array':
      return `${describeShape(sh.of)}[]`;
    case 'record':
      return `{[k]: ${describeShape(sh.of)}}`;
    case 'optional':
      return `${describeShape(sh.of)}?`;
    case 'union':
      return sh.of.map(describeShape).join(' | ');
    case 'object':
      return `{ ${Object.entries(sh.fields)
        .map(([k, f]) => `${k}: ${describeShape(f)}`)
        .join(', ')} }`;
    default:
      return sh.t;
  }
}
