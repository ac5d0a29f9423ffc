/**
 * What each of a connection's three timers does when it fires. The timers are
 * owned by the module for the connection (module.timer(conn, ...)), so a
 * cleanup of the connection cancels them, and each firing is a task of its own.
 *
 *  - rto: retransmission timeout (RFC 6298: back off, go back to snd.una,
 *    or with SACK resend what the scoreboard lacks; collapse the congestion
 *    window per RFC 5681), or, while the peer's window is closed, the persist
 *    timer that sends window probes, or before the RTO the tail loss probe;
 *  - delack: the delayed ACK is due (RFC 9293 3.8.6.3);
 *  - wait: TIME-WAIT's 2 MSL, the FIN-WAIT-2 timeout of a closed connection, or
 *    the deferred report of a connect that had no route.
 *
 * A firing is the root of its task and works for its connection (the timer's
 * client): it is TCP's outermost activation on it, so it runs output directly
 * (and reads what output did, as the loss probe does); whatever a handler asks
 * for meanwhile (armSend from onSendReady) waits for the firing to unwind.
 */
import { seqLt } from '../../wire/seq.js';
import type { TcpConnection } from './connection.js';
import { output, sendWindowProbe } from './output.js';
import { FIN_WAIT_2, SYN_RECEIVED, SYN_SENT, TIME_WAIT, synchronized } from './states.js';
import type { Tcp } from './tcp.js';

export function onRtoTimer(tcp: Tcp, c: TcpConnection): void {
  if (c.dead) return;
  if (c.persisting) {
    const unsent = c.sendBuf.length - ((c.sndNxt - c.bufSeq) | 0);
    if (c.sndWnd === 0 && (unsent > 0 || c.armed)) {
      sendWindowProbe(tcp, c);
    } else {
      // Override timeout: send what the small window allows.
      c.persisting = false;
      c.forceSend = true;
      output(tcp, c);
      c.forceSend = false;
    }
    return;
  }
  if (c.sndUna === c.sndMax) return;
  if (c.probing) {
    // Tail loss probe (RFC 8985 7.3): new data past cwnd, then the RTO proper
    // (for what is left of it if no probe could go). Two segments rather than
    // RFC 8985's one: a lone segment after a silence waits out the receiver's
    // delayed-ACK timer (40 ms on Linux), a second full-sized one is answered
    // at once (RFC 9293 3.8.6.3).
    c.probing = false;
    c.probeOut = true;
    const before = c.sndMax;
    c.lossProbe = 2;
    output(tcp, c);
    c.lossProbe = 0;
    if (c.dead) return;
    if (c.sndMax !== before) {
      c.stats.lossProbes++;
      tcp.counters.lossProbes++;
      if (tcp.rt.observed) tcp.note(`loss probe ${c.describe()} una=${c.sndUna} seq=${before}`);
    }
    if (!c.rtoTimer.armed) {
      const rest = c.rtt.rto - c.ptoMs;
      c.rtoTimer.arm(c.sndMax !== before || rest < 1 ? c.rtt.rto : rest);
    }
    return;
  }
  c.stats.rtoTimeouts++;
  tcp.counters.rtoTimeouts++;
  c.retries++;
  const cfg = tcp.config;
  const st = c.st;
  const limit = st === SYN_SENT ? cfg.synRetries : st === SYN_RECEIVED ? cfg.synAckRetries : cfg.maxRetries;
  if (c.retries > limit) {
    if (st === SYN_RECEIVED && c.passive) {
      tcp.drop('syn-ack-timeout');
      tcp.destroy(c);
      c.binding?.unbind();
      return;
    }
    tcp.fail(c, 'ETIMEDOUT', 'connection timed out', synchronized(st));
    return;
  }
  if (tcp.rt.observed) tcp.note(`rto ${c.describe()} una=${c.sndUna} retry=${c.retries} rto=${c.rtt.rto}`);
  const repair = c.sackOk && synchronized(st);
  c.cc.onTimeout((c.sndMax - c.sndUna) >>> 0, c.sndMax, repair);
  c.forceRetransmit = false;
  if (repair) {
    // Everything outstanding is lost; output resends it from the scoreboard,
    // skipping what the receiver SACKed, and goes on repairing what is lost
    // again until snd.una passes snd.max as it is now. A second timeout of the
    // same data forgets the blocks: the receiver may have reneged (RFC 2018 8).
    c.sacked.timedOut(c.sndMax, c.retries > 1);
    // (A window probe leaves snd.nxt behind snd.max; its byte is outstanding too.)
    if (seqLt(c.sndNxt, c.sndMax)) c.sndNxt = c.sndMax;
  } else {
    c.sacked.clear();
    c.sndNxt = st === SYN_SENT || st === SYN_RECEIVED ? c.iss : c.sndUna;
  }
  c.rtt.timedOut();
  c.rttTiming = false;
  c.rtoTimer.arm(c.rtt.rto);
  output(tcp, c);
}

export function onDelackTimer(tcp: Tcp, c: TcpConnection): void {
  if (c.dead || c.ackOwed === 0 || !c.delackPending) return;
  c.stats.delayedAcks++;
  tcp.counters.delayedAcks++;
  c.ackNow = true;
  output(tcp, c);
}

export function onWaitTimer(tcp: Tcp, c: TcpConnection): void {
  if (c.dead) return;
  switch (c.st) {
    case TIME_WAIT:
      tcp.destroy(c, true);
      return;
    case FIN_WAIT_2:
      if (!c.appClosed) return;
      tcp.drop('fin-wait-2-timeout');
      tcp.destroy(c, true);
      tcp.reportClosed(c);
      return;
    case SYN_SENT:
      if (c.localPort === 0) tcp.fail(c, 'EADDRNOTAVAIL', 'no free ephemeral port', false);
      else if (c.sndMax === c.iss) tcp.fail(c, 'ENETUNREACH', 'no route to host', false);
      return;
    default:
      return;
  }
}
