import { describe, expect, it } from 'vitest';
import { runUdpEcho } from '../../apps/examples/udp-echo.js';

describe('example: UDP echo bound to IP’s protocol-17 slot', () => {
  it('echoes every datagram sent to port 7 and refuses other ports with ICMP', async () => {
    const r = await runUdpEcho(() => {});
    expect(r.echoed).toBe(3);
    expect(r.replies).toEqual(['hello', 'upcalls', 'world']);
    expect(r.drops['udp-echo']).toEqual({ 'not-echo-port': 1 });
    expect(r.lines.some((l) => l.includes('ICMP type 3 code 3'))).toBe(true);
  });
});
