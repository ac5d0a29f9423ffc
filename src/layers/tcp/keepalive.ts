/**
 * TCP keepalive (RFC 1122 4.2.3.6), off unless asked for, with the knobs a
 * Node socket has (`setKeepAlive(enable, initialDelay)`) and Linux's defaults
 * for the rest: after `idleMs` without hearing from the peer, a probe (an ACK
 * carrying snd.una - 1, which the peer must answer) every `intervalMs`; after
 * `probes` unanswered probes the connection fails with ETIMEDOUT. Anything
 * received from the peer counts as an answer. Data in flight is the
 * retransmission timer's business, so no probe goes while there is some.
 */
import type { ModuleTimer } from '../../core/index.js';
import type { TcpConnection } from './connection.js';
import { sendKeepaliveProbe } from './output.js';
import { CLOSE_WAIT, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2 } from './states.js';
import type { Tcp } from './tcp.js';

interface KeepaliveState {
  idleMs: number;
  timer: ModuleTimer;
  /** Probes sent since the peer was last heard. */
  sent: number;
  /** When the last probe left. */
  probeAt: number;
}

const states = new WeakMap<TcpConnection, KeepaliveState>();

/** Turns keepalive on (idle time `initialDelayMs`, 0 for the module's default) or off. */
export function setKeepalive(tcp: Tcp, c: TcpConnection, enable: boolean, initialDelayMs: number): void {
  let s = states.get(c);
  if (!enable) {
    s?.timer.cancel();
    states.delete(c);
    return;
  }
  if (c.dead) return;
  const idleMs = initialDelayMs > 0 ? initialDelayMs : tcp.config.keepaliveIdleMs;
  if (s === undefined) {
    const timer = tcp.timer(c, 'keepalive', () => fire(tcp, c));
    s = { idleMs, timer, sent: 0, probeAt: -1 };
    states.set(c, s);
  } else {
    s.idleMs = idleMs;
    s.timer.cancel();
  }
  s.sent = 0;
  s.timer.armAt(Math.max(c.lastHeardAt, tcp.rt.clock.now() - idleMs) + idleMs);
}

export function keepaliveEnabled(c: TcpConnection): boolean {
  return states.has(c);
}

function fire(tcp: Tcp, c: TcpConnection): void {
  const s = states.get(c);
  if (s === undefined || c.dead) return;
  const now = tcp.rt.clock.now();
  const cfg = tcp.config;
  if (s.sent > 0 && c.lastHeardAt >= s.probeAt) s.sent = 0; // answered
  const st = c.st;
  const idle = now - c.lastHeardAt;
  if ((st !== ESTABLISHED && st !== CLOSE_WAIT && st !== FIN_WAIT_1 && st !== FIN_WAIT_2) || c.sndUna !== c.sndMax || (s.sent === 0 && idle < s.idleMs)) {
    s.sent = 0;
    s.timer.armAt(Math.max(now + 1, c.lastHeardAt + s.idleMs));
    return;
  }
  if (s.sent >= cfg.keepaliveProbes) {
    tcp.drop('keepalive-timeout');
    tcp.fail(c, 'ETIMEDOUT', `no answer to ${s.sent} keepalive probes`, true);
    return;
  }
  s.sent++;
  s.probeAt = now;
  c.stats.keepaliveProbes++;
  tcp.counters.keepaliveProbes++;
  sendKeepaliveProbe(tcp, c);
  s.timer.arm(cfg.keepaliveIntervalMs);
}
