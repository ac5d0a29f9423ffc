/**
 * The TCP module: its shared state (port table, listeners, ISN secret, the
 * module-wide counters and challenge-ACK budget), its entry points for the
 * layer above, and the upcall sites. Segment processing lives in input.ts,
 * segment building in output.ts, the timers in timers.ts; they all work on a
 * connection's control block (connection.ts), which is this module's client
 * state.
 *
 * Recursion policy of the entry points. The connection operations (send,
 * armSend, shutdown, close, abort, pause, resume, bind) are 'reentrant': a
 * handler calls them from inside TCP's own upcalls (an echo from onData). They
 * claim the connection, update its control block at once, and ask for output
 * through the runtime (`requestOutput`: afterUnwind(conn, 'output')). Output
 * never runs in the middle of TCP's work on that connection: it runs once,
 * when TCP's outermost activation working on the connection unwinds (the
 * segment's arrival, a timer, or the entry itself when called from outside).
 * So an echo queued in onData leaves in the same segment as the ACK of the
 * data that caused it, and a handler arming again from onSendReady gets its
 * turn after the segment is out. `listen` and `connect` are 'reentrant' too (a
 * proxy connects onward from onAccept); `unlisten` likewise. Read-only
 * `connections` is a query.
 */
import { FAILED, Module, SlotTable, type Binding, type ModuleTimer, type Runtime } from '../../core/index.js';
import { IP_PROTO_TCP } from '../../wire/ipv4.js';
import { TCP_ACK, TCP_RST, TCP_SYN } from '../../wire/tcp.js';
import { familyOf, formatEndpoint, ipEqual, ipOwned, unspecifiedOf, type Family, type IpAddress } from '../net.js';
import { resolveConfig, type TcpConfig } from './config.js';
import { TcpConnection } from './connection.js';
import { newCounters, type TcpCounters } from './counters.js';
import { deliverHeld, listenerReceives, noConnection, segmentArrives } from './input.js';
import { fromIcmp, fromIcmpv6, netErrorArrives, type ErrorSource } from './net-errors.js';
import type { IcmpError } from '../icmp.js';
import type { Icmpv6Error } from '../ipv6/icmpv6.js';
import { ChallengeBudget } from './challenge.js';
import { IsnGenerator } from './isn.js';
import { setKeepalive } from './keepalive.js';
import { SynCookies } from './syn-cookies.js';
import { TcpListener } from './listener.js';
import { lowerFamily, mssForMtu, segmentChecksumOk, type NetPacket, type TcpLower } from './lower.js';
import { output, sendRstForConn, windowUpdateMatters } from './output.js';
import { Segment, readSegment } from './segment.js';
import {
  CLOSE_WAIT,
  CLOSED,
  ESTABLISHED,
  FIN_WAIT_1,
  FIN_WAIT_2,
  LAST_ACK,
  LISTEN,
  STATE_NAMES,
  SYN_RECEIVED,
  SYN_SENT,
  TIME_WAIT,
  canSend,
} from './states.js';
import { ConnectionTable } from './table.js';
import { onDelackTimer, onRtoTimer, onWaitTimer } from './timers.js';
import {
  TcpError,
  type ConnectOptions,
  type ListenOptions,
  type SegmentWriter,
  type TcpConnectionRow,
  type TcpListenSlots,
  type TcpSlots,
} from './types.js';

interface TcpShared {
  readonly table: ConnectionTable;
  /** Listeners on every local address (both families), by port. */
  readonly listeners: Map<number, TcpListener>;
  /** Listeners bound to one local address, by port. */
  readonly boundListeners: Map<number, TcpListener[]>;
  nextEphemeral: number;
}

const CONN_SPEC = {
  onConnect: 'one',
  onData: 'one',
  onSendReady: 'one',
  onDrain: 'one',
  onClose: 'one',
  onError: 'one',
} as const;

const encoder = new TextEncoder();

export class Tcp extends Module<TcpShared, TcpConnection> {
  readonly config: TcpConfig;
  readonly counters: TcpCounters = newCounters();
  /** @internal */ readonly isn: IsnGenerator;
  /** @internal */ readonly cookies: SynCookies;
  private readonly listenTable = new SlotTable<TcpListenSlots>(this, 'listeners', { onAccept: 'many' });
  /** The slots of a connection: every binding of it stands alone (bindConn). */
  private readonly connTable = new SlotTable<TcpSlots>(this, 'connection', CONN_SPEC);
  private scratch: Segment | null = new Segment(new Uint8Array(0));
  private readonly challenges: ChallengeBudget;
  /** @internal the network layers, at most one per family */
  readonly lowers: readonly TcpLower[];
  /** @internal the first network layer given (the host's primary family) */
  readonly lower: TcpLower;

  /** Over one network layer, or one per family (`[ip, ipv6]`: a dual-stack TCP). */
  constructor(rt: Runtime, lower: TcpLower | readonly TcpLower[], config: Partial<TcpConfig> = {}) {
    super(rt, 'tcp', { table: new ConnectionTable(), listeners: new Map(), boundListeners: new Map(), nextEphemeral: 0 });
    const lowers: readonly TcpLower[] = Array.isArray(lower) ? lower : [lower as TcpLower];
    if (lowers.length === 0 || lowers.length > 2 || (lowers.length === 2 && lowerFamily(lowers[0]!) === lowerFamily(lowers[1]!))) {
      throw new RangeError('tcp needs one network layer per family (one or two)');
    }
    this.lowers = lowers;
    this.lower = lowers[0]!;
    this.config = resolveConfig(config);
    const secret = this.config.isnSecret ?? rt.rng.bytes(16);
    this.isn = new IsnGenerator(secret);
    this.cookies = new SynCookies(secret);
    this.challenges = new ChallengeBudget(this.config.challengeAckLimit, this.config.challengeAckIntervalMs, rt.rng);
    const span = this.config.ephemeralHigh - this.config.ephemeralLow + 1;
    this.shared.nextEphemeral = this.config.ephemeralLow + rt.rng.int(span);
    for (const l of lowers) l.bindProtocol(IP_PROTO_TCP, this, { onPacket: (pkt) => this.onPacket(pkt, l) });
  }

  /**
   * Hear ICMP (IPv4) and ICMPv6 errors about our segments (net-errors.ts):
   * the host that assembles the stack calls it once per error source.
   */
  watchErrors(icmp?: ErrorSource<IcmpError>, icmpv6?: ErrorSource<Icmpv6Error>): void {
    icmp?.bindErrors(this, { onError: (e) => netErrorArrives(this, fromIcmp(e)) });
    icmpv6?.bindErrors(this, { onError: (e) => netErrorArrives(this, fromIcmpv6(e)) });
  }

  /** @internal the connection of a 4-tuple, if any */
  lookup(localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number): TcpConnection | undefined {
    return this.shared.table.get(localIp, localPort, remoteIp, remotePort);
  }

  /** The network layer for a family, if this TCP has one. */
  lowerFor(family: Family): TcpLower | undefined {
    for (const l of this.lowers) if (lowerFamily(l) === family) return l;
    return undefined;
  }

  // ---- the application side: listen / connect --------------------------------

  /**
   * Accept connections on `port`: on every local address of both families, or
   * only on `opts.address`. A port has one listener for every address, or
   * listeners each bound to an address of its own.
   */
  readonly listen = this.entry(
    'listen',
    'reentrant',
    (port: number, owner: Module, handlers: Partial<TcpListenSlots>, opts: ListenOptions = {}): TcpListener => {
      if (!(Number.isInteger(port) && port > 0 && port < 65536)) throw new RangeError(`bad port ${port}`);
      const address = opts.address === undefined ? null : ipOwned(opts.address);
      return this.lock.locked(() => {
        const bound = this.shared.boundListeners.get(port);
        if (this.shared.listeners.has(port) || (bound !== undefined && (address === null || bound.some((b) => ipEqual(b.address!, address))))) {
          throw new Error(`tcp port ${port} is already listening`);
        }
        const l = new TcpListener(
          this,
          port,
          opts.backlog ?? this.config.backlog,
          opts.synBacklog ?? this.config.synBacklog,
          opts.noDelay ?? false,
          address,
        );
        l.binding = this.listenTable.bind(owner, handlers, l);
        if (address === null) this.shared.listeners.set(port, l);
        else if (bound === undefined) this.shared.boundListeners.set(port, [l]);
        else bound.push(l);
        return l;
      }) as TcpListener;
    },
  );

  /** @internal see TcpListener.close */
  readonly unlisten = this.entry('unlisten', 'reentrant', (l: TcpListener): void => {
    if (!l.open) return;
    l.open = false;
    this.lock.locked(() => {
      if (this.shared.listeners.get(l.port) === l) this.shared.listeners.delete(l.port);
      const bound = this.shared.boundListeners.get(l.port);
      const i = bound === undefined ? -1 : bound.indexOf(l);
      if (i >= 0) {
        bound!.splice(i, 1);
        if (bound!.length === 0) this.shared.boundListeners.delete(l.port);
      }
      l.binding?.unbind();
    });
    for (const c of [...this.shared.table.all()]) {
      if (c.listener === l && (c.st === SYN_RECEIVED || c.awaitingBind)) this.abortConn(c);
    }
  });

  /**
   * Open a connection to `dst`:`port`. The SYN leaves now; `onConnect` follows
   * the handshake, or `onError` (ECONNREFUSED, ETIMEDOUT) its failure. No route
   * (ENETUNREACH) and no free ephemeral port (EADDRNOTAVAIL) are reported the
   * same way, by onError on a later clock turn, as a socket reports them: the
   * caller's task goes on. An explicit `localPort` already in use throws.
   * `dst` is an IPv4 or IPv6 address: the connection goes over that family's
   * network layer (none: ENETUNREACH, as a socket reports it).
   */
  readonly connect = this.entry(
    'connect',
    'reentrant',
    (dst: IpAddress, port: number, owner: Module, handlers: Partial<TcpSlots>, opts: ConnectOptions = {}): TcpConnection => {
      if (!(Number.isInteger(port) && port > 0 && port < 65536)) throw new RangeError(`bad port ${port}`);
      dst = ipOwned(dst);
      const family = familyOf(dst);
      const lower = this.lowerFor(family);
      const src = lower?.sourceFor(dst);
      const localIp = src ?? lower?.address ?? unspecifiedOf(family);
      const conn = this.lock.locked(() => {
        const lport = opts.localPort ?? this.pickPort(localIp, dst, port);
        if (lport === 0) {
          // Every ephemeral port is taken: a connection that is never entered
          // in the table, failed by its wait timer (onWaitTimer).
          const c = this.newConnection(localIp, 0, dst, port, false, lower ?? this.lower);
          c.binding = this.bindConn(c, owner, handlers, opts.client);
          return c;
        }
        // (A port pickPort chose is free: it looked.)
        if (opts.localPort !== undefined && this.shared.table.get(localIp, lport, dst, port) !== undefined) {
          throw new Error(`tcp ${formatEndpoint(localIp, lport)} -> ${formatEndpoint(dst, port)} is in use`);
        }
        const c = this.newConnection(localIp, lport, dst, port, false, lower ?? this.lower);
        c.noDelay = opts.noDelay ?? false;
        c.binding = this.bindConn(c, owner, handlers, opts.client);
        this.shared.table.add(c);
        return c;
      }) as TcpConnection;
      this.claim(conn);
      if (src === undefined || conn.localPort === 0) {
        // Like a socket: the failure is reported by an upcall, not thrown.
        conn.st = SYN_SENT;
        conn.waitTimer.arm(0);
        return conn;
      }
      conn.st = SYN_SENT;
      this.requestOutput(conn);
      return conn;
    },
  );

  /** Connections and listeners, for `netstat`. */
  readonly connections = this.query('connections', (): TcpConnectionRow[] => {
    const rows: TcpConnectionRow[] = [];
    // A listener on every address shows once per family, as netstat shows a dual-stack socket.
    for (const l of this.shared.listeners.values()) {
      for (const lower of this.lowers) {
        const any = unspecifiedOf(lowerFamily(lower));
        rows.push({ local: formatEndpoint(any, l.port), remote: formatEndpoint(any, '*'), state: 'LISTEN' });
      }
    }
    for (const bound of this.shared.boundListeners.values()) {
      for (const l of bound) {
        rows.push({ local: formatEndpoint(l.address!, l.port), remote: formatEndpoint(unspecifiedOf(familyOf(l.address!)), '*'), state: 'LISTEN' });
      }
    }
    for (const c of this.shared.table.all()) {
      rows.push({
        local: formatEndpoint(c.localIp, c.localPort),
        remote: formatEndpoint(c.remoteIp, c.remotePort),
        state: STATE_NAMES[c.st]!,
      });
    }
    return rows;
  });

  /** Live connections (any state but CLOSED, TIME_WAIT included). */
  get connectionCount(): number {
    return this.shared.table.size;
  }

  /** @internal every live connection */
  allConnections(): TcpConnection[] {
    return [...this.shared.table.all()];
  }

  // ---- connection operations (see TcpConnection) -----------------------------

  /** @internal */
  readonly connSend = this.entry('send', 'reentrant', (conn: TcpConnection, data: Uint8Array | string): boolean => {
    if (conn.dead || conn.finQueued || !canSend(conn.st)) {
      this.drop('send-after-close', this.rt.observed ? conn.describe() : undefined);
      return false;
    }
    const bytes = typeof data === 'string' ? encoder.encode(data) : data;
    this.claim(conn);
    if (conn.inSendReady) (conn.stash ??= []).push(bytes.slice());
    else conn.sendBuf.append(bytes, 0, bytes.length);
    const ok = conn.sendBuf.length < this.config.sendBufferSize;
    if (!ok) conn.needDrain = true;
    if (bytes.length > 0) this.requestOutput(conn);
    return ok;
  });

  /** @internal */
  readonly connArm = this.entry('armSend', 'reentrant', (conn: TcpConnection): void => {
    if (conn.dead || conn.finQueued || !canSend(conn.st)) return;
    this.claim(conn);
    conn.armed = true;
    this.requestOutput(conn);
  });

  /** @internal */
  readonly connShutdown = this.entry('shutdown', 'reentrant', (conn: TcpConnection): void => {
    if (conn.dead || conn.finQueued) return;
    this.claim(conn);
    this.startFin(conn);
  });

  /** @internal */
  readonly connClose = this.entry('close', 'reentrant', (conn: TcpConnection): void => {
    if (conn.dead) return;
    this.claim(conn);
    conn.appClosed = true;
    conn.armed = false;
    // RFC 9293 3.10.4 / RFC 2525 2.17: closing with unread data resets.
    if (conn.heldBytes > 0 && conn.st !== SYN_SENT) {
      this.abortConn(conn);
      return;
    }
    if (!conn.finQueued) this.startFin(conn);
    if (conn.st === FIN_WAIT_2) conn.waitTimer.arm(this.config.finWait2TimeoutMs);
  });

  /** @internal */
  readonly connKeepAlive = this.entry('setKeepAlive', 'reentrant', (conn: TcpConnection, enable: boolean, initialDelayMs: number): void => {
    if (conn.dead) return;
    this.claim(conn);
    setKeepalive(this, conn, enable, initialDelayMs);
  });

  /** @internal */
  readonly connAbort = this.entry('abort', 'reentrant', (conn: TcpConnection): void => {
    if (conn.dead) return;
    this.claim(conn);
    this.abortConn(conn);
  });

  /** @internal */
  readonly connPause = this.entry('pause', 'reentrant', (conn: TcpConnection): void => {
    this.claim(conn);
    conn.paused = true;
  });

  /** @internal */
  readonly connResume = this.entry('resume', 'reentrant', (conn: TcpConnection): void => {
    if (!conn.paused) return;
    conn.paused = false;
    // A connection that ended while paused still owes its held bytes.
    if (conn.dead && conn.heldBytes === 0 && !conn.closedPending) return;
    this.claim(conn);
    this.drainHeld(conn);
  });

  /** @internal */
  readonly connBind = this.entry(
    'bind',
    'reentrant',
    (conn: TcpConnection, handlers: Partial<TcpSlots>, owner?: Module, client?: unknown): void => {
      // A connection that ended before anyone bound it still owes its held
      // bytes and its close report to whoever binds it now.
      if (conn.dead && conn.heldBytes === 0 && !conn.closedPending && !conn.finUpcallPending) return;
      this.claim(conn);
      const o = owner ?? conn.binding?.owner ?? conn.listener?.binding?.owner ?? this.rt.app('tcp-app');
      conn.binding?.unbind();
      conn.binding = this.bindConn(conn, o, handlers, client);
      if (conn.awaitingBind) {
        conn.awaitingBind = false;
        if (conn.listener !== null) conn.listener.acceptCount--;
        conn.listener = null;
        if (!this.upConnect(conn)) return;
      }
      this.drainHeld(conn);
    },
  );

  // ---- internals shared by input/output/timers ----------------------------------

  // One function per kind of timer for every connection (the timer passes its connection).
  private readonly fireRto = (c: TcpConnection): void => onRtoTimer(this, c);
  private readonly fireDelack = (c: TcpConnection): void => onDelackTimer(this, c);
  private readonly fireWait = (c: TcpConnection): void => onWaitTimer(this, c);

  /** @internal the delayed-ACK or wait timer of `c`, made on its first use beside its RTO timer */
  sideTimer(c: TcpConnection, kind: 'delack' | 'wait'): ModuleTimer {
    return this.timerBeside(c.rtoTimer, kind, kind === 'delack' ? this.fireDelack : this.fireWait);
  }

  /** @internal a connection's control block over `lower`, its RTO timer created (the others on first use) */
  newConnection(localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number, passive: boolean, lower: TcpLower): TcpConnection {
    localIp = ipOwned(localIp);
    remoteIp = ipOwned(remoteIp);
    const c = new TcpConnection(this, localIp, localPort, remoteIp, remotePort, passive);
    c.lower = lower;
    c.rtoTimer = this.timer(c, 'rto', this.fireRto);
    const now = this.rt.clock.now();
    c.lastHeardAt = now;
    c.iss = this.isn.isn(now, localIp, localPort, remoteIp, remotePort);
    c.sndUna = c.sndNxt = c.sndMax = c.iss;
    c.bufSeq = (c.iss + 1) >>> 0;
    c.cc.recover = c.iss;
    // As an int32 (a small integer in the field, not a number boxed per
    // connection): TSval is (clock + offset) >>> 0 all the same.
    c.tsOffset = this.isn.offset | 0;
    // A lower of the other family serves only a connect that fails with ENETUNREACH.
    const family = familyOf(remoteIp);
    c.rcvMss = mssForMtu(family, lowerFamily(lower) === family ? lower.pathMtu(remoteIp) : 1280);
    c.sndMss = Math.min(536, c.rcvMss);
    if (this.config.windowScaling) {
      let shift = 0;
      while (shift < 14 && this.config.receiveBufferSize > 0xffff << shift) shift++;
      c.rcvWscale = shift;
    }
    return c;
  }

  /** @internal passive open: a SYN-RECEIVED connection for `listener` */
  register(c: TcpConnection): boolean {
    return this.lock.locked(() => {
      if (this.shared.table.get(c.localIp, c.localPort, c.remoteIp, c.remotePort) !== undefined) return false;
      this.shared.table.add(c);
      return true;
    }) as boolean;
  }

  /** @internal the listener for a local port and address, if open: one bound to that address, else one on every address */
  listenerFor(port: number, local: IpAddress): TcpListener | undefined {
    const bound = this.shared.boundListeners.get(port);
    if (bound !== undefined) {
      for (const l of bound) if (ipEqual(l.address!, local)) return l;
    }
    return this.shared.listeners.get(port);
  }

  /**
   * @internal remove a connection for good: table, timers, buffers. No upcall.
   * `keepHeld`: a graceful end whose received bytes still wait for a paused reader.
   */
  destroy(c: TcpConnection, keepHeld = false): void {
    if (c.dead) return;
    const wasHalfOpen = c.st === SYN_RECEIVED;
    c.dead = true;
    c.st = CLOSED;
    this.lock.locked(() => this.shared.table.remove(c));
    if (c.listener !== null) {
      if (c.awaitingBind) c.listener.acceptCount--;
      else if (wasHalfOpen) c.listener.synCount--;
      c.listener = null;
    }
    c.awaitingBind = false;
    this.releaseClient(c);
    c.sendBuf.free();
    if (!keepHeld || c.heldBytes === 0) {
      c.held = null;
      c.heldBytes = 0;
    }
    c.ooo = null;
    c.stash = null;
  }

  /** @internal reset the peer and forget the connection (abort, cleanup) */
  abortConn(c: TcpConnection): void {
    if (c.dead) return;
    if (c.st !== SYN_SENT && c.st !== CLOSED && c.st !== LISTEN && c.st !== TIME_WAIT) sendRstForConn(this, c);
    const b = c.binding;
    this.destroy(c);
    b?.unbind();
  }

  /** @internal queue the FIN (shutdown/close) */
  startFin(c: TcpConnection): void {
    switch (c.st) {
      case SYN_SENT:
        // Nothing was synchronized: just forget it (RFC 9293 3.10.4).
        this.destroy(c);
        c.binding?.unbind();
        return;
      case SYN_RECEIVED:
        // The FIN follows once established.
        c.finQueued = true;
        return;
      case ESTABLISHED:
        c.finQueued = true;
        c.st = FIN_WAIT_1;
        break;
      case CLOSE_WAIT:
        c.finQueued = true;
        c.st = LAST_ACK;
        break;
      default:
        return;
    }
    c.armed = false;
    this.requestOutput(c);
  }

  /**
   * @internal output for `c`, when TCP's outermost activation working on `c`
   * unwinds (at once, in an activation of its own, if none is on the path).
   * Requests made meanwhile are merged into one.
   */
  requestOutput(c: TcpConnection): void {
    this.afterUnwind(c, 'output', () => output(this, c));
  }

  /** @internal deliver held data (after resume or bind), then reopen the window */
  drainHeld(c: TcpConnection): void {
    const zombie = c.dead;
    const ok = deliverHeld(this, c);
    if (!ok || (c.dead && !zombie)) return;
    if (c.heldBytes > 0) return;
    if (c.finUpcallPending) {
      c.finUpcallPending = false;
      const r = this.upClose(c, 'peer-fin');
      if (!r && !zombie) return;
    }
    if (c.closedPending) {
      c.closedPending = false;
      this.upClose(c, 'closed');
      return;
    }
    if (c.dead) return;
    if (windowUpdateMatters(c)) {
      c.ackNow = true;
      this.counters.windowUpdates++;
      c.stats.windowUpdates++;
    }
    this.requestOutput(c);
  }

  /** @internal RFC 5961 section 7: challenge ACKs, limited per connection and by a randomised module-wide budget (challenge.ts) */
  challengeAllowed(c: TcpConnection): boolean {
    return this.challenges.allow(c, this.rt.clock.now());
  }

  /** @internal record that this activation of TCP works for `c` (cleanup gets it if the task fails) */
  claimConn(c: TcpConnection): void {
    this.claim(c);
  }

  /** Each connection's handlers stand alone: their slots are the connection's own. */
  private bindConn(c: TcpConnection, owner: Module, handlers: Partial<TcpSlots>, client: unknown): Binding<TcpSlots> {
    return this.connTable.bindAlone(owner, handlers, client === undefined ? c : client);
  }

  private pickPort(localIp: IpAddress, dst: IpAddress, port: number): number {
    const lo = this.config.ephemeralLow;
    const span = this.config.ephemeralHigh - lo + 1;
    for (let i = 0; i < span; i++) {
      const p = lo + ((this.shared.nextEphemeral - lo + i) % span);
      if (this.shared.listeners.has(p) || this.shared.boundListeners.has(p)) continue;
      if (this.shared.table.get(localIp, p, dst, port) !== undefined) continue;
      this.shared.nextEphemeral = lo + ((p - lo + 1) % span);
      return p;
    }
    return 0;
  }

  // ---- upcall sites ----------------------------------------------------------
  // Each returns whether the connection is still worth touching: false when the
  // handler failed (the task is expended and cleanup already ran) or the
  // handler itself ended the connection.

  /** @internal */
  upConnect(c: TcpConnection): boolean {
    const b = c.binding;
    if (b === null) return !c.dead;
    return this.upcall(b, 'onConnect', c) !== FAILED && !c.dead;
  }

  /** @internal returns the raw result: FAILED, PENDING, or the handler's value */
  upSendReady(c: TcpConnection, w: SegmentWriter): unknown {
    const b = c.binding;
    if (b === null) return undefined;
    return this.upcall(b, 'onSendReady', c, w);
  }

  /** @internal */
  upDrain(c: TcpConnection): boolean {
    const b = c.binding;
    if (b === null || !b.has('onDrain')) return !c.dead;
    return this.upcall(b, 'onDrain', c) !== FAILED && !c.dead;
  }

  /**
   * @internal the connection ended well: onClose('closed') now, or after the
   * held bytes (and the peer-fin report) reach a paused reader. Unbinds a
   * destroyed connection once reported.
   */
  reportClosed(c: TcpConnection): boolean {
    if (c.heldBytes > 0 || c.finUpcallPending) {
      c.closedPending = true;
      return !c.dead;
    }
    return this.upClose(c, 'closed');
  }

  /** @internal */
  upData(c: TcpConnection, data: Uint8Array): boolean {
    const b = c.binding!;
    return this.upcall(b, 'onData', c, data) !== FAILED && !c.dead;
  }

  /** @internal delivery of held bytes, also to a connection that already ended */
  upHeld(c: TcpConnection, data: Uint8Array): boolean {
    const b = c.binding!;
    return this.upcall(b, 'onData', c, data) !== FAILED;
  }

  /** @internal */
  upClose(c: TcpConnection, how: 'peer-fin' | 'closed'): boolean {
    if (how === 'closed') {
      if (c.closeDelivered) return !c.dead;
      c.closeDelivered = true;
    }
    const b = c.binding;
    if (b === null) return !c.dead;
    return this.upcall(b, 'onClose', c, how) !== FAILED && !c.dead;
  }

  /** @internal the connection has been destroyed already; this is its last word */
  upError(c: TcpConnection, err: TcpError): void {
    const b = c.binding;
    if (b === null) return;
    // The binding stays bound: under queued dispatch this upcall is a message
    // still to be delivered. A dead connection makes no further upcalls.
    this.upcall(b, 'onError', c, err);
  }

  /** @internal an established passive connection is offered to its listener */
  upAccept(l: TcpListener, c: TcpConnection): boolean {
    const b = l.binding;
    l.accepted++;
    c.awaitingBind = true;
    l.acceptCount++;
    if (b === null || !b.bound || !b.has('onAccept')) return true;
    const r = this.upcall(b, 'onAccept', c);
    if (r === FAILED || c.dead) return false;
    if (r !== undefined && typeof r === 'object' && c.awaitingBind) {
      // The handlers returned become the connection's binding.
      c.binding?.unbind();
      c.binding = this.bindConn(c, b.owner, r as Partial<TcpSlots>, undefined);
      c.awaitingBind = false;
      l.acceptCount--;
      c.listener = null;
      return this.upConnect(c);
    }
    return true;
  }

  // ---- receive path ------------------------------------------------------------

  private onPacket(pkt: NetPacket, lower: TcpLower): void {
    const buf = pkt.buf;
    const bytes = buf.bytes;
    const off = buf.start;
    const len = buf.end - off;
    this.counters.segmentsIn++;
    if (this.config.verifyChecksums && len >= 20 && !segmentChecksumOk(bytes, off, len, pkt.src, pkt.dst)) {
      this.counters.checksumErrors++;
      this.drop('bad-checksum');
      return;
    }
    // One scratch Segment serves every arrival; a nested arrival (a lower
    // layer delivering inside our own send) gets a fresh one.
    let seg = this.scratch;
    if (seg === null) seg = new Segment(bytes);
    else this.scratch = null;
    const bad = readSegment(seg, bytes, off, len);
    if (bad !== null) {
      this.drop(bad);
      seg.reset();
      this.scratch = seg;
      return;
    }
    seg.src = pkt.src;
    seg.dst = pkt.dst;
    seg.lower = lower;
    this.dispatchSegment(seg);
    seg.reset();
    this.scratch = seg;
  }

  private dispatchSegment(seg: Segment): void {
    let conn = this.shared.table.get(seg.dst, seg.dstPort, seg.src, seg.srcPort);
    if (conn !== undefined && conn.st === TIME_WAIT && (seg.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN) {
      // RFC 9293 3.6.1 / RFC 6191: a new SYN may reopen a TIME-WAIT pair if it
      // cannot be confused with the old connection.
      const l = this.listenerFor(seg.dstPort, seg.dst);
      const newer = conn.tsOk && seg.hasTs ? ((seg.tsVal - conn.tsRecent) | 0) > 0 : ((seg.seq - conn.rcvNxt) | 0) > 0;
      if (l !== undefined && newer) {
        this.destroy(conn);
        conn = undefined;
      }
    }
    if (conn === undefined) {
      const l = this.listenerFor(seg.dstPort, seg.dst);
      if (l !== undefined && l.open) listenerReceives(this, l, seg);
      else noConnection(this, seg);
      return;
    }
    conn.stats.segmentsIn++;
    this.claim(conn);
    segmentArrives(this, conn, seg);
  }

  /**
   * Cleanup of a connection whose task failed (its handler threw, overran its
   * deadline, was aborted): reset the peer, free buffers and timers, leave the
   * port table. No upcall: the failing client is the one being cleaned.
   */
  protected override cleanup(conn: TcpConnection | undefined, reason: string): void {
    if (conn === undefined || conn.dead) return;
    if (this.rt.observed) this.note(`cleanup ${conn.describe()}: ${reason}`);
    this.abortConn(conn);
  }

  /** @internal an error ends the connection: destroy it, then tell the client */
  fail(c: TcpConnection, code: TcpError['code'], message: string, sendRst: boolean): void {
    if (c.dead) return;
    if (sendRst) sendRstForConn(this, c);
    this.destroy(c);
    this.upError(c, new TcpError(code, message));
  }
}
