/**
 * TCP over the real stack: Ethernet, ARP and IPv4 on a simulated link, the
 * hosts built by createHost. What the fake network tests show must hold here
 * too, with ARP resolution, IP checksums and the link's own fault model.
 */
import { describe, expect, it } from 'vitest';
import { Rng, VirtualClock } from '../../../src/core/index.js';
import { createHost } from '../../../src/host.js';
import { SimLink, type LinkConditions } from '../../../src/layers/nic/sim-link.js';
import { Tcp, type TcpConnection } from '../../../src/layers/tcp/index.js';
import { acceptStreamer, streamer } from './support/apps.js';
import { concat, textOf } from './support/fake-ip.js';

function stackPair(seed: number, cond: Partial<LinkConditions> = {}, mtu = 1500) {
  const clock = new VirtualClock();
  const link = new SimLink(clock, { seed, mtu, ...cond });
  const A = createHost({ name: 'a', link, ip: '10.0.0.1/24', seed: seed * 2 + 1 });
  const B = createHost({ name: 'b', link, ip: '10.0.0.2/24', seed: seed * 2 + 2 });
  return { clock, link, A, B, ta: new Tcp(A.rt, A.ip), tb: new Tcp(B.rt, B.ip) };
}

describe('TCP on Ethernet/ARP/IPv4 over a SimLink', () => {
  it('transfers both ways over a clean link and closes; no buffer leaks', () => {
    const s = stackPair(1);
    const rng = new Rng(1);
    const ab = rng.bytes(500_000);
    const ba = rng.bytes(100_000);
    const srv = acceptStreamer((p, o, h) => s.tb.listen(p, o, h), 5001, s.B.rt.app('srv'), ba);
    const cli = streamer(ab);
    s.ta.connect(s.B.address, 5001, s.A.rt.app('cli'), cli.handlers);
    expect(s.clock.runUntil(() => cli.log.done() && srv[0]?.done() === true, 600_000)).toBe(true);
    expect(Buffer.compare(srv[0]!.bytes(), ab)).toBe(0);
    expect(Buffer.compare(cli.log.bytes(), ba)).toBe(0);
    s.clock.runAll(600_000);
    expect(s.ta.connectionCount + s.tb.connectionCount).toBe(0);
    expect(s.A.pool.inUse).toBe(0);
    expect(s.B.pool.inUse).toBe(0);
  });

  for (const seed of [2, 3, 4]) {
    it(`survives loss, duplication, reordering and corruption on the link (seed ${seed})`, () => {
      const s = stackPair(seed, { loss: 0.08, duplicate: 0.03, reorder: 0.05, corrupt: 0.03, jitterMs: 1 });
      const rng = new Rng(seed);
      const ab = rng.bytes(120_000);
      const ba = rng.bytes(40_000);
      const srv = acceptStreamer((p, o, h) => s.tb.listen(p, o, h), 5001, s.B.rt.app('srv'), ba, { chunkSizes: [1000, 77] });
      const cli = streamer(ab, { chunkSizes: [3000, 5] });
      s.ta.connect(s.B.address, 5001, s.A.rt.app('cli'), cli.handlers);
      expect(s.clock.runUntil(() => cli.log.done() && srv[0]?.done() === true, 36_000_000)).toBe(true);
      expect(cli.log.errors).toEqual([]);
      expect(Buffer.compare(srv[0]!.bytes(), ab)).toBe(0);
      expect(Buffer.compare(cli.log.bytes(), ba)).toBe(0);
      expect(s.tb.counters.checksumErrors + s.B.ip.stats.drops + s.ta.counters.checksumErrors + s.A.ip.stats.drops).toBeGreaterThan(0);
      s.clock.runAll(600_000);
      expect(s.ta.connectionCount + s.tb.connectionCount).toBe(0);
    });
  }

  it('negotiates the MSS from the link MTU (9000)', () => {
    const s = stackPair(5, {}, 9000);
    let server: TcpConnection | null = null;
    s.tb.listen(80, s.B.rt.app('srv'), { onAccept: (c) => void (server = c) });
    const c = s.ta.connect(s.B.address, 80, s.A.rt.app('cli'), {});
    s.clock.advance(100);
    expect(c.state).toBe('ESTABLISHED');
    expect(c.timing.mss).toBe(9000 - 40 - 12);
    expect(server!.timing.mss).toBe(9000 - 40 - 12);
  });

  it('connects to its own address through IP loopback', () => {
    const s = stackPair(6);
    s.ta.listen(7, s.A.rt.app('echo'), { onAccept: () => ({ onData: (c, d) => void c.send(d) }) });
    const got: Uint8Array[] = [];
    const c = s.ta.connect(s.A.address, 7, s.A.rt.app('cli'), {
      onConnect: (conn) => void conn.send('to myself'),
      onData: (_c, d) => void got.push(d.slice()),
    });
    s.clock.advance(100);
    expect(textOf(concat(got))).toBe('to myself');
    expect(c.state).toBe('ESTABLISHED');
    expect(s.ta.connectionCount).toBe(2);
  });

  it('a destination without a route fails with ENETUNREACH, reported by an upcall', () => {
    const s = stackPair(8);
    const errs: string[] = [];
    const c = s.ta.connect(0x0a090909, 80, s.A.rt.app('cli'), { onError: (_c, e) => void errs.push(e.code) });
    expect(errs).toEqual([]);
    s.clock.advance(10);
    expect(errs).toEqual(['ENETUNREACH']);
    expect(c.state).toBe('CLOSED');
  });

  it('a connection refused by the remote host', () => {
    const s = stackPair(7);
    const errs: string[] = [];
    s.ta.connect(s.B.address, 4444, s.A.rt.app('cli'), { onError: (_c, e) => void errs.push(e.code) });
    s.clock.advance(100);
    expect(errs).toEqual(['ECONNREFUSED']);
  });
});
