/**
 * `npm run demo -- --ipv6` (or -6): the remote-login demo between dual-stack
 * hosts, the login over IPv6, with the same piggybacking as over IPv4, and a
 * capture tshark reads as TCP over IPv6 with good checksums.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, parseArgs, report, runDemo, type DemoResult } from '../../apps/demo.js';
import { itNeeds } from '../support/needs.js';

const dir = mkdtempSync(join(tmpdir(), 'demo6-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pcap = join(dir, 'remote-login6.pcap');

let run: DemoResult | undefined;
async function demo6(): Promise<DemoResult> {
  run ??= await runDemo({ ...DEFAULT_OPTIONS, pcap, ipv6: true });
  return run;
}

describe('npm run demo -- --ipv6', () => {
  it('parses -6 and --ipv6', () => {
    expect(parseArgs(['-6'])).toMatchObject({ ipv6: true });
    expect(parseArgs(['--ipv6', '--seed', '3'])).toMatchObject({ ipv6: true, seed: 3 });
    expect(parseArgs([])).not.toHaveProperty('ipv6');
  });

  it('logs in over IPv6 and piggybacks every echo as over IPv4', async () => {
    const r = await demo6();
    const s = r.summary;
    expect(s.sessionOk).toBe(true);
    expect(s.ipv6).toBe(true);
    expect(r.transcript).toMatch(/tcp +\[fd00::1\]:23 +\[fd00::2\]:\d+ +ESTABLISHED +demo\n/);
    expect(s.echoedKeystrokes).toBe(s.keystrokes);
    expect(s.packetsPerKeystroke).toBeLessThanOrEqual(2.0);
    expect(report(r)[0]).toBe('Remote login over the upcall stack: client fd00::2 -> server [fd00::1]:23 over IPv6 on a simulated link');
  });

  itNeeds(['tshark'], 'writes a capture tshark reads as TCP over IPv6 with good checksums', async () => {
    await demo6();
    const out = execFileSync(
      '/usr/bin/tshark',
      ['-n', '-o', 'tcp.check_checksum:TRUE', '-r', pcap, '-Y', 'tcp', '-T', 'fields', '-e', 'ipv6.src', '-e', 'tcp.checksum.status', '-e', '_ws.malformed'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const rows = out.trim().split('\n').map((l) => l.split('\t'));
    expect(rows.length).toBeGreaterThan(20);
    for (const r of rows) {
      expect(['fd00::1', 'fd00::2']).toContain(r[0]);
      expect(r[1]).toBe('1');
      expect(r[2] ?? '').toBe('');
    }
  });
});
