/**
 * UDP (RFC 768) on IP protocol 17 over IPv4, IPv6 or both (one code path: the
 * pseudo-header is the only difference): ports bound through slots, checksums
 * both ways. A bound port receives from both families.
 *
 * A datagram for a port nobody bound is dropped and reported to the network
 * layer it came through as undeliverable (ICMP / ICMPv6 then answers port
 * unreachable). Over IPv6 the checksum is mandatory (RFC 8200 8.1): a datagram
 * without one is dropped.
 */
import { DETACH, Module, SlotTable, type Binding, type Runtime } from '../core/index.js';
import { BufferError, type PacketBuffer } from '../wire/buffer.js';
import { checksumVerifies, internetChecksum } from '../wire/checksum.js';
import { IP_PROTO_UDP } from '../wire/ipv4.js';
import { encodeUdpHeader, parseUdp, UDP_HEADER_LENGTH } from '../wire/udp.js';
import {
  familyOf,
  formatIp,
  ipOwned,
  transportPseudoSum,
  type Family,
  type IpAddress,
  type NetLower,
  type NetPacket,
  type NetSendOptions,
  type NetSendResult,
  type NetSlots,
} from './net.js';

/** What UDP needs of a network layer: all of NetLower (it reports undeliverable datagrams). */
export type UdpLower = NetLower;

export interface UdpDatagram {
  readonly src: IpAddress;
  readonly srcPort: number;
  readonly dst: IpAddress;
  readonly dstPort: number;
  readonly ttl: number;
  /** The data; a view into the frame, valid during the upcall only (copy to keep). */
  readonly payload: Uint8Array;
  /** A copy for a mailbox (queued dispatch), valid after the upcall. */
  readonly [DETACH]?: () => UdpDatagram;
}

export interface UdpSlots {
  onDatagram(d: UdpDatagram): void;
}

export interface UdpOptions {
  /** Verify checksums of received datagrams that carry one. Default true. */
  verifyChecksum?: boolean;
  /** First port handed out for `bind(0, ...)`. Default 49152. */
  ephemeralFrom?: number;
}

export interface UdpCounters {
  received: number;
  delivered: number;
  sent: number;
}

/** One bound port: the client state of the UDP module. */
export class UdpSocket {
  binding: Binding<UdpSlots> | null = null;
  constructor(
    readonly udp: Udp,
    readonly port: number,
  ) {}

  describe(): string {
    return `udp:${this.port}`;
  }

  /** Send `data` (copied) from this port, over the family of `dst`. */
  send(dst: IpAddress, dstPort: number, data: Uint8Array, opts?: NetSendOptions): NetSendResult {
    return this.udp.send(this.port, dst, dstPort, data, opts);
  }

  close(): void {
    this.udp.unbind(this);
  }
}

interface UdpShared {
  readonly ports: Map<number, { table: SlotTable<UdpSlots>; socket: UdpSocket }>;
  nextEphemeral: number;
}

export class Udp extends Module<UdpShared, UdpSocket> {
  readonly counters: UdpCounters = { received: 0, delivered: 0, sent: 0 };
  verifyChecksum: boolean;
  /** The binding on the first network layer (`bindings`: one per layer). */
  readonly binding: Binding<NetSlots>;
  readonly bindings: readonly Binding<NetSlots>[];
  /** The network layers, at most one per family; the first is the primary. */
  readonly lowers: readonly UdpLower[];
  private readonly ephemeralFrom: number;

  /** Over one network layer, or one per family (`[ip, ipv6]`). */
  constructor(rt: Runtime, lower: UdpLower | readonly UdpLower[], opts: UdpOptions = {}) {
    const from = opts.ephemeralFrom ?? 49152;
    super(rt, 'udp', { ports: new Map(), nextEphemeral: from });
    const lowers: readonly UdpLower[] = Array.isArray(lower) ? lower : [lower as UdpLower];
    if (lowers.length === 0 || lowers.length > 2 || (lowers.length === 2 && lowers[0]!.family === lowers[1]!.family)) {
      throw new RangeError('udp needs one network layer per family (one or two)');
    }
    this.lowers = lowers;
    this.ephemeralFrom = from;
    this.verifyChecksum = opts.verifyChecksum ?? true;
    this.bindings = lowers.map((l) => l.bindProtocol(IP_PROTO_UDP, this, { onPacket: (pkt) => this.receive(pkt, l) }));
    this.binding = this.bindings[0]!;
  }

  /** The network layer for a family, if UDP runs over one. */
  lowerFor(family: Family): UdpLower | undefined {
    for (const l of this.lowers) if (l.family === family) return l;
    return undefined;
  }

  /** Bind `port` (0: an ephemeral one) for `owner`. Throws if the port is taken. */
  readonly bind = this.entry('bind', 'reject', (port: number, owner: Module, handlers: Partial<UdpSlots>): UdpSocket => {
    if (!(Number.isInteger(port) && port >= 0 && port <= 0xffff)) throw new RangeError(`bad UDP port ${port}`);
    return this.lock.locked(() => {
      const ports = this.shared.ports;
      let p = port;
      if (p === 0) {
        for (let i = 0; i <= 0xffff - this.ephemeralFrom; i++) {
          const cand = this.shared.nextEphemeral;
          this.shared.nextEphemeral = cand >= 0xffff ? this.ephemeralFrom : cand + 1;
          if (!ports.has(cand)) {
            p = cand;
            break;
          }
        }
        if (p === 0) throw new RangeError('no ephemeral UDP port left');
      }
      if (ports.has(p)) throw new RangeError(`UDP port ${p} is already bound`);
      const socket = new UdpSocket(this, p);
      const table = new SlotTable<UdpSlots>(this, `port ${p}`, { onDatagram: 'one' });
      socket.binding = table.bind(owner, handlers, socket);
      ports.set(p, { table, socket });
      return socket;
    }) as UdpSocket;
  });

  readonly unbind = this.entry('unbind', 'reentrant', (socket: UdpSocket): void => {
    this.lock.locked(() => {
      const e = this.shared.ports.get(socket.port);
      if (e !== undefined && e.socket === socket) this.shared.ports.delete(socket.port);
      socket.binding?.unbind();
    });
    this.releaseClient(socket);
  });

  /** Send `data` (copied into a new buffer) from `srcPort` to `dst`:`dstPort`. */
  readonly send = this.entry(
    'send',
    'reentrant',
    (srcPort: number, dst: IpAddress, dstPort: number, data: Uint8Array, opts?: NetSendOptions): NetSendResult => {
      const lower = this.lowerFor(familyOf(dst));
      if (lower === undefined) {
        this.drop('no-route', this.rt.observed ? `no IPv${familyOf(dst)} for ${formatIp(dst)}` : undefined);
        return 'no-route';
      }
      const buf = lower.alloc(data.length, 'udp');
      buf.bytes.set(data, buf.start);
      return this.sendBuffer(srcPort, dst, dstPort, buf, opts);
    },
  );

  /** Zero-copy send: `buf` (from the family's `alloc`) holds the data; ownership passes to UDP. */
  readonly sendBuffer = this.entry(
    'sendBuffer',
    'reentrant',
    (srcPort: number, dst: IpAddress, dstPort: number, buf: PacketBuffer, opts?: NetSendOptions): NetSendResult => {
      const lower = this.lowerFor(familyOf(dst));
      const src = opts?.src ?? lower?.sourceFor(dst);
      if (lower === undefined || src === undefined || familyOf(src) !== familyOf(dst)) {
        buf.release();
        this.drop('no-route');
        return 'no-route';
      }
      const length = UDP_HEADER_LENGTH + buf.length;
      if (length > 0xffff) throw new BufferError(`UDP datagram of ${length} bytes exceeds 65535`);
      const start = buf.prepend(UDP_HEADER_LENGTH);
      const bytes = buf.bytes;
      encodeUdpHeader(bytes, start, { srcPort, dstPort, length, checksum: 0 });
      // A sum of 0 goes as all ones: 0 means "no checksum" (and is refused over IPv6).
      const c = internetChecksum(bytes, start, length, transportPseudoSum(src, dst, IP_PROTO_UDP, length));
      const sum = c === 0 ? 0xffff : c;
      bytes[start + 6] = sum >>> 8;
      bytes[start + 7] = sum;
      this.counters.sent++;
      return lower.send(dst, IP_PROTO_UDP, buf, opts?.src !== undefined ? opts : { ...opts, src });
    },
  );

  /** Bound ports, ascending. */
  ports(): number[] {
    return [...this.shared.ports.keys()].sort((a, b) => a - b);
  }

  private receive(pkt: NetPacket, lower: UdpLower): void {
    this.counters.received++;
    const buf = pkt.buf;
    const bytes = buf.bytes;
    const off = buf.start;
    const r = parseUdp(bytes, off, buf.length);
    if (!r.ok) {
      this.drop(r.reason);
      return;
    }
    const h = r.header;
    if (h.checksum === 0 && typeof pkt.src !== 'number') {
      this.drop('no-checksum-v6');
      return;
    }
    if (this.verifyChecksum && h.checksum !== 0 && !checksumVerifies(bytes, off, h.length, transportPseudoSum(pkt.src, pkt.dst, IP_PROTO_UDP, h.length))) {
      this.drop('bad-checksum');
      return;
    }
    const e = this.shared.ports.get(h.dstPort);
    const b = e?.table.bindings[0];
    if (b === undefined) {
      this.drop('no-port', this.rt.observed ? String(h.dstPort) : undefined);
      lower.unreachable(pkt, 3);
      return;
    }
    this.counters.delivered++;
    this.claim(e!.socket);
    const payload = bytes.subarray(off + 8, off + h.length);
    // IPv6 addresses are views into the packet: the datagram outlives it in a handler's hands.
    const d: UdpDatagram = {
      src: ipOwned(pkt.src),
      srcPort: h.srcPort,
      dst: ipOwned(pkt.dst),
      dstPort: h.dstPort,
      ttl: pkt.ttl,
      payload,
      [DETACH]: detachDatagram,
    };
    this.upcall(b, 'onDatagram', d);
  }
}

function detachDatagram(this: UdpDatagram): UdpDatagram {
  return { src: this.src, srcPort: this.srcPort, dst: this.dst, dstPort: this.dstPort, ttl: this.ttl, payload: this.payload.slice() };
}
