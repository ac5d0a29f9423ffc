/**
 * IPv4: routing, protocol demultiplexing, fragmentation and reassembly.
 *
 * Receive: the link layer upcalls `onFrame` with the buffer at the IP header.
 * IP checks the header (every malformed case is a counted drop with a reason),
 * trims link padding, reassembles fragments, and upcalls the one handler bound
 * for the packet's protocol number with the buffer advanced to the payload.
 * Nothing is copied except fragments, which must outlive their frames.
 *
 * Promiscuous mode (replay) also takes datagrams as a capture shows them, as
 * Wireshark does: an unfragmented datagram shorter than its total length is
 * delivered with the bytes there are (`IpPacket.missing` says how many the wire
 * had beyond them when the link reports the frame was cut by the snaplen), and
 * a total length of 0 (captures taken with segmentation offload, where the NIC
 * fills it in later) is taken to be the captured length. A cut fragment is
 * still dropped: reassembly needs every byte. The captured bytes are never
 * rewritten. Live IP accepts neither.
 *
 * Send: a transport hands over a buffer holding its header and payload with
 * headroom in front; IP writes its header there, picks the next hop from the
 * routing table, and hands the buffer to the resolver (ARP) and the link. IP
 * owns the buffer from the call on, and releases it when it is sent or dropped.
 *
 * IP is built on the LinkLayer interface, not on the Nic class: anything that
 * offers the NIC's ethertype slot and a send (a packet filter, a tunnel) can sit
 * underneath. It never imports the modules above it: ICMP learns about
 * undeliverable packets through the `errors` slot it binds.
 */
import { DETACH, FAILED, Module, SlotTable, type Binding, type Runtime } from '../core/index.js';
import { BROADCAST_MAC, formatIp4, ip4InSubnet, IP4_BROADCAST, type Ip4, type Mac } from '../wire/addr.js';
import { EMPTY_BYTES, type BufferPool, type PacketBuffer, type ParseResult } from '../wire/buffer.js';
import { ETHERTYPE_IPV4 } from '../wire/ethernet.js';
import {
  IPV4_FLAG_DF,
  IPV4_FLAG_MF,
  IPV4_MIN_HEADER_LENGTH,
  ipv4ChecksumOk,
  ipv4IsFragment,
  parseIpv4,
  writeIpv4Header,
  type Ipv4Header,
} from '../wire/ipv4.js';
import type { Resolver } from './arp.js';
import { reassemblyKey, Reassembler, type PartialDatagram } from './ip-reassembly.js';
import { bindLocked, bindUpperProtocol, netTapTable, type ProtocolNaming } from './net-binding.js';
import type { EthertypeSlots, LinkLayer } from './nic/nic.js';

/** A received datagram, as handed to the protocol above. Valid during the upcall only. */
export interface IpPacket {
  readonly src: Ip4;
  readonly dst: Ip4;
  readonly protocol: number;
  readonly ttl: number;
  /** The parsed header (after reassembly: the first fragment's, with offset 0 and MF clear). */
  readonly header: Ipv4Header;
  /** `buf.start` = first payload byte, `buf.end` = end of the IP payload. Handlers must not move them for others (taps). */
  readonly buf: PacketBuffer;
  /**
   * Bytes of this datagram the wire carried beyond `buf.end` but the capture
   * did not keep (snaplen): promiscuous IP on a capture link only; 0 or absent otherwise.
   */
  readonly missing?: number;
  /** A copy for a mailbox (queued dispatch), valid after the upcall. */
  readonly [DETACH]?: () => IpPacket;
}

export interface IpSlots {
  onPacket(pkt: IpPacket): void;
}

/** Fan-out observers of IP traffic. */
export interface IpTapSlots {
  /** A datagram delivered to this host (before demultiplexing). */
  onPacket(pkt: IpPacket): void;
  /** A datagram this host sends, before fragmentation: `pkt.buf` holds the payload, `pkt.header` the header to be written. */
  onSend(pkt: IpPacket): void;
}

/** How IP reports a datagram it could not deliver (ICMP binds it and answers with an error). */
export interface IpErrorSlots {
  /** `code`: an ICMP destination-unreachable code (2 protocol, 3 port...). `pkt.buf` is at the payload. */
  onUndeliverable(pkt: IpPacket, code: number): void;
}

export type SendResult = 'sent' | 'queued' | 'no-route' | 'dropped';

export interface SendOptions {
  ttl?: number;
  /** Type of service byte (DSCP << 2 | ECN). */
  tos?: number;
  /** Don't fragment: a datagram above the MTU is dropped instead. */
  df?: boolean;
  src?: Ip4;
}

export interface Route {
  readonly network: Ip4;
  readonly prefixLength: number;
  /** Next hop; 0 for a directly connected network. */
  readonly gateway: Ip4;
}

export interface IpOptions {
  address: Ip4;
  prefixLength: number;
  /** Default route via this address. */
  gateway?: Ip4;
  /** Default: the link's MTU. */
  mtu?: number;
  /** TTL of datagrams we send. Default 64. */
  ttl?: number;
  /** Replay mode: deliver every datagram whatever its destination, never answer with ICMP, never resolve. */
  promiscuous?: boolean;
  /** Verify header checksums (default true; false for captures with checksum offload). */
  verifyChecksum?: boolean;
  /** Default 30 s. */
  reassemblyTimeoutMs?: number;
  /** Bytes of fragments held at most; the oldest datagrams are given up beyond it. Default 256 KiB. */
  reassemblyMaxBytes?: number;
  /** Datagrams reassembled at once at most. Default 64. */
  reassemblyMaxDatagrams?: number;
  /** Headroom a transport asks for in `alloc`. Default 128. */
  headroom?: number;
}

export interface IpCounters {
  received: number;
  /** Datagrams handed to a bound protocol handler. */
  delivered: number;
  sent: number;
  fragmentsSent: number;
  fragmentsReceived: number;
  /** Fragments kept aside for reassembly. */
  fragmentsHeld: number;
  reassembled: number;
  loopback: number;
  /** Promiscuous only: unfragmented datagrams the snaplen cut, delivered as far as captured. */
  snaplenCut: number;
  /** Promiscuous only: unfragmented datagrams claiming more than their whole (uncut) frame holds, taken as they are. */
  shortFrames: number;
  /** Promiscuous only: datagrams with total length 0 (segmentation offload), taken at their frame's length. */
  offloadLength: number;
  /** Promiscuous only: datagrams with total length 0 and more than 65535 bytes ("BIG TCP"), taken at their frame's length. */
  bigTcp: number;
}

interface IpShared {
  readonly protocols: Map<number, SlotTable<IpSlots>>;
  routes: Route[];
  nextId: number;
  readonly reassembly: Reassembler;
}

const IP_PROTOCOL_NAMING: ProtocolNaming = { field: 'IP protocol number', table: 'protocol' };
const LOOPBACK_NET = 0x7f00_0000;
/** Fragments one datagram may arrive in (a 64 KiB datagram over a 576-byte MTU takes 117). */
const MAX_FRAGMENTS = 256;

function isMulticast(ip: Ip4): boolean {
  return ip >>> 28 === 0xe;
}

export class Ip extends Module<IpShared, PartialDatagram> {
  /** The address family, for transports built over several network layers (net.ts). */
  readonly family = 4 as const;
  readonly address: Ip4;
  readonly prefixLength: number;
  readonly mtu: number;
  readonly defaultTtl: number;
  promiscuous: boolean;
  verifyChecksum: boolean;
  readonly reassemblyTimeoutMs: number;
  readonly reassemblyMaxBytes: number;
  readonly reassemblyMaxDatagrams: number;
  readonly headroom: number;
  readonly counters: IpCounters = {
    received: 0, delivered: 0, sent: 0, fragmentsSent: 0, fragmentsReceived: 0, fragmentsHeld: 0, reassembled: 0, loopback: 0,
    snaplenCut: 0, shortFrames: 0, offloadLength: 0, bigTcp: 0,
  };
  readonly binding: Binding<EthertypeSlots>;
  private readonly taps = netTapTable<IpTapSlots>(this);
  private readonly errors = new SlotTable<IpErrorSlots>(this, 'errors', { onUndeliverable: 'one' });
  private readonly subnetBroadcast: Ip4;
  /** A header whose total length reads 0 is parsed from a copy here (promiscuous only): the capture is not rewritten. */
  private readonly offloadScratch = new Uint8Array(60);
  /** Reused for every header we write. */
  private readonly txHeader: Ipv4Header = {
    dscp: 0, ecn: 0, totalLength: 0, identification: 0, flags: 0, fragmentOffset: 0, ttl: 64, protocol: 0, checksum: 0,
    src: 0, dst: 0, options: EMPTY_BYTES,
  };

  constructor(
    rt: Runtime,
    readonly link: LinkLayer,
    /** Next-hop resolution (ARP); null on a link without one: frames go to the broadcast MAC. */
    readonly resolver: Resolver | null,
    readonly pool: BufferPool,
    opts: IpOptions,
  ) {
    super(rt, 'ip', { protocols: new Map(), routes: [], nextId: rt.rng.int(0x10000), reassembly: new Reassembler(pool) });
    this.address = opts.address;
    this.prefixLength = opts.prefixLength;
    this.mtu = opts.mtu ?? link.mtu;
    this.defaultTtl = opts.ttl ?? 64;
    this.promiscuous = opts.promiscuous ?? false;
    this.verifyChecksum = opts.verifyChecksum ?? true;
    this.reassemblyTimeoutMs = opts.reassemblyTimeoutMs ?? 30_000;
    this.reassemblyMaxBytes = opts.reassemblyMaxBytes ?? 256 * 1024;
    this.reassemblyMaxDatagrams = opts.reassemblyMaxDatagrams ?? 64;
    this.headroom = opts.headroom ?? 128;
    const mask = this.prefixLength <= 0 ? 0 : this.prefixLength >= 32 ? 0xffff_ffff : (0xffff_ffff << (32 - this.prefixLength)) >>> 0;
    this.subnetBroadcast = (this.address | ~mask) >>> 0;
    if (this.prefixLength > 0 && this.prefixLength < 32) this.shared.routes.push({ network: (this.address & mask) >>> 0, prefixLength: this.prefixLength, gateway: 0 });
    if (opts.gateway !== undefined && opts.gateway !== 0) this.shared.routes.push({ network: 0, prefixLength: 0, gateway: opts.gateway });
    this.sortRoutes();
    this.binding = link.bindEthertype(ETHERTYPE_IPV4, this, { onFrame: (buf, _eth, wireMissing) => this.input(buf, true, wireMissing) });
  }

  // ---- binding -------------------------------------------------------------

  /** Bind the handler for one IP protocol number (1 ICMP, 6 TCP, 17 UDP, or any other). */
  readonly bindProtocol = this.entry('bindProtocol', 'reject', (protocol: number, owner: Module, handlers: Partial<IpSlots>): Binding<IpSlots> =>
    bindUpperProtocol(this, this.shared.protocols, IP_PROTOCOL_NAMING, protocol, owner, handlers));

  /** Observe every datagram delivered and sent. */
  readonly tap = this.entry('tap', 'reject', (owner: Module, handlers: Partial<IpTapSlots>): Binding<IpTapSlots> => bindLocked(this, this.taps, owner, handlers));

  /** Receive reports of undeliverable datagrams (ICMP does, to answer with errors). */
  readonly bindErrors = this.entry('bindErrors', 'reject', (owner: Module, handlers: Partial<IpErrorSlots>): Binding<IpErrorSlots> =>
    bindLocked(this, this.errors, owner, handlers));

  // ---- routing -------------------------------------------------------------

  readonly addRoute = this.entry('addRoute', 'reject', (network: Ip4, prefixLength: number, gateway: Ip4 = 0): void => {
    this.lock.locked(() => {
      this.shared.routes.push({ network, prefixLength, gateway });
      this.sortRoutes();
    });
  });

  readonly removeRoute = this.entry('removeRoute', 'reject', (network: Ip4, prefixLength: number): boolean => {
    return this.lock.locked(() => {
      const before = this.shared.routes.length;
      this.shared.routes = this.shared.routes.filter((r) => !(r.network === network && r.prefixLength === prefixLength));
      return this.shared.routes.length !== before;
    }) as boolean;
  });

  /** The routing table, longest prefix first. */
  readonly routes = this.query('routes', (): readonly Route[] => this.shared.routes);

  /** The route `dst` takes, or undefined. */
  readonly route = this.query('route', (dst: Ip4): Route | undefined => this.findRoute(dst));

  /** The lookup itself: IP's own send asks it directly, not through the query (once a datagram). */
  private findRoute(dst: Ip4): Route | undefined {
    for (const r of this.shared.routes) if (ip4InSubnet(dst, r.network, r.prefixLength)) return r;
    return undefined;
  }

  /** Source address a datagram to `dst` gets (undefined: no route). */
  readonly sourceFor = this.query('sourceFor', (dst: Ip4): Ip4 | undefined => {
    if (this.isLocal(dst) || this.isBroadcast(dst)) return this.address;
    return this.route(dst) !== undefined ? this.address : undefined;
  });

  /** MTU toward `dst` (one interface: the link's). */
  readonly pathMtu = this.query('pathMtu', (_dst: Ip4): number => this.mtu);

  /**
   * An upper layer saw forward progress with `dst` (TCP: new data acknowledged),
   * so the next hop toward it is reachable: its resolver need not probe it.
   */
  readonly confirmReachable = this.entry('confirmReachable', 'reentrant', (dst: Ip4): void => {
    const r = this.route(dst);
    const resolver = this.resolver;
    if (r === undefined || resolver === null || resolver.confirm === undefined) return;
    resolver.confirm(r.gateway === 0 ? dst : r.gateway);
  });

  /**
   * A buffer from the host's pool with room in front for every header below a
   * transport. An entry, not a query: it takes a buffer from the pool. It
   * calls nothing, so it is safe at any depth.
   */
  readonly alloc = this.entry('alloc', 'reentrant', (payloadLength: number, label: string = 'ip alloc'): PacketBuffer => {
    const buf = this.pool.alloc(payloadLength, label);
    if (buf.headroom < this.headroom) throw new RangeError(`pool headroom ${buf.headroom} < ${this.headroom}`);
    return buf;
  });

  isLocal(ip: Ip4): boolean {
    return ip === this.address || ip >>> 24 === LOOPBACK_NET >>> 24;
  }

  isBroadcast(ip: Ip4): boolean {
    return ip === IP4_BROADCAST || (ip === this.subnetBroadcast && this.prefixLength < 31);
  }

  /** Datagrams being reassembled, and the bytes they hold. */
  reassemblyState(): { datagrams: number; bytes: number } {
    const r = this.shared.reassembly;
    return { datagrams: r.size, bytes: r.held };
  }

  // ---- receive -------------------------------------------------------------

  /**
   * A datagram from the link (or the loopback), `buf.start` at the IP header;
   * `wireMissing`: bytes of the frame the link saw on the wire but not captured.
   */
  private input(buf: PacketBuffer, fromLink: boolean, wireMissing = 0): void {
    this.counters.received++;
    const bytes = buf.bytes;
    const off = buf.start;
    const have = buf.length;
    const r = this.promiscuous ? this.parseCaptured(bytes, off, have, wireMissing) : parseIpv4(bytes, off, have);
    if (!r.ok) {
      this.drop(r.reason);
      return;
    }
    const h = r.header;
    const hl = r.headerLength;
    if (this.verifyChecksum && !ipv4ChecksumOk(bytes, off, hl)) {
      this.drop('bad-checksum');
      return;
    }
    // Our own or a loopback source can only come from inside the host (RFC 1122 3.2.1.3).
    if (h.src === IP4_BROADCAST || isMulticast(h.src) || (fromLink && this.isLocal(h.src) && !this.promiscuous)) {
      this.drop('bad-source', this.rt.observed ? formatIp4(h.src) : undefined);
      return;
    }
    const dst = h.dst;
    const forUs = dst === this.address || this.isBroadcast(dst) || (!fromLink && this.isLocal(dst));
    if (!forUs && !this.promiscuous) {
      // A host does not forward: a datagram for someone else stops here.
      this.drop('not-for-us', this.rt.observed ? formatIp4(dst) : undefined);
      return;
    }
    let missing = 0;
    if (h.totalLength > have) {
      // Only a promiscuous parse lets a datagram longer than its bytes through.
      if (ipv4IsFragment(h)) {
        this.drop('truncated', this.rt.observed ? `fragment of ${h.totalLength} bytes cut to ${have}` : undefined);
        return;
      }
      if (wireMissing > 0) {
        // The wire carried the rest: the layers above count it as sent and not captured.
        missing = h.totalLength - have;
        this.counters.snaplenCut++;
        if (this.rt.observed) this.note(`snaplen cut ${missing} of the datagram's ${h.totalLength} bytes`);
      } else {
        // The whole frame is here and holds less than the header claims: what is there is all there was.
        this.counters.shortFrames++;
        if (this.rt.observed) this.note(`IP total length ${h.totalLength} exceeds the frame's ${have} bytes: taken as ${have}`);
      }
    } else {
      buf.truncate(h.totalLength);
    }
    if (ipv4IsFragment(h)) {
      this.fragment(buf, h, hl);
      return;
    }
    buf.advance(hl);
    this.deliver(h, buf, missing);
  }

  /**
   * The promiscuous parse: the datagram may be cut (its total length beyond
   * `have`), and a total length of 0 reads as the frame's length on the wire
   * (`have` + `wireMissing`), as Wireshark does: segmentation offload left it
   * to the NIC, or a "BIG TCP" datagram (Linux GSO/GRO beyond 64 KiB) has a
   * length that 16 bits cannot hold.
   */
  private parseCaptured(bytes: Uint8Array, off: number, have: number, wireMissing: number): ParseResult<Ipv4Header> {
    if (have < IPV4_MIN_HEADER_LENGTH || bytes[off + 2] !== 0 || bytes[off + 3] !== 0) return parseIpv4(bytes, off, have, false);
    const hl = (bytes[off]! & 0x0f) * 4;
    if (bytes[off]! >>> 4 !== 4 || hl < IPV4_MIN_HEADER_LENGTH || hl > have) return parseIpv4(bytes, off, have, false);
    // Parse a copy of the header with a placeholder length (the capture is not rewritten), then put the real one in.
    const scratch = this.offloadScratch;
    scratch.set(bytes.subarray(off, off + hl));
    scratch[2] = 0;
    scratch[3] = hl;
    const r = parseIpv4(scratch, 0, hl, false);
    if (r.ok) {
      const length = have + wireMissing;
      r.header.totalLength = length;
      // The options must be the datagram's own bytes, not the scratch copy.
      if (hl > IPV4_MIN_HEADER_LENGTH) r.header.options = bytes.subarray(off + IPV4_MIN_HEADER_LENGTH, off + hl);
      if (length > 0xffff) {
        this.counters.bigTcp++;
        if (this.rt.observed) this.note(`ip total length 0 (BIG TCP): taken as the frame's ${length} bytes`);
      } else {
        this.counters.offloadLength++;
        if (this.rt.observed) this.note(`ip total length 0 (offload): taken as the frame's ${length} bytes`);
      }
    }
    return r;
  }

  private fragment(buf: PacketBuffer, h: Ipv4Header, hl: number): void {
    this.counters.fragmentsReceived++;
    const len = h.totalLength - hl;
    if (len === 0 || ((h.flags & IPV4_FLAG_MF) !== 0 && len % 8 !== 0) || h.fragmentOffset + len + hl > 0xffff) {
      this.drop('bad-fragment');
      return;
    }
    const ra = this.shared.reassembly;
    const key = reassemblyKey(h.src, h.dst, h.protocol, h.identification);
    let d = ra.get(key);
    if (d === undefined) {
      if (len > this.reassemblyMaxBytes) {
        this.drop('reassembly-overflow');
        return;
      }
      while (ra.size > 0 && (ra.size >= this.reassemblyMaxDatagrams || ra.held + len > this.reassemblyMaxBytes)) this.giveUp(ra.oldest()!, 'reassembly-overflow');
      d = ra.open(key, h, this.rt.clock.now());
      const dd = d;
      const t = this.timer(dd, 'reassembly', () => this.giveUp(dd, 'reassembly-timeout'));
      dd.timer = t;
      t.arm(this.reassemblyTimeoutMs);
    } else {
      while (ra.held + len > this.reassemblyMaxBytes) {
        const old = ra.oldest()!;
        this.giveUp(old, 'reassembly-overflow');
        if (old === d) {
          this.drop('reassembly-overflow');
          return;
        }
      }
    }
    if (d.pieces.length >= MAX_FRAGMENTS) {
      // Thousands of tiny fragments would make every arrival a long walk.
      this.drop('too-many-fragments');
      this.giveUp(d, 'bad-fragment');
      return;
    }
    const res = ra.add(d, h, buf.bytes.subarray(buf.start + hl, buf.end));
    switch (res.kind) {
      case 'held':
        this.counters.fragmentsHeld++;
        return;
      case 'duplicate':
        this.drop('duplicate-fragment');
        return;
      case 'inconsistent':
        this.drop('bad-fragment');
        this.giveUp(d, 'bad-fragment');
        return;
      case 'complete':
        this.counters.reassembled++;
        this.releaseClient(d);
        try {
          this.deliver(res.header, res.buf, 0);
        } finally {
          res.buf.release();
        }
    }
  }

  /** Abandon a partial datagram (timeout, memory bound, inconsistency): one counted drop. */
  private giveUp(d: PartialDatagram, reason: string): void {
    if (this.shared.reassembly.get(d.key) !== d) return;
    this.shared.reassembly.discard(d);
    this.releaseClient(d);
    if (reason !== 'bad-fragment') this.drop(reason, this.rt.observed ? d.key : undefined);
  }

  private deliver(h: Ipv4Header, buf: PacketBuffer, missing: number): void {
    const pkt: IpPacket = new ReceivedPacket(h, buf, missing);
    if (this.taps.size > 0) {
      for (const b of this.taps.bindings) {
        if (b.has('onPacket') && this.upcall(b, 'onPacket', pkt) === FAILED) return;
      }
    }
    const b = this.shared.protocols.get(h.protocol)?.bindings[0];
    if (b === undefined) {
      this.drop('no-protocol', this.rt.observed ? String(h.protocol) : undefined);
      if (h.dst === this.address) this.unreachable(pkt, 2);
      return;
    }
    this.counters.delivered++;
    this.upcall(b, 'onPacket', pkt);
  }

  /**
   * Report that `pkt` (received, `buf` at its payload) could not be delivered:
   * the module bound to the error slot (ICMP) answers with destination
   * unreachable `code`. Nothing in promiscuous mode or for broadcasts.
   */
  readonly unreachable = this.entry('unreachable', 'reentrant', (pkt: IpPacket, code: number): void => {
    if (this.promiscuous || pkt.dst !== this.address) return;
    const b = this.errors.bindings[0];
    if (b !== undefined) this.upcall(b, 'onUndeliverable', pkt, code);
  });

  // ---- send ----------------------------------------------------------------

  /**
   * Send `buf` (transport header + payload, with headroom) to `dst` as `protocol`.
   * Takes ownership of the buffer. Re-entrant: a handler above may send while IP
   * is on its task's path (an echo, an ACK).
   */
  readonly send = this.entry('send', 'reentrant', (dst: Ip4, protocol: number, buf: PacketBuffer, opts?: SendOptions): SendResult => {
    const local = this.isLocal(dst);
    const bcast = this.isBroadcast(dst);
    const route = local || bcast ? undefined : this.findRoute(dst);
    if (!local && !bcast && route === undefined) {
      buf.release();
      this.drop('no-route', this.rt.observed ? formatIp4(dst) : undefined);
      return 'no-route';
    }
    const h = this.txHeader;
    const tos = opts?.tos ?? 0;
    h.dscp = tos >>> 2;
    h.ecn = tos & 3;
    h.ttl = opts?.ttl ?? this.defaultTtl;
    h.protocol = protocol;
    h.src = opts?.src ?? this.address;
    h.dst = dst;
    h.identification = this.shared.nextId;
    this.shared.nextId = (this.shared.nextId + 1) & 0xffff;
    h.flags = opts?.df === true ? IPV4_FLAG_DF : 0;
    h.fragmentOffset = 0;
    h.totalLength = IPV4_MIN_HEADER_LENGTH + buf.length;
    if (this.taps.size > 0) {
      const pkt: IpPacket = { src: h.src, dst, protocol, ttl: h.ttl, header: { ...h }, buf, [DETACH]: detachPacket };
      for (const b of this.taps.bindings) if (b.has('onSend')) this.upcall(b, 'onSend', pkt);
    }
    this.counters.sent++;
    const nextHop = route === undefined || route.gateway === 0 ? dst : route.gateway;
    if (IPV4_MIN_HEADER_LENGTH + buf.length <= this.mtu || local) {
      writeIpv4Header(buf, h);
      return this.transmit(buf, dst, nextHop);
    }
    if (opts?.df === true) {
      buf.release();
      this.drop('needs-fragmentation', this.rt.observed ? `${IPV4_MIN_HEADER_LENGTH + buf.length} > ${this.mtu}` : undefined);
      return 'dropped';
    }
    return this.fragmentAndSend(buf, h, dst, nextHop);
  });

  private fragmentAndSend(buf: PacketBuffer, h: Ipv4Header, dst: Ip4, nextHop: Ip4): SendResult {
    const chunk = (this.mtu - IPV4_MIN_HEADER_LENGTH) & ~7;
    const total = buf.length;
    if (chunk <= 0) {
      buf.release();
      this.drop('mtu-too-small');
      return 'dropped';
    }
    // Later fragments are copied out first; the first fragment reuses the buffer.
    const rest: PacketBuffer[] = [];
    for (let off = chunk; off < total; off += chunk) {
      const len = Math.min(chunk, total - off);
      const fb = this.pool.alloc(len, 'ip fragment');
      fb.bytes.set(buf.bytes.subarray(buf.start + off, buf.start + off + len), fb.start);
      rest.push(fb);
    }
    const flags = h.flags;
    buf.truncate(chunk);
    h.flags = flags | IPV4_FLAG_MF;
    h.fragmentOffset = 0;
    writeIpv4Header(buf, h);
    this.counters.fragmentsSent++;
    const result = this.transmit(buf, dst, nextHop);
    for (let i = 0; i < rest.length; i++) {
      const fb = rest[i]!;
      const off = chunk * (i + 1);
      h.fragmentOffset = off;
      h.flags = off + fb.length < total ? flags | IPV4_FLAG_MF : flags;
      writeIpv4Header(fb, h);
      this.counters.fragmentsSent++;
      this.transmit(fb, dst, nextHop);
    }
    return result;
  }

  /** `buf` holds a whole datagram (header written); owned. */
  private transmit(buf: PacketBuffer, dst: Ip4, nextHop: Ip4): SendResult {
    if (this.isLocal(dst)) {
      this.counters.loopback++;
      // Delivered on the clock as a task of its own, as if it had come from a wire.
      const clock = this.rt.clock;
      clock.schedule(clock.now(), () => {
        this.startTask('frame', () => this.input(buf, false), { entry: 'loopback' });
        buf.release();
      });
      return 'sent';
    }
    if (this.isBroadcast(dst)) {
      this.link.send(buf, BROADCAST_MAC, ETHERTYPE_IPV4);
      return 'sent';
    }
    const resolver = this.resolver;
    if (resolver === null || this.promiscuous) {
      const mac: Mac = resolver?.lookup(nextHop) ?? BROADCAST_MAC;
      this.link.send(buf, mac, ETHERTYPE_IPV4);
      return 'sent';
    }
    return resolver.output(buf, nextHop, ETHERTYPE_IPV4, this.link);
  }

  protected override cleanup(client: PartialDatagram | undefined, _reason: string): void {
    if (client !== undefined) this.giveUp(client, 'cleanup');
  }

  private sortRoutes(): void {
    this.shared.routes.sort((a, b) => b.prefixLength - a.prefixLength);
  }
}

/**
 * A datagram delivered up. A class rather than an object literal: a literal
 * with the computed DETACH key is built by a runtime call, about twice the
 * cost of a constructor, once per datagram.
 */
class ReceivedPacket implements IpPacket {
  readonly src: Ip4;
  readonly dst: Ip4;
  readonly protocol: number;
  readonly ttl: number;
  constructor(
    readonly header: Ipv4Header,
    readonly buf: PacketBuffer,
    readonly missing: number,
  ) {
    this.src = header.src;
    this.dst = header.dst;
    this.protocol = header.protocol;
    this.ttl = header.ttl;
  }

  [DETACH](): IpPacket {
    return detachPacket.call(this);
  }
}

/** For a handler behind a mailbox: the packet and its bytes, detached from the frame. */
function detachPacket(this: IpPacket): IpPacket {
  const header = { ...this.header, options: this.header.options.slice() };
  return { src: this.src, dst: this.dst, protocol: this.protocol, ttl: this.ttl, header, buf: this.buf[DETACH](), missing: this.missing ?? 0 };
}
