/**
 * A report page opened in headless Chromium (playwright-core) as a person
 * would open the file: what the page logs as an error or throws is collected,
 * and the caller gets the page once the report says it is drawn.
 */
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';

function chromiumPath(): string {
  const r = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' });
  return r.stdout.trim() || '/usr/bin/chromium';
}

/** Runs `body` with a headless Chromium, closed afterwards whatever happens. */
export async function withChromium<T>(body: (browser: Browser) => Promise<T>): Promise<T> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
  try {
    return await body(browser);
  } finally {
    await browser.close();
  }
}

/**
 * Opens the report `file` in a new page and waits until it is drawn; the page's
 * console errors and uncaught exceptions are pushed onto `errors` from then on.
 */
export async function openReport(browser: Browser, file: string, errors: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 10_000 });
  return page;
}
