/**
 * What each of a connection's three timers does when it fires. The timers are
 * owned by the module for the connection (module.timer(conn, ...)), so a
 * cleanup of the connection cancels them, and each firing is a task of its own.
 *
 *  - rto: retransmission timeout (RFC 6298: back off, go back to snd.una,
 *    collapse the congestion window per RFC 5681), or, while the peer's window
 *    is closed, the persist timer that sends window probes;
 *  - delack: the delayed ACK is due (RFC 9293 3.8.6.3);
 *  - wait: TIME-WAIT's 2 MSL, the FIN-WAIT-2 timeout of a closed connection, or
 *    the deferred report of a connect that had no route.
 */
import type { TcpConnection } from './connection.js';
import { output, sendWindowProbe, tsNow } from './output.js';
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
  c.cc.onTimeout((c.sndMax - c.sndUna) >>> 0, c.sndMax);
  // RFC 2018 section 8: the receiver may have reneged; go back over everything.
  c.sacked.clear();
  c.holeBudget = 0;
  c.rtt.timedOut();
  c.rttTiming = false;
  c.tsFloor = tsNow(tcp, c);
  c.sndNxt = st === SYN_SENT || st === SYN_RECEIVED ? c.iss : c.sndUna;
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
      if (c.sndMax === c.iss) tcp.fail(c, 'ENETUNREACH', 'no route to host', false);
      return;
    default:
      return;
  }
}
