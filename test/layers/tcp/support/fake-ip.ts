/**
 * A small stand-in for IP under TCP: the same surface (bindProtocol, send,
 * alloc, sourceFor, pathMtu) over a "network" that carries datagrams between
 * hosts on a shared VirtualClock with seeded loss, duplication, reordering,
 * corruption and delay. Fast (no Ethernet, no ARP), so the property tests can
 * run many seeds. The addresses are IPv4 (`FakeNet`) or IPv6 (`FakeNet<Ip6>`):
 * the double is a NetLower of either family.
 */
import {
  Module,
  Rng,
  Runtime,
  SlotTable,
  VirtualClock,
  type Binding,
  type DispatchPolicy,
} from '../../../../src/core/index.js';
import { familyOf, formatIp, type IpAddress, type NetSendOptions, type NetSendResult, type NetSlots } from '../../../../src/layers/net.js';
import { Tcp } from '../../../../src/layers/tcp/tcp.js';
import type { TcpConfig } from '../../../../src/layers/tcp/config.js';
import { parseIp4, type Ip4 } from '../../../../src/wire/addr.js';
import { BufferPool, type PacketBuffer } from '../../../../src/wire/buffer.js';
import type { Ipv4Header } from '../../../../src/wire/ipv4.js';

export interface Faults {
  loss: number;
  duplicate: number;
  reorder: number;
  reorderDelayMs: number;
  corrupt: number;
  delayMs: number;
  jitterMs: number;
}

export const NO_FAULTS: Faults = { loss: 0, duplicate: 0, reorder: 0, reorderDelayMs: 5, corrupt: 0, delayMs: 1, jitterMs: 0 };

/** A map key for an address: IPv6 ones are compared by value, not identity. */
function key(a: IpAddress): number | string {
  return typeof a === 'number' ? a : formatIp(a);
}

export interface Datagram<A extends IpAddress = Ip4> {
  readonly at: number;
  readonly src: A;
  readonly dst: A;
  readonly protocol: number;
  readonly bytes: Uint8Array;
}

export class FakeNet<A extends IpAddress = Ip4> {
  readonly hosts = new Map<number | string, FakeIp<A>>();
  readonly stats = { sent: 0, delivered: 0, lost: 0, duplicated: 0, reordered: 0, corrupted: 0 };
  faults: Faults;
  /** Per-source overrides of the faults. */
  readonly perSource = new Map<A, Partial<Faults>>();
  /** Observers of every datagram sent (before faults). */
  readonly taps: Array<(d: Datagram<A>) => void> = [];
  /** When set, datagrams are handed here instead of being delivered (scripted peers). */
  intercept: ((d: Datagram<A>) => boolean) | null = null;
  private readonly rng: Rng;

  constructor(
    readonly clock: VirtualClock,
    seed = 1,
    faults: Partial<Faults> = {},
  ) {
    this.rng = new Rng(seed);
    this.faults = { ...NO_FAULTS, ...faults };
  }

  transmit(src: A, dst: A, protocol: number, bytes: Uint8Array): void {
    this.stats.sent++;
    const d: Datagram<A> = { at: this.clock.now(), src, dst, protocol, bytes };
    for (const t of this.taps) t(d);
    if (this.intercept !== null && this.intercept(d)) return;
    const f = { ...this.faults, ...this.perSource.get(src) };
    const rng = this.rng;
    if (rng.chance(f.loss)) {
      this.stats.lost++;
      return;
    }
    const copies = rng.chance(f.duplicate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      let b = i === 0 ? bytes : bytes.slice();
      if (rng.chance(f.corrupt)) {
        b = b.slice();
        const bit = rng.int(b.length * 8);
        b[bit >>> 3]! ^= 1 << (bit & 7);
        this.stats.corrupted++;
      }
      let delay = f.delayMs + (f.jitterMs > 0 ? rng.float() * f.jitterMs : 0);
      if (rng.chance(f.reorder)) {
        delay += f.reorderDelayMs;
        this.stats.reordered++;
      }
      const payload = b;
      this.clock.schedule(this.clock.now() + delay, () => this.deliver(src, dst, protocol, payload));
    }
  }

  /** Puts a datagram on the receiving host now (scripted peers use this). */
  deliver(src: A, dst: A, protocol: number, bytes: Uint8Array): void {
    const h = this.hosts.get(key(dst));
    if (h === undefined) return;
    this.stats.delivered++;
    h.receive(src, protocol, bytes);
  }
}

const FAKE_HEADER: Ipv4Header = {
  dscp: 0,
  ecn: 0,
  totalLength: 0,
  identification: 0,
  flags: 0,
  fragmentOffset: 0,
  ttl: 64,
  protocol: 6,
  checksum: 0,
  src: 0,
  dst: 0,
  options: new Uint8Array(0),
};

export class FakeIp<A extends IpAddress = Ip4> extends Module<undefined, undefined> {
  readonly pool = new BufferPool({ headroom: 128, bufferSize: 128 + 9100 });
  private readonly protocols = new Map<number, Binding<NetSlots>>();
  readonly family: 4 | 6;
  sent = 0;
  received = 0;
  /** Datagrams reported undeliverable (`unreachable`), with their code. */
  readonly unreachables: number[] = [];

  constructor(
    rt: Runtime,
    readonly net: FakeNet<A>,
    readonly address: A,
    readonly mtu = 1500,
  ) {
    super(rt, familyOf(address) === 4 ? 'ip' : 'ipv6', undefined);
    this.family = familyOf(address);
    net.hosts.set(key(address), this);
  }

  bindProtocol(protocol: number, owner: Module, handlers: Partial<NetSlots>): Binding<NetSlots> {
    const b = new SlotTable<NetSlots>(this, `proto-${protocol}`, { onPacket: 'one' }).bind(owner, handlers);
    this.protocols.set(protocol, b);
    return b;
  }

  readonly send = this.entry(
    'send',
    'reentrant',
    (dst: A, protocol: number, buf: PacketBuffer, _opts?: NetSendOptions): NetSendResult => {
      const bytes = buf.bytes.slice(buf.start, buf.end);
      buf.release();
      this.sent++;
      this.net.transmit(this.address, dst, protocol, bytes);
      return 'sent';
    },
  );

  alloc(payloadLength: number, label?: string): PacketBuffer {
    return this.pool.alloc(payloadLength, label);
  }

  sourceFor(_dst: A): A | undefined {
    return this.address;
  }

  pathMtu(_dst: A): number {
    return this.mtu;
  }

  unreachable(_pkt: unknown, code: number): void {
    this.unreachables.push(code);
  }

  /** A datagram arrives: a task starts here, as at a NIC. */
  receive(src: A, protocol: number, bytes: Uint8Array): void {
    this.received++;
    this.startTask('frame', () => {
      const b = this.protocols.get(protocol);
      if (b === undefined) {
        this.drop('no-protocol');
        return;
      }
      // Like the real IP: a queued owner gets its own copy (the frame's buffer
      // is gone when the message runs).
      const queued = b.owner.dispatchPolicy === 'queued';
      const buf = this.pool.wrap(queued ? bytes.slice() : bytes, 'rx');
      const pkt = { src, dst: this.address, protocol, ttl: 64, header: FAKE_HEADER, buf };
      this.upcall(b, 'onPacket', pkt);
      if (!queued) buf.release();
    });
  }
}

export interface FakeHost {
  readonly rt: Runtime;
  readonly ip: FakeIp;
  readonly tcp: Tcp;
  readonly addr: Ip4;
}

export interface PairOptions {
  seed?: number;
  faults?: Partial<Faults>;
  config?: Partial<TcpConfig>;
  configA?: Partial<TcpConfig>;
  configB?: Partial<TcpConfig>;
  mtu?: number;
  dispatch?: DispatchPolicy;
}

export function makeHost(clock: VirtualClock, net: FakeNet, name: string, addr: string, seed: number, config: Partial<TcpConfig> = {}, mtu = 1500, dispatch?: DispatchPolicy): FakeHost {
  const rt = new Runtime({ name, clock, seed, ...(dispatch !== undefined ? { dispatch } : {}) });
  const a = parseIp4(addr);
  const ip = new FakeIp(rt, net, a, mtu);
  const tcp = new Tcp(rt, ip, config);
  return { rt, ip, tcp, addr: a };
}

/** Two hosts, 10.0.0.1 (a) and 10.0.0.2 (b), on one fake network. */
export function makePair(opts: PairOptions = {}): { clock: VirtualClock; net: FakeNet; a: FakeHost; b: FakeHost } {
  const clock = new VirtualClock();
  const seed = opts.seed ?? 1;
  const net = new FakeNet(clock, seed * 7 + 3, opts.faults);
  const a = makeHost(clock, net, 'a', '10.0.0.1', seed * 2 + 1, { ...opts.config, ...opts.configA }, opts.mtu, opts.dispatch);
  const b = makeHost(clock, net, 'b', '10.0.0.2', seed * 2 + 2, { ...opts.config, ...opts.configB }, opts.mtu, opts.dispatch);
  return { clock, net, a, b };
}

/** Concatenation of chunks. */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

export function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function textOf(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}
