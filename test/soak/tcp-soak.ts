/**
 * TCP soak: many more random transfers than the property tests run, larger and
 * harsher. Not part of `vitest run` (the file is not a *.test.ts).
 *
 *   npx tsx test/soak/tcp-soak.ts                 # 3000 scenarios, up to 400 KB each way
 *   npx tsx test/soak/tcp-soak.ts 500 1000000     # count, max bytes per direction
 *   SOAK_SEED=42 npx tsx test/soak/tcp-soak.ts    # another sequence of scenarios
 *
 * Prints each failing scenario (JSON, replayable with runScenario) and exits 1 if any failed.
 */
import { Rng } from '../../src/core/index.js';
import { runScenario, type Scenario } from '../layers/tcp/support/scenario.js';

const count = Number(process.argv[2] ?? 3000);
const maxBytes = Number(process.argv[3] ?? 400_000);
const rng = new Rng(Number(process.env['SOAK_SEED'] ?? 1));
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
process.exit(failed === 0 ? 0 : 1);
