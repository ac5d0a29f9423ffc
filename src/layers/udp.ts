/**
 * UDP (RFC 768) on IP protocol 17: ports bound through slots, checksums both ways.
 *
 * A datagram for a port nobody bound is dropped and reported to IP as
 * undeliverable (ICMP then answers port unreachable).
 */
import { DETACH, Module, SlotTable, type Binding, type Runtime } from '../core/index.js';
import type { Ip4 } from '../wire/addr.js';
import type { PacketBuffer } from '../wire/buffer.js';
import { IP_PROTO_UDP } from '../wire/ipv4.js';
import { parseUdp, udpChecksumOk, writeUdpHeader } from '../wire/udp.js';
import type { Ip, IpPacket, IpSlots, SendOptions, SendResult } from './ip.js';

export interface UdpDatagram {
  readonly src: Ip4;
  readonly srcPort: number;
  readonly dst: Ip4;
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

  /** Send `data` (copied) from this port. */
  send(dst: Ip4, dstPort: number, data: Uint8Array, opts?: SendOptions): SendResult {
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
  readonly binding: Binding<IpSlots>;
  private readonly ephemeralFrom: number;

  constructor(
    rt: Runtime,
    readonly ip: Ip,
    opts: UdpOptions = {},
  ) {
    const from = opts.ephemeralFrom ?? 49152;
    super(rt, 'udp', { ports: new Map(), nextEphemeral: from });
    this.ephemeralFrom = from;
    this.verifyChecksum = opts.verifyChecksum ?? true;
    this.binding = ip.bindProtocol(IP_PROTO_UDP, this, { onPacket: (pkt) => this.receive(pkt) });
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
  readonly send = this.entry('send', 'reentrant', (srcPort: number, dst: Ip4, dstPort: number, data: Uint8Array, opts?: SendOptions): SendResult => {
    const buf = this.ip.alloc(data.length, 'udp');
    buf.bytes.set(data, buf.start);
    return this.sendBuffer(srcPort, dst, dstPort, buf, opts);
  });

  /** Zero-copy send: `buf` (from `ip.alloc`) holds the data; ownership passes to UDP. */
  readonly sendBuffer = this.entry(
    'sendBuffer',
    'reentrant',
    (srcPort: number, dst: Ip4, dstPort: number, buf: PacketBuffer, opts?: SendOptions): SendResult => {
      const src = opts?.src ?? this.ip.sourceFor(dst);
      if (src === undefined) {
        buf.release();
        this.drop('no-route');
        return 'no-route';
      }
      writeUdpHeader(buf, { srcPort, dstPort, length: 0, checksum: 0 }, src, dst);
      this.counters.sent++;
      return this.ip.send(dst, IP_PROTO_UDP, buf, opts?.src !== undefined ? opts : { ...opts, src });
    },
  );

  /** Bound ports, ascending. */
  ports(): number[] {
    return [...this.shared.ports.keys()].sort((a, b) => a - b);
  }

  private receive(pkt: IpPacket): void {
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
    if (this.verifyChecksum && h.checksum !== 0 && !udpChecksumOk(bytes, off, h.length, pkt.src, pkt.dst)) {
      this.drop('bad-checksum');
      return;
    }
    const e = this.shared.ports.get(h.dstPort);
    const b = e?.table.bindings[0];
    if (b === undefined) {
      this.drop('no-port', this.rt.observed ? String(h.dstPort) : undefined);
      this.ip.unreachable(pkt, 3);
      return;
    }
    this.counters.delivered++;
    this.claim(e!.socket);
    const payload = bytes.subarray(off + 8, off + h.length);
    const d: UdpDatagram = {
      src: pkt.src,
      srcPort: h.srcPort,
      dst: pkt.dst,
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
