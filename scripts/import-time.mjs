#!/usr/bin/env node
/**
 * How long importing the stack takes in plain Node, and whether it loads the
 * TypeScript compiler (it must not: only `upcall-stack/check` may).
 *
 *   node scripts/import-time.mjs [--runs N] [--entry FILE | --module SPEC] [--json]
 *
 * Default entry: dist/src/index.js (run `npm run build` first). `--module
 * upcall-stack` measures the package as installed where you run it from.
 * Each run is a fresh `node` process; printed: min and median over the runs of
 *  - import: wall time of the `await import()` itself, inside the process;
 *  - cpu: the process's user+system CPU when the import has returned (Node's
 *    own start-up included);
 *  - process: wall time from spawning `node` to its exit (start-up included);
 *  - node alone: the same for an empty program, for comparison;
 * and whether any file under node_modules/typescript was loaded (typescript is
 * CommonJS, so every load of it lands in the module cache, imported or required).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    entry: { type: 'string' },
    module: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('usage: node scripts/import-time.mjs [--runs N] [--entry FILE | --module SPEC] [--json]');
  process.exit(0);
}
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`import-time: --runs must be a positive integer, got '${values.runs}'`);
  process.exit(2);
}
const target = values.module ?? pathToFileURL(path.resolve(values.entry ?? 'dist/src/index.js')).href;

const probe = `
import { createRequire } from 'node:module';
const t0 = performance.now();
const m = await import(${JSON.stringify(target)});
const importMs = performance.now() - t0;
const cpu = process.cpuUsage();
const cache = Object.keys(createRequire(process.cwd() + '/').cache);
const typescript = cache.some((f) => /[\\\\/]node_modules[\\\\/]typescript[\\\\/]/.test(f));
console.log(JSON.stringify({ importMs, cpuMs: (cpu.user + cpu.system) / 1000, typescript,
  exports: Object.keys(m).length, rssMB: process.memoryUsage().rss / 2 ** 20 }));
`;

function once(code) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  const processMs = performance.now() - t0;
  if (r.status !== 0) {
    console.error(`import-time: importing ${target} failed:\n${r.stderr.trim()}`);
    process.exit(1);
  }
  return { ...JSON.parse(r.stdout.trim().split('\n').pop() || '{}'), processMs };
}

const samples = [];
const bare = [];
for (let i = 0; i < runs; i++) {
  samples.push(once(probe));
  bare.push(once('console.log("{}")'));
}

const stat = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { min: s[0], median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2 };
};
const result = {
  target,
  runs,
  node: process.version,
  importMs: stat(samples.map((s) => s.importMs)),
  cpuMs: stat(samples.map((s) => s.cpuMs)),
  processMs: stat(samples.map((s) => s.processMs)),
  nodeAloneMs: stat(bare.map((s) => s.processMs)),
  rssMB: stat(samples.map((s) => s.rssMB)),
  exports: samples[0].exports,
  typescriptLoaded: samples.some((s) => s.typescript),
};
if (values.json) {
  console.log(JSON.stringify(result));
} else {
  const f = (x) => `min ${x.min.toFixed(0)} ms, median ${x.median.toFixed(0)} ms`;
  console.log(`${target} (${result.exports} exports), ${runs} fresh processes, Node ${process.version}`);
  console.log(`  import (wall, in process)   ${f(result.importMs)}`);
  console.log(`  CPU at import end           ${f(result.cpuMs)}`);
  console.log(`  process (wall, spawn->exit) ${f(result.processMs)}`);
  console.log(`  node alone (empty program)  ${f(result.nodeAloneMs)}`);
  console.log(`  RSS at import end           median ${result.rssMB.median.toFixed(0)} MB`);
  console.log(`  typescript loaded           ${result.typescriptLoaded ? 'YES' : 'no'}`);
}
