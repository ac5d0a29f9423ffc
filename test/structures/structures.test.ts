/**
 * The same protocol code under the three structures passes the same checks:
 * a patterned TCP byte stream over a link that loses and reorders frames
 * arrives whole and in order, and a remote login session runs end to end
 * (login, typed keys echoed, logout). direct and queued run on the virtual
 * clock with fixed seeds; threaded runs in real time (its threads cannot
 * share a virtual clock), so it asserts what arrived, not when.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StackStructure } from '../../src/structures/app.js';
import { Testbed, type ThreadGroups } from '../../src/structures/testbed.js';

const url = pathToFileURL(path.resolve(process.cwd(), 'src/structures/workloads.ts')).href;
const FAULTS = { loss: 0.02, reorder: 0.05, reorderDelayMs: 3, delayMs: 1 };

const cases: Array<{ label: string; structure: StackStructure; clock: 'virtual' | 'real'; groups?: ThreadGroups }> = [
  { label: 'direct (virtual time)', structure: 'direct', clock: 'virtual' },
  { label: 'queued (virtual time)', structure: 'queued', clock: 'virtual' },
  { label: 'threaded [network|transport|app] (real time)', structure: 'threaded', clock: 'real' },
  { label: 'threaded [stack|app] (real time)', structure: 'threaded', clock: 'real', groups: 'stack|app' },
];

describe.each(cases)('$label', ({ structure, clock, groups }) => {
  let tb: Testbed;
  // Real time is bounded by wall time; the virtual clock by virtual time.
  const limitMs = clock === 'real' ? 15_000 : 600_000;

  beforeAll(async () => {
    tb = await Testbed.create({
      structure,
      clock,
      link: { ...FAULTS, seed: 7 },
      seed: 11,
      ...(groups !== undefined ? { groups } : {}),
      client: { url, export: 'allClients' },
      server: { url, export: 'allServers' },
    });
  });

  afterAll(async () => {
    await tb?.close();
  });

  it('delivers a TCP byte stream whole and in order over a lossy, reordering link', async () => {
    const bytes = 120_000;
    const sent = await tb.request('client', { cmd: 'stream-run', bytes, writes: 1000 }, limitMs);
    expect(sent.error).toBeUndefined();
    expect(sent.sent).toBe(bytes);
    const got = await tb.request('server', { cmd: 'stream-result' }, limitMs);
    expect(got).toMatchObject({ bytes, firstBad: -1, closed: true });
    expect(tb.link.stats.lost).toBeGreaterThan(0);
  });

  it('runs a remote login session end to end: login, echoed keys, logout', async () => {
    tb.link.setConditions({ loss: 0, reorder: 0 });
    const login = await tb.request('client', { cmd: 'login', paceMs: 5 }, limitMs);
    expect(login).toMatchObject({ ok: true });
    const typed = await tb.request('client', { cmd: 'login-type', text: 'echo hi', paceMs: 20, settleMs: 50 }, limitMs);
    expect(typed.keys).toBe(7);
    expect((typed.echoMs as number[]).length).toBe(7);
    const exit = await tb.request('client', { cmd: 'login-exit' }, limitMs);
    expect(exit.ok).toBe(true);
    expect(exit.transcript).toContain('echo hi');
    expect(exit.transcript).toContain('logout');
  });
});

describe('on the virtual clock, a structure replays exactly from its seeds', () => {
  it.each(['direct', 'queued'] as const)('%s: the same seeds give the same faults and the same work', async (structure) => {
    const once = async (): Promise<unknown> => {
      const tb = await Testbed.create({
        structure,
        clock: 'virtual',
        link: { ...FAULTS, seed: 3 },
        seed: 5,
        client: { url, export: 'streamSource' },
        server: { url, export: 'streamSink' },
      });
      await tb.request('client', { cmd: 'stream-run', bytes: 30_000, writes: 700 });
      const got = await tb.request('server', { cmd: 'stream-result' });
      const c = await tb.counts();
      return { got: { ...got, rid: 0 }, link: { ...tb.link.stats }, tasks: c.tasks, upcalls: c.upcalls, now: tb.clock.now() };
    };
    const a = await once();
    const b = await once();
    expect(b).toEqual(a);
  });
});
