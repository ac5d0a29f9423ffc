/**
 * Bad IPv6 input never escapes the wire layer: random frames, real frames
 * (ipv6-*.pcap) with bytes changed, and synthesized datagrams with random
 * extension-header chains and random ICMPv6/NDP bodies (valid checksums, so
 * they reach the deeper checks) go through the receive path the IPv6 modules
 * will use: fixed header, chain walk, every extension header, ICMPv6, NDP and
 * its validity checks, the packet an error quotes. Each must come out parsed
 * or refused with a short reason, never a throw, and whatever parses must emit
 * back to the same bytes. The same frames, on Ethernet, go into a host with
 * the IPv6 modules (addresses fd06::2 and fe80::2, so the synthesized
 * datagrams reach its deepest checks): each must be delivered or counted as a
 * drop, nothing may throw or expend a task, nothing may stay held once the
 * timers have run, and the host must still answer a ping afterwards.
 *
 * Seeded: FUZZ_SEED=n reruns with another seed; the seed in use is printed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/core/index.js';
import { createHost } from '../../src/host.js';
import { attachIpv6 } from '../../src/layers/ipv6/index.js';
import type { Device, FrameHandler } from '../../src/layers/nic/device.js';
import { parseMac } from '../../src/wire/addr.js';
import { IP6_ALL_NODES, ip6MulticastMac, ip6SolicitedNode, parseIp6, writeIp6 } from '../../src/wire/addr6.js';
import { emitEthernet, ETHERTYPE_IPV6, parseEthernet } from '../../src/wire/ethernet.js';
import {
  emitIcmpv6, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, icmpv6ChecksumOk, isIcmpv6Error, makeIcmpv6Echo, parseIcmpv6,
  parseIcmpv6QuotedPacket, setIcmpv6Checksum,
} from '../../src/wire/icmpv6.js';
import { IP_PROTO_ICMPV6, emitIpv6, parseIpv6 } from '../../src/wire/ipv6.js';
import {
  emitIpv6ExtensionHeader, isIpv6ExtensionHeader, parseIpv6ExtensionHeader, walkIpv6Chain,
} from '../../src/wire/ipv6ext.js';
import { emitNdp, isNdpType, NDP_NEIGHBOR_SOLICITATION, ndpValidityProblem, parseNdp, writeNdp } from '../../src/wire/ndp.js';
import { PacketBuffer } from '../../src/wire/buffer.js';
import { loadIpv6Trace } from '../wire/ipv6-traces.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20261203);
const HOST_MAC = parseMac('02:00:00:00:00:01');

const seeds: Uint8Array[] = [...loadIpv6Trace('ipv6-link'), ...loadIpv6Trace('ipv6-loopback')].map((f) => f.ip);

/** What happened to one datagram: 'ok...' or the first refusal's reason. */
function receive(ip: Uint8Array, reasons: Map<string, number>): string {
  const outcome = receiveInner(ip);
  reasons.set(outcome, (reasons.get(outcome) ?? 0) + 1);
  return outcome;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function receiveInner(ip: Uint8Array): string {
  const h = parseIpv6(ip, 0, ip.length);
  if (!h.ok) return `ipv6 ${h.reason}`;
  if (!same(emitIpv6(h.header, ip.subarray(40)), ip)) throw new Error('ipv6 header does not round-trip');
  const end = Math.min(ip.length, 40 + h.header.payloadLength);
  const c = walkIpv6Chain(ip, 0, end, h.header.nextHeader);
  // Whatever the walker says, each header it could reach must parse (or be refused) on its own and round-trip.
  let p = 40;
  let proto = h.header.nextHeader;
  for (let i = 0; i < 12 && isIpv6ExtensionHeader(proto) && proto !== 51; i++) {
    const e = parseIpv6ExtensionHeader(ip, p, end - p, proto);
    if (!e.ok) break;
    if (!same(emitIpv6ExtensionHeader(e.header), ip.subarray(p, p + e.headerLength))) throw new Error('ext does not round-trip');
    proto = e.header.nextHeader;
    p += e.headerLength;
  }
  if (!c.ok) return `chain ${c.reason}`;
  if (c.header.problem !== undefined) return `chain ${c.header.problem.reason}`;
  if (c.header.upperProtocol !== IP_PROTO_ICMPV6 || c.header.fragmentHeaderOffset >= 0) return 'ok other';
  const at = c.header.upperOffset;
  const len = end - at;
  const m = parseIcmpv6(ip, at, len);
  if (!m.ok) return `icmpv6 ${m.reason}`;
  if (!same(emitIcmpv6(m.header), ip.subarray(at, end))) throw new Error('icmpv6 does not round-trip');
  const checksumOk = icmpv6ChecksumOk(ip, at, len, h.header.src, h.header.dst);
  if (isIcmpv6Error(m.header)) {
    const q = parseIcmpv6QuotedPacket(m.header);
    if (q.ok) walkIpv6Chain(m.header.data, 0, m.header.data.length, q.header.nextHeader);
    return checksumOk ? (q.ok ? 'ok icmpv6 error' : `quote ${q.reason}`) : 'icmpv6 bad-checksum';
  }
  if (!isNdpType(m.header.type)) return checksumOk ? 'ok icmpv6' : 'icmpv6 bad-checksum';
  const n = parseNdp(ip, at, len);
  if (!n.ok) return `ndp ${n.reason}`;
  if (!same(emitNdp(n.header), ip.subarray(at, end))) throw new Error(`ndp does not round-trip (type ${n.header.type})`);
  const problem = ndpValidityProblem(h.header, ip, at, len, n.header);
  return problem === undefined ? `ok ndp ${n.header.type}` : `ndp ${problem}`;
}

// ---- generators ---------------------------------------------------------------

const randomDatagram = fc.record({ bytes: fc.uint8Array({ maxLength: 400 }), v6: fc.boolean() }).map(({ bytes, v6 }) => {
  if (v6 && bytes.length > 0) bytes[0] = 0x60 | (bytes[0]! & 0x0f);
  return bytes;
});

const mutatedDatagram = fc
  .record({
    seed: fc.nat(),
    edits: fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }),
    cut: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat() }),
    tail: fc.uint8Array({ maxLength: 16 }),
    fixChecksum: fc.boolean(),
  })
  .map(({ seed, edits, cut, tail, fixChecksum }) => {
    const base = seeds[seed % seeds.length]!;
    const f = new Uint8Array(base.length + tail.length);
    f.set(base);
    f.set(tail, base.length);
    for (const [pos, v] of edits) f[pos % f.length] = v;
    // Half of them keep version 6 and get a valid ICMPv6 checksum, so that the mutation is judged deeper in.
    if (fixChecksum) f[0] = 0x60;
    const out = cut === undefined ? f : f.subarray(0, cut % (f.length + 1));
    if (fixChecksum && out.length >= 48 && out[6] === IP_PROTO_ICMPV6) {
      const len = Math.min(out.length, 40 + ((out[4]! << 8) | out[5]!)) - 40;
      if (len >= 8) setIcmpv6Checksum(out, 40, len, out.subarray(8, 24), out.subarray(24, 40));
    }
    return out;
  });

const option = fc.oneof(
  fc.constant([0]),
  fc.tuple(fc.constantFrom(1, 5, 0x1e, 0x5e, 0x9e, 0xde, 0xc2), fc.uint8Array({ maxLength: 12 }))
    .map(([t, d]) => [t, d.length, ...d]),
);

/** An extension header: type and bytes (length fixed up to a multiple of 8, sometimes wrong on purpose). */
const extHeader = fc
  .record({
    type: fc.constantFrom(0, 43, 44, 60, 60, 51),
    options: fc.array(option, { maxLength: 4 }),
    routing: fc.record({ type: fc.constantFrom(0, 2, 4, 9), left: fc.nat(3), data: fc.uint8Array({ maxLength: 20 }) }),
    frag: fc.record({ offset: fc.oneof(fc.constant(0), fc.nat(0x1fff)), more: fc.boolean(), id: fc.nat() }),
    sloppy: fc.nat(20),
  })
  .map(({ type, options, routing, frag, sloppy }) => {
    let body: number[];
    if (type === 44) body = [0, (frag.offset >>> 5) & 0xff, ((frag.offset << 3) & 0xf8) | (frag.more ? 1 : 0), frag.id >>> 24 & 0xff, frag.id >>> 16 & 0xff, frag.id >>> 8 & 0xff, frag.id & 0xff];
    else if (type === 43) body = [0, routing.type, routing.left, ...routing.data];
    else body = [0, ...options.flat()];
    const raw = [0, ...body];
    while (raw.length % 8 !== 0) raw.push(0);
    // Zero padding reads as Pad1 options, so most options headers stay well formed; `sloppy` breaks the length byte.
    raw[1] = type === 51 ? raw.length / 4 - 2 : raw.length / 8 - 1;
    if (type === 44) raw[1] = 0;
    if (sloppy === 0) raw[1] = (raw[1]! + 1) & 0xff;
    return { type, bytes: Uint8Array.from(raw) };
  });

const ndpOption = fc.oneof(
  fc.tuple(fc.constantFrom(1, 2), fc.uint8Array({ minLength: 6, maxLength: 6 })).map(([t, mac]) => [t, 1, ...mac]),
  fc.tuple(fc.nat(128), fc.uint8Array({ minLength: 16, maxLength: 16 })).map(([len, pfx]) => [3, 4, len, 0xc0, 0, 0, 1, 0, 0, 0, 0, 100, 0, 0, 0, 0, ...pfx]),
  fc.nat(9000).map((mtu) => [5, 1, 0, 0, 0, 0, mtu >>> 8, mtu & 0xff]),
  fc.uint8Array({ maxLength: 40 }).map((d) => {
    const n = Math.ceil((d.length + 8) / 8) * 8;
    const o = new Array<number>(n).fill(0);
    o[0] = 4;
    o[1] = n / 8;
    d.forEach((x, i) => { o[8 + i] = x; });
    return o;
  }),
  fc.tuple(fc.nat(255), fc.nat(3)).map(([t, l]) => [t, l, ...new Array<number>(Math.max(0, l * 8 - 2)).fill(7)]),
);

/** A well-formed fixed header around a random chain and a random ICMPv6 / NDP message with a valid checksum. */
const synthesizedDatagram = fc
  .record({
    chain: fc.array(extHeader, { maxLength: 4 }),
    icmpType: fc.constantFrom(1, 2, 3, 4, 128, 129, 133, 134, 135, 136, 137, 137, 200),
    code: fc.constantFrom(0, 0, 0, 1, 4),
    body: fc.uint8Array({ maxLength: 48 }),
    options: fc.array(ndpOption, { maxLength: 3 }),
    hopLimit: fc.constantFrom(255, 255, 64, 1),
    src: fc.constantFrom('fe80::1', '::', 'fd06::1', 'ff02::1'),
    dst: fc.constantFrom('ff02::1', 'ff02::1:ff00:2', 'fd06::2', 'fe80::2'),
    quote: fc.boolean(),
  })
  .map(({ chain, icmpType, code, body, options, hopLimit, src, dst, quote }) => {
    const fixed = icmpType >= 133 && icmpType <= 137 ? [8, 16, 24, 24, 40][icmpType - 133]! : 8;
    const icmp = new Uint8Array(Math.max(fixed, 8 + body.length) + options.reduce((n, o) => n + o.length, 0));
    icmp[0] = icmpType;
    icmp[1] = code;
    icmp.set(body.subarray(0, icmp.length - 8), 8);
    if (isNdpType(icmpType)) {
      // Targets: sometimes multicast, sometimes link-local, sometimes the destination.
      if (icmpType >= 135) writeIp6(icmp, 8, body[0] !== undefined && body[0] < 64 ? IP6_ALL_NODES : parseIp6('fe80::7'));
      if (icmpType === 137) writeIp6(icmp, 24, parseIp6(body[1] !== undefined && body[1] < 64 ? 'ff02::5' : 'fd09::1'));
      let at = fixed;
      for (const o of options) {
        icmp.set(o, at);
        at += o.length;
      }
      icmp.fill(0, at);
    } else if (quote && icmpType < 128 && icmp.length >= 48) {
      icmp[8] = 0x60;
    }
    const s = parseIp6(src);
    const d = parseIp6(dst);
    const ext = chain.map((e, i) => {
      const b = e.bytes.slice();
      b[0] = i + 1 < chain.length ? chain[i + 1]!.type : IP_PROTO_ICMPV6;
      return b;
    });
    const payload = new Uint8Array(ext.reduce((n, b) => n + b.length, 0) + icmp.length);
    let at = 0;
    for (const b of ext) {
      payload.set(b, at);
      at += b.length;
    }
    setIcmpv6Checksum(icmp, 0, icmp.length, s, d);
    payload.set(icmp, at);
    return emitIpv6({
      trafficClass: 0, flowLabel: 0, payloadLength: payload.length, nextHeader: chain.length > 0 ? chain[0]!.type : IP_PROTO_ICMPV6,
      hopLimit, src: s, dst: d,
    }, payload);
  });

class NullDevice implements Device {
  readonly name = 'null';
  readonly mtu = 1500;
  rx: FrameHandler = () => {};
  /** The last frames sent (kept short: the fuzz makes the host answer a lot). */
  sent: Uint8Array[] = [];
  constructor(readonly mac: number) {}
  send(frame: Uint8Array): void {
    if (this.sent.length < 64) this.sent.push(frame.slice());
  }
  attach(rx: FrameHandler): void {
    this.rx = rx;
  }
}

describe('fuzz: IPv6 frames', () => {
  it('parses or refuses every datagram with a reason, never throws, and what parses round-trips', () => {
    console.log(`ipv6 fuzz seed ${SEED} (rerun with FUZZ_SEED=${SEED})`);
    const reasons = new Map<string, number>();
    const clock = new VirtualClock();
    const dev = new NullDevice(HOST_MAC);
    const host = createHost({ name: 'fuzz6', device: dev, clock, ip: '192.168.0.1/24', seed: 7 });
    const { ipv6, icmpv6 } = attachIpv6(host.rt, host.link, host.pool, host.mac, {
      addresses: [{ address: parseIp6('fd06::2'), prefixLength: 64 }, { address: parseIp6('fe80::2'), prefixLength: 64 }],
      linkLocal: false, dad: false,
    });
    let total = 0;
    let counted = 0;
    const feed = (ip: Uint8Array): boolean => {
      total++;
      const outcome = receive(ip, reasons);
      expect(typeof outcome).toBe('string');
      // The same datagram on Ethernet into a host: it must be counted, not crash anything.
      const frame = new Uint8Array(14 + ip.length);
      frame.set([0x33, 0x33, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x86, 0xdd]);
      frame.set(ip, 14);
      const d0 = host.totalDrops();
      const c = ipv6.counters;
      const handled0 = c.delivered + c.fragmentsHeld;
      dev.rx(frame);
      // Delivered, kept aside as a fragment, or dropped with a reason: nothing vanishes.
      if (host.totalDrops() > d0 || c.delivered + c.fragmentsHeld > handled0) counted++;
      return true;
    };
    const runs: Array<[string, fc.Arbitrary<Uint8Array>, number]> = [
      ['random', randomDatagram, 4000],
      ['mutated', mutatedDatagram, 8000],
      ['synthesized', synthesizedDatagram, 8000],
    ];
    let seed = SEED;
    for (const [, arb, numRuns] of runs) fc.assert(fc.property(arb, feed), { numRuns, seed: seed++, endOnFailure: true });
    for (const s of seeds) feed(s.slice());

    if (process.env['FUZZ_REPORT']) console.log(JSON.stringify([...reasons].sort((a, b) => b[1] - a[1])));
    expect(total).toBe(20_000 + seeds.length);
    const sum = [...reasons.values()].reduce((a, b) => a + b, 0);
    expect(sum).toBe(total);
    // Every stage is reached: some datagrams get through each check, some are refused at each.
    for (const k of ['ipv6 truncated', 'ipv6 bad-version', 'chain truncated', 'chain unknown-option', 'ok icmpv6', 'ok icmpv6 error',
      'icmpv6 bad-checksum', 'ndp bad-hop-limit', 'ndp bad-option-length', 'ok ndp 135', 'ok ndp 134']) {
      expect(reasons.get(k) ?? 0, k).toBeGreaterThan(0);
    }
    expect(counted).toBe(total);
    expect(host.rt.stats.tasksExpended).toBe(0);
    // It went deep: echoes answered, NDP checks made, fragments held.
    expect(icmpv6.counters.echoRepliesSent).toBeGreaterThan(0);
    expect(host.stats().find((r) => r.module === 'ndp')!.drops).toBeGreaterThan(0);
    // Reassembly times out (60 s), then the time-exceeded errors it sent give up resolving: nothing stays held.
    clock.advance(61_000);
    clock.advance(5_000);
    expect(host.pool.inUse).toBe(0);

    // And it still answers: a neighbor introduces itself, then pings.
    const me = parseIp6('fd06::2');
    const peer = parseIp6('fd06::9');
    const peerMac = parseMac('02:00:00:00:00:09');
    const ns = PacketBuffer.standalone(0, 200);
    writeNdp(ns, { type: NDP_NEIGHBOR_SOLICITATION, code: 0, checksum: 0, reserved: 0, target: me, options: [{ kind: 'source-link-layer', mac: peerMac }] }, peer, ip6SolicitedNode(me));
    const sn = ip6SolicitedNode(me);
    dev.rx(emitEthernet({ dst: ip6MulticastMac(sn), src: peerMac, vlans: [], ethertype: ETHERTYPE_IPV6 }, emitIpv6({ trafficClass: 0, flowLabel: 0, payloadLength: ns.length, nextHeader: IP_PROTO_ICMPV6, hopLimit: 255, src: peer, dst: sn }, ns.payload())));
    const echo = emitIcmpv6(makeIcmpv6Echo(ICMPV6_ECHO_REQUEST, 77, 1, new Uint8Array(8)));
    setIcmpv6Checksum(echo, 0, echo.length, peer, me);
    dev.sent = [];
    dev.rx(emitEthernet({ dst: HOST_MAC, src: peerMac, vlans: [], ethertype: ETHERTYPE_IPV6 }, emitIpv6({ trafficClass: 0, flowLabel: 0, payloadLength: echo.length, nextHeader: IP_PROTO_ICMPV6, hopLimit: 64, src: peer, dst: me }, echo)));
    const replies = dev.sent.filter((f) => {
      const e = parseEthernet(f, 0, f.length);
      return e.ok && e.header.dst === peerMac && e.header.ethertype === ETHERTYPE_IPV6 && f[14 + 40] === ICMPV6_ECHO_REPLY;
    });
    expect(replies).toHaveLength(1);
  });
});
