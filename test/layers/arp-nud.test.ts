/**
 * Neighbour unreachability detection in ARP: a cached MAC that stops working
 * is found out in seconds (delay + probes), not after the cache lifetime.
 */
import { describe, expect, it } from 'vitest';
import type { Host } from '../../src/host.js';
import type { SimLink, SimPort } from '../../src/layers/nic/sim-link.js';
import { BROADCAST_MAC, parseIp4, type Mac } from '../../src/wire/addr.js';
import { ARP_REPLY, ARP_REQUEST, parseArp } from '../../src/wire/arp.js';
import { ETHERTYPE_ARP, parseEthernet } from '../../src/wire/ethernet.js';
import type { VirtualClock } from '../../src/core/index.js';
import { arpFrame, ethernet, IP_A, IP_B, MAC_A, MAC_B, manualHost, pair } from './helpers.js';

const PROTO = 253;
/** MAC_B with one bit flipped: the address a damaged reply names, which nobody has. */
const MAC_BAD: Mac = MAC_B + 0x10;
/** MAC_A with one bit flipped (bit 8; `^` would cut a MAC to 32 bits). */
const MAC_A_FLIPPED: Mac = MAC_A + 0x100;

function sendTagged(h: Host, dst: number, tag: number): string {
  const buf = h.ip.alloc(4);
  buf.bytes.fill(tag, buf.start, buf.end);
  return h.ip.send(dst, PROTO, buf);
}

function collect(h: Host, clock: VirtualClock): { tag: number; at: number }[] {
  const got: { tag: number; at: number }[] = [];
  h.ip.bindProtocol(PROTO, h.rt.app('sink'), { onPacket: (p) => void got.push({ tag: p.buf.bytes[p.buf.start]!, at: clock.now() }) });
  return got;
}

interface Seen {
  at: number;
  op: number;
  senderIp: number;
  targetIp: number;
  dst: Mac;
}

/** ARP packets on the link, seen by a listening port that can also inject frames. */
function watch(link: SimLink, clock: VirtualClock): { seen: Seen[]; port: SimPort } {
  const seen: Seen[] = [];
  const port = link.attach('watch', { mac: 0x0200_0000_00ee });
  port.attach((f) => {
    const e = parseEthernet(f, 0, f.length);
    if (!e.ok || e.header.ethertype !== ETHERTYPE_ARP) return;
    const a = parseArp(f, e.headerLength, f.length - e.headerLength);
    if (a.ok) seen.push({ at: clock.now(), op: a.header.operation, senderIp: a.header.senderIp, targetIp: a.header.targetIp, dst: e.header.dst });
  });
  return { seen, port };
}

/** A resolved pair, past the announcements, with a's entry for b fresh. */
function resolvedPair(arp: Record<string, number> = {}) {
  const p = pair({ delayMs: 1, bandwidthBps: Infinity }, { arp }, { arp });
  const got = collect(p.b, p.clock);
  const w = watch(p.link, p.clock);
  sendTagged(p.a, IP_B, 0);
  p.clock.advance(10);
  expect(got.map((g) => g.tag)).toEqual([0]);
  expect(p.a.arp.entries()[0]).toMatchObject({ ip: IP_B, mac: MAC_B, state: 'reachable' });
  w.seen.length = 0;
  got.length = 0;
  return { ...p, got, ...w };
}

/** Sends tag 1, 2, ... every `everyMs` until `untilMs` from now. */
function traffic(h: Host, clock: VirtualClock, everyMs: number, untilMs: number): void {
  const end = clock.now() + untilMs;
  for (let tag = 1; clock.now() < end; tag++) {
    sendTagged(h, IP_B, tag & 0xff);
    clock.advance(everyMs);
  }
}

describe('Arp reachability detection', () => {
  it('recovers from a poisoned entry in about delay + probes (8 s), not the 60 s cache lifetime', () => {
    const { clock, a, got, seen, port } = resolvedPair();
    const t0 = clock.now();
    // One unsolicited reply, to a, claiming b's address at a MAC nobody has.
    port.send(arpFrame(MAC_A, { operation: ARP_REPLY, senderMac: MAC_BAD, senderIp: IP_B, targetMac: MAC_A, targetIp: IP_A }));
    clock.advance(1);
    expect(a.arp.lookup(IP_B)).toBe(MAC_BAD);
    traffic(a, clock, 250, 20_000);
    const first = (got[0]?.at ?? Infinity) - t0;
    expect(first).toBeGreaterThan(8000);
    expect(first).toBeLessThan(9000);
    // From then on every datagram arrives.
    expect(got.length).toBeGreaterThan((20_000 - 9000) / 250);
    expect(a.arp.lookup(IP_B)).toBe(MAC_B);
    // Three unicast probes to the bad MAC, one second apart, then a broadcast request.
    const fromA = seen.filter((s) => s.senderIp === IP_A && s.op === ARP_REQUEST && s.at < t0 + 9000);
    expect(fromA.map((s) => [s.at - t0, s.dst])).toEqual([
      [5002, MAC_BAD],
      [6002, MAC_BAD],
      [7002, MAC_BAD],
      [8002, BROADCAST_MAC],
    ]);
    expect(a.arp.counters.unreachable).toBe(1);
    expect(a.arp.counters.probesSent).toBe(3);
  });

  it('does not trust a reply whose sender MAC differs from its frame source (a flipped bit): stale, verified on use', () => {
    const { clock, dev, host } = manualHost({ arp: { announce: false } });
    const got: Mac[] = [];
    // What went out, by destination MAC: ARP packets negative, datagrams positive.
    const drain = () => {
      for (const f of dev.take()) {
        const e = parseEthernet(f, 0, f.length);
        if (e.ok) got.push(e.header.ethertype === ETHERTYPE_ARP ? -e.header.dst : e.header.dst);
      }
    };
    const send = () => {
      host.ip.send(IP_A, PROTO, host.ip.alloc(4));
      drain();
    };
    send();
    expect(got).toEqual([-BROADCAST_MAC]);
    // The answer to our request, damaged inside: the frame says MAC_A, the ARP packet MAC_A^1.
    dev.inject(ethernet(MAC_B, MAC_A, ETHERTYPE_ARP, arpPayload(ARP_REPLY, MAC_A_FLIPPED, IP_A, MAC_B, IP_B)));
    expect(host.arp.entries()[0]).toMatchObject({ mac: MAC_A_FLIPPED, state: 'stale' });
    expect(host.arp.counters.inconsistent).toBe(1);
    // The queued datagram went out (stale entries are used); the next use starts the delay.
    expect(dev.take().length).toBe(1);
    got.length = 0;
    send();
    expect(host.arp.entries()[0]!.state).toBe('delay');
    clock.advance(5000);
    expect(host.arp.entries()[0]!.state).toBe('probe');
    for (let i = 0; i < 3; i++) {
      send();
      clock.advance(1000);
    }
    drain();
    // Datagrams kept going to the cached MAC while it was verified.
    expect(got.filter((m) => m > 0)).toEqual([MAC_A_FLIPPED, MAC_A_FLIPPED, MAC_A_FLIPPED, MAC_A_FLIPPED]);
    // Probes went to the damaged MAC, then a broadcast request; datagrams now wait.
    expect(got.filter((m) => m < 0)).toEqual([-MAC_A_FLIPPED, -MAC_A_FLIPPED, -MAC_A_FLIPPED, -BROADCAST_MAC]);
    expect(host.arp.entries()[0]).toMatchObject({ state: 'pending' });
    expect(sendAndTake(host, dev)).toEqual([]);
    dev.inject(arpFrame(MAC_B, { operation: ARP_REPLY, senderMac: MAC_A, senderIp: IP_A, targetMac: MAC_B, targetIp: IP_B }));
    expect(host.arp.entries()[0]).toMatchObject({ mac: MAC_A, state: 'reachable' });
    expect(dev.take().map((f) => parseEthernet(f, 0, f.length)).map((e) => e.ok && e.header.dst)).toEqual([MAC_A]);
  });

  it('moves reachable -> stale after the drawn reachable time, stale -> delay on use, delay -> probe, and a reply confirms', () => {
    const { clock, a, got, seen } = resolvedPair({ reachableMs: 2000 });
    const e0 = a.arp.entries()[0]!;
    const confirmed = a.arp.counters.confirmations;
    // Reachable for 0.5-1.5 x base, drawn from the seeded generator.
    let t = 0;
    while (a.arp.entries()[0]!.state === 'reachable') {
      clock.advance(50);
      t += 50;
    }
    expect(t).toBeGreaterThanOrEqual(1000 - 50);
    expect(t).toBeLessThanOrEqual(3000 + 50);
    expect(a.arp.entries()[0]).toMatchObject({ state: 'stale', mac: MAC_B });
    expect(e0.expiresAt).toBeGreaterThan(clock.now());
    expect(seen).toEqual([]); // no traffic: no probing
    expect(sendTagged(a, IP_B, 7)).toBe('sent');
    expect(a.arp.entries()[0]!.state).toBe('delay');
    clock.advance(4999);
    expect(seen).toEqual([]);
    clock.advance(1);
    expect(a.arp.entries()[0]!.state).toBe('probe');
    clock.advance(10);
    // One unicast probe to b's MAC, and b's reply confirms it.
    expect(seen.map((s) => [s.op, s.senderIp, s.dst])).toEqual([
      [ARP_REQUEST, IP_A, MAC_B],
      [ARP_REPLY, IP_B, MAC_A],
    ]);
    expect(a.arp.entries()[0]).toMatchObject({ state: 'reachable', mac: MAC_B });
    expect(a.arp.counters.confirmations).toBe(confirmed + 1);
    expect(a.arp.liveTimers()).toBe(0);
    expect(got.map((g) => g.tag)).toEqual([7]);
  });

  it('takes a confirmation from above (IP.confirmReachable) during the delay: no probe is sent', () => {
    const { clock, a, seen } = resolvedPair({ reachableMs: 2000 });
    const confirmed = a.arp.counters.confirmations;
    clock.advance(3100);
    sendTagged(a, IP_B, 1);
    expect(a.arp.entries()[0]!.state).toBe('delay');
    clock.advance(2000);
    a.ip.confirmReachable(IP_B);
    expect(a.arp.entries()[0]!.state).toBe('reachable');
    clock.advance(3100); // past the old delay
    expect(seen.filter((s) => s.senderIp === IP_A)).toEqual([]);
    expect(a.arp.counters.confirmations).toBe(confirmed + 1);
    // A hint for an address with no entry changes nothing.
    a.ip.confirmReachable(parseIp4('10.0.0.77'));
    expect(a.arp.entries().length).toBe(1);
  });

  it('is confirmed by a request from the neighbour with the cached MAC; a different MAC makes it stale', () => {
    const { clock, dev, host } = manualHost({ arp: { announce: false, reachableMs: 1000 } });
    const req = (mac: Mac) => dev.inject(arpFrame(BROADCAST_MAC, { operation: ARP_REQUEST, senderMac: mac, senderIp: IP_A, targetMac: 0, targetIp: IP_B }));
    req(MAC_A);
    // A request introduces a neighbour we did not ask for: believed, not trusted.
    expect(host.arp.entries()[0]).toMatchObject({ mac: MAC_A, state: 'stale' });
    req(MAC_A);
    expect(host.arp.entries()[0]).toMatchObject({ mac: MAC_A, state: 'reachable' });
    clock.advance(100);
    req(MAC_A + 4);
    expect(host.arp.entries()[0]).toMatchObject({ mac: MAC_A + 4, state: 'stale' });
  });

  it('holds a bounded queue while resolving again, then drops and counts it when that fails', () => {
    const { clock, a, b, seen } = resolvedPair({ queueLimit: 2 });
    (b.device as SimPort).detach();
    clock.advance(60_000 - 100); // stale, but not expired
    expect(a.arp.entries()[0]!.state).toBe('stale');
    sendTagged(a, IP_B, 1);
    clock.advance(8000); // delay + three probes
    expect(a.arp.entries()[0]).toMatchObject({ state: 'pending', queued: 0 });
    for (let i = 0; i < 5; i++) expect(sendTagged(a, IP_B, i)).toBe('queued');
    expect(a.arp.queued).toBe(2);
    expect(a.arp.stats.dropReasons.get('queue-full')).toBe(3);
    clock.advance(3000);
    expect(a.arp.entries()).toEqual([]);
    expect(a.arp.stats.dropReasons.get('unresolved')).toBe(2);
    expect(a.arp.counters.failures).toBe(1);
    expect(a.pool.inUse).toBe(0);
    expect(a.arp.liveTimers()).toBe(0);
    expect(seen.filter((s) => s.senderIp === IP_A).map((s) => s.dst)).toEqual([MAC_B, MAC_B, MAC_B, BROADCAST_MAC, BROADCAST_MAC, BROADCAST_MAC]);
  });

  it('keeps a client reaching its server on a link that corrupts 20% of frames (seeds where one damaged reply used to cut it off)', () => {
    // Before reachability detection these seeds delivered 0, 2, 1, 1 and 0 of 120 datagrams.
    const delivered: number[] = [];
    for (const seed of [29, 48, 59, 63, 114]) {
      const { clock, a, b } = pair({ corrupt: 0.2, seed, delayMs: 1 });
      let got = 0;
      b.ip.bindProtocol(PROTO, b.rt.app('sink'), { onPacket: () => void got++ });
      for (let i = 0; i < 120; i++) {
        sendTagged(a, IP_B, i);
        clock.advance(500);
      }
      clock.advance(5000);
      delivered.push(got);
    }
    // Now 98, 95, 98, 98, 82: the losses are the link's, plus at most one verification (8 s) per run.
    for (const n of delivered) expect(n).toBeGreaterThan(75);
  });

  it('drops packets from senders off the subnet and with wrong hardware/protocol fields (counted, never answered)', () => {
    const { dev, host } = manualHost({ arp: { announce: false, prefixLength: 24 } });
    dev.inject(arpFrame(BROADCAST_MAC, { operation: ARP_REQUEST, senderMac: MAC_A, senderIp: parseIp4('10.0.1.1'), targetMac: 0, targetIp: IP_B }));
    dev.inject(arpFrame(MAC_B, { operation: ARP_REPLY, senderMac: MAC_A, senderIp: parseIp4('192.168.0.1'), targetMac: MAC_B, targetIp: IP_B }));
    const good = arpFrame(BROADCAST_MAC, { operation: ARP_REQUEST, senderMac: MAC_A, senderIp: IP_A, targetMac: 0, targetIp: IP_B });
    const hw = good.slice();
    hw[15] = 6; // hardware type 6 (IEEE 802)
    const hlen = good.slice();
    hlen[18] = 8;
    const plen = good.slice();
    plen[19] = 16;
    for (const f of [hw, hlen, plen]) dev.inject(f);
    expect(Object.fromEntries(host.arp.stats.dropReasons)).toEqual({
      'off-subnet': 2,
      'unsupported-hardware': 1,
      'bad-address-length': 2,
    });
    expect(dev.sent).toHaveLength(0);
    expect(host.arp.entries()).toEqual([]);
    dev.inject(good);
    expect(dev.sent).toHaveLength(1);
  });
});

function arpPayload(operation: number, senderMac: Mac, senderIp: number, targetMac: Mac, targetIp: number): Uint8Array {
  const f = arpFrame(0, { operation, senderMac, senderIp, targetMac, targetIp });
  return f.subarray(14);
}

function sendAndTake(host: Host, dev: ReturnType<typeof manualHost>['dev']): Uint8Array[] {
  expect(host.ip.send(IP_A, PROTO, host.ip.alloc(4))).toBe('queued');
  return dev.take();
}
