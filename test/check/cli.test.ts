/**
 * The command: exit status, the JSON shape, the SARIF shape, and refusals of
 * bad arguments. Most runs are in-process (checkLoopsCommand); two go through the real
 * `apps/check-loops.ts` with tsx, as `npm run check:loops` does.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/check/index.js';
import { checkLoopsCommand } from '../../apps/check-loops.js';

const root = process.cwd();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'check-loops-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(...argv: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = checkLoopsCommand(argv, { cwd: root, out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe('check-loops CLI', () => {
  it('exits 1 on an unsafe cycle and prints the documented JSON', () => {
    const r = run('test/fixtures/check/direct', '--json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as Record<string, unknown>;
    expect(Object.keys(j)).toEqual(['modules', 'edges', 'cycles', 'lockedUpcalls', 'bypasses', 'registries', 'guessedHandOvers']);
    expect(j.modules).toBe(2);
    expect(typeof j.edges).toBe('number');
    const cycles = j.cycles as { kind: string; chain: Record<string, unknown>[] }[];
    expect(cycles).toHaveLength(1);
    expect(Object.keys(cycles[0]!)).toEqual(['kind', 'reason', 'chain']);
    expect(cycles[0]!.kind).toBe('unsafe');
    for (const h of cycles[0]!.chain) {
      expect(Object.keys(h)).toEqual(['module', 'class', 'function', 'file', 'line']);
      expect(typeof h.line).toBe('number');
    }
    expect(cycles[0]!.chain.map((h) => `${h.module}.${h.function}`)).toEqual(['lower.send', 'upper.onData']);
  });

  it('exits 0 when every cycle is allowed, and the text lists them by kind', () => {
    const r = run('test/fixtures/check/reentrant', 'test/fixtures/check/deferred');
    expect(r.code).toBe(0);
    expect(r.out).toContain('4 modules');
    expect(r.out).toMatch(/deferred cycles .*: 1/);
    expect(r.out).toMatch(/reentrant cycles .*: 1/);
    expect(r.out).toContain('transport.send -> transport.output -> shell.onSendReady -> shell.flush -> transport.send');
    expect(r.out).toContain('OK: no unsafe cycle');
    expect(r.err).toBe('');
  });

  it('exits 0 with no cycle, and reports upcalls under a lock', () => {
    const none = run('test/fixtures/check/nocycle');
    expect(none.code).toBe(0);
    expect(none.out).toContain('cycles crossing a module boundary: 0');
    const locked = run('test/fixtures/check/locked', '--json');
    expect(locked.code).toBe(0);
    const j = JSON.parse(locked.out) as { lockedUpcalls: { slot: string; function: string }[] };
    expect(j.lockedUpcalls.map((l) => `${l.function}:${l.slot}`)).toEqual(['input:onData', 'close:onClose']);
  });

  it('exits 2 with a one-line reason for bad arguments and unreadable input', () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    fs.writeFileSync(path.join(empty, 'notes.txt'), 'no TypeScript here');
    const cases: [string[], string][] = [
      [['--frobnicate'], 'unknown option --frobnicate'],
      [['no/such/dir'], "no such file or directory: 'no/such/dir'"],
      [[empty], 'no TypeScript files under'],
      [['package.json'], 'not a TypeScript file'],
      [['test/fixtures/check/direct', '--sarif'], '--sarif needs a value (FILE)'],
      [['src', '--no-cache', '--cache-dir', tmp], '--cache-dir and --no-cache exclude each other'],
      [['test/fixtures/check/direct', '--sarif', path.join(tmp, 'missing-dir', 'x.sarif')], 'does not exist (create it first)'],
    ];
    for (const [argv, reason] of cases) {
      const r = run(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.endsWith('\n')).toBe(true);
      expect(r.err.trimEnd().split('\n')).toHaveLength(1);
      expect(r.err).toContain(reason);
    }
  });

  it('exits 1 on an undeclared cross-module call or a callback registry, and lists them', () => {
    const r = run('test/fixtures/check/registry');
    expect(r.code).toBe(1);
    expect(r.out).toContain('undeclared cross-module calls (errors: the runtime does not see the boundary): 1');
    expect(r.out).toContain("lower (Lower, test/fixtures/check/registry/lower.ts:14) keeps its clients' callbacks in 'subscribers'");
    expect(r.out).toContain('FAIL: 1 unsafe cycle, 1 undeclared cross-module call, 1 callback registry');
    const j = JSON.parse(run('test/fixtures/check/bypass', '--json').out) as { bypasses: { from: { function: string }; to: { module: string; class: string; function: string } }[] };
    expect(j.bypasses.map((b) => `${b.from.function} -> ${b.to.module}.${b.to.function} (${b.to.class})`)).toEqual(['handle -> lower.flush (Lower)']);
  });

  it('keeps results in a cache keyed by content: a second run is a hit, an edit a miss', () => {
    const cacheDir = path.join(tmp, 'cache');
    const work = path.join(tmp, 'work');
    fs.cpSync(path.join(root, 'test/fixtures/check/direct'), work, { recursive: true });
    // The copy imports the runtime by a path relative to the fixture: point it back at the project's.
    for (const f of fs.readdirSync(work)) {
      const p = path.join(work, f);
      fs.writeFileSync(p, fs.readFileSync(p, 'utf8').replaceAll('../../../../src/core/index.js', path.join(root, 'src/core/index.js')));
    }
    const first = runCheck({ cwd: root, paths: [work], cacheDir });
    expect(first.result.cache).toBe('miss');
    const second = runCheck({ cwd: root, paths: [work], cacheDir });
    expect(second.result.cache).toBe('hit');
    expect(second.graph).toBeUndefined();
    expect(second.result.cycles).toEqual(first.result.cycles);
    fs.appendFileSync(path.join(work, 'upper.ts'), '\n// an edit\n');
    expect(runCheck({ cwd: root, paths: [work], cacheDir }).result.cache).toBe('miss');
    expect(runCheck({ cwd: root, paths: [work], cacheDir: false }).result.cache).toBe('off');
    const viaCli = run(work, '--cache-dir', cacheDir, '--json');
    expect(viaCli.code).toBe(1);
    expect(run(work, '--no-cache').code).toBe(1);
  });

  it('prints usage for --help', () => {
    const r = run('--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('usage: npm run check:loops -- [PATH...]');
  });

  it('writes SARIF 2.1.0 with a result per finding and the chain as related locations and a code flow', () => {
    const file = path.join(tmp, 'mixed.sarif');
    const r = run('test/fixtures/check/mixed', 'test/fixtures/check/locked', '--sarif', file, '--json');
    expect(r.code).toBe(1);
    const s = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      $schema: string;
      version: string;
      runs: {
        tool: { driver: { name: string; rules: { id: string; shortDescription: { text: string }; defaultConfiguration: { level: string } }[] } };
        originalUriBaseIds: Record<string, { uri: string }>;
        results: {
          ruleId: string;
          ruleIndex: number;
          level: string;
          message: { text: string };
          locations: { physicalLocation: { artifactLocation: { uri: string; uriBaseId?: string }; region: { startLine: number } } }[];
          relatedLocations: { id: number; physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[];
          codeFlows?: { threadFlows: { locations: { location: { physicalLocation: unknown; message: { text: string } } }[] }[] }[];
        }[];
      }[];
    };
    expect(s.version).toBe('2.1.0');
    expect(s.$schema).toMatch(/sarif-2\.1\.0/);
    expect(s.runs).toHaveLength(1);
    const run0 = s.runs[0]!;
    expect(run0.tool.driver.name).toBe('check-loops');
    const ruleIds = run0.tool.driver.rules.map((x) => x.id);
    expect(ruleIds).toEqual(['unsafe-cycle', 'deferred-cycle', 'reentrant-cycle', 'locked-upcall']);
    for (const rule of run0.tool.driver.rules) {
      expect(rule.shortDescription.text.length).toBeGreaterThan(0);
      expect(['error', 'warning', 'note']).toContain(rule.defaultConfiguration.level);
    }
    expect(run0.originalUriBaseIds.SRCROOT!.uri).toMatch(/^file:\/\/.*\/$/);
    const json = JSON.parse(r.out) as { cycles: { kind: string; chain: unknown[] }[]; lockedUpcalls: unknown[] };
    expect(run0.results).toHaveLength(json.cycles.length + json.lockedUpcalls.length);
    expect(run0.results.map((x) => x.ruleId)).toEqual(['unsafe-cycle', 'deferred-cycle', 'reentrant-cycle', 'locked-upcall', 'locked-upcall']);
    expect(run0.results.map((x) => x.level)).toEqual(['error', 'note', 'note', 'warning', 'warning']);
    for (const [i, res] of run0.results.entries()) {
      expect(ruleIds[res.ruleIndex]).toBe(res.ruleId);
      expect(res.message.text.length).toBeGreaterThan(0);
      expect(res.locations).toHaveLength(1);
      const loc = res.locations[0]!.physicalLocation;
      expect(loc.artifactLocation.uri).toMatch(/^test\/fixtures\/check\/(mixed|locked)\/\w+\.ts$/);
      expect(loc.artifactLocation.uriBaseId).toBe('SRCROOT');
      expect(Number.isInteger(loc.region.startLine) && loc.region.startLine >= 1).toBe(true);
      if (i < json.cycles.length) {
        const chain = json.cycles[i]!.chain;
        expect(res.relatedLocations).toHaveLength(chain.length);
        expect(res.codeFlows![0]!.threadFlows[0]!.locations).toHaveLength(chain.length);
      }
    }
  });
});

describe('npm run check:loops (apps/check-loops.ts through tsx)', () => {
  const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
  const cli = (...argv: string[]) => spawnSync(tsx, ['apps/check-loops.ts', ...argv], { cwd: root, encoding: 'utf8' });

  it('exits 1 with JSON on stdout for an unsafe cycle', () => {
    const r = cli('test/fixtures/check/bypass', '--json');
    expect(r.status).toBe(1);
    const j = JSON.parse(r.stdout) as { cycles: { kind: string }[] };
    expect(j.cycles.map((c) => c.kind)).toEqual(['unsafe']);
  });

  it('exits 2 for an unknown option', () => {
    const r = cli('--nope');
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('check-loops: unknown option --nope (try --help)');
  });
});
