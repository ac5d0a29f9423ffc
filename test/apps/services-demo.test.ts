/**
 * The service-layer demo: what the user sees (which server did each call,
 * retransmissions, failover), the exactly-once check it ends with, its
 * determinism and its command line.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runServicesDemo } from '../../apps/services-demo.js';

const TSX = resolve('node_modules/.bin/tsx');

async function run(seed: number, extra: { loss?: number; calls?: number; failAfter?: number; ipv6?: boolean } = {}) {
  const lines: string[] = [];
  const summary = await runServicesDemo({ seed, ...extra, print: (l) => lines.push(l) });
  return { lines, summary };
}

describe('npm run demo:services', () => {
  it('shows each call with the server that did it, retransmissions and the failover, and ends with the exactly-once check', async () => {
    const { lines, summary } = await run(1);
    expect(lines[0]).toMatch(/^Key-value service 'kv' offered by servers a \(10\.0\.0\.1\) and b \(10\.0\.0\.2\)/);
    expect(lines.filter((l) => / c[123] +incr c[123]\.\d+ +-> server [ab] = +\d+ +\(\d+ tx/.test(l))).toHaveLength(24);
    expect(lines.some((l) => /server a FAILS during a call/.test(l))).toBe(true);
    expect(lines.some((l) => /FAILOVER a -> b/.test(l))).toBe(true);
    expect(lines.some((l) => /\d+ retx/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/^exactly once: OK — 24 calls, 24 results, each change kept once; counters c1=8 c2=8 c3=8$/);
    expect(summary).toMatchObject({ calls: 24, ok: 24, failed: 0, exactlyOnce: true, problems: [] });
    expect(summary.byServer['a']).toBeGreaterThanOrEqual(5);
    expect(summary.byServer['a']! + summary.byServer['b']!).toBe(24);
    expect(summary.failovers).toBeGreaterThanOrEqual(1);
    expect(summary.cleanups).toBe(1);
    expect(summary.retransmissions).toBeGreaterThan(0);
  });

  it('holds the exactly-once check over other seeds and a lossier link', async () => {
    for (const seed of [2, 3, 4]) {
      const { summary } = await run(seed, { loss: 0.3, calls: 6, failAfter: 3 });
      expect(summary.problems).toEqual([]);
      expect(summary.ok).toBe(18);
      expect(summary.duplicatesSuppressed + summary.retransmissions).toBeGreaterThan(0);
    }
  });

  it('runs the same service between IPv6-only hosts (lookups to all nodes), with the same exactly-once check', async () => {
    const { lines, summary } = await run(1, { ipv6: true });
    expect(lines[0]).toMatch(/^Key-value service 'kv' offered by servers a \(fd00::1\) and b \(fd00::2\)/);
    // Every call names its server by name: the IPv6 addresses the outcomes carry are the servers'.
    expect(lines.filter((l) => / c[123] +incr c[123]\.\d+ +-> server [ab] = +\d+ +\(\d+ tx/.test(l))).toHaveLength(24);
    expect(lines.some((l) => /FAILOVER a -> b/.test(l))).toBe(true);
    expect(summary).toMatchObject({ calls: 24, ok: 24, failed: 0, exactlyOnce: true, problems: [], cleanups: 1 });
    expect(summary.byServer['a']! + summary.byServer['b']!).toBe(24);
    expect(summary.lookups).toBeGreaterThan(0);
  });

  it('prints the same run for the same seed', async () => {
    expect((await run(5, { calls: 4 })).lines).toEqual((await run(5, { calls: 4 })).lines);
  });

  it('has a command line: --json prints one summary object; bad arguments are one line and exit 2', () => {
    const ok = spawnSync(TSX, ['apps/services-demo.ts', '--seed', '3', '--calls', '3', '--json'], { encoding: 'utf8', timeout: 60_000 });
    expect(ok.status).toBe(0);
    const out = ok.stdout.trim().split('\n');
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0]!)).toMatchObject({ seed: 3, calls: 9, exactlyOnce: true });
    const bad = spawnSync(TSX, ['apps/services-demo.ts', '--loss', '20'], { encoding: 'utf8', timeout: 60_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('demo:services: --loss: "20" is not a probability in 0..1 (a probability, not a percent: for 20% write 0.2) (try --help)\n');
  });
});
