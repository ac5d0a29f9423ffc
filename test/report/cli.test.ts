/**
 * `--report FILE` and `--compare FILE` on the demo and the replay commands:
 * the file is written, holds the run, and a second run can be drawn beside it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main as demoMain } from '../../apps/demo.js';
import { runReplayCli } from '../../apps/replay.js';
import { readReportData } from '../../src/report/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'report-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function io(): { out: string[]; err: string[]; io: { out: (s: string) => void; err: (s: string) => void; errIsTty: boolean } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s) => out.push(s), err: (s) => err.push(s), errIsTty: false } };
}

describe('--report', () => {
  it('npm run demo -- --report FILE writes the session\'s report; --compare draws an earlier one beside it', async () => {
    const a = path.join(dir, 'a.html');
    const b = path.join(dir, 'b.html');
    const quiet = process.stdout.write;
    const errs: string[] = [];
    const quietErr = process.stderr.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    process.stderr.write = ((s: string) => (errs.push(String(s)), true)) as typeof process.stderr.write;
    try {
      expect(await demoMain(['--no-pcap', '--no-piggyback', '--report', a])).toBe(0);
      expect(await demoMain(['--no-pcap', '--report', b, '--compare', a])).toBe(0);
    } finally {
      process.stdout.write = quiet;
      process.stderr.write = quietErr;
    }
    expect(errs.join('')).toMatch(/report: .*b\.html \(\d/);
    const first = readReportData(readFileSync(a, 'utf8'));
    expect(first.kind).toBe('demo');
    expect(first.title).toContain('--no-piggyback');
    const both = readFileSync(b, 'utf8');
    expect(both).toContain('id="report-data-1"');
    expect(readReportData(both).title).toContain('piggybacked echo');
  });

  it('npm run replay -- CAPTURE --report FILE writes the replay\'s report, its TCP state labelled inferred', async () => {
    const file = path.join(dir, 'replay.html');
    const x = io();
    const code = await runReplayCli([path.resolve(process.cwd(), 'test/fixtures/traces/telnet-raw.pcap'), '--report', file], x.io);
    expect(code).toBe(0);
    expect(x.err.join('')).toMatch(/report: .*replay\.html/);
    const d = readReportData(readFileSync(file, 'utf8'));
    expect(d.kind).toBe('replay');
    expect(d.frames.total).toBe(272);
    expect(d.conns[0]!.dirs[0]!.state?.source).toBe('inferred');
    expect(d.transcript).toContain('Telnet session');
  });

  it('refuses --compare without --report, and a --compare file that is no report', async () => {
    const x = io();
    expect(await runReplayCli([path.resolve(process.cwd(), 'test/fixtures/traces/telnet-raw.pcap'), '--compare', path.resolve('package.json')], x.io)).toBe(2);
    const y = io();
    expect(await runReplayCli([path.resolve(process.cwd(), 'test/fixtures/traces/telnet-raw.pcap'), '--report', path.join(dir, 'x.html'), '--compare', path.resolve('package.json')], y.io)).toBe(2);
    expect(y.err.join('')).toMatch(/not an upcall-stack report/);
  });
});
