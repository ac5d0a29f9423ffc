/**
 * SYN cookies (RFC 4987 3.6), and what to do when a listener's queue of
 * half-open connections is full.
 *
 * A spoofed SYN costs its sender nothing and, kept as a half-open connection,
 * costs the listener a slot for the whole SYN-ACK retry cycle. When the queue
 * is full:
 *
 *  1. the oldest half-open connection whose SYN-ACK already had to be
 *     retransmitted (no answer within the first RTO, which a real client beats
 *     by far) gives its slot to the newcomer;
 *  2. if none has, the SYN is answered statelessly: the SYN-ACK's sequence
 *     number is a cookie from which the connection is rebuilt when the ACK of
 *     the handshake comes back, and nothing is kept meanwhile.
 *
 * The cookie, as Linux builds it: ISN = H1(tuple) + peer ISN + (count << 24) +
 * ((H2(tuple, count) + mssIndex) mod 2^24), with count a 64-second clock, so a
 * cookie is good for two to three minutes and says which of four MSS values
 * the peer asked for. With timestamps on, the low six bits of our TSval carry
 * the peer's window scale (4 bits, 15 = none) and SACK-permitted (1 bit): the
 * ACK's echo brings them back. H1 and H2 are SipHash-2-4 under the ISN
 * secret with labels of their own (as Linux does): a keyed PRF, so a cookie
 * cannot be forged without the secret, and cheap enough that a SYN flood
 * answered with cookies costs little more than reading the SYNs.
 */
import type { SipHash24 } from '../../wire/siphash.js';
import { IP_PROTO_TCP } from '../../wire/ipv4.js';
import { seqLt } from '../../wire/seq.js';
import { TCP_ACK, TCP_SYN } from '../../wire/tcp.js';
import { familyOf, type IpAddress } from '../net.js';
import { defaultMss, mssForMtu, setSegmentChecksum } from './lower.js';
import type { TcpConnection } from './connection.js';
import type { TcpListener } from './listener.js';
import { synOptionListLength, writeHeader, writeSynOptionList } from './output.js';
import type { Segment } from './segment.js';
import { SYN_RECEIVED } from './states.js';
import type { Tcp } from './tcp.js';
import { keyedHashOf } from './isn.js';
import { TUPLE4_LENGTH, TUPLE6_LENGTH, writeTuple } from './tuple.js';

/** MSS values a cookie can name (Linux's table for IPv4). */
export const COOKIE_MSS = [536, 1300, 1440, 1460] as const;
const COUNT_MS = 64_000;
const MAX_AGE = 2;
const TS_BITS = 6;
const TS_WSCALE_NONE = 0xf;
const TS_SACK = 0x10;

export class SynCookies {
  private readonly tuple = Buffer.alloc(TUPLE4_LENGTH + 2);
  private readonly tuple6 = Buffer.alloc(TUPLE6_LENGTH + 2);
  private readonly prf: SipHash24;

  constructor(secret: Uint8Array) {
    this.prf = keyedHashOf(secret);
  }

  private h(label: number, count: number, localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number): number {
    const t = writeTuple(this.tuple, this.tuple6, localIp, localPort, remoteIp, remotePort);
    const end = t === this.tuple ? TUPLE4_LENGTH : TUPLE6_LENGTH;
    t[end] = label;
    t[end + 1] = count & 0xff;
    return this.prf.hash(t);
  }

  /** The ISN for a cookie SYN-ACK answering `peerIsn` on this tuple. */
  encode(nowMs: number, localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number, peerIsn: number, mssIndex: number): number {
    const count = Math.floor(nowMs / COUNT_MS) & 0xff;
    const h1 = this.h(2, 0, localIp, localPort, remoteIp, remotePort);
    const h2 = this.h(3, count, localIp, localPort, remoteIp, remotePort);
    return (h1 + peerIsn + count * 0x100_0000 + ((h2 + mssIndex) & 0xff_ffff)) >>> 0;
  }

  /** The MSS index a returning cookie carries, or -1 if it is not one of ours or too old. */
  decode(nowMs: number, localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number, peerIsn: number, cookie: number): number {
    const h1 = this.h(2, 0, localIp, localPort, remoteIp, remotePort);
    const v = (cookie - h1 - peerIsn) >>> 0;
    const now = Math.floor(nowMs / COUNT_MS) & 0xff;
    const age = (now - (v >>> 24)) & 0xff;
    if (age > MAX_AGE) return -1;
    const h2 = this.h(3, (now - age) & 0xff, localIp, localPort, remoteIp, remotePort);
    const idx = ((v & 0xff_ffff) - h2) & 0xff_ffff;
    return idx < COOKIE_MSS.length ? idx : -1;
  }
}

/** Index of the largest cookie MSS not above what the peer announced. */
export function mssIndexFor(peerMss: number): number {
  let i = COOKIE_MSS.length - 1;
  while (i > 0 && COOKIE_MSS[i]! > peerMss) i--;
  return i;
}

// ---- half-open connections of each listener, oldest first ---------------------

const halfOpen = new WeakMap<TcpListener, TcpConnection[]>();
/** When each listener last answered with a cookie: only then are cookie ACKs checked. */
const lastCookieAt = new WeakMap<TcpListener, number>();

/** A half-open connection joined the listener's queue. */
export function noteHalfOpen(l: TcpListener, c: TcpConnection): void {
  let list = halfOpen.get(l);
  if (list === undefined) halfOpen.set(l, (list = []));
  list.push(c);
  // Entries that completed or died are dropped lazily; keep the list near the queue's size.
  if (list.length > 2 * l.synBacklog + 16) halfOpen.set(l, list.filter((x) => !x.dead && x.st === SYN_RECEIVED && x.listener === l));
}

/**
 * Frees a slot in a full SYN queue: the oldest half-open connection whose
 * SYN-ACK went unanswered long enough to be sent again. False if none.
 */
export function evictHalfOpen(tcp: Tcp, l: TcpListener): boolean {
  const list = halfOpen.get(l);
  if (list === undefined) return false;
  let i = 0;
  let victim: TcpConnection | undefined;
  for (; i < list.length; i++) {
    const c = list[i]!;
    if (c.dead || c.st !== SYN_RECEIVED || c.listener !== l) continue;
    if (c.retries >= 1) {
      victim = c;
      break;
    }
  }
  // Everything before the victim that is no longer half-open goes too.
  const keep = list.slice(0, i).filter((c) => !c.dead && c.st === SYN_RECEIVED && c.listener === l);
  halfOpen.set(l, victim === undefined ? keep : keep.concat(list.slice(i + 1)));
  if (victim === undefined) return false;
  tcp.counters.halfOpenEvicted++;
  tcp.drop('half-open-evicted');
  tcp.destroy(victim);
  victim.binding?.unbind();
  return true;
}

/** Answers a SYN with a cookie SYN-ACK; nothing is kept. */
export function sendCookieSynAck(tcp: Tcp, l: TcpListener, seg: Segment): void {
  const cfg = tcp.config;
  const now = tcp.rt.clock.now();
  const lower = seg.lower;
  const family = familyOf(seg.src);
  const peerMss = seg.mss > 0 ? seg.mss : defaultMss(family);
  const rcvMss = mssForMtu(family, lower.pathMtu(seg.src));
  const idx = mssIndexFor(Math.min(peerMss, rcvMss));
  const iss = tcp.cookies.encode(now, seg.dst, seg.dstPort, seg.src, seg.srcPort, seg.seq, idx);
  const ws = cfg.windowScaling && seg.wscale >= 0;
  const sack = cfg.sack && seg.sackOk;
  const ts = cfg.timestamps && seg.hasTs;
  let rcvWscale = 0;
  if (ws) while (rcvWscale < 14 && cfg.receiveBufferSize > 0xffff << rcvWscale) rcvWscale++;
  const hl = 20 + synOptionListLength(ts, sack, ws);
  const pkt = lower.alloc(hl, 'tcp syn cookie');
  const b = pkt.bytes;
  const o = pkt.start;
  const win = Math.min(cfg.receiveBufferSize, 0xffff);
  writeHeader(b, o, seg.dstPort, seg.srcPort, iss, (seg.seq + 1) >>> 0, hl, TCP_SYN | TCP_ACK, win);
  let tsVal = -1;
  if (ts) {
    const offset = tcp.isn.timestampOffset(seg.dst, seg.dstPort, seg.src, seg.srcPort);
    const clock = (Math.floor(now) + offset) >>> 0;
    const opts = (ws ? seg.wscale > 14 ? 14 : seg.wscale : TS_WSCALE_NONE) | (sack ? TS_SACK : 0);
    tsVal = (((clock >>> TS_BITS) << TS_BITS) | opts) >>> 0;
    // Never ahead of the clock (the peer's PAWS and our RTT sample assume it).
    if (seqLt(clock, tsVal)) tsVal = (tsVal - (1 << TS_BITS)) >>> 0;
  }
  writeSynOptionList(b, o + 20, COOKIE_MSS[idx]!, sack, ws ? rcvWscale : -1, tsVal, seg.tsVal);
  setSegmentChecksum(b, o, hl, seg.dst, seg.src);
  lastCookieAt.set(l, now);
  tcp.counters.synCookiesSent++;
  tcp.counters.segmentsOut++;
  lower.send(seg.src, IP_PROTO_TCP, pkt);
}

/**
 * The ACK of a handshake reached the listener with no connection: if it
 * returns one of our cookies, the connection is rebuilt in SYN-RECEIVED (as if
 * it had been kept) and returned, for the ACK to complete it the usual way.
 * Undefined when it is not a valid cookie (or none was sent lately).
 */
export function connectionFromCookie(tcp: Tcp, l: TcpListener, seg: Segment): TcpConnection | undefined {
  const now = tcp.rt.clock.now();
  const last = lastCookieAt.get(l);
  if (last === undefined || now - last > (MAX_AGE + 1) * COUNT_MS) return undefined;
  const iss = (seg.ack - 1) >>> 0;
  const irs = (seg.seq - 1) >>> 0;
  const idx = tcp.cookies.decode(now, seg.dst, seg.dstPort, seg.src, seg.srcPort, irs, iss);
  if (idx < 0) {
    tcp.counters.synCookiesRejected++;
    return undefined;
  }
  const cfg = tcp.config;
  const c = tcp.newConnection(seg.dst, seg.dstPort, seg.src, seg.srcPort, true, seg.lower);
  c.noDelay = l.noDelay;
  c.iss = iss;
  c.sndUna = iss;
  c.sndNxt = c.sndMax = (iss + 1) >>> 0;
  c.bufSeq = (iss + 1) >>> 0;
  c.cc.recover = iss;
  c.irs = irs;
  c.rcvNxt = seg.seq;
  c.rcvAdv = (seg.seq + Math.min(cfg.receiveBufferSize, 0xffff)) >>> 0;
  // What the SYN asked for comes back in the echo of our TSval (none without timestamps).
  const tsBack = cfg.timestamps && seg.hasTs && seg.tsEcr !== 0;
  const opts = tsBack ? seg.tsEcr & ((1 << TS_BITS) - 1) : TS_WSCALE_NONE;
  const wscale = opts & 0xf;
  c.wsOk = cfg.windowScaling && tsBack && wscale !== TS_WSCALE_NONE;
  if (c.wsOk) c.sndWscale = wscale;
  else {
    c.sndWscale = 0;
    c.rcvWscale = 0;
  }
  c.sackOk = cfg.sack && tsBack && (opts & TS_SACK) !== 0;
  c.tsOk = tsBack;
  if (c.tsOk) c.tsRecent = seg.tsVal;
  const mss = Math.min(COOKIE_MSS[idx]!, c.rcvMss) - (c.tsOk ? 12 : 0);
  c.sndMss = mss < 8 ? 8 : mss;
  c.cc.setMss(c.sndMss, cfg.initialWindowSegments);
  c.sndWnd = seg.wnd;
  c.maxSndWnd = seg.wnd;
  c.sndWl1 = irs;
  c.sndWl2 = iss;
  c.st = SYN_RECEIVED;
  if (!tcp.register(c)) {
    tcp.destroy(c);
    return undefined;
  }
  c.listener = l;
  l.synCount++;
  tcp.counters.synCookiesAccepted++;
  return c;
}
