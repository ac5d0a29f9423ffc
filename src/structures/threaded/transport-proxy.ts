/**
 * The boundary between the transport group (TCP, UDP) and the application
 * group when they run in different threads: TransportExport binds TCP's and
 * UDP's slots on the application's behalf and forwards every upcall as a
 * message; StreamImport gives the application TCP and UDP with the
 * interfaces it uses in-thread (StreamTransport, and DatagramService as its
 * `udp`), every downcall a message.
 *
 * What changes for the protocols, and what a crossing costs:
 *  - onData lends a view into the segment TCP is still working on, so it is
 *    copied into memory of its own and transferred; `send` data is copied
 *    (the application keeps its bytes) and transferred;
 *  - onSendReady cannot be served in place: the application is in another
 *    thread while TCP builds the segment. TCP's upcall goes out as a message,
 *    the segment leaves without the reply, and the reply comes back as `send`
 *    (the structure, not the protocol, loses the piggybacking);
 *  - `send`'s boolean (room in the send buffer) cannot wait for TCP's answer:
 *    the import side keeps a credit of bytes in flight across the boundary,
 *    returned by the export side as TCP takes them, and makes the onDrain
 *    upcall itself when credit comes back after a refusal.
 */
import type { MessagePort } from 'node:worker_threads';
import { Module, SlotTable, type Binding, type Runtime } from '../../core/index.js';
import type { Tcp, TcpConnection, TcpSlots } from '../../layers/tcp/index.js';
import type { TcpListener } from '../../layers/tcp/listener.js';
import type { StreamConnection, StreamListener, StreamListenSlots, StreamSlots, StreamTransport, StreamWriter } from '../../layers/telnet/transport.js';
import type { Udp, UdpDatagram, UdpSocket } from '../../layers/udp.js';
import { formatIp4, type Ip4 } from '../../wire/addr.js';
import type { DatagramService, DatagramSocket } from '../app.js';
import { Channel, ownCopy, type Message } from './channel.js';

// app -> transport
const T_LISTEN = 10;
const T_CONNECT = 11;
const T_SEND = 12;
const T_ARM = 13;
const T_SHUTDOWN = 14;
const T_CLOSE = 15;
const T_ABORT = 16;
const T_UBIND = 17;
const T_USEND = 18;
const T_UCLOSE = 19;
const T_UNLISTEN = 20;
const T_SYNC = 21;
// transport -> app
const A_ACCEPT = 30;
const A_CONNECT = 31;
const A_DATA = 32;
const A_SEND_READY = 33;
const A_CREDIT = 34;
const A_CLOSE = 35;
const A_ERROR = 36;
const A_DGRAM = 37;
const A_SYNC = 38;

/** Bytes the application may have in flight toward TCP before `send` says "full". */
const CREDIT_HIGH = 256 * 1024;

const encoder = new TextEncoder();

// ---------------------------------------------------------------------------
// transport side

interface Exported {
  readonly conn: TcpConnection;
  /** Bytes taken by TCP while its send buffer was full: credited on onDrain. */
  owed: number;
}

export class TransportExport extends Module {
  readonly channel: Channel;
  private readonly conns = new Map<number, Exported>();
  private readonly listeners = new Map<number, TcpListener>();
  private readonly sockets = new Map<number, UdpSocket>();
  /** Ids of accepted connections (even; the application numbers its own opens odd). */
  private nextId = 2;

  constructor(
    rt: Runtime,
    private readonly tcp: Tcp | undefined,
    private readonly udp: Udp | null,
    port: MessagePort,
  ) {
    super(rt, 'transport-export');
    this.channel = new Channel(port, (m) => this.startTask('mailbox', () => this.onMessage(m), { entry: 'message' }));
  }

  close(): void {
    this.channel.close();
  }

  private handlers(id: number): Partial<TcpSlots> {
    const ch = this.channel;
    return {
      onConnect: (c) => ch.send([A_CONNECT, id, c.localIp, c.localPort]),
      onData: (_c, d) => {
        const u = ownCopy(d);
        ch.copied(u.length);
        ch.send([A_DATA, id, u], u.buffer as ArrayBuffer);
      },
      onSendReady: (_c, w) => ch.send([A_SEND_READY, id, w.space]),
      onDrain: () => {
        const e = this.conns.get(id);
        if (e !== undefined && e.owed > 0) {
          ch.send([A_CREDIT, id, e.owed]);
          e.owed = 0;
        }
      },
      onClose: (_c, how) => ch.send([A_CLOSE, id, how]),
      onError: (_c, err) => {
        this.conns.delete(id);
        ch.send([A_ERROR, id, err.code, err.message]);
      },
    };
  }

  private onMessage(m: Message): void {
    const tcp = this.tcp;
    switch (m[0]) {
      case T_SEND: {
        const e = this.conns.get(m[1] as number);
        const data = m[2] as Uint8Array;
        if (e === undefined) return;
        if (e.conn.send(data)) this.channel.send([A_CREDIT, m[1], data.length]);
        else e.owed += data.length;
        return;
      }
      case T_ARM:
        this.conns.get(m[1] as number)?.conn.armSend();
        return;
      case T_USEND: {
        const s = this.sockets.get(m[1] as number);
        if (s !== undefined) s.send(m[2] as Ip4, m[3] as number, m[4] as Uint8Array);
        return;
      }
      case T_LISTEN: {
        if (tcp === undefined) return;
        const lid = m[1] as number;
        const l = tcp.listen(
          m[2] as number,
          this,
          {
            onAccept: (c) => {
              const id = this.nextId;
              this.nextId += 2;
              this.conns.set(id, { conn: c, owed: 0 });
              this.channel.send([A_ACCEPT, lid, id, c.localIp, c.localPort, c.remoteIp, c.remotePort]);
              return this.handlers(id);
            },
          },
          { noDelay: m[3] as boolean },
        );
        this.listeners.set(lid, l);
        return;
      }
      case T_UNLISTEN:
        this.listeners.get(m[1] as number)?.close();
        this.listeners.delete(m[1] as number);
        return;
      case T_CONNECT: {
        if (tcp === undefined) return;
        const id = m[1] as number;
        const c = tcp.connect(m[2] as Ip4, m[3] as number, this, this.handlers(id), { noDelay: m[4] as boolean });
        this.conns.set(id, { conn: c, owed: 0 });
        return;
      }
      case T_SHUTDOWN:
        this.conns.get(m[1] as number)?.conn.shutdown();
        return;
      case T_CLOSE:
        this.conns.get(m[1] as number)?.conn.close();
        return;
      case T_ABORT: {
        const e = this.conns.get(m[1] as number);
        this.conns.delete(m[1] as number);
        e?.conn.abort();
        return;
      }
      case T_UBIND: {
        if (this.udp === null) return;
        const port = m[1] as number;
        const ch = this.channel;
        const s = this.udp.bind(port, this, {
          onDatagram: (d) => {
            const u = ownCopy(d.payload);
            ch.copied(u.length);
            ch.send([A_DGRAM, port, d.src, d.srcPort, d.dst, d.dstPort, d.ttl, u], u.buffer as ArrayBuffer);
          },
        });
        this.sockets.set(port, s);
        return;
      }
      case T_UCLOSE:
        this.sockets.get(m[1] as number)?.close();
        this.sockets.delete(m[1] as number);
        return;
      case T_SYNC:
        this.channel.send([A_SYNC]);
        return;
    }
  }
}

// ---------------------------------------------------------------------------
// application side

/** The segment's payload area, once the segment has gone: what is written becomes `send`. */
class LateWriter implements StreamWriter {
  readonly buffer: Uint8Array;
  offset = 0;
  written = 0;
  constructor(
    private readonly conn: ProxyConnection,
    readonly space: number,
  ) {
    this.buffer = new Uint8Array(space);
  }
  write(data: Uint8Array | string): number {
    const bytes = typeof data === 'string' ? encoder.encode(data) : data;
    this.conn.send(bytes);
    this.written += bytes.length;
    return bytes.length;
  }
  commit(n: number): void {
    if (n <= 0) return;
    this.conn.send(this.buffer.subarray(this.offset, this.offset + n));
    this.offset += n;
    this.written += n;
  }
}

type Pending = Message;
/** Telnet's slots and TCP's onDrain (a bulk sender's pump). */
type ProxySlots = StreamSlots & { onDrain(conn: StreamConnection): void };

class ProxyConnection implements StreamConnection {
  binding: Binding<ProxySlots> | null = null;
  /** Events that arrived before the application bound its handlers. */
  pending: Pending[] | null = null;
  outstanding = 0;
  needDrain = false;
  localIp: Ip4 = 0;
  localPort = 0;
  constructor(
    private readonly imp: StreamImport,
    readonly id: number,
    readonly remoteIp: Ip4,
    readonly remotePort: number,
  ) {}

  get localAddress(): string {
    return formatIp4(this.localIp);
  }
  get remoteAddress(): string {
    return formatIp4(this.remoteIp);
  }
  describe(): string {
    return `tcp ${this.localAddress}:${this.localPort} -> ${this.remoteAddress}:${this.remotePort} (other thread)`;
  }

  send(data: Uint8Array | string): boolean {
    const u = typeof data === 'string' ? encoder.encode(data) : ownCopy(data);
    const ch = this.imp.channel;
    if (typeof data !== 'string') ch.copied(u.length);
    ch.send([T_SEND, this.id, u], u.buffer as ArrayBuffer);
    this.outstanding += u.length;
    if (this.outstanding >= CREDIT_HIGH) {
      this.needDrain = true;
      return false;
    }
    return true;
  }
  armSend(): void {
    this.imp.channel.send([T_ARM, this.id]);
  }
  shutdown(): void {
    this.imp.channel.send([T_SHUTDOWN, this.id]);
  }
  close(): void {
    this.imp.channel.send([T_CLOSE, this.id]);
  }
  abort(): void {
    this.imp.channel.send([T_ABORT, this.id]);
    this.imp.forget(this);
  }
  bind(handlers: Partial<ProxySlots>, owner?: Module, client?: unknown): void {
    this.imp.bindConnection(this, handlers, owner, client);
  }
}

class ListenerHandle implements StreamListener {
  constructor(
    private readonly imp: StreamImport,
    private readonly lid: number,
  ) {}
  close(): void {
    this.imp.unlisten(this.lid);
  }
}

interface ProxyListener {
  readonly binding: Binding<StreamListenSlots>;
  readonly noDelay: boolean;
}

export class StreamImport extends Module implements StreamTransport {
  readonly channel: Channel;
  private readonly connTable = new SlotTable<ProxySlots>(this, 'connections', {
    onConnect: 'many', onData: 'many', onSendReady: 'many', onDrain: 'many', onClose: 'many', onError: 'many',
  });
  private readonly listenTable = new SlotTable<StreamListenSlots>(this, 'listeners', { onAccept: 'many' });
  private readonly udpTable = new SlotTable<{ onDatagram(d: UdpDatagram): void }>(this, 'udp', { onDatagram: 'many' });
  private readonly conns = new Map<number, ProxyConnection>();
  private readonly listeners = new Map<number, ProxyListener>();
  private readonly sockets = new Map<number, Binding<{ onDatagram(d: UdpDatagram): void }>>();
  private nextConn = 1;
  private nextListener = 1;
  private readonly syncWaiters: Array<() => void> = [];
  /** UDP, through the same channel. */
  readonly udp: DatagramService;

  constructor(rt: Runtime, port: MessagePort) {
    super(rt, 'transport-import');
    this.channel = new Channel(port, (m) => this.startTask('mailbox', () => this.onMessage(m), { entry: 'message' }));
    this.udp = {
      bind: (port: number, owner: Module, handlers: { onDatagram(d: UdpDatagram): void }): DatagramSocket => {
        this.sockets.set(port, this.udpTable.bind(owner, handlers));
        this.channel.send([T_UBIND, port]);
        const ch = this.channel;
        return {
          port,
          send: (dst: Ip4, dstPort: number, data: Uint8Array) => {
            const u = ownCopy(data);
            ch.copied(u.length);
            ch.send([T_USEND, port, dst, dstPort, u], u.buffer as ArrayBuffer);
            return 'sent';
          },
          close: () => {
            this.sockets.get(port)?.unbind();
            this.sockets.delete(port);
            ch.send([T_UCLOSE, port]);
          },
        };
      },
    };
  }

  listen(port: number, owner: Module, slots: Partial<StreamListenSlots>, opts?: { noDelay?: boolean }): StreamListener {
    const lid = this.nextListener++;
    const noDelay = opts?.noDelay ?? false;
    this.listeners.set(lid, { binding: this.listenTable.bind(owner, slots), noDelay });
    this.channel.send([T_LISTEN, lid, port, noDelay]);
    return new ListenerHandle(this, lid);
  }

  /** @internal */
  readonly unlisten = this.entry('unlisten', 'reentrant', (lid: number): void => {
    this.listeners.get(lid)?.binding.unbind();
    this.listeners.delete(lid);
    this.channel.send([T_UNLISTEN, lid]);
  });

  connect(dst: Ip4, port: number, owner: Module, handlers: Partial<ProxySlots>, opts?: { client?: unknown; noDelay?: boolean }): StreamConnection {
    const id = this.nextConn;
    this.nextConn += 2;
    const c = new ProxyConnection(this, id, dst, port);
    this.conns.set(id, c);
    c.binding = this.connTable.bind(owner, handlers, opts?.client);
    this.channel.send([T_CONNECT, id, dst, port, opts?.noDelay ?? false]);
    return c;
  }

  /** @internal */
  readonly bindConnection = this.entry('bind', 'reentrant', (c: ProxyConnection, handlers: Partial<ProxySlots>, owner: Module | undefined, client: unknown): void => {
    c.binding?.unbind();
    c.binding = this.connTable.bind(owner ?? this.rt.app('app'), handlers, client);
    const held = c.pending;
    if (held !== null) {
      c.pending = null;
      for (const m of held) this.connEvent(c, m);
    }
  });

  /** @internal */
  readonly forget = this.entry('forget', 'reentrant', (c: ProxyConnection): void => {
    c.binding?.unbind();
    this.conns.delete(c.id);
  });

  /** Resolves once the transport group has taken every message sent so far (listens, binds). */
  sync(): Promise<void> {
    return new Promise((resolve) => {
      this.syncWaiters.push(resolve);
      this.channel.send([T_SYNC]);
    });
  }

  private onMessage(m: Message): void {
    const kind = m[0] as number;
    if (kind === A_SYNC) {
      this.syncWaiters.shift()?.();
      return;
    }
    if (kind === A_DGRAM) {
      const b = this.sockets.get(m[1] as number);
      if (b === undefined) return;
      const d: UdpDatagram = {
        dstPort: m[1] as number, src: m[2] as Ip4, srcPort: m[3] as number, dst: m[4] as Ip4, ttl: m[6] as number, payload: m[7] as Uint8Array,
      };
      this.upcall(b, 'onDatagram', d);
      return;
    }
    if (kind === A_ACCEPT) {
      const l = this.listeners.get(m[1] as number);
      const c = new ProxyConnection(this, m[2] as number, m[5] as Ip4, m[6] as number);
      c.localIp = m[3] as Ip4;
      c.localPort = m[4] as number;
      c.pending = [];
      this.conns.set(c.id, c);
      if (l === undefined) {
        c.abort();
        return;
      }
      const h = this.upcall(l.binding, 'onAccept', c);
      if (h !== undefined && typeof h === 'object') c.bind(h, l.binding.owner);
      return;
    }
    const c = this.conns.get(m[1] as number);
    if (c === undefined) return;
    if (kind === A_CREDIT) {
      c.outstanding -= m[2] as number;
      if (c.needDrain && c.outstanding < CREDIT_HIGH / 2) {
        c.needDrain = false;
        if (c.binding !== null) this.upcall(c.binding, 'onDrain', c);
      }
      return;
    }
    if (c.pending !== null) {
      c.pending.push(m);
      return;
    }
    this.connEvent(c, m);
  }

  private connEvent(c: ProxyConnection, m: Message): void {
    const b = c.binding;
    if (b === null) return;
    switch (m[0]) {
      case A_DATA:
        this.upcall(b, 'onData', c, m[2] as Uint8Array);
        return;
      case A_CONNECT:
        c.localIp = m[2] as Ip4;
        c.localPort = m[3] as number;
        this.upcall(b, 'onConnect', c);
        return;
      case A_SEND_READY:
        this.upcall(b, 'onSendReady', c, new LateWriter(c, m[2] as number));
        return;
      case A_CLOSE:
        if (m[2] === 'closed') this.conns.delete(c.id);
        this.upcall(b, 'onClose', c, m[2] as 'peer-fin' | 'closed');
        return;
      case A_ERROR: {
        this.conns.delete(c.id);
        const err = Object.assign(new Error(m[3] as string), { code: m[2] as string });
        this.upcall(b, 'onError', c, err);
        return;
      }
    }
  }
}
