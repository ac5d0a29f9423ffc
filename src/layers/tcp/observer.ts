/**
 * TCP in promiscuous mode: a passive module for trace replay.
 *
 * It binds IP protocol 6 like the live TCP does, but it never answers, never
 * keeps a send side, and follows both ends of every connection it sees: each
 * flow (4-tuple) is a client of this module, with a FlowFollower that rebuilds
 * both byte streams the way Wireshark's "Follow TCP Stream" does. Modules above
 * (a digest sink, the Telnet transcriber) bind the observer's slots, for every
 * flow or for flows on given ports, and get per-flow upcalls: the flow started,
 * bytes arrived in stream order, a hole was found, the flow ended.
 *
 * It follows IPv4 and IPv6 alike (one observer bound to both network modules):
 * a flow's key is its addresses, of either family, and ports, and both families
 * share one sequence of stream numbers, as tshark's tcp.stream does.
 *
 * Flows are numbered the way Wireshark numbers tcp.stream: a new number for a
 * 4-tuple not seen before, and a new one when a SYN (without ACK) comes with a
 * sequence number other than the one its sender's direction started from (port
 * reuse; the old flow ends there). Direction 0 ('a') is the sender of the
 * flow's first captured packet, like tshark's node 0.
 *
 * Memory stays bounded however long the capture:
 *  - a flow closed by FINs both ways or a RST is finished, reported and freed
 *    once it has been quiet for `closedLingerMs` of capture time, or sooner
 *    when more than `maxClosedFlows` closed flows are waiting; a tombstone
 *    keeps its tuple for a while so late stragglers (a last ACK, a repeated
 *    FIN) are counted against it instead of opening a phantom flow;
 *  - at most `maxFlows` flows are live: beyond, the least recently active
 *    (closed ones first) is finished early ('flow-limit'); if it comes back it
 *    continues under the same number as a second part, its bytes from then on;
 *  - held out-of-order data is bounded per direction by the follower and over
 *    all flows by `maxHeldBytes` ('memory-limit' finishes the biggest holder);
 *  - open flows idle longer than `idleTimeoutMs` (off by default: tshark never
 *    splits a connection) are finished.
 *
 * Per packet the work is a few header reads at fixed offsets, one hash lookup
 * and the follower's bookkeeping: no header records, no closures, no strings
 * unless somebody observes the runtime (--trace).
 */
import { FAILED, Module, SlotTable, type Binding, type ModuleTimer, type Runtime } from '../../core/index.js';
import { IP_PROTO_TCP } from '../../wire/ipv4.js';
import { formatEndpoint, ipEqual, ipOwned, type IpAddress, type NetLower, type NetPacket } from '../net.js';
import {
  FlowFollower,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
  type FollowDirection,
  type FollowDirectionStats,
  type FollowGap,
  type FollowVerdict,
} from './follow.js';

export type FlowEndReason =
  /** The replay reached the end of the capture with the flow still live. */
  | 'end-of-capture'
  /** A SYN with a new initial sequence number started a new connection on the same ports. */
  | 'port-reuse'
  /** FIN both ways or RST, then quiet for the linger time. */
  | 'closed'
  /** No packet for `idleTimeoutMs`. */
  | 'idle'
  /** More than `maxFlows` live flows: the least recently active one was finished early. */
  | 'flow-limit'
  /** Held out-of-order data over all flows exceeded the bound. */
  | 'memory-limit';

const EMPTY = new Uint8Array(0);

/** One TCP connection as the capture shows it: a client of the observer. */
export class ObservedFlow {
  /** Segments seen each way (index = direction). */
  readonly packets: [number, number] = [0, 0];
  /** Payload bytes seen on the wire each way, repeats included. */
  readonly wireBytes: [number, number] = [0, 0];
  /** Capture time (the runtime's clock, ms) of the first and latest packet. */
  firstAt: number;
  lastAt: number;
  /** Whether a SYN was seen in each direction. */
  readonly syn: [boolean, boolean] = [false, false];
  /**
   * Keep-alive probes each way (at most one byte, one before the next expected
   * sequence number): the follower counts them as retransmissions; Wireshark
   * names them apart, and so do the reports.
   */
  readonly keepAlives: [number, number] = [0, 0];
  /** Of those, the ones the follower counted as retransmissions (they carried a byte). */
  readonly keepAliveRetransmissions: [number, number] = [0, 0];
  /** Verdict of the latest segment (for traces). */
  lastVerdict: FollowVerdict = 'empty';
  /** Set once the flow has ended. */
  endReason: FlowEndReason | undefined = undefined;
  /** Why later bytes may be missing for some observers (an observer failed), if so. */
  damaged: string | undefined = undefined;
  /** 1 for a flow's first part; 2, 3... when it came back after being finished early (flow-limit). */
  readonly part: number;

  /** @internal the bindings that follow this flow */
  subscribers: Binding<TcpObserverSlots>[];
  /** @internal Wireshark's per-direction sequence base, for port-reuse detection */
  readonly baseSet: [boolean, boolean] = [false, false];
  /** @internal */
  readonly base: [number, number] = [0, 0];
  /** @internal hash chain */
  nextInBucket: ObservedFlow | null = null;
  /** @internal activity list links */
  prev: ObservedFlow | null = null;
  /** @internal */
  next: ObservedFlow | null = null;
  /** @internal whether it is on the closed list (else the open one) */
  inClosedList = false;
  /** @internal bytes held out of order, both directions, as last counted */
  held = 0;

  constructor(
    /** Stream number, as tshark's tcp.stream counts them when no flow was finished early. */
    readonly id: number,
    /** Owned addresses (IPv4 or IPv6; both of one family). */
    readonly aIp: IpAddress,
    readonly aPort: number,
    readonly bIp: IpAddress,
    readonly bPort: number,
    readonly follower: FlowFollower,
    readonly hash: number,
    now: number,
    part: number,
    subscribers: Binding<TcpObserverSlots>[],
  ) {
    this.firstAt = now;
    this.lastAt = now;
    this.part = part;
    this.subscribers = subscribers;
  }

  /** "192.168.0.2:1254", "[fd00::1]:1254" */
  get a(): string {
    return formatEndpoint(this.aIp, this.aPort);
  }

  get b(): string {
    return formatEndpoint(this.bIp, this.bPort);
  }

  /** Follower counters of one direction (0: a to b). */
  stats(dir: FollowDirection): Readonly<FollowDirectionStats> {
    return this.follower.stats(dir);
  }

  /** Whether both sides sent FIN, or either sent RST. */
  get isClosed(): boolean {
    const s0 = this.follower.stats(0);
    const s1 = this.follower.stats(1);
    return (s0.fin && s1.fin) || s0.rst || s1.rst;
  }

  describe(): string {
    return `stream ${this.id}${this.part > 1 ? `.${this.part}` : ''} ${this.a} <-> ${this.b}`;
  }
}

/** What a module above binds to follow flows. Every slot is optional. */
export interface TcpObserverSlots {
  /** A flow began (before its first segment is followed). */
  onFlowStart(flow: ObservedFlow): void;
  /**
   * Reassembled bytes of one direction, in stream order, never repeated.
   * `data` is a view into the captured frame (or held data): copy what you keep.
   */
  onBytes(flow: ObservedFlow, dir: FollowDirection, data: Uint8Array): void;
  /** A hole in one direction: bytes the capture lacks (reported, never invented). */
  onGap(flow: ObservedFlow, dir: FollowDirection, gap: FollowGap): void;
  /** The flow ended (`flow.endReason` says why); its last upcall. The observer frees it afterwards. */
  onFlowEnd(flow: ObservedFlow): void;
}

export interface ObserveFilter {
  /** Follow only flows with either port in this set. Default: every flow. */
  readonly ports?: Iterable<number>;
}

export interface TcpObserverOptions {
  /** Live flows at most (default 100000). */
  maxFlows?: number;
  /** Capture time a closed flow stays after its last packet (default 60000 ms). */
  closedLingerMs?: number;
  /** Closed flows waiting out their linger at most; beyond, the quietest is finished (default 1000). */
  maxClosedFlows?: number;
  /** Capture time after which an open flow with no packet is finished (default: never). */
  idleTimeoutMs?: number;
  /** Out-of-order bytes held per direction of one flow (default 1 MiB). */
  maxBufferedBytesPerDirection?: number;
  /** Out-of-order bytes held over all flows (default 128 MiB). */
  maxHeldBytes?: number;
  /** Finished flows' tuples remembered to recognise late packets (default 16384). */
  maxTombstones?: number;
  /**
   * Told each time the number of open flows changes (+1 a flow starts, -1 it
   * closes or ends open), in order: `replay --jobs` merges its workers' counts
   * with it. Accounting only: it must not call into the stack.
   */
  onOpenFlows?: (delta: 1 | -1) => void;
}

export interface TcpObserverCounters {
  segments: number;
  flowsStarted: number;
  flowsEnded: number;
  /** Segments of a flow already finished and freed (closed, then a straggler). */
  afterEnd: number;
  /** Largest number of open flows at once (a closed flow waiting out its linger no longer counts). */
  maxLiveFlows: number;
  /** Out-of-order bytes held now, over all flows. */
  heldBytes: number;
}

/** Something kept in a hash table whose colliding entries are chained (live flows, tombstones). */
interface Chained<T> {
  nextInBucket: T | null;
}

/** Puts `item` at the head of its bucket's chain. */
function chainIn<T extends Chained<T>>(table: Map<number, T>, hash: number, item: T): void {
  const head = table.get(hash);
  if (head !== undefined) item.nextInBucket = head;
  table.set(hash, item);
}

/** Takes `item` out of its bucket's chain. */
function chainOut<T extends Chained<T>>(table: Map<number, T>, hash: number, item: T): void {
  const head = table.get(hash);
  if (head === item) {
    if (item.nextInBucket === null) table.delete(hash);
    else table.set(hash, item.nextInBucket);
  } else {
    for (let x = head ?? null; x !== null; x = x.nextInBucket) {
      if (x.nextInBucket === item) {
        x.nextInBucket = item.nextInBucket;
        break;
      }
    }
  }
  item.nextInBucket = null;
}

/** A finished flow's tuple, remembered for its stragglers. */
class Tombstone {
  /** @internal hash chain */
  nextInBucket: Tombstone | null = null;
  /** @internal burial order (eviction takes the oldest) */
  older: Tombstone | null = null;
  /** @internal */
  newer: Tombstone | null = null;

  constructor(
    readonly id: number,
    readonly parts: number,
    readonly open: boolean,
    /** Tuple as the flow had it (a = aIp/aPort). */
    readonly aIp: IpAddress,
    readonly aPort: number,
    readonly bIp: IpAddress,
    readonly bPort: number,
    readonly hash: number,
    readonly base: [number, number],
    readonly baseSet: [boolean, boolean],
  ) {}
}

/**
 * Tombstones by the same symmetric tuple hash as the live flows (collisions
 * chained), oldest first for eviction: no string key is built per new flow.
 */
class TombstoneTable {
  private readonly buckets = new Map<number, Tombstone>();
  private oldest: Tombstone | null = null;
  private newest: Tombstone | null = null;
  size = 0;

  find(hash: number, ipA: IpAddress, portA: number, ipB: IpAddress, portB: number): Tombstone | undefined {
    for (let t = this.buckets.get(hash) ?? null; t !== null; t = t.nextInBucket) {
      if (t.aPort === portA && t.bPort === portB && sameIp(t.aIp, ipA) && sameIp(t.bIp, ipB)) return t;
      if (t.aPort === portB && t.bPort === portA && sameIp(t.aIp, ipB) && sameIp(t.bIp, ipA)) return t;
    }
    return undefined;
  }

  add(t: Tombstone): void {
    chainIn(this.buckets, t.hash, t);
    t.older = this.newest;
    if (this.newest !== null) this.newest.newer = t;
    else this.oldest = t;
    this.newest = t;
    this.size++;
  }

  remove(t: Tombstone): void {
    chainOut(this.buckets, t.hash, t);
    if (t.older !== null) t.older.newer = t.newer;
    else this.oldest = t.newer;
    if (t.newer !== null) t.newer.older = t.older;
    else this.newest = t.older;
    t.older = null;
    t.newer = null;
    this.size--;
  }

  removeOldest(): boolean {
    if (this.oldest === null) return false;
    this.remove(this.oldest);
    return true;
  }
}

interface ObserverShared {
  /** Live flows by symmetric tuple hash; collisions chained through `nextInBucket`. */
  readonly flows: Map<number, ObservedFlow>;
  live: number;
  nextId: number;
  readonly filters: Map<Binding<TcpObserverSlots>, ReadonlySet<number> | null>;
  readonly tombstones: TombstoneTable;
}

/** An order-independent hash of a 4-tuple. */
function tupleHash(ipA: IpAddress, portA: number, ipB: IpAddress, portB: number): number {
  return (endpointHash(typeof ipA === 'number' ? ipA : ip6Fold(ipA), portA) + endpointHash(typeof ipB === 'number' ? ipB : ip6Fold(ipB), portB)) | 0;
}

/** An IPv6 address folded to 32 bits for the hash (its four words mixed, not just xor'ed: prefixes repeat). */
function ip6Fold(a: Uint8Array): number {
  let h = 0x9e3779b9;
  for (let i = 0; i < 16; i += 4) {
    const w = (a[i]! << 24) | (a[i + 1]! << 16) | (a[i + 2]! << 8) | a[i + 3]!;
    h = Math.imul(h ^ w, 0x01000193) ^ (h >>> 16);
  }
  return h;
}

/** The same address (IPv4 numbers compare directly; the IPv6 side only when the first test fails). */
function sameIp(a: IpAddress, b: IpAddress): boolean {
  return a === b || (typeof a !== 'number' && ipEqual(a, b));
}

function endpointHash(ip: number, port: number): number {
  let h = Math.imul(ip ^ 0x5bd1e995, 0x85ebca6b) ^ Math.imul(port + 0x27d4eb2f, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 13);
}

/** An intrusive list of flows in order of latest activity (head = quietest). */
class ActivityList {
  head: ObservedFlow | null = null;
  tail: ObservedFlow | null = null;

  push(f: ObservedFlow): void {
    f.prev = this.tail;
    f.next = null;
    if (this.tail !== null) this.tail.next = f;
    else this.head = f;
    this.tail = f;
  }

  remove(f: ObservedFlow): void {
    if (f.prev !== null) f.prev.next = f.next;
    else this.head = f.next;
    if (f.next !== null) f.next.prev = f.prev;
    else this.tail = f.prev;
    f.prev = null;
    f.next = null;
  }

  touch(f: ObservedFlow): void {
    if (this.tail === f) return;
    this.remove(f);
    this.push(f);
  }
}

export class TcpObserver extends Module<ObserverShared, ObservedFlow> {
  readonly counters: TcpObserverCounters = { segments: 0, flowsStarted: 0, flowsEnded: 0, afterEnd: 0, maxLiveFlows: 0, heldBytes: 0 };
  /** One binding per network module below (IPv4, IPv6). */
  readonly bindings: ReadonlyArray<Binding<{ onPacket(pkt: NetPacket): void }>>;
  private readonly table = new SlotTable<TcpObserverSlots>(this, 'flows', {
    onFlowStart: 'many',
    onBytes: 'many',
    onGap: 'many',
    onFlowEnd: 'many',
  });
  private readonly maxFlows: number;
  private readonly closedLingerMs: number;
  private readonly maxClosedFlows: number;
  private closedCount = 0;
  /** Flows live and not closed. */
  private openCount = 0;
  private readonly onOpenFlows: ((delta: 1 | -1) => void) | undefined;
  private readonly idleTimeoutMs: number;
  private readonly maxBuffered: number;
  private readonly maxHeldBytes: number;
  private readonly maxTombstones: number;
  private readonly open = new ActivityList();
  private readonly closedList = new ActivityList();
  private readonly sweeper: ModuleTimer;
  /** The flow whose follower is running (its callbacks are shared by all flows). */
  private current: ObservedFlow | null = null;
  /** Set when an upcall failed in this task: the rest of the frame is abandoned. */
  private failedInTask = false;
  private readonly onFollowBytes = (dir: FollowDirection, data: Uint8Array): void => this.deliverBytes(dir, data);
  private readonly onFollowGap = (dir: FollowDirection, gap: FollowGap): void => this.deliverGap(dir, gap);

  constructor(
    rt: Runtime,
    /** The network module(s) it listens to: IPv4, IPv6 or both. */
    lowers: Pick<NetLower, 'bindProtocol'> | ReadonlyArray<Pick<NetLower, 'bindProtocol'>>,
    opts: TcpObserverOptions = {},
    name = 'tcp-observer',
  ) {
    super(rt, name, { flows: new Map(), live: 0, nextId: 0, filters: new Map(), tombstones: new TombstoneTable() });
    this.maxFlows = Math.max(1, opts.maxFlows ?? 100_000);
    this.closedLingerMs = opts.closedLingerMs ?? 60_000;
    this.maxClosedFlows = Math.max(0, opts.maxClosedFlows ?? 1000);
    this.idleTimeoutMs = opts.idleTimeoutMs ?? Infinity;
    this.maxBuffered = opts.maxBufferedBytesPerDirection ?? 1024 * 1024;
    this.maxHeldBytes = opts.maxHeldBytes ?? 128 * 1024 * 1024;
    this.maxTombstones = opts.maxTombstones ?? 16_384;
    this.onOpenFlows = opts.onOpenFlows;
    this.sweeper = this.timer(null, 'sweep', () => this.sweep());
    const list = Array.isArray(lowers) ? (lowers as ReadonlyArray<Pick<NetLower, 'bindProtocol'>>) : [lowers as Pick<NetLower, 'bindProtocol'>];
    const onPacket = (pkt: NetPacket): void => this.onPacket(pkt);
    // IP_PROTO_TCP is TCP's number in IPv6's next header too.
    this.bindings = list.map((l) => l.bindProtocol(IP_PROTO_TCP, this, { onPacket }));
  }

  /**
   * Follow flows: every flow, or those with a port in `filter.ports`. The
   * handlers are called for flows that start after binding.
   */
  readonly observe = this.entry(
    'observe',
    'reject',
    (owner: Module, handlers: Partial<TcpObserverSlots>, filter: ObserveFilter = {}): Binding<TcpObserverSlots> => {
      return this.lock.locked(() => {
        const b = this.table.bind(owner, handlers);
        this.shared.filters.set(b, filter.ports === undefined ? null : new Set(filter.ports));
        return b;
      }) as Binding<TcpObserverSlots>;
    },
  );

  /** Flows live now. */
  get liveFlows(): number {
    return this.shared.live;
  }

  /** Every live flow (for inspection; order unspecified). */
  flows(): ObservedFlow[] {
    const out: ObservedFlow[] = [];
    for (const head of this.shared.flows.values()) for (let f: ObservedFlow | null = head; f !== null; f = f.nextInBucket) out.push(f);
    return out;
  }

  /**
   * The capture is over: every live flow is finished in the order the flows
   * started, and reported to the observers: 'closed' if it had closed (and was
   * waiting out its linger), else 'end-of-capture'.
   */
  readonly finishAll = this.entry('finishAll', 'reject', (): void => {
    const all = this.flows().sort((x, y) => x.id - y.id || x.part - y.part);
    for (const f of all) this.finish(f, f.inClosedList ? 'closed' : 'end-of-capture');
    this.sweeper.cancel();
  });

  // ---- receive -------------------------------------------------------------

  private onPacket(pkt: NetPacket): void {
    const buf = pkt.buf;
    const bytes = buf.bytes;
    const o = buf.start;
    const len = buf.end - o;
    this.counters.segments++;
    if (len < 20) {
      this.drop('truncated-header', this.rt.observed ? `${len} bytes` : undefined);
      return;
    }
    const doff = (bytes[o + 12]! >>> 4) * 4;
    if (doff < 20) {
      this.drop('bad-data-offset', this.rt.observed ? `${doff} bytes` : undefined);
      return;
    }
    if (doff > len) {
      this.drop('truncated-header', this.rt.observed ? `header ${doff} > ${len} bytes` : undefined);
      return;
    }
    const src = pkt.src;
    const dst = pkt.dst;
    const sport = (bytes[o]! << 8) | bytes[o + 1]!;
    const dport = (bytes[o + 2]! << 8) | bytes[o + 3]!;
    const seq = ((bytes[o + 4]! << 24) | (bytes[o + 5]! << 16) | (bytes[o + 6]! << 8) | bytes[o + 7]!) >>> 0;
    const ack = ((bytes[o + 8]! << 24) | (bytes[o + 9]! << 16) | (bytes[o + 10]! << 8) | bytes[o + 11]!) >>> 0;
    const flags = bytes[o + 13]!;
    const payloadLength = len - doff;
    const payload = payloadLength === 0 ? EMPTY : bytes.subarray(o + doff, buf.end);
    // Bytes the capture's snaplen cut off this segment (promiscuous IP says): sent, not captured.
    const missing = pkt.missing ?? 0;
    const now = this.rt.clock.now();

    const hash = tupleHash(src, sport, dst, dport);
    let flow = this.shared.flows.get(hash) ?? null;
    let dir: FollowDirection = 0;
    while (flow !== null) {
      if (flow.aPort === sport && flow.bPort === dport && sameIp(flow.aIp, src) && sameIp(flow.bIp, dst)) break;
      if (flow.aPort === dport && flow.bPort === sport && sameIp(flow.aIp, dst) && sameIp(flow.bIp, src)) {
        dir = 1;
        break;
      }
      flow = flow.nextInBucket;
    }

    // Port reuse, as Wireshark decides it: a SYN (no ACK) whose sequence number is not where its direction started.
    if (flow !== null && (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && flow.baseSet[dir] && flow.base[dir] !== seq) {
      this.finish(flow, 'port-reuse');
      flow = null;
    }
    if (flow === null) {
      const created = this.startFlow(hash, src, sport, dst, dport, flags, seq, now);
      if (created === null) return;
      flow = created;
      dir = flow.aPort === sport && sameIp(flow.aIp, src) ? 0 : 1;
      if (this.failedInTask) return;
    }
    this.claim(flow);

    // Wireshark's sequence bases (only for port-reuse detection; the follower keeps its own).
    if (!flow.baseSet[dir]) {
      flow.baseSet[dir] = true;
      flow.base[dir] = flags & TCP_SYN ? seq : (seq - 1) >>> 0;
    }
    const peer: FollowDirection = dir === 0 ? 1 : 0;
    if (flags & TCP_ACK && !flow.baseSet[peer]) {
      flow.baseSet[peer] = true;
      flow.base[peer] = (ack - 1) >>> 0;
    }

    flow.packets[dir]++;
    flow.wireBytes[dir] += payloadLength + missing;
    if (flags & TCP_SYN) flow.syn[dir] = true;
    flow.lastAt = now;
    const wasClosed = flow.inClosedList;

    const segLength = payloadLength + missing;
    const expected = segLength <= 1 && (flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0 ? flow.follower.nextSeq(dir) : undefined;
    this.current = flow;
    this.failedInTask = false;
    const verdict = flow.follower.segment(dir, seq, ack, flags, payload, segLength);
    this.current = null;
    flow.lastVerdict = verdict;
    const keepAlive = expected !== undefined && seq === ((expected - 1) >>> 0) && (verdict === 'retransmission' || verdict === 'empty');
    if (keepAlive) {
      flow.keepAlives[dir]++;
      if (verdict === 'retransmission') flow.keepAliveRetransmissions[dir]++;
    }
    if (this.rt.observed) this.noteSegment(flow, dir, seq, flags, segLength, keepAlive ? 'keep-alive' : verdict);

    // Held data changes only when something is held or a segment was put aside: most packets skip the count.
    if (flow.held !== 0 || verdict === 'out-of-order') {
      const held = flow.follower.stats(0).heldBytes + flow.follower.stats(1).heldBytes;
      if (held !== flow.held) {
        this.counters.heldBytes += held - flow.held;
        flow.held = held;
      }
    }
    if (!wasClosed && (flags & (TCP_FIN | TCP_RST)) !== 0 && flow.isClosed) {
      this.open.remove(flow);
      flow.inClosedList = true;
      this.closedList.push(flow);
      this.closedCount++;
      this.openCount--;
      this.onOpenFlows?.(-1);
      if (this.closedCount > this.maxClosedFlows && this.closedList.head !== null) this.finish(this.closedList.head, 'closed');
      this.armSweep();
    } else {
      (wasClosed ? this.closedList : this.open).touch(flow);
    }
    if (this.counters.heldBytes > this.maxHeldBytes) this.relieveMemory();
  }

  /** A new flow, or null when the packet belongs to one already finished (a straggler). */
  private startFlow(
    hash: number,
    src: IpAddress,
    sport: number,
    dst: IpAddress,
    dport: number,
    flags: number,
    seq: number,
    now: number,
  ): ObservedFlow | null {
    const sh = this.shared;
    let id: number;
    let part = 1;
    let continues: Tombstone | undefined;
    if (sh.tombstones.size > 0) {
      const t = sh.tombstones.find(hash, src, sport, dst, dport);
      if (t !== undefined) {
        const dir = t.aPort === sport && sameIp(t.aIp, src) ? 0 : 1;
        const newConnection = (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && (!t.baseSet[dir] || t.base[dir] !== seq);
        if (!newConnection) {
          if (!t.open) {
            this.counters.afterEnd++;
            this.drop('after-flow-end', this.rt.observed ? `stream ${t.id} already finished` : undefined);
            return null;
          }
          continues = t;
        }
        sh.tombstones.remove(t);
      }
    }
    if (continues !== undefined) {
      id = continues.id;
      part = continues.parts + 1;
    } else {
      id = sh.nextId++;
    }
    if (sh.live >= this.maxFlows) {
      const victim = this.closedList.head ?? this.open.head;
      if (victim !== null) this.finish(victim, 'flow-limit');
    }
    const follower = new FlowFollower({
      maxBufferedBytes: this.maxBuffered,
      onBytes: this.onFollowBytes,
      onGap: this.onFollowGap,
    });
    // The packet's addresses may be views into the frame (IPv6): the flow keeps copies.
    const flow = new ObservedFlow(id, ipOwned(src), sport, ipOwned(dst), dport, follower, hash, now, part, this.subscribersFor(sport, dport));
    if (continues !== undefined) {
      // The old part's bases still decide port reuse for the new one.
      const d = continues.aPort === sport && sameIp(continues.aIp, src) ? 0 : 1;
      flow.baseSet[0] = continues.baseSet[d];
      flow.base[0] = continues.base[d];
      flow.baseSet[1] = continues.baseSet[1 - d]!;
      flow.base[1] = continues.base[1 - d]!;
    }
    this.lock.locked(() => {
      chainIn(sh.flows, hash, flow);
      sh.live++;
    });
    this.open.push(flow);
    this.counters.flowsStarted++;
    this.openCount++;
    if (this.openCount > this.counters.maxLiveFlows) this.counters.maxLiveFlows = this.openCount;
    this.onOpenFlows?.(1);
    if (this.idleTimeoutMs !== Infinity) this.armSweep();
    this.claim(flow);
    if (this.rt.observed) this.note(`${flow.describe()}: new flow${part > 1 ? ` (part ${part}, after an early finish)` : ''}`);
    this.failedInTask = false;
    const subs = flow.subscribers;
    for (let i = 0; i < subs.length; i++) {
      const b = subs[i]!;
      if (b.has('onFlowStart') && this.upcall(b, 'onFlowStart', flow) === FAILED) {
        this.failed(flow, b);
        break;
      }
    }
    return flow;
  }

  private subscribersFor(p1: number, p2: number): Binding<TcpObserverSlots>[] {
    const out: Binding<TcpObserverSlots>[] = [];
    for (const b of this.table.bindings) {
      const ports = this.shared.filters.get(b);
      if (ports === null || ports === undefined || ports.has(p1) || ports.has(p2)) out.push(b);
    }
    return out;
  }

  private deliverBytes(dir: FollowDirection, data: Uint8Array): void {
    const flow = this.current;
    if (flow === null || this.failedInTask) return;
    const subs = flow.subscribers;
    for (let i = 0; i < subs.length; i++) {
      const b = subs[i]!;
      if (this.upcall(b, 'onBytes', flow, dir, data) === FAILED) {
        this.failed(flow, b);
        return;
      }
    }
  }

  private deliverGap(dir: FollowDirection, gap: FollowGap): void {
    const flow = this.current;
    if (flow === null || this.failedInTask) return;
    if (this.rt.observed) this.note(`${flow.describe()} ${dir === 0 ? 'a->b' : 'b->a'}: ${gap.length} bytes missing at seq ${gap.seq} (${gap.reason})`);
    const subs = flow.subscribers;
    for (let i = 0; i < subs.length; i++) {
      const b = subs[i]!;
      if (b.has('onGap') && this.upcall(b, 'onGap', flow, dir, gap) === FAILED) {
        this.failed(flow, b);
        return;
      }
    }
  }

  /** An observer's handler failed: the task is expended; that observer stops following this flow. */
  private failed(flow: ObservedFlow, b: Binding<TcpObserverSlots>): void {
    this.failedInTask = true;
    flow.subscribers = flow.subscribers.filter((x) => x !== b);
    flow.damaged ??= `observer ${b.owner.name} failed`;
  }

  private noteSegment(flow: ObservedFlow, dir: FollowDirection, seq: number, flags: number, len: number, verdict: string): void {
    const names: string[] = [];
    if (flags & TCP_SYN) names.push('SYN');
    if (flags & TCP_FIN) names.push('FIN');
    if (flags & TCP_RST) names.push('RST');
    if (flags & TCP_ACK) names.push('ACK');
    const rel = flow.baseSet[dir] ? (seq - flow.base[dir]) >>> 0 : seq;
    this.note(`${flow.describe()} ${dir === 0 ? 'a->b' : 'b->a'} [${names.join(',')}] seq=${rel} len=${len}: ${verdict}`);
  }

  // ---- ending flows --------------------------------------------------------

  /** Finishes a flow: held data is settled, observers get onFlowEnd, the flow is freed. */
  private finish(flow: ObservedFlow, reason: FlowEndReason): void {
    if (flow.endReason !== undefined) return;
    flow.endReason = reason;
    const sh = this.shared;
    this.lock.locked(() => {
      chainOut(sh.flows, flow.hash, flow);
      sh.live--;
      if (reason !== 'port-reuse' && reason !== 'end-of-capture') this.bury(flow, reason === 'flow-limit' || reason === 'idle' || reason === 'memory-limit');
    });
    if (flow.inClosedList) {
      this.closedList.remove(flow);
      this.closedCount--;
    } else {
      this.open.remove(flow);
      this.openCount--;
      this.onOpenFlows?.(-1);
    }
    this.counters.heldBytes -= flow.held;
    flow.held = 0;
    this.counters.flowsEnded++;
    this.claim(flow);
    if (this.rt.observed) this.note(`${flow.describe()}: flow ends (${reason})`);
    const prev = this.current;
    const prevFailed = this.failedInTask;
    this.current = flow;
    this.failedInTask = false;
    flow.follower.finish();
    const subs = flow.subscribers;
    for (let i = 0; i < subs.length && !this.failedInTask; i++) {
      const b = subs[i]!;
      if (b.has('onFlowEnd') && this.upcall(b, 'onFlowEnd', flow) === FAILED) this.failed(flow, b);
    }
    this.current = prev;
    this.failedInTask = prevFailed || this.failedInTask;
    flow.subscribers = [];
  }

  /** Remembers a finished flow's tuple so its stragglers are recognised. */
  private bury(flow: ObservedFlow, open: boolean): void {
    const ts = this.shared.tombstones;
    if (this.maxTombstones <= 0) return;
    const old = ts.find(flow.hash, flow.aIp, flow.aPort, flow.bIp, flow.bPort);
    if (old !== undefined) ts.remove(old);
    while (ts.size >= this.maxTombstones) if (!ts.removeOldest()) break;
    ts.add(new Tombstone(flow.id, flow.part, open, flow.aIp, flow.aPort, flow.bIp, flow.bPort, flow.hash, [flow.base[0], flow.base[1]], [flow.baseSet[0], flow.baseSet[1]]));
  }

  private armSweep(): void {
    const due = this.nextDue();
    if (due !== undefined && (!this.sweeper.armed || this.sweeper.due > due)) this.sweeper.armAt(due);
  }

  /** When the next flow expires, if any does. */
  private nextDue(): number | undefined {
    let due: number | undefined;
    const c = this.closedList.head;
    if (c !== null) due = c.lastAt + this.closedLingerMs;
    const o = this.open.head;
    if (o !== null && this.idleTimeoutMs !== Infinity) {
      const d = o.lastAt + this.idleTimeoutMs;
      if (due === undefined || d < due) due = d;
    }
    return due;
  }

  /** Timer task: finish the flows whose quiet time is over. */
  private sweep(): void {
    const now = this.rt.clock.now();
    for (let f = this.closedList.head; f !== null && f.lastAt + this.closedLingerMs <= now; f = this.closedList.head) this.finish(f, 'closed');
    if (this.idleTimeoutMs !== Infinity) {
      for (let f = this.open.head; f !== null && f.lastAt + this.idleTimeoutMs <= now; f = this.open.head) this.finish(f, 'idle');
    }
    this.armSweep();
  }

  /** Too much held out of order over all flows: finish the biggest holder. */
  private relieveMemory(): void {
    while (this.counters.heldBytes > this.maxHeldBytes) {
      let worst: ObservedFlow | null = null;
      for (const f of this.flows()) if (worst === null || f.held > worst.held) worst = f;
      if (worst === null || worst.held === 0) return;
      this.finish(worst, 'memory-limit');
    }
  }

  /** A task through `flow` failed: the observer that failed was already detached from it; the flow goes on. */
  protected override cleanup(flow: ObservedFlow | undefined, reason: string): void {
    if (flow !== undefined) flow.damaged ??= `${reason}; that observer no longer follows this flow, and observers bound after it missed the rest of that frame`;
  }
}
