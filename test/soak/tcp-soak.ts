/**
 * TCP soak: many more random transfers than the property tests run, larger and
 * harsher. Not part of `vitest run` (the file is not a *.test.ts).
 *
 *   npx tsx test/soak/tcp-soak.ts                 # 3000 scenarios, up to 400 KB each way
 *   npx tsx test/soak/tcp-soak.ts 500 1000000     # count, max bytes per direction
 *   SOAK_SEED=42 npx tsx test/soak/tcp-soak.ts    # another sequence of scenarios (or --seed 42)
 *   npx tsx test/soak/tcp-soak.ts --help
 *
 * Prints each failing scenario (JSON, replayable with runScenario) and exits 1 if any failed.
 */
import { formatHelp, integer, isEntryPoint, options, parseCommand, runCommand, SHARED, UsageError, usageLine, type CommandSpec, type OptionTable } from '../../apps/args.js';
import { Rng } from '../../src/core/index.js';
import { runScenario, type Scenario } from '../layers/tcp/support/scenario.js';

const countRule = { min: 1, max: 10_000_000 };
const bytesRule = { min: 0, max: 1_000_000_000 };

export const SOAK_COMMAND = {
  prog: 'soak:tcp',
  synopsis: '[COUNT [MAX_BYTES]] [--seed N]',
  summary: 'Random TCP transfers over a faulty simulated link; prints each failing scenario (JSON, replayable with runScenario).',
  positionals: { max: 2, name: 'COUNT' },
  options: options({
    seed: { ...SHARED.seed(1), help: 'seed of the sequence of scenarios (default $SOAK_SEED, else 1)' },
    count: integer('scenarios to run (or the first argument)', { ...countRule, default: 3000 }),
    'max-bytes': integer('largest transfer per direction, bytes (or the second argument)', { placeholder: 'BYTES', ...bytesRule, default: 400_000 }),
  }),
  epilog: 'Exit status: 0 all passed, 1 some failed, 2 bad arguments.',
} satisfies CommandSpec<OptionTable>;

/** Count, size and seed from the command line (positionals as before, or the options). */
export function parseSoakArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): { count: number; maxBytes: number; seed: number } | 'help' {
  const p = parseCommand(SOAK_COMMAND, argv);
  if (p === 'help') return p;
  const int = (what: string, text: string, r: { min: number; max: number }): number => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isInteger(n) || n < r.min || n > r.max) throw new UsageError(`${what}: ${JSON.stringify(text)} is not an integer in ${r.min}..${r.max}`);
    return n;
  };
  const [c, b] = p.positionals;
  const seedText = env['SOAK_SEED'];
  return {
    count: c !== undefined ? int('COUNT', c, countRule) : (p.values.count ?? 3000),
    maxBytes: b !== undefined ? int('MAX_BYTES', b, bytesRule) : (p.values['max-bytes'] ?? 400_000),
    seed: p.given.has('seed') || seedText === undefined ? p.values.seed : int('SOAK_SEED', seedText, { min: 0, max: 0xffff_ffff }),
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  let o: ReturnType<typeof parseSoakArgs>;
  try {
    o = parseSoakArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(usageLine('soak:tcp', e));
    return 2;
  }
  if (o === 'help') {
    process.stdout.write(formatHelp(SOAK_COMMAND));
    return 0;
  }
  const { count, maxBytes } = o;
  const rng = new Rng(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;

  let failed = 0;
  let segments = 0;
  let virtualMs = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const s: Scenario = {
      seed: 1 + rng.int(2 ** 30),
      sizeAB: rng.int(maxBytes),
      sizeBA: rng.int(maxBytes / 4),
      faults: {
        loss: rng.float() * 0.2,
        duplicate: rng.float() * 0.1,
        reorder: rng.float() * 0.25,
        corrupt: rng.float() * 0.05,
        jitterMs: rng.float() * 5,
      },
      useWriter: rng.chance(0.3),
      timestamps: rng.chance(0.7),
      sack: rng.chance(0.7),
      windowScaling: rng.chance(0.7),
      delayedAckMs: pick([0, 40, 100, 200]),
      receiveBufferSize: rng.chance(0.3) ? 2000 + rng.int(30_000) : 256 * 1024,
      sendBufferSize: rng.chance(0.3) ? 1000 + rng.int(20_000) : 256 * 1024,
      mtu: pick([296, 576, 1500, 9000]),
      chunkA: [1 + rng.int(8000), 1 + rng.int(200)],
      chunkB: [1 + rng.int(8000), 1 + rng.int(200)],
      pauseEvery: rng.chance(0.3) ? 1000 + rng.int(50_000) : undefined,
      queued: rng.chance(0.2),
    };
    const r = runScenario(s, 10 * 3_600_000);
    segments += r.segments;
    virtualMs += r.virtualMs;
    if (!r.ok) {
      failed++;
      console.log(`FAIL ${JSON.stringify(s)}\n  ${r.problems.join('\n  ')}`);
    }
    if ((i + 1) % 500 === 0) console.log(`${i + 1}/${count} scenarios, ${failed} failed`);
  }
  const secs = (performance.now() - t0) / 1000;
  console.log(`${count - failed} passed, ${failed} failed`);
  console.log(`(${segments} datagrams, ${(virtualMs / 3_600_000).toFixed(1)} virtual hours, ${secs.toFixed(1)} s)`);
  return failed === 0 ? 0 : 1;
}

if (isEntryPoint(import.meta.url)) runCommand('soak:tcp', main);
