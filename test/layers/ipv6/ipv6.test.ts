import { describe, expect, it } from 'vitest';
import { Runtime, VirtualClock } from '../../../src/core/index.js';
import { attachIpv6, type Ipv6Packet } from '../../../src/layers/ipv6/index.js';
import { ManualDevice } from '../../../src/layers/nic/device.js';
import { Nic } from '../../../src/layers/nic/nic.js';
import { ip6MulticastMac, ip6SolicitedNode, IP6_ALL_NODES, parseIp6, type Ip6 } from '../../../src/wire/addr6.js';
import { BufferPool } from '../../../src/wire/buffer.js';
import {
  ICMPV6_DEST_UNREACHABLE, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPV6_PARAM_PROBLEM,
  ICMPV6_TIME_EXCEEDED, makeIcmpv6Echo, makeIcmpv6PacketTooBig, parseIcmpv6,
} from '../../../src/wire/icmpv6.js';
import { IP_PROTO_ICMPV6, IP_PROTO_IPV6_DSTOPTS, IP_PROTO_IPV6_FRAG } from '../../../src/wire/ipv6.js';
import { NDP_NEIGHBOR_SOLICITATION } from '../../../src/wire/ndp.js';
import {
  decode6, frame6, G_A, G_B, hdr, icmp6, ipv6, LL_A, LL_B, MAC_B, MAC_X, manual6, ndpFrame, trio, type Host6,
} from './helpers.js';

const G_X = parseIp6('fd00::99');

/** X tells B its MAC (a solicitation for B's address), so B can answer X at once. */
function introduceX(dev: ManualDevice): void {
  dev.inject(ndpFrame(ip6MulticastMac(ip6SolicitedNode(G_B)), MAC_X, {
    type: NDP_NEIGHBOR_SOLICITATION, code: 0, checksum: 0, reserved: 0, target: G_B, options: [{ kind: 'source-link-layer', mac: MAC_X }],
  }, G_X, ip6SolicitedNode(G_B)));
  dev.take();
}

function echo(id: number, seq: number, data: Uint8Array, src: Ip6 = G_X, dst: Ip6 = G_B): Uint8Array {
  return icmp6(makeIcmpv6Echo(ICMPV6_ECHO_REQUEST, id, seq, data), src, dst);
}

/** A fragment of the datagram `payload` (which begins with `nextHeader`'s header). */
function fragment(id: number, offset: number, more: boolean, nextHeader: number, part: Uint8Array, src: Ip6 = G_X, dst: Ip6 = G_B): Uint8Array {
  const fh = new Uint8Array(8 + part.length);
  fh[0] = nextHeader;
  const w = offset | (more ? 1 : 0);
  fh[2] = w >>> 8;
  fh[3] = w;
  new DataView(fh.buffer).setUint32(4, id);
  fh.set(part, 8);
  return ipv6(hdr(src, dst, IP_PROTO_IPV6_FRAG), fh);
}

function icmpSent(dev: ManualDevice): Array<{ type: number; code: number; rest: number; data: Uint8Array; dst: Ip6 }> {
  return decode6(dev.take())
    .filter((d) => d.ip.nextHeader === IP_PROTO_ICMPV6)
    .map((d) => {
      const m = parseIcmpv6(d.payload, 0, d.payload.length);
      if (!m.ok) throw new Error(m.reason);
      return { type: m.header.type, code: m.header.code, rest: m.header.rest, data: m.header.data, dst: d.ip.dst };
    });
}

function drops(h: Host6, module: string): Record<string, number> {
  return h.stats().find((r) => r.module === module)!.dropReasons;
}

describe('Ipv6: hosts on a link', () => {
  it('pings both ways, by global and link-local address, resolving through NDP', async () => {
    const { clock, hosts: [a, b] } = trio(2);
    expect(a!.ipv6.addresses().map((x) => [x.origin, x.state])).toEqual([['link-local', 'preferred'], ['manual', 'preferred']]);
    const p1 = a!.icmpv6.ping(G_B, { count: 3, intervalMs: 100 });
    const p2 = b!.icmpv6.ping(LL_A, { count: 2, intervalMs: 100 });
    clock.advance(1000);
    const [r1, r2] = [await p1, await p2];
    expect(r1).toMatchObject({ sent: 3, received: 3, lost: 0, aborted: false });
    expect(r2).toMatchObject({ sent: 2, received: 2, lost: 0 });
    expect(r1.replies.map((r) => [r.seq, r.ttl, r.bytes])).toEqual([[0, 64, 64], [1, 64, 64], [2, 64, 64]]);
    // The first echo waited for a solicitation and its advertisement: two more one-way trips.
    expect(r1.replies[0]!.rttMs).toBeGreaterThan(r1.replies[1]!.rttMs + 1.9);
    expect(a!.ndp.neighbor(G_B)).toMatchObject({ mac: MAC_B, state: 'reachable' });
    expect(a!.icmpv6.activePings).toBe(0);
    expect(a!.pool.inUse).toBe(0);
    expect(b!.pool.inUse).toBe(0);
  });

  it('answers an echo to all-nodes from each member, from a unicast address', async () => {
    const { clock, hosts: [a, b, c] } = trio(3);
    const from: string[] = [];
    const p = a!.icmpv6.ping(IP6_ALL_NODES, { count: 1, onReply: (r) => void from.push(r.from.join(',')) });
    clock.advance(500);
    const r = await p;
    expect(r).toMatchObject({ sent: 1, received: 1 });
    expect(b!.icmpv6.counters.echoRepliesSent).toBe(1);
    expect(c!.icmpv6.counters.echoRepliesSent).toBe(1);
    // Link-local multicast is answered from a link-local address.
    expect(from).toHaveLength(1);
    expect(r.replies[0]!.from[0]).toBe(0xfe);
  });

  it('fragments a datagram beyond the MTU at the source and the peer reassembles it', async () => {
    const { clock, hosts: [a, b] } = trio(2);
    const p = a!.icmpv6.ping(G_B, { size: 3000 });
    clock.advance(500);
    const r = await p;
    expect(r).toMatchObject({ received: 1 });
    expect(r.replies[0]!.bytes).toBe(3008);
    // 3008 + 40 over 1500: three fragments each way.
    expect(a!.ipv6.counters.fragmentsSent).toBe(3);
    expect(b!.ipv6.counters.reassembled).toBe(1);
    expect(b!.ipv6.counters.fragmentsSent).toBe(3);
    expect(a!.ipv6.counters.reassembled).toBe(1);
    expect(a!.ipv6.reassemblyState()).toEqual({ datagrams: 0, bytes: 0 });
    expect(b!.pool.inUse).toBe(0);
  });

  it('refuses to fragment when asked not to', () => {
    const { hosts: [a] } = trio(2);
    const buf = a!.ipv6.alloc(2000);
    expect(a!.ipv6.send(G_B, 253, buf, { df: true })).toBe('dropped');
    expect(drops(a!, 'ipv6')['needs-fragmentation']).toBe(1);
  });

  it('loops datagrams to its own address back through the receive path', async () => {
    const { clock, hosts: [a] } = trio(1);
    const p = a!.icmpv6.ping(G_A);
    clock.advance(10);
    expect(await p).toMatchObject({ received: 1 });
    expect(a!.ipv6.counters.loopback).toBe(2);
  });

  it('has no route to a global destination off its prefixes without a router', () => {
    const { hosts: [a] } = trio(1);
    expect(a!.ipv6.send(parseIp6('2001:db8::1'), 253, a!.ipv6.alloc(10))).toBe('no-route');
    expect(a!.ipv6.sourceFor(parseIp6('2001:db8::1'))).toBeUndefined();
    expect(a!.ipv6.sourceFor(LL_B)).toEqual(LL_A);
    expect(a!.ipv6.sourceFor(G_B)).toEqual(G_A);
  });
});

describe('Ipv6: received datagrams (one host, frames by hand)', () => {
  it('delivers to the bound protocol with the buffer at its header; the handler can report port unreachable', () => {
    const { dev, host } = manual6();
    introduceX(dev);
    const got: Array<{ protocol: number; data: number[] }> = [];
    host.ipv6.bindProtocol(17, host.rt.app('t'), {
      onPacket: (pkt) => {
        got.push({ protocol: pkt.protocol, data: [...pkt.buf.payload()] });
        host.ipv6.unreachable(pkt, 3);
      },
    });
    dev.inject(frame6(MAC_B, MAC_X, ipv6(hdr(G_X, G_B, 17), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))));
    expect(got).toEqual([{ protocol: 17, data: [1, 2, 3, 4, 5, 6, 7, 8] }]);
    const [e] = icmpSent(dev);
    expect(e).toMatchObject({ type: ICMPV6_DEST_UNREACHABLE, code: 4 });
    // The quote is the datagram as received.
    expect([...e!.data.subarray(40, 48)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('answers an unknown next header with parameter problem code 1 pointing at the field', () => {
    const { dev, host } = manual6();
    introduceX(dev);
    dev.inject(frame6(MAC_B, MAC_X, ipv6(hdr(G_X, G_B, 253), new Uint8Array(8))));
    // Behind a destination options header the pointer names that header's next-header byte.
    const opts = Uint8Array.of(253, 0, 1, 4, 0, 0, 0, 0);
    dev.inject(frame6(MAC_B, MAC_X, ipv6(hdr(G_X, G_B, IP_PROTO_IPV6_DSTOPTS), opts)));
    expect(icmpSent(dev).map((e) => [e.type, e.code, e.rest])).toEqual([[ICMPV6_PARAM_PROBLEM, 1, 6], [ICMPV6_PARAM_PROBLEM, 1, 40]]);
    expect(drops(host, 'ipv6')['no-protocol']).toBe(2);
  });

  it('does what an unknown option\'s two high bits say (RFC 8200 4.2)', () => {
    const { dev, host } = manual6();
    introduceX(dev);
    const withOption = (type: number, dst: Ip6 = G_B): Uint8Array =>
      frame6(dst === G_B ? MAC_B : ip6MulticastMac(dst), MAC_X, ipv6(hdr(G_X, dst, IP_PROTO_IPV6_DSTOPTS), Uint8Array.of(IP_PROTO_ICMPV6, 0, type, 4, 0, 0, 0, 0, ...echo(7, 1, new Uint8Array(4), G_X, dst))));
    dev.inject(withOption(0x1e)); // 00: skip, the echo is answered
    dev.inject(withOption(0x5e)); // 01: silent drop
    dev.inject(withOption(0x9e)); // 10: drop, parameter problem even to multicast
    dev.inject(withOption(0xde)); // 11: drop, parameter problem unless multicast
    dev.inject(withOption(0x9e, IP6_ALL_NODES));
    dev.inject(withOption(0xde, IP6_ALL_NODES));
    const sent = icmpSent(dev);
    expect(sent.map((e) => [e.type, e.code, e.rest])).toEqual([
      [ICMPV6_ECHO_REPLY, 0, (7 << 16) | 1],
      [ICMPV6_PARAM_PROBLEM, 2, 42],
      [ICMPV6_PARAM_PROBLEM, 2, 42],
      [ICMPV6_PARAM_PROBLEM, 2, 42],
    ]);
    expect(drops(host, 'ipv6')['unknown-option']).toBe(5);
  });

  it('counts a chain of 100 extension headers as a drop and answers nothing', () => {
    const { dev, host } = manual6();
    introduceX(dev);
    const chain = new Uint8Array(100 * 8);
    for (let i = 0; i < 100; i++) chain.set([i < 99 ? IP_PROTO_IPV6_DSTOPTS : IP_PROTO_ICMPV6, 0, 1, 4, 0, 0, 0, 0], i * 8);
    const payload = new Uint8Array(chain.length + 16);
    payload.set(chain);
    payload.set(echo(1, 1, new Uint8Array(8)), chain.length);
    dev.inject(frame6(MAC_B, MAC_X, ipv6(hdr(G_X, G_B, IP_PROTO_IPV6_DSTOPTS), payload)));
    expect(dev.take()).toHaveLength(0);
    expect(drops(host, 'ipv6')['too-many-headers']).toBe(1);
    expect(host.rt.stats.tasksExpended).toBe(0);
  });

  it('never sends an error about an ICMPv6 error, and limits the rate of errors', () => {
    const { dev, host } = manual6();
    introduceX(dev);
    // An error message behind an option that asks for a parameter problem: no answer.
    const err = icmp6({ type: ICMPV6_DEST_UNREACHABLE, code: 0, checksum: 0, rest: 0, data: new Uint8Array(48) }, G_X, G_B);
    dev.inject(frame6(MAC_B, MAC_X, ipv6(hdr(G_X, G_B, IP_PROTO_IPV6_DSTOPTS), Uint8Array.of(IP_PROTO_ICMPV6, 0, 0x9e, 4, 0, 0, 0, 0, ...err))));
    expect(icmpSent(dev)).toHaveLength(0);
    // 50 bad datagrams at one instant: the burst of 10 is answered, the rest are counted.
    for (let i = 0; i < 50; i++) dev.inject(frame6(MAC_B, MAC_X, ipv6(hdr(G_X, G_B, 253), new Uint8Array(8))));
    expect(icmpSent(dev)).toHaveLength(10);
    expect(drops(host, 'icmpv6')['rate-limited']).toBe(40);
  });

  it('drops datagrams for other addresses and groups it has not joined, and multicast sources', () => {
    const { dev, host } = manual6();
    dev.inject(frame6(MAC_B, MAC_X, ipv6(hdr(G_X, parseIp6('fd00::77'), 253), new Uint8Array(8))));
    dev.inject(frame6(ip6MulticastMac(parseIp6('ff02::1:ff00:77')), MAC_X, ipv6(hdr(G_X, parseIp6('ff02::1:ff00:77'), 253), new Uint8Array(8))));
    dev.inject(frame6(MAC_B, MAC_X, ipv6(hdr(IP6_ALL_NODES, G_B, 253), new Uint8Array(8))));
    dev.inject(frame6(MAC_B, MAC_X, Uint8Array.of(0x60, 0, 0, 0, 0, 200)));
    expect(drops(host, 'ipv6')).toMatchObject({ 'not-for-us': 1, 'bad-source': 1, truncated: 1 });
    // The solicited-node group of another address is filtered by the NIC already.
    expect(drops(host, 'nic')).toMatchObject({ 'not-for-us': 1 });
    expect(dev.take()).toHaveLength(0);
  });
});

describe('Ipv6: reassembly', () => {
  const data = new Uint8Array(64).map((_, i) => i);

  it('reassembles fragments in any order, and takes an atomic fragment at once', () => {
    const { dev, host } = manual6();
    introduceX(dev);
    const m = echo(9, 1, data); // 72 bytes
    dev.inject(frame6(MAC_B, MAC_X, fragment(5, 48, false, IP_PROTO_ICMPV6, m.subarray(48))));
    dev.inject(frame6(MAC_B, MAC_X, fragment(5, 24, true, IP_PROTO_ICMPV6, m.subarray(24, 48))));
    expect(icmpSent(dev)).toHaveLength(0);
    dev.inject(frame6(MAC_B, MAC_X, fragment(5, 0, true, IP_PROTO_ICMPV6, m.subarray(0, 24))));
    const [reply] = icmpSent(dev);
    expect(reply).toMatchObject({ type: ICMPV6_ECHO_REPLY, rest: (9 << 16) | 1 });
    expect([...reply!.data]).toEqual([...data]);
    dev.inject(frame6(MAC_B, MAC_X, fragment(6, 0, false, IP_PROTO_ICMPV6, echo(9, 2, data))));
    expect(icmpSent(dev)).toHaveLength(1);
    expect(host.ipv6.counters).toMatchObject({ reassembled: 1, atomicFragments: 1 });
    expect(host.pool.inUse).toBe(0);
  });

  it('drops the whole datagram when fragments overlap (RFC 5722)', () => {
    const { clock, dev, host } = manual6();
    introduceX(dev);
    const m = echo(9, 1, data);
    dev.inject(frame6(MAC_B, MAC_X, fragment(7, 0, true, IP_PROTO_ICMPV6, m.subarray(0, 32))));
    dev.inject(frame6(MAC_B, MAC_X, fragment(7, 24, true, IP_PROTO_ICMPV6, m.subarray(24, 48))));
    expect(host.ipv6.reassemblyState().datagrams).toBe(0);
    dev.inject(frame6(MAC_B, MAC_X, fragment(7, 32, false, IP_PROTO_ICMPV6, m.subarray(32))));
    expect(icmpSent(dev)).toHaveLength(0);
    expect(drops(host, 'ipv6')['overlapping-fragment']).toBe(1);
    // What came after the overlap times out without a first fragment: no time exceeded.
    clock.advance(61_000);
    expect(icmpSent(dev)).toHaveLength(0);
    expect(drops(host, 'ipv6')['reassembly-timeout']).toBe(1);
  });

  it('gives up after 60 s and sends time exceeded quoting the first fragment', () => {
    const { clock, dev, host } = manual6();
    introduceX(dev);
    const m = echo(9, 1, data);
    dev.inject(frame6(MAC_B, MAC_X, fragment(8, 0, true, IP_PROTO_ICMPV6, m.subarray(0, 24))));
    clock.advance(59_999);
    expect(icmpSent(dev)).toHaveLength(0);
    clock.advance(1);
    const [e] = icmpSent(dev);
    expect(e).toMatchObject({ type: ICMPV6_TIME_EXCEEDED, code: 1 });
    expect(e!.dst).toEqual(G_X);
    expect(e!.data[6]).toBe(IP_PROTO_IPV6_FRAG);
    expect(e!.data.length).toBe(40 + 8 + 24);
    expect(host.ipv6.reassemblyState()).toEqual({ datagrams: 0, bytes: 0 });
    expect(host.pool.inUse).toBe(0);
  });

  it('answers a fragment whose length is not a multiple of 8 with parameter problem (payload length)', () => {
    const { dev } = manual6();
    introduceX(dev);
    dev.inject(frame6(MAC_B, MAC_X, fragment(9, 0, true, IP_PROTO_ICMPV6, echo(1, 1, data).subarray(0, 20))));
    expect(icmpSent(dev).map((e) => [e.type, e.code, e.rest])).toEqual([[ICMPV6_PARAM_PROBLEM, 0, 4]]);
  });

  it('keeps a fragment flood within its datagram and byte caps', () => {
    const { dev, host } = manual6();
    introduceX(dev);
    for (let id = 0; id < 2000; id++) dev.inject(frame6(MAC_B, MAC_X, fragment(id, 0, true, IP_PROTO_ICMPV6, new Uint8Array(1024))));
    const s = host.ipv6.reassemblyState();
    expect(s.datagrams).toBeLessThanOrEqual(64);
    expect(s.bytes).toBeLessThanOrEqual(256 * 1024);
    expect(drops(host, 'ipv6')['reassembly-overflow']).toBe(2000 - s.datagrams);
    expect(host.pool.inUse).toBe(0);
    expect(host.rt.stats.tasksExpended).toBe(0);
  });
});

describe('Ipv6: path MTU', () => {
  it('lowers the path MTU on packet too big (never below 1280) and forgets it after 10 minutes', async () => {
    const { clock, hosts: [a, b] } = trio(2);
    const quote = ipv6(hdr(G_A, G_B, IP_PROTO_ICMPV6), new Uint8Array(1400));
    const ptb = (mtu: number): Uint8Array => frame6(a!.mac, b!.mac, ipv6(hdr(G_B, G_A, IP_PROTO_ICMPV6), icmp6(makeIcmpv6PacketTooBig(mtu, quote.subarray(0, 200)), G_B, G_A)));
    const errors: number[] = [];
    a!.icmpv6.bindErrors(a!.rt.app('t'), { onError: (e) => void errors.push(e.mtu) });
    a!.nic.input(ptb(1400));
    expect(a!.ipv6.pathMtu(G_B)).toBe(1400);
    a!.nic.input(ptb(1000));
    expect(a!.ipv6.pathMtu(G_B)).toBe(1280);
    expect(errors).toEqual([1400, 1000]);
    expect(a!.icmpv6.counters.packetTooBig).toBe(2);
    const p = a!.icmpv6.ping(G_B, { size: 1300 });
    clock.advance(100);
    expect(await p).toMatchObject({ received: 1 });
    expect(a!.ipv6.counters.fragmentsSent).toBe(2);
    clock.advance(600_000);
    expect(a!.ipv6.pathMtu(G_B)).toBe(1500);
    // One about a packet someone else sent changes nothing.
    const foreign = ipv6(hdr(parseIp6('fd00::5'), G_B, IP_PROTO_ICMPV6), new Uint8Array(100));
    a!.nic.input(frame6(a!.mac, b!.mac, ipv6(hdr(G_B, G_A, IP_PROTO_ICMPV6), icmp6(makeIcmpv6PacketTooBig(1300, foreign), G_B, G_A))));
    expect(a!.ipv6.pathMtu(G_B)).toBe(1500);
    expect(drops(a!, 'icmpv6')['foreign-packet-too-big']).toBe(1);
  });
});

describe('Ipv6: promiscuous (replay)', () => {
  it('delivers every datagram whatever its destination, answers nothing, reassembles', () => {
    const clock = new VirtualClock();
    const rt = new Runtime({ name: 'replay', clock });
    const dev = new ManualDevice('cap', MAC_B);
    const pool = new BufferPool();
    const nic = new Nic(rt, dev, pool, { promiscuous: true });
    const s = attachIpv6(rt, nic, pool, nic.mac, { promiscuous: true });
    const got: string[] = [];
    s.ipv6.tap(rt.app('t'), { onPacket: (p: Ipv6Packet) => void got.push(`${p.protocol}:${p.buf.length}`) });
    dev.inject(frame6(MAC_X, 0x0200_0000_0077, ipv6(hdr(parseIp6('fd00::7'), parseIp6('fd00::8'), IP_PROTO_ICMPV6), echo(1, 1, new Uint8Array(8), parseIp6('fd00::7'), parseIp6('fd00::8')))));
    const m = echo(2, 2, new Uint8Array(40), parseIp6('fd00::7'), parseIp6('fd00::8'));
    dev.inject(frame6(MAC_X, 0x0200_0000_0077, fragment(3, 0, true, IP_PROTO_ICMPV6, m.subarray(0, 24), parseIp6('fd00::7'), parseIp6('fd00::8'))));
    dev.inject(frame6(MAC_X, 0x0200_0000_0077, fragment(3, 24, false, IP_PROTO_ICMPV6, m.subarray(24), parseIp6('fd00::7'), parseIp6('fd00::8'))));
    expect(got).toEqual(['58:16', '58:48']);
    expect(dev.take()).toHaveLength(0);
    expect(s.ipv6.addresses()).toHaveLength(0);
  });
});
