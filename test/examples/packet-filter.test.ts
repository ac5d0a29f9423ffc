import { describe, expect, it } from 'vitest';
import { runPacketFilter } from '../../apps/examples/packet-filter.js';

describe('example: a packet filter between the NIC and IP', () => {
  it('drops by rule and counts under the rule’s name; everything else passes', async () => {
    const r = await runPacketFilter(() => {});
    expect(r.pingFromA.received).toBe(0);
    expect(r.pingFromC.received).toBe(3);
    expect(r.udpReceived).toEqual([7, 7]);
    expect(r.filterDrops).toEqual({ 'no-ping-from-10.0.0.1': 3, 'udp-port-9': 1 });
  });
});
