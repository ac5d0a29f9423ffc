/**
 * Neighbor discovery (RFC 4861) and stateless address autoconfiguration
 * (RFC 4862) for a host: IPv6's resolver, as ARP is IPv4's.
 *
 * - The neighbor cache: each entry is INCOMPLETE (being resolved, packets
 *   queued, bounded), REACHABLE (confirmed within ReachableTime), STALE (a
 *   link-layer address not confirmed lately), DELAY (used while stale: wait
 *   for an upper layer to confirm) or PROBE (unicast solicitations). One timer
 *   per entry on the host's clock drives the transitions. An entry is a client
 *   of the module: a failed task working for it drops what it held.
 * - Messages are believed only after RFC 4861's validity checks (hop limit
 *   255 proves the sender is on the link, code 0, checksum, option lengths,
 *   no link-layer option from ::, no multicast target...): each failure is a
 *   counted drop. An advertisement nobody asked for does not create an entry.
 * - Addresses: `configure` adds one to IPv6 as tentative and runs duplicate
 *   address detection (a solicitation from ::, then RetransTimer of silence);
 *   a solicitation from :: or an advertisement for it marks it duplicated.
 * - SLAAC: a router advertisement's prefixes with the A flag give addresses
 *   (prefix + modified EUI-64), their valid and preferred lifetimes are kept
 *   (the two-hour rule of RFC 4862 §5.5.3), on-link prefixes become routes, the
 *   router a default route for its lifetime, the MTU option IPv6's MTU.
 * - Redirects from the first hop in use become host routes (kept until the
 *   host forgets its routes: there is no destination-cache expiry).
 *
 * NDP writes its own IPv6 headers and sends on the link directly: its messages
 * go to groups or to neighbors whose addresses it has, and sending them through
 * IPv6 would only come back here to be resolved.
 */
import { Module, type Binding, type ModuleTimer, type Runtime } from '../../core/index.js';
import { formatMac, type Mac } from '../../wire/addr.js';
import {
  formatIp6, IP6_ALL_NODES, IP6_ALL_ROUTERS, IP6_ANY, ip6Copy, ip6Equal, ip6FromPrefixAndMac, ip6LinkLocalFromMac, ip6MulticastMac,
  ip6SolicitedNode, isIp6LinkLocal, isIp6Multicast, isIp6Unspecified, type Ip6,
} from '../../wire/addr6.js';
import type { BufferPool, PacketBuffer } from '../../wire/buffer.js';
import { ETHERTYPE_IPV6 } from '../../wire/ethernet.js';
import { IP_PROTO_ICMPV6, writeIpv6Header } from '../../wire/ipv6.js';
import {
  findNdpOption, NDP_HOP_LIMIT, NDP_NA_OVERRIDE, NDP_NA_ROUTER, NDP_NA_SOLICITED, NDP_NEIGHBOR_ADVERTISEMENT,
  NDP_NEIGHBOR_SOLICITATION, NDP_PREFIX_AUTONOMOUS, NDP_PREFIX_ON_LINK, NDP_REDIRECT, NDP_ROUTER_ADVERTISEMENT,
  NDP_ROUTER_SOLICITATION, ndpValidityProblem, parseNdp, writeNdp, type NdpMessage, type NdpOption, type NeighborAdvertisement, type Redirect,
  type NeighborSolicitation, type RouterAdvertisement,
} from '../../wire/ndp.js';
import type { LinkLayer } from '../nic/nic.js';
import type { Icmpv6, Icmpv6NdpSlots } from './icmpv6.js';
import type { AddressOrigin, Ipv6, Ipv6Address, Ipv6Packet, NeighborSlots } from './ipv6.js';

export type NeighborState = 'incomplete' | 'reachable' | 'stale' | 'delay' | 'probe';

export interface NdpOptions {
  /** Duplicate address detection before an address is used. Default true. */
  dad?: boolean;
  /** Solicitations DAD sends (RFC 4862 DupAddrDetectTransmits). Default 1. */
  dadTransmits?: number;
  /** Most random delay before the first DAD solicitation, ms (RFC 4862 §5.4.2). Default 1000. */
  dadDelayMs?: number;
  /** Take addresses, routes and MTU from router advertisements. Default true. */
  slaac?: boolean;
  /** RetransTimer, ms. Default 1000. */
  retransMs?: number;
  /** BaseReachableTime, ms. Default 30 s. */
  reachableMs?: number;
  /** DELAY_FIRST_PROBE_TIME, ms. Default 5 s. */
  delayFirstProbeMs?: number;
  /** MAX_MULTICAST_SOLICIT / MAX_UNICAST_SOLICIT. Default 3. */
  maxSolicit?: number;
  /** Packets queued per neighbor being resolved; the oldest is dropped beyond it. Default 8. */
  queueLimit?: number;
  /** Neighbors being resolved at once. Default 64. */
  maxPending?: number;
  /** Entries in the cache; the oldest stale one is evicted beyond it. Default 512. */
  maxEntries?: number;
  /** Router solicitations sent at start (when SLAAC is on). Default 3, 4 s apart. */
  routerSolicitations?: number;
}

export interface NeighborInfo {
  readonly ip: Ip6;
  readonly mac: Mac;
  readonly state: NeighborState;
  readonly isRouter: boolean;
  readonly queued: number;
}

export interface NdpCounters {
  solicitationsSent: number;
  advertisementsSent: number;
  solicitationsReceived: number;
  advertisementsReceived: number;
  routerAdvertisementsReceived: number;
  routerSolicitationsSent: number;
  /** Resolutions that ran out of solicitations. */
  failures: number;
  released: number;
  dadStarted: number;
  dadSucceeded: number;
  dadConflicts: number;
  slaacAddresses: number;
  redirectsReceived: number;
}

interface Waiting {
  readonly buf: PacketBuffer;
  readonly link: LinkLayer;
}

class Neighbor {
  mac: Mac = 0;
  state: NeighborState = 'incomplete';
  isRouter = false;
  probes = 0;
  queue: Waiting[] = [];
  timer: ModuleTimer | null = null;
  constructor(readonly ip: Ip6, readonly key: string) {}
  describe(): string {
    return `neighbor ${this.key}`;
  }
}

/** Duplicate address detection of one address. */
class DadRun {
  sent = 0;
  timer: ModuleTimer | null = null;
  constructor(readonly address: Ip6, readonly key: string) {}
  describe(): string {
    return `dad ${this.key}`;
  }
}

/** Something that lasts a lifetime from an advertisement: an address, an on-link prefix, a default router. */
class Lease {
  validUntil = Infinity;
  preferredUntil = Infinity;
  timer: ModuleTimer | null = null;
  constructor(readonly kind: 'address' | 'prefix' | 'router', readonly ip: Ip6, readonly prefixLength: number, readonly key: string) {}
  describe(): string {
    return `${this.kind} ${this.key}`;
  }
}

type NdpClient = Neighbor | DadRun | Lease;

interface NdpShared {
  readonly cache: Map<string, Neighbor>;
  pending: number;
  readonly dad: Map<string, DadRun>;
  readonly leases: Map<string, Lease>;
  reachableMs: number;
  retransMs: number;
}

const INFINITE = 0xffff_ffff;

const TWO_HOURS_MS = 2 * 3600 * 1000;

export class Ndp extends Module<NdpShared, NdpClient> {
  readonly counters: NdpCounters = {
    solicitationsSent: 0, advertisementsSent: 0, solicitationsReceived: 0, advertisementsReceived: 0, routerAdvertisementsReceived: 0,
    routerSolicitationsSent: 0, failures: 0, released: 0, dadStarted: 0, dadSucceeded: 0, dadConflicts: 0, slaacAddresses: 0, redirectsReceived: 0,
  };
  readonly dad: boolean;
  readonly dadTransmits: number;
  readonly dadDelayMs: number;
  readonly slaac: boolean;
  readonly delayFirstProbeMs: number;
  readonly maxSolicit: number;
  readonly queueLimit: number;
  readonly maxPending: number;
  readonly maxEntries: number;
  readonly routerSolicitations: number;
  readonly binding: Binding<Icmpv6NdpSlots>;
  readonly resolverBinding: Binding<NeighborSlots>;
  private rsLeft = 0;
  private rsTimer: ModuleTimer | null = null;

  constructor(
    rt: Runtime,
    readonly ipv6: Ipv6,
    icmpv6: Icmpv6,
    readonly link: LinkLayer,
    readonly pool: BufferPool,
    opts: NdpOptions = {},
  ) {
    super(rt, 'ndp', { cache: new Map(), pending: 0, dad: new Map(), leases: new Map(), reachableMs: opts.reachableMs ?? 30_000, retransMs: opts.retransMs ?? 1000 });
    this.dad = opts.dad ?? true;
    this.dadTransmits = opts.dadTransmits ?? 1;
    this.dadDelayMs = opts.dadDelayMs ?? 1000;
    this.slaac = opts.slaac ?? true;
    this.delayFirstProbeMs = opts.delayFirstProbeMs ?? 5000;
    this.maxSolicit = opts.maxSolicit ?? 3;
    this.queueLimit = opts.queueLimit ?? 8;
    this.maxPending = opts.maxPending ?? 64;
    this.maxEntries = opts.maxEntries ?? 512;
    this.routerSolicitations = opts.routerSolicitations ?? 3;
    this.binding = icmpv6.bindNdp(this, { onNdp: (pkt) => this.receive(pkt) });
    this.resolverBinding = ipv6.bindResolver(this, {
      output: (buf, nextHop, link) => this.output(buf, nextHop, link),
      lookup: (ip) => this.lookup(ip),
      confirm: (ip) => this.confirmReachable(ip),
    });
  }

  get retransMs(): number {
    return this.shared.retransMs;
  }

  // ---- addresses -------------------------------------------------------------

  /**
   * Give the interface an address: tentative while DAD runs (RetransTimer
   * after the last solicitation, which waits up to `dadDelayMs` first), then
   * preferred; at once preferred without DAD.
   */
  readonly configure = this.entry('configure', 'reentrant', (address: Ip6, prefixLength: number, origin: AddressOrigin = 'manual'): Ipv6Address => {
    const dad = this.dad && !this.ipv6.promiscuous && !isIp6Unspecified(address);
    const rec = this.ipv6.addAddress(address, prefixLength, origin, dad ? 'tentative' : 'preferred');
    if (dad && rec.state === 'tentative') this.startDad(rec.address);
    else if (rec.state === 'preferred') this.addressReady(rec);
    return rec;
  });

  /** The link-local address from our MAC (RFC 4862 §5.3), configured. */
  readonly configureLinkLocal = this.entry('configureLinkLocal', 'reentrant', (): Ipv6Address => {
    return this.configure(ip6LinkLocalFromMac(this.link.mac), 64, 'link-local');
  });

  private startDad(address: Ip6): void {
    const key = formatIp6(address);
    if (this.shared.dad.has(key)) return;
    const run = new DadRun(ip6Copy(address), key);
    this.shared.dad.set(key, run);
    this.counters.dadStarted++;
    run.timer = this.timer(run, 'dad', () => this.onDad(run));
    run.timer.arm(this.dadDelayMs > 0 ? this.rt.rng.int(this.dadDelayMs) : 0);
  }

  private onDad(run: DadRun): void {
    if (this.shared.dad.get(run.key) !== run) return;
    this.claim(run);
    if (run.sent < this.dadTransmits) {
      run.sent++;
      // From ::, to the target's solicited-node group, without a link-layer option (RFC 4862 §5.4.2).
      this.sendSolicitation(run.address, IP6_ANY, ip6SolicitedNode(run.address), undefined, false);
      run.timer!.arm(this.shared.retransMs);
      return;
    }
    this.shared.dad.delete(run.key);
    this.releaseClient(run);
    const rec = this.ipv6.findAddress(run.address);
    if (rec === undefined || rec.state !== 'tentative') return;
    this.ipv6.setAddressState(run.address, this.preferredState(rec));
    this.counters.dadSucceeded++;
    if (this.rt.observed) this.note(`address ${run.key} is unique`);
    this.addressReady(rec);
  }

  /** A lease past its preferred lifetime leaves the address deprecated. */
  private preferredState(rec: Ipv6Address): 'preferred' | 'deprecated' {
    const l = this.shared.leases.get(`address ${formatIp6(rec.address)}`);
    return l !== undefined && this.rt.clock.now() >= l.preferredUntil ? 'deprecated' : 'preferred';
  }

  private addressReady(rec: Ipv6Address): void {
    // Once the link-local address may be used, ask for routers (RFC 4861 §6.3.7).
    if (rec.origin === 'link-local' && this.slaac && !this.ipv6.promiscuous && this.routerSolicitations > 0) {
      this.rsLeft = this.routerSolicitations;
      this.rsTimer ??= this.timer(null, 'router-solicitation', () => this.solicitRouters());
      this.rsTimer.arm(0);
    }
  }

  private conflict(rec: Ipv6Address, how: string): void {
    const key = formatIp6(rec.address);
    const run = this.shared.dad.get(key);
    if (run !== undefined) {
      this.shared.dad.delete(key);
      this.releaseClient(run);
    }
    this.ipv6.setAddressState(rec.address, 'duplicated');
    this.counters.dadConflicts++;
    this.drop('duplicate-address', this.rt.observed ? `${key} (${how})` : undefined);
    this.log.warn({ address: key, how }, 'duplicate address detected: address not used');
  }

  private solicitRouters(): void {
    if (this.rsLeft <= 0) return;
    this.rsLeft--;
    const src = this.linkLocalSource();
    const options: NdpOption[] = src !== IP6_ANY ? [{ kind: 'source-link-layer', mac: this.link.mac }] : [];
    this.sendNdp({ type: NDP_ROUTER_SOLICITATION, code: 0, checksum: 0, reserved: 0, options }, src, IP6_ALL_ROUTERS, ip6MulticastMac(IP6_ALL_ROUTERS));
    this.counters.routerSolicitationsSent++;
    if (this.rsLeft > 0) this.rsTimer!.arm(4000);
  }

  private linkLocalSource(): Ip6 {
    for (const a of this.ipv6.addresses()) if (isIp6LinkLocal(a.address) && (a.state === 'preferred' || a.state === 'deprecated')) return a.address;
    return IP6_ANY;
  }

  // ---- resolver --------------------------------------------------------------

  readonly lookup = this.query('lookup', (ip: Ip6): Mac | undefined => {
    const e = this.shared.cache.get(formatIp6(ip));
    return e === undefined || e.state === 'incomplete' ? undefined : e.mac;
  });

  readonly output = this.entry('output', 'reentrant', (buf: PacketBuffer, nextHop: Ip6, link: LinkLayer): 'sent' | 'queued' | 'dropped' => {
    const key = formatIp6(nextHop);
    let e = this.shared.cache.get(key);
    if (e !== undefined && e.state !== 'incomplete') {
      if (e.state === 'stale') {
        // RFC 4861 §7.3.3: first use of a stale entry waits for a confirmation before probing.
        this.claim(e);
        e.state = 'delay';
        e.timer!.arm(this.delayFirstProbeMs);
      }
      link.send(buf, e.mac, ETHERTYPE_IPV6);
      return 'sent';
    }
    let start = false;
    const refused = this.lock.locked(() => {
      if (e === undefined) {
        if (this.shared.pending >= this.maxPending) return true;
        e = this.newEntry(nextHop, key);
        this.shared.pending++;
        start = true;
      }
      const q = e.queue;
      if (q.length >= this.queueLimit) {
        q.shift()!.buf.release();
        this.drop('queue-full', this.rt.observed ? key : undefined);
      }
      q.push({ buf, link });
      return false;
    }) as boolean;
    if (refused) {
      buf.release();
      this.drop('too-many-pending', this.rt.observed ? key : undefined);
      return 'dropped';
    }
    if (start) {
      this.claim(e!);
      this.solicit(e!, false);
    }
    return 'queued';
  });

  /** An upper layer saw forward progress with `ip` (TCP: new data acknowledged): it is reachable. */
  readonly confirmReachable = this.entry('confirmReachable', 'reentrant', (ip: Ip6): void => {
    const e = this.shared.cache.get(formatIp6(ip));
    if (e === undefined || e.state === 'incomplete') return;
    this.claim(e);
    this.makeReachable(e);
  });

  /** The cache, for display and tests. */
  neighbors(): NeighborInfo[] {
    return [...this.shared.cache.values()].map((e) => ({ ip: e.ip, mac: e.mac, state: e.state, isRouter: e.isRouter, queued: e.queue.length }));
  }

  neighbor(ip: Ip6): NeighborInfo | undefined {
    const e = this.shared.cache.get(formatIp6(ip));
    return e === undefined ? undefined : { ip: e.ip, mac: e.mac, state: e.state, isRouter: e.isRouter, queued: e.queue.length };
  }

  /** Under the lock: a new entry, evicting a stale one when the cache is full. */
  private newEntry(ip: Ip6, key: string): Neighbor {
    const cache = this.shared.cache;
    if (cache.size >= this.maxEntries) {
      for (const [k, old] of cache) {
        if (old.state === 'stale') {
          cache.delete(k);
          this.releaseClient(old);
          break;
        }
      }
    }
    const e = new Neighbor(ip6Copy(ip), key);
    e.timer = this.timer(e, 'neighbor', () => this.onTimer(e));
    cache.set(key, e);
    return e;
  }

  private onTimer(e: Neighbor): void {
    if (this.shared.cache.get(e.key) !== e) return;
    this.claim(e);
    switch (e.state) {
      case 'reachable':
        e.state = 'stale';
        return;
      case 'delay':
        e.state = 'probe';
        e.probes = 0;
        this.solicit(e, true);
        return;
      case 'incomplete':
      case 'probe':
        if (e.probes >= this.maxSolicit) {
          this.counters.failures++;
          if (this.rt.observed) this.note(`no answer from ${e.key} after ${e.probes} solicitations`);
          this.forget(e, e.state === 'incomplete' ? 'unresolved' : 'unreachable');
          return;
        }
        this.solicit(e, e.state === 'probe');
        return;
      default:
    }
  }

  private solicit(e: Neighbor, unicast: boolean): void {
    e.probes++;
    e.timer!.arm(this.shared.retransMs);
    const src = this.ipv6.sourceFor(e.ip);
    if (src === undefined || typeof src === 'number') {
      this.drop('no-source-address', this.rt.observed ? e.key : undefined);
      return;
    }
    this.sendSolicitation(e.ip, src, unicast ? e.ip : ip6SolicitedNode(e.ip), unicast ? e.mac : undefined, true);
  }

  private makeReachable(e: Neighbor): void {
    e.state = 'reachable';
    e.probes = 0;
    // RFC 4861 §6.3.2: ReachableTime is drawn from [0.5, 1.5) x BaseReachableTime.
    e.timer!.arm(Math.floor(this.shared.reachableMs * (0.5 + this.rt.rng.float())));
  }

  /** The entry leaves the INCOMPLETE state with `mac`: what waited goes out. */
  private resolved(e: Neighbor, mac: Mac, state: 'reachable' | 'stale'): void {
    const wasPending = e.state === 'incomplete';
    e.mac = mac;
    if (state === 'reachable') this.makeReachable(e);
    else {
      e.state = 'stale';
      e.timer!.cancel();
    }
    if (!wasPending) return;
    const q = this.lock.locked(() => {
      this.shared.pending--;
      const held = e.queue;
      e.queue = [];
      return held;
    }) as Waiting[];
    for (const w of q) {
      this.counters.released++;
      w.link.send(w.buf, mac, ETHERTYPE_IPV6);
    }
  }

  private forget(e: Neighbor, reason: string): void {
    const q = this.lock.locked(() => {
      if (this.shared.cache.get(e.key) === e) this.shared.cache.delete(e.key);
      if (e.state === 'incomplete') this.shared.pending--;
      const held = e.queue;
      e.queue = [];
      return held;
    }) as Waiting[];
    this.releaseClient(e);
    for (const w of q) {
      w.buf.release();
      this.drop(reason, this.rt.observed ? e.key : undefined);
    }
  }

  /** What a solicitation, or an advertisement of a router, tells about its sender (RFC 4861 §7.2.3, §6.3.4). */
  private learn(ip: Ip6, mac: Mac, isRouter: boolean | undefined): void {
    const key = formatIp6(ip);
    let e = this.shared.cache.get(key);
    if (e === undefined) {
      e = this.lock.locked(() => this.newEntry(ip, key)) as Neighbor;
      this.claim(e);
      e.mac = mac;
      e.state = 'stale';
    } else if (e.state === 'incomplete') {
      this.claim(e);
      this.resolved(e, mac, 'stale');
    } else if (e.mac !== mac) {
      this.claim(e);
      e.mac = mac;
      e.state = 'stale';
      e.timer!.cancel();
    }
    if (isRouter !== undefined) e.isRouter = isRouter;
  }

  // ---- receive ---------------------------------------------------------------

  private receive(pkt: Ipv6Packet): void {
    // Replay: neighbor discovery of others is not ours to act on.
    if (this.ipv6.promiscuous) return;
    const buf = pkt.buf;
    const r = parseNdp(buf.bytes, buf.start, buf.length);
    if (!r.ok) {
      this.drop(r.reason);
      return;
    }
    const m = r.header;
    const problem = ndpValidityProblem(pkt.header, buf.bytes, buf.start, buf.length, m);
    if (problem !== undefined) {
      this.drop(problem, this.rt.observed ? `type ${m.type} from ${formatIp6(pkt.src)}` : undefined);
      return;
    }
    switch (m.type) {
      case NDP_NEIGHBOR_SOLICITATION:
        this.onSolicitation(pkt, m);
        return;
      case NDP_NEIGHBOR_ADVERTISEMENT:
        this.onAdvertisement(pkt, m);
        return;
      case NDP_ROUTER_ADVERTISEMENT:
        this.onRouterAdvertisement(pkt, m);
        return;
      case NDP_ROUTER_SOLICITATION:
        // Hosts do not answer router solicitations (RFC 4861 §6.2.6).
        this.drop('router-solicitation');
        return;
      case NDP_REDIRECT:
        this.onRedirect(pkt, m);
        return;
      default:
    }
  }

  private onSolicitation(pkt: Ipv6Packet, m: NeighborSolicitation): void {
    this.counters.solicitationsReceived++;
    const rec = this.ipv6.findAddress(m.target);
    if (rec === undefined) {
      this.drop('not-our-target');
      return;
    }
    const fromAny = isIp6Unspecified(pkt.src);
    if (rec.state === 'tentative') {
      // RFC 4862 §5.4.3: someone else is testing the same address; a solicitation from a real address is not about DAD.
      if (fromAny) this.conflict(rec, 'solicitation from ::');
      else this.drop('tentative-target');
      return;
    }
    if (rec.state === 'duplicated') {
      this.drop('duplicated-target');
      return;
    }
    const sll = findNdpOption(m.options, 'source-link-layer');
    if (!fromAny && sll === undefined && isIp6Multicast(pkt.dst)) {
      // RFC 4861 §7.2.3 needs the option in a multicast solicitation: nowhere to answer otherwise.
      this.drop('missing-link-layer-option');
      return;
    }
    if (!fromAny && sll !== undefined) this.learn(pkt.src, sll.mac, undefined);
    const dst = fromAny ? IP6_ALL_NODES : pkt.src;
    // A unicast solicitation without the option (RFC 4861 §7.2.4): the answer waits for resolution if need be.
    const mac = fromAny ? ip6MulticastMac(IP6_ALL_NODES) : sll?.mac ?? this.lookup(pkt.src);
    const flags = (fromAny ? 0 : NDP_NA_SOLICITED) | NDP_NA_OVERRIDE;
    this.sendNdp({ type: NDP_NEIGHBOR_ADVERTISEMENT, code: 0, checksum: 0, flags, target: rec.address, options: [{ kind: 'target-link-layer', mac: this.link.mac }] }, rec.address, dst, mac);
    this.counters.advertisementsSent++;
  }

  private onAdvertisement(pkt: Ipv6Packet, m: NeighborAdvertisement): void {
    this.counters.advertisementsReceived++;
    const rec = this.ipv6.findAddress(m.target);
    const tll = findNdpOption(m.options, 'target-link-layer');
    if (rec !== undefined) {
      if (rec.state === 'tentative') this.conflict(rec, `advertisement from ${tll !== undefined ? formatMac(tll.mac) : formatIp6(pkt.src)}`);
      else {
        this.drop('address-conflict', this.rt.observed ? formatIp6(m.target) : undefined);
        this.log.warn({ address: formatIp6(m.target), from: tll !== undefined ? formatMac(tll.mac) : undefined }, 'another node advertises our address');
      }
      return;
    }
    const e = this.shared.cache.get(formatIp6(m.target));
    if (e === undefined) {
      // RFC 4861 §7.2.5: no entry, nothing to update; an unsolicited advertisement creates none.
      this.drop('unsolicited-advertisement', this.rt.observed ? formatIp6(m.target) : undefined);
      return;
    }
    this.claim(e);
    const solicited = (m.flags & NDP_NA_SOLICITED) !== 0;
    const override = (m.flags & NDP_NA_OVERRIDE) !== 0;
    const router = (m.flags & NDP_NA_ROUTER) !== 0;
    if (e.state === 'incomplete') {
      if (tll === undefined) {
        this.drop('no-target-link-layer-option');
        return;
      }
      e.isRouter = router;
      this.resolved(e, tll.mac, solicited ? 'reachable' : 'stale');
      return;
    }
    const changed = tll !== undefined && tll.mac !== e.mac;
    if (!override && changed) {
      // Not allowed to replace a known address; a reachable entry is only doubted.
      if (e.state === 'reachable') {
        e.state = 'stale';
        e.timer!.cancel();
      }
      this.drop('advertisement-without-override');
      return;
    }
    if (tll !== undefined) e.mac = tll.mac;
    if (solicited) this.makeReachable(e);
    else if (changed) {
      e.state = 'stale';
      e.timer!.cancel();
    }
    if (e.isRouter && !router) this.removeDefaultRouter(e.ip);
    e.isRouter = router;
  }

  /**
   * RFC 4861 §8.3: the router we use for `destination` says a better first hop
   * (or the destination itself) is on the link: a host route through it. Only
   * the current first hop may say so; anyone else is a counted drop.
   */
  private onRedirect(pkt: Ipv6Packet, m: Redirect): void {
    this.counters.redirectsReceived++;
    const first = this.ipv6.nextHop(m.destination);
    if (first === undefined || !ip6Equal(first, pkt.src) || ip6Equal(first, m.destination)) {
      this.drop('redirect-not-from-first-hop', this.rt.observed ? formatIp6(pkt.src) : undefined);
      return;
    }
    const onLink = ip6Equal(m.target, m.destination);
    // A newer redirect replaces the host route an older one made.
    for (const r of this.ipv6.routes()) if (r.prefixLength === 128 && ip6Equal(r.prefix, m.destination)) this.ipv6.removeRoute(r.prefix, 128, r.gateway);
    this.ipv6.addRoute(m.destination, 128, onLink ? null : m.target);
    const tll = findNdpOption(m.options, 'target-link-layer');
    if (tll !== undefined) this.learn(m.target, tll.mac, onLink ? undefined : true);
    if (this.rt.observed) this.note(`redirect: ${formatIp6(m.destination)} via ${onLink ? 'the link' : formatIp6(m.target)}`);
  }

  private onRouterAdvertisement(pkt: Ipv6Packet, m: RouterAdvertisement): void {
    this.counters.routerAdvertisementsReceived++;
    if (!this.slaac) {
      this.drop('slaac-off');
      return;
    }
    this.rsLeft = 0;
    const router = pkt.src;
    const sll = findNdpOption(m.options, 'source-link-layer');
    if (sll !== undefined) this.learn(router, sll.mac, true);
    if (m.curHopLimit !== 0) this.ipv6.hopLimit = m.curHopLimit;
    if (m.reachableTime !== 0 && m.reachableTime <= 3_600_000) this.shared.reachableMs = m.reachableTime;
    if (m.retransTimer !== 0 && m.retransTimer <= 60_000) this.shared.retransMs = m.retransTimer;
    const mtu = findNdpOption(m.options, 'mtu');
    if (mtu !== undefined) {
      if (mtu.mtu >= 1280 && mtu.mtu <= this.link.mtu) this.ipv6.mtu = mtu.mtu;
      else this.drop('bad-mtu-option', String(mtu.mtu));
    }
    const now = this.rt.clock.now();
    // The default router list (RFC 4861 §6.3.4).
    if (m.routerLifetime > 0) {
      const l = this.lease('router', router, 0);
      this.ipv6.addRoute(IP6_ANY, 0, router);
      this.setLease(l, now + m.routerLifetime * 1000, Infinity);
    } else this.removeDefaultRouter(router);
    for (const opt of m.options) if (opt.kind === 'prefix') this.onPrefix(opt.prefix, opt.prefixLength, opt.flags, opt.validLifetime, opt.preferredLifetime, now);
  }

  private onPrefix(prefix: Ip6, prefixLength: number, flags: number, valid: number, preferred: number, now: number): void {
    if (isIp6LinkLocal(prefix) || prefixLength > 128) {
      this.drop('bad-prefix');
      return;
    }
    if (preferred > valid) {
      this.drop('bad-prefix-lifetimes');
      return;
    }
    const validUntil = valid === INFINITE ? Infinity : now + valid * 1000;
    const preferredUntil = preferred === INFINITE ? Infinity : now + preferred * 1000;
    if ((flags & NDP_PREFIX_ON_LINK) !== 0) {
      const l = this.lease('prefix', prefix, prefixLength);
      if (valid === 0) this.endLease(l);
      else {
        this.ipv6.addRoute(prefix, prefixLength, null);
        this.setLease(l, validUntil, Infinity);
      }
    }
    if ((flags & NDP_PREFIX_AUTONOMOUS) === 0) return;
    if (prefixLength !== 64) {
      // An interface identifier of 64 bits needs a /64 (RFC 4862 §5.5.3 d).
      this.drop('prefix-length-not-64');
      return;
    }
    const address = ip6FromPrefixAndMac(prefix, this.link.mac);
    const existing = this.ipv6.findAddress(address);
    if (existing === undefined) {
      if (valid === 0) return;
      const l = this.lease('address', address, 64);
      this.setLease(l, validUntil, preferredUntil);
      this.counters.slaacAddresses++;
      if (this.rt.observed) this.note(`SLAAC address ${formatIp6(address)}`);
      this.configure(address, 64, 'slaac');
      return;
    }
    if (existing.origin !== 'slaac') return;
    const l = this.lease('address', address, 64);
    // RFC 4862 §5.5.3 e: a forged advertisement may not cut a valid lifetime below two hours.
    const remaining = l.validUntil - now;
    let until = l.validUntil;
    if (validUntil - now > TWO_HOURS_MS || validUntil > l.validUntil) until = validUntil;
    else if (remaining > TWO_HOURS_MS) until = now + TWO_HOURS_MS;
    this.setLease(l, until, preferredUntil);
    if (existing.state === 'deprecated' && now < preferredUntil) this.ipv6.setAddressState(address, 'preferred');
  }

  private removeDefaultRouter(router: Ip6): void {
    const l = this.shared.leases.get(`router ${formatIp6(router)}/0`);
    if (l !== undefined) this.endLease(l);
  }

  // ---- leases ----------------------------------------------------------------

  private lease(kind: Lease['kind'], ip: Ip6, prefixLength: number): Lease {
    const key = `${kind} ${formatIp6(ip)}${kind === 'address' ? '' : `/${prefixLength}`}`;
    let l = this.shared.leases.get(key);
    if (l === undefined) {
      l = new Lease(kind, ip6Copy(ip), prefixLength, key);
      const ll = l;
      l.timer = this.timer(l, 'lease', () => this.onLease(ll));
      this.shared.leases.set(key, l);
    }
    return l;
  }

  private setLease(l: Lease, validUntil: number, preferredUntil: number): void {
    l.validUntil = validUntil;
    l.preferredUntil = preferredUntil;
    const next = Math.min(validUntil, preferredUntil > this.rt.clock.now() ? preferredUntil : Infinity);
    if (next === Infinity) l.timer!.cancel();
    else l.timer!.armAt(next);
  }

  private onLease(l: Lease): void {
    if (this.shared.leases.get(l.key) !== l) return;
    const now = this.rt.clock.now();
    if (now >= l.validUntil) {
      this.endLease(l);
      return;
    }
    if (l.kind === 'address' && now >= l.preferredUntil) {
      const rec = this.ipv6.findAddress(l.ip);
      if (rec !== undefined && rec.state === 'preferred') this.ipv6.setAddressState(l.ip, 'deprecated');
    }
    this.setLease(l, l.validUntil, l.preferredUntil);
  }

  private endLease(l: Lease): void {
    this.shared.leases.delete(l.key);
    this.releaseClient(l);
    if (l.kind === 'address') this.ipv6.removeAddress(l.ip);
    else if (l.kind === 'prefix') this.ipv6.removeRoute(l.ip, l.prefixLength, null);
    else this.ipv6.removeRoute(IP6_ANY, 0, l.ip);
    if (this.rt.observed) this.note(`${l.key} expired`);
  }

  // ---- send ------------------------------------------------------------------

  private sendSolicitation(target: Ip6, src: Ip6, dst: Ip6, mac: Mac | undefined, withLinkLayer: boolean): void {
    const options: NdpOption[] = withLinkLayer ? [{ kind: 'source-link-layer', mac: this.link.mac }] : [];
    this.sendNdp({ type: NDP_NEIGHBOR_SOLICITATION, code: 0, checksum: 0, reserved: 0, target, options }, src, dst, mac ?? ip6MulticastMac(dst));
    this.counters.solicitationsSent++;
  }

  /** To `mac`, or (unicast `dst` whose address we lack) through resolution like any datagram. */
  private sendNdp(m: NdpMessage, src: Ip6, dst: Ip6, mac: Mac | undefined): void {
    const buf = this.pool.alloc(0, 'ndp');
    writeNdp(buf, m, src, dst);
    writeIpv6Header(buf, { trafficClass: 0, flowLabel: 0, payloadLength: 0, nextHeader: IP_PROTO_ICMPV6, hopLimit: NDP_HOP_LIMIT, src, dst });
    if (mac !== undefined) this.link.send(buf, mac, ETHERTYPE_IPV6);
    else this.output(buf, dst, this.link);
  }

  protected override cleanup(client: NdpClient | undefined, _reason: string): void {
    if (client instanceof Neighbor && client.state === 'incomplete') this.forget(client, 'cleanup');
  }
}
