/**
 * The system calls of a packetdrill script, mapped onto the stack's TCP: a
 * file-descriptor table of sockets, each a listener or one connection, with
 * the blocking and non-blocking behaviour of a POSIX socket.
 *
 * Reading follows a kernel's receive buffer: a connection stays paused, so
 * what arrives is held by TCP and shrinks the advertised window until the
 * script reads it (read resumes the connection just long enough to take the
 * bytes asked for). Accepting follows the listen queue: a connection that
 * finished its handshake waits, unbound, until accept() binds it.
 *
 * A call that would block on a blocking socket returns a `Blocked` whose
 * `retry` the runner calls as virtual time passes, until it completes.
 * A call, argument or option the stack cannot honour throws Unsupported;
 * never a silent success.
 */
import type { Module } from '../core/index.js';
import { createHost, type Host } from '../host.js';
import type { TcpConfig } from '../layers/tcp/config.js';
import type { TcpConnection } from '../layers/tcp/connection.js';
import type { TcpListener } from '../layers/tcp/listener.js';
import type { TcpSlots } from '../layers/tcp/types.js';
import type { Ip4 } from '../wire/addr.js';
import type { VirtualClock } from '../core/clock.js';
import type { Expr } from './ast.js';
import { ERRNO, POLL, SYMBOLS, errnoName } from './constants.js';
import { exprText } from './parser.js';
import { PeerDevice } from './peer.js';

export class Unsupported extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Unsupported';
  }
}

/** A result a script's `= value [ERRNO]` is compared with; `mismatch` reports an output argument that differed. */
export interface CallResult {
  readonly ret: number;
  readonly errno?: string;
  readonly mismatch?: string;
}

export interface Blocked {
  readonly blocked: true;
  /** A deadline (clock ms) at which retry must be called even if nothing else happens (poll's timeout). */
  readonly wakeAt?: number;
  /** Try again: the result once the call completes, or still blocked. */
  retry(): CallResult | Blocked;
}

export type CallOutcome = CallResult | Blocked;

export function isBlocked(o: CallOutcome): o is Blocked {
  return (o as Blocked).blocked === true;
}

export interface KernelOptions {
  clock: VirtualClock;
  localIp: Ip4;
  remoteIp: Ip4;
  gatewayIp: Ip4;
  prefixLength: number;
  bindPort: number;
  connectPort: number;
  mtu: number;
  /** TCP configuration of the host (sysctls and --tcp_config add to it before the host exists). */
  tcp: Partial<TcpConfig>;
}

/** The runner's view of the connection under test, reported as sockets open. */
export interface KernelHooks {
  onListen(port: number): void;
  onConnect(conn: TcpConnection): void;
}

class Sock {
  nonblock = false;
  port: number | undefined;
  reuseAddr = 0;
  noDelay = false;
  linger0 = false;
  /** SO_SNDBUF (undefined: the stack's send buffer size). */
  sndbuf: number | undefined;
  listener: TcpListener | null = null;
  readonly acceptQ: Sock[] = [];
  conn: TcpConnection | null = null;
  connecting = false;
  connected = false;
  readonly rx: Uint8Array[] = [];
  rxBytes = 0;
  /** Bytes a read in progress wants; delivery pauses the connection past it. */
  want = 0;
  peerFin = false;
  /** Pending error (SO_ERROR); reported once by the next call. */
  error: string | null = null;
  /** The connection failed (reset, refused, timed out): gone for good. */
  failed = false;
  rdShut = false;
  wrShut = false;

  constructor(public fd: number) {}
}

const PEER_MAC = 0x02_00_5e_00_00_02;
const LOCAL_MAC = 0x02_00_5e_00_00_01;

export class Kernel {
  private hostV: Host | null = null;
  private device: PeerDevice | null = null;
  private readonly fds = new Map<number, Sock>();
  private owner: Module | null = null;
  private wantFd: number | undefined;
  readonly tcpConfig: Partial<TcpConfig>;
  mtu: number;

  constructor(
    private readonly opts: KernelOptions,
    private readonly hooks: KernelHooks,
  ) {
    this.tcpConfig = { ...opts.tcp };
    this.mtu = opts.mtu;
  }

  get host(): Host | null {
    return this.hostV;
  }

  /** The wire to the script's peer (creates the host on first use). */
  wire(): PeerDevice {
    this.ensureHost();
    return this.device!;
  }

  /** Settings that only make sense before the stack is built. */
  get built(): boolean {
    return this.hostV !== null;
  }

  ensureHost(): Host {
    if (this.hostV !== null) return this.hostV;
    const o = this.opts;
    this.device = new PeerDevice(o.clock, LOCAL_MAC, PEER_MAC, this.mtu, o.localIp);
    const host = createHost({
      name: 'drill',
      device: this.device,
      ip: { address: o.localIp, prefixLength: o.prefixLength },
      gateway: o.gatewayIp,
      clock: o.clock,
      seed: 1,
      arp: { announce: false },
      udp: false,
      tcp: { isnSecret: new Uint8Array(16).fill(7), ...this.tcpConfig },
    });
    host.arp.addStatic(o.gatewayIp, PEER_MAC);
    host.arp.addStatic(o.remoteIp, PEER_MAC);
    this.hostV = host;
    this.owner = host.rt.app('drill');
    return host;
  }

  /**
   * Runs a system call. Throws Unsupported for what the stack lacks.
   * `expected` is the script's result: scripts name descriptors by the number
   * they expect socket() and accept() to return, so that number is used when free.
   */
  call(name: string, args: readonly Expr[], expected?: number): CallOutcome {
    this.wantFd = expected;
    switch (name) {
      case 'socket':
        return this.socket(args);
      case 'bind':
        return this.bind(args);
      case 'listen':
        return this.listen(args);
      case 'accept':
      case 'accept4':
        return this.accept(args);
      case 'connect':
        return this.connect(args);
      case 'write':
        return this.write(args, 0);
      case 'send':
        return this.write(args, this.flagsArg(args, 3, ['MSG_NOSIGNAL', 'MSG_DONTWAIT']));
      case 'read':
        return this.read(args, 0);
      case 'recv':
        return this.read(args, this.flagsArg(args, 3, ['MSG_DONTWAIT']));
      case 'shutdown':
        return this.shutdown(args);
      case 'close':
        return this.close(args);
      case 'setsockopt':
        return this.setsockopt(args);
      case 'getsockopt':
        return this.getsockopt(args);
      case 'fcntl':
        return this.fcntl(args);
      case 'poll':
        return this.poll(args);
      default:
        throw new Unsupported(`system call ${name}() is not mapped onto the stack`);
    }
  }

  // ---- helpers ---------------------------------------------------------------

  /** Integer value of an expression (symbols by their Linux values; `[x]` is x). */
  evalInt(e: Expr): number | undefined {
    switch (e.kind) {
      case 'ellipsis':
        return undefined;
      case 'int':
        return e.value;
      case 'word': {
        const v = SYMBOLS[e.name];
        if (v === undefined) throw new Unsupported(`unknown symbol ${e.name}`);
        return v;
      }
      case 'or': {
        const a = this.evalInt(e.left);
        const b = this.evalInt(e.right);
        return a === undefined || b === undefined ? undefined : a | b;
      }
      case 'array':
        return e.items.length === 1 ? this.evalInt(e.items[0]!) : undefined;
      case 'call':
        if (e.name === 'htons' && e.args.length === 1) return this.evalInt(e.args[0]!);
        throw new Unsupported(`expression ${exprText(e)}`);
      default:
        throw new Unsupported(`expression ${exprText(e)} where a number is expected`);
    }
  }

  private intArg(args: readonly Expr[], i: number, what: string): number {
    const e = args[i];
    if (e === undefined) throw new Unsupported(`missing ${what}`);
    const v = this.evalInt(e);
    if (v === undefined) throw new Unsupported(`${what} must be a value, not ...`);
    return v;
  }

  private flagsArg(args: readonly Expr[], i: number, allowed: readonly string[]): number {
    const v = args[i] === undefined ? 0 : this.intArg(args, i, 'flags');
    let ok = 0;
    for (const a of allowed) ok |= SYMBOLS[a]!;
    if ((v & ~ok) !== 0) throw new Unsupported(`flags 0x${v.toString(16)} (only ${allowed.join(', ')} are mapped)`);
    return v;
  }

  private sock(args: readonly Expr[]): Sock {
    const fd = this.intArg(args, 0, 'file descriptor');
    const s = this.fds.get(fd);
    if (s === undefined) throw new BadFd();
    return s;
  }

  private freeFd(): number {
    const w = this.wantFd;
    if (w !== undefined && w >= 0 && !this.fds.has(w)) return w;
    let fd = 3;
    while (this.fds.has(fd)) fd++;
    return fd;
  }

  private newFd(): Sock {
    const s = new Sock(this.freeFd());
    this.fds.set(s.fd, s);
    return s;
  }

  private err(errno: string): CallResult {
    return { ret: -1, errno };
  }

  /** Wraps a call so a missing descriptor is EBADF. */
  private withSock(args: readonly Expr[], fn: (s: Sock) => CallOutcome): CallOutcome {
    let s: Sock;
    try {
      s = this.sock(args);
    } catch (e) {
      if (e instanceof BadFd) return this.err('EBADF');
      throw e;
    }
    return fn(s);
  }

  /** Blocks (blocking socket) or fails with EAGAIN until `attempt` gives a result. */
  private waitFor(s: Sock, dontWait: boolean, attempt: () => CallResult | null): CallOutcome {
    const r = attempt();
    if (r !== null) return r;
    if (s.nonblock || dontWait) return this.err('EAGAIN');
    const blocked: Blocked = {
      blocked: true,
      retry: () => attempt() ?? blocked,
    };
    return blocked;
  }

  private sndbuf(s: Sock): number {
    return s.sndbuf ?? this.host?.tcp?.config.sendBufferSize ?? this.tcpConfig.sendBufferSize ?? 256 * 1024;
  }

  private takeError(s: Sock): string | null {
    const e = s.error;
    s.error = null;
    return e;
  }

  private handlers(s: Sock): Partial<TcpSlots> {
    return {
      onConnect: () => {
        s.connected = true;
        s.connecting = false;
      },
      onData: (c, d) => {
        s.rx.push(d.slice());
        s.rxBytes += d.length;
        if (s.rxBytes >= s.want && !c.isPaused) c.pause();
      },
      onClose: (_c, how) => {
        s.peerFin = true;
        if (how === 'closed') s.connected = false;
      },
      onError: (_c, e) => {
        s.error = e.code;
        s.failed = true;
        s.connecting = false;
        s.connected = false;
      },
    };
  }

  // ---- the calls -------------------------------------------------------------

  private socket(args: readonly Expr[]): CallOutcome {
    const type = this.intArg(args, 1, 'socket type');
    if ((type & 0xf) !== SYMBOLS.SOCK_STREAM) throw new Unsupported('only SOCK_STREAM sockets are mapped (the stack runs TCP here)');
    const proto = args[2] === undefined ? 0 : this.evalInt(args[2]);
    if (proto !== undefined && proto !== 0 && proto !== SYMBOLS.IPPROTO_TCP) throw new Unsupported(`protocol ${proto}`);
    const dom = args[0] === undefined ? undefined : this.evalInt(args[0]);
    if (dom !== undefined && dom !== SYMBOLS.AF_INET) throw new Unsupported('only AF_INET sockets (the stack is IPv4)');
    const s = this.newFd();
    s.nonblock = (type & SYMBOLS.SOCK_NONBLOCK!) !== 0;
    return { ret: s.fd };
  }

  /** Port of a sockaddr argument, or undefined for `...`. */
  private sockaddrPort(e: Expr | undefined): number | undefined {
    if (e === undefined || e.kind === 'ellipsis') return undefined;
    if (e.kind === 'struct') {
      for (const it of e.items) {
        if (it.kind === 'assign' && it.name === 'sin_port') return this.evalInt(it.value);
        if (it.kind === 'assign' && it.name === 'sa_family' && it.value.kind === 'word' && it.value.name !== 'AF_INET') {
          throw new Unsupported(`address family ${it.value.name}`);
        }
      }
      return undefined;
    }
    throw new Unsupported(`socket address ${exprText(e)}`);
  }

  private bind(args: readonly Expr[]): CallOutcome {
    return this.withSock(args, (s) => {
      if (s.port !== undefined || s.conn !== null || s.listener !== null) return this.err('EINVAL');
      s.port = this.sockaddrPort(args[1]) ?? this.opts.bindPort;
      return { ret: 0 };
    });
  }

  private listen(args: readonly Expr[]): CallOutcome {
    return this.withSock(args, (s) => {
      if (s.conn !== null) return this.err('EINVAL');
      if (s.listener !== null) return { ret: 0 };
      const backlog = args[1] === undefined ? 128 : this.intArg(args, 1, 'backlog');
      const port = s.port ?? this.opts.bindPort;
      const tcp = this.ensureHost().tcp!;
      let l: TcpListener;
      try {
        // Linux queues backlog + 1 established connections.
        l = tcp.listen(port, this.owner!, { onAccept: (c) => this.queued(s, c) }, { backlog: Math.max(1, backlog + 1), noDelay: s.noDelay });
      } catch {
        return this.err('EADDRINUSE');
      }
      s.listener = l;
      s.port = port;
      this.hooks.onListen(port);
      return { ret: 0 };
    });
  }

  /**
   * A connection finished its handshake: it waits in the listen queue for
   * accept(). Its handlers are bound now, as an application's onAccept would:
   * binding later (at accept) makes TCP announce its full window at once,
   * which a kernel's accept does not.
   */
  private queued(s: Sock, c: TcpConnection): Partial<TcpSlots> {
    // Paused from the start: what arrives before read() is held by TCP.
    c.pause();
    const n = new Sock(-1);
    n.conn = c;
    n.noDelay = s.noDelay;
    n.sndbuf = s.sndbuf;
    s.acceptQ.push(n);
    return this.handlers(n);
  }

  private accept(args: readonly Expr[]): CallOutcome {
    return this.withSock(args, (s) => {
      if (s.listener === null) return this.err('EINVAL');
      return this.waitFor(s, false, () => {
        const q = s.acceptQ.shift();
        if (q === undefined) return null;
        // The handlers bound at the handshake write into the queued record: it becomes the socket.
        q.fd = this.freeFd();
        this.fds.set(q.fd, q);
        return { ret: q.fd };
      });
    });
  }

  private connect(args: readonly Expr[]): CallOutcome {
    return this.withSock(args, (s) => {
      if (s.listener !== null) return this.err('EINVAL');
      if (s.conn !== null) {
        if (s.connected) return this.err('EISCONN');
        if (s.connecting) return s.nonblock ? this.err('EALREADY') : this.awaitConnect(s);
        const e = this.takeError(s);
        return e !== null ? this.err(e) : this.err('EISCONN');
      }
      const port = this.sockaddrPort(args[1]) ?? this.opts.connectPort;
      const tcp = this.ensureHost().tcp!;
      let c: TcpConnection;
      try {
        c = tcp.connect(this.opts.remoteIp, port, this.owner!, this.handlers(s), {
          ...(s.port !== undefined ? { localPort: s.port } : {}),
          noDelay: s.noDelay,
        });
      } catch {
        return this.err('EADDRINUSE');
      }
      c.pause();
      s.conn = c;
      s.connecting = !s.failed && !s.connected;
      this.hooks.onConnect(c);
      if (s.nonblock) return this.err('EINPROGRESS');
      return this.awaitConnect(s);
    });
  }

  private awaitConnect(s: Sock): CallOutcome {
    const attempt = (): CallResult | null => {
      if (s.connected) return { ret: 0 };
      if (s.failed) return this.err(this.takeError(s) ?? 'ECONNABORTED');
      return null;
    };
    const r = attempt();
    if (r !== null) return r;
    const blocked: Blocked = { blocked: true, retry: () => attempt() ?? blocked };
    return blocked;
  }

  private payloadArg(e: Expr | undefined, n: number): Uint8Array {
    if (e !== undefined && e.kind === 'string') {
      const b = new TextEncoder().encode(e.value);
      const out = new Uint8Array(n);
      out.set(b.subarray(0, n));
      return out;
    }
    if (e !== undefined && e.kind !== 'ellipsis') throw new Unsupported(`buffer ${exprText(e)}`);
    // packetdrill writes zeros for `...`.
    return new Uint8Array(n);
  }

  private write(args: readonly Expr[], flags: number): CallOutcome {
    return this.withSock(args, (s) => {
      const n = this.intArg(args, 2, 'length');
      const data = this.payloadArg(args[1], n);
      const dontWait = (flags & SYMBOLS.MSG_DONTWAIT!) !== 0;
      return this.waitFor(s, dontWait, () => {
        const c = s.conn;
        if (c === null) return this.err('ENOTCONN');
        if (s.failed) return this.err(this.takeError(s) ?? 'EPIPE');
        if (s.wrShut) return this.err('EPIPE');
        if (s.connecting) return null;
        if (!s.connected && !s.peerFin) return this.err('ENOTCONN');
        // Our FIN is out (shutdown or close by TCP itself) or the connection is over.
        if (c.state !== 'ESTABLISHED' && c.state !== 'CLOSE-WAIT') return this.err('EPIPE');
        if (c.bufferedAmount >= this.sndbuf(s)) return null;
        if (n > 0) c.send(data);
        return { ret: n };
      });
    });
  }

  /** Takes up to `n` received bytes: those already delivered, then what TCP holds. */
  private pull(s: Sock, n: number): number {
    const c = s.conn;
    if (c !== null && s.rxBytes < n && c.heldAmount > 0) {
      s.want = n;
      c.resume();
      if (!c.isPaused) c.pause();
      s.want = 0;
    }
    let take = Math.min(n, s.rxBytes);
    const got = take;
    while (take > 0) {
      const head = s.rx[0]!;
      if (head.length <= take) {
        s.rx.shift();
        take -= head.length;
      } else {
        s.rx[0] = head.subarray(take);
        take = 0;
      }
    }
    s.rxBytes -= got;
    return got;
  }

  private read(args: readonly Expr[], flags: number): CallOutcome {
    return this.withSock(args, (s) => {
      const n = this.intArg(args, 2, 'length');
      if (args[1] !== undefined && args[1].kind !== 'ellipsis') throw new Unsupported(`read buffer ${exprText(args[1])} (contents are not compared)`);
      const dontWait = (flags & SYMBOLS.MSG_DONTWAIT!) !== 0;
      return this.waitFor(s, dontWait, () => {
        if (s.listener !== null) return this.err('ENOTCONN');
        if (s.rdShut) return { ret: 0 };
        const got = n > 0 ? this.pull(s, n) : 0;
        if (got > 0) return { ret: got };
        const e = this.takeError(s);
        if (e !== null) return this.err(e);
        if (s.peerFin || s.failed) return { ret: 0 };
        if (s.conn === null) return this.err('ENOTCONN');
        if (n === 0 && s.connected) return { ret: 0 };
        return null;
      });
    });
  }

  private shutdown(args: readonly Expr[]): CallOutcome {
    return this.withSock(args, (s) => {
      const how = this.intArg(args, 1, 'how');
      const c = s.conn;
      if (c === null || (!s.connected && !s.connecting && !s.peerFin)) return this.err('ENOTCONN');
      if (how === SYMBOLS.SHUT_RD || how === SYMBOLS.SHUT_RDWR) s.rdShut = true;
      if (how === SYMBOLS.SHUT_WR || how === SYMBOLS.SHUT_RDWR) {
        s.wrShut = true;
        c.shutdown();
      }
      return { ret: 0 };
    });
  }

  private close(args: readonly Expr[]): CallOutcome {
    return this.withSock(args, (s) => {
      this.fds.delete(s.fd);
      if (s.listener !== null) {
        s.listener.close();
        // Connections nobody accepted die with the listener (a RST each, as in Linux).
        for (const q of s.acceptQ.splice(0)) if (q.conn !== null && !q.failed) q.conn.abort();
        return { ret: 0 };
      }
      const c = s.conn;
      if (c === null || s.failed) return { ret: 0 };
      // Closing with unread data resets, as Linux does (RFC 2525 2.17); so does SO_LINGER 0.
      if (s.linger0 || s.rxBytes > 0) c.abort();
      else c.close();
      return { ret: 0 };
    });
  }

  private setsockopt(args: readonly Expr[]): CallOutcome {
    return this.withSock(args, (s) => {
      const level = this.intArg(args, 1, 'level');
      const name = args[2]?.kind === 'word' ? args[2].name : String(this.intArg(args, 2, 'option name'));
      const valueExpr = args[3];
      const value = (): number => this.intArg(args, 3, `${name} value`);
      if (level === SYMBOLS.SOL_SOCKET) {
        switch (name) {
          case 'SO_REUSEADDR':
          case 'SO_REUSEPORT':
            s.reuseAddr = value();
            return { ret: 0 };
          case 'SO_KEEPALIVE':
            if (value() !== 0) throw new Unsupported('SO_KEEPALIVE: the stack sends no keepalives');
            return { ret: 0 };
          case 'SO_SNDBUF':
            // The socket layer's own limit on unacknowledged bytes; doubled, as Linux does for bookkeeping.
            s.sndbuf = 2 * value();
            return { ret: 0 };
          case 'SO_RCVBUF': {
            if (this.built) throw new Unsupported('SO_RCVBUF after the stack is running (the receive buffer is module-wide here)');
            this.tcpConfig.receiveBufferSize = value();
            return { ret: 0 };
          }
          case 'SO_LINGER': {
            if (valueExpr?.kind !== 'struct') throw new Unsupported('SO_LINGER needs {onoff=..., linger=...}');
            const f: Record<string, number | undefined> = {};
            for (const it of valueExpr.items) if (it.kind === 'assign') f[it.name] = this.evalInt(it.value);
            if (f.onoff === 0) {
              s.linger0 = false;
              return { ret: 0 };
            }
            if (f.linger !== 0) throw new Unsupported('SO_LINGER with a timeout (only linger 0, reset on close, is mapped)');
            s.linger0 = true;
            return { ret: 0 };
          }
          default:
            throw new Unsupported(`setsockopt SOL_SOCKET ${name}`);
        }
      }
      if (level === SYMBOLS.IPPROTO_TCP) {
        switch (name) {
          case 'TCP_NODELAY':
            s.noDelay = value() !== 0;
            s.conn?.setNoDelay(s.noDelay);
            return { ret: 0 };
          case 'TCP_MAXSEG': {
            const mss = value();
            if (this.built) throw new Unsupported('TCP_MAXSEG after the stack is running (the MSS follows the device MTU here)');
            if (mss < 88 || mss > 65_495) return this.err('EINVAL');
            this.mtu = mss + 40;
            return { ret: 0 };
          }
          default:
            throw new Unsupported(`setsockopt IPPROTO_TCP ${name}`);
        }
      }
      throw new Unsupported(`setsockopt level ${level}`);
    });
  }

  private getsockopt(args: readonly Expr[]): CallOutcome {
    return this.withSock(args, (s) => {
      const level = this.intArg(args, 1, 'level');
      const name = args[2]?.kind === 'word' ? args[2].name : String(this.intArg(args, 2, 'option name'));
      let actual: number;
      if (level === SYMBOLS.SOL_SOCKET) {
        switch (name) {
          case 'SO_ERROR': {
            const e = this.takeError(s);
            actual = e === null ? 0 : ERRNO[e] ?? 0;
            break;
          }
          case 'SO_REUSEADDR':
            actual = s.reuseAddr;
            break;
          case 'SO_KEEPALIVE':
            actual = 0;
            break;
          case 'SO_RCVBUF':
            actual = this.host?.tcp?.config.receiveBufferSize ?? this.tcpConfig.receiveBufferSize ?? 256 * 1024;
            break;
          case 'SO_SNDBUF':
            actual = this.sndbuf(s);
            break;
          default:
            throw new Unsupported(`getsockopt SOL_SOCKET ${name}`);
        }
      } else if (level === SYMBOLS.IPPROTO_TCP) {
        switch (name) {
          case 'TCP_NODELAY':
            actual = s.noDelay ? 1 : 0;
            break;
          case 'TCP_MAXSEG':
            actual = s.conn !== null && s.connected ? s.conn.timing.mss : this.mtu - 40;
            break;
          default:
            throw new Unsupported(`getsockopt IPPROTO_TCP ${name}`);
        }
      } else throw new Unsupported(`getsockopt level ${level}`);
      const want = args[3] === undefined ? undefined : this.evalInt(args[3]);
      if (want !== undefined && want !== actual) {
        return { ret: 0, mismatch: `${name}: expected ${fmtValue(name, want)}, actual ${fmtValue(name, actual)}` };
      }
      return { ret: 0 };
    });
  }

  private fcntl(args: readonly Expr[]): CallOutcome {
    return this.withSock(args, (s) => {
      const cmd = this.intArg(args, 1, 'command');
      switch (cmd) {
        case SYMBOLS.F_GETFL:
          return { ret: SYMBOLS.O_RDWR! | (s.nonblock ? SYMBOLS.O_NONBLOCK! : 0) };
        case SYMBOLS.F_SETFL:
          s.nonblock = (this.intArg(args, 2, 'flags') & SYMBOLS.O_NONBLOCK!) !== 0;
          return { ret: 0 };
        case SYMBOLS.F_GETFD:
        case SYMBOLS.F_SETFD:
          return { ret: 0 };
        default:
          throw new Unsupported(`fcntl command ${cmd}`);
      }
    });
  }

  /** The poll bits that hold for a socket now (Linux's tcp_poll, roughly). */
  private readiness(s: Sock): number {
    let r = 0;
    if (s.listener !== null) return s.acceptQ.length > 0 ? POLL.POLLIN | POLL.POLLRDNORM : 0;
    const c = s.conn;
    if (c === null) return POLL.POLLOUT | POLL.POLLHUP;
    if (s.error !== null) r |= POLL.POLLERR;
    if (s.failed || (s.peerFin && s.wrShut)) r |= POLL.POLLHUP;
    if (s.peerFin || s.failed || s.rdShut) r |= POLL.POLLIN | POLL.POLLRDNORM | POLL.POLLRDHUP;
    if (s.rxBytes > 0 || c.heldAmount > 0) r |= POLL.POLLIN | POLL.POLLRDNORM;
    if (s.connected || s.failed || s.peerFin) {
      if (s.failed || s.wrShut || c.bufferedAmount < this.sndbuf(s)) r |= POLL.POLLOUT | POLL.POLLWRNORM;
    }
    return r;
  }

  private poll(args: readonly Expr[]): CallOutcome {
    const list = args[0];
    if (list === undefined || list.kind !== 'array') throw new Unsupported('poll needs an array of {fd=..., events=...}');
    const entries = list.items.map((it) => {
      if (it.kind !== 'struct') throw new Unsupported(`poll entry ${exprText(it)}`);
      const f: Record<string, Expr> = {};
      for (const x of it.items) if (x.kind === 'assign') f[x.name] = x.value;
      if (f.fd === undefined || f.events === undefined) throw new Unsupported('poll entry without fd or events');
      return { fd: this.evalInt(f.fd)!, events: this.evalInt(f.events) ?? 0, revents: f.revents === undefined ? undefined : this.evalInt(f.revents) };
    });
    const timeout = args[2] === undefined ? 0 : this.intArg(args, 2, 'timeout');
    const clock = this.opts.clock;
    const deadline = timeout < 0 ? Infinity : clock.now() + timeout;
    const always = POLL.POLLERR | POLL.POLLHUP | POLL.POLLNVAL;
    const attempt = (): CallResult | null => {
      const got = entries.map((e) => {
        const s = this.fds.get(e.fd);
        return s === undefined ? POLL.POLLNVAL : this.readiness(s) & (e.events | always);
      });
      const n = got.filter((x) => x !== 0).length;
      if (n === 0 && clock.now() < deadline) return null;
      const bad = entries.findIndex((e, i) => e.revents !== undefined && e.revents !== got[i]);
      if (bad >= 0) {
        return { ret: n, mismatch: `fd ${entries[bad]!.fd} revents: expected ${pollText(entries[bad]!.revents!)}, actual ${pollText(got[bad]!)}` };
      }
      return { ret: n };
    };
    const r = attempt();
    if (r !== null) return r;
    const blocked: Blocked = { blocked: true, ...(deadline !== Infinity ? { wakeAt: deadline } : {}), retry: () => attempt() ?? blocked };
    return blocked;
  }
}

class BadFd extends Error {}

export function pollText(bits: number): string {
  if (bits === 0) return '0';
  const names = Object.entries(POLL)
    .filter(([k, v]) => (bits & v) !== 0 && k !== 'POLLRDNORM' && k !== 'POLLWRNORM')
    .map(([k]) => k);
  return names.join('|') || `0x${bits.toString(16)}`;
}

function fmtValue(name: string, v: number): string {
  return name === 'SO_ERROR' && v !== 0 ? `${v} (${errnoName(v)})` : String(v);
}
