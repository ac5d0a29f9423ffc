/**
 * The service layer: Quicksilver's service queues as a protocol above UDP.
 *
 * One Services module per host. A server *offers* a named service (its calls
 * declared with argument and result shapes and per-call extensions); clients
 * *use* a service by name and never say where it runs: the module finds its
 * servers by a lookup on the link (a query to the IPv4 broadcast address and
 * the IPv6 all-nodes group, whichever families the host has; answers cached for
 * their TTL) or at a configured directory host, and sends each call to the
 * least busy one. Both address families go through one code path (addresses
 * are IpAddress, kept as keys by their text). Each request is done exactly once:
 *
 *  - a request is named by (client id, sequence number) and retransmitted with
 *    backoff until its reply or failure comes; the client acknowledges replies;
 *  - the server keeps every request it saw in a duplicate cache (dup-cache.ts):
 *    a duplicate is never run again, its kept answer is sent again;
 *  - a handler runs as an upcall in a task of its own (the extensions' Executor).
 *    If that task is expended before the call completed (the handler threw, was
 *    aborted), every module on its path ran its cleanup, so the call left no
 *    effect: the server says so ("retryable") and the client offers the request
 *    to another server, keeping its id; when none is left, the client gets a
 *    failure, never a hang. A deadline that passes is a failure the caller sees.
 *  - a server that falls silent is not replaced behind the client's back: it
 *    may have done the call, so the call fails 'unreachable' (at most once).
 *
 * The module knows its transports only through the port each binds and the
 * socket it sends on (DatagramPort: UDP, or TCP through ext/tcp-datagrams.ts
 * for large messages or as the configured transport); the layers above it
 * only through the slots they bound (ServerSlots, ClientSlots).
 */
import { currentTask, Module, SlotTable, type Binding, type ModuleTimer, type Runtime } from '../../core/index.js';
import { IP4_BROADCAST, type Ip4 } from '../../wire/addr.js';
import { IP6_ALL_NODES, isIp6Multicast } from '../../wire/addr6.js';
import {
  ACK_REPLY,
  ACK_WORKING,
  emitServiceMessage,
  FAILURE_RETRYABLE,
  parseServiceMessage,
  REQUEST_NOTIFY,
  SERVICE_PORT,
  type AckMessage,
  type FailureMessage,
  type LookupMessage,
  type OfferMessage,
  type ReplyMessage,
  type RequestMessage,
  type ServiceMessage,
} from '../../wire/service.js';
import { familyOf, formatIp, ipEqual, ipOwned, type Family, type IpAddress } from '../net.js';
import type { UdpDatagram } from '../udp.js';
import { CallHandle, OutgoingCall, ServiceClient, type CallOptions, type CallOutcome, type CallPort, type ClientInfo, type ClientSlots, type ServerInfo } from './client.js';
import { Directory, serverKey, type ServerEntry } from './directory.js';
import { DupCache, seqBefore } from './dup-cache.js';
import {
  BindingGuard,
  Cooldown,
  Executor,
  invokeHandler,
  type CallContext,
  type Outcome,
  type ServerStructure,
  type ServiceHandler,
  type TokenAuthority,
  type WorkerSpec,
} from './ext/index.js';
import { ServiceOffer, type ServerJob, type ServerSlots } from './server.js';
import { checkShape } from './shape.js';
import type { ArgsOf, ServiceSpec } from './spec.js';

/** A socket of a datagram transport: what the module sends on. */
export interface DatagramSocket {
  /** `src`: the source address to send from (where not given, the transport's choice for `dst`). */
  send(dst: IpAddress, dstPort: number, data: Uint8Array, opts?: { readonly src?: IpAddress }): unknown;
  close(): void;
}

/** A datagram transport as the module sees it: UDP's port shape (the Udp module, or TcpDatagrams). */
export interface DatagramPort {
  /** This host's address in a family, if the transport runs over that family (Udp's network layer for it). */
  lowerFor(family: Family): { readonly address: IpAddress } | undefined;
  bind(port: number, owner: Module, handlers: { onDatagram(d: UdpDatagram): void }): DatagramSocket;
}

export interface ServicesOptions {
  /** The datagram transport (the host's Udp). Lookups and announcements go by it. */
  udp?: DatagramPort;
  /** A stream transport (TcpDatagrams over the host's TCP): messages longer than `largeBytes` go by it; without `udp`, everything does (then lookups need `directory`). */
  tcp?: DatagramPort;
  /** Messages longer than this go by `tcp` when there is one. Default 1200 (one frame, no IP fragments). */
  largeBytes?: number;
  /** UDP port of the service layer on every host. Default 7300. */
  port?: number;
  /** Where IPv4 lookups go: the broadcast address (default 255.255.255.255). IPv6 ones go to all nodes, ff02::1. */
  broadcast?: Ip4;
  /** A directory host (either family): lookups go there instead of to the link, and offers are registered there. */
  directory?: IpAddress;
  /** This host answers lookups for every offer it heard. Default: whether `directory` is this host's address. */
  isDirectory?: boolean;
  /** First retransmission timeout, ms (doubles on each retransmission). Default 100. */
  initialRtoMs?: number;
  /** Largest retransmission timeout, ms. Default 1600. */
  maxRtoMs?: number;
  /** Transmissions to one server without any answer before the call fails 'unreachable'. Default 12. */
  maxAttempts?: number;
  /** Lookup queries before a call fails 'no-server'. Default 6. */
  lookupAttempts?: number;
  /** How long clients may cache an offer, ms. Default 10000. */
  offerTtlMs?: number;
  /** Capacity of the server's duplicate cache (entries). Default 4096. */
  cacheCapacity?: number;
  /**
   * How long an acknowledgement waits for a request to the same server to carry
   * it (as that request's floor), ms; 0 sends each at once. Default 20.
   */
  ackDelayMs?: number;
}

export interface OfferOptions {
  /** The module whose handlers serve the calls; its cleanup runs when a call's task is expended. Default rt.app(`service:<name>`). */
  owner?: Module;
  /** How calls run: 'direct' (default), 'async' (one at a time, from a mailbox), 'threaded' (worker pool). */
  structure?: ServerStructure;
  concurrency?: number;
  /** 'threaded': the handlers module the workers load. */
  worker?: WorkerSpec;
  workers?: number;
  /** Grants the tokens calls declared with `ext.token` require. */
  authority?: TokenAuthority;
}

export interface UseOptions {
  /** The module whose callbacks (onDone) are upcalled. Default rt.app('service-clients'). */
  owner?: Module;
  /** A token granted by the server's host, sent with every call. */
  token?: Uint8Array;
}

/** Handlers of a service: one per declared call. */
export type Handlers<S extends ServiceSpec> = {
  readonly [K in keyof S]: (args: ArgsOf<S, K>, ctx: CallContext) => unknown;
};

export interface ServicesCounters {
  /** Client side. */
  calls: number;
  requestsSent: number;
  retransmissions: number;
  failovers: number;
  repliesReceived: number;
  /** Replies or failures for calls already settled (their ack had been lost). */
  lateAnswers: number;
  callsFailed: number;
  lookupsSent: number;
  offersHeard: number;
  /** Server side. */
  requestsReceived: number;
  /** Requests answered from the duplicate cache, not run again. */
  duplicatesSuppressed: number;
  /** Requests below their client's floor (old duplicates). */
  staleDropped: number;
  repliesSent: number;
  failuresSent: number;
  acksReceived: number;
}

/** Client state of the module: an offer, a client handle, a call in flight, a job, a lookup. */
type ServicesClient = ServiceOffer | ClientInfo | OutgoingCall | ServerJob | LookupState | CallHandle<unknown>;

interface PendingAck {
  readonly to: IpAddress;
  readonly port: number;
  readonly serverId: number;
  readonly seq: number;
}

class LookupState {
  attempts = 0;
  readonly waiting = new Set<OutgoingCall>();
  constructor(readonly service: string) {}
  describe(): string {
    return `lookup:${this.service}`;
  }
}

/** Per-offer machinery: the binding its handlers sit behind, its executor, its cooldowns. */
interface OfferRuntime {
  readonly offer: ServiceOffer;
  readonly binding: Binding<ServerSlots>;
  readonly executor: Executor;
  readonly cooldown: Cooldown<ServerJob>;
  readonly guard: BindingGuard | null;
}

interface ServicesShared {
  readonly offers: Map<string, OfferRuntime[]>;
  readonly directory: Directory;
  readonly cache: DupCache;
  /** Calls in flight, by sequence number. */
  readonly calls: Map<number, OutgoingCall>;
  readonly lookups: Map<string, LookupState>;
  nextSeq: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NO_BYTES = new Uint8Array(0);

export class Services extends Module<ServicesShared, ServicesClient> implements CallPort {
  readonly port: number;
  /** This host's client id: requests are named (clientId, seq). */
  readonly clientId: number;
  readonly counters: ServicesCounters = {
    calls: 0,
    requestsSent: 0,
    retransmissions: 0,
    failovers: 0,
    repliesReceived: 0,
    lateAnswers: 0,
    callsFailed: 0,
    lookupsSent: 0,
    offersHeard: 0,
    requestsReceived: 0,
    duplicatesSuppressed: 0,
    staleDropped: 0,
    repliesSent: 0,
    failuresSent: 0,
    acksReceived: 0,
  };
  private readonly udpSocket: DatagramSocket | null;
  private readonly tcpSocket: DatagramSocket | null;
  private readonly transport: DatagramPort;
  /** The families the transport runs over, IPv4 first: lookups and announcements go to each. */
  private readonly families: readonly Family[];
  private readonly largeBytes: number;
  private readonly serverTable = new SlotTable<ServerSlots>(this, 'offers', { onCall: 'many' });
  private readonly clientTable = new SlotTable<ClientSlots>(this, 'clients', { onDone: 'many' });
  private readonly opts: Required<Omit<ServicesOptions, 'udp' | 'tcp' | 'largeBytes' | 'ackDelayMs' | 'directory' | 'port'>> & { directory: IpAddress | undefined };
  /** Acknowledgements held back: the floor of our next request to that server carries them for free. */
  private pendingAcks: PendingAck[] = [];
  private readonly ackTimer = this.timer(null, 'ack', () => this.flushAcks());
  private readonly ackDelayMs: number;
  /** Answers to send once the current (expended) task is gone. */
  private outbox: Array<{ to: IpAddress; port: number; bytes: Uint8Array }> = [];
  private readonly flushTimer = this.timer(null, 'outbox', () => this.flush());
  private announceTimer: ModuleTimer | null = null;

  constructor(rt: Runtime, options: ServicesOptions) {
    super(rt, 'services', {
      offers: new Map(),
      directory: new Directory(),
      cache: new DupCache(options.cacheCapacity ?? 4096),
      calls: new Map(),
      lookups: new Map(),
      nextSeq: 1,
    });
    this.port = options.port ?? SERVICE_PORT;
    const transport = options.udp ?? options.tcp;
    if (transport === undefined) throw new Error('Services needs a transport: `udp` (the host\'s Udp), `tcp` (TcpDatagrams), or both');
    this.transport = transport;
    this.families = ([4, 6] as const).filter((f) => transport.lowerFor(f) !== undefined);
    if (this.families.length === 0) throw new Error('Services: the transport runs over no network layer');
    this.opts = {
      broadcast: options.broadcast ?? IP4_BROADCAST,
      directory: options.directory === undefined ? undefined : ipOwned(options.directory),
      isDirectory: options.isDirectory ?? (options.directory !== undefined && this.isOwn(options.directory)),
      initialRtoMs: options.initialRtoMs ?? 100,
      maxRtoMs: options.maxRtoMs ?? 1600,
      maxAttempts: options.maxAttempts ?? 12,
      lookupAttempts: options.lookupAttempts ?? 6,
      offerTtlMs: options.offerTtlMs ?? 10_000,
      cacheCapacity: options.cacheCapacity ?? 4096,
    };
    this.clientId = rt.rng.u32() || 1;
    this.largeBytes = options.largeBytes ?? 1200;
    this.ackDelayMs = options.ackDelayMs ?? 20;
    // The same port on both: an answer goes back by whichever suits its size.
    this.udpSocket = options.udp?.bind(this.port, this, { onDatagram: (d) => this.receive(d) }) ?? null;
    this.tcpSocket = options.tcp?.bind(this.port, this, { onDatagram: (d) => this.receive(d) }) ?? null;
  }

  /** The duplicate cache's counters (server side). */
  get cacheStats(): DupCache['stats'] {
    return this.shared.cache.stats;
  }

  /** Answers kept for clients that have not acknowledged them yet. */
  unacknowledged = this.query('unacknowledged', (): number => this.shared.cache.unacknowledged());

  /** Calls in flight from this host. */
  inFlight = this.query('inFlight', (): number => this.shared.calls.size);

  /** The offers this host serves. */
  offers = this.query('offers', (): ServiceOffer[] => [...this.shared.offers.values()].flatMap((l) => l.map((r) => r.offer)));

  /** Servers this host knows for `service` (its cache of offers). */
  servers = this.query('servers', (service: string): ServerInfo[] =>
    this.shared.directory.servers(service, this.rt.clock.now()).map((e) => info(e)),
  );

  // ---- offering --------------------------------------------------------------------

  /**
   * Serve `name` with `handlers`, one per call of `spec`. Several servers, on
   * this host or others, may offer the same service. The offer is announced
   * on the link (and registered at the directory host, if there is one).
   */
  readonly offer = this.entry(
    'offer',
    'reject',
    <S extends ServiceSpec>(name: string, spec: S, handlers: Handlers<S>, opts: OfferOptions = {}): ServiceOffer => {
      if (name === '' || encoder.encode(name).length > 255) throw new RangeError(`service name ${JSON.stringify(name)}: 1..255 bytes`);
      for (const [call, cs] of Object.entries(spec)) {
        if (typeof (handlers as Record<string, unknown>)[call] !== 'function') throw new RangeError(`service '${name}': no handler for call '${call}'`);
        if (cs.ext?.token !== undefined && opts.authority === undefined) throw new RangeError(`service '${name}': call '${call}' requires a token, so the offer needs an \`authority\``);
      }
      const owner = opts.owner ?? this.rt.app(`service:${name}`);
      const offer = new ServiceOffer(name, spec, this.rt.rng.u32() || 1, owner, (o) => this.withdraw(o));
      const table = handlers as Record<string, ServiceHandler>;
      const rtm = this.lock.locked(() => {
        const binding = this.serverTable.bind(owner, { onCall: (job, ctx) => invokeHandler(table[job.call]!, job.args, ctx) }, offer);
        const executor = new Executor(this, {
          ...(opts.structure !== undefined ? { structure: opts.structure } : {}),
          ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
          ...(opts.worker !== undefined ? { worker: opts.worker } : {}),
          ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
          run: (job, ctx) => this.runCall(r, job as ServerJob, ctx),
          done: (job, outcome) => this.callDone(job as ServerJob, outcome),
        });
        const cooldown = new Cooldown<ServerJob>(this, {
          run: (job) => executor.submit(job),
          drop: (job) => this.callDone(job, { ok: false, reason: 'cooldown', detail: 'coalesced with a later notification' }),
        });
        const r: OfferRuntime = { offer, binding, executor, cooldown, guard: opts.authority !== undefined ? new BindingGuard(opts.authority) : null };
        const list = this.shared.offers.get(name);
        if (list === undefined) this.shared.offers.set(name, [r]);
        else list.push(r);
        // Our own offers are in our directory: a client on this host finds them without the network.
        this.shared.directory.heard(name, this.ownAddress(), this.port, offer.serverId, 0, Number.MAX_SAFE_INTEGER, this.rt.clock.now());
        return r;
      }) as OfferRuntime;
      this.announce(rtm.offer, this.opts.offerTtlMs);
      if (this.opts.directory !== undefined) this.keepRegistered();
      return offer;
    },
  );

  /** ServiceOffer.withdraw: stop serving (a handler may withdraw its own offer, hence reentrant). */
  private readonly withdraw = this.entry('withdraw', 'reentrant', (o: ServiceOffer): void => {
    if (o.withdrawn) return;
    o.withdrawn = true;
    this.lock.locked(() => {
      const list = this.shared.offers.get(o.name);
      const i = list?.findIndex((r) => r.offer === o) ?? -1;
      if (i >= 0) {
        list![i]!.binding.unbind();
        list!.splice(i, 1);
      }
      this.shared.directory.heard(o.name, this.ownAddress(), this.port, o.serverId, 0, 0, this.rt.clock.now());
    });
    this.announce(o, 0);
  });

  // ---- using ------------------------------------------------------------------------

  /** A client of the service `name`, wherever its servers are. */
  readonly use = this.entry('use', 'reentrant', <S extends ServiceSpec>(name: string, spec?: S, opts: UseOptions = {}): ServiceClient<S> => {
    const client = new ServiceClient<S>(name, spec, opts.token ?? NO_BYTES, this);
    const owner = opts.owner ?? this.rt.app('service-clients');
    client.binding = this.clientTable.bind(owner, { onDone: (cb, o) => cb(o) }, client);
    return client;
  });

  /** @internal ServiceClient.send: make one call. Reentrant: a server's handler may call another service. */
  readonly startCall = this.entry('startCall', 'reentrant', (client: ClientInfo, call: string, args: unknown, opts: CallOptions): CallHandle<unknown> => {
    const now = this.rt.clock.now();
    const seq = this.shared.nextSeq;
    this.shared.nextSeq = (seq + 1) >>> 0 || 1;
    this.counters.calls++;
    const handle = new CallHandle<unknown>(client.service, call, this.clientId, seq, now, (h, cb, o) => this.deliver(client, h, cb, o));
    const cs = client.spec?.[call];
    const problem = client.spec === undefined ? null : cs === undefined ? `no call '${call}' in service '${client.service}'` : checkShape(cs.args, args, 'args');
    const body = problem === null ? encodeValue(args) : null;
    if (problem !== null || body === null) {
      this.counters.callsFailed++;
      handle.settle({ ok: false, reason: 'bad-args', detail: problem ?? 'arguments are not JSON' }, now);
      return handle;
    }
    const deadlineMs = opts.deadlineMs ?? cs?.ext?.deadlineMs ?? 0;
    const c = new OutgoingCall(handle, client, client.service, body, client.token, cs?.notify === true ? REQUEST_NOTIFY : 0, deadlineMs, this.opts.initialRtoMs);
    this.claim(c);
    this.shared.calls.set(seq, c);
    if (deadlineMs > 0) {
      // The server's task has the same deadline; a little grace lets its failure arrive first.
      c.deadlineTimer = this.timer(c, 'deadline', () => this.finishCall(c, { ok: false, reason: 'deadline', detail: `no result within ${deadlineMs} ms` }));
      c.deadlineTimer.arm(deadlineMs + 2 * this.opts.initialRtoMs);
    }
    this.route(c);
    return handle;
  });

  /** Send `c` to the least busy server not yet excluded, or look one up first. */
  private route(c: OutgoingCall): void {
    const now = this.rt.clock.now();
    const e = this.shared.directory.pick(c.service, now, c.excluded);
    if (e === undefined) {
      this.lookup(c.service, c);
      return;
    }
    // Refresh the cache before the entry runs out, while it is in use.
    if (e.expiresAt - now < this.opts.offerTtlMs / 2 && !this.shared.lookups.has(c.service)) this.lookup(c.service, null);
    c.target = e;
    c.targetKey = serverKey(e.address, e.port, e.serverId);
    c.attempts = 0;
    c.rtoMs = this.opts.initialRtoMs;
    e.inFlight++;
    c.handle.record.servers.push(`${formatIp(e.address)}#${e.serverId.toString(16)}`);
    this.transmit(c);
  }

  private transmit(c: OutgoingCall): void {
    const e = c.target!;
    const h = c.handle;
    c.attempts++;
    h.record.transmissions++;
    this.counters.requestsSent++;
    const m: RequestMessage = {
      kind: 'request',
      clientId: this.clientId,
      seq: h.seq,
      serverId: e.serverId,
      ackFloor: this.ackFloor(),
      deadlineMs: c.deadlineMs,
      flags: c.flags,
      service: c.service,
      call: h.call,
      token: c.token,
      body: c.body,
    };
    this.send(e.address, e.port, m);
    if (this.pendingAcks.length > 0) this.dropImpliedAcks(e.address, e.port, e.serverId, m.ackFloor);
    c.timer ??= this.timer(c, 'rto', () => this.onRto(c));
    c.timer.arm(c.rtoMs);
  }

  private onRto(c: OutgoingCall): void {
    this.claim(c);
    if (c.handle.done) return;
    if (c.attempts >= this.opts.maxAttempts) {
      // Silence: it may have done the call, so no other server may do it again.
      this.shared.directory.forget(c.service, c.targetKey);
      this.finishCall(c, { ok: false, reason: 'unreachable', detail: `no answer from ${formatIp(c.target!.address)} after ${c.attempts} transmissions` });
      return;
    }
    c.rtoMs = Math.min(c.rtoMs * 2, this.opts.maxRtoMs);
    c.handle.record.retransmissions++;
    this.counters.retransmissions++;
    if (this.rt.observed) this.note(`retransmit ${c.describe()} attempt ${c.attempts + 1}`);
    this.transmit(c);
  }

  /** Every sequence number below this has its outcome here: servers may forget them. */
  private ackFloor(): number {
    let floor = this.shared.nextSeq;
    for (const seq of this.shared.calls.keys()) if (seqBefore(seq, floor)) floor = seq;
    return floor;
  }

  private finishCall(c: OutgoingCall, o: CallOutcome<unknown>): void {
    if (c.target !== undefined && c.target.inFlight > 0) c.target.inFlight--;
    this.shared.calls.delete(c.handle.seq);
    for (const l of this.shared.lookups.values()) l.waiting.delete(c);
    this.releaseClient(c);
    c.timer = null;
    if (!o.ok) this.counters.callsFailed++;
    c.handle.settle(o, this.rt.clock.now());
  }

  /** A callback bound with onDone runs as an upcall into the client's owner, in a task of its own. */
  private deliver(client: ClientInfo, h: CallHandle<unknown>, cb: (o: CallOutcome<unknown>) => void, o: CallOutcome<unknown>): void {
    const b = client.binding;
    if (b === null) return;
    this.startTask('call', () => this.upcall(b, 'onDone', cb, o), { client: h, entry: 'onDone' });
  }

  // ---- finding servers ------------------------------------------------------------

  /** Ask the link (or the directory host) who offers `service`; `waiting` goes out when an answer comes. */
  private lookup(service: string, waiting: OutgoingCall | null): void {
    let l = this.shared.lookups.get(service);
    const fresh = l === undefined;
    if (l === undefined) {
      l = new LookupState(service);
      this.shared.lookups.set(service, l);
    }
    if (waiting !== null) {
      waiting.waitingForLookup = true;
      l.waiting.add(waiting);
    }
    if (fresh) this.queryOnce(l);
  }

  private queryOnce(l: LookupState): void {
    l.attempts++;
    this.counters.lookupsSent++;
    const m: LookupMessage = { kind: 'lookup', queryId: this.rt.rng.u32(), service: l.service };
    if (this.opts.directory !== undefined) this.send(this.opts.directory, this.port, m);
    else this.sendToLink(m);
    const t = this.timer(l, 'lookup', () => this.onLookupTimeout(l));
    t.arm(Math.min(this.opts.initialRtoMs * 2 ** (l.attempts - 1), this.opts.maxRtoMs));
  }

  private onLookupTimeout(l: LookupState): void {
    if (this.shared.lookups.get(l.service) !== l) return;
    const now = this.rt.clock.now();
    // An answer may have come for other servers than the waiting calls exclude.
    for (const c of [...l.waiting]) {
      if (this.shared.directory.pick(c.service, now, c.excluded) !== undefined) {
        l.waiting.delete(c);
        c.waitingForLookup = false;
        this.route(c);
      }
    }
    if (l.attempts < this.opts.lookupAttempts && (l.waiting.size > 0 || l.attempts < 2)) {
      this.queryOnce(l);
      return;
    }
    this.shared.lookups.delete(l.service);
    this.releaseClient(l);
    for (const c of l.waiting) {
      c.waitingForLookup = false;
      const tried = c.excluded.size;
      const detail = tried === 0 ? `nobody offers '${l.service}'` : `no server of '${l.service}' left (${tried} failed the call; last: ${c.lastFailure})`;
      this.finishCall(c, { ok: false, reason: 'no-server', detail });
    }
  }

  private heardOffer(m: OfferMessage, from: IpAddress): void {
    const now = this.rt.clock.now();
    // A relayed IPv6 address is a view into the datagram: the directory keeps its own copy.
    const address = m.address !== null ? ipOwned(m.address) : from;
    this.counters.offersHeard++;
    this.shared.directory.heard(m.service, address, m.port, m.serverId, m.load, m.ttlMs, now);
    const l = this.shared.lookups.get(m.service);
    if (l === undefined || m.ttlMs === 0) return;
    for (const c of [...l.waiting]) {
      if (this.shared.directory.pick(c.service, now, c.excluded) === undefined) continue;
      l.waiting.delete(c);
      c.waitingForLookup = false;
      this.route(c);
    }
  }

  private answerLookup(m: LookupMessage, from: IpAddress, fromPort: number): void {
    const now = this.rt.clock.now();
    if (this.opts.isDirectory) {
      // The directory answers with every server it heard of, its own included.
      for (const e of this.shared.directory.servers(m.service, now)) {
        const ttl = Math.min(this.opts.offerTtlMs, e.expiresAt - now);
        this.send(from, fromPort, { kind: 'offer', service: m.service, serverId: e.serverId, load: e.load, ttlMs: ttl, address: this.isOwn(e.address) ? null : e.address, port: e.port });
      }
      return;
    }
    for (const r of this.shared.offers.get(m.service) ?? []) {
      this.send(from, fromPort, this.offerMessage(r.offer, this.opts.offerTtlMs));
    }
  }

  private offerMessage(o: ServiceOffer, ttlMs: number): OfferMessage {
    return { kind: 'offer', service: o.name, serverId: o.serverId, load: Math.min(o.outstanding, 0xffff), ttlMs, address: null, port: this.port };
  }

  private announce(o: ServiceOffer, ttlMs: number): void {
    const m = this.offerMessage(o, ttlMs);
    this.sendToLink(m);
    if (this.opts.directory !== undefined) this.send(this.opts.directory, this.port, m);
  }

  /** With a directory host, offers are registered again before they expire there. */
  private keepRegistered(): void {
    if (this.announceTimer !== null) return;
    this.announceTimer = this.timer(null, 'register', () => {
      for (const list of this.shared.offers.values()) for (const r of list) this.send(this.opts.directory!, this.port, this.offerMessage(r.offer, this.opts.offerTtlMs));
      if (this.shared.offers.size > 0) this.announceTimer!.arm(this.opts.offerTtlMs / 2);
    });
    this.announceTimer.arm(this.opts.offerTtlMs / 2);
  }

  // ---- receiving -------------------------------------------------------------------

  private receive(d: UdpDatagram): void {
    const p = parseServiceMessage(d.payload);
    if (!p.ok) {
      this.drop(p.reason);
      return;
    }
    const m = p.message;
    switch (m.kind) {
      case 'request':
        return this.onRequest(m, d.src, d.srcPort);
      case 'reply':
      case 'failure':
      case 'ack':
        if (m.clientId !== this.clientId) {
          if (m.kind === 'ack' && m.what === ACK_REPLY) return this.onAck(m, d.src, d.srcPort);
          this.drop('not-our-client');
          return;
        }
        if (m.kind === 'ack') return m.what === ACK_WORKING ? this.onWorking(m, d.src) : this.onAck(m, d.src, d.srcPort);
        return this.onAnswer(m, d.src, d.srcPort);
      case 'lookup':
        return this.answerLookup(m, d.src, d.srcPort);
      case 'offer':
        return this.heardOffer(m, d.src);
    }
  }

  // ---- server side -----------------------------------------------------------------

  private onRequest(m: RequestMessage, from: IpAddress, fromPort: number): void {
    this.counters.requestsReceived++;
    const offers = this.shared.offers.get(m.service);
    const peer = `${formatIp(from)}:${fromPort}/${m.clientId >>> 0}`;
    const cacheKey = `${m.serverId}|${peer}`;
    const cache = this.shared.cache;
    const seen = cache.lookup(cacheKey, m.seq, m.ackFloor);
    if (seen.kind === 'stale') {
      this.counters.staleDropped++;
      this.drop('stale-request');
      return;
    }
    if (seen.kind === 'seen') {
      this.counters.duplicatesSuppressed++;
      const e = seen.entry;
      if (this.rt.observed) this.note(`duplicate ${m.service}.${m.call}#${m.seq} from ${peer}: ${e.state}`);
      if (e.answer !== null) this.sendBytes(from, fromPort, e.answer);
      else if (e.state === 'running') this.send(from, fromPort, { kind: 'ack', clientId: m.clientId, seq: m.seq, serverId: m.serverId, what: ACK_WORKING, load: this.loadOf(m.service, m.serverId) });
      // 'acked': the client has the answer already; this copy wandered.
      return;
    }
    const r = offers?.find((x) => x.offer.serverId === m.serverId) ?? (m.serverId === 0 ? offers?.[0] : undefined);
    const answer = (reason: string, detail: string, retryable: boolean): void => {
      const entry = cache.begin(cacheKey, m.seq, m.ackFloor, m.service);
      const f: FailureMessage = { kind: 'failure', clientId: m.clientId, seq: m.seq, serverId: m.serverId, load: 0, flags: retryable ? FAILURE_RETRYABLE : 0, reason, detail };
      const bytes = emitServiceMessage(f);
      cache.finish(entry, 'failed', bytes);
      this.counters.failuresSent++;
      this.sendBytes(from, fromPort, bytes);
    };
    if (r === undefined) {
      // Withdrawn (or never here): another server may take it.
      answer('no-such-server', `no offer of '${m.service}' #${m.serverId.toString(16)} here`, true);
      return;
    }
    const cs = r.offer.spec[m.call];
    if (cs === undefined) return answer('no-such-call', `'${m.service}' has no call '${m.call}'`, false);
    const args = decodeValue(m.body);
    if (args === BAD_JSON) return answer('bad-args', 'arguments are not JSON', false);
    const problem = checkShape(cs.args, args, 'args');
    if (problem !== null) return answer('bad-args', problem, false);
    const now = this.rt.clock.now();
    // Checked once per binding; afterwards a map lookup (BindingGuard). offer() made sure a guard exists where needed.
    const checked = r.guard?.check(peer, m.token, m.service, cs.ext?.token, now) ?? { ok: true as const, claims: undefined };
    if (!checked.ok) return answer(checked.reason, `call '${m.call}' needs rights ${cs.ext?.token?.rights.join(',') ?? ''}`, false);
    const declared = cs.ext?.deadlineMs;
    const wanted = m.deadlineMs > 0 ? m.deadlineMs : undefined;
    const deadlineMs = declared === undefined ? wanted : wanted === undefined ? declared : Math.min(declared, wanted);
    const entry = cache.begin(cacheKey, m.seq, m.ackFloor, m.service);
    const job: ServerJob = {
      client: peer,
      id: m.seq,
      call: m.call,
      args,
      ext: cs.ext ?? {},
      ...(deadlineMs !== undefined ? { deadlineAt: now + deadlineMs } : {}),
      arrivedAt: now,
      ...(cs.ext?.token?.asArgument === true && checked.claims !== undefined ? { token: checked.claims } : {}),
      offer: r.offer,
      entry,
      from,
      fromPort,
      clientId: m.clientId,
    };
    r.offer.outstanding++;
    r.offer.counters.admitted++;
    if (cs.ext?.cooldownMs !== undefined && r.cooldown.offer(`${m.service}.${m.call}`, job, cs.ext.cooldownMs) === 'held') {
      // Held: it runs when the window ends (or is dropped for a later one); until then retransmissions hear "working".
      return;
    }
    r.executor.submit(job);
  }

  /** The executor runs the call: the handler is an upcall through the offer's binding, in the call's task. */
  private runCall(r: OfferRuntime, job: ServerJob, ctx: CallContext): unknown {
    this.claim(job);
    return this.upcall(r.binding, 'onCall', job, ctx);
  }

  /** How a call ended (exactly once per admitted job): the answer is sent and kept until acknowledged. */
  private callDone(job: ServerJob, outcome: Outcome): void {
    const o = job.offer;
    o.outstanding--;
    const load = Math.min(o.outstanding, 0xffff);
    let bytes: Uint8Array;
    let state: 'done' | 'failed';
    const cs = o.spec[job.call]!;
    const body = outcome.ok ? encodeValue(outcome.value) : null;
    const problem = outcome.ok ? (body === null ? 'result is not JSON' : checkShape(cs.result, outcome.value, 'result')) : null;
    if (outcome.ok && problem === null) {
      o.counters.completed++;
      const m: ReplyMessage = { kind: 'reply', clientId: job.clientId, seq: job.id, serverId: o.serverId, load, body: body! };
      bytes = emitServiceMessage(m);
      state = 'done';
      this.counters.repliesSent++;
    } else {
      o.counters.failed++;
      // Expended before it completed (threw, aborted): cleanups undid it, so another server may run it;
      // so may a call that found its offer withdrawn before it ran.
      const retryable = !outcome.ok && (outcome.reason === 'threw' || outcome.reason === 'aborted' || (outcome.reason === 'no-result' && o.withdrawn));
      const reason = outcome.ok ? 'bad-result' : outcome.reason;
      const detail = outcome.ok ? problem! : (outcome.detail ?? '');
      const m: FailureMessage = { kind: 'failure', clientId: job.clientId, seq: job.id, serverId: o.serverId, load, flags: retryable ? FAILURE_RETRYABLE : 0, reason, detail: detail.slice(0, 1000) };
      bytes = emitServiceMessage(m);
      state = 'failed';
      this.counters.failuresSent++;
    }
    this.shared.cache.finish(job.entry, state, bytes);
    if (this.rt.observed) this.note(`${job.call}#${job.id} for ${job.client}: ${state}`);
    this.sendBytes(job.from, job.fromPort, bytes);
  }

  private onAck(m: AckMessage, from: IpAddress, fromPort: number): void {
    this.counters.acksReceived++;
    this.shared.cache.acknowledge(`${m.serverId}|${formatIp(from)}:${fromPort}/${m.clientId >>> 0}`, m.seq);
  }

  private loadOf(service: string, serverId: number): number {
    const r = this.shared.offers.get(service)?.find((x) => x.offer.serverId === serverId);
    return r === undefined ? 0 : Math.min(r.offer.outstanding, 0xffff);
  }

  // ---- client side: answers ---------------------------------------------------------

  private onWorking(m: AckMessage, from: IpAddress): void {
    const c = this.shared.calls.get(m.seq);
    if (c === undefined || c.target === undefined || c.target.serverId !== m.serverId) return;
    this.claim(c);
    // Alive and busy with it: keep asking, without counting towards giving up.
    c.attempts = 0;
    this.shared.directory.loadReport(c.service, from, c.target.port, m.serverId, m.load, this.rt.clock.now());
  }

  private onAnswer(m: ReplyMessage | FailureMessage, from: IpAddress, fromPort: number): void {
    const c = this.shared.calls.get(m.seq);
    const ack = (): void => this.send(from, fromPort, { kind: 'ack', clientId: m.clientId, seq: m.seq, serverId: m.serverId, what: ACK_REPLY, load: 0 });
    if (c === undefined) {
      // Settled already: our ack was lost, or this is a copy. Ack again so the server can forget it.
      this.counters.lateAnswers++;
      ack();
      return;
    }
    this.claim(c);
    const server: ServerInfo = { address: formatIp(from), port: fromPort, serverId: m.serverId };
    this.shared.directory.loadReport(c.service, from, fromPort, m.serverId, m.load, this.rt.clock.now());
    if (m.kind === 'reply') {
      this.counters.repliesReceived++;
      this.ackLater(from, fromPort, m.serverId, m.seq);
      const value = decodeValue(m.body);
      const cs = c.client.spec?.[c.handle.call];
      const problem = value === BAD_JSON ? 'result is not JSON' : cs === undefined ? null : checkShape(cs.result, value, 'result');
      this.finishCall(c, problem === null ? { ok: true, value, server } : { ok: false, reason: 'bad-result', detail: problem, server });
      return;
    }
    // A failure from a server this call already left is an old copy.
    if (c.target === undefined || c.target.serverId !== m.serverId || !ipEqual(c.target.address, from)) {
      ack();
      return;
    }
    this.ackLater(from, fromPort, m.serverId, m.seq);
    if ((m.flags & FAILURE_RETRYABLE) !== 0) {
      // The server gave the call up with no effect left: offer it to another one, same id.
      c.excluded.add(c.targetKey);
      c.lastFailure = m.detail === '' ? m.reason : `${m.reason}: ${m.detail}`;
      if (c.target.inFlight > 0) c.target.inFlight--;
      if (m.reason === 'no-such-server') this.shared.directory.forget(c.service, c.targetKey);
      c.handle.record.failovers++;
      this.counters.failovers++;
      if (this.rt.observed) this.note(`failover ${c.describe()}: ${m.reason}`);
      c.timer?.cancel();
      c.target = undefined;
      this.route(c);
      return;
    }
    this.finishCall(c, { ok: false, reason: m.reason, detail: m.detail, server });
  }

  // ---- acknowledgements --------------------------------------------------------------

  /** Acknowledge a reply or failure: now, or with our next request to that server (its floor says it). */
  private ackLater(to: IpAddress, port: number, serverId: number, seq: number): void {
    if (this.ackDelayMs <= 0) {
      this.send(to, port, { kind: 'ack', clientId: this.clientId, seq, serverId, what: ACK_REPLY, load: 0 });
      return;
    }
    this.pendingAcks.push({ to, port, serverId, seq });
    if (!this.ackTimer.armed) this.ackTimer.arm(this.ackDelayMs);
  }

  /** A request to (to, port, serverId) with this floor went out: the acks below it went with it. */
  private dropImpliedAcks(to: IpAddress, port: number, serverId: number, floor: number): void {
    this.pendingAcks = this.pendingAcks.filter((a) => !(ipEqual(a.to, to) && a.port === port && a.serverId === serverId && seqBefore(a.seq, floor)));
  }

  private flushAcks(): void {
    const acks = this.pendingAcks;
    this.pendingAcks = [];
    for (const a of acks) this.send(a.to, a.port, { kind: 'ack', clientId: this.clientId, seq: a.seq, serverId: a.serverId, what: ACK_REPLY, load: 0 });
  }

  // ---- sending ---------------------------------------------------------------------

  private send(to: IpAddress, port: number, m: ServiceMessage): void {
    this.sendBytes(to, port, emitServiceMessage(m));
  }

  /** To every host on the link, in each family we have: IPv4's broadcast, IPv6's all-nodes group. */
  private sendToLink(m: ServiceMessage): void {
    const bytes = emitServiceMessage(m);
    for (const f of this.families) this.sendBytes(f === 4 ? this.opts.broadcast : IP6_ALL_NODES, this.port, bytes);
  }

  private sendBytes(to: IpAddress, port: number, bytes: Uint8Array): void {
    const t = currentTask();
    if (t !== undefined && !t.live) {
      // A failure reported while its task is being expended goes out on the next clock turn, in a task of its own.
      this.outbox.push({ to, port, bytes });
      this.flushTimer.arm(0);
      return;
    }
    this.transmitBytes(to, port, bytes);
  }

  /** UDP unless the message is large (or there is no UDP) and TCP is there; broadcasts and multicasts always by UDP. */
  private transmitBytes(to: IpAddress, port: number, bytes: Uint8Array): void {
    if (this.udpSocket !== null && typeof to !== 'number' && isIp6Multicast(to)) {
      // From our primary address, not the link-local one a link-scope group would get: answers (and the
      // directory's relays) then name the server by the address its unicasts come from, one entry per server.
      this.udpSocket.send(to, port, bytes, { src: this.transport.lowerFor(6)!.address });
      return;
    }
    const useTcp = this.tcpSocket !== null && (this.udpSocket === null || (bytes.length > this.largeBytes && !this.toLink(to)));
    (useTcp ? this.tcpSocket! : this.udpSocket!).send(to, port, bytes);
  }

  private flush(): void {
    const out = this.outbox;
    this.outbox = [];
    for (const o of out) this.transmitBytes(o.to, o.port, o.bytes);
  }

  private toLink(to: IpAddress): boolean {
    return typeof to === 'number' ? to === this.opts.broadcast : isIp6Multicast(to);
  }

  /** Our address of the first family we have (IPv4 on a dual-stack host): where our own offers are. Read each time: IPv6 addresses come and go. */
  private ownAddress(): IpAddress {
    return this.transport.lowerFor(this.families[0]!)!.address;
  }

  /** Whether `a` is one of our addresses (our primary one in its family). */
  private isOwn(a: IpAddress): boolean {
    const mine = this.transport.lowerFor(familyOf(a))?.address;
    return mine !== undefined && ipEqual(mine, a);
  }

  /** A call's task was expended: the executor reports it to callDone; nothing of ours stays behind. */
  protected override cleanup(client: ServicesClient | undefined, reason: string): void {
    if (client === undefined) return;
    if (this.rt.observed && 'entry' in client && 'offer' in client) this.note(`cleanup ${client.call}#${client.id}: ${reason}`);
  }
}

function info(e: ServerEntry): ServerInfo {
  return { address: formatIp(e.address), port: e.port, serverId: e.serverId };
}

const BAD_JSON: unique symbol = Symbol('bad-json');

function encodeValue(v: unknown): Uint8Array | null {
  if (v === undefined) return NO_BYTES;
  try {
    const text = JSON.stringify(v);
    return text === undefined ? null : encoder.encode(text);
  } catch {
    return null;
  }
}

function decodeValue(b: Uint8Array): unknown {
  if (b.length === 0) return undefined;
  try {
    return JSON.parse(decoder.decode(b)) as unknown;
  } catch {
    return BAD_JSON;
  }
}

