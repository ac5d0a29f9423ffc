/**
 * A simulated Ethernet segment joining any number of devices, as a hub (every
 * frame reaches every other port) or a learning switch (unicast goes to the port
 * the destination was last seen on; unknown, broadcast and multicast flood).
 *
 * Conditions are per port and apply to the frames that port transmits (its
 * egress), so "A to B" and "B to A" are set independently by configuring A and B.
 * A frame sent by a port is:
 *  1. dropped if its Ethernet payload exceeds the link MTU ('oversize');
 *  2. queued behind the port's earlier frames and serialized at the port's
 *     bandwidth (frames beyond `queueLimit` waiting are tail-dropped);
 *  3. for each receiving port independently: lost, corrupted (one bit flipped;
 *     there is no FCS, so the receiver's checksums must catch it), duplicated,
 *     held back so later frames overtake it (reordering), and delayed by the
 *     propagation delay plus jitter. Without the reorder fault, frames between
 *     one pair of ports arrive in the order sent, whatever the jitter.
 *
 * Every random choice is drawn from a seeded generator (one per port, forked in
 * attach order), so a run reproduces from its seed. Frames are delivered by the
 * clock, never inside the sender's call, which works the same on a VirtualClock
 * and a RealClock.
 */
import type { Clock } from '../../core/clock.js';
import { Rng } from '../../core/random.js';
import { isMulticastMac, readMac, type Mac } from '../../wire/addr.js';
import type { Device, FrameHandler } from './device.js';

export interface LinkConditions {
  /** One-way propagation delay, ms. */
  delayMs: number;
  /** Extra delay drawn uniformly from [0, jitterMs), ms. */
  jitterMs: number;
  /** Bits per second; Infinity for no serialization delay. */
  bandwidthBps: number;
  /** Probability a delivery is lost. */
  loss: number;
  /** Probability a delivery arrives twice. */
  duplicate: number;
  /** Probability a delivery is held back by `reorderDelayMs` so later frames overtake it. */
  reorder: number;
  reorderDelayMs: number;
  /** Probability a delivery has one bit flipped. */
  corrupt: number;
  /** Frames that may wait for serialization at the port; more are tail-dropped. */
  queueLimit: number;
}

export const DEFAULT_CONDITIONS: Readonly<LinkConditions> = Object.freeze({
  delayMs: 1,
  jitterMs: 0,
  bandwidthBps: 100e6,
  loss: 0,
  duplicate: 0,
  reorder: 0,
  reorderDelayMs: 5,
  corrupt: 0,
  queueLimit: 1000,
});

export interface SimLinkOptions extends Partial<LinkConditions> {
  /** Seed of every random choice the link makes. Default 1. */
  seed?: number;
  /** 'hub' (default) or 'switch' (learning). */
  mode?: 'hub' | 'switch';
  /** Largest Ethernet payload the link carries; default 1500. */
  mtu?: number;
  /** How long a learned MAC stays in the switch table, ms. Default 300 s. */
  agingMs?: number;
}

export interface AttachOptions {
  /** The device's MAC; default 02:00:00:00:00:<n> with n the attach order (from 1). */
  mac?: Mac;
  /** MTU the device reports (default: the link's). */
  mtu?: number;
  /** This port's egress conditions, over the link-wide ones. */
  conditions?: Partial<LinkConditions>;
}

export interface LinkStats {
  /** Frames handed to the link by devices. */
  sent: number;
  /** Frame copies handed to receiving devices (duplicates included). */
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
  /** Frames dropped because the payload exceeded the MTU. */
  oversize: number;
  /** Frames dropped because the port's transmit queue was full. */
  queueDrops: number;
  /** Unicast frames a switch filtered because the destination is on the sender's port. */
  filtered: number;
}

function emptyStats(): LinkStats {
  return { sent: 0, delivered: 0, lost: 0, duplicated: 0, reordered: 0, corrupted: 0, oversize: 0, queueDrops: 0, filtered: 0 };
}

/** Framing overhead on the wire beyond the bytes we model: FCS 4, preamble 8, inter-frame gap 12. */
const WIRE_OVERHEAD = 24;
const MIN_FRAME = 60;
const ETH_HEADER = 14;
const VLAN_TAG = 4;
/** Frames are carved from slabs at least this large (and holding at least 16 frames). */
const SLAB_BYTES = 256 * 1024;

/**
 * Memory for the frames the link hands to receivers. A receiver owns its frame
 * for as long as it likes, so memory is never reused; but a fresh ArrayBuffer
 * per frame costs a malloc, an external-memory account and a GC finaliser each
 * (measured at 1.2-1.6 µs per 1514-byte frame against 0.15 µs for a view into a
 * slab). A slab is freed by the garbage collector once its last frame is.
 */
class FrameMemory {
  private slab: ArrayBuffer | null = null;
  private used = 0;

  constructor(private readonly slabBytes: number) {}

  /** A new frame holding a copy of `bytes`. */
  copy(bytes: Uint8Array): Uint8Array {
    const n = bytes.length;
    // Frames start on 8-byte boundaries so word-wise checksums stay aligned as on a real NIC.
    const size = (n + 7) & ~7;
    let slab = this.slab;
    if (slab === null || this.used + size > slab.byteLength) {
      if (size > this.slabBytes >> 2) return bytes.slice();
      slab = this.slab = new ArrayBuffer(this.slabBytes);
      this.used = 0;
    }
    const out = new Uint8Array(slab, this.used, n);
    this.used += size;
    out.set(bytes);
    return out;
  }
}

export class SimLink {
  readonly mode: 'hub' | 'switch';
  readonly mtu: number;
  readonly stats: LinkStats = emptyStats();
  private readonly rng: Rng;
  private readonly base: LinkConditions;
  private readonly agingMs: number;
  private readonly portList: SimPort[] = [];
  /** Switch table: MAC -> port and when it was learned. */
  private readonly table = new Map<Mac, { port: SimPort; at: number }>();
  /** @internal where delivered frames are copied to. */
  readonly memory: FrameMemory;

  constructor(
    readonly clock: Clock,
    opts: SimLinkOptions = {},
  ) {
    this.rng = new Rng(opts.seed ?? 1);
    this.mode = opts.mode ?? 'hub';
    this.mtu = opts.mtu ?? 1500;
    this.agingMs = opts.agingMs ?? 300_000;
    this.memory = new FrameMemory(Math.max(SLAB_BYTES, 16 * (this.mtu + ETH_HEADER + VLAN_TAG + 8)));
    this.base = { ...DEFAULT_CONDITIONS };
    for (const k of Object.keys(DEFAULT_CONDITIONS) as (keyof LinkConditions)[]) {
      const v = opts[k];
      if (v !== undefined) this.base[k] = v;
    }
  }

  /** Connect a new device to the link. */
  attach(name: string, opts: AttachOptions = {}): SimPort {
    const n = this.portList.length + 1;
    const mac = opts.mac ?? 0x0200_0000_0000 + n;
    const port = new SimPort(this, name, mac, opts.mtu ?? this.mtu, { ...this.base, ...opts.conditions }, this.rng.fork());
    this.portList.push(port);
    return port;
  }

  get ports(): readonly SimPort[] {
    return this.portList;
  }

  /** Change the conditions of every port's egress (and of ports attached later). */
  setConditions(c: Partial<LinkConditions>): void {
    Object.assign(this.base, c);
    for (const p of this.portList) p.setConditions(c);
  }

  /** @internal */
  detach(port: SimPort): void {
    const i = this.portList.indexOf(port);
    if (i >= 0) this.portList.splice(i, 1);
    for (const [mac, e] of this.table) if (e.port === port) this.table.delete(mac);
  }

  /** @internal a port transmits `frame` (borrowed). */
  transmit(from: SimPort, frame: Uint8Array): void {
    const st = this.stats;
    st.sent++;
    from.stats.sent++;
    if (frame.length < ETH_HEADER) {
      // Not even a header: nothing a real segment would carry.
      st.lost++;
      return;
    }
    const tagged = frame[12] === 0x81 && frame[13] === 0x00;
    if (frame.length - ETH_HEADER - (tagged ? VLAN_TAG : 0) > this.mtu) {
      st.oversize++;
      from.stats.oversize++;
      return;
    }
    const txEnd = from.serialize(frame.length);
    if (txEnd < 0) {
      st.queueDrops++;
      from.stats.queueDrops++;
      return;
    }
    const now = this.clock.now();
    if (this.mode === 'hub') {
      for (const p of this.portList) if (p !== from) from.deliverTo(p, frame, txEnd);
      return;
    }
    const src = readMac(frame, 6);
    const dst = readMac(frame, 0);
    if (!isMulticastMac(src)) this.table.set(src, { port: from, at: now });
    if (!isMulticastMac(dst)) {
      const e = this.table.get(dst);
      if (e !== undefined && now - e.at <= this.agingMs && this.portList.includes(e.port)) {
        if (e.port === from) st.filtered++;
        else from.deliverTo(e.port, frame, txEnd);
        return;
      }
    }
    for (const p of this.portList) if (p !== from) from.deliverTo(p, frame, txEnd);
  }
}

/** One device's attachment to a SimLink. */
export class SimPort implements Device {
  readonly stats: LinkStats = emptyStats();
  private rx: FrameHandler | null = null;
  private attached = true;
  private readonly conditions: LinkConditions;
  /** End times of frames still being serialized, oldest first. */
  private readonly txQueue: number[] = [];
  /** Latest in-order arrival time per receiving port (keeps each path FIFO under jitter). */
  private readonly lastArrival = new Map<SimPort, { at: number }>();

  constructor(
    readonly link: SimLink,
    readonly name: string,
    readonly mac: Mac,
    readonly mtu: number,
    conditions: LinkConditions,
    private readonly rng: Rng,
  ) {
    this.conditions = conditions;
  }

  send(frame: Uint8Array): void {
    if (this.attached) this.link.transmit(this, frame);
  }

  attach(rx: FrameHandler): void {
    this.rx = rx;
  }

  /** Leave the link: nothing more is sent or received. */
  detach(): void {
    this.attached = false;
    this.link.detach(this);
  }

  /** This port's egress conditions (a copy). */
  getConditions(): LinkConditions {
    return { ...this.conditions };
  }

  setConditions(c: Partial<LinkConditions>): void {
    for (const k of Object.keys(c) as (keyof LinkConditions)[]) {
      const v = c[k];
      if (v !== undefined) this.conditions[k] = v;
    }
  }

  /**
   * @internal Puts a frame of `length` bytes on this port's transmitter; returns
   * when its last bit leaves, or -1 when the queue is full.
   */
  serialize(length: number): number {
    const now = this.link.clock.now();
    const q = this.txQueue;
    while (q.length > 0 && q[0]! <= now) q.shift();
    const c = this.conditions;
    if (!(c.bandwidthBps > 0) || c.bandwidthBps === Infinity) return now;
    if (q.length >= c.queueLimit) return -1;
    const startAt = q.length > 0 ? q[q.length - 1]! : now;
    const end = startAt + ((Math.max(length, MIN_FRAME) + WIRE_OVERHEAD) * 8 * 1000) / c.bandwidthBps;
    q.push(end);
    return end;
  }

  /** @internal one receiver's copy of a frame whose transmission ends at `txEnd`. */
  deliverTo(to: SimPort, frame: Uint8Array, txEnd: number): void {
    const c = this.conditions;
    const rng = this.rng;
    const st = this.link.stats;
    if (rng.chance(c.loss)) {
      st.lost++;
      this.stats.lost++;
      return;
    }
    let at = txEnd + c.delayMs + (c.jitterMs > 0 ? rng.float() * c.jitterMs : 0);
    // A mutable cell per receiver: storing a fresh number in the Map would box it on every frame.
    let cell = this.lastArrival.get(to);
    if (cell === undefined) this.lastArrival.set(to, (cell = { at: 0 }));
    const last = cell.at;
    if (rng.chance(c.reorder)) {
      st.reordered++;
      this.stats.reordered++;
      at = Math.max(at, last) + c.reorderDelayMs;
    } else {
      if (at < last) at = last;
      cell.at = at;
    }
    const memory = this.link.memory;
    const copy = memory.copy(frame);
    if (rng.chance(c.corrupt)) {
      st.corrupted++;
      this.stats.corrupted++;
      const bit = rng.int(copy.length * 8);
      copy[bit >>> 3] ^= 1 << (bit & 7);
    }
    const dup = rng.chance(c.duplicate);
    const clock = this.link.clock;
    clock.schedule(at, to.arrive, copy);
    if (dup) {
      st.duplicated++;
      this.stats.duplicated++;
      clock.schedule(at, to.arrive, memory.copy(copy));
    }
  }

  /**
   * @internal The clock's callback for a frame reaching this port, made once:
   * the frame rides as the entry's argument, with no closure per frame.
   */
  readonly arrive = (frame: Uint8Array): void => this.receive(frame);

  /** @internal */
  receive(frame: Uint8Array): void {
    if (!this.attached || this.rx === null) return;
    this.link.stats.delivered++;
    this.stats.delivered++;
    this.rx(frame);
  }
}
