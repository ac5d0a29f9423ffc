/**
 * The boundary between the network group (NIC, ARP, IP, ICMP) and the
 * transport group (TCP, UDP) when they run in different threads: a pair of
 * proxy modules, one on each side, turning IP's `onPacket` upcalls and the
 * transports' `send` downcalls into messages.
 *
 * What a crossing costs, and why:
 *  - up: IP lends the datagram for the upcall (its memory is the NIC's frame),
 *    so IpExport copies the payload into memory of its own and transfers that;
 *  - down: a transport hands `send` a buffer it gives up (TcpLower's contract),
 *    so IpImport allocates every buffer in memory of its own and transfers it
 *    whole: no copy, the IP side writes its header into the same headroom;
 *  - `send` returns 'sent' at once: the IP group's answer would come a turn
 *    later, and no transport here acts on it beyond counting;
 *  - address, route and MTU questions are answered on the transport side from
 *    the configuration the IP group published at start (as a process-per-layer
 *    stack caches them), so a segment never waits for a round trip.
 */
import { Module, SlotTable, type Binding, type Runtime } from '../../core/index.js';
import { ip4InSubnet, type Ip4 } from '../../wire/addr.js';
import { PacketBuffer } from '../../wire/buffer.js';
import { EMPTY_BYTES } from '../../wire/buffer.js';
import type { Ipv4Header } from '../../wire/ipv4.js';
import type { Ip, IpPacket, IpSlots, SendOptions, SendResult } from '../../layers/ip.js';
import type { TcpLower } from '../../layers/tcp/lower.js';
import { Channel, ownCopy, type Message } from './channel.js';

/** Message kinds on the IP boundary. */
export const IP_PKT = 1;
export const IP_SEND = 2;
export const IP_UNREACH = 3;
export const IP_RETURN = 4;

/**
 * A segment's memory lent by the transport group: when IP is done with it
 * (sent or dropped), it goes back to the transport group for its next
 * segment, riding with the next batch that crosses anyway.
 */
class LentBuffer extends PacketBuffer {
  constructor(
    bytes: Uint8Array,
    start: number,
    end: number,
    private readonly giveBack: (memory: ArrayBuffer) => void,
  ) {
    super(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), start, end, null, false, 0, 'from transport group');
  }

  override release(): void {
    if (this.released) return super.release();
    const memory = this.bytes.buffer as ArrayBuffer;
    super.release();
    this.giveBack(memory);
  }
}

/** What the network group tells the transport group at start. */
export interface IpConfig {
  readonly address: Ip4;
  readonly prefixLength: number;
  readonly gateway: Ip4 | undefined;
  readonly mtu: number;
  readonly headroom: number;
  /** IP protocol numbers the transport group takes. */
  readonly protocols: readonly number[];
}

export function ipConfigOf(ip: Ip, protocols: readonly number[], gateway?: Ip4): IpConfig {
  return { address: ip.address, prefixLength: ip.prefixLength, gateway, mtu: ip.mtu, headroom: ip.headroom, protocols };
}

/** Network side: takes the transports' protocol numbers on the real IP and forwards both ways. */
export class IpExport extends Module {
  readonly channel: Channel;
  private readonly bindings: Binding<IpSlots>[] = [];

  constructor(
    rt: Runtime,
    private readonly ip: Ip,
    port: import('node:worker_threads').MessagePort,
    protocols: readonly number[],
  ) {
    super(rt, 'ip-export');
    this.channel = new Channel(port, (m) => this.onMessage(m));
    for (const p of protocols) this.bindings.push(ip.bindProtocol(p, this, { onPacket: (pkt) => this.up(pkt) }));
  }

  private up(pkt: IpPacket): void {
    const b = pkt.buf;
    const data = ownCopy(b.bytes.subarray(b.start, b.end));
    this.channel.copied(data.length);
    const h = pkt.header;
    this.channel.send([IP_PKT, pkt.src, pkt.dst, pkt.protocol, pkt.ttl, (h.dscp << 2) | h.ecn, data], data.buffer as ArrayBuffer);
  }

  private onMessage(m: Message): void {
    if (m[0] === IP_SEND) {
      this.startTask('mailbox', () => this.send(m), { entry: 'send' });
    } else if (m[0] === IP_UNREACH) {
      this.startTask('mailbox', () => this.unreachable(m), { entry: 'unreachable' });
    }
  }

  /** @internal IP released a lent buffer (from inside IP or ARP: it may come back in). */
  readonly giveBack = this.entry('giveBack', 'reentrant', (memory: ArrayBuffer): void => this.channel.attach([IP_RETURN, memory], memory));

  private send(m: Message): void {
    const buf = new LentBuffer(new Uint8Array(m[4] as ArrayBuffer), m[5] as number, m[6] as number, this.giveBack);
    const opts = m[7] as SendOptions | null;
    this.ip.send(m[1] as Ip4, m[2] as number, buf, opts ?? undefined);
  }

  private unreachable(m: Message): void {
    const payload = m[7] as Uint8Array;
    const buf = PacketBuffer.standalone(payload.length, 60);
    buf.bytes.set(payload, buf.start);
    const tos = m[6] as number;
    const header: Ipv4Header = {
      dscp: tos >> 2, ecn: tos & 3, totalLength: 20 + payload.length, identification: 0, flags: 0, fragmentOffset: 0,
      ttl: m[5] as number, protocol: m[4] as number, checksum: 0, src: m[2] as Ip4, dst: m[3] as Ip4, options: EMPTY_BYTES,
    };
    this.ip.unreachable({ src: header.src, dst: header.dst, protocol: header.protocol, ttl: header.ttl, header, buf }, m[1] as number);
  }

  close(): void {
    for (const b of this.bindings) b.unbind();
    this.channel.close();
  }
}

/**
 * Transport side: what TCP and UDP see as IP (TcpLower, and the part of `Ip`
 * UDP uses). Received datagrams start a task here, as frames do at a NIC.
 */
export class IpImport extends Module implements TcpLower {
  readonly channel: Channel;
  readonly address: Ip4;
  readonly prefixLength: number;
  readonly mtu: number;
  readonly headroom: number;
  private readonly gateway: Ip4 | undefined;
  private readonly tables = new Map<number, SlotTable<IpSlots>>();
  /** Size of the memory of one segment: headroom, the largest datagram, slack. */
  private readonly slot: number;
  /** Segment memory the IP group handed back. */
  private readonly free: ArrayBuffer[] = [];
  /** Reused for every datagram delivered (valid during the upcall only, as IP's own). */
  private readonly header: Ipv4Header = {
    dscp: 0, ecn: 0, totalLength: 0, identification: 0, flags: 0, fragmentOffset: 0, ttl: 0, protocol: 0, checksum: 0,
    src: 0, dst: 0, options: EMPTY_BYTES,
  };

  constructor(rt: Runtime, config: IpConfig, port: import('node:worker_threads').MessagePort) {
    super(rt, 'ip-import');
    this.address = config.address;
    this.prefixLength = config.prefixLength;
    this.mtu = config.mtu;
    this.headroom = config.headroom;
    this.gateway = config.gateway;
    this.slot = config.headroom + config.mtu + 64;
    this.channel = new Channel(port, (m) => this.onMessage(m));
  }

  readonly bindProtocol = this.entry('bindProtocol', 'reject', (protocol: number, owner: Module, handlers: Partial<IpSlots>): Binding<IpSlots> => {
    let t = this.tables.get(protocol);
    if (t === undefined) this.tables.set(protocol, (t = new SlotTable<IpSlots>(this, `protocol ${protocol}`, { onPacket: 'one' })));
    return t.bind(owner, handlers);
  });

  readonly send = this.entry('send', 'reentrant', (dst: Ip4, protocol: number, buf: PacketBuffer, opts?: SendOptions): SendResult => {
    const bytes = buf.bytes;
    this.channel.send([IP_SEND, dst, protocol, 0, bytes.buffer, buf.start, buf.end, opts ?? null], bytes.buffer as ArrayBuffer);
    // The memory now belongs to the IP group; this handle must not reach it.
    buf.release();
    return 'sent';
  });

  /**
   * Memory of its own for every buffer (it is transferred whole on `send`),
   * reused once the IP group hands it back.
   */
  readonly alloc = this.entry('alloc', 'reentrant', (payloadLength: number, label?: string): PacketBuffer => {
    const need = this.headroom + payloadLength;
    if (need > this.slot) return PacketBuffer.standalone(payloadLength, this.headroom);
    const memory = this.free.pop() ?? new ArrayBuffer(this.slot);
    const bytes = new Uint8Array(memory);
    return new PacketBuffer(bytes, new DataView(memory), this.headroom, need, null, false, 0, label);
  });

  readonly sourceFor = this.query('sourceFor', (dst: Ip4): Ip4 | undefined => {
    if (ip4InSubnet(dst, this.address, this.prefixLength) || this.gateway !== undefined) return this.address;
    return undefined;
  });

  readonly pathMtu = this.query('pathMtu', (_dst: Ip4): number => this.mtu);

  /** UDP's report of a datagram for a port nobody bound: ICMP answers on the IP side. */
  readonly unreachable = this.entry('unreachable', 'reentrant', (pkt: IpPacket, code: number): void => {
    const b = pkt.buf;
    // ICMP quotes the header and the first 8 bytes of the payload.
    const quote = b.bytes.slice(b.start, Math.min(b.end, b.start + 8));
    this.channel.copied(quote.length);
    this.channel.send([IP_UNREACH, code, pkt.src, pkt.dst, pkt.protocol, pkt.ttl, (pkt.header.dscp << 2) | pkt.header.ecn, quote]);
  });

  private onMessage(m: Message): void {
    if (m[0] === IP_RETURN) {
      const memory = m[1] as ArrayBuffer;
      if (memory.byteLength === this.slot && this.free.length < 1024) this.free.push(memory);
      return;
    }
    if (m[0] !== IP_PKT) return;
    const protocol = m[3] as number;
    const b = this.tables.get(protocol)?.bindings[0];
    if (b === undefined) {
      this.drop('no-protocol');
      return;
    }
    const bytes = m[6] as Uint8Array;
    const buf = new PacketBuffer(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, bytes.length, null, false, 0, undefined);
    const h = this.header;
    h.src = m[1] as Ip4;
    h.dst = m[2] as Ip4;
    h.protocol = protocol;
    h.ttl = m[4] as number;
    h.dscp = (m[5] as number) >> 2;
    h.ecn = (m[5] as number) & 3;
    h.totalLength = 20 + bytes.length;
    const pkt: IpPacket = { src: h.src, dst: h.dst, protocol, ttl: h.ttl, header: h, buf };
    this.startTask('frame', () => this.upcall(b, 'onPacket', pkt), { entry: 'onPacket' });
  }

  close(): void {
    this.channel.close();
  }
}
