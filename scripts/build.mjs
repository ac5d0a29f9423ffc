#!/usr/bin/env node
/**
 * `npm run build` (also run by `prepack`): dist/ from scratch with tsc
 * (tsconfig.build.json: the two entry points and the apps the bin runs), then
 * the data files the compiled apps read, at the same place relative to them as
 * in the source tree (the apps resolve them from their own location).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const DATA = ['apps/data/users.json', 'src/report/assets/report.js', 'src/report/assets/report.css'];

fs.rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
if (r.status !== 0) {
  console.error('build: tsc failed');
  process.exit(r.status ?? 1);
}
for (const rel of DATA) {
  const to = path.join(dist, rel);
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(path.join(root, rel), to);
}
console.log(`build: ${path.relative(process.cwd(), dist) || '.'}/ ready`);
