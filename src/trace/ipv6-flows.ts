/**
 * IPv6 TCP flows in a replay: numbered, not followed.
 *
 * tshark numbers tcp.stream across IPv4 and IPv6 in one sequence, in order of
 * first appearance. Until the stack follows IPv6, this module sits on the
 * capture link's IPv6 ethertype, finds each frame's TCP ports (fixed header,
 * then the extension-header chain), and takes a stream number from the TCP
 * observer for every new IPv6 flow, so the IPv4 flows after it keep tshark's
 * numbers. New flow = a 4-tuple not seen before, or a SYN (no ACK) whose
 * sequence number is not where its direction started (port reuse, as the
 * observer decides it). Each frame is then dropped as 'ipv6-not-followed'.
 *
 * Deliberately small and local: it is replaced by real IPv6 under the observer.
 * Non-first fragments carry no TCP header and are counted only as frames.
 */
import { Module, type Binding, type Runtime } from '../core/index.js';
import { ETHERTYPE_IPV6 } from '../wire/ethernet.js';
import type { PacketBuffer } from '../wire/buffer.js';
import type { EthertypeSlots, LinkLayer } from '../layers/nic/nic.js';
import type { TcpObserver } from '../layers/tcp/observer.js';

export interface Ipv6FlowCounts {
  /** IPv6 frames seen (all dropped: not followed). */
  frames: number;
  /** IPv6 TCP flows numbered and not followed. */
  tcpFlows: number;
}

interface FlowMark {
  readonly id: number;
  /** Endpoint key of direction 0 (the sender of the first packet). */
  readonly a: string;
  readonly base: [number, number];
  readonly baseSet: [boolean, boolean];
}

interface Ipv6FlowShared {
  readonly flows: Map<string, FlowMark>;
}

const IPV6_HEADER_LENGTH = 40;
const MAX_EXTENSION_HEADERS = 16;
const PROTO_TCP = 6;
const TCP_SYN = 0x02;
const TCP_ACK = 0x10;
/** Flow marks kept at most; beyond, the oldest are forgotten (a flow seen again then gets a new number). */
const MAX_FLOWS = 1_000_000;

/** Offset of the TCP header in the IPv6 datagram at `bytes[off..end)`, or -1 (not TCP, not a first fragment, malformed). */
export function ipv6TcpOffset(bytes: Uint8Array, off: number, end: number): number {
  if (end - off < IPV6_HEADER_LENGTH || bytes[off]! >>> 4 !== 6) return -1;
  let next = bytes[off + 6]!;
  let p = off + IPV6_HEADER_LENGTH;
  for (let i = 0; i < MAX_EXTENSION_HEADERS; i++) {
    if (next === PROTO_TCP) return p + 20 <= end ? p : -1;
    if (p + 8 > end) return -1;
    switch (next) {
      case 0: // hop-by-hop
      case 43: // routing
      case 60: // destination options
      case 135: // mobility
      case 139: // HIP
      case 140: // shim6
        next = bytes[p]!;
        p += (bytes[p + 1]! + 1) * 8;
        break;
      case 44: // fragment: only the first fragment holds the TCP header
        if ((((bytes[p + 2]! << 8) | bytes[p + 3]!) & 0xfff8) !== 0) return -1;
        next = bytes[p]!;
        p += 8;
        break;
      case 51: // authentication header counts 4-byte units
        next = bytes[p]!;
        p += (bytes[p + 1]! + 2) * 4;
        break;
      default:
        return -1;
    }
  }
  return -1;
}

function endpointKey(bytes: Uint8Array, addr: number, port: number): string {
  let s = '';
  for (let i = 0; i < 16; i += 2) s += ((bytes[addr + i]! << 8) | bytes[addr + i + 1]!).toString(16) + ':';
  return `${s}${port}`;
}

export class Ipv6FlowCounter extends Module<Ipv6FlowShared> {
  readonly counts: Ipv6FlowCounts = { frames: 0, tcpFlows: 0 };
  readonly binding: Binding<EthertypeSlots>;

  constructor(
    rt: Runtime,
    link: LinkLayer,
    private readonly tcp: TcpObserver,
    name = 'ipv6-flows',
  ) {
    super(rt, name, { flows: new Map() });
    this.binding = link.bindEthertype(ETHERTYPE_IPV6, this, { onFrame: (buf) => this.input(buf) });
  }

  private input(buf: PacketBuffer): void {
    this.counts.frames++;
    const bytes = buf.bytes;
    const off = buf.start;
    const t = ipv6TcpOffset(bytes, off, buf.end);
    if (t >= 0) this.mark(bytes, off, t);
    this.drop('ipv6-not-followed');
  }

  private mark(bytes: Uint8Array, ip: number, t: number): void {
    const src = endpointKey(bytes, ip + 8, (bytes[t]! << 8) | bytes[t + 1]!);
    const dst = endpointKey(bytes, ip + 24, (bytes[t + 2]! << 8) | bytes[t + 3]!);
    const key = src < dst ? `${src}|${dst}` : `${dst}|${src}`;
    const seq = ((bytes[t + 4]! << 24) | (bytes[t + 5]! << 16) | (bytes[t + 6]! << 8) | bytes[t + 7]!) >>> 0;
    const ack = ((bytes[t + 8]! << 24) | (bytes[t + 9]! << 16) | (bytes[t + 10]! << 8) | bytes[t + 11]!) >>> 0;
    const flags = bytes[t + 13]!;
    const flows = this.shared.flows;
    let f = flows.get(key);
    let dir = f === undefined || f.a === src ? 0 : 1;
    if (f !== undefined && (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && f.baseSet[dir] && f.base[dir] !== seq) f = undefined;
    if (f === undefined) {
      const id = this.tcp.reserveStream();
      f = { id, a: src, base: [0, 0], baseSet: [false, false] };
      dir = 0;
      const mark = f;
      this.lock.locked(() => {
        flows.delete(key);
        if (flows.size >= MAX_FLOWS) flows.delete(flows.keys().next().value!);
        flows.set(key, mark);
      });
      this.counts.tcpFlows++;
      if (this.rt.observed) this.note(`IPv6 TCP flow: stream ${id}, not followed (IPv6)`);
    }
    if (!f.baseSet[dir]) {
      f.baseSet[dir] = true;
      f.base[dir] = flags & TCP_SYN ? seq : (seq - 1) >>> 0;
    }
    const peer = 1 - dir;
    if (flags & TCP_ACK && !f.baseSet[peer]) {
      f.baseSet[peer] = true;
      f.base[peer] = (ack - 1) >>> 0;
    }
  }
}
