/**
 * The visual report of a demo session, checked as data and then as a person
 * sees it in a real browser (headless Chromium driven by playwright-core):
 * lanes and tasks drawn, a task's detail on click, the TCP graph's points,
 * zoom. A screenshot lands in test-artifacts/report/ (git-ignored).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, demoReportData, runDemo, type DemoResult } from '../../apps/demo.js';
import { ReportCollector, readReportData, renderReport, replayReportHooks, SEG_FLAG, TASK_FLAG, type ReportData } from '../../src/report/index.js';
import { replayCapture } from '../../src/trace/replay.js';
import { TCP_FIN, TCP_RST, TCP_SYN } from '../../src/wire/tcp.js';
import { openReport, withChromium } from '../support/browser.js';
import { itNeeds } from '../support/needs.js';

const ARTIFACTS = path.resolve(process.cwd(), 'test-artifacts/report');

async function demo(piggyback: boolean): Promise<{ run: DemoResult; data: ReportData }> {
  const c = new ReportCollector();
  const run = await runDemo({ ...DEFAULT_OPTIONS, pcap: null, piggyback }, c);
  return { run, data: demoReportData(run, c) };
}

/** Segments the server put on the wire that a time-sequence graph draws: data, SYN, FIN, RST. */
function serverSegments(run: DemoResult): number {
  return run.lab.wire.filter((w) => w.from === 'server' && (w.payload > 0 || (w.flags & (TCP_SYN | TCP_FIN | TCP_RST)) !== 0)).length;
}

let run: DemoResult;
let data: ReportData;
let html: string;

beforeAll(async () => {
  ({ run, data } = await demo(true));
  html = renderReport(data);
});

describe('the report of a demo session', () => {
  it('has one lane per module per host, the Telnet program on top and the NIC at the bottom', () => {
    const lanes = (host: string): string[] => data.lanes.filter((l) => data.hosts[l.host] === host).map((l) => l.module);
    for (const [host, app] of [['server', 'telnetd'], ['client', 'telnet']] as const) {
      const order = lanes(host);
      expect(order[0]).toBe(app);
      expect(order[order.length - 1]).toBe('nic');
      expect(order.indexOf('tcp')).toBeLessThan(order.indexOf('ip'));
    }
  });

  it('counts every task both hosts started, and keeps each one\'s path up and down', () => {
    // All but the few that assembled the hosts before they could be observed (binding each module to the one below).
    const before = data.counters.reduce((n, h) => n + h.tasksBeforeReport, 0);
    expect(before).toBeLessThan(20);
    const started = run.lab.srv.rt.stats.tasksStarted + run.lab.cli.rt.stats.tasksStarted - before;
    expect(data.tasks.total).toBe(started);
    expect(data.tasks.id.length).toBe(started);
    const kinds = new Set(data.steps.kind);
    expect(kinds.has(1)).toBe(true); // upcalls
    expect(kinds.has(2)).toBe(true); // calls down
  });

  it('marks the server tasks whose segment carried a piggybacked ACK', () => {
    const server = data.hosts.indexOf('server');
    const marked = data.tasks.flags.filter((f, i) => data.tasks.host[i] === server && (f & TASK_FLAG.piggyback) !== 0).length;
    expect(marked).toBeGreaterThan(0);
    // Read from the frames (a data segment whose ACK field moved on), it agrees with TCP's own count.
    const d = data.conns[0]!.dirs.find((x) => x.from.startsWith('10.0.0.1:'))!;
    expect(d.seg.kind.filter((k) => (k & SEG_FLAG.piggyback) !== 0)).toHaveLength(run.lab.srvTcp.counters.piggybackedAcks);
  });

  it('draws every segment the server sent in its time-sequence graph, with the stack\'s own cwnd and RTO', () => {
    expect(data.conns).toHaveLength(1);
    const d = data.conns[0]!.dirs.find((x) => x.from.startsWith('10.0.0.1:'))!;
    expect(d.seg.t).toHaveLength(serverSegments(run));
    expect(d.seg.kind.some((k) => (k & SEG_FLAG.piggyback) !== 0)).toBe(true);
    expect(d.state?.source).toBe('stack');
    expect(d.state!.cwnd.every((x) => x !== null && x > 0)).toBe(true);
    expect(d.state!.rto.every((x) => x !== null && x > 0)).toBe(true);
  });

  it('is one self-contained file: no outside script, style or image, and its data reads back', () => {
    expect(html).not.toMatch(/<(script|link|img)\b[^>]*\b(src|href)=/i);
    expect(readReportData(html)).toEqual(JSON.parse(JSON.stringify(data)));
    expect(html).toContain('Telnet transcript');
    expect(data.transcript).toContain('logout');
  });
});

describe('a lossy run', () => {
  it('marks in each time-sequence graph every retransmission the sender\'s TCP counted', async () => {
    const c = new ReportCollector();
    const lossy = await runDemo({ ...DEFAULT_OPTIONS, pcap: null, loss: 0.1 }, c);
    const d = demoReportData(lossy, c);
    const retx = (prefix: string): number =>
      d.conns[0]!.dirs.find((x) => x.from.startsWith(prefix))!.seg.kind.filter((k) => (k & SEG_FLAG.retransmission) !== 0).length;
    expect(lossy.lab.srvTcp.counters.retransmissions).toBeGreaterThan(0);
    expect(retx('10.0.0.1:')).toBe(lossy.lab.srvTcp.counters.retransmissions);
    expect(retx('10.0.0.2:')).toBe(lossy.lab.cliTcp.counters.retransmissions);
    // Both ends tapped: what one sent and the other never received was lost on the link (pure ACKs are not drawn).
    const lost = d.conns[0]!.dirs.reduce((n, x) => n + x.seg.kind.filter((k) => (k & SEG_FLAG.lost) !== 0).length, 0);
    expect(lost).toBeGreaterThan(0);
    expect(lost).toBeLessThanOrEqual(lossy.lab.link.stats.lost);
  });
});

describe('a large run', () => {
  it('keeps paths and decoded frames up to its limits and counts the rest in the aggregates', async () => {
    const c = new ReportCollector({ limits: { detailTasks: 40, frameText: 30, conns: 1, pointsPerDirection: 20 } });
    await replayCapture(path.resolve(process.cwd(), 'test/fixtures/traces/telnet-raw.pcap'), replayReportHooks(c));
    const d = c.build({ title: 'telnet-raw', kind: 'replay' });
    expect(d.frames.total).toBe(272);
    expect(d.frames.t).toHaveLength(30);
    expect(d.tasks.total).toBeGreaterThanOrEqual(272);
    expect(d.tasks.id.length).toBeLessThanOrEqual(40 + 10);
    expect(d.agg.tasks.reduce((a, b) => a + b, 0)).toBe(d.tasks.total);
    expect(d.conns[0]!.dirs.every((x) => x.seg.t.length <= 20 && x.ack.t.length <= 20)).toBe(true);
    expect(d.conns[0]!.dirs.some((x) => x.state?.source === 'inferred')).toBe(true);
    expect(d.limits.length).toBeGreaterThanOrEqual(3);
  });
});

describe('the report in a browser', () => {
  itNeeds(['chromium'], 'draws the lanes and tasks, shows a task on click, plots the TCP graph and zooms', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, 'demo.html');
    writeFileSync(file, html);
    await withChromium(async (browser) => {
      const errors: string[] = [];
      const page = await openReport(browser, file, errors);

      // The whole run: every lane, tasks too dense to draw one by one.
      const tl = page.locator('canvas.timeline').first();
      expect(await tl.getAttribute('data-lanes')).toBe(String(data.lanes.length));
      expect(await tl.getAttribute('data-mode')).toBe('aggregate');

      // Zoom with the wheel on a server task that sent a piggybacked ACK until tasks are drawn one by one.
      const server = data.hosts.indexOf('server');
      const row = data.tasks.flags.findIndex((f, i) => data.tasks.host[i] === server && (f & TASK_FLAG.piggyback) !== 0 && data.tasks.start[i]! > 1000);
      const at = data.tasks.start[row]!;
      const box = (await tl.boundingBox())!;
      for (let i = 0; i < 12 && (await tl.getAttribute('data-mode')) !== 'detail'; i++) {
        const view = await page.evaluate(() => {
          const v = (globalThis as unknown as { __report: { view: { a: number; b: number } } }).__report.view;
          return { a: v.a, b: v.b };
        });
        const x = box.x + 118 + ((at - view.a) / (view.b - view.a)) * (box.width - 118 - 8);
        await page.mouse.move(x, box.y + 60);
        await page.mouse.wheel(0, -600);
      }
      expect(await tl.getAttribute('data-mode')).toBe('detail');
      const drawn = Number(await tl.getAttribute('data-tasks-drawn'));
      expect(drawn).toBeGreaterThan(0);
      expect(drawn).toBeLessThan(data.tasks.total);

      // Click the task where it is drawn: its path, slots, frames and timing appear.
      const hit = await page.evaluate((r) => {
        const t = (globalThis as unknown as { __report: { timelines: Array<{ hits: Array<{ row: number; x0: number; x1: number; y0: number; y1: number }> }> } }).__report.timelines[0]!;
        return t.hits.find((h) => h.row === r) ?? null;
      }, row);
      expect(hit).not.toBeNull();
      await page.mouse.click(box.x + (hit!.x0 + hit!.x1) / 2, box.y + (hit!.y0 + hit!.y1) / 2);
      await expect.poll(() => page.locator('#task-title').textContent()).toContain(`Task #${data.tasks.id[row]} on server`);
      const detail = (await page.locator('#task-detail').textContent()) ?? '';
      expect(detail).toContain('tcp ⇒ telnetd.onData');
      expect(detail).toContain('piggybacked');
      expect(detail).toMatch(/Started \d/);

      // The time-sequence graph draws the server's segments: as many as went on the wire.
      const tseq = page.locator('canvas.tseq').first();
      expect(await tseq.getAttribute('data-points')).toBe(String(serverSegments(run)));
      expect(await page.locator('#tcp-section .uplot').count()).toBeGreaterThanOrEqual(2);

      // Zooming the graph draws fewer of them.
      await tseq.scrollIntoViewIfNeeded();
      const tb = (await tseq.boundingBox())!;
      await page.mouse.move(tb.x + tb.width * 0.5, tb.y + tb.height / 2);
      await page.mouse.wheel(0, -1500);
      expect(Number(await tseq.getAttribute('data-points'))).toBeLessThan(serverSegments(run));

      // Clicking a segment opens the task that sent it.
      const seg = await page.evaluate(() => {
        const t = (globalThis as unknown as { __report: { tcp: Array<{ segHits: Array<{ i: number; x: number; y0: number; y1: number }>; dir: { seg: { task: number[] } } }> } }).__report.tcp[0]!;
        const h = t.segHits.find((x) => t.dir.seg.task[x.i]! >= 0);
        return h === undefined ? null : { x: h.x, y: (h.y0 + h.y1) / 2, row: t.dir.seg.task[h.i]! };
      });
      expect(seg).not.toBeNull();
      const tb2 = (await tseq.boundingBox())!;
      await page.mouse.click(tb2.x + seg!.x, tb2.y + seg!.y);
      await expect.poll(() => page.locator('#task-title').textContent()).toContain(`Task #${data.tasks.id[seg!.row]} on server`);

      await page.screenshot({ path: path.join(ARTIFACTS, 'demo.png'), fullPage: true });
      expect(errors).toEqual([]);

      // Two runs side by side: piggybacking against --no-piggyback, on one time axis.
      const other = await demo(false);
      const both = path.join(ARTIFACTS, 'compare.html');
      writeFileSync(both, renderReport(data, { compare: other.data }));
      const p2 = await openReport(browser, both, errors);
      expect(await p2.locator('canvas.timeline').count()).toBe(2);
      expect(await p2.locator('canvas.tseq').count()).toBe(2);
      const views = await p2.locator('canvas.timeline').evaluateAll((cs) => cs.map((c) => `${c.getAttribute('data-view-a')}..${c.getAttribute('data-view-b')}`));
      expect(views[0]).toBe(views[1]);
      await p2.screenshot({ path: path.join(ARTIFACTS, 'compare.png'), fullPage: true });
      expect(errors).toEqual([]);
    });
  }, 30_000);
});
