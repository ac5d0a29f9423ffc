import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../../src/core/index.js';
import { createHost } from '../../../../src/host.js';
import { SimLink } from '../../../../src/layers/nic/sim-link.js';
import { TcpDatagrams } from '../../../../src/layers/service/ext/tcp-datagrams.js';
import type { UdpDatagram } from '../../../../src/layers/udp.js';
import { IP4_BROADCAST } from '../../../../src/wire/addr.js';

function pair(loss = 0) {
  const clock = new VirtualClock();
  const link = new SimLink(clock, { delayMs: 1, loss, seed: 5 });
  const a = createHost({ name: 'a', link, ip: '10.0.0.1/24', seed: 1, tcp: true });
  const b = createHost({ name: 'b', link, ip: '10.0.0.2/24', seed: 2, tcp: true });
  return { clock, a, b, da: new TcpDatagrams(a.rt, a.tcp!, a.address), db: new TcpDatagrams(b.rt, b.tcp!, b.address) };
}

const text = (d: UdpDatagram): string => new TextDecoder().decode(d.payload);

describe('datagrams over TCP', () => {
  it('carries messages both ways on one connection, whole and in order, with their ports', () => {
    const { clock, a, b, da, db } = pair();
    const atB: string[] = [];
    const atA: string[] = [];
    const sb = db.bind(7300, b.rt.app('srv'), { onDatagram: (d) => { atB.push(`${d.srcPort}>${d.dstPort} ${text(d)}`); sb.send(d.src, d.srcPort, new TextEncoder().encode(`re ${text(d)}`)); } });
    da.bind(7300, a.rt.app('cli'), { onDatagram: (d) => atA.push(text(d)) });
    const sa = { send: (s: string) => da.send(7300, b.address, 7300, new TextEncoder().encode(s)) };
    for (let i = 0; i < 50; i++) sa.send(`m${i}`);
    // A big one spans segments: framing puts it back together.
    sa.send('x'.repeat(5000));
    clock.runUntil(() => atA.length === 51, 10_000);
    expect(atB.slice(0, 3)).toEqual(['7300>7300 m0', '7300>7300 m1', '7300>7300 m2']);
    expect(atA.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => `re m${i}`));
    expect(atA[50]).toHaveLength(5003);
    expect(da.counters.connections + db.counters.connections).toBe(2); // one connection, seen from each end
  });

  it('over a lossy link every message still arrives exactly once (TCP retransmits)', () => {
    const { clock, b, da, db } = pair(0.2);
    const got: string[] = [];
    db.bind(7300, b.rt.app('srv'), { onDatagram: (d) => got.push(text(d)) });
    for (let i = 0; i < 30; i++) da.send(7300, b.address, 7300, new TextEncoder().encode(`m${i}`));
    clock.runUntil(() => got.length === 30, 120_000);
    expect(got).toEqual(Array.from({ length: 30 }, (_, i) => `m${i}`));
  });

  it('drops and counts broadcasts, frames for unbound ports and oversized frames', () => {
    const { clock, b, da, db } = pair();
    const got: string[] = [];
    db.bind(7300, b.rt.app('srv'), { onDatagram: (d) => got.push(text(d)) });
    expect(da.send(7300, IP4_BROADCAST, 7300, new Uint8Array(1))).toBe(false);
    da.send(7300, b.address, 7300, new TextEncoder().encode('ok'));
    // Same connection, a frame for a port nobody bound on b.
    da.send(7300, b.address, 9999, new TextEncoder().encode('nobody'));
    clock.runUntil(() => got.length === 1, 5000);
    clock.advance(50);
    expect(da.stats.dropReasons.get('broadcast')).toBe(1);
    expect(db.stats.dropReasons.get('no-port')).toBe(1);
  });

  it('a peer announcing an absurd frame length is refused and its connection aborted; the layer goes on', () => {
    const { clock, a, b, db } = pair();
    const got: string[] = [];
    db.bind(7300, b.rt.app('srv'), { onDatagram: (d) => got.push(text(d)) });
    let error = '';
    const bogus = Uint8Array.from([0x1c, 0x84, 0x1c, 0x84, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3]);
    a.tcp!.connect(b.address, 7300, a.rt.app('raw'), { onConnect: (c) => void c.send(bogus), onError: (_c, e) => (error = e.code) });
    clock.advance(100);
    expect(db.stats.dropReasons.get('frame-too-long')).toBe(1);
    expect(error).toBe('ECONNRESET');
    expect(got).toEqual([]);
  });
});
