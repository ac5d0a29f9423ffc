/**
 * Segment arrival (RFC 9293 3.10.7), with the RFC 5961 checks against blind
 * injection, PAWS (RFC 7323 5), and the ACK side of RFC 6298 / 5681 / 6582.
 *
 * Order of work on one segment: every check and every update of the control
 * block for a step is finished before that step's upcall (onConnect after the
 * handshake-completing ACK, onDrain after the ACK step, onData after the
 * sequence space moved, onClose after the FIN). After each upcall the code
 * checks whether the connection is still alive: the handler may have failed
 * (its task is then expended and cleanup already reset the connection) or
 * closed it. Output runs once, when TCP's activation on the connection unwinds
 * after the whole segment is done, so an answer the handler queued rides on
 * the ACK.
 */
import { seqGeq, seqGt, seqLeq, seqLt } from '../../wire/seq.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../wire/tcp.js';
import type { TcpConnection } from './connection.js';
import type { TcpListener } from './listener.js';
import { defaultMss } from './lower.js';
import { armDelayedAck, armRetransmitTimer, outputDue, retransmitFirst, sendChallengeAck, sendReset, tsNow } from './output.js';
import { ReassemblyQueue } from './reassembly.js';
import { connectionFromCookie, evictHalfOpen, noteHalfOpen, sendCookieSynAck } from './syn-cookies.js';
import { DUP_THRESH } from './scoreboard.js';
import type { Segment } from './segment.js';
import {
  CLOSE_WAIT,
  CLOSING,
  ESTABLISHED,
  FIN_WAIT_1,
  FIN_WAIT_2,
  LAST_ACK,
  SYN_RECEIVED,
  SYN_SENT,
  TIME_WAIT,
  acceptsText,
  synchronized,
} from './states.js';
import type { Tcp } from './tcp.js';

/** A segment for a port nobody listens on and no connection uses (RFC 9293 3.10.7.1). */
export function noConnection(tcp: Tcp, seg: Segment): void {
  if (seg.flags & TCP_RST) {
    tcp.drop('rst-no-connection');
    return;
  }
  tcp.drop('no-connection');
  sendReset(tcp, seg);
}

/** A segment for a listening port with no connection yet (RFC 9293 3.10.7.2). */
export function listenerReceives(tcp: Tcp, l: TcpListener, seg: Segment): void {
  const flags = seg.flags;
  if (flags & TCP_RST) {
    tcp.drop('rst-to-listener');
    return;
  }
  if (flags & TCP_ACK) {
    // The end of a handshake answered with a SYN cookie? (syn-cookies.ts)
    if (!(flags & TCP_SYN) && tcp.config.synCookies && l.acceptCount >= l.backlog) {
      // Maybe a cookie, but no room to accept it: the peer's next segment may find some.
      l.overflows++;
      tcp.drop('accept-queue-full');
      return;
    }
    const cookie = !(flags & TCP_SYN) && tcp.config.synCookies ? connectionFromCookie(tcp, l, seg) : undefined;
    if (cookie !== undefined) {
      tcp.claimConn(cookie);
      noteHalfOpen(l, cookie);
      segmentArrives(tcp, cookie, seg);
      // Not completed by this ACK after all: it lives on as any half-open connection.
      if (!cookie.dead && cookie.st === SYN_RECEIVED && !cookie.rtoTimer.armed) cookie.rtoTimer.arm(cookie.rtt.rto);
      return;
    }
    tcp.drop('ack-to-listener');
    sendReset(tcp, seg);
    return;
  }
  if (!(flags & TCP_SYN)) {
    tcp.drop('no-syn');
    return;
  }
  if (l.acceptCount >= l.backlog) {
    l.overflows++;
    tcp.drop('accept-queue-full');
    return;
  }
  if (l.synCount >= l.synBacklog) {
    l.overflows++;
    if (!tcp.config.synCookies) {
      tcp.drop('syn-queue-full');
      return;
    }
    if (!evictHalfOpen(tcp, l)) {
      tcp.drop('syn-queue-full'); // not queued: answered with a cookie instead
      sendCookieSynAck(tcp, l, seg);
      return;
    }
  }
  const c = tcp.newConnection(seg.dst, seg.dstPort, seg.src, seg.srcPort, true, seg.lower);
  c.noDelay = l.noDelay;
  c.listener = l;
  takePeerSyn(tcp, c, seg);
  c.sndWl2 = c.iss;
  c.st = SYN_RECEIVED;
  if (!tcp.register(c)) return;
  l.synCount++;
  if (tcp.config.synCookies) noteHalfOpen(l, c);
  tcp.claimConn(c);
  // Data carried by the SYN is not acknowledged; the peer will send it again.
  tcp.requestOutput(c);
}

/**
 * What every SYN from the peer tells us, in both opens: its ISN, its options,
 * and its window (never scaled in a SYN, RFC 7323 2.2).
 */
function takePeerSyn(tcp: Tcp, c: TcpConnection, seg: Segment): void {
  c.irs = seg.seq;
  c.rcvNxt = (seg.seq + 1) >>> 0;
  c.rcvAdv = c.rcvNxt;
  synOptions(tcp, c, seg);
  c.sndWnd = seg.wnd;
  c.maxSndWnd = seg.wnd;
  c.sndWl1 = seg.seq;
}

/** Options of a SYN or SYN-ACK: what both sides agreed to. */
function synOptions(tcp: Tcp, c: TcpConnection, seg: Segment): void {
  const cfg = tcp.config;
  const peerMss = seg.mss > 0 ? seg.mss : defaultMss(c.family);
  if (cfg.windowScaling && seg.wscale >= 0) {
    c.sndWscale = seg.wscale > 14 ? 14 : seg.wscale;
  } else {
    // Scaling is on only if both sides sent the option.
    c.sndWscale = 0;
    c.rcvWscale = 0;
  }
  c.tsOk = cfg.timestamps && seg.hasTs;
  if (c.tsOk) c.tsRecent = seg.tsVal;
  c.sackOk = cfg.sack && seg.sackOk;
  c.wsOk = cfg.windowScaling && seg.wscale >= 0;
  const mss = Math.min(peerMss, c.rcvMss) - (c.tsOk ? 12 : 0);
  c.sndMss = mss < 8 ? 8 : mss;
  c.cc.setMss(c.sndMss, cfg.initialWindowSegments);
}

/**
 * Processes a segment for an existing connection (the caller's activation has
 * claimed it), then asks for output: it runs once, when that activation
 * unwinds, together with whatever the upcalls asked for.
 */
export function segmentArrives(tcp: Tcp, c: TcpConnection, seg: Segment): void {
  c.lastHeardAt = tcp.rt.clock.now();
  if (c.st === SYN_SENT) synSent(tcp, c, seg);
  else otherStates(tcp, c, seg);
  if (c.dead) return;
  // A bulk receiver's every other segment owes only the delayed ACK: its
  // timer is armed now, as output would arm it when this activation unwinds
  // (same task, same time), and output is not asked for. A handler that
  // queued data in onData asked for output itself.
  if (outputDue(c)) tcp.requestOutput(c);
  else armDelayedAck(tcp, c);
}

/** RFC 9293 3.10.7.3. */
function synSent(tcp: Tcp, c: TcpConnection, seg: Segment): void {
  const flags = seg.flags;
  const hasAck = (flags & TCP_ACK) !== 0;
  if (hasAck && (seqLeq(seg.ack, c.iss) || seqGt(seg.ack, c.sndMax))) {
    if (!(flags & TCP_RST)) sendReset(tcp, seg);
    tcp.drop('bad-ack-syn-sent');
    return;
  }
  if (flags & TCP_RST) {
    if (hasAck) {
      countRstIn(tcp, c);
      tcp.fail(c, 'ECONNREFUSED', 'connection refused', false);
    } else {
      tcp.drop('rst-without-ack');
    }
    return;
  }
  if (!(flags & TCP_SYN)) {
    tcp.drop('no-syn');
    return;
  }
  takePeerSyn(tcp, c, seg);
  c.sndWl2 = seg.ack;
  if (hasAck) {
    // Our SYN is acknowledged: ESTABLISHED.
    rttSampleOnAck(tcp, c, seg);
    c.rtt.handshakeDone();
    c.sndUna = seg.ack;
    if (seqLt(c.sndNxt, c.sndUna)) c.sndNxt = c.sndUna;
    c.retries = 0;
    c.rtoTimer.cancel();
    c.st = ESTABLISHED;
    c.ackNow = true;
    if (c.finQueued) c.st = FIN_WAIT_1;
    tcp.upConnect(c);
    return;
  }
  // Simultaneous open (RFC 9293 figure 7): answer with SYN-ACK.
  c.st = SYN_RECEIVED;
  c.sndNxt = c.iss;
}

/** Steps one to eight of RFC 9293 3.10.7.4. */
function otherStates(tcp: Tcp, c: TcpConnection, seg: Segment): void {
  const flags = seg.flags;
  const st = c.st;

  // PAWS (RFC 7323 5.3 R1): an older timestamp means an old duplicate.
  if (c.tsOk && seg.hasTs && !(flags & TCP_RST) && ((seg.tsVal - c.tsRecent) | 0) < 0) {
    if (seg.dataLen > 0 || oowAckAllowed(tcp, c)) c.ackNow = true;
    tcp.drop('paws');
    return;
  }

  // First: is the segment in the window?
  let seq = seg.seq;
  let dataOff = seg.dataOff;
  let dataLen = seg.dataLen;
  let syn = flags & TCP_SYN;
  let fin = flags & TCP_FIN;
  const segLen = dataLen + (syn ? 1 : 0) + (fin ? 1 : 0);
  let wnd = (c.rcvAdv - c.rcvNxt) | 0;
  if (wnd < 0) wnd = 0;
  let ok: boolean;
  if (segLen === 0) {
    ok = wnd === 0 ? seq === c.rcvNxt : seqGeq(seq, c.rcvNxt) && seqLt(seq, (c.rcvNxt + wnd) >>> 0);
    // A pure ACK just left of the window still carries a valid ACK when the
    // peer has not seen our latest window (RFC 9293 allows it; Linux too).
    if (!ok && wnd > 0 && seq === ((c.rcvNxt + wnd) >>> 0)) ok = true;
  } else if (wnd === 0) {
    ok = false;
  } else {
    const last = (seq + segLen - 1) >>> 0;
    const right = (c.rcvNxt + wnd) >>> 0;
    ok = (seqGeq(seq, c.rcvNxt) && seqLt(seq, right)) || (seqGeq(last, c.rcvNxt) && seqLt(last, right));
  }
  // Simultaneous open: the peer's SYN-ACK repeats the SYN we already have.
  if (!ok && st === SYN_RECEIVED && syn && (flags & TCP_ACK) && seq === c.irs) ok = true;
  if (!ok) {
    if (!(flags & TCP_RST)) {
      if (st === SYN_RECEIVED && syn && !(flags & TCP_ACK) && seq === c.irs) {
        // The peer did not get our SYN-ACK: send it again now.
        c.sndNxt = c.iss;
        tcp.drop('syn-retransmitted');
        return;
      }
      if (st === TIME_WAIT && fin) c.waitTimer.arm(2 * tcp.config.mslMs);
      // An unacceptable pure ACK is answered at most twice a second: two
      // confused ends must not ping-pong ACKs forever (Linux does the same).
      if (segLen > 0 || oowAckAllowed(tcp, c)) c.ackNow = true;
    }
    tcp.drop('out-of-window');
    return;
  }
  // RFC 7323 4.3: remember the timestamp to echo; not from a segment acking
  // unsent data (dropped below): a blind one would make every genuine segment fail PAWS.
  if (c.tsOk && seg.hasTs && !(flags & TCP_RST) && seqLeq(seg.seq, c.lastAckSent) && ((seg.tsVal - c.tsRecent) | 0) >= 0 && !((flags & TCP_ACK) && seqGt(seg.ack, c.sndMax))) {
    c.tsRecent = seg.tsVal;
  }
  // Trim what we already have from the front.
  if (seqLt(seq, c.rcvNxt)) {
    let dup = (c.rcvNxt - seq) | 0;
    if (syn) {
      syn = 0;
      seq = (seq + 1) >>> 0;
      dup--;
    }
    if (dup > dataLen) dup = dataLen;
    dataOff += dup;
    dataLen -= dup;
    seq = (seq + dup) >>> 0;
  }
  // ... and what does not fit from the back.
  if (wnd >= 0 && dataLen > 0) {
    const room = ((c.rcvNxt + wnd - seq) | 0);
    if (dataLen > room) {
      dataLen = room < 0 ? 0 : room;
      fin = 0;
    }
  }

  // Second: RST (RFC 5961 3.2).
  if (flags & TCP_RST) {
    if (seg.seq !== c.rcvNxt) {
      challenge(tcp, c);
      tcp.drop('rst-in-window');
      return;
    }
    countRstIn(tcp, c);
    switch (st) {
      case SYN_RECEIVED:
        if (c.passive) {
          // Back to LISTEN: the listener simply forgets this half-open connection.
          tcp.destroy(c);
          c.binding?.unbind();
        } else {
          tcp.fail(c, 'ECONNREFUSED', 'connection refused', false);
        }
        return;
      case ESTABLISHED:
      case FIN_WAIT_1:
      case FIN_WAIT_2:
      case CLOSE_WAIT:
        tcp.fail(c, 'ECONNRESET', 'connection reset by peer', false);
        return;
      default: {
        // CLOSING, LAST-ACK, TIME-WAIT: the application already closed.
        tcp.destroy(c, true);
        if (!c.closeDelivered) tcp.reportClosed(c);
        return;
      }
    }
  }

  // Fourth: a SYN in a synchronized state is a challenge (RFC 5961 4.2).
  if (syn) {
    if (st === SYN_RECEIVED && c.passive) {
      tcp.destroy(c);
      c.binding?.unbind();
      tcp.drop('syn-in-syn-received');
      return;
    }
    challenge(tcp, c);
    tcp.drop('syn-in-window');
    return;
  }

  // Fifth: the ACK field.
  if (!(flags & TCP_ACK)) {
    tcp.drop('no-ack');
    return;
  }
  let established = false;
  if (st === SYN_RECEIVED) {
    if (!(seqLt(c.sndUna, seg.ack) && seqLeq(seg.ack, c.sndMax))) {
      sendReset(tcp, seg);
      tcp.drop('bad-ack-syn-received');
      return;
    }
    const l = c.listener;
    if (l !== null && l.acceptCount >= l.backlog) {
      // Accept queue full: ignore the ACK; the SYN-ACK is retransmitted later
      // and the peer's next ACK may find room (as Linux does).
      l.overflows++;
      tcp.drop('accept-queue-full');
      return;
    }
    if (l !== null) l.synCount--;
    c.st = c.finQueued ? FIN_WAIT_1 : ESTABLISHED;
    c.sndWnd = seg.wnd << c.sndWscale;
    c.maxSndWnd = c.sndWnd;
    c.sndWl1 = seq;
    c.sndWl2 = seg.ack;
    established = true;
    c.rtt.handshakeDone();
  }
  if (seqGt(seg.ack, c.sndMax)) {
    // Acknowledges something not yet sent.
    c.ackNow = true;
    tcp.drop('ack-unsent');
    return;
  }
  if (seqLt(seg.ack, (c.sndUna - c.maxSndWnd) >>> 0)) {
    challenge(tcp, c);
    tcp.drop('ack-too-old');
    return;
  }
  const wndField = seg.wnd << c.sndWscale;
  const unaBefore = c.sndUna;
  const sackedBefore = c.sacked.sackedBytes;
  let newlySacked = 0;
  if (c.sackOk && seg.sack !== null) newlySacked = c.sacked.update(seg.sack, c.sndUna, c.sndMax);
  let drained = false;
  if (seqGt(seg.ack, c.sndUna)) {
    drained = newAck(tcp, c, seg);
    if (c.dead) return;
  } else if (
    seg.ack === c.sndUna &&
    c.sndMax !== c.sndUna &&
    !established &&
    // A closed window answers a window probe; it says nothing about loss.
    wndField !== 0 &&
    (newlySacked > 0 ||
      // RFC 5681's duplicate: nothing but the same ACK, window unchanged. With
      // SACK an ACK that brings no SACK news is not one (RFC 6675 section 2).
      (seg.dataLen === 0 && !(flags & (TCP_SYN | TCP_FIN)) && wndField === c.sndWnd && (!c.sackOk || seg.sack === null)))
  ) {
    duplicateAck(tcp, c);
  }
  if (c.sackOk && synchronized(c.st)) {
    sackRecovery(tcp, c, ((c.sndUna - unaBefore) >>> 0) + (c.sacked.sackedBytes - sackedBefore), newlySacked > 0);
  }
  // A peer that answers our retransmission with a closed window is alive:
  // RFC 1122 4.2.2.17 forbids timing out while it keeps acknowledging.
  if (wndField === 0 && seg.ack === c.sndUna && c.retries > 0) c.retries = 0;
  // Window update (RFC 9293 3.10.7.4, fifth step).
  if (seqLt(c.sndWl1, seq) || (c.sndWl1 === seq && seqLeq(c.sndWl2, seg.ack))) {
    const opened = c.sndWnd === 0 && wndField > 0;
    c.sndWnd = wndField;
    c.sndWl1 = seq;
    c.sndWl2 = seg.ack;
    if (wndField > c.maxSndWnd) c.maxSndWnd = wndField;
    if (opened && c.persisting) {
      c.persisting = false;
      c.persistShift = 0;
      c.rtoTimer.cancel();
      c.probing = false;
      if (c.sndMax !== c.sndUna) c.rtoTimer.arm(c.rtt.rto);
    }
  }
  // Our FIN acknowledged?
  const finAcked = c.finQueued && seqGt(seg.ack, (c.bufSeq + c.sendBuf.length) >>> 0) && c.sndUna === c.sndMax;
  switch (c.st) {
    case FIN_WAIT_1:
      if (finAcked) {
        c.st = FIN_WAIT_2;
        if (c.appClosed) c.waitTimer.arm(tcp.config.finWait2TimeoutMs);
      }
      break;
    case CLOSING:
      if (finAcked) enterTimeWait(tcp, c);
      break;
    case LAST_ACK:
      if (finAcked) {
        tcp.destroy(c, true);
        tcp.reportClosed(c);
        return;
      }
      break;
    default:
      break;
  }
  if (established) {
    const l = c.listener;
    if (l !== null && c.passive) {
      if (!tcp.upAccept(l, c)) return;
    } else if (!tcp.upConnect(c)) {
      return;
    }
  }
  if (drained && !tcp.upDrain(c)) return;
  if (c.st === TIME_WAIT && !c.closeDelivered && !c.closedPending) {
    if (!tcp.reportClosed(c)) return;
  }

  // Seventh: segment text.
  if (dataLen > 0) {
    if (acceptsText(c.st)) {
      if (c.appClosed) {
        // Nobody will read this (RFC 9293 3.10.4 / RFC 2525 2.17): reset, and
        // tell the application, whose handlers wait for the end of the close:
        // every connection ends with one final upcall.
        tcp.drop('data-after-close');
        if (c.closeDelivered) tcp.abortConn(c);
        else tcp.fail(c, 'ECONNABORTED', 'data arrived after close(): connection reset', true);
        return;
      }
      if (!receiveData(tcp, c, seq, seg.bytes, dataOff, dataLen)) return;
    } else {
      tcp.drop('data-after-fin');
    }
  }

  // Eighth: FIN.
  if (fin) {
    const finSeq = (seq + dataLen) >>> 0;
    if (finSeq === c.rcvNxt) {
      if (!peerFin(tcp, c)) return;
    } else if (acceptsText(c.st) && seqGt(finSeq, c.rcvNxt)) {
      c.peerFinSeq = finSeq;
      c.ackNow = true;
    }
  } else if (c.peerFinSeq >= 0 && c.peerFinSeq === c.rcvNxt) {
    if (!peerFin(tcp, c)) return;
  }
}

/** Moves to TIME-WAIT: 2 MSL on the clock, nothing else pending. */
function enterTimeWait(tcp: Tcp, c: TcpConnection): void {
  c.st = TIME_WAIT;
  c.rtoTimer.cancel();
  c.delackTimer.cancel();
  c.delackPending = false;
  c.persisting = false;
  c.waitTimer.cancel();
  c.waitTimer.arm(2 * tcp.config.mslMs);
}

/** The peer's FIN is next in sequence: consume it (RFC 9293 3.10.7.4, eighth step). */
function peerFin(tcp: Tcp, c: TcpConnection): boolean {
  c.peerFinSeq = -1;
  c.rcvNxt = (c.rcvNxt + 1) >>> 0;
  c.ackNow = true;
  switch (c.st) {
    case SYN_RECEIVED:
    case ESTABLISHED:
      c.st = CLOSE_WAIT;
      break;
    case FIN_WAIT_1:
      c.st = CLOSING;
      break;
    case FIN_WAIT_2:
      enterTimeWait(tcp, c);
      break;
    case TIME_WAIT:
      c.waitTimer.arm(2 * tcp.config.mslMs);
      return true;
    default:
      return true;
  }
  if (c.heldBytes > 0 || c.binding === null || c.awaitingBind) {
    // Reported after the held bytes, to the handlers bound later if need be.
    c.finUpcallPending = true;
  } else if (!tcp.upClose(c, 'peer-fin')) {
    return false;
  }
  if (c.st === TIME_WAIT) return tcp.reportClosed(c);
  return true;
}

/** In-order data goes up (or is held); out-of-order data waits in the reassembly queue. */
function receiveData(tcp: Tcp, c: TcpConnection, seq: number, bytes: Uint8Array, off: number, len: number): boolean {
  if (seq !== c.rcvNxt) {
    c.stats.outOfOrderSegments++;
    tcp.counters.outOfOrderSegments++;
    const q = (c.ooo ??= new ReassemblyQueue(tcp.config.maxReassemblyBytes));
    const r = q.insert(seq, bytes.subarray(off, off + len));
    if (r === 'no-memory') tcp.drop('reassembly-full');
    // A gap: acknowledge at once, so the sender sees duplicate ACKs (RFC 5681 4.2).
    c.ackNow = true;
    return true;
  }
  c.rcvNxt = (c.rcvNxt + len) >>> 0;
  if (len > c.rcvMssSeen) c.rcvMssSeen = len;
  c.ackOwed += len;
  let chunks: Uint8Array[] | null = null;
  const q = c.ooo;
  if (q !== null && !q.empty) {
    if (q.startsAt(c.rcvNxt)) {
      chunks = [];
      const out = chunks;
      c.rcvNxt = q.take(c.rcvNxt, (chunk) => out.push(chunk));
    }
    // Filling (part of) a gap is acknowledged at once (RFC 5681 4.2).
    c.ackNow = true;
  } else if (tcp.config.delayedAckMs <= 0 || c.ackOwed >= 2 * c.rcvMssSeen) {
    c.ackNow = true;
  }
  if (!deliver(tcp, c, bytes, off, len)) return false;
  if (chunks !== null) {
    for (const ch of chunks) if (!deliver(tcp, c, ch, 0, ch.length)) return false;
  }
  return true;
}

/** Hands bytes to onData, or holds a copy while reading is paused or nobody is bound. */
function deliver(tcp: Tcp, c: TcpConnection, bytes: Uint8Array, off: number, len: number): boolean {
  c.stats.bytesIn += len;
  tcp.counters.bytesIn += len;
  const b = c.binding;
  if (c.paused || c.heldBytes > 0 || b === null || c.awaitingBind || !b.has('onData')) {
    (c.held ??= []).push(bytes.slice(off, off + len));
    c.heldBytes += len;
    return true;
  }
  return tcp.upData(c, off === 0 && len === bytes.length ? bytes : bytes.subarray(off, off + len));
}

const OOW_ACK_INTERVAL_MS = 500;

function oowAckAllowed(tcp: Tcp, c: TcpConnection): boolean {
  const now = tcp.rt.clock.now();
  if (c.lastOowAck >= 0 && now - c.lastOowAck < OOW_ACK_INTERVAL_MS) return false;
  c.lastOowAck = now;
  return true;
}

/** RFC 5961 challenge ACK, within the module's budget. */
function challenge(tcp: Tcp, c: TcpConnection): void {
  if (!tcp.challengeAllowed(c)) return;
  c.stats.challengeAcks++;
  tcp.counters.challengeAcks++;
  sendChallengeAck(tcp, c);
}

function countRstIn(tcp: Tcp, c: TcpConnection): void {
  c.stats.resetsIn++;
  tcp.counters.resetsIn++;
}

/** An RTT sample from an ACK that advances snd.una (timestamps, else the one timed segment). */
function rttSampleOnAck(tcp: Tcp, c: TcpConnection, seg: Segment): void {
  if (c.tsOk && seg.hasTs && seg.tsEcr !== 0) {
    // An echoed timestamp names the transmission it measures, so it is a valid
    // sample even for retransmitted data (RFC 7323 4.1, as Linux takes it):
    // refusing it (Karn's rule) would keep a backed-off RTO after the path recovered.
    const r = (tsNow(tcp, c) - seg.tsEcr) | 0;
    if (r >= 0 && r < 600_000) c.rtt.sample(r);
    c.rttTiming = false;
  } else if (c.rttTiming && seqGt(seg.ack, c.rttSeq)) {
    c.rtt.sample(tcp.rt.clock.now() - c.rttTime);
    c.rttTiming = false;
  }
}

/** snd.una advances. Returns whether onDrain is due. */
function newAck(tcp: Tcp, c: TcpConnection, seg: Segment): boolean {
  const ack = seg.ack;
  const acked = (ack - c.sndUna) >>> 0;
  rttSampleOnAck(tcp, c, seg);
  // Data bytes acknowledged (the SYN and FIN occupy sequence space but not the buffer).
  let dataAcked = (ack - c.bufSeq) | 0;
  if (dataAcked > c.sendBuf.length) dataAcked = c.sendBuf.length;
  if (dataAcked > 0) {
    c.sendBuf.consume(dataAcked);
    c.bufSeq = (c.bufSeq + dataAcked) >>> 0;
    // Forward progress proves the neighbour reachable (RFC 4861 7.3.1; Linux's dst_confirm), so ARP/NDP need not
    // probe it; said at most once a second, it costs nothing per segment.
    const now = tcp.rt.clock.now();
    if (now - c.reachableHintAt >= 1000 && seg.lower.confirmReachable !== undefined) {
      c.reachableHintAt = now;
      seg.lower.confirmReachable(c.remoteIp);
    }
  }
  c.sndUna = ack;
  if (seqLt(c.sndNxt, ack)) c.sndNxt = ack;
  c.retries = 0;
  // New data acknowledged: the path works again, the timeout backoff ends (as Linux does with timestamps on).
  if (c.tsOk && acked > 0) c.rtt.backoff = 0;
  const flight = (c.sndMax - c.sndUna) >>> 0;
  const r = c.cc.onAck(acked, ack, flight);
  if (c.sndUna === c.sndMax) {
    if (!c.persisting) c.rtoTimer.cancel();
  } else {
    // RFC 6298 5.3: restart (or the loss probe timer, RFC 8985 7.2).
    // Re-arming later keeps the clock entry (cheap).
    if (c.persisting) {
      c.persisting = false;
      c.rtoTimer.cancel();
    }
    c.probeOut = false;
    armRetransmitTimer(tcp, c, true);
  }
  if (c.sackOk) c.sacked.advance(ack);
  // NewReno (RFC 6582 3.2 step 3): the next hole, one per partial ACK. With
  // SACK the scoreboard knows the holes (sackRecovery).
  else if (r === 'partial') retransmitFirst(tcp, c);
  // Window-limited senders learn here that the buffer emptied or went below low water.
  const len = c.sendBuf.length;
  if (c.needDrain && len <= tcp.config.sendBufferSize >>> 1) {
    c.needDrain = false;
    c.drainOnEmpty = false;
    return true;
  }
  if (c.drainOnEmpty && len === 0) {
    c.drainOnEmpty = false;
    return true;
  }
  return false;
}

function duplicateAck(tcp: Tcp, c: TcpConnection): void {
  c.stats.dupAcksIn++;
  tcp.counters.dupAcksIn++;
  if (c.sackOk) {
    // Counted toward DupThresh; sackRecovery decides.
    if (!c.cc.inRecovery) c.cc.dupAcks++;
    return;
  }
  if (c.cc.onDupAck((c.sndMax - c.sndUna) >>> 0, c.sndUna, c.sndMax)) {
    c.stats.fastRetransmits++;
    tcp.counters.fastRetransmits++;
    if (tcp.rt.observed) tcp.note(`fast retransmit ${c.describe()} una=${c.sndUna} cwnd=${c.cc.cwnd}`);
    c.rttTiming = false;
    retransmitFirst(tcp, c);
  }
}

/**
 * Loss detection and the recovery window with SACK, after every acceptable
 * ACK (RFC 6675 section 5, RFC 6937). Loss recovery starts on DupThresh
 * duplicate ACKs (ACKs that SACK new data, whatever their window: Linux's
 * receive-buffer autotuning grows the window on nearly every ACK) or as soon as
 * the scoreboard says the first unacknowledged segment is lost. The segments
 * themselves leave from output (NextSeg), paced by cwnd - pipe; `delivered` is
 * what this ACK newly acknowledged or SACKed.
 */
function sackRecovery(tcp: Tcp, c: TcpConnection, delivered: number, sackNews: boolean): void {
  const sb = c.sacked;
  const cc = c.cc;
  const mss = c.sndMss;
  const una = c.sndUna;
  const max = c.sndMax;
  if (sackNews || sb.active(una)) {
    const again = sb.settle(mss);
    if (again > 0 && tcp.rt.observed) tcp.note(`retransmission lost again ${c.describe()} count=${again}`);
  }
  if (una === max) return;
  if (cc.inRecovery) {
    // An ACK that delivered nothing (a window update) changes nothing (as Linux).
    if (delivered > 0) cc.prrAck(delivered, sb.pipe(una, max, mss));
    return;
  }
  if (cc.inLoss || !seqGeq(una, cc.recover)) return;
  // RFC 6675 5 step 1 (a cumulative ACK resets the count; this one may add to it).
  if (cc.dupAcks < DUP_THRESH && !sb.headLost(una, max, mss) && !earlyRetransmit(c, sb.sackedBytes)) return;
  cc.enterSackRecovery((max - una) >>> 0, max);
  cc.dupAcks = 0;
  c.stats.fastRetransmits++;
  tcp.counters.fastRetransmits++;
  if (tcp.rt.observed) tcp.note(`fast retransmit ${c.describe()} una=${una} pipe=${sb.pipe(una, max, mss)} sacked=${sb.sackedBytes}`);
  c.rttTiming = false;
  // Step 4.3: the first segment goes again whatever the window says.
  sb.markLost((una + mss) >>> 0);
  c.forceRetransmit = true;
  cc.prrAck(delivered, sb.pipe(una, max, mss));
}

/**
 * Early Retransmit (RFC 5827, SACK variant): with fewer than four segments
 * outstanding and nothing new to send, DupThresh duplicate ACKs can never
 * come; one segment SACKed fewer than those outstanding is enough. Without it
 * the loss of one of the last segments of a transfer waits for the RTO.
 */
function earlyRetransmit(c: TcpConnection, sacked: number): boolean {
  if (sacked === 0) return false;
  const unsent = c.sendBuf.length - ((c.sndNxt - c.bufSeq) | 0);
  if (unsent > 0 && seqLt(c.sndNxt, (c.sndUna + c.sndWnd) >>> 0)) return false;
  const mss = c.sndMss;
  const outstanding = Math.ceil(((c.sndMax - c.sndUna) >>> 0) / mss);
  if (outstanding >= 4) return false;
  return Math.ceil(sacked / mss) >= outstanding - 1;
}

/**
 * Hands held data to onData (after resume or bind) until it is gone or the
 * application pauses again. Returns false if the connection went away.
 */
export function deliverHeld(tcp: Tcp, c: TcpConnection): boolean {
  const zombie = c.dead;
  while (c.heldBytes > 0 && !c.paused && !c.awaitingBind) {
    const b = c.binding;
    if (b === null || !b.has('onData')) return true;
    const chunk = c.held!.shift()!;
    c.heldBytes -= chunk.length;
    if (!tcp.upHeld(c, chunk) || (c.dead && !zombie)) return false;
  }
  return true;
}
