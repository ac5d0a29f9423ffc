import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/core/index.js';
import { createHost } from '../../../src/host.js';
import type { ManualDevice } from '../../../src/layers/nic/device.js';
import { SimLink } from '../../../src/layers/nic/sim-link.js';
import {
  formatIp6, IP6_ALL_NODES, IP6_ANY, ip6FromPrefixAndMac, ip6MulticastMac, ip6SolicitedNode, parseIp6, type Ip6,
} from '../../../src/wire/addr6.js';
import { IP_PROTO_ICMPV6 } from '../../../src/wire/ipv6.js';
import {
  NDP_NA_OVERRIDE, NDP_NA_SOLICITED, NDP_NEIGHBOR_ADVERTISEMENT, NDP_NEIGHBOR_SOLICITATION, NDP_PREFIX_AUTONOMOUS,
  NDP_PREFIX_ON_LINK, NDP_REDIRECT, NDP_ROUTER_ADVERTISEMENT, NDP_ROUTER_SOLICITATION, parseNdp, type NdpMessage, type NdpOption,
} from '../../../src/wire/ndp.js';
import {
  decode6, G_A, G_B, host6, LL_B, LL_X, MAC_A, MAC_B, MAC_C, MAC_X, manual6, ndpFrame, type Host6,
} from './helpers.js';

const G_X = parseIp6('fd00::99');

interface SentNdp {
  dstMac: number;
  src: Ip6;
  dst: Ip6;
  hopLimit: number;
  m: NdpMessage;
}

function ndpSent(dev: ManualDevice): SentNdp[] {
  const out: SentNdp[] = [];
  for (const d of decode6(dev.take())) {
    if (d.ip.nextHeader !== IP_PROTO_ICMPV6) continue;
    const r = parseNdp(d.payload, 0, d.payload.length);
    if (r.ok) out.push({ dstMac: d.dst, src: d.ip.src, dst: d.ip.dst, hopLimit: d.ip.hopLimit, m: r.header });
  }
  return out;
}

function na(target: Ip6, flags: number, mac: number | undefined, src: Ip6 = target, dst: Ip6 = G_B, hopLimit = 255): Uint8Array {
  const options: NdpOption[] = mac !== undefined ? [{ kind: 'target-link-layer', mac }] : [];
  return ndpFrame(dst[0] === 0xff ? ip6MulticastMac(dst) : MAC_B, mac ?? MAC_X, { type: NDP_NEIGHBOR_ADVERTISEMENT, code: 0, checksum: 0, flags, target, options }, src, dst, hopLimit);
}

function ns(target: Ip6, src: Ip6, mac: number | undefined, dst: Ip6 = ip6SolicitedNode(target), hopLimit = 255): Uint8Array {
  const options: NdpOption[] = mac !== undefined ? [{ kind: 'source-link-layer', mac }] : [];
  return ndpFrame(ip6MulticastMac(dst), mac ?? MAC_X, { type: NDP_NEIGHBOR_SOLICITATION, code: 0, checksum: 0, reserved: 0, target, options }, src, dst, hopLimit);
}

function drops(h: Host6, module: string): Record<string, number> {
  return h.stats().find((r) => r.module === module)!.dropReasons;
}

/** B pings X: the echo waits for X's link-layer address. */
function pingX(host: Host6): void {
  void host.icmpv6.ping(G_X, { timeoutMs: 60_000 });
}

describe('Ndp: resolution and the neighbor cache', () => {
  it('queues while INCOMPLETE, solicits the solicited-node group, and sends on a solicited advertisement', () => {
    const { dev, host } = manual6();
    pingX(host);
    const [s] = ndpSent(dev);
    expect(s).toMatchObject({ dstMac: ip6MulticastMac(ip6SolicitedNode(G_X)), hopLimit: 255 });
    expect(s!.src).toEqual(G_B);
    expect(s!.dst).toEqual(ip6SolicitedNode(G_X));
    expect(s!.m).toMatchObject({ type: NDP_NEIGHBOR_SOLICITATION, options: [{ kind: 'source-link-layer', mac: MAC_B }] });
    expect(host.ndp.neighbor(G_X)).toMatchObject({ state: 'incomplete', queued: 1 });
    dev.inject(na(G_X, NDP_NA_SOLICITED | NDP_NA_OVERRIDE, MAC_X));
    expect(host.ndp.neighbor(G_X)).toMatchObject({ state: 'reachable', mac: MAC_X, queued: 0 });
    const [echo] = decode6(dev.take());
    expect(echo!.dst).toBe(MAC_X);
    expect(host.ndp.counters.released).toBe(1);
  });

  it('gives up after three solicitations a second apart and drops what waited', () => {
    const { clock, dev, host } = manual6();
    pingX(host);
    clock.advance(999);
    expect(ndpSent(dev)).toHaveLength(1);
    clock.advance(1);
    expect(ndpSent(dev)).toHaveLength(1);
    clock.advance(1000);
    expect(ndpSent(dev)).toHaveLength(1);
    clock.advance(1000);
    expect(ndpSent(dev)).toHaveLength(0);
    expect(host.ndp.neighbor(G_X)).toBeUndefined();
    expect(drops(host, 'ndp')['unresolved']).toBe(1);
    expect(host.ndp.counters.failures).toBe(1);
    expect(host.pool.inUse).toBe(0);
  });

  it('bounds the queue of a neighbor being resolved', () => {
    const { dev, host } = manual6();
    for (let i = 0; i < 12; i++) pingX(host);
    expect(host.ndp.neighbor(G_X)!.queued).toBe(8);
    expect(drops(host, 'ndp')['queue-full']).toBe(4);
    dev.inject(na(G_X, NDP_NA_SOLICITED | NDP_NA_OVERRIDE, MAC_X));
    expect(host.ndp.counters.released).toBe(8);
  });

  it('REACHABLE -> STALE after ReachableTime; use -> DELAY; 5 s -> PROBE by unicast; an answer -> REACHABLE', () => {
    const { clock, dev, host } = manual6();
    pingX(host);
    dev.inject(na(G_X, NDP_NA_SOLICITED | NDP_NA_OVERRIDE, MAC_X));
    dev.take();
    // ReachableTime is drawn from [15 s, 45 s).
    clock.advance(14_999);
    expect(host.ndp.neighbor(G_X)!.state).toBe('reachable');
    clock.advance(30_001);
    expect(host.ndp.neighbor(G_X)!.state).toBe('stale');
    pingX(host);
    expect(decode6(dev.take())[0]!.dst).toBe(MAC_X);
    expect(host.ndp.neighbor(G_X)!.state).toBe('delay');
    clock.advance(5000);
    expect(host.ndp.neighbor(G_X)!.state).toBe('probe');
    const [probe] = ndpSent(dev);
    // A probe goes straight to the cached address.
    expect(probe).toMatchObject({ dstMac: MAC_X });
    expect(probe!.dst).toEqual(G_X);
    dev.inject(na(G_X, NDP_NA_SOLICITED, MAC_X));
    expect(host.ndp.neighbor(G_X)!.state).toBe('reachable');
  });

  it('removes an entry whose probes go unanswered', () => {
    const { clock, dev, host } = manual6();
    pingX(host);
    dev.inject(na(G_X, NDP_NA_SOLICITED | NDP_NA_OVERRIDE, MAC_X));
    clock.advance(45_000);
    pingX(host);
    clock.advance(5000 + 3000);
    expect(host.ndp.neighbor(G_X)).toBeUndefined();
    expect(ndpSent(dev).filter((s) => s.dstMac === MAC_X)).toHaveLength(3);
  });

  it('answers a solicitation for its address with a solicited advertisement, and learns the sender as STALE', () => {
    const { dev, host } = manual6();
    dev.inject(ns(G_B, G_X, MAC_X));
    const [a] = ndpSent(dev);
    expect(a).toMatchObject({ dstMac: MAC_X, hopLimit: 255 });
    expect(a!.src).toEqual(G_B);
    expect(a!.dst).toEqual(G_X);
    expect(a!.m).toMatchObject({ type: NDP_NEIGHBOR_ADVERTISEMENT, flags: NDP_NA_SOLICITED | NDP_NA_OVERRIDE, options: [{ kind: 'target-link-layer', mac: MAC_B }] });
    expect(host.ndp.neighbor(G_X)).toMatchObject({ state: 'stale', mac: MAC_X });
    dev.inject(ns(parseIp6('fd00::77'), G_X, MAC_X));
    expect(ndpSent(dev)).toHaveLength(0);
  });

  it('answers a unicast solicitation without a link-layer option once it has resolved the sender', () => {
    const { dev, host } = manual6();
    dev.inject(ndpFrame(MAC_B, MAC_X, { type: NDP_NEIGHBOR_SOLICITATION, code: 0, checksum: 0, reserved: 0, target: G_B, options: [] }, G_X, G_B));
    const [s] = ndpSent(dev);
    expect(s!.m.type).toBe(NDP_NEIGHBOR_SOLICITATION);
    expect(s!.dst).toEqual(ip6SolicitedNode(G_X));
    expect(host.ndp.neighbor(G_X)).toMatchObject({ state: 'incomplete', queued: 1 });
    dev.inject(na(G_X, NDP_NA_SOLICITED | NDP_NA_OVERRIDE, MAC_X));
    const [a] = ndpSent(dev);
    expect(a).toMatchObject({ dstMac: MAC_X, m: { type: NDP_NEIGHBOR_ADVERTISEMENT, flags: NDP_NA_SOLICITED | NDP_NA_OVERRIDE } });
  });

  it('an advertisement without override does not replace a known address', () => {
    const { dev, host } = manual6();
    pingX(host);
    dev.inject(na(G_X, NDP_NA_SOLICITED | NDP_NA_OVERRIDE, MAC_X));
    dev.inject(na(G_X, NDP_NA_SOLICITED, 0x0200_0000_0bad));
    expect(host.ndp.neighbor(G_X)).toMatchObject({ state: 'stale', mac: MAC_X });
    expect(drops(host, 'ndp')['advertisement-without-override']).toBe(1);
  });
});

describe('Ndp: hostile messages are counted drops', () => {
  it('refuses spoofed hop limits, bad codes and checksums, unsolicited advertisements, bad options', () => {
    const { dev, host } = manual6();
    // Spoofing from off the link: hop limit 64.
    dev.inject(na(G_X, NDP_NA_OVERRIDE, MAC_X, G_X, G_B, 64));
    dev.inject(ns(G_B, G_X, MAC_X, ip6SolicitedNode(G_B), 64));
    // An advertisement nobody asked for creates nothing.
    dev.inject(na(G_X, NDP_NA_OVERRIDE, MAC_X));
    dev.inject(na(G_X, NDP_NA_SOLICITED | NDP_NA_OVERRIDE, MAC_X, G_X, IP6_ALL_NODES));
    // Bad code and bad checksum.
    dev.inject(ndpFrame(ip6MulticastMac(ip6SolicitedNode(G_B)), MAC_X, {
      type: NDP_NEIGHBOR_SOLICITATION, code: 1, checksum: 0, reserved: 0, target: G_B, options: [{ kind: 'source-link-layer', mac: MAC_X }],
    }, G_X, ip6SolicitedNode(G_B)));
    const sum = ns(G_B, G_X, MAC_X);
    sum[14 + 40 + 2] ^= 0xff;
    dev.inject(sum);
    // A solicitation from :: with a link-layer option; a multicast target; a zero-length option.
    dev.inject(ns(G_B, IP6_ANY, MAC_X));
    dev.inject(ns(IP6_ALL_NODES, G_X, MAC_X, ip6SolicitedNode(G_B)));
    const zero = ns(G_B, G_X, MAC_X);
    zero[14 + 40 + 24 + 1] = 0;
    dev.inject(zero);
    expect(drops(host, 'ndp')).toEqual({
      'bad-hop-limit': 2, 'unsolicited-advertisement': 1, 'solicited-to-multicast': 1, 'bad-code': 1, 'bad-checksum': 1,
      'unspecified-source-with-link-layer-option': 1, 'multicast-target': 1, 'bad-option-length': 1,
    });
    expect(host.ndp.neighbors()).toHaveLength(0);
    expect(dev.take()).toHaveLength(0);
    expect(host.rt.stats.tasksExpended).toBe(0);
  });
});

describe('Ndp: duplicate address detection', () => {
  it('keeps a new address tentative, solicits from :: without a link-layer option, then prefers it', () => {
    const clock = new VirtualClock();
    const link = new SimLink(clock);
    const h = host6(createHost({ name: 'a', link, ip: '10.0.0.1/24', mac: MAC_A, arp: { announce: false } }), { addresses: [{ address: G_A, prefixLength: 64 }], slaac: false });
    const frames: Uint8Array[] = [];
    h.nic.tap(h.rt.app('t'), { onFrame: (f, d) => void (d === 'tx' && frames.push(f.slice())) });
    expect(h.ipv6.findAddress(G_A)!.state).toBe('tentative');
    expect(h.ipv6.sourceFor(parseIp6('fd00::2'))).toBeUndefined();
    clock.advance(999);
    const dad = decode6(frames).map((d) => ({ d, m: parseNdp(d.payload, 0, d.payload.length) }));
    expect(dad).toHaveLength(2);
    for (const { d, m } of dad) {
      expect(formatIp6(d.ip.src)).toBe('::');
      expect(m.ok && m.header.type).toBe(NDP_NEIGHBOR_SOLICITATION);
      expect(m.ok && m.header.options).toEqual([]);
    }
    clock.advance(1001);
    expect(h.ipv6.findAddress(G_A)!.state).toBe('preferred');
    expect(h.ndp.counters).toMatchObject({ dadStarted: 2, dadSucceeded: 2, dadConflicts: 0 });
    // Then it asks for routers from its link-local address.
    expect(h.ndp.counters.routerSolicitationsSent).toBe(0);
  });

  it('marks the address duplicated when another node tests it (NS from ::) or advertises it', () => {
    const m = manual6({ addresses: [], linkLocal: false });
    m.host.ndp.configure(parseIp6('fd00::5'), 64);
    m.dev.inject(ns(parseIp6('fd00::5'), IP6_ANY, undefined));
    expect(m.host.ipv6.findAddress(parseIp6('fd00::5'))!.state).toBe('duplicated');
    m.host.ndp.configure(parseIp6('fd00::6'), 64);
    m.dev.inject(na(parseIp6('fd00::6'), NDP_NA_OVERRIDE, MAC_X, parseIp6('fd00::6'), IP6_ALL_NODES));
    expect(m.host.ipv6.findAddress(parseIp6('fd00::6'))!.state).toBe('duplicated');
    m.clock.advance(5000);
    expect(m.host.ipv6.findAddress(parseIp6('fd00::6'))!.state).toBe('duplicated');
    expect(m.host.ndp.counters.dadConflicts).toBe(2);
    expect(drops(m.host, 'ndp')['duplicate-address']).toBe(2);
    // A duplicated address is not a source and takes nothing.
    expect(m.host.ipv6.isLocal(parseIp6('fd00::5'))).toBe(false);
  });

  it('two hosts with one address: the one already using it defends, the newcomer gives it up', () => {
    const clock = new VirtualClock();
    const link = new SimLink(clock);
    const a = host6(createHost({ name: 'a', link, ip: '10.0.0.1/24', mac: MAC_A, arp: { announce: false } }), { addresses: [{ address: G_A, prefixLength: 64 }], slaac: false });
    clock.advance(2500);
    const c = host6(createHost({ name: 'c', link, ip: '10.0.0.3/24', mac: MAC_C, arp: { announce: false } }), { addresses: [{ address: G_A, prefixLength: 64 }], slaac: false });
    clock.advance(2500);
    expect(a.ipv6.findAddress(G_A)!.state).toBe('preferred');
    expect(c.ipv6.findAddress(G_A)!.state).toBe('duplicated');
    expect(a.ndp.counters.advertisementsSent).toBeGreaterThanOrEqual(1);
  });
});

describe('Ndp: SLAAC from router advertisements', () => {
  const ROUTER_LL = LL_X;
  const PREFIX = parseIp6('2001:db8:1:2::');

  function ra(opts: { lifetime?: number; valid?: number; preferred?: number; mtu?: number; flags?: number; src?: Ip6; hopLimit?: number; prefixLength?: number } = {}): Uint8Array {
    const options: NdpOption[] = [
      { kind: 'source-link-layer', mac: MAC_X },
      { kind: 'prefix', prefixLength: opts.prefixLength ?? 64, flags: opts.flags ?? (NDP_PREFIX_ON_LINK | NDP_PREFIX_AUTONOMOUS), validLifetime: opts.valid ?? 86400, preferredLifetime: opts.preferred ?? 14400, reserved: 0, prefix: PREFIX },
    ];
    if (opts.mtu !== undefined) options.push({ kind: 'mtu', reserved: 0, mtu: opts.mtu });
    return ndpFrame(ip6MulticastMac(IP6_ALL_NODES), MAC_X, {
      type: NDP_ROUTER_ADVERTISEMENT, code: 0, checksum: 0, curHopLimit: 63, flags: 0, routerLifetime: opts.lifetime ?? 1800, reachableTime: 0, retransTimer: 0, options,
    }, opts.src ?? ROUTER_LL, IP6_ALL_NODES, opts.hopLimit ?? 255);
  }

  it('asks for routers once its link-local address is ready', () => {
    // manual6 ran the first 2.5 s (DAD, then the first solicitation) and forgot those frames; then 4 s apart.
    const m = manual6({ slaac: true, addresses: [] });
    m.clock.advance(8000);
    const rs = ndpSent(m.dev).filter((s) => s.m.type === NDP_ROUTER_SOLICITATION);
    expect(rs.length).toBe(2);
    expect(m.host.ndp.counters.routerSolicitationsSent).toBe(3);
    expect(formatIp6(rs[0]!.dst)).toBe('ff02::2');
    expect(rs[0]!.src).toEqual(LL_B);
  });

  it('forms prefix + EUI-64, adds the router and the prefix, takes the MTU and hop limit', async () => {
    const { clock, dev, host } = manual6({ slaac: true, addresses: [] });
    dev.inject(ra({ mtu: 1400 }));
    const addr = ip6FromPrefixAndMac(PREFIX, MAC_B);
    expect(formatIp6(addr)).toBe('2001:db8:1:2:0:ff:fe00:2');
    expect(host.ipv6.findAddress(addr)).toMatchObject({ origin: 'slaac', state: 'tentative' });
    clock.advance(2000);
    expect(host.ipv6.findAddress(addr)!.state).toBe('preferred');
    expect(host.ipv6.address).toEqual(addr);
    expect(host.ipv6.mtu).toBe(1400);
    expect(host.ipv6.hopLimit).toBe(63);
    expect(host.ndp.neighbor(ROUTER_LL)).toMatchObject({ mac: MAC_X, isRouter: true, state: 'stale' });
    // Off-link destinations go through the router.
    const far = parseIp6('2001:db8:99::1');
    expect(host.ipv6.nextHop(far)).toEqual(ROUTER_LL);
    expect(host.ipv6.sourceFor(far)).toEqual(addr);
    dev.take();
    void host.icmpv6.ping(far);
    const [out] = decode6(dev.take());
    expect(out!.dst).toBe(MAC_X);
    expect(out!.ip.dst).toEqual(far);
    expect(out!.ip.hopLimit).toBe(63);
  });

  it('deprecates at the preferred lifetime, removes at the valid one, drops the router at its lifetime', () => {
    const { clock, dev, host } = manual6({ slaac: true, addresses: [] });
    dev.inject(ra({ valid: 100, preferred: 50, lifetime: 30 }));
    const addr = ip6FromPrefixAndMac(PREFIX, MAC_B);
    clock.advance(2000);
    expect(host.ipv6.routes().map((r) => r.prefixLength)).toEqual([64, 0]);
    clock.advance(28_000);
    expect(host.ipv6.routes().map((r) => r.prefixLength)).toEqual([64]);
    clock.advance(20_000);
    expect(host.ipv6.findAddress(addr)!.state).toBe('deprecated');
    clock.advance(50_000);
    expect(host.ipv6.findAddress(addr)).toBeUndefined();
    expect(host.ipv6.routes()).toHaveLength(0);
  });

  it('keeps two hours of valid lifetime against an advertisement that would cut it (RFC 4862 5.5.3 e)', () => {
    const { clock, dev, host } = manual6({ slaac: true, addresses: [] });
    dev.inject(ra({ valid: 86400, preferred: 3600 }));
    clock.advance(2000);
    dev.inject(ra({ valid: 10, preferred: 5 }));
    clock.advance(3600 * 1000);
    const addr = ip6FromPrefixAndMac(PREFIX, MAC_B);
    expect(host.ipv6.findAddress(addr)).toBeDefined();
    clock.advance(3600 * 1000 + 1000);
    expect(host.ipv6.findAddress(addr)).toBeUndefined();
  });

  it('ignores advertisements from off the link or not from a link-local address, and bad prefixes', () => {
    const { dev, host } = manual6({ slaac: true, addresses: [] });
    dev.inject(ra({ hopLimit: 64 }));
    dev.inject(ra({ src: G_X }));
    dev.inject(ra({ prefixLength: 48 }));
    dev.inject(ra({ valid: 10, preferred: 20 }));
    dev.inject(ra({ mtu: 9000 }));
    expect(drops(host, 'ndp')).toMatchObject({ 'bad-hop-limit': 1, 'source-not-link-local': 1, 'prefix-length-not-64': 1, 'bad-prefix-lifetimes': 1, 'bad-mtu-option': 1 });
    expect(host.ipv6.addresses().filter((a) => a.origin === 'slaac')).toHaveLength(1);
    expect(host.ipv6.mtu).toBe(1500);
  });

  it('an advertisement that clears the router flag removes the default route through it', () => {
    const { dev, host } = manual6({ slaac: true, addresses: [] });
    dev.inject(ra());
    expect(host.ipv6.routes().some((r) => r.prefixLength === 0)).toBe(true);
    dev.inject(na(ROUTER_LL, NDP_NA_SOLICITED | NDP_NA_OVERRIDE, MAC_X, ROUTER_LL, LL_B));
    expect(host.ndp.neighbor(ROUTER_LL)).toMatchObject({ isRouter: false, state: 'reachable' });
    expect(host.ipv6.routes().some((r) => r.prefixLength === 0)).toBe(false);
  });
});

describe('Ndp: redirects', () => {
  const FAR = parseIp6('2001:db8:9::1');
  const BETTER = parseIp6('fe80::77');

  function redirect(src: Ip6, target: Ip6, mac?: number): Uint8Array {
    const options: NdpOption[] = mac !== undefined ? [{ kind: 'target-link-layer', mac }] : [];
    return ndpFrame(MAC_B, MAC_X, { type: NDP_REDIRECT, code: 0, checksum: 0, reserved: 0, target, destination: FAR, options }, src, LL_B);
  }

  it('takes a better first hop from the router in use, and refuses one from anybody else', () => {
    const { dev, host } = manual6({ gateway: LL_X });
    expect(host.ipv6.nextHop(FAR)).toEqual(LL_X);
    dev.inject(redirect(parseIp6('fe80::66'), BETTER, 0x0200_0000_0077));
    expect(host.ipv6.nextHop(FAR)).toEqual(LL_X);
    expect(drops(host, 'ndp')['redirect-not-from-first-hop']).toBe(1);
    dev.inject(redirect(LL_X, BETTER, 0x0200_0000_0077));
    expect(host.ipv6.nextHop(FAR)).toEqual(BETTER);
    expect(host.ndp.neighbor(BETTER)).toMatchObject({ mac: 0x0200_0000_0077, isRouter: true, state: 'stale' });
    // Now BETTER is the first hop: only it may redirect again, here to the destination itself (on the link).
    dev.inject(redirect(BETTER, FAR));
    expect(host.ipv6.nextHop(FAR)).toEqual(FAR);
    expect(host.ndp.counters.redirectsReceived).toBe(3);
  });
});

