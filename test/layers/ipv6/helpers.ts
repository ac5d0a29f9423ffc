/**
 * IPv6 hosts for the layer tests: an IPv4 host from createHost with the IPv6
 * modules attached to its link, and frame builders for hand-made datagrams.
 */
import { VirtualClock } from '../../../src/core/index.js';
import { createHost, type Host } from '../../../src/host.js';
import { attachIpv6, type AttachIpv6Options, type Ipv6Stack } from '../../../src/layers/ipv6/index.js';
import { ManualDevice } from '../../../src/layers/nic/device.js';
import { SimLink, type SimLinkOptions } from '../../../src/layers/nic/sim-link.js';
import type { Mac } from '../../../src/wire/addr.js';
import { ip6LinkLocalFromMac, parseIp6, type Ip6 } from '../../../src/wire/addr6.js';
import { emitEthernet, ETHERTYPE_IPV6, parseEthernet } from '../../../src/wire/ethernet.js';
import { emitIcmpv6, setIcmpv6Checksum, type Icmpv6Message } from '../../../src/wire/icmpv6.js';
import { emitIpv6, IP_PROTO_ICMPV6, parseIpv6, type Ipv6Header } from '../../../src/wire/ipv6.js';
import { emitNdp, type NdpMessage } from '../../../src/wire/ndp.js';

export const MAC_A: Mac = 0x0200_0000_0001;
export const MAC_B: Mac = 0x0200_0000_0002;
export const MAC_C: Mac = 0x0200_0000_0003;
export const MAC_X: Mac = 0x0200_0000_00ee;
export const LL_A = ip6LinkLocalFromMac(MAC_A);
export const LL_B = ip6LinkLocalFromMac(MAC_B);
export const LL_X = ip6LinkLocalFromMac(MAC_X);
export const G_A = parseIp6('fd00::a');
export const G_B = parseIp6('fd00::b');
export const G_C = parseIp6('fd00::c');

export type Host6 = Host & Ipv6Stack;

export function host6(host: Host, opts: AttachIpv6Options = {}): Host6 {
  const s = attachIpv6(host.rt, host.link, host.pool, host.mac, opts);
  return Object.assign(host, s);
}

/** Hosts a, b (and c) on one SimLink with fd00::a/b/c/64 and link-local addresses; DAD has finished. */
export function trio(n = 2, linkOpts: SimLinkOptions = {}, opts: AttachIpv6Options = {}): { clock: VirtualClock; link: SimLink; hosts: Host6[] } {
  const clock = new VirtualClock();
  const link = new SimLink(clock, linkOpts);
  const macs = [MAC_A, MAC_B, MAC_C];
  const g = [G_A, G_B, G_C];
  const hosts: Host6[] = [];
  for (let i = 0; i < n; i++) {
    const h = createHost({ name: 'abc'[i]!, link, ip: `10.0.0.${i + 1}/24`, mac: macs[i]!, seed: i + 1, arp: { announce: false } });
    hosts.push(host6(h, { addresses: [{ address: g[i]!, prefixLength: 64 }], slaac: false, ...opts }));
  }
  clock.advance(2500);
  return { clock, link, hosts };
}

/** One host on a ManualDevice (frames injected by hand, what it sends recorded). */
export function manual6(opts: AttachIpv6Options = {}): { clock: VirtualClock; dev: ManualDevice; host: Host6 } {
  const clock = new VirtualClock();
  const dev = new ManualDevice('b', MAC_B);
  const h = createHost({ name: 'b', device: dev, clock, ip: '10.0.0.2/24', arp: { announce: false } });
  const host = host6(h, { addresses: [{ address: G_B, prefixLength: 64 }], slaac: false, ...opts });
  clock.advance(2500);
  dev.take();
  return { clock, dev, host };
}

export function hdr(src: Ip6, dst: Ip6, nextHeader: number, hopLimit = 64): Ipv6Header {
  return { trafficClass: 0, flowLabel: 0, payloadLength: 0, nextHeader, hopLimit, src, dst };
}

/** An IPv6 datagram: header (payload length computed) and payload. */
export function ipv6(h: Ipv6Header, payload: Uint8Array): Uint8Array {
  return emitIpv6({ ...h, payloadLength: payload.length }, payload);
}

export function frame6(dst: Mac, src: Mac, datagram: Uint8Array): Uint8Array {
  return emitEthernet({ dst, src, vlans: [], ethertype: ETHERTYPE_IPV6 }, datagram);
}

/** An ICMPv6 message with its checksum for src -> dst. */
export function icmp6(m: Icmpv6Message, src: Ip6, dst: Ip6): Uint8Array {
  const b = emitIcmpv6(m);
  setIcmpv6Checksum(b, 0, b.length, src, dst);
  return b;
}

export function ndp6(m: NdpMessage, src: Ip6, dst: Ip6): Uint8Array {
  const b = emitNdp(m);
  setIcmpv6Checksum(b, 0, b.length, src, dst);
  return b;
}

/** A whole NDP frame (hop limit 255 unless told). */
export function ndpFrame(dstMac: Mac, srcMac: Mac, m: NdpMessage, src: Ip6, dst: Ip6, hopLimit = 255): Uint8Array {
  return frame6(dstMac, srcMac, ipv6(hdr(src, dst, IP_PROTO_ICMPV6, hopLimit), ndp6(m, src, dst)));
}

export interface Decoded6 {
  dst: Mac;
  src: Mac;
  ip: Ipv6Header;
  /** Bytes after the fixed header. */
  payload: Uint8Array;
}

/** The IPv6 frames among `frames`, decoded. */
export function decode6(frames: readonly Uint8Array[]): Decoded6[] {
  const out: Decoded6[] = [];
  for (const f of frames) {
    const e = parseEthernet(f, 0, f.length);
    if (!e.ok || e.header.ethertype !== ETHERTYPE_IPV6) continue;
    const r = parseIpv6(f, e.headerLength, f.length - e.headerLength);
    if (!r.ok) continue;
    out.push({ dst: e.header.dst, src: e.header.src, ip: r.header, payload: f.subarray(e.headerLength + 40, e.headerLength + 40 + r.header.payloadLength) });
  }
  return out;
}
