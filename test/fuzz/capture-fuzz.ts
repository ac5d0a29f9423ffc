/**
 * Long fuzz of the capture readers: at least 100,000 mutants of real captures
 * through the in-memory and streaming readers, and every 100th also through
 * the replay command itself (exit 0, or exit 2 with one line on stderr).
 *
 *   npx tsx test/fuzz/capture-fuzz.ts [--seed N] [--count N]     (npm run fuzz:capture)
 *
 * Prints the seed first; a failure prints the mutant's seed index, writes the
 * mutant to a file and exits 1. Rerun with --seed to reproduce.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FuzzFailure, fuzzCaptures, replayVerdict } from './capture-mutants.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const seed = Number(arg('--seed') ?? (Date.now() % 0x7fff_ffff));
const count = Number(arg('--count') ?? 100_000);
const replayEvery = Number(arg('--replay-every') ?? 100);
if (!Number.isInteger(seed) || !Number.isInteger(count) || count < 1) {
  console.error('usage: capture-fuzz [--seed N] [--count N] [--replay-every N]');
  process.exit(2);
}
console.log(`capture fuzz: seed ${seed}, ${count} mutants (replay command on every ${replayEvery}th)`);

const dir = mkdtempSync(path.join(tmpdir(), 'capture-fuzz-'));
let replays = 0;
let replayRejected = 0;
/** Replay runs per seed, exit 0 and exit 2: that every kind of capture reached the replay. */
const bySeed = new Map<string, [number, number]>();
const started = performance.now();
try {
  const tally = await fuzzCaptures(seed, count, undefined, async (i, m, from) => {
    if (i % replayEvery !== 0) return;
    const code = await replayVerdict(m, path.join(dir, 'mutant.cap'));
    replays++;
    if (code === 2) replayRejected++;
    const c = bySeed.get(from.name) ?? [0, 0];
    c[code === 2 ? 1 : 0]++;
    bySeed.set(from.name, c);
  });
  const s = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `ok: ${tally.mutants} mutants in ${s} s: ${tally.read} read, ${tally.rejected} rejected with CaptureFormatError, ` +
      `${tally.disagreements} read by one reader only; replay command: ${replays} runs, ${replayRejected} exit 2 with one line`,
  );
  const seeds = [...bySeed].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, [ok, no]]) => `${name} ${ok}/${no}`);
  console.log(`replay runs by seed (exit 0/exit 2): ${seeds.join(', ')}`);
} catch (e) {
  if (e instanceof FuzzFailure) {
    const out = path.resolve(`capture-fuzz-failure-${seed}-${e.index}.bin`);
    writeFileSync(out, e.mutant);
    console.error(`FAIL (seed ${seed}): ${e.message}\nmutant written to ${out}`);
    if (e.cause instanceof Error && e.cause.stack) console.error(e.cause.stack);
    process.exitCode = 1;
  } else throw e;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
