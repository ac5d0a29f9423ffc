/**
 * Every ```ts example of the README that imports the package runs, as a reader
 * would paste it, and prints what the README leads one to expect; they also
 * type-check against the sources. `upcall-stack` and `upcall-stack/check` are
 * mapped to src/index.ts and src/check/index.ts (no build needed); the pack
 * test covers the built package.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_FINDINGS, writeCheckFixture } from './check-fixture.js';

const run = promisify(execFile);
const ROOT = process.cwd();
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const ENTRY: Record<string, string> = {
  'upcall-stack': path.join(ROOT, 'src/index.ts'),
  'upcall-stack/check': path.join(ROOT, 'src/check/index.ts'),
};
const TSX = pathToFileURL(createRequire(path.join(ROOT, 'package.json')).resolve('tsx')).href;
const IMPORTS_PACKAGE = /from '(upcall-stack(?:\/check)?)'/;

interface Example {
  line: number;
  code: string;
}

function tsBlocks(md: string): Example[] {
  const out: Example[] = [];
  for (const m of md.matchAll(/^```ts\n([\s\S]*?)^```/gm)) {
    out.push({ line: md.slice(0, m.index).split('\n').length, code: m[1]! });
  }
  return out;
}

const blocks = tsBlocks(README);
const examples = blocks.filter((b) => IMPORTS_PACKAGE.test(b.code));

/**
 * What each example must print, found by a phrase of its code. An example that
 * prints and has no entry here fails: say what it prints.
 */
const EXPECTED: { marker: string; check(lines: string[]): void }[] = [
  {
    // before 'createHost(': this example calls it too
    marker: 'defineService(',
    check: (lines) => expect(lines).toEqual(['[ 1, 3, 6 ] total 6']),
  },
  {
    marker: 'createHost(',
    check: (lines) => expect(lines).toEqual(['protocol 253: 5 bytes from 10.0.0.2', 'hello']),
  },
  {
    marker: 'class Mailer',
    check: (lines) => {
      expect(lines).toContain('mailer cleans up bob: threw in reader.onMessage: cannot read');
      expect(lines).toContain('event: mailer threw in reader.onMessage: cannot read');
      expect(lines.at(-1)).toBe('true');
    },
  },
  {
    // run where `src/` is a small fixture project (the README's reader runs it on theirs)
    marker: 'checkLoops(',
    check: (lines) =>
      expect(lines).toEqual([
        `${FIXTURE_FINDINGS.modules} modules, ${FIXTURE_FINDINGS.unsafe.length} unsafe cycles`,
        ...FIXTURE_FINDINGS.unsafe.map((c) => `unsafe ${c}`),
      ]),
  },
];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-examples-'));
const checkProject = path.join(dir, 'check-project');
writeCheckFixture(checkProject, path.join(ROOT, 'src/core/index.js'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeExample(ex: Example, mapTo: 'source' | 'bare'): string {
  const file = path.join(dir, `${mapTo}-line-${ex.line}.mts`);
  const code = mapTo === 'bare' ? ex.code : ex.code.replace(new RegExp(IMPORTS_PACKAGE, 'g'), (_m, spec: string) => `from ${JSON.stringify(ENTRY[spec])}`);
  fs.writeFileSync(file, code);
  return file;
}

function runExample(ex: Example): Promise<{ stdout: string }> {
  const file = writeExample(ex, 'source');
  const cwd = ex.code.includes("'upcall-stack/check'") ? checkProject : ROOT;
  return run(process.execPath, ['--import', TSX, file], { cwd, timeout: 60_000 });
}

describe('README examples', () => {
  // the examples run in child processes, all at once, while this one type-checks them
  const runs = new Map<Example, Promise<{ stdout: string }>>();
  beforeAll(() => {
    for (const ex of examples) {
      const p = runExample(ex);
      p.catch(() => {}); // awaited (and reported) by its own test
      runs.set(ex, p);
    }
  });

  it('import the package, never the source tree', () => {
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const b of blocks) expect(b.code, `README.md:${b.line}`).not.toMatch(/from '\.{1,2}\//);
    expect(examples.some((e) => e.code.includes("'upcall-stack/check'"))).toBe(true);
  });

  it('type-check against the sources', () => {
    const files = examples.map((e) => writeExample(e, 'bare'));
    const cfg = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile);
    const { options } = ts.parseJsonConfigFileContent(cfg.config, ts.sys, ROOT);
    // a snippet is a module of its own: top-level names do not clash across files
    const program = ts.createProgram(files, {
      ...options,
      noEmit: true,
      moduleDetection: ts.ModuleDetectionKind.Force,
      paths: Object.fromEntries(Object.entries(ENTRY).map(([k, v]) => [k, [v]])),
    });
    // only the examples' own diagnostics: checking all of src here would take long and is `tsc`'s job
    const diags = files.flatMap((f) => {
      const sf = program.getSourceFile(f)!;
      return [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
    });
    const text = diags.map((d) => {
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      return `${path.basename(d.file!.fileName)}:${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(text).toEqual([]);
  });

  for (const ex of examples) {
    it(`README.md:${ex.line} runs and prints what it should`, async () => {
      const { stdout } = await runs.get(ex)!;
      const lines = stdout.split('\n').filter((l) => l !== '');
      const expected = EXPECTED.find((e) => ex.code.includes(e.marker));
      if (expected === undefined) {
        expect(ex.code, 'an example that prints needs an entry in EXPECTED').not.toMatch(/console\.log/);
        return;
      }
      expected.check(lines);
    });
  }
});
