/**
 * The TCP conformance suite: every .pkt script under test/drill, run against
 * the stack by the packetdrill runner (strict: a segment no line expects
 * fails the script). A script marked `// expected-failure:` documents a known
 * bug: it must fail, and the test says so when it starts to pass.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDrill } from '../../src/drill/runner.js';
import { formatResult } from '../../apps/drill.js';

const ROOT = path.resolve(process.cwd(), 'test/drill');

function scripts(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...scripts(p));
    else if (name.endsWith('.pkt')) out.push(p);
  }
  return out;
}

const all = scripts(ROOT);
const byDir = new Map<string, string[]>();
for (const f of all) {
  const d = path.relative(ROOT, path.dirname(f));
  byDir.set(d, [...(byDir.get(d) ?? []), f]);
}

describe('packetdrill conformance suite', () => {
  it('has the scripts', () => {
    expect(all.length).toBeGreaterThanOrEqual(60);
  });

  for (const [dir, files] of byDir) {
    describe(dir, () => {
      for (const f of files) {
        const name = path.basename(f);
        const src = readFileSync(f, 'utf8');
        const known = /\/\/\s*expected-failure:/.test(src);
        it(known ? `${name} (known bug)` : name, () => {
          const r = runDrill(src, { strict: true });
          expect(r.status, formatResult(path.relative(process.cwd(), f), r)).toBe(known ? 'xfail' : 'passed');
        });
      }
    });
  }
});
