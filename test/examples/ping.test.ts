import { describe, expect, it } from 'vitest';
import { runPing } from '../../apps/ping.js';

describe('apps/ping', () => {
  it('prints ping-like output, the same for the same seed', async () => {
    const run = async (seed: number): Promise<string[]> => {
      const lines: string[] = [];
      await runPing({ seed, loss: 0.1, count: 20, print: (l) => void lines.push(l) });
      return lines;
    };
    const a = await run(5);
    expect(a[0]).toMatch(/^PING 10\.0\.0\.2 from 10\.0\.0\.1: 56 data bytes/);
    expect(a.filter((l) => /^64 bytes from 10\.0\.0\.2: icmp_seq=\d+ ttl=64 time=\d+\.\d{3} ms$/.test(l)).length).toBeGreaterThan(10);
    expect(a.some((l) => l.startsWith('Request timeout for icmp_seq'))).toBe(true);
    expect(a).toContainEqual(expect.stringMatching(/^20 packets transmitted, \d+ packets received, [\d.]+% packet loss$/));
    expect(await run(5)).toEqual(a);
    expect(await run(6)).not.toEqual(a);
  });
});
