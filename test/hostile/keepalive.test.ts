/**
 * TCP keepalive (RFC 1122 4.2.3.6) with Node's knobs: a connection whose peer
 * vanished without a word is found out and fails with ETIMEDOUT; a live peer
 * answers the probes and the connection stays; the Duplex adapter's
 * setKeepAlive(enable, initialDelay) drives it.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/core/index.js';
import { createHost } from '../../src/host.js';
import { SimLink } from '../../src/layers/nic/sim-link.js';
import { Tcp, type TcpConnection, type TcpError } from '../../src/layers/tcp/index.js';
import { createConnection, createServer } from '../../src/layers/tcp/stream.js';
import { makePair } from '../layers/tcp/support/fake-ip.js';

const KA = { keepaliveIntervalMs: 1_000, keepaliveProbes: 3 };

describe('hostile: keepalive', () => {
  it('a peer that vanished is found out: probes after the idle time, then ETIMEDOUT', () => {
    const p = makePair({ configA: KA });
    p.b.tcp.listen(80, p.b.rt.app('srv'), { onAccept: () => ({}) });
    const errors: TcpError[] = [];
    const c = p.a.tcp.connect(p.b.addr, 80, p.a.rt.app('cli'), { onError: (_c, e) => void errors.push(e) });
    p.clock.runUntil(() => c.state === 'ESTABLISHED', 1_000);
    c.setKeepAlive(true, 5_000);
    const t0 = p.clock.now();
    p.net.faults = { ...p.net.faults, loss: 1 }; // the peer is gone
    p.clock.runUntil(() => errors.length > 0, 60_000);
    expect(errors.map((e) => e.code)).toEqual(['ETIMEDOUT']);
    expect(p.a.tcp.counters.keepaliveProbes).toBe(3);
    // 5 s idle, then 3 probes 1 s apart and 1 s for the last answer.
    expect(p.clock.now() - t0).toBeGreaterThanOrEqual(8_000);
    expect(p.clock.now() - t0).toBeLessThan(8_100);
  });

  it('a live peer answers the probes and the connection stays; off means no probes', () => {
    const p = makePair({ configA: KA });
    let srv: TcpConnection | undefined;
    p.b.tcp.listen(80, p.b.rt.app('srv'), {
      onAccept: (c) => {
        srv = c;
        return {};
      },
    });
    const errors: TcpError[] = [];
    const c = p.a.tcp.connect(p.b.addr, 80, p.a.rt.app('cli'), { onError: (_c, e) => void errors.push(e) });
    p.clock.runUntil(() => c.state === 'ESTABLISHED', 1_000);
    p.clock.advance(60_000);
    expect(p.a.tcp.counters.keepaliveProbes).toBe(0);
    c.setKeepAlive(true, 2_000);
    p.clock.advance(60_000);
    expect(errors).toEqual([]);
    expect(c.state).toBe('ESTABLISHED');
    expect(srv?.state).toBe('ESTABLISHED');
    expect(p.a.tcp.counters.keepaliveProbes).toBeGreaterThanOrEqual(25);
    c.setKeepAlive(false);
    const n = p.a.tcp.counters.keepaliveProbes;
    p.clock.advance(60_000);
    expect(p.a.tcp.counters.keepaliveProbes).toBe(n);
  });

  it("the Duplex adapter's setKeepAlive(true, initialDelay) probes, before or after the connection exists", async () => {
    const clock = new VirtualClock();
    const link = new SimLink(clock, { seed: 1 });
    const A = createHost({ name: 'a', link, ip: '10.0.0.1/24', seed: 11 });
    const B = createHost({ name: 'b', link, ip: '10.0.0.2/24', seed: 12 });
    const ta = new Tcp(A.rt, A.ip, KA);
    const tb = new Tcp(B.rt, B.ip);
    createServer(tb, () => {}).listen(7);
    const sock = createConnection(ta, { port: 7, host: '10.0.0.2' });
    sock.setKeepAlive(true, 3_000);
    let connected = false;
    sock.on('connect', () => (connected = true));
    for (let i = 0; i < 100 && !connected; i++) {
      clock.advance(1);
      await new Promise<void>((r) => setImmediate(r));
    }
    expect(connected).toBe(true);
    clock.advance(10_000);
    expect(ta.counters.keepaliveProbes).toBeGreaterThanOrEqual(3);
    sock.destroy();
  });
});
