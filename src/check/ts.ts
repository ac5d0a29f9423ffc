/**
 * The TypeScript compiler, loaded on first use. A run answered from the cache
 * never loads it, and loading it with `require` skips the scan of its 9 MB
 * file that an ESM `import` of a CommonJS package costs (a second or so here).
 * Modules of the checker import the types with `import type * as ts` and the
 * values through `TS`, which is set once `loadTypeScript()` has run.
 */
import { createRequire } from 'node:module';
import type * as ts from 'typescript';

const require = createRequire(import.meta.url);

export let TS: typeof ts = undefined as unknown as typeof ts;

export function loadTypeScript(): typeof ts {
  if (TS === undefined) TS = require('typescript') as typeof ts;
  return TS;
}

/** The compiler's version, without loading the compiler. */
export function typescriptVersion(): string {
  try {
    return (require('typescript/package.json') as { version: string }).version;
  } catch {
    return loadTypeScript().version;
  }
}
