/**
 * Correctness found while attacking the stack (issue #15): every connection
 * ends with exactly one final upcall, port exhaustion is an ordinary error,
 * the RTO recovers after timeouts with timestamps on, and paced keystrokes on
 * a clean link are never retransmitted.
 */
import { describe, expect, it } from 'vitest';
import type { TcpConnection, TcpError } from '../../src/layers/tcp/index.js';
import { TCP_ACK, TCP_PSH } from '../../src/wire/tcp.js';
import { makePair } from '../layers/tcp/support/fake-ip.js';
import { Bench } from './support/segments.js';
import { parseIp4 } from '../../src/wire/addr.js';

const PEER = parseIp4('10.0.0.2');

describe('hostile: final upcalls', () => {
  it('a connection the application closed that then receives data is reset with exactly one final upcall', () => {
    const b = new Bench(3);
    const finals: string[] = [];
    let conn: TcpConnection | undefined;
    b.host.tcp.listen(80, b.host.rt.app('srv'), {
      onAccept: (c) => {
        conn = c;
        return {
          onClose: (_c, how) => void (how === 'closed' && finals.push('closed')),
          onError: (_c, e) => void finals.push(`error ${e.code}`),
        };
      },
    });
    const iss = b.handshake(PEER, 40_000, 80, 1000);
    expect(conn).toBeDefined();
    conn!.close(); // FIN_WAIT_1
    b.clock.advance(5);
    const from = b.seen.length;
    b.send(PEER, 40_000, 80, TCP_ACK | TCP_PSH, 1001, iss + 1, new TextEncoder().encode('late data'));
    b.clock.advance(5);
    b.clock.advance(200_000);
    expect(b.to(PEER, from).some((s) => s.h.flags & 0x04)).toBe(true); // RST
    expect(finals).toEqual(['error ECONNABORTED']);
    expect(b.host.tcp.connectionCount).toBe(0);
  });
});

describe('hostile: ephemeral ports', () => {
  it('exhaustion is reported as EADDRNOTAVAIL through onError, on a later turn; the caller goes on', () => {
    const p = makePair({ configA: { ephemeralLow: 50_000, ephemeralHigh: 50_001 } });
    p.b.tcp.listen(80, p.b.rt.app('srv'), { onAccept: () => ({}) });
    const errors: TcpError[] = [];
    const app = p.a.rt.app('cli');
    const conns: TcpConnection[] = [];
    let after = false;
    p.a.rt.app('driver');
    for (let i = 0; i < 3; i++) conns.push(p.a.tcp.connect(p.b.addr, 80, app, { onError: (_c, e) => void errors.push(e) }));
    after = true;
    p.clock.advance(100);
    expect(after).toBe(true);
    expect(errors.map((e) => e.code)).toEqual(['EADDRNOTAVAIL']);
    expect(conns[2]!.state).toBe('CLOSED');
    expect(conns.slice(0, 2).every((c) => c.state === 'ESTABLISHED')).toBe(true);
    expect(p.a.rt.stats.tasksExpended).toBe(0);
  });
});

describe('hostile: RTO after timeouts, timestamps on', () => {
  it('an ACK of new data that echoes a timestamp from before the timeouts ends the backoff and is a sample', () => {
    const b = new Bench(4);
    let conn: TcpConnection | undefined;
    b.host.tcp.listen(80, b.host.rt.app('srv'), {
      onAccept: (c) => {
        conn = c;
        return {};
      },
    });
    const opts = [{ kind: 'mss' as const, mss: 1460 }, { kind: 'timestamps' as const, tsVal: 500, tsEcr: 0 }];
    const from0 = b.seen.length;
    b.send(PEER, 40_000, 80, 0x02, 1000, 0, undefined, opts);
    b.clock.advance(1);
    const synAck = b.to(PEER, from0)[0]!;
    const ts = (s: { h: { options: readonly { kind: string }[] } }): number =>
      (s.h.options.find((o) => o.kind === 'timestamps') as { tsVal: number } | undefined)?.tsVal ?? -1;
    b.send(PEER, 40_000, 80, TCP_ACK, 1001, synAck.h.seq + 1, undefined, [{ kind: 'timestamps', tsVal: 501, tsEcr: ts(synAck) }]);
    b.clock.advance(1);
    const from = b.seen.length;
    conn!.send(new Uint8Array(100));
    b.clock.advance(1);
    const first = b.to(PEER, from).find((s) => s.len > 0)!;
    // No ACK: the RTO expires twice and backs off.
    b.clock.advance(3_000);
    const rtt = (conn as unknown as { rtt: { backoff: number; rto: number } }).rtt;
    expect(rtt.backoff).toBeGreaterThanOrEqual(2);
    // The original arrived after all; its ACK echoes the original's timestamp.
    b.send(PEER, 40_000, 80, TCP_ACK, 1001, synAck.h.seq + 101, undefined, [{ kind: 'timestamps', tsVal: 502, tsEcr: ts(first) }]);
    b.clock.advance(1);
    // Before: the echo was refused (Karn) and the doubled RTO stayed, up to 60 s over more timeouts.
    expect(rtt.backoff).toBe(0);
  });
});

describe('hostile: paced keystrokes on a clean link', () => {
  it('one byte every 300 ms, echoed, is never retransmitted (the RTO floor clears the peer’s 200 ms delayed ACK)', () => {
    const p = makePair({ seed: 9 });
    let srv: TcpConnection | undefined;
    p.b.tcp.listen(23, p.b.rt.app('srv'), {
      onAccept: (c) => {
        srv = c;
        return { onData: (conn, d) => void conn.send(d) };
      },
    }, { noDelay: true });
    const c = p.a.tcp.connect(p.b.addr, 23, p.a.rt.app('cli'), {}, { noDelay: true });
    p.clock.runUntil(() => c.state === 'ESTABLISHED', 1_000);
    for (let i = 0; i < 40; i++) {
      c.send(Uint8Array.of(0x61 + (i % 26)));
      p.clock.advance(300 + (i % 7) * 50);
    }
    p.clock.advance(2_000);
    expect(srv).toBeDefined();
    expect(p.a.tcp.counters.retransmissions).toBe(0);
    expect(p.b.tcp.counters.retransmissions).toBe(0);
  });
});
