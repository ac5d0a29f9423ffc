/**
 * A made-up transport on IP protocol 253 (reserved for experiments, RFC 3692):
 * TMP, a "tiny message protocol" with acknowledgements and retransmission, as a
 * module of its own on the upcall runtime.
 *
 *     npx tsx apps/examples/custom-protocol.ts
 *
 * Header (8 bytes, then the data):
 *
 *     0      1      2      3      4      5      6      7
 *     +------+------+------+------+------+------+------+------+
 *     | 0xA7 | type |     seq     |   length    |  checksum   |
 *     +------+------+------+------+------+------+------+------+
 *     type 1 = DATA, 2 = ACK; length = header + data; checksum = Internet
 *     checksum over header and data.
 *
 * The module shows the whole pattern: a slot for the layer above (`onMessage`),
 * entry points with a recursion policy, client state (one outstanding message per
 * destination) with a retransmission timer owned by it, counted drops.
 */
import { pathToFileURL } from 'node:url';
import { Module, SlotTable, VirtualClock, type Binding, type Runtime } from '../../src/core/index.js';
import { createHost } from '../../src/host.js';
import type { Ip, IpPacket } from '../../src/layers/ip.js';
import { SimLink } from '../../src/layers/nic/sim-link.js';
import { formatIp4, type Ip4 } from '../../src/wire/addr.js';
import { parseFailure, parseSuccess, type PacketBuffer, type ParseResult } from '../../src/wire/buffer.js';
import { checksumVerifies, internetChecksum } from '../../src/wire/checksum.js';

export const TMP_PROTOCOL = 253;
export const TMP_MAGIC = 0xa7;
export const TMP_HEADER_LENGTH = 8;
export const TMP_DATA = 1;
export const TMP_ACK = 2;

// ---- wire format: parse and emit, symmetric ---------------------------------

export interface TmpHeader {
  type: number;
  seq: number;
  /** Header plus data. */
  length: number;
  checksum: number;
}

export function parseTmp(bytes: Uint8Array, offset: number, length: number): ParseResult<TmpHeader> {
  if (length < TMP_HEADER_LENGTH) return parseFailure('truncated');
  const o = offset;
  if (bytes[o] !== TMP_MAGIC) return parseFailure('bad-magic');
  const type = bytes[o + 1]!;
  if (type !== TMP_DATA && type !== TMP_ACK) return parseFailure('bad-type');
  const len = (bytes[o + 4]! << 8) | bytes[o + 5]!;
  if (len < TMP_HEADER_LENGTH || len > length) return parseFailure('bad-length');
  if (!checksumVerifies(bytes, o, len)) return parseFailure('bad-checksum');
  return parseSuccess({ type, seq: (bytes[o + 2]! << 8) | bytes[o + 3]!, length: len, checksum: (bytes[o + 6]! << 8) | bytes[o + 7]! }, TMP_HEADER_LENGTH);
}

/** Prepends the header in front of the buffer's data (the message); computes length and checksum. */
export function writeTmpHeader(buf: PacketBuffer, type: number, seq: number): void {
  const length = TMP_HEADER_LENGTH + buf.length;
  const o = buf.prepend(TMP_HEADER_LENGTH);
  const b = buf.bytes;
  b[o] = TMP_MAGIC;
  b[o + 1] = type;
  b[o + 2] = seq >>> 8;
  b[o + 3] = seq;
  b[o + 4] = length >>> 8;
  b[o + 5] = length;
  b[o + 6] = 0;
  b[o + 7] = 0;
  const c = internetChecksum(b, o, length);
  b[o + 6] = c >>> 8;
  b[o + 7] = c;
}

/** Header and data as a new array. */
export function emitTmp(type: number, seq: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(TMP_HEADER_LENGTH + data.length);
  out.set(data, TMP_HEADER_LENGTH);
  const len = out.length;
  out[0] = TMP_MAGIC;
  out[1] = type;
  out[2] = seq >>> 8;
  out[3] = seq;
  out[4] = len >>> 8;
  out[5] = len;
  const c = internetChecksum(out, 0, len);
  out[6] = c >>> 8;
  out[7] = c;
  return out;
}

// ---- the module -------------------------------------------------------------

export interface TmpSlots {
  onMessage(from: Ip4, seq: number, data: Uint8Array): void;
  /** A message was acknowledged (true) or given up after the retries (false). */
  onDelivered(to: Ip4, seq: number, ok: boolean): void;
}

/** Client state: what we are sending to one peer. */
class Peer {
  nextSeq = 0;
  /** The message waiting for its ACK (its data, to retransmit), then the ones queued behind it. */
  queue: { seq: number; data: Uint8Array }[] = [];
  tries = 0;
  timer: { arm(ms: number): void; cancel(): void } | null = null;
  /** Highest sequence delivered upward from this peer (duplicates are acknowledged, not delivered). */
  lastDelivered = -1;
  constructor(readonly ip: Ip4) {}
  describe(): string {
    return `tmp peer ${formatIp4(this.ip)}`;
  }
}

export class Tmp extends Module<{ peers: Map<Ip4, Peer> }, Peer> {
  private readonly slots = new SlotTable<TmpSlots>(this, 'app', { onMessage: 'one', onDelivered: 'one' });
  private app: Binding<TmpSlots> | null = null;
  readonly retransmitMs = 50;
  readonly maxTries = 5;
  retransmissions = 0;

  constructor(rt: Runtime, readonly ip: Ip) {
    super(rt, 'tmp', { peers: new Map() });
    ip.bindProtocol(TMP_PROTOCOL, this, { onPacket: (pkt) => this.receive(pkt) });
  }

  readonly bind = this.entry('bind', 'reject', (owner: Module, h: Partial<TmpSlots>): Binding<TmpSlots> => {
    return (this.app = this.slots.bind(owner, h));
  });

  /** Queue `data` (copied) for `dst`; sent when what is ahead of it has been acknowledged. */
  readonly send = this.entry('send', 'reentrant', (dst: Ip4, data: Uint8Array): number => {
    const peer = this.peer(dst);
    const seq = peer.nextSeq;
    peer.nextSeq = (seq + 1) & 0xffff;
    peer.queue.push({ seq, data: data.slice() });
    if (peer.queue.length === 1) this.transmit(peer);
    return seq;
  });

  private peer(ip: Ip4): Peer {
    let p = this.shared.peers.get(ip);
    if (p === undefined) {
      const np = new Peer(ip);
      np.timer = this.timer(np, 'retransmit', () => this.onTimeout(np));
      this.shared.peers.set(ip, np);
      p = np;
    }
    return p;
  }

  private transmit(peer: Peer): void {
    const head = peer.queue[0];
    if (head === undefined) return;
    peer.tries++;
    const buf = this.ip.alloc(head.data.length, 'tmp data');
    buf.bytes.set(head.data, buf.start);
    writeTmpHeader(buf, TMP_DATA, head.seq);
    this.ip.send(peer.ip, TMP_PROTOCOL, buf);
    peer.timer!.arm(this.retransmitMs);
  }

  private onTimeout(peer: Peer): void {
    this.claim(peer);
    const head = peer.queue[0];
    if (head === undefined) return;
    if (peer.tries >= this.maxTries) {
      peer.queue.shift();
      peer.tries = 0;
      this.drop('gave-up', `seq ${head.seq}`);
      if (this.app !== null) this.upcall(this.app, 'onDelivered', peer.ip, head.seq, false);
      this.transmit(peer);
      return;
    }
    this.retransmissions++;
    if (this.rt.observed) this.note(`retransmit seq ${head.seq} to ${formatIp4(peer.ip)}`);
    this.transmit(peer);
  }

  private receive(pkt: IpPacket): void {
    const { buf } = pkt;
    const r = parseTmp(buf.bytes, buf.start, buf.length);
    if (!r.ok) return this.drop(r.reason);
    const h = r.header;
    const peer = this.peer(pkt.src);
    this.claim(peer);
    if (h.type === TMP_ACK) {
      const head = peer.queue[0];
      if (head === undefined || head.seq !== h.seq) return this.drop('stale-ack');
      peer.queue.shift();
      peer.tries = 0;
      peer.timer!.cancel();
      if (this.app !== null) this.upcall(this.app, 'onDelivered', peer.ip, h.seq, true);
      this.transmit(peer);
      return;
    }
    // DATA: acknowledge (duplicates too: our ACK may have been lost), deliver once.
    const ack = this.ip.alloc(0, 'tmp ack');
    writeTmpHeader(ack, TMP_ACK, h.seq);
    this.ip.send(pkt.src, TMP_PROTOCOL, ack, { src: pkt.dst });
    if (h.seq === peer.lastDelivered) return this.drop('duplicate');
    peer.lastDelivered = h.seq;
    if (this.app !== null) this.upcall(this.app, 'onMessage', pkt.src, h.seq, buf.bytes.subarray(buf.start + TMP_HEADER_LENGTH, buf.start + h.length));
  }

  protected override cleanup(peer: Peer | undefined): void {
    if (peer === undefined) return;
    // A failed task that worked for this peer: forget what we were sending it.
    peer.queue = [];
    peer.timer?.cancel();
  }
}

// ---- the demo ---------------------------------------------------------------

export interface CustomProtocolRun {
  received: string[];
  delivered: number;
  retransmissions: number;
  lines: string[];
}

export async function runCustomProtocol(print: (line: string) => void = (l) => console.log(l), seed = 3): Promise<CustomProtocolRun> {
  const lines: string[] = [];
  const say = (l: string): void => {
    lines.push(l);
    print(l);
  };
  const clock = new VirtualClock();
  // A lossy link, so the retransmission timer has work to do.
  const link = new SimLink(clock, { seed, loss: 0.2 });
  const a = createHost({ name: 'a', link, ip: '10.0.0.1/24' });
  const b = createHost({ name: 'b', link, ip: '10.0.0.2/24' });
  const tmpA = new Tmp(a.rt, a.ip);
  const tmpB = new Tmp(b.rt, b.ip);
  const received: string[] = [];
  let delivered = 0;
  tmpB.bind(b.rt.app('receiver'), {
    onMessage(from, seq, data) {
      const text = new TextDecoder().decode(data);
      received.push(text);
      say(`b: message #${seq} from ${formatIp4(from)}: ${JSON.stringify(text)} at ${clock.now().toFixed(3)} ms`);
    },
  });
  tmpA.bind(a.rt.app('sender'), {
    onDelivered(to, seq, ok) {
      if (ok) delivered++;
      say(`a: #${seq} to ${formatIp4(to)} ${ok ? 'acknowledged' : 'GIVEN UP'} at ${clock.now().toFixed(3)} ms`);
    },
  });
  for (const text of ['one', 'two', 'three', 'four', 'five']) tmpA.send(b.address, new TextEncoder().encode(text));
  clock.runAll();
  say(`${delivered} delivered, ${tmpA.retransmissions} retransmissions; drops at b: ${JSON.stringify(Object.fromEntries(b.rt.module('tmp')!.stats.dropReasons))}`);
  return { received, delivered, retransmissions: tmpA.retransmissions, lines };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void runCustomProtocol();
}
