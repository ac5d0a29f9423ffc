/**
 * Segment output: what to send now (RFC 9293 3.8.6.2.1 sender silly-window
 * avoidance and Nagle, the congestion window of RFC 5681, the zero-window
 * persist of 3.8.6.1), and building each segment in place in a packet buffer
 * from the IP layer's pool: header and options written directly, payload
 * copied once from the send buffer (or written by the client through the
 * SegmentWriter), checksum, hand-off to IP.
 *
 * Output runs when TCP's outermost activation working on the connection
 * unwinds (`Tcp.requestOutput`, on the runtime's afterUnwind), never in the
 * middle of that work: all the data and the acknowledgement owed leave
 * together when the work is done. Timers, which are that outermost activation
 * themselves, call `output` directly.
 */
import { FAILED } from '../../core/index.js';
import { EMPTY_BYTES, type PacketBuffer } from '../../wire/buffer.js';
import { internetChecksum } from '../../wire/checksum.js';
import { IP_PROTO_TCP } from '../../wire/ipv4.js';
import { seqGt, seqLt } from '../../wire/seq.js';
import { transportPseudoSum } from '../net.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../wire/tcp.js';
import type { TcpConnection } from './connection.js';
import { setSegmentChecksum } from './lower.js';
import type { Segment } from './segment.js';
import { canSend, CLOSED, ESTABLISHED, LISTEN, SYN_RECEIVED, SYN_SENT, TIME_WAIT } from './states.js';
import type { Tcp } from './tcp.js';
import { PayloadWriter } from './writer.js';

const sackScratch: number[] = [];

/** TSval for a segment sent now: milliseconds plus the connection's offset. */
export function tsNow(tcp: Tcp, c: TcpConnection): number {
  return (Math.floor(tcp.rt.clock.now()) + c.tsOffset) >>> 0;
}

/**
 * Sends whatever the state, windows and buffers allow, then arms the delayed-
 * ACK or persist timer if something is left owed.
 */
export function output(tcp: Tcp, c: TcpConnection): void {
  if (c.dead) return;
  for (;;) {
    const r = outputOnce(tcp, c);
    if (c.dead) return;
    if (!r) break;
  }
  if (c.sentNewData) {
    c.sentNewData = false;
    if (c.rtoTimer.armed && !c.persisting) armRetransmitTimer(tcp, c, false);
  }
  armDelayedAck(tcp, c);
}

/** The delayed-ACK timer for data received and not yet acknowledged, if not armed for it already. */
export function armDelayedAck(tcp: Tcp, c: TcpConnection): void {
  if (c.ackOwed > 0 && !c.delackPending && c.st !== TIME_WAIT) {
    // Armed once per run of unacknowledged data. It is never cancelled: when
    // an ACK goes out first, the firing finds nothing owed (one clock entry
    // per connection instead of one per ACK).
    c.delackPending = true;
    c.delackTimer.arm(tcp.config.delayedAckMs);
  }
}

/**
 * Whether `output` could send or arm anything now besides the delayed-ACK
 * timer. False only in the bulk receiver's common case (ESTABLISHED, no ACK
 * due at once, nothing unsent, armed or to retransmit, no loss recovery):
 * outputOnce would then decide to send nothing (its idle-window restart, the
 * one thing it may change, is applied alike by the next run: the idle time
 * only grows while nothing is sent). A `true` is always safe.
 */
export function outputDue(c: TcpConnection): boolean {
  if (c.st !== ESTABLISHED || c.ackNow || c.armed || c.finQueued || c.forceRetransmit || c.lossProbe > 0) return true;
  if (c.sndNxt !== c.sndMax || c.cc.inRecovery || c.cc.inLoss) return true;
  return c.sendBuf.length > ((c.sndNxt - c.bufSeq) | 0);
}

/** One decision: returns true if a segment went out (and another may follow). */
function outputOnce(tcp: Tcp, c: TcpConnection): boolean {
  const st = c.st;
  if (st === SYN_SENT || st === SYN_RECEIVED) {
    if (c.sndNxt === c.iss) sendSyn(tcp, c);
    else if (c.ackNow && st === SYN_RECEIVED) sendSegment(tcp, c, TCP_ACK, c.sndMax, 0, 0);
    return false;
  }
  if (st === TIME_WAIT || st === CLOSED || st === LISTEN) {
    if (c.ackNow && st === TIME_WAIT) sendSegment(tcp, c, TCP_ACK, c.sndMax, 0, 0);
    return false;
  }
  const bufLen = c.sendBuf.length;
  const off = (c.sndNxt - c.bufSeq) | 0;
  const mss = c.sndMss;
  const flight = (c.sndNxt - c.sndUna) | 0;
  if (flight === 0 && c.sndMax === c.sndUna && c.lastSendAt > 0) {
    const idle = tcp.rt.clock.now() - c.lastSendAt;
    if (idle > c.rtt.rto) c.cc.onIdle(c.rtt.rto, idle, tcp.config.initialWindowSegments);
  }
  const cc = c.cc;
  const sb = c.sacked;
  // What cwnd is measured against: with SACK information RFC 6675's pipe
  // (SACKed and lost bytes have left the network, retransmitted ones are back
  // in it), which also gives limited transmit; otherwise the flight.
  const scored = c.sackOk && sb.active(c.sndUna);
  let cwndRoom: number;
  if (scored) {
    cwndRoom = cc.cwnd - sb.pipe(c.sndUna, c.sndMax, mss);
  } else {
    let cwnd = cc.cwnd;
    // Limited transmit (RFC 3042): each of the first two duplicate ACKs lets
    // one new segment out, cwnd itself unchanged.
    if (cc.dupAcks > 0 && !cc.inRecovery && c.sndNxt === c.sndMax) cwnd += (cc.dupAcks < 2 ? cc.dupAcks : 2) * mss;
    cwndRoom = cwnd - flight;
  }
  // A loss probe may exceed cwnd (RFC 8985 7.3).
  if (c.lossProbe > 0 && cwndRoom < mss) cwndRoom = mss;
  const repairing = scored && (cc.inRecovery || cc.inLoss);
  if (repairing && (c.forceRetransmit || cwndRoom > 0)) {
    // NextSeg rule 1: a lost segment before anything new.
    c.forceRetransmit = false;
    const h = sb.nextLost(c.sndUna, c.sndMax, mss);
    if (h !== null && retransmitHole(tcp, c, h.seq, h.room)) return true;
  }
  c.forceRetransmit = false;
  let usable = c.sndWnd - flight;
  if (cwndRoom < usable) usable = cwndRoom;
  if (usable < 0) usable = 0;
  let unsent = bufLen - off;
  if (unsent < 0) unsent = 0;

  if (c.armed && !c.finQueued && canSend(st) && c.binding !== null) {
    const room = usable < mss ? usable : mss;
    if (room > unsent && (c.noDelay || flight === 0 || room >= mss)) {
      const r = armedSegment(tcp, c, off, unsent, room);
      if (r !== 0) return r > 0;
      // Nothing written: go on as if unarmed (an ACK may still be owed).
      unsent = c.sendBuf.length - off;
      if (unsent < 0) unsent = 0;
    }
  }

  const retrans = seqLt(c.sndNxt, c.sndMax);
  let len = unsent < mss ? unsent : mss;
  if (len > usable) {
    // After a timeout the first segment goes again even into a window that
    // has since closed: it was sent inside an offered window, and it is
    // what probes the peer (RFC 9293 3.8.6.1).
    if (retrans && flight === 0 && !c.persisting) {
      const sent = (c.sndMax - c.sndNxt) | 0;
      if (len > sent) len = sent;
    } else {
      len = usable;
    }
  }
  const curLen = c.sendBuf.length;
  const fin = c.finQueued && off <= curLen && off + len === curLen;
  let go = false;
  if (len > 0) {
    if (len === mss || retrans) go = true;
    else if (off + len === curLen && (c.noDelay || flight === 0 || c.finQueued)) go = true;
    else if (c.maxSndWnd > 0 && len >= c.maxSndWnd >>> 1) go = true;
    else if (c.forceSend || c.lossProbe > 0) go = true;
  } else if (fin) {
    go = true;
  }
  if (go) {
    const flags = TCP_ACK | (fin ? TCP_FIN : 0) | (len > 0 && off + len === curLen ? TCP_PSH : 0);
    const seq = c.sndNxt;
    sendSegment(tcp, c, flags, seq, off, len);
    afterSend(tcp, c, seq, len, fin);
    return true;
  }
  if (repairing && cc.inRecovery && cwndRoom > 0) {
    // NextSeg rule 3: nothing lost is left and nothing new can go, so
    // resend a hole the SACKs do not yet call lost (it may be).
    const h = sb.nextUnsacked(c.sndUna, c.sndMax);
    if (h !== null && retransmitHole(tcp, c, h.seq, h.room)) return true;
  }
  if ((unsent > 0 || c.armed) && flight === 0 && c.sndMax === c.sndUna && !c.rtoTimer.armed) {
    // Data waits and nothing is in flight to bring an ACK: a zero window to
    // probe (RFC 9293 3.8.6.1), or a window too small to use whose later
    // update may be lost (the override timeout of 3.8.6.2.1).
    c.persisting = true;
    c.rtoTimer.arm(persistDelay(tcp, c));
  }
  if (c.ackNow) sendSegment(tcp, c, TCP_ACK, c.sndMax, 0, 0);
  return false;
}

/**
 * Sends `seq` again, at most one segment and at most `room` bytes (the hole
 * ends there), with the FIN if the hole covers it, and records it on the
 * scoreboard. Beyond the peer's window only the first unacknowledged segment
 * goes, as Linux does: it is what probes a window closed since. Returns whether
 * a segment went out.
 */
function retransmitHole(tcp: Tcp, c: TcpConnection, seq: number, room: number): boolean {
  if (seq !== c.sndUna && !seqLt(seq, (c.sndUna + c.sndWnd) >>> 0)) return false;
  const off = (seq - c.bufSeq) | 0;
  const bufLen = c.sendBuf.length;
  if (off < 0 || off > bufLen) return false;
  let len = bufLen - off;
  if (len > c.sndMss) len = c.sndMss;
  if (len > room) len = room;
  const fin = c.finQueued && off + len === bufLen && room > len && seqGt(c.sndMax, (c.bufSeq + bufLen) >>> 0);
  if (len === 0 && !fin) return false;
  sendSegment(tcp, c, TCP_ACK | (fin ? TCP_FIN : 0), seq, off, len);
  c.sacked.retransmitted(seq, (seq + len + (fin ? 1 : 0)) >>> 0, c.sndMax);
  c.stats.retransmissions++;
  tcp.counters.retransmissions++;
  c.rttTiming = false;
  c.cc.prrSent(len);
  c.lossProbe = 0;
  if (!c.rtoTimer.armed || c.persisting) {
    c.persisting = false;
    c.rtoTimer.cancel();
    armRetransmitTimer(tcp, c, true);
  }
  return true;
}

/**
 * Lower bound of the probe timeout, ms (Linux's TCP_TIMEOUT_MIN): on a LAN two
 * round trips are less than the timers resolve. An early probe costs little:
 * it carries new data.
 */
const MIN_PTO_MS = 2;
/** RFC 8985 WCDelAckT: the longest a receiver may hold the ACK of a lone segment. */
const MAX_DELAYED_ACK_MS = 200;

/**
 * (Re)starts the retransmission timer for outstanding data: as the tail loss
 * probe timer (RFC 8985 7.2) when a probe could help, else as the RTO. Only
 * the ACKs for the last segments of a flight can stop the sender: when they
 * are lost (or the segments are), nothing comes back and the sender would wait
 * out the RTO, hundreds of times a round trip on a LAN. The probe, sent after
 * two round trips of silence, draws an ACK with SACK information instead, and
 * recovery goes on from that. Probes carry new data only (a probe that resends
 * the last segment, RFC 8985's other kind, would need D-SACK to tell whether it
 * repaired a loss), so nothing is sent twice because an ACK was late.
 */
export function armRetransmitTimer(tcp: Tcp, c: TcpConnection, restart: boolean): void {
  const t = c.rtoTimer;
  const pto = probeTimeout(c);
  if (pto > 0) {
    // Never later than the RTO already running (RFC 8985 7.2).
    if (!restart && t.armed && !c.probing && t.due - tcp.rt.clock.now() <= pto) return;
    c.probing = true;
    c.ptoMs = pto;
    t.arm(pto);
  } else if (restart || !t.armed) {
    c.probing = false;
    c.ptoMs = 0;
    t.arm(c.rtt.rto);
  }
}

function probeTimeout(c: TcpConnection): number {
  if (!c.sackOk || c.probeOut || c.cc.inLoss || c.rtt.samples === 0 || c.rtt.backoff > 0 || !canSendData(c)) return 0;
  // A probe needs new data to carry.
  if (c.sendBuf.length - ((c.sndNxt - c.bufSeq) | 0) <= 0) return 0;
  let pto = 2 * c.rtt.srtt;
  // A lone segment's ACK may be delayed on purpose.
  if (((c.sndMax - c.sndUna) | 0) <= c.sndMss) pto += MAX_DELAYED_ACK_MS;
  if (pto < MIN_PTO_MS) pto = MIN_PTO_MS;
  return pto < c.rtt.rto ? pto : 0;
}

/** Sequence-space bookkeeping after data (and maybe a FIN) left at `seq`. */
function afterSend(tcp: Tcp, c: TcpConnection, seq: number, len: number, fin: boolean): void {
  const end = (seq + len + (fin ? 1 : 0)) >>> 0;
  const retrans = seqLt(seq, c.sndMax);
  if (retrans) {
    c.stats.retransmissions++;
    tcp.counters.retransmissions++;
    // Karn: an ACK may now be for either copy.
    c.rttTiming = false;
  }
  c.cc.prrSent(len);
  const fresh = (end - c.sndMax) | 0;
  if (fresh > 0 && len > 0) {
    const freshData = fresh - (fin ? 1 : 0);
    if (freshData > 0) {
      c.stats.bytesOut += freshData;
      tcp.counters.bytesOut += freshData;
    }
  }
  if (!retrans && !c.rttTiming && !c.tsOk) {
    c.rttTiming = true;
    c.rttSeq = seq;
    c.rttTime = tcp.rt.clock.now();
  }
  c.sndNxt = end;
  if (seqGt(end, c.sndMax)) c.sndMax = end;
  if (c.lossProbe > 0) c.lossProbe--;
  if (!c.rtoTimer.armed || c.persisting) {
    c.persisting = false;
    c.rtoTimer.cancel();
    armRetransmitTimer(tcp, c, true);
  } else if (fresh > 0 && c.sackOk) {
    // New data (re)starts the probe timer (RFC 8985 7.2), never the RTO:
    // once, when output is done.
    c.sentNewData = true;
  }
  if (len > 0) c.drainOnEmpty = true;
}

/**
 * onSendReady: the client writes into the payload area of the segment being
 * built, after any unsent buffered bytes. Returns 1 (sent), 0 (nothing
 * written), -1 (the connection went away).
 */
function armedSegment(tcp: Tcp, c: TcpConnection, off: number, unsent: number, room: number): number {
  c.armed = false;
  if (c.binding!.owner.dispatchPolicy === 'queued') {
    // The handler runs later, when this segment is long gone: lend it a
    // writer that queues through send(), within the room there is now.
    const r = tcp.upSendReady(c, new PayloadWriter(c, EMPTY_BYTES, 0, room - unsent));
    return r === FAILED || c.dead ? -1 : 0;
  }
  const nSack = sackCount(c);
  const hl = 20 + (c.tsOk ? 12 : 0) + (nSack > 0 ? 4 + 8 * nSack : 0);
  const pkt = c.lower.alloc(hl + room, 'tcp segment');
  const base = pkt.start + hl;
  if (unsent > 0) c.sendBuf.copyOut(off, pkt.bytes, base, unsent);
  const w = new PayloadWriter(c, pkt.bytes, base + unsent, room - unsent);
  const seqBefore = c.sndNxt;
  const bufSeqBefore = c.bufSeq;
  c.inSendReady = true;
  const r = tcp.upSendReady(c, w);
  c.inSendReady = false;
  const n = w.retire();
  if (r === FAILED || c.dead) {
    pkt.release();
    return -1;
  }
  if (n > 0) c.sendBuf.append(pkt.bytes, base + unsent, n);
  const stash = c.stash;
  if (stash !== null) {
    c.stash = null;
    for (const s of stash) c.sendBuf.append(s, 0, s.length);
  }
  const len = unsent + n;
  if (len === 0 || c.sndNxt !== seqBefore || c.bufSeq !== bufSeqBefore || !canSendData(c)) {
    // Nothing to send, or the sequence space moved under us: the bytes are in
    // the send buffer and the next decision sends them.
    pkt.release();
    return len === 0 ? 0 : 1;
  }
  pkt.truncate(hl + len);
  const curLen = c.sendBuf.length;
  const fin = c.finQueued && off + len === curLen;
  const flags = TCP_ACK | (fin ? TCP_FIN : 0) | (off + len === curLen ? TCP_PSH : 0);
  const seq = c.sndNxt;
  finishAndSend(tcp, c, pkt, hl, flags, seq, len, nSack);
  afterSend(tcp, c, seq, len, fin);
  return 1;
}

function canSendData(c: TcpConnection): boolean {
  return c.st !== CLOSED && c.st !== TIME_WAIT && c.st !== SYN_SENT && c.st !== SYN_RECEIVED;
}

function persistDelay(tcp: Tcp, c: TcpConnection): number {
  const d = c.rtt.rto * 2 ** c.persistShift;
  return d > tcp.config.maxRtoMs ? tcp.config.maxRtoMs : d;
}

/** The persist timer fired: send one byte beyond the closed window to learn when it opens. */
export function sendWindowProbe(tcp: Tcp, c: TcpConnection): void {
  const off = (c.sndNxt - c.bufSeq) | 0;
  c.stats.zeroWindowProbes++;
  tcp.counters.zeroWindowProbes++;
  if (off >= 0 && off < c.sendBuf.length) {
    // The byte is sent but snd.nxt stays: if the window is still closed the
    // byte is simply offered again by the next probe.
    sendSegment(tcp, c, TCP_ACK, c.sndNxt, off, 1);
    const end = (c.sndNxt + 1) >>> 0;
    if (seqGt(end, c.sndMax)) c.sndMax = end;
  } else {
    // Only an armed writer waits: no byte to offer, so probe with an old
    // sequence number, which the peer answers with its current window.
    sendSegment(tcp, c, TCP_ACK, (c.sndUna - 1) >>> 0, 0, 0);
  }
  if (c.persistShift < 30) c.persistShift++;
  c.persisting = true;
  c.rtoTimer.cancel();
  c.rtoTimer.arm(persistDelay(tcp, c));
}

/** NewReno fast retransmit / partial ACK: the first unacknowledged segment, again. */
export function retransmitFirst(tcp: Tcp, c: TcpConnection): void {
  const off = (c.sndUna - c.bufSeq) | 0;
  if (off < 0) return;
  const bufLen = c.sendBuf.length;
  let len = bufLen - off;
  if (len > c.sndMss) len = c.sndMss;
  if (len < 0) len = 0;
  const finSeq = (c.bufSeq + bufLen) >>> 0;
  const fin = c.finQueued && off + len === bufLen && seqGt(c.sndMax, finSeq);
  if (len === 0 && !fin) return;
  sendSegment(tcp, c, TCP_ACK | (fin ? TCP_FIN : 0), c.sndUna, off, len);
  c.rttTiming = false;
  c.stats.retransmissions++;
  tcp.counters.retransmissions++;
}

/** SYN (active) or SYN-ACK (passive / simultaneous open), with the options we offer. */
function sendSyn(tcp: Tcp, c: TcpConnection): void {
  const flags = c.st === SYN_RECEIVED ? TCP_SYN | TCP_ACK : TCP_SYN;
  const retrans = c.sndMax !== c.iss;
  sendSegment(tcp, c, flags, c.iss, 0, 0);
  if (retrans) {
    c.stats.retransmissions++;
    tcp.counters.retransmissions++;
    c.rttTiming = false;
  } else {
    c.rttTiming = true;
    c.rttSeq = c.iss;
    c.rttTime = tcp.rt.clock.now();
  }
  c.sndNxt = (c.iss + 1) >>> 0;
  if (seqGt(c.sndNxt, c.sndMax)) c.sndMax = c.sndNxt;
  if (!c.rtoTimer.armed) c.rtoTimer.arm(c.rtt.rto);
}

/** RFC 1122 4.2.3.6: a keepalive probe, an ACK for snd.una - 1 that the peer must answer. */
export function sendKeepaliveProbe(tcp: Tcp, c: TcpConnection): void {
  sendSegment(tcp, c, TCP_ACK, (c.sndUna - 1) >>> 0, 0, 0);
}

/** RFC 5961: an ACK telling a possibly blind sender where we really are. */
export function sendChallengeAck(tcp: Tcp, c: TcpConnection): void {
  sendSegment(tcp, c, TCP_ACK, c.sndMax, 0, 0);
}

/** Abort: RST at snd.nxt (with the ACK field, as Linux sends it). */
export function sendRstForConn(tcp: Tcp, c: TcpConnection): void {
  c.stats.resetsOut++;
  sendSegment(tcp, c, c.st === SYN_RECEIVED ? TCP_RST : TCP_RST | TCP_ACK, c.sndMax, 0, 0);
}

/** A RST answering `seg`, which belongs to no connection (RFC 9293 3.10.7.1). */
export function sendReset(tcp: Tcp, seg: Segment): void {
  const pkt = seg.lower.alloc(20, 'tcp rst');
  const segLen = seg.dataLen + (seg.flags & TCP_SYN ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0);
  let seq = 0;
  let ack = 0;
  let flags = TCP_RST;
  if (seg.flags & TCP_ACK) {
    seq = seg.ack;
  } else {
    ack = (seg.seq + segLen) >>> 0;
    flags |= TCP_ACK;
  }
  writeHeader(pkt.bytes, pkt.start, seg.dstPort, seg.srcPort, seq, ack, 20, flags, 0);
  setSegmentChecksum(pkt.bytes, pkt.start, 20, seg.dst, seg.src);
  tcp.counters.resetsOut++;
  tcp.counters.segmentsOut++;
  seg.lower.send(seg.src, IP_PROTO_TCP, pkt);
}

/**
 * Whether the window we would advertise now has grown enough to tell the peer
 * at once (RFC 9293 3.8.6.2.2 and RFC 1122 4.2.3.3): by two segments or half
 * the buffer, or from (nearly) closed.
 */
export function windowUpdateMatters(c: TcpConnection): boolean {
  let free = c.rcvBufSize - c.heldBytes;
  if (free < 0) free = 0;
  // The window field cannot say more than 65535 << shift: growth beyond it changes nothing on the wire.
  const most = 0xffff * (1 << c.rcvWscale);
  if (free > most) free = most;
  let cur = (c.rcvAdv - c.rcvNxt) | 0;
  if (cur < 0) cur = 0;
  const grow = free - cur;
  if (grow <= 0) return false;
  return grow >= 2 * c.rcvMss || grow >= c.rcvBufSize >>> 1 || (cur < c.rcvMss && grow >= c.rcvMss);
}

/** The window field to send, and the right edge it promises (never moved left). */
function windowField(c: TcpConnection, syn: boolean): number {
  const cap = c.rcvBufSize;
  let free = cap - c.heldBytes;
  if (free < 0) free = 0;
  let cur = (c.rcvAdv - c.rcvNxt) | 0;
  if (cur < 0) cur = 0;
  let win: number;
  if (free <= cur) win = cur;
  // Receiver SWS avoidance: move the right edge only by a useful amount.
  else if (free - cur < Math.min(cap >>> 1, c.rcvMss)) win = cur;
  else win = free;
  if (syn) {
    const f = win > 0xffff ? 0xffff : win;
    const right = (c.rcvNxt + f) >>> 0;
    if (seqGt(right, c.rcvAdv)) c.rcvAdv = right;
    return f;
  }
  const shift = c.rcvWscale;
  let field = win >>> shift;
  if (field << shift < cur) field++;
  if (field > 0xffff) field = 0xffff;
  const right = (c.rcvNxt + field * (1 << shift)) >>> 0;
  if (seqGt(right, c.rcvAdv)) c.rcvAdv = right;
  return field;
}

function sackCount(c: TcpConnection): number {
  const q = c.ooo;
  if (!c.sackOk || q === null || q.empty) return 0;
  return q.sackBlocks(c.tsOk ? 3 : 4, sackScratch);
}

function synOptionsLength(tcp: Tcp, c: TcpConnection): number {
  const active = c.st === SYN_SENT;
  const cfg = tcp.config;
  const ts = active ? cfg.timestamps : c.tsOk;
  const sack = active ? cfg.sack : c.sackOk;
  const ws = active ? cfg.windowScaling : c.wsOk;
  return synOptionListLength(ts, sack, ws);
}

/** Bytes of the options a SYN or SYN-ACK carries (see writeSynOptionList). */
export function synOptionListLength(ts: boolean, sack: boolean, ws: boolean): number {
  return 4 + (ts ? 12 : sack ? 4 : 0) + (ws ? 4 : 0);
}

/**
 * Builds and sends a segment whose payload is `len` bytes of the send buffer at
 * `off`. Segments without data or SYN/FIN carry snd.max, not a snd.nxt pulled
 * back for retransmission (as BSD does): otherwise, after both ends went back,
 * each would find the other's ACKs left of its window and ignore them.
 */
function sendSegment(tcp: Tcp, c: TcpConnection, flags: number, seq: number, off: number, len: number): void {
  const syn = (flags & TCP_SYN) !== 0;
  const nSack = syn || !(flags & TCP_ACK) ? 0 : sackCount(c);
  const hl = 20 + (syn ? synOptionsLength(tcp, c) : (c.tsOk ? 12 : 0) + (nSack > 0 ? 4 + 8 * nSack : 0));
  const pkt = c.lower.alloc(hl + len, 'tcp segment');
  if (len > 0) c.sendBuf.copyOut(off, pkt.bytes, pkt.start + hl, len);
  finishAndSend(tcp, c, pkt, hl, flags, seq, len, nSack);
}

/** Header, options and checksum in front of a filled payload; then to IP. */
function finishAndSend(
  tcp: Tcp,
  c: TcpConnection,
  pkt: PacketBuffer,
  hl: number,
  flags: number,
  seq: number,
  len: number,
  nSack: number,
): void {
  const bytes = pkt.bytes;
  const o = pkt.start;
  const syn = (flags & TCP_SYN) !== 0;
  const hasAck = (flags & TCP_ACK) !== 0;
  const win = flags & TCP_RST ? 0 : windowField(c, syn);
  writeHeader(bytes, o, c.localPort, c.remotePort, seq, hasAck ? c.rcvNxt : 0, hl, flags, win);
  let p = o + 20;
  if (syn) {
    p = writeSynOptions(tcp, c, bytes, p);
  } else if (hl > 20) {
    if (c.tsOk) {
      bytes[p] = 1;
      bytes[p + 1] = 1;
      bytes[p + 2] = 8;
      bytes[p + 3] = 10;
      writeU32(bytes, p + 4, tsNow(tcp, c));
      writeU32(bytes, p + 8, c.tsRecent);
      p += 12;
    }
    if (nSack > 0) {
      bytes[p] = 1;
      bytes[p + 1] = 1;
      bytes[p + 2] = 5;
      bytes[p + 3] = 2 + 8 * nSack;
      p += 4;
      for (let i = 0; i < 2 * nSack; i++, p += 4) writeU32(bytes, p, sackScratch[i]!);
    }
  }
  // The checksum field is zero (writeHeader): one pass over the segment.
  const sum = internetChecksum(bytes, o, hl + len, transportPseudoSum(c.localIp, c.remoteIp, IP_PROTO_TCP, hl + len));
  bytes[o + 16] = sum >>> 8;
  bytes[o + 17] = sum;
  // Bookkeeping before the hand-off.
  const st = c.stats;
  const mc = tcp.counters;
  st.segmentsOut++;
  mc.segmentsOut++;
  if (hasAck) {
    c.lastAckSent = c.rcvNxt;
    if (len > 0) {
      st.dataSegmentsOut++;
      mc.dataSegmentsOut++;
      if (c.ackOwed > 0) {
        st.piggybackedAcks++;
        mc.piggybackedAcks++;
      }
    } else if (!(flags & (TCP_SYN | TCP_FIN | TCP_RST))) {
      st.pureAcksOut++;
      mc.pureAcksOut++;
    }
    c.ackOwed = 0;
    c.ackNow = false;
    c.delackPending = false;
  } else if (len > 0) {
    st.dataSegmentsOut++;
    mc.dataSegmentsOut++;
  }
  if (flags & TCP_RST) mc.resetsOut++;
  c.lastSendAt = tcp.rt.clock.now();
  c.lower.send(c.remoteIp, IP_PROTO_TCP, pkt);
}

function writeSynOptions(tcp: Tcp, c: TcpConnection, b: Uint8Array, p: number): number {
  const active = c.st === SYN_SENT;
  const cfg = tcp.config;
  const ts = active ? cfg.timestamps : c.tsOk;
  const sack = active ? cfg.sack : c.sackOk;
  const ws = active ? cfg.windowScaling : c.wsOk;
  return writeSynOptionList(b, p, c.rcvMss, sack, ws ? c.rcvWscale : -1, ts ? tsNow(tcp, c) : -1, active ? 0 : c.tsRecent);
}

/**
 * The options of a SYN or SYN-ACK at `b[p]`, in the order and padding BSD and
 * Linux use: MSS; SACK-permitted folded into the timestamps' NOPs (or alone);
 * window scale. `wscale` -1: none; `tsVal` -1: no timestamps. The one writer
 * of handshake options: the connection's SYNs and the stateless SYN-cookie
 * SYN-ACK (syn-cookies.ts). Returns the offset after them.
 */
export function writeSynOptionList(b: Uint8Array, p: number, mss: number, sack: boolean, wscale: number, tsVal: number, tsEcr: number): number {
  b[p] = 2;
  b[p + 1] = 4;
  b[p + 2] = mss >>> 8;
  b[p + 3] = mss;
  p += 4;
  if (tsVal >= 0) {
    if (sack) {
      b[p] = 4;
      b[p + 1] = 2;
    } else {
      b[p] = 1;
      b[p + 1] = 1;
    }
    b[p + 2] = 8;
    b[p + 3] = 10;
    writeU32(b, p + 4, tsVal);
    writeU32(b, p + 8, tsEcr);
    p += 12;
  } else if (sack) {
    b[p] = 1;
    b[p + 1] = 1;
    b[p + 2] = 4;
    b[p + 3] = 2;
    p += 4;
  }
  if (wscale >= 0) {
    b[p] = 1;
    b[p + 1] = 3;
    b[p + 2] = 3;
    b[p + 3] = wscale;
    p += 4;
  }
  return p;
}

/** The fixed TCP header at `b[o]`, checksum and urgent pointer zero. */
export function writeHeader(
  b: Uint8Array,
  o: number,
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  hl: number,
  flags: number,
  win: number,
): void {
  b[o] = srcPort >>> 8;
  b[o + 1] = srcPort;
  b[o + 2] = dstPort >>> 8;
  b[o + 3] = dstPort;
  writeU32(b, o + 4, seq);
  writeU32(b, o + 8, ack);
  b[o + 12] = (hl >>> 2) << 4;
  b[o + 13] = flags;
  b[o + 14] = win >>> 8;
  b[o + 15] = win;
  b[o + 16] = 0;
  b[o + 17] = 0;
  b[o + 18] = 0;
  b[o + 19] = 0;
}

function writeU32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = v >>> 16;
  b[i + 2] = v >>> 8;
  b[i + 3] = v;
}
