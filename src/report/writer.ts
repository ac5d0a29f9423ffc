/**
 * The report page: one self-contained HTML file (styles, scripts, uPlot and the
 * run's data inlined) that opens offline from disk. The page's own script is
 * plain JS kept in assets/, read next to this module (from sources under tsx
 * and from a build alike), so it can be read and linted as what it is.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { REPORT_FORMAT, type ReportData } from './model.js';

export interface RenderOptions {
  /** A second run drawn beside this one, aligned in time (e.g. read from another report with readReportData). */
  compare?: ReportData | null;
}

const assetCache = new Map<string, string>();

function asset(name: string): string {
  let text = assetCache.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(`./assets/${name}`, import.meta.url), 'utf8');
    assetCache.set(name, text);
  }
  return text;
}

function uplot(file: 'uPlot.iife.min.js' | 'uPlot.min.css'): string {
  const key = `uplot:${file}`;
  let text = assetCache.get(key);
  if (text === undefined) {
    const require = createRequire(import.meta.url);
    text = readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8');
    assetCache.set(key, text);
  }
  return text;
}

/** JSON that can sit inside a <script> element: no '<' survives to close it early. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Script text that cannot end its own element. */
function scriptText(js: string): string {
  return js.replace(/<\/script/gi, '<\\/script');
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(2)} MB`;
}

const SIZE_MARK = '@@REPORT_SIZE@@';

/** The page for one run (and optionally a second one beside it). */
export function renderReport(data: ReportData, opts: RenderOptions = {}): string {
  const runs = opts.compare ? [data, opts.compare] : [data];
  const title = runs.length === 2 ? `${data.title} vs ${opts.compare!.title}` : data.title;
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="upcall-stack report">
<title>${escapeHtml(title)}</title>
<style>${uplot('uPlot.min.css')}</style>
<style>${asset('report.css')}</style>
</head>
<body>
<header>
  <h1>${escapeHtml(title)}</h1>
  <p class="meta" id="meta">This file: ${SIZE_MARK}. Everything it shows is inside it (no network).</p>
</header>
<main id="app"><noscript>This report draws with JavaScript.</noscript></main>
${runs.map((r, i) => `<script type="application/json" id="report-data-${i}">${scriptJson(r)}</script>`).join('\n')}
<script>${scriptText(uplot('uPlot.iife.min.js'))}</script>
<script>${scriptText(asset('report.js'))}</script>
</body>
</html>
`;
  const size = Buffer.byteLength(html, 'utf8') - SIZE_MARK.length;
  return html.replace(SIZE_MARK, `about ${formatBytes(size + 10)}`);
}

/** Writes the page; returns its size in bytes. */
export function writeReport(file: string, data: ReportData, opts: RenderOptions = {}): number {
  const html = renderReport(data, opts);
  writeFileSync(file, html);
  return Buffer.byteLength(html, 'utf8');
}

/** The run data embedded in a report page (its first run), for --compare. */
export function readReportData(html: string): ReportData {
  const m = /<script type="application\/json" id="report-data-0">([\s\S]*?)<\/script>/.exec(html);
  if (m === null) throw new Error('not an upcall-stack report (no embedded run data)');
  const data = JSON.parse(m[1]!) as ReportData;
  if (data.format !== REPORT_FORMAT) throw new Error(`report format ${String(data.format)}, expected ${REPORT_FORMAT}`);
  return data;
}

/** readReportData on a file. */
export function loadReportData(file: string): ReportData {
  return readReportData(readFileSync(file, 'utf8'));
}
