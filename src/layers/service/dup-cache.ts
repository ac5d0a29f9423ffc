/**
 * The server's memory of requests, which is what makes "exactly once" hold
 * when the network loses, duplicates and reorders: a request seen before is
 * never run again; its reply (or failure) is kept until the client
 * acknowledges it, and sent again for every retransmission.
 *
 * Bounded two ways. Each request carries the client's floor (every sequence
 * number below it has its outcome at the client), so everything below the
 * floor is forgotten and a request below it is a stale duplicate. And the
 * cache holds at most `capacity` entries: beyond that it forgets acknowledged
 * entries first, then the oldest finished ones (counted: a duplicate of one of
 * those arriving later could run again, so the capacity must cover the
 * clients' windows). Running requests are never evicted.
 */

export type EntryState = 'running' | 'done' | 'failed' | 'acked';

export interface CacheEntry {
  readonly peer: string;
  readonly seq: number;
  state: EntryState;
  /** The reply or failure as sent, kept until acknowledged. */
  answer: Uint8Array | null;
  /** Which server (offer) ran it. */
  readonly service: string;
}

interface ClientRecord {
  floor: number;
  readonly entries: Map<number, CacheEntry>;
}

export interface DupCacheStats {
  /** Requests answered from the cache instead of being run again. */
  duplicates: number;
  /** Requests below their client's floor, dropped. */
  stale: number;
  /** Finished entries forgotten before their client acknowledged them (capacity too small). */
  evictedUnacked: number;
  entries: number;
}

export type Lookup = { readonly kind: 'new' } | { readonly kind: 'stale' } | { readonly kind: 'seen'; readonly entry: CacheEntry };

export class DupCache {
  private readonly clients = new Map<string, ClientRecord>();
  /** Every entry in insertion order: eviction scans from the oldest. */
  private readonly order = new Set<CacheEntry>();
  readonly stats: DupCacheStats = { duplicates: 0, stale: 0, evictedUnacked: 0, entries: 0 };

  constructor(readonly capacity = 4096) {}

  /**
   * What the cache knows of request `seq` from `peer` (a client id at an
   * address), after moving the client's floor up to `floor`.
   */
  lookup(peer: string, seq: number, floor: number): Lookup {
    const c = this.clients.get(peer);
    if (c === undefined) return NEW;
    this.raiseFloor(c, floor);
    if (seqBefore(seq, c.floor)) {
      this.stats.stale++;
      return STALE;
    }
    const e = c.entries.get(seq);
    if (e === undefined) return NEW;
    this.stats.duplicates++;
    return { kind: 'seen', entry: e };
  }

  /** Remember a request about to run. */
  begin(peer: string, seq: number, floor: number, service: string): CacheEntry {
    let c = this.clients.get(peer);
    if (c === undefined) this.clients.set(peer, (c = { floor, entries: new Map() }));
    this.raiseFloor(c, floor);
    const e: CacheEntry = { peer, seq, state: 'running', answer: null, service };
    c.entries.set(seq, e);
    this.order.add(e);
    this.stats.entries = this.order.size;
    if (this.order.size > this.capacity) this.evict();
    return e;
  }

  /** The request finished: keep what was sent until the client acknowledges. */
  finish(e: CacheEntry, state: 'done' | 'failed', answer: Uint8Array): void {
    e.state = state;
    e.answer = answer;
  }

  /** The client has the answer: keep only the fact that it ran. */
  acknowledge(peer: string, seq: number): boolean {
    const e = this.clients.get(peer)?.entries.get(seq);
    if (e === undefined || e.state === 'running') return false;
    e.state = 'acked';
    e.answer = null;
    return true;
  }

  /** Entries still holding an answer nobody acknowledged. */
  unacknowledged(): number {
    let n = 0;
    for (const e of this.order) if (e.answer !== null) n++;
    return n;
  }

  private raiseFloor(c: ClientRecord, floor: number): void {
    if (!seqBefore(c.floor, floor)) return;
    c.floor = floor;
    for (const [seq, e] of c.entries) {
      if (seqBefore(seq, floor) && e.state !== 'running') {
        c.entries.delete(seq);
        this.order.delete(e);
      }
    }
    this.stats.entries = this.order.size;
  }

  private evict(): void {
    // Acknowledged and failed entries first: forgetting them costs nothing the
    // client still needs (a failed request is run by another server anyway).
    for (const pass of ['acked', 'failed', 'done'] as const) {
      for (const e of this.order) {
        if (this.order.size <= this.capacity) break;
        if (e.state !== pass) continue;
        if (pass === 'done') this.stats.evictedUnacked++;
        this.order.delete(e);
        this.clients.get(e.peer)?.entries.delete(e.seq);
      }
    }
    this.stats.entries = this.order.size;
  }
}

const NEW: Lookup = Object.freeze({ kind: 'new' });
const STALE: Lookup = Object.freeze({ kind: 'stale' });

/** Sequence numbers are u32 and wrap: a is before b within half the space. */
export function seqBefore(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
