/**
 * TCP's forward progress tells the network layer the neighbour is reachable
 * (RFC 4861 7.3.1, RFC 1122 2.3.2.1): a connection that moves data keeps its
 * ARP or NDP entry confirmed, so the resolver never probes it. Traffic with no
 * such hint (UDP) goes through the stale/delay/probe cycle: the contrast shows
 * the hint is what saves the probes.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/core/index.js';
import { createHost, type Host } from '../../../src/host.js';
import { SimLink } from '../../../src/layers/nic/sim-link.js';
import type { IpAddress } from '../../../src/layers/net.js';
import { parseIp4 } from '../../../src/wire/addr.js';
import { parseIp6 } from '../../../src/wire/addr6.js';

function pair(): { clock: VirtualClock; a: Host; b: Host } {
  const clock = new VirtualClock();
  const link = new SimLink(clock, { seed: 5, delayMs: 1 });
  const ipv6 = { dad: false };
  const a = createHost({ name: 'a', link, ip: ['10.0.0.1/24', 'fd00::1/64'], seed: 1, tcp: true, ipv6 });
  const b = createHost({ name: 'b', link, ip: ['10.0.0.2/24', 'fd00::2/64'], seed: 2, tcp: true, ipv6 });
  return { clock, a, b };
}

/** A connection from a to `dst` sending 100 bytes every 500 ms for `ms` of virtual time. */
function tcpChatter(clock: VirtualClock, a: Host, b: Host, dst: IpAddress, ms: number): number {
  let received = 0;
  b.tcp!.listen(9, b.rt.app('sink'), { onAccept: () => ({ onData: (_c, d) => void (received += d.length) }) });
  let conn: { send(d: Uint8Array): unknown } | undefined;
  a.tcp!.connect(dst, 9, a.rt.app('talker'), { onConnect: (c) => void (conn = c) });
  for (let t = 0; t < ms; t += 500) {
    clock.advance(500);
    conn?.send(new Uint8Array(100));
  }
  return received;
}

function udpChatter(clock: VirtualClock, a: Host, b: Host, dst: IpAddress, ms: number): number {
  let received = 0;
  b.udp!.bind(9, b.rt.app('sink'), { onDatagram: () => void received++ });
  const s = a.udp!.bind(0, a.rt.app('talker'), {});
  for (let t = 0; t < ms; t += 500) {
    clock.advance(500);
    s.send(dst, 9, new Uint8Array(100));
  }
  return received;
}

describe('forward progress confirms the neighbour', () => {
  it('IPv4: two minutes of TCP traffic send no ARP probe; the same pace of UDP makes ARP probe', () => {
    const t = pair();
    expect(tcpChatter(t.clock, t.a, t.b, parseIp4('10.0.0.2'), 120_000)).toBeGreaterThan(20_000);
    expect(t.a.arp.counters.probesSent).toBe(0);
    expect(t.a.arp.counters.confirmations).toBeGreaterThan(0);

    const u = pair();
    expect(udpChatter(u.clock, u.a, u.b, parseIp4('10.0.0.2'), 120_000)).toBeGreaterThan(200);
    expect(u.a.arp.counters.probesSent).toBeGreaterThan(0);
  });

  it('IPv6: TCP traffic keeps the neighbour cache entry confirmed; UDP traffic has it probed', () => {
    const t = pair();
    const sentBefore = () => t.a.ndp!.counters.solicitationsSent;
    const before = sentBefore();
    t.clock.advance(1);
    expect(tcpChatter(t.clock, t.a, t.b, parseIp6('fd00::2'), 120_000)).toBeGreaterThan(20_000);
    // one solicitation resolves b at the start; none after it
    expect(sentBefore() - before).toBeLessThanOrEqual(1);

    const u = pair();
    const ub = u.a.ndp!.counters.solicitationsSent;
    expect(udpChatter(u.clock, u.a, u.b, parseIp6('fd00::2'), 120_000)).toBeGreaterThan(200);
    expect(u.a.ndp!.counters.solicitationsSent - ub).toBeGreaterThan(1);
  });
});
