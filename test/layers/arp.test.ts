import { describe, expect, it } from 'vitest';
import type { Host } from '../../src/host.js';
import type { SimPort } from '../../src/layers/nic/sim-link.js';
import { parseIp4, BROADCAST_MAC, ZERO_MAC } from '../../src/wire/addr.js';
import { ARP_REPLY, ARP_REQUEST, parseArp } from '../../src/wire/arp.js';
import { ETHERTYPE_ARP, parseEthernet } from '../../src/wire/ethernet.js';
import { arpFrame, IP_A, IP_B, IP_X, MAC_A, MAC_B, MAC_X, manualHost, pair } from './helpers.js';

const PROTO = 253;

/** Send a small datagram of protocol 253 carrying `tag`. */
function sendTagged(h: Host, dst: number, tag: number): string {
  const buf = h.ip.alloc(4);
  buf.bytes.fill(tag, buf.start, buf.end);
  return h.ip.send(dst, PROTO, buf);
}

function collect(h: Host): number[] {
  const got: number[] = [];
  h.ip.bindProtocol(PROTO, h.rt.app('sink'), { onPacket: (p) => void got.push(p.buf.bytes[p.buf.start]!) });
  return got;
}

/** ARP packets seen on a link, via an extra listening port. */
function arpWatch(link: ReturnType<typeof pair>['link'], clock: ReturnType<typeof pair>['clock']) {
  const seen: { at: number; op: number; senderIp: number; targetIp: number; dst: number }[] = [];
  link.attach('watch', { mac: MAC_X }).attach((f) => {
    const e = parseEthernet(f, 0, f.length);
    if (!e.ok || e.header.ethertype !== ETHERTYPE_ARP) return;
    const a = parseArp(f, e.headerLength, f.length - e.headerLength);
    if (a.ok) seen.push({ at: clock.now(), op: a.header.operation, senderIp: a.header.senderIp, targetIp: a.header.targetIp, dst: e.header.dst });
  });
  return seen;
}

describe('Arp', () => {
  it('resolves the next hop, sends what waited, and both sides learn', () => {
    const { clock, a, b } = pair();
    const got = collect(b);
    expect(sendTagged(a, IP_B, 1)).toBe('queued');
    clock.runAll();
    expect(got).toEqual([1]);
    expect(a.arp.lookup(IP_B)).toBe(MAC_B);
    // b learned a from the request addressed to it.
    expect(b.arp.lookup(IP_A)).toBe(MAC_A);
    expect(sendTagged(a, IP_B, 2)).toBe('sent');
    clock.runAll();
    expect(got).toEqual([1, 2]);
    expect(a.arp.entries()).toEqual([{ ip: IP_B, mac: MAC_B, state: 'reachable', expiresAt: expect.any(Number), queued: 0 }]);
  });

  it('announces itself with a gratuitous ARP when it starts', () => {
    const { clock, dev, host } = manualHost();
    expect(dev.sent).toHaveLength(0);
    clock.advance(0);
    expect(dev.sent).toHaveLength(1);
    const f = dev.sent[0]!;
    const e = parseEthernet(f, 0, f.length);
    expect(e.ok && e.header.dst).toBe(BROADCAST_MAC);
    const p = parseArp(f, 14, f.length - 14);
    expect(p.ok && p.header).toEqual({ operation: ARP_REQUEST, senderMac: MAC_B, senderIp: IP_B, targetMac: ZERO_MAC, targetIp: IP_B });
    expect(host.arp.counters.requestsSent).toBe(1);
  });

  it('retries the request, then gives up and drops what waited (counted)', () => {
    const { clock, link, a, b } = pair({ delayMs: 1, bandwidthBps: Infinity });
    (b.device as SimPort).detach();
    const seen = arpWatch(link, clock);
    clock.advance(10); // past the announcements
    seen.length = 0;
    sendTagged(a, IP_B, 1);
    sendTagged(a, IP_B, 2);
    clock.advance(10_000);
    expect(seen.map((s) => [s.at, s.op, s.targetIp])).toEqual([
      [11, ARP_REQUEST, IP_B],
      [1011, ARP_REQUEST, IP_B],
      [2011, ARP_REQUEST, IP_B],
    ]);
    expect(a.arp.counters.failures).toBe(1);
    expect(a.arp.stats.dropReasons.get('unresolved')).toBe(2);
    expect(a.arp.entries()).toEqual([]);
    expect(a.pool.inUse).toBe(0);
    expect(a.arp.liveTimers()).toBe(0);
  });

  it('lets resolved entries expire, then resolves afresh', () => {
    const { clock, link, a, b } = pair({}, { arp: { cacheTtlMs: 5000 } });
    const got = collect(b);
    const seen = arpWatch(link, clock);
    sendTagged(a, IP_B, 1);
    clock.runAll();
    expect(a.arp.lookup(IP_B)).toBe(MAC_B);
    clock.advance(4000);
    expect(a.arp.lookup(IP_B)).toBe(MAC_B);
    clock.advance(1000);
    expect(a.arp.lookup(IP_B)).toBeUndefined();
    expect(a.arp.entries()).toEqual([]);
    seen.length = 0;
    expect(sendTagged(a, IP_B, 2)).toBe('queued');
    clock.runAll();
    expect(seen.filter((s) => s.op === ARP_REQUEST && s.senderIp === IP_A).length).toBe(1);
    expect(got).toEqual([1, 2]);
  });

  it('bounds the queue of waiting packets, dropping the oldest', () => {
    const { clock, a, b } = pair({}, { arp: { queueLimit: 2 } });
    const got = collect(b);
    for (let i = 0; i < 5; i++) sendTagged(a, IP_B, i);
    expect(a.arp.queued).toBe(2);
    clock.runAll();
    expect(got).toEqual([3, 4]);
    expect(a.arp.stats.dropReasons.get('queue-full')).toBe(3);
    expect(a.pool.inUse).toBe(0);
  });

  it('bounds the destinations being resolved at once', () => {
    const { clock, a } = pair({}, { arp: { maxPending: 2 } });
    expect(sendTagged(a, parseIp4('10.0.0.10'), 1)).toBe('queued');
    expect(sendTagged(a, parseIp4('10.0.0.11'), 1)).toBe('queued');
    expect(sendTagged(a, parseIp4('10.0.0.12'), 1)).toBe('dropped');
    expect(a.arp.stats.dropReasons.get('too-many-pending')).toBe(1);
    clock.runAll();
    expect(a.pool.inUse).toBe(0);
  });

  it('answers requests for its own address only, and learns only from those', () => {
    const { dev, host } = manualHost({ arp: { announce: false } });
    // A request for someone else: ignored, nothing learned.
    dev.inject(arpFrame(BROADCAST_MAC, { operation: ARP_REQUEST, senderMac: MAC_A, senderIp: IP_A, targetMac: 0, targetIp: IP_X }));
    expect(dev.sent).toHaveLength(0);
    expect(host.arp.lookup(IP_A)).toBeUndefined();
    expect(host.arp.stats.dropReasons.get('not-for-us')).toBe(1);
    // A request for us: answered, and the asker learned.
    dev.inject(arpFrame(BROADCAST_MAC, { operation: ARP_REQUEST, senderMac: MAC_A, senderIp: IP_A, targetMac: 0, targetIp: IP_B }));
    expect(dev.sent).toHaveLength(1);
    const f = dev.sent[0]!;
    const e = parseEthernet(f, 0, f.length);
    expect(e.ok && e.header.dst).toBe(MAC_A);
    expect(f.length).toBe(60);
    const p = parseArp(f, 14, f.length - 14);
    expect(p.ok && p.header).toEqual({ operation: ARP_REPLY, senderMac: MAC_B, senderIp: IP_B, targetMac: MAC_A, targetIp: IP_A });
    expect(host.arp.lookup(IP_A)).toBe(MAC_A);
    expect(host.arp.counters.accepted).toBe(1);
  });

  it('refreshes a known entry from any packet naming its sender (a gratuitous ARP after a MAC change)', () => {
    const { dev, host } = manualHost({ arp: { announce: false } });
    dev.inject(arpFrame(BROADCAST_MAC, { operation: ARP_REQUEST, senderMac: MAC_A, senderIp: IP_A, targetMac: 0, targetIp: IP_B }));
    expect(host.arp.lookup(IP_A)).toBe(MAC_A);
    dev.inject(arpFrame(BROADCAST_MAC, { operation: ARP_REQUEST, senderMac: MAC_X, senderIp: IP_A, targetMac: 0, targetIp: IP_A }));
    expect(host.arp.lookup(IP_A)).toBe(MAC_X);
  });

  it('keeps static entries whatever it hears', () => {
    const { dev, host } = manualHost({ arp: { announce: false } });
    host.arp.addStatic(IP_A, MAC_A);
    dev.inject(arpFrame(BROADCAST_MAC, { operation: ARP_REQUEST, senderMac: MAC_X, senderIp: IP_A, targetMac: 0, targetIp: IP_B }));
    expect(host.arp.lookup(IP_A)).toBe(MAC_A);
    expect(host.arp.entries()[0]!.state).toBe('static');
    // The static entry is used at once: no request.
    dev.take();
    const buf = host.ip.alloc(4);
    expect(host.ip.send(IP_A, PROTO, buf)).toBe('sent');
    expect(dev.sent).toHaveLength(1);
  });

  it('counts malformed and conflicting packets', () => {
    const { dev, host } = manualHost({ arp: { announce: false } });
    const good = arpFrame(BROADCAST_MAC, { operation: ARP_REQUEST, senderMac: MAC_A, senderIp: IP_A, targetMac: 0, targetIp: IP_B });
    dev.inject(good.slice(0, 30)); // truncated
    const badOp = good.slice();
    badOp[21] = 9;
    dev.inject(badOp);
    const ipv6 = good.slice();
    ipv6[16] = 0x86;
    ipv6[17] = 0xdd;
    dev.inject(ipv6);
    dev.inject(arpFrame(BROADCAST_MAC, { operation: ARP_REPLY, senderMac: MAC_X, senderIp: IP_B, targetMac: 0, targetIp: IP_B }));
    expect(Object.fromEntries(host.arp.stats.dropReasons)).toEqual({
      truncated: 1,
      'bad-operation': 1,
      'unsupported-protocol': 1,
      'address-conflict': 1,
    });
    expect(dev.sent).toHaveLength(0);
  });
});
