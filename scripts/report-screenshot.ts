/**
 * Makes docs/report.png, the README's picture of the visual report: a demo
 * session's report opened in headless Chromium, zoomed on one keystroke, the
 * server's task that echoed it clicked open.
 *
 *   npx tsx scripts/report-screenshot.ts [OUT.png]      (needs Debian's chromium)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { DEFAULT_OPTIONS, demoReportData, runDemo } from '../apps/demo.js';
import { ReportCollector, renderReport, TASK_FLAG } from '../src/report/index.js';

const out = path.resolve(process.argv[2] ?? 'docs/report.png');
const chromiumPath = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).stdout.trim() || '/usr/bin/chromium';

const c = new ReportCollector();
const run = await runDemo({ ...DEFAULT_OPTIONS, pcap: null }, c);
const data = demoReportData(run, c);
const dir = path.resolve('test-artifacts/report');
mkdirSync(dir, { recursive: true });
const file = path.join(dir, 'screenshot.html');
writeFileSync(file, renderReport(data));

// A server task in the middle of the typing whose segment carried the echo and the ACK together.
const server = data.hosts.indexOf('server');
const rows = data.tasks.flags.map((f, i) => i).filter((i) => data.tasks.host[i] === server && (data.tasks.flags[i]! & TASK_FLAG.piggyback) !== 0);
const row = rows[Math.floor(rows.length / 2)]!;
const at = data.tasks.start[row]!;

const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('body[data-ready="1"]');
  interface Api {
    setView(a: number, b: number): void;
    timelines: Array<{ hits: Array<{ row: number; x0: number; x1: number; y0: number; y1: number }> }>;
    tcp: Array<{ setRange(a: number, b: number): void }>;
  }
  await page.evaluate(
    ([a, b]) => {
      const r = (window as unknown as { __report: Api }).__report;
      r.setView(a!, b!);
      r.tcp[0]?.setRange(a! - 900, b! + 900);
    },
    [at - 160, at + 340],
  );
  const hit = await page.evaluate((r) => (window as unknown as { __report: Api }).__report.timelines[0]!.hits.find((h) => h.row === r) ?? null, row);
  if (hit === null) throw new Error('the chosen task is not drawn');
  const box = (await page.locator('canvas.timeline').first().boundingBox())!;
  await page.mouse.click(box.x + (hit.x0 + hit.x1) / 2, box.y + (hit.y0 + hit.y1) / 2);
  await page.waitForSelector('#task-title');
  await page.mouse.move(0, 0);
  const bottom = await page.evaluate(() => {
    const c = document.querySelector('canvas.tseq')!.getBoundingClientRect();
    return c.bottom + window.scrollY + 8;
  });
  mkdirSync(path.dirname(out), { recursive: true });
  await page.screenshot({ path: out, clip: { x: 0, y: 0, width: 1280, height: Math.ceil(bottom) }, fullPage: true });
  console.log(`${path.relative(process.cwd(), out)}: task #${data.tasks.id[row]} on server at ${at.toFixed(3)} ms`);
} finally {
  await browser.close();
}
