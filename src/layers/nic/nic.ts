/**
 * The NIC module: the bottom of the stack and the event source of the receive path.
 *
 * Each frame the device hands up starts a task here. The NIC adopts the bytes as
 * a PacketBuffer (no copy), parses the Ethernet header (stepping over 802.1Q
 * tags), filters by destination address, and upcalls the one handler bound to
 * the frame's ethertype with the buffer advanced past the header. When the upcall
 * returns, the frame's life is over and the NIC releases the buffer.
 *
 * Sending is the mirror: `send` writes the Ethernet header into the buffer's
 * headroom, pads to the 60-byte minimum, hands the bytes to the device and
 * releases the buffer.
 */
import { FAILED, Module, SlotTable, type Binding, type Runtime } from '../../core/index.js';
import { BROADCAST_MAC, formatMac, type Mac } from '../../wire/addr.js';
import { PacketBuffer, type BufferPool } from '../../wire/buffer.js';
import {
  encodeEthernetHeader,
  ETHERNET_HEADER_LENGTH,
  ETHERNET_MIN_FRAME,
  isEthertype,
  parseEthernet,
  type EthernetHeader,
} from '../../wire/ethernet.js';
import type { Device } from './device.js';

/** The slot a protocol above binds for one ethertype. */
export interface EthertypeSlots {
  /**
   * One received frame of the bound ethertype. `buf.start` is the first byte
   * after the Ethernet header (and tags); `buf.end` the end of the frame
   * (link padding included: the layer above trims by its own length field).
   * Valid during the upcall only (an async handler: until its first await).
   * `wireMissing`: bytes the frame had on the wire beyond `buf.end` that were
   * not captured (a capture's snaplen); only a capture link knows it, a live
   * link leaves it out.
   */
  onFrame(buf: PacketBuffer, eth: EthernetHeader, wireMissing?: number): void;
}

/** Fan-out observers of every frame the NIC accepts and sends. */
export interface NicTapSlots {
  /** The whole frame, header included; valid during the upcall only. */
  onFrame(frame: Uint8Array, direction: 'rx' | 'tx'): void;
}

/**
 * What a network layer needs from below: a place to bind for an ethertype and a
 * way to send. The Nic offers it; so can anything inserted between the NIC and
 * IP (a filter, a VLAN layer, a tunnel) by binding the NIC's slot and re-offering
 * the same shape.
 */
export interface LinkLayer {
  readonly name: string;
  readonly mac: Mac;
  /** Largest payload a frame carries (IP's MTU). */
  readonly mtu: number;
  bindEthertype(ethertype: number, owner: Module, handlers: Partial<EthertypeSlots>): Binding<EthertypeSlots>;
  /** Takes ownership of `buf` (data = the payload); prepends the link header and transmits. */
  readonly send: (buf: PacketBuffer, dst: Mac, ethertype: number) => void;
  /**
   * Accept frames sent to the group address `mac` (IPv6 all-nodes, solicited-node
   * groups); counted per caller, so two joins need two leaves. A link without
   * the method hears no multicast but broadcast.
   */
  readonly joinMulticast?: (mac: Mac) => void;
  readonly leaveMulticast?: (mac: Mac) => void;
}

export interface NicOptions {
  /** Accept frames whatever their destination MAC (trace replay, taps). */
  promiscuous?: boolean;
}

export interface NicCounters {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
}

/**
 * The demultiplexing table every link layer offers the layers above: one
 * delivery slot per ethertype, created when first bound. The NIC and the
 * capture link keep one each as their shared state.
 */
export class EthertypeTable {
  private readonly tables = new Map<number, SlotTable<EthertypeSlots>>();

  /** Bind `owner`'s handlers for `ethertype` on the link module `link`. */
  bind(link: Module, ethertype: number, owner: Module, handlers: Partial<EthertypeSlots>): Binding<EthertypeSlots> {
    let t = this.tables.get(ethertype);
    if (t === undefined) {
      t = new SlotTable<EthertypeSlots>(link, `ethertype 0x${ethertype.toString(16).padStart(4, '0')}`, { onFrame: 'one' });
      this.tables.set(ethertype, t);
    }
    return t.bind(owner, handlers);
  }

  /** The binding that receives `ethertype`, if any. */
  binding(ethertype: number): Binding<EthertypeSlots> | undefined {
    return this.tables.get(ethertype)?.bindings[0];
  }
}

interface NicShared {
  /** Each ethertype has at most one handler. */
  readonly types: EthertypeTable;
}

export class Nic extends Module<NicShared> implements LinkLayer {
  promiscuous: boolean;
  readonly counters: NicCounters = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0 };
  private readonly taps = new SlotTable<NicTapSlots>(this, 'taps', { onFrame: 'many' });
  /** Multicast groups joined, with how many joins each. */
  private readonly groups = new Map<Mac, number>();
  /** Reused for every send: the header is written out before the next send can start. */
  private readonly txHeader: EthernetHeader = { dst: 0, src: 0, vlans: [], ethertype: 0 };

  constructor(
    rt: Runtime,
    readonly device: Device,
    readonly pool: BufferPool,
    opts: NicOptions = {},
  ) {
    super(rt, 'nic', { types: new EthertypeTable() });
    this.promiscuous = opts.promiscuous ?? false;
    device.attach((frame) => this.input(frame));
  }

  get mac(): Mac {
    return this.device.mac;
  }

  get mtu(): number {
    return this.device.mtu;
  }

  /** Bind the handler for one ethertype (0x0800 IPv4, 0x0806 ARP, anything else a user likes). */
  readonly bindEthertype = this.entry(
    'bindEthertype',
    'reject',
    (ethertype: number, owner: Module, handlers: Partial<EthertypeSlots>): Binding<EthertypeSlots> =>
      this.lock.locked(() => this.shared.types.bind(this, ethertype, owner, handlers)) as Binding<EthertypeSlots>,
  );

  readonly joinMulticast = this.entry('joinMulticast', 'reentrant', (mac: Mac): void => {
    this.lock.locked(() => this.groups.set(mac, (this.groups.get(mac) ?? 0) + 1));
  });

  readonly leaveMulticast = this.entry('leaveMulticast', 'reentrant', (mac: Mac): void => {
    this.lock.locked(() => {
      const n = this.groups.get(mac) ?? 0;
      if (n <= 1) this.groups.delete(mac);
      else this.groups.set(mac, n - 1);
    });
  });

  /** Observe every accepted and sent frame. */
  readonly tap = this.entry('tap', 'reject', (owner: Module, handlers: Partial<NicTapSlots>): Binding<NicTapSlots> => {
    return this.lock.locked(() => this.taps.bind(owner, handlers)) as Binding<NicTapSlots>;
  });

  /** Hand a received frame to the stack as if the device had (replay, tests). The bytes are adopted. */
  input(frame: Uint8Array): void {
    const c = this.counters;
    c.rxFrames++;
    c.rxBytes += frame.length;
    const buf = this.pool.wrap(frame, 'nic rx');
    this.startTask('frame', () => this.receive(buf));
    buf.release();
  }

  private receive(buf: PacketBuffer): void {
    if (buf.length < ETHERNET_HEADER_LENGTH) {
      this.drop('runt', this.rt.observed ? `${buf.length} bytes` : undefined);
      return;
    }
    const r = parseEthernet(buf.bytes, buf.start, buf.length);
    if (!r.ok) {
      this.drop(r.reason === 'truncated' ? 'runt' : r.reason);
      return;
    }
    const eth = r.header;
    if (!this.promiscuous && eth.dst !== this.device.mac && eth.dst !== BROADCAST_MAC && !this.groups.has(eth.dst)) {
      this.drop('not-for-us', this.rt.observed ? formatMac(eth.dst) : undefined);
      return;
    }
    if (this.taps.size > 0 && this.upcallTaps(buf.payload(), 'rx')) return;
    if (!isEthertype(eth.ethertype)) {
      this.drop('802.3-frame');
      return;
    }
    const b = this.shared.types.binding(eth.ethertype);
    if (b === undefined) {
      this.drop('unknown-ethertype', this.rt.observed ? `0x${eth.ethertype.toString(16)}` : undefined);
      return;
    }
    buf.advance(r.headerLength);
    this.upcall(b, 'onFrame', buf, eth);
  }

  /** True when a tap failed (the task is expended). */
  private upcallTaps(frame: Uint8Array, direction: 'rx' | 'tx'): boolean {
    for (const b of this.taps.bindings) {
      if (this.upcall(b, 'onFrame', frame, direction) === FAILED) return true;
    }
    return false;
  }

  /**
   * Transmit `buf` (data = the Ethernet payload) to `dst`. Takes ownership: the
   * buffer is released once the device has the bytes. Re-entrant: a handler
   * above may send while the NIC is on its task's path (that is the normal case).
   */
  readonly send = this.entry('send', 'reentrant', (buf: PacketBuffer, dst: Mac, ethertype: number): void => {
    const h = this.txHeader;
    h.dst = dst;
    h.src = this.device.mac;
    h.ethertype = ethertype;
    const start = buf.prepend(ETHERNET_HEADER_LENGTH);
    encodeEthernetHeader(buf.bytes, start, h);
    const short = ETHERNET_MIN_FRAME - buf.length;
    if (short > 0 && buf.tailroom >= short) {
      // Recycled memory is not cleared: padding must not leak an earlier packet.
      const at = buf.append(short);
      buf.bytes.fill(0, at, at + short);
    }
    const frame = buf.payload();
    const c = this.counters;
    c.txFrames++;
    c.txBytes += frame.length;
    if (this.taps.size > 0) this.upcallTaps(frame, 'tx');
    try {
      this.device.send(frame);
    } finally {
      buf.release();
    }
  });
}
