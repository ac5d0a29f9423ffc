/**
 * IPv6 (RFC 8200) for a host: the addresses of the interface, next-hop choice,
 * extension headers, fragmentation at the source and reassembly, multicast
 * reception, and protocol demultiplexing. The IPv6 twin of `Ip`, on the same
 * runtime and slots, and a `NetLower` of family 6 so TCP and UDP run over it.
 *
 * Receive: the link upcalls `onFrame` for ethertype 0x86DD. The header is
 * checked (each malformed case a counted drop), link padding trimmed, the
 * extension-header chain walked (bounded: count and bytes), and what RFC 8200
 * §4 asks of a node that does not know a header or option is done: skip it,
 * drop silently, or drop and report through the `problems` slot, which ICMPv6
 * binds and answers with a parameter problem. Fragments are reassembled with
 * the shared bookkeeping of ip-reassembly.ts (overlaps refused, RFC 5722;
 * atomic fragments delivered at once, RFC 6946). The handler bound to the
 * upper-layer protocol gets the buffer at its header.
 *
 * Send: a transport hands over its segment with headroom; IPv6 picks the source
 * (if not given), the next hop (on-link, link-local, multicast or the default
 * router), writes the header and hands the datagram to the neighbor resolver
 * (NDP), fragmenting at the source when it exceeds the path MTU. The address
 * table, prefix list and router list live here; NDP (DAD, SLAAC) changes them
 * through entry points and is this module's resolver, as ARP is IPv4's.
 *
 * Promiscuous (replay): every datagram is delivered whatever its destination,
 * nothing is answered or resolved, reassembly still runs.
 */
import { DETACH, FAILED, Module, PENDING, SlotTable, type Binding, type Runtime } from '../../core/index.js';
import { BROADCAST_MAC, type Mac } from '../../wire/addr.js';
import {
  formatIp6, IP6_ALL_NODES, IP6_ANY, ip6Copy, ip6Equal, ip6InPrefix, ip6MulticastMac, ip6MulticastScope, ip6SolicitedNode,
  isIp6LinkLocal, isIp6Loopback, isIp6Multicast, type Ip6,
} from '../../wire/addr6.js';
import { PacketBuffer, type BufferPool } from '../../wire/buffer.js';
import { ETHERTYPE_IPV6 } from '../../wire/ethernet.js';
import {
  ICMPV6_DEST_UNREACHABLE, ICMPV6_PARAM_PROBLEM, ICMPV6_PARAM_ERRONEOUS_FIELD, ICMPV6_PARAM_UNKNOWN_NEXT_HEADER,
  ICMPV6_TIME_EXCEEDED, ICMPV6_TIME_EXCEEDED_REASSEMBLY, ICMPV6_UNREACH_ADMIN_PROHIBITED, ICMPV6_UNREACH_ADDRESS,
  ICMPV6_UNREACH_NO_ROUTE, ICMPV6_UNREACH_PORT,
} from '../../wire/icmpv6.js';
import {
  IP_PROTO_HOPOPTS, IP_PROTO_IPV6_FRAG, IP_PROTO_IPV6_NONXT, IPV6_HEADER_LENGTH, IPV6_MIN_MTU, parseIpv6,
  writeIpv6Header, type Ipv6Header,
} from '../../wire/ipv6.js';
import { IPV6_FRAGMENT_HEADER_LENGTH, walkIpv6Chain, type Ipv6Chain } from '../../wire/ipv6ext.js';
import { Reassembler, type PartialDatagram } from '../ip-reassembly.js';
import { bindLocked, bindUpperProtocol, netTapTable, type ProtocolNaming } from '../net-binding.js';
import type { NetPacket, NetSendOptions, NetSendResult, NetSlots } from '../net.js';
import type { EthertypeSlots, LinkLayer } from '../nic/nic.js';

/** A received datagram as handed to the protocol above. Valid during the upcall only. */
export interface Ipv6Packet extends NetPacket {
  readonly src: Ip6;
  readonly dst: Ip6;
  /** The fixed header (after reassembly: the first fragment's, payload length of the whole). */
  readonly header: Ipv6Header;
  /** Offset in `buf.bytes` of the IPv6 header: `buf.bytes[ipStart, buf.end)` is the datagram (what an error quotes). */
  readonly ipStart: number;
  /** A copy for a mailbox (queued dispatch), valid after the upcall. */
  readonly [DETACH]?: () => Ipv6Packet;
}

/** Something about a received datagram that ICMPv6 should answer (the module bound to `problems`). */
export interface Ipv6Problem {
  /** ICMPv6 error type (1 unreachable, 3 time exceeded, 4 parameter problem) and code. */
  readonly type: number;
  readonly code: number;
  /** Parameter problem: offset of the fault from the start of the datagram. */
  readonly pointer: number;
  readonly src: Ip6;
  readonly dst: Ip6;
  /** The offending datagram from its IPv6 header (a view, valid during the upcall). */
  readonly packet: Uint8Array;
  /** Its upper-layer protocol and offset when known (-1 otherwise): no error is sent about an ICMPv6 error. */
  readonly upperProtocol: number;
  readonly upperOffset: number;
  /** RFC 8200 §4.2: an option of type 10xxxxxx is reported even to a multicast destination. */
  readonly evenIfMulticast: boolean;
}

export interface Ipv6ProblemSlots {
  onProblem(p: Ipv6Problem): void;
}

export interface Ipv6TapSlots {
  onPacket(pkt: Ipv6Packet): void;
  /** A datagram this host sends, before fragmentation: `pkt.buf` holds the payload. */
  onSend(pkt: Ipv6Packet): void;
}

/**
 * What IPv6 asks of the module that resolves next hops on the link (NDP binds
 * it: NDP sits above IPv6, so IPv6 reaches it only through this slot, as it
 * reaches every module above it).
 */
export interface NeighborSlots {
  /** Send `buf` (a whole datagram, owned from now on) to `nextHop` on `link`, at once or once resolved. */
  output(buf: PacketBuffer, nextHop: Ip6, link: LinkLayer): 'sent' | 'queued' | 'dropped';
  /** The link-layer address of `ip` if known; never sends anything. */
  lookup(ip: Ip6): Mac | undefined;
  /** An upper layer saw forward progress through `ip` (RFC 4861 7.3.1): no probe needed. */
  confirm(ip: Ip6): void;
}

export type AddressState = 'tentative' | 'preferred' | 'deprecated' | 'duplicated';
export type AddressOrigin = 'manual' | 'link-local' | 'slaac';

export interface Ipv6Address {
  readonly address: Ip6;
  readonly prefixLength: number;
  readonly origin: AddressOrigin;
  state: AddressState;
}

export interface Ipv6Route {
  readonly prefix: Ip6;
  readonly prefixLength: number;
  /** Next hop; null for a prefix on the link. */
  readonly gateway: Ip6 | null;
}

export interface Ipv6Options {
  /** Default: the link's MTU. */
  mtu?: number;
  /** Hop limit of unicast datagrams we send. Default 64. */
  hopLimit?: number;
  promiscuous?: boolean;
  /** Default 60 s (RFC 8200 §4.5). */
  reassemblyTimeoutMs?: number;
  /** Default 256 KiB. */
  reassemblyMaxBytes?: number;
  /** Default 64. */
  reassemblyMaxDatagrams?: number;
  /** Extension headers followed at most. Default 8. */
  maxExtensionHeaders?: number;
  /** How long a path MTU learned from packet too big holds, ms. Default 10 min (RFC 8201 §4). */
  pathMtuExpiryMs?: number;
  /** Headroom a transport asks for in `alloc`. Default 128. */
  headroom?: number;
}

export interface Ipv6Counters {
  received: number;
  delivered: number;
  sent: number;
  fragmentsSent: number;
  fragmentsReceived: number;
  fragmentsHeld: number;
  reassembled: number;
  atomicFragments: number;
  loopback: number;
  multicastReceived: number;
  problemsReported: number;
  /** Promiscuous only: payload length 0 with hop-by-hop (jumbogram, "BIG TCP"), taken at the frame's length. */
  jumbograms: number;
  /** Promiscuous only: datagrams the capture cut (snaplen) or that claim more than their frame, delivered as far as captured. */
  cut: number;
}

interface Ipv6Shared {
  readonly protocols: Map<number, SlotTable<NetSlots>>;
  readonly addresses: Ipv6Address[];
  routes: Ipv6Route[];
  /** Path MTU per destination (formatIp6 key) learned from packet too big. */
  readonly pmtu: Map<string, { mtu: number; until: number }>;
  /** Multicast groups listened to (formatIp6 key) with their join counts. */
  readonly groups: Map<string, { group: Ip6; joins: number }>;
  readonly reassembly: Reassembler;
}

/** What a partial datagram keeps of its first fragment: the headers before the fragment header. */
interface FirstFragment {
  /** The first fragment's bytes from the IPv6 header up to (not including) the fragment header. */
  unfragmentable: Uint8Array;
  /** Offset in `unfragmentable` of the next-header field that named the fragment header. */
  nextHeaderField: number;
  /** The fragment header's next header. */
  nextHeader: number;
  /** The whole first fragment (quoted by time exceeded), at most what an error may quote. */
  packet: Uint8Array;
}

const MAX_FRAGMENTS = 256;
const IPV6_PROTOCOL_NAMING: ProtocolNaming = { field: 'IPv6 next header', table: 'next header' };

export class Ipv6 extends Module<Ipv6Shared, PartialDatagram> {
  readonly family = 6 as const;
  /** Largest datagram the link takes (an RA's MTU option may lower it). */
  mtu: number;
  hopLimit: number;
  promiscuous: boolean;
  readonly reassemblyTimeoutMs: number;
  readonly reassemblyMaxBytes: number;
  readonly reassemblyMaxDatagrams: number;
  readonly maxExtensionHeaders: number;
  readonly pathMtuExpiryMs: number;
  readonly headroom: number;
  readonly counters: Ipv6Counters = {
    received: 0, delivered: 0, sent: 0, fragmentsSent: 0, fragmentsReceived: 0, fragmentsHeld: 0, reassembled: 0,
    atomicFragments: 0, loopback: 0, multicastReceived: 0, problemsReported: 0, jumbograms: 0, cut: 0,
  };
  readonly binding: Binding<EthertypeSlots>;
  private readonly resolver = new SlotTable<NeighborSlots>(this, 'resolver', { output: 'one', lookup: 'one', confirm: 'one' });
  private readonly taps = netTapTable<Ipv6TapSlots>(this);
  private readonly problems = new SlotTable<Ipv6ProblemSlots>(this, 'problems', { onProblem: 'one' });
  private readonly walkLimits: { maxHeaders: number };

  constructor(
    rt: Runtime,
    readonly link: LinkLayer,
    readonly pool: BufferPool,
    opts: Ipv6Options = {},
  ) {
    super(rt, 'ipv6', { protocols: new Map(), addresses: [], routes: [], pmtu: new Map(), groups: new Map(), reassembly: new Reassembler(pool) });
    this.mtu = opts.mtu ?? link.mtu;
    this.hopLimit = opts.hopLimit ?? 64;
    this.promiscuous = opts.promiscuous ?? false;
    this.reassemblyTimeoutMs = opts.reassemblyTimeoutMs ?? 60_000;
    this.reassemblyMaxBytes = opts.reassemblyMaxBytes ?? 256 * 1024;
    this.reassemblyMaxDatagrams = opts.reassemblyMaxDatagrams ?? 64;
    this.maxExtensionHeaders = opts.maxExtensionHeaders ?? 8;
    this.pathMtuExpiryMs = opts.pathMtuExpiryMs ?? 600_000;
    this.headroom = opts.headroom ?? 128;
    this.walkLimits = { maxHeaders: this.maxExtensionHeaders };
    this.binding = link.bindEthertype(ETHERTYPE_IPV6, this, { onFrame: (buf, _eth, wireMissing) => this.input(buf, true, wireMissing ?? 0) });
    this.joinGroup(IP6_ALL_NODES);
  }

  // ---- binding ---------------------------------------------------------------

  readonly bindProtocol = this.entry('bindProtocol', 'reject', (protocol: number, owner: Module, handlers: Partial<NetSlots>): Binding<NetSlots> =>
    bindUpperProtocol(this, this.shared.protocols, IPV6_PROTOCOL_NAMING, protocol, owner, handlers));

  readonly tap = this.entry('tap', 'reject', (owner: Module, handlers: Partial<Ipv6TapSlots>): Binding<Ipv6TapSlots> => bindLocked(this, this.taps, owner, handlers));

  /** Be told what ICMPv6 should answer (ICMPv6 binds it). */
  readonly bindProblems = this.entry('bindProblems', 'reject', (owner: Module, handlers: Partial<Ipv6ProblemSlots>): Binding<Ipv6ProblemSlots> =>
    bindLocked(this, this.problems, owner, handlers));

  /** The resolver of next hops binds here (NDP; one at most). */
  readonly bindResolver = this.entry('bindResolver', 'reject', (owner: Module, handlers: Partial<NeighborSlots>): Binding<NeighborSlots> =>
    bindLocked(this, this.resolver, owner, handlers));

  // ---- addresses, groups, routes ------------------------------------------------

  /** The primary address: the first usable global one, else the link-local one, else ::. */
  get address(): Ip6 {
    let ll: Ip6 | undefined;
    for (const a of this.shared.addresses) {
      if (a.state !== 'preferred' && a.state !== 'deprecated') continue;
      if (!isIp6LinkLocal(a.address)) return a.address;
      ll ??= a.address;
    }
    return ll ?? IP6_ANY;
  }

  readonly addresses = this.query('addresses', (): readonly Ipv6Address[] => this.shared.addresses);

  /** The record of one of our addresses, in any state. */
  readonly findAddress = this.query('findAddress', (a: Ip6): Ipv6Address | undefined => {
    for (const x of this.shared.addresses) if (ip6Equal(x.address, a)) return x;
    return undefined;
  });

  /** Add an address (tentative until DAD says otherwise, or preferred at once); joins its solicited-node group. */
  readonly addAddress = this.entry('addAddress', 'reentrant', (address: Ip6, prefixLength: number, origin: AddressOrigin, state: AddressState): Ipv6Address => {
    const existing = this.findAddress(address);
    if (existing !== undefined) return existing;
    const rec: Ipv6Address = { address: ip6Copy(address), prefixLength, origin, state };
    this.lock.locked(() => this.shared.addresses.push(rec));
    this.joinGroup(ip6SolicitedNode(address));
    return rec;
  });

  readonly setAddressState = this.entry('setAddressState', 'reentrant', (address: Ip6, state: AddressState): void => {
    const rec = this.findAddress(address);
    if (rec !== undefined) this.lock.locked(() => (rec.state = state));
  });

  readonly removeAddress = this.entry('removeAddress', 'reentrant', (address: Ip6): boolean => {
    const rec = this.findAddress(address);
    if (rec === undefined) return false;
    this.lock.locked(() => this.shared.addresses.splice(this.shared.addresses.indexOf(rec), 1));
    this.leaveGroup(ip6SolicitedNode(address));
    return true;
  });

  /** Listen to a multicast group (counted: a second join needs a second leave). */
  readonly joinGroup = this.entry('joinGroup', 'reentrant', (group: Ip6): void => {
    const key = formatIp6(group);
    const first = this.lock.locked(() => {
      const g = this.shared.groups.get(key);
      if (g !== undefined) {
        g.joins++;
        return false;
      }
      this.shared.groups.set(key, { group: ip6Copy(group), joins: 1 });
      return true;
    }) as boolean;
    if (first) this.link.joinMulticast?.(ip6MulticastMac(group));
  });

  readonly leaveGroup = this.entry('leaveGroup', 'reentrant', (group: Ip6): void => {
    const key = formatIp6(group);
    const last = this.lock.locked(() => {
      const g = this.shared.groups.get(key);
      if (g === undefined) return false;
      if (--g.joins > 0) return false;
      this.shared.groups.delete(key);
      return true;
    }) as boolean;
    if (last) this.link.leaveMulticast?.(ip6MulticastMac(group));
  });

  readonly isGroupMember = this.query('isGroupMember', (a: Ip6): boolean => this.member(a));

  /** Whether `a` is one of our addresses usable for traffic (not tentative or duplicated), or ::1. */
  readonly isLocal = this.query('isLocal', (a: Ip6): boolean => this.local(a));

  private member(a: Ip6): boolean {
    return this.shared.groups.has(formatIp6(a));
  }

  private local(a: Ip6): boolean {
    if (isIp6Loopback(a)) return true;
    for (const x of this.shared.addresses) if ((x.state === 'preferred' || x.state === 'deprecated') && ip6Equal(x.address, a)) return true;
    return false;
  }

  readonly addRoute = this.entry('addRoute', 'reentrant', (prefix: Ip6, prefixLength: number, gateway: Ip6 | null = null): void => {
    this.lock.locked(() => {
      const rs = this.shared.routes.filter((r) => !(r.prefixLength === prefixLength && ip6InPrefix(r.prefix, prefix, prefixLength) && sameGateway(r.gateway, gateway)));
      rs.push({ prefix: ip6Copy(prefix), prefixLength, gateway: gateway === null ? null : ip6Copy(gateway) });
      rs.sort((a, b) => b.prefixLength - a.prefixLength);
      this.shared.routes = rs;
    });
  });

  readonly removeRoute = this.entry('removeRoute', 'reentrant', (prefix: Ip6, prefixLength: number, gateway: Ip6 | null = null): boolean => {
    return this.lock.locked(() => {
      const before = this.shared.routes.length;
      this.shared.routes = this.shared.routes.filter((r) => !(r.prefixLength === prefixLength && ip6InPrefix(r.prefix, prefix, prefixLength) && sameGateway(r.gateway, gateway)));
      return this.shared.routes.length !== before;
    }) as boolean;
  });

  readonly routes = this.query('routes', (): readonly Ipv6Route[] => this.shared.routes);

  /**
   * The next hop toward `dst`: itself when multicast, link-local or on a
   * prefix of the link; else the gateway of the longest matching route;
   * undefined when nothing leads there.
   */
  readonly nextHop = this.query('nextHop', (dst: Ip6): Ip6 | undefined => {
    if (isIp6Multicast(dst) || isIp6LinkLocal(dst)) return dst;
    for (const r of this.shared.routes) if (ip6InPrefix(dst, r.prefix, r.prefixLength)) return r.gateway ?? dst;
    for (const a of this.shared.addresses) if (!isIp6LinkLocal(a.address) && ip6InPrefix(dst, a.address, a.prefixLength)) return dst;
    return undefined;
  });

  /**
   * The source for a datagram to `dst` (RFC 6724, the rules a host with one
   * interface needs): the destination itself if local; a link-local address
   * for link-scope destinations; else a preferred global address, the one
   * sharing the longest prefix with `dst`, a deprecated one if no other.
   */
  readonly sourceFor = this.query('sourceFor', (dst: Ip6 | number): Ip6 | undefined => {
    if (typeof dst === 'number') return undefined;
    if (this.local(dst)) return dst;
    const linkScope = isIp6LinkLocal(dst) || (isIp6Multicast(dst) && ip6MulticastScope(dst) <= 2);
    let best: Ipv6Address | undefined;
    let bestScore = -1;
    for (const a of this.shared.addresses) {
      if (a.state !== 'preferred' && a.state !== 'deprecated') continue;
      const ll = isIp6LinkLocal(a.address);
      if (linkScope !== ll) continue;
      const score = (a.state === 'preferred' ? 256 : 0) + commonPrefix(a.address, dst);
      if (score > bestScore) {
        best = a;
        bestScore = score;
      }
    }
    if (best === undefined || (!linkScope && this.nextHop(dst) === undefined)) return undefined;
    return best.address;
  });

  /**
   * An upper layer saw forward progress with `dst` (TCP: new data acknowledged),
   * so the next hop toward it is reachable: neighbor discovery need not probe it.
   */
  readonly confirmReachable = this.entry('confirmReachable', 'reentrant', (dst: Ip6 | number): void => {
    if (typeof dst === 'number' || this.promiscuous) return;
    const nextHop = this.local(dst) ? undefined : this.nextHop(dst);
    const b = this.resolver.bindingFor('confirm');
    if (nextHop !== undefined && b !== undefined) this.upcall(b, 'confirm', nextHop);
  });

  /** The path MTU toward `dst`: what packet too big taught us (until it expires), else the link's. */
  readonly pathMtu = this.query('pathMtu', (dst: Ip6 | number): number => {
    const pm = this.shared.pmtu;
    if (pm.size === 0 || typeof dst === 'number') return this.mtu;
    const e = pm.get(formatIp6(dst));
    if (e === undefined) return this.mtu;
    if (this.rt.clock.now() >= e.until) return this.mtu;
    return Math.min(e.mtu, this.mtu);
  });

  /** A packet too big said the path to `dst` takes at most `mtu` (never below 1280, RFC 8200 §5). */
  readonly updatePathMtu = this.entry('updatePathMtu', 'reentrant', (dst: Ip6, mtu: number): number => {
    const m = Math.max(IPV6_MIN_MTU, Math.min(mtu, this.pathMtu(dst)));
    const now = this.rt.clock.now();
    this.lock.locked(() => {
      const pm = this.shared.pmtu;
      for (const [k, e] of pm) if (now >= e.until) pm.delete(k);
      pm.set(formatIp6(dst), { mtu: m, until: now + this.pathMtuExpiryMs });
    });
    if (this.rt.observed) this.note(`path MTU to ${formatIp6(dst)} is ${m}`);
    return m;
  });

  readonly alloc = this.entry('alloc', 'reentrant', (payloadLength: number, label: string = 'ipv6 alloc'): PacketBuffer => {
    const buf = this.pool.alloc(payloadLength, label);
    if (buf.headroom < this.headroom) throw new RangeError(`pool headroom ${buf.headroom} < ${this.headroom}`);
    return buf;
  });

  reassemblyState(): { datagrams: number; bytes: number } {
    const r = this.shared.reassembly;
    return { datagrams: r.size, bytes: r.held };
  }

  // ---- receive ---------------------------------------------------------------

  private input(buf: PacketBuffer, fromLink: boolean, wireMissing: number): void {
    this.counters.received++;
    const bytes = buf.bytes;
    const off = buf.start;
    const have = buf.length;
    const r = parseIpv6(bytes, off, have, !this.promiscuous);
    if (!r.ok) {
      this.drop(r.reason);
      return;
    }
    const h = r.header;
    let total: number;
    let missing = 0;
    if (h.payloadLength === 0 && h.nextHeader === IP_PROTO_HOPOPTS) {
      // A jumbogram (RFC 2675) needs a link with an MTU beyond 64 KiB: only a capture shows one ("BIG TCP").
      if (!this.promiscuous) {
        this.drop('jumbogram');
        return;
      }
      total = have;
      missing = wireMissing;
      this.counters.jumbograms++;
      if (this.rt.observed) this.note(`payload length 0 with hop-by-hop: taken as the frame's ${have + wireMissing} bytes`);
    } else {
      total = IPV6_HEADER_LENGTH + h.payloadLength;
      if (total > have) {
        // Only the promiscuous parse lets a cut datagram through.
        missing = total - have;
        total = have;
        this.counters.cut++;
      }
    }
    buf.truncate(total);
    if (isIp6Multicast(h.src) || (fromLink && !this.promiscuous && isIp6Loopback(h.src))) {
      this.drop('bad-source', this.rt.observed ? formatIp6(h.src) : undefined);
      return;
    }
    const dst = h.dst;
    const multicast = isIp6Multicast(dst);
    if (!this.promiscuous) {
      if (multicast) {
        if (!this.member(dst)) {
          this.drop('not-member', this.rt.observed ? formatIp6(dst) : undefined);
          return;
        }
        this.counters.multicastReceived++;
      } else if (!this.local(dst) || (isIp6Loopback(dst) && fromLink)) {
        // A host does not forward; a tentative address takes nothing but NDP (which comes by multicast).
        this.drop('not-for-us', this.rt.observed ? formatIp6(dst) : undefined);
        return;
      }
    }
    const c = walkIpv6Chain(bytes, off, total, h.nextHeader, this.walkLimits);
    if (!c.ok) {
      this.drop(c.reason);
      return;
    }
    const chain = c.header;
    const p = chain.problem;
    if (p !== undefined) {
      this.drop(p.reason, this.rt.observed ? `pointer ${p.pointer}` : undefined);
      if (p.action !== 'discard') {
        this.report(ICMPV6_PARAM_PROBLEM, p.code, p.pointer, h, bytes.subarray(off, off + total), -1, -1, p.action === 'discard-icmp');
      }
      return;
    }
    if (chain.fragmentHeaderOffset >= 0) {
      this.fragment(buf, h, chain);
      return;
    }
    buf.advance(chain.upperOffset);
    this.deliver(h, buf, off, chain.upperProtocol, chain.upperOffset, missing);
  }

  private fragment(buf: PacketBuffer, h: Ipv6Header, chain: Ipv6Chain): void {
    this.counters.fragmentsReceived++;
    const bytes = buf.bytes;
    const off = buf.start;
    const fo = off + chain.fragmentHeaderOffset;
    const w = (bytes[fo + 2]! << 8) | bytes[fo + 3]!;
    const offset = (w >>> 3) * 8;
    const more = (w & 1) === 1;
    const id = ((bytes[fo + 4]! << 24) | (bytes[fo + 5]! << 16) | (bytes[fo + 6]! << 8) | bytes[fo + 7]!) >>> 0;
    const dataStart = fo + IPV6_FRAGMENT_HEADER_LENGTH;
    const len = buf.end - dataStart;
    if (offset === 0 && !more) {
      // An atomic fragment (RFC 6946): a whole datagram that merely carries the header.
      this.counters.atomicFragments++;
      buf.advance(chain.upperOffset);
      this.deliver(h, buf, off, chain.upperProtocol, chain.upperOffset, 0);
      return;
    }
    const datagram = bytes.subarray(off, buf.end);
    if (this.promiscuous && buf.length < IPV6_HEADER_LENGTH + h.payloadLength) {
      this.drop('truncated', 'cut fragment');
      return;
    }
    if (more && len % 8 !== 0) {
      // RFC 8200 §4.5: the payload length is the field at fault.
      this.drop('bad-fragment', 'length not a multiple of 8');
      this.report(ICMPV6_PARAM_PROBLEM, ICMPV6_PARAM_ERRONEOUS_FIELD, 4, h, datagram, -1, -1, false);
      return;
    }
    if (offset + len > 0xffff) {
      this.drop('bad-fragment', 'beyond 65535');
      this.report(ICMPV6_PARAM_PROBLEM, ICMPV6_PARAM_ERRONEOUS_FIELD, chain.fragmentHeaderOffset + 2, h, datagram, -1, -1, false);
      return;
    }
    if (len === 0) {
      this.drop('bad-fragment', 'empty');
      return;
    }
    const ra = this.shared.reassembly;
    const key = `${formatIp6(h.src)}/${formatIp6(h.dst)}/${id}`;
    let d = ra.get(key);
    if (d === undefined) {
      while (ra.size > 0 && (ra.size >= this.reassemblyMaxDatagrams || ra.held + len > this.reassemblyMaxBytes)) this.giveUp(ra.oldest()!, 'reassembly-overflow');
      if (len > this.reassemblyMaxBytes) {
        this.drop('reassembly-overflow');
        return;
      }
      d = ra.openKeyed(key, this.rt.clock.now());
      const dd = d;
      const t = this.timer(dd, 'reassembly', () => this.timeout(dd));
      dd.timer = t;
      t.arm(this.reassemblyTimeoutMs);
    } else {
      while (ra.held + len > this.reassemblyMaxBytes) {
        const old = ra.oldest()!;
        this.giveUp(old, 'reassembly-overflow');
        if (old === d) return;
      }
    }
    if (d.pieces.length >= MAX_FRAGMENTS) {
      this.giveUp(d, 'too-many-fragments');
      return;
    }
    if (offset === 0 && d.meta === null) {
      const unfragmentable = bytes.slice(off, fo);
      d.meta = {
        unfragmentable,
        nextHeaderField: this.nextHeaderFieldOf(unfragmentable, chain.fragmentHeaderOffset),
        nextHeader: bytes[fo]!,
        packet: bytes.slice(off, Math.min(buf.end, off + 1232)),
      } satisfies FirstFragment;
    }
    const res = ra.addPiece(d, offset, !more, bytes.subarray(dataStart, buf.end), true, d.meta !== null);
    switch (res) {
      case 'held':
        this.counters.fragmentsHeld++;
        return;
      case 'duplicate':
        this.drop('duplicate-fragment');
        return;
      case 'overlap':
        // RFC 5722: an overlap throws the whole datagram away, and what comes later of it too (it is simply gone).
        this.giveUp(d, 'overlapping-fragment');
        return;
      case 'inconsistent':
        this.giveUp(d, 'bad-fragment');
        return;
      case 'complete':
        this.complete(d);
    }
  }

  /** Offset in `headers` (IPv6 header + extensions before the fragment header) of the field naming the header at `at`. */
  private nextHeaderFieldOf(headers: Uint8Array, at: number): number {
    let field = 6;
    let p = IPV6_HEADER_LENGTH;
    while (p < at) {
      field = p;
      p += (headers[p + 1]! + 1) * 8;
    }
    return field;
  }

  private complete(d: PartialDatagram): void {
    const ra = this.shared.reassembly;
    const first = d.meta as FirstFragment;
    const u = first.unfragmentable;
    const size = u.length + d.total;
    if (size - IPV6_HEADER_LENGTH > 0xffff) {
      this.giveUp(d, 'bad-fragment');
      return;
    }
    const out = this.pool.alloc(size, 'ipv6 reassembly');
    out.bytes.set(u, out.start);
    out.bytes[out.start + first.nextHeaderField] = first.nextHeader;
    const pl = size - IPV6_HEADER_LENGTH;
    out.bytes[out.start + 4] = pl >>> 8;
    out.bytes[out.start + 5] = pl;
    ra.assemble(d, out.bytes, out.start + u.length);
    ra.discard(d);
    this.releaseClient(d);
    this.counters.reassembled++;
    try {
      const r = parseIpv6(out.bytes, out.start, out.length);
      if (!r.ok) {
        this.drop(r.reason);
        return;
      }
      const c = walkIpv6Chain(out.bytes, out.start, out.length, r.header.nextHeader, this.walkLimits);
      if (!c.ok || c.header.problem !== undefined || c.header.fragmentHeaderOffset >= 0) {
        this.drop(!c.ok ? c.reason : c.header.problem?.reason ?? 'nested-fragment');
        return;
      }
      const at = out.start;
      out.advance(c.header.upperOffset);
      this.deliver(r.header, out, at, c.header.upperProtocol, c.header.upperOffset, 0);
    } finally {
      out.release();
    }
  }

  private timeout(d: PartialDatagram): void {
    if (this.shared.reassembly.get(d.key) !== d) return;
    const first = d.meta as FirstFragment | null;
    this.giveUp(d, 'reassembly-timeout');
    // RFC 8200 §4.5: time exceeded, only when the first fragment came (it is what the error quotes).
    if (first !== null) {
      const r = parseIpv6(first.packet, 0, first.packet.length, false);
      if (r.ok) this.report(ICMPV6_TIME_EXCEEDED, ICMPV6_TIME_EXCEEDED_REASSEMBLY, 0, r.header, first.packet, -1, -1, false);
    }
  }

  private giveUp(d: PartialDatagram, reason: string): void {
    if (this.shared.reassembly.get(d.key) !== d) return;
    this.shared.reassembly.discard(d);
    this.releaseClient(d);
    this.drop(reason, this.rt.observed ? d.key : undefined);
  }

  private deliver(h: Ipv6Header, buf: PacketBuffer, ipStart: number, protocol: number, upperOffset: number, missing: number): void {
    const pkt: Ipv6Packet = { src: h.src, dst: h.dst, protocol, ttl: h.hopLimit, header: h, buf, ipStart, missing, [DETACH]: detachPacket };
    if (this.taps.size > 0) {
      for (const b of this.taps.bindings) if (b.has('onPacket') && this.upcall(b, 'onPacket', pkt) === FAILED) return;
    }
    const b = this.shared.protocols.get(protocol)?.bindings[0];
    if (b === undefined) {
      if (protocol === IP_PROTO_IPV6_NONXT) {
        this.drop('no-next-header');
        return;
      }
      this.drop('no-protocol', this.rt.observed ? String(protocol) : undefined);
      // RFC 8200 §4: unrecognised next header, pointing at the field that named it.
      const field = upperOffset === IPV6_HEADER_LENGTH ? 6 : this.nextHeaderFieldOf(buf.bytes.subarray(ipStart, buf.end), upperOffset);
      this.report(ICMPV6_PARAM_PROBLEM, ICMPV6_PARAM_UNKNOWN_NEXT_HEADER, field, h, buf.bytes.subarray(ipStart, buf.end), protocol, upperOffset, false);
      return;
    }
    this.counters.delivered++;
    this.upcall(b, 'onPacket', pkt);
  }

  /** Hand a problem to ICMPv6 (nothing in promiscuous mode). */
  private report(type: number, code: number, pointer: number, h: Ipv6Header, packet: Uint8Array, upperProtocol: number, upperOffset: number, evenIfMulticast: boolean): void {
    if (this.promiscuous) return;
    const b = this.problems.bindings[0];
    if (b === undefined) return;
    this.counters.problemsReported++;
    this.upcall(b, 'onProblem', { type, code, pointer, src: h.src, dst: h.dst, packet, upperProtocol, upperOffset, evenIfMulticast });
  }

  /**
   * A transport would not take `pkt`: ICMPv6 answers. `code` is an IPv4 ICMP
   * destination-unreachable code (the NetLower contract): 3 port -> port
   * unreachable, 2 protocol -> parameter problem (next header), 9/10/13
   * prohibited -> administratively prohibited, others -> address unreachable.
   */
  readonly unreachable = this.entry('unreachable', 'reentrant', (pkt: NetPacket, code: number): void => {
    if (this.promiscuous || typeof pkt.src === 'number' || typeof pkt.dst === 'number') return;
    const p = pkt as Partial<Ipv6Packet> & NetPacket;
    if (p.header === undefined || p.ipStart === undefined) return;
    const packet = pkt.buf.bytes.subarray(p.ipStart, pkt.buf.end);
    const upperOffset = pkt.buf.start - p.ipStart;
    if (code === 2) {
      this.report(ICMPV6_PARAM_PROBLEM, ICMPV6_PARAM_UNKNOWN_NEXT_HEADER, 6, p.header, packet, pkt.protocol, upperOffset, false);
      return;
    }
    const c6 = code === 3 ? ICMPV6_UNREACH_PORT : code === 9 || code === 10 || code === 13 ? ICMPV6_UNREACH_ADMIN_PROHIBITED : code === 0 ? ICMPV6_UNREACH_NO_ROUTE : ICMPV6_UNREACH_ADDRESS;
    this.report(ICMPV6_DEST_UNREACHABLE, c6, 0, p.header, packet, pkt.protocol, upperOffset, false);
  });

  // ---- send ------------------------------------------------------------------

  /**
   * Send `buf` (upper-layer header + payload, with headroom) to `dst`. Takes
   * ownership. Fragments at the source when the datagram exceeds the path MTU,
   * unless `df` is true (then it is dropped). Re-entrant.
   */
  readonly send = this.entry('send', 'reentrant', (dst: Ip6 | number, protocol: number, buf: PacketBuffer, opts?: NetSendOptions): NetSendResult => {
    if (typeof dst === 'number' || (opts?.src !== undefined && typeof opts.src === 'number')) {
      buf.release();
      this.drop('wrong-family');
      return 'dropped';
    }
    const local = this.local(dst);
    const nextHop = local ? dst : this.nextHop(dst);
    const src = (opts?.src as Ip6 | undefined) ?? this.sourceFor(dst);
    if (nextHop === undefined || src === undefined) {
      buf.release();
      this.drop('no-route', this.rt.observed ? formatIp6(dst) : undefined);
      return 'no-route';
    }
    const h: Ipv6Header = {
      trafficClass: opts?.tos ?? 0,
      flowLabel: 0,
      payloadLength: 0,
      nextHeader: protocol,
      hopLimit: opts?.ttl ?? (isIp6Multicast(dst) ? 1 : this.hopLimit),
      src,
      dst,
    };
    if (this.taps.size > 0) {
      const pkt: Ipv6Packet = { src, dst, protocol, ttl: h.hopLimit, header: { ...h }, buf, ipStart: buf.start, [DETACH]: detachPacket };
      for (const b of this.taps.bindings) if (b.has('onSend')) this.upcall(b, 'onSend', pkt);
    }
    this.counters.sent++;
    const mtu = local ? 0xffff + IPV6_HEADER_LENGTH : this.pathMtu(dst);
    if (IPV6_HEADER_LENGTH + buf.length <= mtu) {
      writeIpv6Header(buf, h);
      return this.transmit(buf, dst, nextHop);
    }
    if (opts?.df === true) {
      buf.release();
      this.drop('needs-fragmentation', this.rt.observed ? `${IPV6_HEADER_LENGTH + buf.length} > ${mtu}` : undefined);
      return 'dropped';
    }
    return this.fragmentAndSend(buf, h, nextHop, mtu);
  });

  private fragmentAndSend(buf: PacketBuffer, h: Ipv6Header, nextHop: Ip6, mtu: number): NetSendResult {
    const chunk = (mtu - IPV6_HEADER_LENGTH - IPV6_FRAGMENT_HEADER_LENGTH) & ~7;
    const total = buf.length;
    if (chunk <= 0 || total > 0xffff - IPV6_FRAGMENT_HEADER_LENGTH) {
      buf.release();
      this.drop(chunk <= 0 ? 'mtu-too-small' : 'too-big');
      return 'dropped';
    }
    // Unpredictable identifications (RFC 7739).
    const id = this.rt.rng.u32();
    const protocol = h.nextHeader;
    h.nextHeader = IP_PROTO_IPV6_FRAG;
    const pieces: PacketBuffer[] = [];
    for (let off = chunk; off < total; off += chunk) {
      const len = Math.min(chunk, total - off);
      const fb = this.pool.alloc(len, 'ipv6 fragment');
      fb.bytes.set(buf.bytes.subarray(buf.start + off, buf.start + off + len), fb.start);
      pieces.push(fb);
    }
    buf.truncate(chunk);
    let result: NetSendResult = 'sent';
    for (let i = 0; i <= pieces.length; i++) {
      const fb = i === 0 ? buf : pieces[i - 1]!;
      const off = i * chunk;
      const more = i < pieces.length;
      const at = fb.prepend(IPV6_FRAGMENT_HEADER_LENGTH);
      const b = fb.bytes;
      b[at] = protocol;
      b[at + 1] = 0;
      const w = off | (more ? 1 : 0);
      b[at + 2] = w >>> 8;
      b[at + 3] = w;
      b[at + 4] = id >>> 24;
      b[at + 5] = id >>> 16;
      b[at + 6] = id >>> 8;
      b[at + 7] = id;
      writeIpv6Header(fb, h);
      this.counters.fragmentsSent++;
      const r = this.transmit(fb, h.dst, nextHop);
      if (i === 0) result = r;
    }
    return result;
  }

  /** `buf` holds a whole datagram; owned. */
  private transmit(buf: PacketBuffer, dst: Ip6, nextHop: Ip6): NetSendResult {
    if (this.local(dst)) {
      this.counters.loopback++;
      const clock = this.rt.clock;
      clock.schedule(clock.now(), () => {
        this.startTask('frame', () => this.input(buf, false, 0), { entry: 'loopback' });
        buf.release();
      });
      return 'sent';
    }
    if (isIp6Multicast(dst)) {
      this.link.send(buf, ip6MulticastMac(dst), ETHERTYPE_IPV6);
      return 'sent';
    }
    const b = this.resolver.bindings[0];
    if (b === undefined || this.promiscuous) {
      const mac = b !== undefined ? this.upcall(b, 'lookup', nextHop) : undefined;
      this.link.send(buf, typeof mac === 'number' ? mac : BROADCAST_MAC, ETHERTYPE_IPV6);
      return 'sent';
    }
    const r = this.upcall(b, 'output', buf, nextHop, this.link);
    if (r === 'sent' || r === 'queued' || r === 'dropped') return r;
    // A resolver behind a mailbox got a copy of the datagram; a failed one took it with its task.
    if (r === PENDING) buf.release();
    return r === FAILED ? 'dropped' : 'queued';
  }

  protected override cleanup(client: PartialDatagram | undefined, _reason: string): void {
    if (client !== undefined) this.giveUp(client, 'cleanup');
  }
}

function sameGateway(a: Ip6 | null, b: Ip6 | null): boolean {
  return a === null || b === null ? a === b : ip6Equal(a, b);
}

/** Leading bits two addresses share (0..128). */
function commonPrefix(a: Ip6, b: Ip6): number {
  for (let i = 0; i < 16; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return 128;
}

/** For a handler behind a mailbox: the whole datagram copied, so an error can still quote it. */
function detachPacket(this: Ipv6Packet): Ipv6Packet {
  const headroom = 128;
  const buf = PacketBuffer.standalone(this.buf.end - this.ipStart, headroom);
  buf.bytes.set(this.buf.bytes.subarray(this.ipStart, this.buf.end), headroom);
  buf.advance(this.buf.start - this.ipStart);
  const header: Ipv6Header = { ...this.header, src: buf.bytes.slice(headroom + 8, headroom + 24), dst: buf.bytes.slice(headroom + 24, headroom + 40) };
  return { src: header.src, dst: header.dst, protocol: this.protocol, ttl: this.ttl, header, buf, ipStart: headroom, missing: this.missing ?? 0 };
}
