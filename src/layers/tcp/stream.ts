/**
 * A Node `Duplex` over a TCP connection, shaped like `net.Socket`, so existing
 * npm libraries (HTTP clients and servers, WebSocket, MQTT...) run over this
 * stack unchanged: `createConnection`/`connect`, `createServer`, `write`,
 * `end`, `'data'`, `'end'`, `'close'`, `'error'`, `setNoDelay`, `setKeepAlive`, backpressure.
 *
 * It lives with TCP because it is one more client of TCP's slots (onData
 * pushes, onDrain releases write callbacks, onClose ends the readable side),
 * not a layer of its own: the adapter is the bridge from upcalls to streams.
 *
 * Flow control maps both ways: when `push` returns false the connection is
 * paused (TCP holds the data and closes the window) and `_read` resumes it;
 * when `send` reports a full send buffer the write callback waits for onDrain.
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { currentFrame, outsideTask, type ClockEntry, type Module } from '../../core/index.js';
import { formatIp, tryParseIp, type IpAddress } from '../net.js';
import type { TcpConnection } from './connection.js';
import type { TcpListener } from './listener.js';
import type { Tcp } from './tcp.js';
import type { TcpError, TcpSlots } from './types.js';

/**
 * Calls into TCP from stream machinery. Node runs stream callbacks on later
 * ticks, which inherit the async context of the upcall that scheduled them;
 * once that task has ended, the call must start a task of its own rather than
 * run as part of a finished one.
 */
function call<T>(fn: () => T): T {
  const f = currentFrame();
  if (f !== undefined && f.task.state !== 'running') return outsideTask(fn);
  return fn();
}

export interface TcpSocketOptions {
  /** Module on whose behalf the socket's handlers run (default: the runtime's 'net' app module). */
  owner?: Module;
  /** Keep the writable side open after the peer's FIN (net.Socket's allowHalfOpen). Default false. */
  allowHalfOpen?: boolean;
}

export interface SocketConnectOptions {
  port: number;
  host?: string;
  localPort?: number;
  noDelay?: boolean;
}

export class TcpSocket extends Duplex {
  /** The connection, once connecting or accepted. */
  conn: TcpConnection | null = null;
  bytesRead = 0;
  private pendingWrite: (() => void) | null = null;
  private timeoutMs = 0;
  private idleTimer: ClockEntry | null = null;
  private ended = false;
  connecting = false;
  private readonly owner: Module;

  constructor(
    readonly tcp: Tcp,
    opts: TcpSocketOptions = {},
  ) {
    // 'close' is emitted by _destroy itself, with net.Socket's hadError argument.
    super({ allowHalfOpen: opts.allowHalfOpen ?? false, decodeStrings: true, emitClose: false });
    this.owner = opts.owner ?? tcp.rt.app('net');
  }

  /** The handlers that connect this stream to its connection's slots. */
  handlers(): Partial<TcpSlots> {
    return {
      onConnect: () => {
        this.connecting = false;
        this.touch();
        this.emit('connect');
        this.emit('ready');
      },
      onData: (conn, data) => {
        this.bytesRead += data.length;
        this.touch();
        // Copy: the view is valid only during the upcall.
        if (!this.push(Buffer.from(data))) conn.pause();
      },
      onDrain: () => {
        const cb = this.pendingWrite;
        if (cb !== null) {
          this.pendingWrite = null;
          cb();
        }
      },
      onClose: (_conn, how) => {
        if (how === 'peer-fin') {
          if (!this.ended) {
            this.ended = true;
            this.push(null);
          }
          return;
        }
        if (!this.ended) {
          this.ended = true;
          this.push(null);
        }
        this.releaseWrite();
        // Both directions are done: let the stream finish its own close.
        if (this.writableFinished || this.writableEnded) this.destroy();
        else this.once('finish', () => this.destroy());
      },
      onError: (_conn, err: TcpError) => {
        this.releaseWrite();
        this.destroy(err);
      },
    };
  }

  /** `connect(port, host?, cb?)` or `connect({ port, host }, cb?)`. */
  connect(portOrOpts: number | SocketConnectOptions, hostOrCb?: string | (() => void), cb?: () => void): this {
    const opts: SocketConnectOptions = typeof portOrOpts === 'number' ? { port: portOrOpts } : portOrOpts;
    let host = opts.host;
    let done = cb;
    if (typeof hostOrCb === 'string') host = hostOrCb;
    else if (typeof hostOrCb === 'function') done = hostOrCb;
    if (done !== undefined) this.once('connect', done);
    const dst: IpAddress = host === undefined || host === 'localhost' ? this.tcp.lower.address : parseHost(host);
    this.connecting = true;
    this.conn = call(() =>
      this.tcp.connect(dst, opts.port, this.owner, this.handlers(), {
        ...(opts.localPort !== undefined ? { localPort: opts.localPort } : {}),
        ...(opts.noDelay !== undefined ? { noDelay: opts.noDelay } : {}),
        client: this,
      }),
    );
    this.applyKeepAlive();
    return this;
  }

  private applyKeepAlive(): void {
    const k = this.keepAlive;
    const c = this.conn;
    if (k !== null && c !== null) call(() => c.setKeepAlive(k[0], k[1]));
  }

  /** @internal an accepted connection becomes this socket's */
  adopt(conn: TcpConnection): this {
    this.conn = conn;
    call(() => conn.bind(this.handlers(), this.owner, this));
    this.applyKeepAlive();
    return this;
  }

  override _read(): void {
    const c = this.conn;
    if (c !== null && c.isPaused) call(() => c.resume());
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const c = this.conn;
    if (c === null) {
      cb(new Error('socket is not connected'));
      return;
    }
    this.touch();
    const ok = call(() => c.send(chunk));
    if (ok) cb();
    else this.pendingWrite = () => cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    const c = this.conn;
    if (c !== null) call(() => c.shutdown());
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.clearIdle();
    const c = this.conn;
    if (c !== null && c.state !== 'CLOSED' && c.state !== 'TIME-WAIT') {
      call(() => (err !== null ? c.abort() : c.close()));
    }
    this.releaseWrite();
    cb(err);
    const hadError = err !== null && err !== undefined;
    process.nextTick(() => this.emit('close', hadError));
  }

  setNoDelay(noDelay = true): this {
    this.conn?.setNoDelay(noDelay);
    return this;
  }

  /** TCP keepalive as Node's: `initialDelay` ms of silence before the first probe (0: the stack's default, 2 h). */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.keepAlive = [enable, initialDelay];
    const c = this.conn;
    if (c !== null) call(() => c.setKeepAlive(enable, initialDelay));
    return this;
  }

  /** Asked before the connection existed: applied once it does. */
  private keepAlive: [boolean, number] | null = null;

  /** Emit 'timeout' after `ms` of inactivity (0 disables), on the stack's clock. */
  setTimeout(ms: number, cb?: () => void): this {
    this.timeoutMs = ms;
    if (cb !== undefined) this.once('timeout', cb);
    this.touch();
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  get remoteAddress(): string | undefined {
    return this.conn?.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.conn?.remotePort;
  }

  get remoteFamily(): string {
    return this.conn?.family === 6 ? 'IPv6' : 'IPv4';
  }

  get localAddress(): string | undefined {
    return this.conn?.localAddress;
  }

  get localPort(): number | undefined {
    return this.conn?.localPort;
  }

  get bytesWritten(): number {
    return this.conn?.stats.bytesOut ?? 0;
  }

  get pending(): boolean {
    return this.conn === null || this.connecting;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.destroyed || this.conn === null) return 'closed';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    const c = this.conn;
    return c === null ? {} : { address: c.localAddress, family: c.family === 6 ? 'IPv6' : 'IPv4', port: c.localPort };
  }

  private releaseWrite(): void {
    const cb = this.pendingWrite;
    this.pendingWrite = null;
    cb?.();
  }

  private touch(): void {
    if (this.timeoutMs <= 0) {
      this.clearIdle();
      return;
    }
    const clock = this.tcp.rt.clock;
    this.clearIdle();
    this.idleTimer = clock.schedule(clock.now() + this.timeoutMs, () => {
      this.idleTimer = null;
      this.emit('timeout');
    });
  }

  private clearIdle(): void {
    if (this.idleTimer !== null) {
      this.tcp.rt.clock.cancel(this.idleTimer);
      this.idleTimer = null;
    }
  }
}

/** `net.Server`-like: 'connection' for each accepted socket, 'listening', 'close'. */
export class TcpServer extends EventEmitter {
  private listener: TcpListener | null = null;
  private readonly sockets = new Set<TcpSocket>();

  constructor(
    readonly tcp: Tcp,
    private readonly opts: TcpSocketOptions = {},
  ) {
    super();
  }

  /** `host`: accept only on that local address (IPv4 or IPv6); default every address of both families. */
  listen(portOrOpts: number | { port: number; backlog?: number; host?: string }, cb?: () => void): this {
    const port = typeof portOrOpts === 'number' ? portOrOpts : portOrOpts.port;
    const backlog = typeof portOrOpts === 'number' ? undefined : portOrOpts.backlog;
    const host = typeof portOrOpts === 'number' ? undefined : portOrOpts.host;
    const address = host === undefined ? undefined : parseHost(host);
    const owner = this.opts.owner ?? this.tcp.rt.app('net');
    this.listener = call(() =>
      this.tcp.listen(
        port,
        owner,
        {
          onAccept: (conn) => {
            const s = new TcpSocket(this.tcp, this.opts);
            s.adopt(conn);
            this.sockets.add(s);
            s.once('close', () => this.sockets.delete(s));
            this.emit('connection', s);
            return undefined;
          },
        },
        { ...(backlog !== undefined ? { backlog } : {}), ...(address !== undefined ? { address } : {}) },
      ),
    );
    if (cb !== undefined) this.once('listening', cb);
    queueMicrotask(() => this.emit('listening'));
    return this;
  }

  /** Stop accepting; 'close' once every accepted socket has closed. */
  close(cb?: (err?: Error) => void): this {
    const l = this.listener;
    this.listener = null;
    if (l !== null) call(() => l.close());
    const finish = (): void => {
      this.emit('close');
      cb?.();
    };
    if (this.sockets.size === 0) queueMicrotask(finish);
    else {
      let left = this.sockets.size;
      for (const s of this.sockets) s.once('close', () => --left === 0 && finish());
    }
    return this;
  }

  /** As Node's: a listener on both families reports '::'. */
  address(): { address: string; family: string; port: number } | null {
    if (this.listener === null) return null;
    const bound = this.listener.address;
    if (bound !== null) return { address: formatIp(bound), family: typeof bound === 'number' ? 'IPv4' : 'IPv6', port: this.listener.port };
    const v6 = this.tcp.lowerFor(6) !== undefined;
    return { address: v6 ? '::' : '0.0.0.0', family: v6 ? 'IPv6' : 'IPv4', port: this.listener.port };
  }

  get listening(): boolean {
    return this.listener !== null;
  }
}

export function createServer(tcp: Tcp, onConnection?: (s: TcpSocket) => void, opts: TcpSocketOptions = {}): TcpServer {
  const s = new TcpServer(tcp, opts);
  if (onConnection !== undefined) s.on('connection', onConnection);
  return s;
}

/** `net.createConnection` over `tcp`: host is a dotted quad or an IPv6 address ('localhost' = the host's own address). */
export function createConnection(tcp: Tcp, opts: SocketConnectOptions & TcpSocketOptions, cb?: () => void): TcpSocket {
  const s = new TcpSocket(tcp, opts);
  return s.connect(opts, cb);
}

export const connect = createConnection;

/** Whether `host` is an address this adapter can reach (dotted quad, IPv6 address, or 'localhost'). */
export function isReachableHost(host: string): boolean {
  return host === 'localhost' || hostAddress(host) !== undefined;
}

/** An IPv4 or IPv6 address, the latter bracketed or not. */
function hostAddress(host: string): IpAddress | undefined {
  return tryParseIp(host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host);
}

function parseHost(host: string): IpAddress {
  const a = hostAddress(host);
  if (a === undefined) throw new RangeError(`not an IPv4 or IPv6 address: ${JSON.stringify(host)}`);
  return a;
}
