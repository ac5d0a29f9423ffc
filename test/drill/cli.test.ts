/** apps/drill.ts: per-script lines, --json, exit status. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../apps/drill.js';

const GOOD = `--tolerance_usecs=500
\`sysctl -q net.ipv4.tcp_timestamps=0 net.ipv4.tcp_sack=0 net.ipv4.tcp_window_scaling=0\`
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 65535 <mss 1460>
+0 > S. 0:0(0) ack 1 win 65535 <mss 1460>
`;

let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
});
afterEach(() => vi.restoreAllMocks());

function dir(files: Record<string, string>): string {
  const d = mkdtempSync(path.join(tmpdir(), 'drill-'));
  for (const [n, t] of Object.entries(files)) writeFileSync(path.join(d, n), t);
  return d;
}

describe('apps/drill.ts', () => {
  it('exits 0 when every script passes, and says so per script', async () => {
    const d = dir({ 'a.pkt': GOOD });
    expect(await main([path.join(d, 'a.pkt')])).toBe(0);
    expect(out).toMatch(/^PASS {2}.*a\.pkt \(5 events\)$/m);
    expect(out).toMatch(/1 scripts: 1 passed, 0 failed, 0 unsupported/);
  });

  it('exits 1 when one fails, printing the line, expected and actual', async () => {
    const d = dir({ 'a.pkt': GOOD, 'b.pkt': GOOD.replace('win 65535 <mss 1460>\n', 'win 65535 <mss 1460>\n').replace('ack 1 win 65535', 'ack 2 win 65535') });
    expect(await main([d])).toBe(1);
    expect(out).toContain('FAIL  ');
    expect(out).toMatch(/b\.pkt:7\n {6}ack 1, expected 2\n {6}expected: \+0 > S\. 0:0\(0\) ack 2 win 65535 <mss 1460>\n {6}actual: {3}0\.000 > S\. 0:0\(0\) ack 1 win 65535 <mss 1460>/);
  });

  it('--json prints one object per script and a summary, unsupported with its reason', async () => {
    const d = dir({ 'a.pkt': GOOD, 'c.pkt': `${GOOD}+0 %{ print(1) }%\n` });
    expect(await main(['--json', '--by-dir', d])).toBe(0);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l['status'] ?? 'summary')).toEqual(['passed', 'unsupported', 'summary']);
    expect(lines[1]).toMatchObject({ line: 8, message: 'inline code %{ ... }% (no Python interpreter in this runner; every other line passed, 1 code block not run)' });
    expect(lines[2]).toMatchObject({ summary: { scripts: 2, passed: 1, unsupported: 1, byDir: { '.': { passed: 1, unsupported: 1 } } } });
  });

  it('exits 2 with a one-line message for bad arguments', async () => {
    expect(await main(['/nonexistent/x.pkt'])).toBe(2);
    expect(err).toBe('drill: /nonexistent/x.pkt: no such file or folder (try --help)\n');
    err = '';
    expect(await main(['--shell', 'maybe', 'x.pkt'])).toBe(2);
    expect(err).toMatch(/^drill: --shell: "maybe" is not 'unsupported' or 'ignore' \(try --help\)\n$/);
    err = '';
    expect(await main([])).toBe(2);
    expect(err).toMatch(/missing script file or folder/);
    err = '';
    const d = dir({ 'a.pkt': GOOD });
    expect(await main(['--tcp', 'bogus=1', d])).toBe(2);
    expect(err).toBe('drill: --tcp: unknown TcpConfig key bogus (try --help)\n');
  });
});
