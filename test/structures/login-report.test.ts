/**
 * The visual report of the structures benchmark's remote login, under each
 * structure: every module of each host has its lane (under 'threaded' the
 * modules that run in worker threads too, in their place in the stack), the
 * tasks are drawn on them, and TCP's own state is graphed wherever TCP ran.
 * The threaded report is opened in headless Chromium as a person would.
 * A screenshot lands in test-artifacts/structures/ (git-ignored).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../apps/bench/structures.js';
import { UsageError } from '../../apps/args.js';
import { renderReport, STEP, type ReportData } from '../../src/report/index.js';
import type { StackStructure } from '../../src/structures/app.js';
import { loginReport } from '../../src/structures/login-report.js';
import { openReport, withChromium } from '../support/browser.js';
import { itNeeds } from '../support/needs.js';

const ARTIFACTS = path.resolve(process.cwd(), 'test-artifacts/structures');
const STACK = ['tcp', 'ip', 'arp', 'nic'];
/** The proxy modules a threaded host has at its two thread boundaries, top to bottom. */
const PROXIES = ['transport-import', 'transport-export', 'ip-import', 'ip-export'];

const cases: Array<{ structure: StackStructure; clock: 'virtual' | 'real' }> = [
  { structure: 'direct', clock: 'virtual' },
  { structure: 'queued', clock: 'virtual' },
  { structure: 'threaded', clock: 'real' },
];

const reports = new Map<StackStructure, ReportData>();

beforeAll(async () => {
  for (const c of cases) {
    const r = await loginReport({ ...c, text: 'ls', paceMs: 20, seed: 3, limitMs: 20_000 });
    expect(r.keys).toBe(2);
    reports.set(c.structure, r.data);
  }
}, 60_000);

function lanes(d: ReportData, host: string): string[] {
  return d.lanes.filter((l) => d.hosts[l.host] === host).map((l) => l.module);
}

/** Rows of the tasks that have a step on `host`'s lane of `module`. */
function tasksOn(d: ReportData, host: string, module: string): number[] {
  const lane = d.lanes.findIndex((l) => d.hosts[l.host] === host && l.module === module);
  const rows: number[] = [];
  for (let row = 0; row < d.tasks.id.length; row++) {
    for (let s = d.tasks.stepStart[row]!; s < d.tasks.stepStart[row + 1]!; s++) {
      if (d.steps.lane[s] === lane) {
        rows.push(row);
        break;
      }
    }
  }
  return rows;
}

describe.each(cases)('the report of a remote login, $structure', ({ structure }) => {
  it('has a lane for every module of each host, the Telnet program on top and the NIC at the bottom', () => {
    const d = reports.get(structure)!;
    expect(d.kind).toBe('bench');
    expect(d.hosts).toEqual(['client', 'server']);
    for (const [host, app] of [['client', 'telnet'], ['server', 'telnetd']] as const) {
      const order = lanes(d, host);
      const want = structure === 'threaded' ? [app, ...PROXIES.slice(0, 2), 'tcp', ...PROXIES.slice(2), 'ip', 'arp', 'nic'] : [app, ...STACK];
      // In stack order (the client's driver, a module of its own, may sit above Telnet).
      expect(order.filter((m) => want.includes(m))).toEqual(want);
      expect(order[order.length - 1]).toBe('nic');
    }
  });

  it('draws the tasks on every lane, up the stack and down, with the session\'s transcript', () => {
    const d = reports.get(structure)!;
    for (const [host, app] of [['client', 'telnet'], ['server', 'telnetd']] as const) {
      for (const m of [app, 'tcp', 'ip', 'nic', ...(structure === 'threaded' ? PROXIES : [])]) {
        expect(tasksOn(d, host, m).length, `${host} ${m}`).toBeGreaterThan(0);
      }
    }
    const kinds = new Set(d.steps.kind);
    expect(kinds.has(STEP.up)).toBe(true);
    expect(kinds.has(STEP.down)).toBe(true);
    expect(d.tasks.id.length).toBe(d.tasks.total);
    expect(d.transcript).toContain('logout');
  });

  it('graphs the connection with the state of the TCP that ran it, wherever it ran', () => {
    const d = reports.get(structure)!;
    expect(d.conns.length).toBe(1);
    for (const dir of d.conns[0]!.dirs) {
      expect(dir.state?.source).toBe('stack');
      expect(dir.state!.t.length).toBeGreaterThan(0);
      // Within the run: a thread's times were moved onto the host's clock.
      expect(dir.state!.t[0]!).toBeGreaterThanOrEqual(d.t0);
      expect(dir.state!.t[dir.state!.t.length - 1]!).toBeLessThanOrEqual(d.t1);
    }
  });
});

describe('threaded: what the worker threads recorded', () => {
  it('is brought back into its host, each task saying the thread it ran in, with the threads\' counters', () => {
    const d = reports.get('threaded')!;
    const sources = new Set(d.tasks.source.map((i) => d.strings[i]));
    expect(sources).toContain('frame, transport thread');
    expect(sources).toContain('mailbox, app thread');
    // The transport thread's TCP on the server took the segments the network thread handed over.
    for (const row of tasksOn(d, 'server', 'ip-import')) expect(d.strings[d.tasks.source[row]!]).toMatch(/transport thread$/);
    expect(d.counters.map((c) => c.host).sort()).toEqual(['client', 'client/app', 'client/transport', 'server', 'server/app', 'server/transport']);
  });
});

describe('npx tsx apps/bench/structures.ts --report', () => {
  it('refuses --compare without --report, --structure without --report, and an unknown structure', async () => {
    await expect(main(['--compare', 'x.html'])).rejects.toThrow(UsageError);
    await expect(main(['--structure', 'queued'])).rejects.toThrow('--structure goes with --report');
    await expect(main(['--report', path.join(tmpdir(), 'x.html'), '--structure', 'mailbox'])).rejects.toThrow('not a structure');
    await expect(main(['--report', path.join(tmpdir(), 'x.html'), '--quick'])).rejects.toThrow(UsageError);
  });
});

describe('the threaded report in a browser', () => {
  itNeeds(['chromium'], 'draws every lane of both hosts and the tasks, beside the direct run', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const d = reports.get('threaded')!;
    const file = path.join(ARTIFACTS, 'login-threaded.html');
    writeFileSync(file, renderReport(d, { compare: reports.get('direct')! }));
    await withChromium(async (browser) => {
      const errors: string[] = [];
      const page = await openReport(browser, file, errors);
      const tl = page.locator('canvas.timeline');
      expect(await tl.count()).toBe(2);
      expect(await tl.first().getAttribute('data-lanes')).toBe(String(d.lanes.length));
      expect(await tl.nth(1).getAttribute('data-lanes')).toBe(String(reports.get('direct')!.lanes.length));
      // Zoomed on the session's busiest moment, the tasks are drawn one by one.
      const row = tasksOn(d, 'server', 'telnetd')[0]!;
      const at = d.tasks.start[row]!;
      await page.evaluate((a) => (globalThis as unknown as { __report: { setView(a: number, b: number): void } }).__report.setView(a - 5, a + 20), at);
      expect(await tl.first().getAttribute('data-mode')).toBe('detail');
      expect(Number(await tl.first().getAttribute('data-tasks-drawn'))).toBeGreaterThan(0);
      await page.screenshot({ path: path.join(ARTIFACTS, 'login-threaded.png'), fullPage: true });
      expect(errors).toEqual([]);
    });
  });
});
