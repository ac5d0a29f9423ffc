import { describe, expect, it } from 'vitest';
import { main, parsePingArgs, runPing } from '../../apps/ping.js';

describe('ping -6', () => {
  it('parses -6 and --ipv6', () => {
    expect(parsePingArgs(['-6'])).toMatchObject({ ipv6: true });
    expect(parsePingArgs(['--ipv6', '--count', '2'])).toMatchObject({ ipv6: true, count: 2 });
    expect(parsePingArgs([])).not.toHaveProperty('ipv6');
  });

  it('pings fd00::2 over the simulated link after DAD, printing what ping(8) would', async () => {
    const lines: string[] = [];
    const r = await runPing({ ipv6: true, count: 3, print: (l) => void lines.push(l) });
    expect(r).toMatchObject({ sent: 3, received: 3, lost: 0 });
    expect(lines[0]).toBe('PING fd00::2 from fd00::1: 56 data bytes (sim link: seed 1, loss 0.0%, delay 1 ms)');
    expect(lines[1]).toMatch(/^64 bytes from fd00::2: icmp_seq=0 ttl=64 time=\d+\.\d{3} ms$/);
    expect(lines).toContain('--- fd00::2 ping statistics ---');
    expect(lines).toContain('3 packets transmitted, 3 packets received, 0.0% packet loss');
  });

  it('exits 2 with one line for a bad argument', async () => {
    expect(await main(['-6', '--count', '0'])).toBe(2);
  });
});
