/**
 * A small project for the loop checker: the `direct` fixture (a handler that
 * calls straight back down into the entry that upcalled it: one unsafe cycle),
 * copied to `dir/src/` with its runtime import pointed at `coreSpecifier`
 * (the package name for an installed package, an absolute path for the sources).
 */
import fs from 'node:fs';
import path from 'node:path';

const FIXTURE = path.resolve(process.cwd(), 'test/fixtures/check/direct');

/** What `checkLoops({ paths: ['src'] })` finds there. */
export const FIXTURE_FINDINGS = { modules: 2, unsafe: ['lower.send -> upper.onData'] };

export function writeCheckFixture(dir: string, coreSpecifier: string): void {
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
  for (const name of fs.readdirSync(FIXTURE)) {
    const code = fs.readFileSync(path.join(FIXTURE, name), 'utf8');
    const rewritten = code.replaceAll("'../../../../src/core/index.js'", JSON.stringify(coreSpecifier).replaceAll('"', "'"));
    if (rewritten === code && code.includes('src/core')) throw new Error(`${name}: the fixture's runtime import moved`);
    fs.writeFileSync(path.join(dir, 'src', name), rewritten);
  }
}
