/**
 * ARP (RFC 826): maps the IPv4 next hop to an Ethernet address.
 *
 * Shared state is the cache. Entries being resolved hold the packets waiting
 * for them (a bounded queue per destination, oldest dropped first) and a retry
 * timer. A resolved entry is not trusted for a fixed lifetime: it goes through
 * neighbour unreachability detection (RFC 1122 2.3.2.1, with the states of
 * RFC 4861 7.3), because one damaged or forged reply would otherwise send every
 * datagram for that neighbour to a MAC nobody has until the entry expired:
 *
 *   reachable  confirmed within a reachable time (random 0.5-1.5 x base, so the
 *              hosts of a link do not all probe at once)
 *   stale      not confirmed lately; still used, and its first use starts:
 *   delay      a grace period for an upper layer to confirm (TCP's progress)
 *   probe      unicast requests to the cached MAC; no answer: resolve again
 *              by broadcast (pending), and if that fails the entry goes
 *
 * A confirmation is an ARP packet from the neighbour with the cached MAC, a
 * reply to our request, or a hint from above (`confirm`). Each entry with a
 * timer running (pending, delay, probe) is a client of the module: a failed task
 * that was working for it cleans it up (its waiting packets are dropped and
 * counted), and its timer goes with it. An entry unconfirmed for `cacheTtlMs`
 * and not being verified is forgotten.
 *
 * Learning follows RFC 826's merge rule: an existing entry is refreshed from any
 * ARP packet whose sender it names; a new entry is made only from packets
 * addressed to us (a request for our address, or a reply to our request).
 * What was not asked for (a new MAC in an unsolicited packet, a request that
 * introduces a neighbour) is believed but not trusted: the entry is stale, and
 * its first use verifies it.
 */
import { Module, Rng, type Binding, type Runtime } from '../core/index.js';
import { BROADCAST_MAC, formatIp4, formatMac, isMulticastMac, ZERO_MAC, type Ip4, type Mac } from '../wire/addr.js';
import { ARP_REPLY, ARP_REQUEST, parseArp, writeArp, type ArpPacket } from '../wire/arp.js';
import type { BufferPool, PacketBuffer } from '../wire/buffer.js';
import { ETHERTYPE_ARP } from '../wire/ethernet.js';
import type { EthertypeSlots, LinkLayer } from './nic/nic.js';

export type OutputResult = 'sent' | 'queued' | 'dropped';

/** What IP needs to reach a next hop on an Ethernet link. */
export interface Resolver {
  /**
   * Send `buf` (an IP datagram, owned from now on) to `nextHop` through `link`:
   * at once when its MAC is known, else queued until resolution.
   */
  readonly output: (buf: PacketBuffer, nextHop: Ip4, ethertype: number, link: LinkLayer) => OutputResult;
  /** The MAC for `ip` if the cache has it fresh; never sends anything. */
  readonly lookup: (ip: Ip4) => Mac | undefined;
  /** An upper layer saw `nextHop` make forward progress: its entry is reachable. */
  readonly confirm?: (nextHop: Ip4) => void;
}

export interface ArpOptions {
  /** Our IPv4 address (0: none yet; see setAddress). */
  address: Ip4;
  /**
   * Prefix length of the interface's subnet: ARP packets from a sender outside
   * it are dropped (counted 'off-subnet'). Absent: not checked.
   */
  prefixLength?: number;
  /** An entry unconfirmed this long, and not being verified, is forgotten, ms. Default 60 s. */
  cacheTtlMs?: number;
  /** Requests sent for one resolution before giving up. Default 3. */
  retries?: number;
  /** Time between requests, ms. Default 1000. */
  retryMs?: number;
  /** Base reachable time (RFC 4861 BaseReachableTime), ms; each confirmation draws 0.5-1.5 x it. Default 30 s. */
  reachableMs?: number;
  /** Wait for an upper-layer confirmation after a stale entry's first use (DELAY_FIRST_PROBE_TIME), ms. Default 5000. */
  delayMs?: number;
  /** Unicast probes before resolving again by broadcast (MAX_UNICAST_SOLICIT). Default 3. */
  probes?: number;
  /** Time between probes (RetransTimer), ms. Default retryMs. */
  probeMs?: number;
  /** Packets waiting per destination; beyond it the oldest is dropped. Default 8. */
  queueLimit?: number;
  /** Destinations being resolved at once; more are refused. Default 64. */
  maxPending?: number;
  /** Entries in the cache; the oldest resolved one is evicted beyond it. Default 512. */
  maxEntries?: number;
  /** Send a gratuitous ARP when the module starts (on the next clock turn). Default true. */
  announce?: boolean;
}

/** 'pending' is RFC 4861's INCOMPLETE; the others are named as there. */
export type ArpState = 'pending' | 'reachable' | 'stale' | 'delay' | 'probe' | 'static';

export interface ArpEntryInfo {
  readonly ip: Ip4;
  readonly mac: Mac;
  readonly state: ArpState;
  /**
   * Clock time of the entry's next change: when it is forgotten (reachable,
   * stale), its timer (pending, delay, probe), Infinity for static.
   */
  readonly expiresAt: number;
  /** Packets waiting for resolution. */
  readonly queued: number;
}

export interface ArpCounters {
  requestsSent: number;
  repliesSent: number;
  requestsReceived: number;
  repliesReceived: number;
  /** Resolutions that ran out of retries. */
  failures: number;
  /** Packets sent after waiting for resolution. */
  released: number;
  /** ARP packets received and used (learned from, or answered); the rest are counted drops. */
  accepted: number;
  /** Unicast requests sent to verify a cached MAC (also counted in requestsSent). */
  probesSent: number;
  /** Entries made reachable again by a packet from the neighbour or a hint from above. */
  confirmations: number;
  /** Entries whose probes went unanswered (their MAC was given up). */
  unreachable: number;
  /** Packets whose sender MAC differs from their frame's source: learned as stale, never as confirmed. */
  inconsistent: number;
}

interface Waiting {
  readonly buf: PacketBuffer;
  readonly ethertype: number;
  readonly link: LinkLayer;
}

interface Timer {
  arm(ms: number): void;
  readonly due: number;
}

/** One cache entry; while its timer runs it is a client of the module. */
class ArpEntry {
  mac: Mac = ZERO_MAC;
  state: ArpState = 'pending';
  /** Last confirmation (or learning); the entry is forgotten cacheTtlMs after it unless being verified. */
  confirmedAt = 0;
  /** Reachable until then; stale after. */
  reachableUntil = 0;
  /** The reachable time drawn at the last confirmation. */
  reachableFor = 0;
  tries = 0;
  queue: Waiting[] = [];
  timer: Timer | null = null;
  constructor(readonly ip: Ip4) {}
  describe(): string {
    return `arp ${formatIp4(this.ip)}`;
  }
}

interface ArpShared {
  readonly cache: Map<Ip4, ArpEntry>;
  pending: number;
}

export class Arp extends Module<ArpShared, ArpEntry> implements Resolver {
  address: Ip4;
  readonly counters: ArpCounters = {
    requestsSent: 0, repliesSent: 0, requestsReceived: 0, repliesReceived: 0, failures: 0, released: 0, accepted: 0,
    probesSent: 0, confirmations: 0, unreachable: 0, inconsistent: 0,
  };
  readonly cacheTtlMs: number;
  readonly retries: number;
  readonly retryMs: number;
  readonly reachableMs: number;
  readonly delayMs: number;
  readonly probes: number;
  readonly probeMs: number;
  readonly queueLimit: number;
  readonly maxPending: number;
  readonly maxEntries: number;
  readonly binding: Binding<EthertypeSlots>;
  /** Subnet mask for the sender check; 0 with no prefix given (then nothing is checked). */
  private mask: number;
  private checkSubnet: boolean;
  /**
   * Reachable times are drawn from a generator seeded from the runtime's seed
   * rather than from the runtime's own, so that adding NUD moved no other
   * module's random sequence (ISNs, IP ids) in existing seeded runs.
   */
  private readonly rng: Rng;
  /** Reused for every ARP packet we send. */
  private readonly txPacket: ArpPacket = { operation: 0, senderMac: 0, senderIp: 0, targetMac: 0, targetIp: 0 };

  constructor(
    rt: Runtime,
    readonly link: LinkLayer,
    readonly pool: BufferPool,
    opts: ArpOptions,
  ) {
    super(rt, 'arp', { cache: new Map(), pending: 0 });
    this.address = opts.address;
    this.checkSubnet = opts.prefixLength !== undefined;
    this.mask = maskOf(opts.prefixLength ?? 0);
    this.cacheTtlMs = opts.cacheTtlMs ?? 60_000;
    this.retries = opts.retries ?? 3;
    this.retryMs = opts.retryMs ?? 1000;
    this.reachableMs = opts.reachableMs ?? 30_000;
    this.delayMs = opts.delayMs ?? 5000;
    this.probes = opts.probes ?? 3;
    this.probeMs = opts.probeMs ?? this.retryMs;
    this.queueLimit = opts.queueLimit ?? 8;
    this.maxPending = opts.maxPending ?? 64;
    this.maxEntries = opts.maxEntries ?? 512;
    this.rng = new Rng((rt.rng.seed ^ 0x4e554400) >>> 0);
    this.binding = link.bindEthertype(ETHERTYPE_ARP, this, { onFrame: (buf, eth) => this.receive(buf, eth.src) });
    if ((opts.announce ?? true) && this.address !== 0) this.timer(null, 'announce', () => this.announce()).arm(0);
  }

  setAddress(ip: Ip4, prefixLength?: number): void {
    this.address = ip;
    if (prefixLength === undefined) return;
    this.mask = maskOf(prefixLength);
    this.checkSubnet = true;
  }

  /** The MAC of `ip` if known and fresh (read-only: it starts no resolution). */
  readonly lookup = this.query('lookup', (ip: Ip4): Mac | undefined => {
    const e = this.shared.cache.get(ip);
    if (e === undefined || e.state === 'pending' || this.expired(e, this.rt.clock.now())) return undefined;
    return e.mac;
  });

  readonly output = this.entry(
    'output',
    'reentrant',
    (buf: PacketBuffer, nextHop: Ip4, ethertype: number, link: LinkLayer): OutputResult => {
      const now = this.rt.clock.now();
      let entry = this.shared.cache.get(nextHop);
      if (entry !== undefined && (entry.state === 'static' || (entry.state === 'reachable' && now < entry.reachableUntil))) {
        link.send(buf, entry.mac, ethertype);
        return 'sent';
      }
      if (entry !== undefined && entry.state !== 'pending' && !this.expired(entry, now)) {
        // Stale (or being verified): still used, as RFC 4861 does; the first use starts verification.
        const e = entry;
        if (e.state === 'reachable' || e.state === 'stale') {
          this.lock.locked(() => {
            e.state = 'delay';
          });
          this.armTimer(e, this.delayMs);
        }
        link.send(buf, e.mac, ethertype);
        return 'sent';
      }
      let start = false;
      const refused = this.lock.locked(() => {
        const cache = this.shared.cache;
        if (entry !== undefined && entry.state !== 'pending') {
          // Expired: resolve afresh.
          cache.delete(nextHop);
          entry = undefined;
        }
        if (entry === undefined) {
          if (this.shared.pending >= this.maxPending) return true;
          entry = new ArpEntry(nextHop);
          this.makeRoom();
          cache.set(nextHop, entry);
          this.shared.pending++;
          start = true;
        }
        const q = entry.queue;
        if (q.length >= this.queueLimit) {
          q.shift()!.buf.release();
          this.drop('queue-full', this.rt.observed ? formatIp4(nextHop) : undefined);
        }
        q.push({ buf, ethertype, link });
        return false;
      }) as boolean;
      if (refused) {
        buf.release();
        this.drop('too-many-pending', this.rt.observed ? formatIp4(nextHop) : undefined);
        return 'dropped';
      }
      if (start) this.request(entry!);
      return 'queued';
    },
  );

  /**
   * An upper layer saw forward progress with `ip` (TCP: an ACK of new data), so
   * its entry is reachable; no packet needed (RFC 4861 7.3.1). Unknown or
   * unresolved entries are left alone: a hint carries no MAC.
   */
  readonly confirm = this.entry('confirm', 'reentrant', (ip: Ip4): void => {
    const e = this.shared.cache.get(ip);
    if (e === undefined || e.state === 'pending' || e.state === 'static') return;
    const now = this.rt.clock.now();
    if (e.state === 'reachable' && now < e.reachableUntil) {
      // Called per ACK: extend by the time already drawn, no new draw and no counting.
      this.lock.locked(() => {
        e.confirmedAt = now;
        e.reachableUntil = now + e.reachableFor;
      });
      return;
    }
    this.lock.locked(() => this.settle(e, e.mac, 'reachable'));
    this.counters.confirmations++;
  });

  /** A permanent entry (no expiry, never replaced by what is heard). */
  readonly addStatic = this.entry('addStatic', 'reject', (ip: Ip4, mac: Mac): void => {
    const waiting = this.lock.locked(() => {
      const old = this.shared.cache.get(ip);
      const e = old ?? new ArpEntry(ip);
      const q = this.settle(e, mac, 'static');
      if (old === undefined) this.shared.cache.set(ip, e);
      return q;
    }) as Waiting[];
    this.release(waiting, mac);
  });

  /** Forget one entry (its waiting packets are dropped). */
  readonly remove = this.entry('remove', 'reject', (ip: Ip4): boolean => {
    const e = this.shared.cache.get(ip);
    if (e === undefined) return false;
    this.forget(e, 'removed');
    return true;
  });

  /** Forget every entry but the static ones. */
  readonly flush = this.entry('flush', 'reject', (): void => {
    for (const e of [...this.shared.cache.values()]) if (e.state !== 'static') this.forget(e, 'flushed');
  });

  /** Broadcast a gratuitous ARP for our address (announces it, updates neighbours' caches). */
  readonly announce = this.entry('announce', 'reentrant', (): void => {
    if (this.address === 0) return;
    this.sendArp(ARP_REQUEST, ZERO_MAC, this.address, BROADCAST_MAC);
    this.counters.requestsSent++;
  });

  /** The cache, for display and tests. Expired entries are left out. */
  entries(): ArpEntryInfo[] {
    const now = this.rt.clock.now();
    const out: ArpEntryInfo[] = [];
    for (const e of this.shared.cache.values()) {
      if (this.expired(e, now)) continue;
      const timed = e.state === 'pending' || e.state === 'delay' || e.state === 'probe';
      out.push({
        ip: e.ip,
        mac: e.mac,
        state: e.state === 'reachable' && now >= e.reachableUntil ? 'stale' : e.state,
        expiresAt: e.state === 'static' ? Infinity : timed ? (e.timer?.due ?? now) : e.confirmedAt + this.cacheTtlMs,
        queued: e.queue.length,
      });
    }
    return out;
  }

  /** Packets waiting for resolution, over all destinations. */
  get queued(): number {
    let n = 0;
    for (const e of this.shared.cache.values()) n += e.queue.length;
    return n;
  }

  private receive(buf: PacketBuffer, ethSrc: Mac): void {
    const r = parseArp(buf.bytes, buf.start, buf.length);
    if (!r.ok) {
      this.drop(r.reason);
      return;
    }
    const p = r.header;
    const c = this.counters;
    if (p.operation === ARP_REQUEST) c.requestsReceived++;
    else if (p.operation === ARP_REPLY) c.repliesReceived++;
    else {
      this.drop('bad-operation', this.rt.observed ? String(p.operation) : undefined);
      return;
    }
    if (isMulticastMac(p.senderMac) || p.senderMac === ZERO_MAC) {
      this.drop('bad-sender', this.rt.observed ? formatMac(p.senderMac) : undefined);
      return;
    }
    // A neighbour's address is on our subnet; anything else is damage or a lie (a probe's 0 is neither).
    if (this.checkSubnet && p.senderIp !== 0 && this.address !== 0 && ((p.senderIp ^ this.address) & this.mask) !== 0) {
      this.drop('off-subnet', this.rt.observed ? formatIp4(p.senderIp) : undefined);
      return;
    }
    const mine = this.address !== 0 && p.targetIp === this.address;
    if (this.address !== 0 && p.senderIp === this.address) {
      if (p.senderMac !== this.link.mac) {
        this.drop('address-conflict', this.rt.observed ? formatMac(p.senderMac) : undefined);
        if (this.rt.observed) this.note(`address conflict with ${formatMac(p.senderMac)}`);
      } else {
        this.drop('own-packet');
      }
      return;
    }
    let waiting: Waiting[] | null = null;
    let known = false;
    if (p.senderIp !== 0) {
      const existing = this.shared.cache.get(p.senderIp);
      if (existing !== undefined || mine) {
        known = true;
        const reply = mine && p.operation === ARP_REPLY;
        waiting = this.lock.locked(() => {
          const cache = this.shared.cache;
          let e = existing;
          if (e === undefined) {
            e = new ArpEntry(p.senderIp);
            this.makeRoom();
            cache.set(p.senderIp, e);
          }
          if (e.state === 'static') return null;
          this.claim(e);
          // Asked for (this answers our request or probe), or the MAC we had: confirmed. Unless
          // the frame's source disagrees with the MAC inside: one flipped bit in the sender MAC
          // looks like that, so such an answer is believed (used) but verified on first use.
          const asked = reply && existing !== undefined && (e.state === 'pending' || e.state === 'probe');
          const same = existing !== undefined && e.state !== 'pending' && e.mac === p.senderMac;
          if (p.senderMac !== ethSrc) c.inconsistent++;
          else if (asked || same) {
            if (e.state !== 'pending') c.confirmations++;
            return this.settle(e, p.senderMac, 'reachable');
          }
          return this.settle(e, p.senderMac, 'stale');
        }) as Waiting[] | null;
      }
    }
    if (!mine && !known) {
      this.drop('not-for-us');
      return;
    }
    c.accepted++;
    if (waiting !== null) this.release(waiting, p.senderMac);
    if (mine && p.operation === ARP_REQUEST) {
      this.sendArp(ARP_REPLY, p.senderMac, p.senderIp, p.senderMac);
      c.repliesSent++;
    }
  }

  /**
   * Called under the lock: the entry gets `mac` in `state` (reachable, stale or
   * static) and stops any verification; returns the packets it held. Packets
   * held by an entry that becomes stale are sent too: stale entries are used.
   */
  private settle(e: ArpEntry, mac: Mac, state: 'reachable' | 'stale' | 'static'): Waiting[] {
    if (e.state === 'pending' && e.timer !== null) this.shared.pending--;
    const now = this.rt.clock.now();
    e.mac = mac;
    e.state = state;
    e.tries = 0;
    e.confirmedAt = now;
    // Capped by the cache lifetime so that the fast path in output need check one time only.
    e.reachableFor = state === 'reachable' ? Math.min(this.cacheTtlMs, Math.floor(this.reachableMs * (0.5 + this.rng.float()))) : 0;
    e.reachableUntil = now + e.reachableFor;
    const q = e.queue;
    e.queue = [];
    if (e.timer !== null) {
      e.timer = null;
      this.releaseClient(e);
    }
    return q;
  }

  /** Unconfirmed for the cache lifetime and not being verified. */
  private expired(e: ArpEntry, now: number): boolean {
    return (e.state === 'reachable' || e.state === 'stale') && now >= e.confirmedAt + this.cacheTtlMs;
  }

  private release(waiting: Waiting[], mac: Mac): void {
    for (const w of waiting) {
      this.counters.released++;
      w.link.send(w.buf, mac, w.ethertype);
    }
  }

  private armTimer(e: ArpEntry, ms: number): void {
    (e.timer ??= this.timer(e, 'nud', () => this.onTimer(e))).arm(ms);
  }

  private onTimer(e: ArpEntry): void {
    if (this.shared.cache.get(e.ip) !== e) return;
    this.claim(e);
    switch (e.state) {
      case 'pending':
        if (e.tries >= this.retries) {
          this.counters.failures++;
          if (this.rt.observed) this.note(`no answer for ${formatIp4(e.ip)} after ${e.tries} requests`);
          this.forget(e, 'unresolved');
          return;
        }
        this.request(e);
        return;
      case 'delay':
        // Nobody above confirmed in the grace period: ask the neighbour itself.
        this.lock.locked(() => {
          e.state = 'probe';
          e.tries = 0;
        });
        this.probe(e);
        return;
      case 'probe':
        if (e.tries < this.probes) {
          this.probe(e);
          return;
        }
        this.unreachable(e);
        return;
      default:
        return;
    }
  }

  /** Probes unanswered: the cached MAC is given up and the next hop resolved afresh by broadcast. */
  private unreachable(e: ArpEntry): void {
    this.counters.unreachable++;
    if (this.rt.observed) this.note(`${formatIp4(e.ip)} unreachable at ${formatMac(e.mac)}: resolving again`);
    const refused = this.lock.locked(() => {
      if (this.shared.pending >= this.maxPending) return true;
      this.shared.pending++;
      e.state = 'pending';
      e.mac = ZERO_MAC;
      e.tries = 0;
      return false;
    }) as boolean;
    if (refused) {
      this.forget(e, 'unreachable');
      return;
    }
    this.request(e);
  }

  private request(e: ArpEntry): void {
    e.tries++;
    this.counters.requestsSent++;
    this.sendArp(ARP_REQUEST, ZERO_MAC, e.ip, BROADCAST_MAC);
    this.armTimer(e, this.retryMs);
  }

  /** A request sent to the cached MAC only: an answer proves that MAC is still the neighbour's. */
  private probe(e: ArpEntry): void {
    e.tries++;
    this.counters.requestsSent++;
    this.counters.probesSent++;
    this.sendArp(ARP_REQUEST, e.mac, e.ip, e.mac);
    this.armTimer(e, this.probeMs);
  }

  /** Remove an entry, dropping (and counting) what waited for it. */
  private forget(e: ArpEntry, reason: string): void {
    const q = this.lock.locked(() => {
      if (this.shared.cache.get(e.ip) === e) this.shared.cache.delete(e.ip);
      if (e.state === 'pending' && e.timer !== null) this.shared.pending--;
      e.timer = null;
      const held = e.queue;
      e.queue = [];
      return held;
    }) as Waiting[];
    this.releaseClient(e);
    for (const w of q) {
      w.buf.release();
      this.drop(reason, this.rt.observed ? formatIp4(e.ip) : undefined);
    }
  }

  /** Under the lock: make room for one more entry by evicting the oldest entry that holds nothing. */
  private makeRoom(): void {
    const cache = this.shared.cache;
    if (cache.size < this.maxEntries) return;
    for (const [ip, e] of cache) {
      if (e.state !== 'pending' && e.state !== 'static') {
        cache.delete(ip);
        if (e.timer !== null) {
          e.timer = null;
          this.releaseClient(e);
        }
        return;
      }
    }
  }

  private sendArp(operation: number, targetMac: Mac, targetIp: Ip4, dst: Mac): void {
    const p = this.txPacket;
    p.operation = operation;
    p.senderMac = this.link.mac;
    p.senderIp = this.address;
    p.targetMac = targetMac;
    p.targetIp = targetIp;
    const buf = this.pool.alloc(0, 'arp');
    writeArp(buf, p);
    this.link.send(buf, dst, ETHERTYPE_ARP);
  }

  protected override cleanup(client: ArpEntry | undefined, _reason: string): void {
    if (client !== undefined && (client.state === 'pending' || client.state === 'delay' || client.state === 'probe')) this.forget(client, 'cleanup');
  }
}

function maskOf(prefixLength: number): number {
  return prefixLength <= 0 ? 0 : prefixLength >= 32 ? 0xffff_ffff : (0xffff_ffff << (32 - prefixLength)) >>> 0;
}
