/**
 * The two entry points, checked on the sources in milliseconds (the pack test,
 * `npm run test:package`, checks the built package): the stack's entry never
 * reaches the TypeScript compiler through its imports, and package.json's
 * exports and bin point at what the build emits.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = process.cwd();
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, { types: string; import: string } | string>;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
};

// import/export ... from '...', import '...', import('...'), require('...'): type-only imports excluded (erased at build)
const IMPORT = /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\s+from\s+)?'([^']+)'|(?:import|require)\(\s*'([^']+)'\s*\)/gm;

/** The chain of files from `entry` to the first one importing `pkg` at run time, or null. */
function chainTo(entry: string, pkg: string): string[] | null {
  const seen = new Set<string>();
  const walk = (file: string, chain: string[]): string[] | null => {
    if (seen.has(file)) return null;
    seen.add(file);
    const code = fs.readFileSync(file, 'utf8');
    for (const m of code.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      if (spec === pkg || spec.startsWith(`${pkg}/`)) return [...chain, path.relative(ROOT, file)];
      if (!spec.startsWith('.')) continue;
      const target = path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'));
      if (!fs.existsSync(target)) continue;
      const found = walk(target, [...chain, path.relative(ROOT, file)]);
      if (found !== null) return found;
    }
    return null;
  };
  return walk(path.join(ROOT, entry), []);
}

describe('entry points', () => {
  it("'upcall-stack' (src/index.ts) never imports typescript; 'upcall-stack/check' does", () => {
    expect(chainTo('src/index.ts', 'typescript')).toBeNull();
    expect(chainTo('src/check/index.ts', 'typescript')).not.toBeNull();
  });

  it('typescript is an optional peer, not a dependency', () => {
    expect(PKG.dependencies.typescript).toBeUndefined();
    expect(PKG.dependencies.tsx).toBeUndefined();
    expect(PKG.peerDependenciesMeta?.typescript?.optional).toBe(true);
  });

  it('exports and bin point at what the build emits', () => {
    const build = JSON.parse(
      fs.readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8').replace(/^\s*\/\/.*$/gm, ''),
    ) as { files: string[]; compilerOptions: { outDir: string } };
    const emitted = (src: string) => `./${build.compilerOptions.outDir}/${src.replace(/\.ts$/, '.js')}`;
    const exp = PKG.exports['.'] as { types: string; import: string };
    const check = PKG.exports['./check'] as { types: string; import: string };
    expect(exp.import).toBe(emitted('src/index.ts'));
    expect(check.import).toBe(emitted('src/check/index.ts'));
    for (const e of [exp, check]) {
      expect(build.files).toContain(e.import.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'));
      expect(e.types).toBe(e.import.replace(/\.js$/, '.d.ts'));
    }
    const bin = fs.readFileSync(path.join(ROOT, PKG.bin['upcall-stack']!), 'utf8');
    expect(bin.startsWith('#!/usr/bin/env node')).toBe(true);
    for (const m of bin.matchAll(/\['([a-z-]+)\.js'/g)) expect(build.files).toContain(`apps/${m[1]}.ts`);
  });
});
