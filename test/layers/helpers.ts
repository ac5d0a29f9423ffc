/**
 * Frame builders and small fixtures shared by the layer tests.
 */
import { VirtualClock } from '../../src/core/index.js';
import { createHost, type Host, type HostOptions } from '../../src/host.js';
import { ManualDevice } from '../../src/layers/nic/device.js';
import { SimLink, type SimLinkOptions } from '../../src/layers/nic/sim-link.js';
import { parseIp4, type Ip4, type Mac } from '../../src/wire/addr.js';
import { emitArp, type ArpPacket } from '../../src/wire/arp.js';
import { internetChecksum } from '../../src/wire/checksum.js';
import { emitEthernet, ETHERTYPE_ARP, ETHERTYPE_IPV4, parseEthernet } from '../../src/wire/ethernet.js';
import { emitIpv4, IPV4_FLAG_MF, parseIpv4, setIpv4Checksum, type Ipv4Header } from '../../src/wire/ipv4.js';
import { computeUdpChecksum } from '../../src/wire/udp.js';

export const MAC_A: Mac = 0x0200_0000_0001;
export const MAC_B: Mac = 0x0200_0000_0002;
export const MAC_X: Mac = 0x0200_0000_00ee;
export const IP_A = parseIp4('10.0.0.1');
export const IP_B = parseIp4('10.0.0.2');
export const IP_X = parseIp4('10.0.0.99');

export function ethernet(dst: Mac, src: Mac, ethertype: number, payload: Uint8Array): Uint8Array {
  return emitEthernet({ dst, src, vlans: [], ethertype }, payload);
}

export interface DatagramFields {
  src: Ip4;
  dst: Ip4;
  protocol: number;
  payload: Uint8Array;
  id?: number;
  ttl?: number;
  flags?: number;
  fragmentOffset?: number;
  options?: Uint8Array;
  /** Override the total length field (malformed cases). */
  totalLength?: number;
}

/** An IPv4 datagram with a correct header checksum (unless you break it afterwards). */
export function ipv4(f: DatagramFields): Uint8Array {
  const options = f.options ?? new Uint8Array(0);
  const h: Ipv4Header = {
    dscp: 0,
    ecn: 0,
    totalLength: f.totalLength ?? 20 + options.length + f.payload.length,
    identification: f.id ?? 1,
    flags: f.flags ?? 0,
    fragmentOffset: f.fragmentOffset ?? 0,
    ttl: f.ttl ?? 64,
    protocol: f.protocol,
    checksum: 0,
    src: f.src,
    dst: f.dst,
    options,
  };
  const out = emitIpv4(h, f.payload);
  setIpv4Checksum(out, 0);
  return out;
}

/** An Ethernet frame carrying an IPv4 datagram. */
export function ipFrame(dstMac: Mac, srcMac: Mac, f: DatagramFields): Uint8Array {
  return ethernet(dstMac, srcMac, ETHERTYPE_IPV4, ipv4(f));
}

export function udp(src: Ip4, dst: Ip4, srcPort: number, dstPort: number, data: Uint8Array, checksum = true): Uint8Array {
  const out = new Uint8Array(8 + data.length);
  out[0] = srcPort >>> 8;
  out[1] = srcPort;
  out[2] = dstPort >>> 8;
  out[3] = dstPort;
  out[4] = out.length >>> 8;
  out[5] = out.length;
  out.set(data, 8);
  if (checksum) {
    const c = computeUdpChecksum(out, 0, out.length, src, dst);
    out[6] = c >>> 8;
    out[7] = c;
  }
  return out;
}

export function icmpEcho(type: number, id: number, seq: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + data.length);
  out[0] = type;
  out[4] = id >>> 8;
  out[5] = id;
  out[6] = seq >>> 8;
  out[7] = seq;
  out.set(data, 8);
  const c = internetChecksum(out, 0, out.length);
  out[2] = c >>> 8;
  out[3] = c;
  return out;
}

export function arpFrame(dst: Mac, p: ArpPacket): Uint8Array {
  return ethernet(dst, p.senderMac, ETHERTYPE_ARP, emitArp(p));
}

/** Splits an IP payload into fragment datagrams of at most `chunk` payload bytes (a multiple of 8). */
export function fragments(f: DatagramFields, chunk: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < f.payload.length; off += chunk) {
    const part = f.payload.subarray(off, Math.min(off + chunk, f.payload.length));
    const more = off + chunk < f.payload.length;
    out.push(ipv4({ ...f, payload: part, fragmentOffset: off, flags: more ? IPV4_FLAG_MF : 0 }));
  }
  return out;
}

/** Decoded summary of a frame, for assertions. */
export function describeFrame(frame: Uint8Array): { dst: Mac; src: Mac; ethertype: number; ip?: Ipv4Header; ipPayload?: Uint8Array } {
  const e = parseEthernet(frame, 0, frame.length);
  if (!e.ok) throw new Error(e.reason);
  const out: { dst: Mac; src: Mac; ethertype: number; ip?: Ipv4Header; ipPayload?: Uint8Array } = {
    dst: e.header.dst,
    src: e.header.src,
    ethertype: e.header.ethertype,
  };
  if (e.header.ethertype === ETHERTYPE_IPV4) {
    const r = parseIpv4(frame, e.headerLength, frame.length - e.headerLength);
    if (r.ok) {
      out.ip = r.header;
      out.ipPayload = frame.subarray(e.headerLength + r.headerLength, e.headerLength + r.header.totalLength);
    }
  }
  return out;
}

/** Two hosts, a (10.0.0.1) and b (10.0.0.2), on one SimLink. */
export function pair(linkOpts: SimLinkOptions = {}, a: Partial<HostOptions> = {}, b: Partial<HostOptions> = {}): {
  clock: VirtualClock;
  link: SimLink;
  a: Host;
  b: Host;
} {
  const clock = new VirtualClock();
  const link = new SimLink(clock, linkOpts);
  const ha = createHost({ name: 'a', link, ip: '10.0.0.1/24', mac: MAC_A, ...a });
  const hb = createHost({ name: 'b', link, ip: '10.0.0.2/24', mac: MAC_B, ...b });
  return { clock, link, a: ha, b: hb };
}

/** One host on a ManualDevice: frames are injected by hand and what it sends is recorded. */
export function manualHost(opts: Partial<HostOptions> = {}): { clock: VirtualClock; dev: ManualDevice; host: Host } {
  const clock = new VirtualClock();
  const dev = new ManualDevice('b', MAC_B);
  const host = createHost({ name: 'b', device: dev, clock, ip: '10.0.0.2/24', ...opts });
  return { clock, dev, host };
}
