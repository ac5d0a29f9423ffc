/**
 * A host: one runtime and the modules of its stack, sharing one buffer pool.
 *
 *     createHost({ name: 'a', link, ip: '10.0.0.1/24' })           // on a SimLink
 *     createHost({ name: 'b', device: myDevice, ip: '10.0.0.2/24', gateway: '10.0.0.254' })
 *     createHost({ name: 'c', link, ip: ['10.0.0.3/24', 'fd00::3/64'], tcp: true })   // dual stack
 *
 * The stack is NIC -> [anything between] -> IP, with ARP beside IP on the NIC and
 * ICMP and UDP above IP. With an IPv6 address, IPv6, ICMPv6 and neighbor
 * discovery sit on the same link (layers/ipv6), and UDP and TCP run over both
 * families. Further modules (Telnet, a user's own) are built on `host.tcp` /
 * `host.rt` afterwards; they register with the runtime, so `stats()` lists
 * them without further wiring.
 *
 * An IPv6-only host keeps an IPv4 module without an address (0.0.0.0, no route,
 * no ARP announcement), as a kernel keeps its IPv4 side: `host.ip` is always
 * there; UDP and TCP run over IPv6 alone.
 */
import { Runtime, type Clock, type DispatchPolicy, type Module } from './core/index.js';
import { parseIp4, parseMac, tryParseIp4, type Ip4, type Mac } from './wire/addr.js';
import { parseIp6, type Ip6 } from './wire/addr6.js';
import { BufferPool, type LeakReport } from './wire/buffer.js';
import { Arp, type ArpOptions } from './layers/arp.js';
import { Icmp, type IcmpOptions, type PingOptions, type PingResult } from './layers/icmp.js';
import { Ip, type IpOptions } from './layers/ip.js';
import { attachIpv6, type AttachIpv6Options, type Icmpv6, type Ipv6, type Ipv6Stack, type Ndp, type Ping6Options, type Ping6Result } from './layers/ipv6/index.js';
import { tryParseIp, type IpAddress } from './layers/net.js';
import { DeviceWrapper, ManualDevice, type Device } from './layers/nic/device.js';
import { Nic, type LinkLayer } from './layers/nic/nic.js';
import { SimPort, type SimLink } from './layers/nic/sim-link.js';
import { Udp, type UdpOptions } from './layers/udp.js';
import { Tcp } from './layers/tcp/tcp.js';
import type { TcpConfig } from './layers/tcp/config.js';

export interface HostOptions {
  /** Host name (runtime name, events, logs). Default 'host'. */
  name?: string;
  /**
   * Address and prefix, e.g. '10.0.0.1/24' (or the parts); or a list of them,
   * IPv4 and IPv6 ('fd00::1/64'): at most one IPv4 address, any number of IPv6 ones.
   */
  ip: HostAddress | readonly HostAddress[];
  /** Default gateway (IPv4). */
  gateway?: string | Ip4;
  /** Default router (IPv6); router advertisements may add others. */
  gateway6?: string | Ip6;
  /** IPv6 details (link-local, DAD, SLAAC, MTU...): see attachIpv6. An IPv6 address is what turns IPv6 on. */
  ipv6?: Omit<AttachIpv6Options, 'addresses' | 'gateway' | 'promiscuous'>;
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

/** An address with its prefix: 'a.b.c.d/n', 'x:y::z/n', or the parts. */
export type HostAddress = string | { address: IpAddress; prefixLength: number };

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
  /** The IPv6 side (a host given an IPv6 address), else undefined. */
  readonly ipv6: Ipv6 | undefined;
  readonly icmpv6: Icmpv6 | undefined;
  readonly ndp: Ndp | undefined;

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
    v6?: Ipv6Stack,
  ) {
    this.tcp = tcp;
    this.ipv6 = v6?.ipv6;
    this.icmpv6 = v6?.icmpv6;
    this.ndp = v6?.ndp;
  }

  get name(): string {
    return this.rt.name;
  }

  get clock(): Clock {
    return this.rt.clock;
  }

  /** The IPv4 address (0 on an IPv6-only host). */
  get address(): Ip4 {
    return this.ip.address;
  }

  /** The primary IPv6 address, if the host has IPv6. */
  get address6(): Ip6 | undefined {
    return this.ipv6?.address;
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

  /** `icmp.ping`, or `icmpv6.ping` for an IPv6 address (text or bytes). */
  ping(dst: Ip4, opts?: PingOptions): Promise<PingResult>;
  ping(dst: Ip6, opts?: Ping6Options): Promise<Ping6Result>;
  ping(dst: string, opts?: PingOptions & Ping6Options): Promise<PingResult | Ping6Result>;
  ping(dst: string | IpAddress, opts?: PingOptions & Ping6Options): Promise<PingResult | Ping6Result> {
    const a = typeof dst === 'string' ? (tryParseIp(dst) ?? parseIp4(dst)) : dst;
    if (typeof a === 'number') return this.icmp.ping(a, opts);
    if (this.icmpv6 === undefined) return Promise.reject(new RangeError(`no IPv6 on ${this.name} to ping ${dst as string}`));
    return this.icmpv6.ping(a, opts);
  }
}

export function parseCidr(text: string): { address: Ip4; prefixLength: number } {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text.trim());
  if (m === null) throw new RangeError(`not an address/prefix: ${JSON.stringify(text)}`);
  const prefixLength = Number(m[2]);
  if (prefixLength > 32) throw new RangeError(`prefix length ${prefixLength} > 32`);
  return { address: parseIp4(m[1]!), prefixLength };
}

/** 'a.b.c.d/n' (n <= 32) or an IPv6 'x::y/n' (n <= 128). */
export function parseCidrAny(text: string): { address: IpAddress; prefixLength: number } {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  if (m === null) throw new RangeError(`not an address/prefix: ${JSON.stringify(text)}`);
  if (tryParseIp4(m[1]!) !== undefined) return parseCidr(text);
  const prefixLength = Number(m[2]);
  if (prefixLength > 128) throw new RangeError(`prefix length ${prefixLength} > 128`);
  return { address: parseIp6(m[1]!), prefixLength };
}

function low24(a: Ip6): number {
  return (a[13]! << 16) | (a[14]! << 8) | a[15]!;
}

/** The host's addresses by family: at most one IPv4 (0.0.0.0/32 when none), the IPv6 ones in order. */
function splitAddresses(ip: HostOptions['ip']): { v4: { address: Ip4; prefixLength: number }; v6: Array<{ address: Ip6; prefixLength: number }>; has4: boolean } {
  const list = (Array.isArray(ip) ? ip : [ip]) as readonly HostAddress[];
  let v4: { address: Ip4; prefixLength: number } | undefined;
  const v6: Array<{ address: Ip6; prefixLength: number }> = [];
  for (const item of list) {
    const a = typeof item === 'string' ? parseCidrAny(item) : item;
    if (typeof a.address === 'number') {
      if (v4 !== undefined) throw new RangeError('a host has at most one IPv4 address');
      v4 = { address: a.address, prefixLength: a.prefixLength };
    } else {
      v6.push({ address: a.address, prefixLength: a.prefixLength });
    }
  }
  if (v4 === undefined && v6.length === 0) throw new RangeError('a host needs an address');
  return { v4: v4 ?? { address: 0, prefixLength: 32 }, v6, has4: v4 !== undefined };
}

/** The clock of the SimLink under `device` (through any wrappers), so a host on a link shares its time. */
function linkClockOf(device: Device | undefined): Clock | undefined {
  for (let d = device; d !== undefined; d = d instanceof DeviceWrapper ? d.inner : undefined) {
    if (d instanceof SimPort) return d.link.clock;
  }
  return undefined;
}

export function createHost(opts: HostOptions): Host {
  const addrs = splitAddresses(opts.ip);
  const { address, prefixLength } = addrs.v4;
  const gateway6 = opts.gateway6 === undefined ? undefined : typeof opts.gateway6 === 'string' ? parseIp6(opts.gateway6) : opts.gateway6;
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
      : new ManualDevice(name, mac ?? 0x0200_0000_0000 + (addrs.has4 ? address & 0xffffff : low24(addrs.v6[0]!.address))));
  const pool = opts.pool ?? new BufferPool();
  const promiscuous = opts.promiscuous ?? false;
  const nic = new Nic(rt, device, pool, { promiscuous });
  const arp = new Arp(rt, nic, pool, { ...opts.arp, address, prefixLength, ...(promiscuous || !addrs.has4 ? { announce: false } : {}) });
  const link = opts.belowIp !== undefined ? opts.belowIp(nic, rt, pool) : nic;
  const ip = new Ip(rt, link, arp, pool, {
    ...opts.ipOptions,
    address,
    prefixLength,
    ...(gateway !== undefined ? { gateway } : {}),
    promiscuous,
  });
  const icmp = new Icmp(rt, ip, opts.icmp);
  const v6 =
    addrs.v6.length === 0
      ? undefined
      : attachIpv6(rt, link, pool, nic.mac, {
          ...opts.ipv6,
          addresses: addrs.v6,
          ...(gateway6 !== undefined ? { gateway: gateway6 } : {}),
          promiscuous,
        });
  // Transports run over the families the host has an address of.
  const lowers = [...(addrs.has4 ? [ip] : []), ...(v6 !== undefined ? [v6.ipv6] : [])];
  const udp = opts.udp === false ? null : new Udp(rt, lowers, typeof opts.udp === 'object' ? opts.udp : {});
  const tcp = opts.tcp === undefined || opts.tcp === false ? undefined : new Tcp(rt, lowers, opts.tcp === true ? {} : opts.tcp);
  tcp?.watchErrors(icmp, v6?.icmpv6);
  return new Host(rt, pool, device, nic, link, arp, ip, icmp, udp, tcp, v6);
}

/** A fixed-width table of `stats()` rows, for a shell's `stats` command. */
export function formatStats(rows: readonly StatsRow[]): string {
  const head = ['module', 'entries', 'upcalls', 'deferrals', 'cleanups', 'drops'];
  const body = rows.map((r) => [r.module, r.entries, r.upcalls, r.deferrals, r.cleanups, r.drops].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}
