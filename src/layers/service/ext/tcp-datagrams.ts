/**
 * Datagrams over TCP, for a service layer written against UDP's port
 * interface: the same `bind(port, owner, { onDatagram })` and `socket.send`,
 * each message carried as a frame on one TCP connection per peer host, opened
 * on the first send and kept. Loss, duplication and reordering are TCP's
 * problem; the service layer's own retransmissions then only ever meet a
 * duplicate cache. A broadcast (or an IPv6 multicast) has no connection to
 * ride: it is dropped and counted, so clients on TCP alone find servers
 * through a directory host. Peers of either family, one code path.
 * The service layer takes it as `ServicesOptions.tcp`.
 *
 * Frame: u16 source port | u16 destination port | u32 length | payload.
 */
import { FAILED, Module, SlotTable, type Binding, type Runtime } from '../../../core/index.js';
import { IP4_BROADCAST } from '../../../wire/addr.js';
import { isIp6Multicast } from '../../../wire/addr6.js';
import { familyOf, formatIp, ipOwned, type Family, type IpAddress } from '../../net.js';
import type { Tcp, TcpConnection, TcpSlots } from '../../tcp/index.js';
import type { UdpDatagram } from '../../udp.js';

const HEADER = 8;
/** Larger frames are refused (a peer announcing one is not speaking this protocol). */
const MAX_FRAME = 1 << 20;

export interface DatagramSlots {
  onDatagram(d: UdpDatagram): void;
}

/** One peer host: the connection to it, and bytes of a frame not yet complete. */
class Peer {
  conn: TcpConnection | null = null;
  connected = false;
  /** Frames waiting for the handshake. */
  readonly waiting: Uint8Array[] = [];
  /** Received bytes not yet a whole frame. */
  partial: Uint8Array = new Uint8Array(0);
  constructor(readonly address: IpAddress) {}
  describe(): string {
    return `peer:${formatIp(this.address)}`;
  }
}

export class TcpDatagramSocket {
  constructor(
    readonly udp: TcpDatagrams,
    readonly port: number,
  ) {}
  send(dst: IpAddress, dstPort: number, data: Uint8Array): boolean {
    return this.udp.send(this.port, dst, dstPort, data);
  }
  close(): void {
    this.udp.unbind(this.port);
  }
}

export interface TcpDatagramStats {
  framesSent: number;
  framesReceived: number;
  connections: number;
}

interface Shared {
  readonly ports: Map<number, Binding<DatagramSlots>>;
  /** By the peer's address in text (IPv6 addresses are bytes: never keys by identity). */
  readonly peers: Map<string, Peer>;
}

export class TcpDatagrams extends Module<Shared, Peer> {
  private readonly table = new SlotTable<DatagramSlots>(this, 'ports', { onDatagram: 'one' });
  readonly counters: TcpDatagramStats = { framesSent: 0, framesReceived: 0, connections: 0 };
  /** This host's address per family, as the service layer asks Udp (`lowerFor(family).address`). */
  private readonly locals: ReadonlyArray<{ readonly family: Family; readonly address: IpAddress }>;
  private readonly handlers: Partial<TcpSlots>;

  /** `addresses`: this host's, one per family TCP runs over (the host's `address`, `address6`). */
  constructor(
    rt: Runtime,
    private readonly tcp: Tcp,
    addresses: IpAddress | readonly IpAddress[],
  ) {
    super(rt, 'service-tcp', { ports: new Map(), peers: new Map() });
    const list: readonly IpAddress[] = Array.isArray(addresses) ? addresses : [addresses as IpAddress];
    this.locals = list.map((a) => ({ family: familyOf(a), address: ipOwned(a) }));
    this.handlers = {
      onConnect: (c) => this.connected(c),
      onData: (c, d) => this.data(c, d),
      onClose: (c) => this.gone(c),
      onError: (c) => this.gone(c),
    };
  }

  /** This host's address in `family`, if it was given one (the service layer asks it as it asks Udp). */
  readonly lowerFor = this.query('lowerFor', (family: Family): { readonly address: IpAddress } | undefined => this.locals.find((l) => l.family === family));

  /** Take datagrams for `port`: the port is also the TCP port peers connect to. */
  readonly bind = this.entry('bind', 'reject', (port: number, owner: Module, h: Partial<DatagramSlots>): TcpDatagramSocket => {
    this.lock.locked(() => {
      if (this.shared.ports.has(port)) throw new Error(`service-tcp port ${port} is already bound`);
      this.shared.ports.set(port, this.table.bind(owner, h));
    });
    // Rule 2: the listener is bound after our own table is consistent and unlocked.
    this.tcp.listen(port, this, { onAccept: () => this.handlers });
    return new TcpDatagramSocket(this, port);
  });

  /** @internal TcpDatagramSocket.close */
  readonly unbind = this.entry('unbind', 'reentrant', (port: number): void => {
    this.lock.locked(() => {
      this.shared.ports.get(port)?.unbind();
      this.shared.ports.delete(port);
    });
  });

  /** @internal TcpDatagramSocket.send */
  readonly send = this.entry('send', 'reentrant', (srcPort: number, dst: IpAddress, dstPort: number, data: Uint8Array): boolean => {
    if (typeof dst === 'number' ? dst === IP4_BROADCAST : isIp6Multicast(dst)) {
      this.drop('broadcast', 'no connection carries a broadcast');
      return false;
    }
    const frame = new Uint8Array(HEADER + data.length);
    const v = new DataView(frame.buffer);
    v.setUint16(0, srcPort);
    v.setUint16(2, dstPort);
    v.setUint32(4, data.length);
    frame.set(data, HEADER);
    const key = formatIp(dst);
    let peer = this.shared.peers.get(key);
    if (peer === undefined || peer.conn === null) {
      peer ??= new Peer(ipOwned(dst));
      this.shared.peers.set(key, peer);
      this.claim(peer);
      peer.conn = this.tcp.connect(dst, dstPort, this, this.handlers, { client: peer, noDelay: true });
    }
    this.counters.framesSent++;
    if (!peer.connected) {
      peer.waiting.push(frame);
      return true;
    }
    peer.conn!.send(frame);
    return true;
  });

  private peerOf(c: TcpConnection): Peer {
    const key = formatIp(c.remoteIp);
    let p = this.shared.peers.get(key);
    if (p === undefined) {
      p = new Peer(c.remoteIp);
      this.shared.peers.set(key, p);
    }
    return p;
  }

  private connected(c: TcpConnection): void {
    this.counters.connections++;
    const p = this.peerOf(c);
    // An accepted connection serves as well as one we opened: keep the first that works.
    if (p.conn === null || !p.connected) p.conn = c;
    c.setNoDelay(true);
    if (p.conn !== c) return;
    p.connected = true;
    for (const f of p.waiting.splice(0)) c.send(f);
  }

  private data(c: TcpConnection, bytes: Uint8Array): void {
    const p = this.peerOf(c);
    this.claim(p);
    let buf = bytes;
    if (p.partial.length > 0) {
      buf = new Uint8Array(p.partial.length + bytes.length);
      buf.set(p.partial, 0);
      buf.set(bytes, p.partial.length);
    }
    let off = 0;
    while (buf.length - off >= HEADER) {
      const v = new DataView(buf.buffer, buf.byteOffset + off, HEADER);
      const srcPort = v.getUint16(0);
      const dstPort = v.getUint16(2);
      const len = v.getUint32(4);
      if (len > MAX_FRAME) {
        this.drop('frame-too-long', `${len} bytes`);
        p.partial = new Uint8Array(0);
        c.abort();
        return;
      }
      if (buf.length - off - HEADER < len) break;
      const payload = buf.subarray(off + HEADER, off + HEADER + len);
      off += HEADER + len;
      this.counters.framesReceived++;
      const b = this.shared.ports.get(dstPort);
      if (b === undefined) {
        this.drop('no-port', `port ${dstPort}`);
        continue;
      }
      const d: UdpDatagram = { src: c.remoteIp, srcPort, dst: c.localIp, dstPort, ttl: 64, payload };
      if (this.upcall(b, 'onDatagram', d) === FAILED) {
        // The task is expended (cleanup ran): what followed in these bytes goes with it; the sender retransmits.
        p.partial = new Uint8Array(0);
        return;
      }
    }
    // Keep the tail (a copy: `bytes` is only lent for this upcall).
    p.partial = off === buf.length ? new Uint8Array(0) : buf.slice(off);
  }

  private gone(c: TcpConnection): void {
    const p = this.shared.peers.get(formatIp(c.remoteIp));
    if (p === undefined || p.conn !== c) return;
    // The next send opens a new connection; frames still waiting are the service layer's to retransmit.
    p.conn = null;
    p.connected = false;
    p.partial = new Uint8Array(0);
    p.waiting.length = 0;
  }

  protected override cleanup(client: Peer | undefined): void {
    // A handler failed during one of our upcalls: the bytes after its frame may be mid-message; start clean.
    if (client !== undefined) client.partial = new Uint8Array(0);
  }
}
