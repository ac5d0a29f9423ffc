/**
 * ARP (RFC 826): maps the IPv4 next hop to an Ethernet address.
 *
 * Shared state is the cache: resolved entries expire after `cacheTtlMs`;
 * entries being resolved hold the packets waiting for them (a bounded queue per
 * destination, oldest dropped first) and a retry timer. Each entry being resolved
 * is a client of the module: a failed task that was working for it cleans it up
 * (its waiting packets are dropped and counted), and its timer goes with it.
 *
 * Learning follows RFC 826's merge rule: an existing entry is refreshed from any
 * ARP packet whose sender it names; a new entry is made only from packets
 * addressed to us (a request for our address, or a reply to our request).
 */
import { Module, type Binding, type Runtime } from '../core/index.js';
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
}

export interface ArpOptions {
  /** Our IPv4 address (0: none yet; see setAddress). */
  address: Ip4;
  /** Lifetime of a resolved entry, ms. Default 60 s. */
  cacheTtlMs?: number;
  /** Requests sent for one resolution before giving up. Default 3. */
  retries?: number;
  /** Time between requests, ms. Default 1000. */
  retryMs?: number;
  /** Packets waiting per destination; beyond it the oldest is dropped. Default 8. */
  queueLimit?: number;
  /** Destinations being resolved at once; more are refused. Default 64. */
  maxPending?: number;
  /** Entries in the cache; the oldest resolved one is evicted beyond it. Default 512. */
  maxEntries?: number;
  /** Send a gratuitous ARP when the module starts (on the next clock turn). Default true. */
  announce?: boolean;
}

export type ArpState = 'pending' | 'resolved' | 'static';

export interface ArpEntryInfo {
  readonly ip: Ip4;
  readonly mac: Mac;
  readonly state: ArpState;
  /** Clock time the entry expires (Infinity for static, the next retry for pending). */
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
}

interface Waiting {
  readonly buf: PacketBuffer;
  readonly ethertype: number;
  readonly link: LinkLayer;
}

/** One cache entry; while pending it is a client of the module. */
class ArpEntry {
  mac: Mac = ZERO_MAC;
  state: ArpState = 'pending';
  expiresAt = 0;
  tries = 0;
  queue: Waiting[] = [];
  retry: { arm(ms: number): void; cancel(): void } | null = null;
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
  readonly counters: ArpCounters = { requestsSent: 0, repliesSent: 0, requestsReceived: 0, repliesReceived: 0, failures: 0, released: 0, accepted: 0 };
  readonly cacheTtlMs: number;
  readonly retries: number;
  readonly retryMs: number;
  readonly queueLimit: number;
  readonly maxPending: number;
  readonly maxEntries: number;
  readonly binding: Binding<EthertypeSlots>;
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
    this.cacheTtlMs = opts.cacheTtlMs ?? 60_000;
    this.retries = opts.retries ?? 3;
    this.retryMs = opts.retryMs ?? 1000;
    this.queueLimit = opts.queueLimit ?? 8;
    this.maxPending = opts.maxPending ?? 64;
    this.maxEntries = opts.maxEntries ?? 512;
    this.binding = link.bindEthertype(ETHERTYPE_ARP, this, { onFrame: (buf) => this.receive(buf) });
    if ((opts.announce ?? true) && this.address !== 0) this.timer(null, 'announce', () => this.announce()).arm(0);
  }

  setAddress(ip: Ip4): void {
    this.address = ip;
  }

  /** The MAC of `ip` if known and fresh (read-only: it starts no resolution). */
  readonly lookup = this.query('lookup', (ip: Ip4): Mac | undefined => {
    const e = this.shared.cache.get(ip);
    if (e === undefined || e.state === 'pending') return undefined;
    if (e.state === 'resolved' && this.rt.clock.now() >= e.expiresAt) return undefined;
    return e.mac;
  });

  readonly output = this.entry(
    'output',
    'reentrant',
    (buf: PacketBuffer, nextHop: Ip4, ethertype: number, link: LinkLayer): OutputResult => {
      const now = this.rt.clock.now();
      let entry = this.shared.cache.get(nextHop);
      if (entry !== undefined && entry.state !== 'pending' && (entry.state === 'static' || now < entry.expiresAt)) {
        link.send(buf, entry.mac, ethertype);
        return 'sent';
      }
      let start = false;
      const refused = this.lock.locked(() => {
        const cache = this.shared.cache;
        if (entry !== undefined && entry.state === 'resolved') {
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
      if (start) {
        const e = entry!;
        e.retry = this.timer(e, 'retry', () => this.onRetry(e));
        this.request(e);
      }
      return 'queued';
    },
  );

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
      if (e.state === 'resolved' && now >= e.expiresAt) continue;
      out.push({
        ip: e.ip,
        mac: e.mac,
        state: e.state,
        expiresAt: e.state === 'static' ? Infinity : e.state === 'pending' ? now : e.expiresAt,
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

  private receive(buf: PacketBuffer): void {
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
        waiting = this.lock.locked(() => {
          const cache = this.shared.cache;
          let e = cache.get(p.senderIp);
          if (e === undefined) {
            e = new ArpEntry(p.senderIp);
            this.makeRoom();
            cache.set(p.senderIp, e);
          }
          if (e.state === 'static') return null;
          this.claim(e);
          return this.settle(e, p.senderMac, 'resolved');
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

  /** Called under the lock: the entry becomes resolved/static; returns the packets it held. */
  private settle(e: ArpEntry, mac: Mac, state: ArpState): Waiting[] {
    const wasPending = e.state === 'pending' && e.retry !== null;
    e.mac = mac;
    e.state = state;
    e.expiresAt = state === 'static' ? Infinity : this.rt.clock.now() + this.cacheTtlMs;
    const q = e.queue;
    e.queue = [];
    if (wasPending) {
      this.shared.pending--;
      e.retry = null;
      this.releaseClient(e);
    }
    return q;
  }

  private release(waiting: Waiting[], mac: Mac): void {
    for (const w of waiting) {
      this.counters.released++;
      w.link.send(w.buf, mac, w.ethertype);
    }
  }

  private onRetry(e: ArpEntry): void {
    if (this.shared.cache.get(e.ip) !== e || e.state !== 'pending') return;
    this.claim(e);
    if (e.tries >= this.retries) {
      this.counters.failures++;
      if (this.rt.observed) this.note(`no answer for ${formatIp4(e.ip)} after ${e.tries} requests`);
      this.forget(e, 'unresolved');
      return;
    }
    this.request(e);
  }

  private request(e: ArpEntry): void {
    e.tries++;
    this.counters.requestsSent++;
    this.sendArp(ARP_REQUEST, ZERO_MAC, e.ip, BROADCAST_MAC);
    e.retry?.arm(this.retryMs);
  }

  /** Remove an entry, dropping (and counting) what waited for it. */
  private forget(e: ArpEntry, reason: string): void {
    const q = this.lock.locked(() => {
      if (this.shared.cache.get(e.ip) === e) this.shared.cache.delete(e.ip);
      if (e.state === 'pending' && e.retry !== null) {
        this.shared.pending--;
        e.retry = null;
      }
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

  /** Under the lock: make room for one more entry by evicting the oldest resolved one. */
  private makeRoom(): void {
    const cache = this.shared.cache;
    if (cache.size < this.maxEntries) return;
    for (const [ip, e] of cache) {
      if (e.state === 'resolved') {
        cache.delete(ip);
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
    if (client !== undefined && client.state === 'pending') this.forget(client, 'cleanup');
  }
}
