/**
 * A host: one runtime and the modules of its stack, sharing one buffer pool.
 *
 *     createHost({ name: 'a', link, ip: '10.0.0.1/24' })           // on a SimLink
 *     createHost({ name: 'b', device: myDevice, ip: '10.0.0.2/24', gateway: '10.0.0.254' })
 *
 * The stack is NIC -> [anything between] -> IP, with ARP beside IP on the NIC and
 * ICMP and UDP above IP. Further modules (TCP, Telnet, a user's own) are built on
 * `host.ip` / `host.rt` afterwards; they register with the runtime, so `stats()`
 * lists them without further wiring.
 */
import { Runtime, type Clock, type DispatchPolicy, type Module } from './core/index.js';
import { parseIp4, parseMac, type Ip4, type Mac } from './wire/addr.js';
import { BufferPool, type LeakReport } from './wire/buffer.js';
import { Arp, type ArpOptions } from './layers/arp.js';
import { Icmp, type IcmpOptions, type PingOptions, type PingResult } from './layers/icmp.js';
import { Ip, type IpOptions } from './layers/ip.js';
import { DeviceWrapper, ManualDevice, type Device } from './layers/nic/device.js';
import { Nic, type LinkLayer } from './layers/nic/nic.js';
import { SimPort, type SimLink } from './layers/nic/sim-link.js';
import { Udp, type UdpOptions } from './layers/udp.js';
import { Tcp } from './layers/tcp/tcp.js';
import type { TcpConfig } from './layers/tcp/config.js';

export interface HostOptions {
  /** Host name (runtime name, events, logs). Default 'host'. */
  name?: string;
  /** Address and prefix, e.g. '10.0.0.1/24' (or the parts). */
  ip: string | { address: Ip4; prefixLength: number };
  /** Default gateway. */
  gateway?: string | Ip4;
  /** The device to use. Without one: a port on `link`, else a ManualDevice. */
  device?: Device;
  /** Attach to this simulated link (when no `device` is given). */
  link?: SimLink;
  /** MAC for a device the host creates (on `link` or a ManualDevice). */
  mac?: Mac | string;
  /** Shared with other hosts in a simulation; default: the clock of the SimLink the device is on, else a new VirtualClock. */
  clock?: Clock;
  /** Seed of the host's random source (ISNs, IP ids, echo ids). */
  seed?: number;
  dispatch?: DispatchPolicy;
  /** Use this runtime instead of making one (clock, seed, dispatch, name are then ignored). */
  runtime?: Runtime;
  pool?: BufferPool;
  /** Replay mode: NIC and IP accept everything, no ARP resolution, no ICMP answers. */
  promiscuous?: boolean;
  /** Insert a layer between the NIC and IP (a filter, a tunnel): it must offer the NIC's LinkLayer shape. */
  belowIp?: (nic: Nic, rt: Runtime, pool: BufferPool) => LinkLayer;
  arp?: Partial<Omit<ArpOptions, 'address'>>;
  ipOptions?: Partial<Omit<IpOptions, 'address' | 'prefixLength' | 'gateway'>>;
  icmp?: IcmpOptions;
  /** false: no UDP module (protocol 17 is left free for a handler of one's own). */
  udp?: boolean | UdpOptions;
  /** true (or a TCP configuration): assemble TCP on IP as `host.tcp`. Default: no TCP. */
  tcp?: boolean | Partial<TcpConfig>;
}

/** One row of `host.stats()`. */
export interface StatsRow {
  readonly module: string;
  readonly entries: number;
  readonly upcalls: number;
  readonly deferrals: number;
  readonly cleanups: number;
  readonly drops: number;
  readonly dropReasons: Readonly<Record<string, number>>;
}

export interface PoolStats {
  readonly allocated: number;
  readonly inUse: number;
  readonly highWater: number;
  readonly doubleFrees: number;
}

export class Host {
  /** The TCP module (`createHost({ tcp: true })`), or undefined for a host without TCP. */
  tcp: Tcp | undefined;

  constructor(
    readonly rt: Runtime,
    readonly pool: BufferPool,
    readonly device: Device,
    readonly nic: Nic,
    /** What IP sits on: the NIC, or the layer inserted between them. */
    readonly link: LinkLayer,
    readonly arp: Arp,
    readonly ip: Ip,
    readonly icmp: Icmp,
    readonly udp: Udp | null,
    tcp?: Tcp,
  ) {
    this.tcp = tcp;
  }

  get name(): string {
    return this.rt.name;
  }

  get clock(): Clock {
    return this.rt.clock;
  }

  get address(): Ip4 {
    return this.ip.address;
  }

  get mac(): Mac {
    return this.nic.mac;
  }

  /** Every module of the host, in construction order (layers added later included). */
  modules(): Module[] {
    return this.rt.allModules();
  }

  /** Per-module counters, one row per module in construction order. */
  stats(): StatsRow[] {
    return this.rt.allModules().map((m) => ({
      module: m.name,
      entries: m.stats.entries,
      upcalls: m.stats.upcalls,
      deferrals: m.stats.deferrals,
      cleanups: m.stats.cleanups,
      drops: m.stats.drops,
      dropReasons: Object.fromEntries(m.stats.dropReasons),
    }));
  }

  /** Drops over all modules. */
  totalDrops(): number {
    let n = 0;
    for (const m of this.rt.allModules()) n += m.stats.drops;
    return n;
  }

  poolStats(): PoolStats {
    const p = this.pool;
    return { allocated: p.allocated, inUse: p.inUse, highWater: p.highWater, doubleFrees: p.doubleFrees };
  }

  /** Buffers handed out and not returned (the ones ARP or reassembly legitimately hold included). */
  leaks(): LeakReport[] {
    return this.pool.leaks();
  }

  /** `icmp.ping` with a dotted-quad or numeric address. */
  ping(dst: string | Ip4, opts?: PingOptions): Promise<PingResult> {
    return this.icmp.ping(typeof dst === 'string' ? parseIp4(dst) : dst, opts);
  }
}

export function parseCidr(text: string): { address: Ip4; prefixLength: number } {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text.trim());
  if (m === null) throw new RangeError(`not an address/prefix: ${JSON.stringify(text)}`);
  const prefixLength = Number(m[2]);
  if (prefixLength > 32) throw new RangeError(`prefix length ${prefixLength} > 32`);
  return { address: parseIp4(m[1]!), prefixLength };
}

/** The clock of the SimLink under `device` (through any wrappers), so a host on a link shares its time. */
function linkClockOf(device: Device | undefined): Clock | undefined {
  for (let d = device; d !== undefined; d = d instanceof DeviceWrapper ? d.inner : undefined) {
    if (d instanceof SimPort) return d.link.clock;
  }
  return undefined;
}

export function createHost(opts: HostOptions): Host {
  const { address, prefixLength } = typeof opts.ip === 'string' ? parseCidr(opts.ip) : opts.ip;
  const gateway = opts.gateway === undefined ? undefined : typeof opts.gateway === 'string' ? parseIp4(opts.gateway) : opts.gateway;
  const name = opts.name ?? 'host';
  const mac = opts.mac === undefined ? undefined : typeof opts.mac === 'string' ? parseMac(opts.mac) : opts.mac;
  const rt =
    opts.runtime ??
    new Runtime({
      name,
      clock: opts.clock ?? opts.link?.clock ?? linkClockOf(opts.device),
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      ...(opts.dispatch !== undefined ? { dispatch: opts.dispatch } : {}),
    });
  const device =
    opts.device ??
    (opts.link !== undefined
      ? opts.link.attach(name, mac !== undefined ? { mac } : {})
      : new ManualDevice(name, mac ?? 0x0200_0000_0000 + (address & 0xffffff)));
  const pool = opts.pool ?? new BufferPool();
  const promiscuous = opts.promiscuous ?? false;
  const nic = new Nic(rt, device, pool, { promiscuous });
  const arp = new Arp(rt, nic, pool, { ...opts.arp, address, ...(promiscuous ? { announce: false } : {}) });
  const link = opts.belowIp !== undefined ? opts.belowIp(nic, rt, pool) : nic;
  const ip = new Ip(rt, link, arp, pool, {
    ...opts.ipOptions,
    address,
    prefixLength,
    ...(gateway !== undefined ? { gateway } : {}),
    promiscuous,
  });
  const icmp = new Icmp(rt, ip, opts.icmp);
  const udp = opts.udp === false ? null : new Udp(rt, ip, typeof opts.udp === 'object' ? opts.udp : {});
  const tcp = opts.tcp === undefined || opts.tcp === false ? undefined : new Tcp(rt, ip, opts.tcp === true ? {} : opts.tcp);
  return new Host(rt, pool, device, nic, link, arp, ip, icmp, udp, tcp);
}

/** A fixed-width table of `stats()` rows, for a shell's `stats` command. */
export function formatStats(rows: readonly StatsRow[]): string {
  const head = ['module', 'entries', 'upcalls', 'deferrals', 'cleanups', 'drops'];
  const body = rows.map((r) => [r.module, r.entries, r.upcalls, r.deferrals, r.cleanups, r.drops].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}
