import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/core/index.js';
import { createHost } from '../../src/host.js';
import { SimLink } from '../../src/layers/nic/sim-link.js';
import { ProtocolTap, runProtocolTap } from '../../apps/examples/protocol-tap.js';

describe('example: a tap counting traffic per protocol', () => {
  it('counts packets and bytes per protocol and direction', async () => {
    const r = await runProtocolTap(() => {});
    expect(r.counts['icmp out']).toEqual({ packets: 4, bytes: 4 * 64 });
    // Four echo replies and one protocol-unreachable about the protocol-253 datagram.
    expect(r.counts['icmp in']!.packets).toBe(5);
    expect(r.counts['udp out']).toEqual({ packets: 3, bytes: 3 * 8 + 600 });
    expect(r.counts['udp in']!.packets).toBe(3);
    expect(r.counts['experimental-253 out']).toEqual({ packets: 1, bytes: 20 });
  });

  it('emits nothing (and builds nothing) while nobody subscribes', () => {
    const clock = new VirtualClock();
    const link = new SimLink(clock);
    const a = createHost({ name: 'a', link, ip: '10.0.0.1/24' });
    const b = createHost({ name: 'b', link, ip: '10.0.0.2/24' });
    const tap = new ProtocolTap(a.rt, a.ip);
    let n = 0;
    void a.ping(b.address, { count: 2, intervalMs: 10 });
    clock.runAll();
    const sub = tap.events.subscribe(() => n++);
    void a.ping(b.address, { count: 1 });
    clock.runAll();
    sub.unsubscribe();
    expect(n).toBe(2); // one request out, one reply in
  });
});
