import { describe, expect, it } from 'vitest';
import type { UdpDatagram } from '../../src/layers/udp.js';
import { udpChecksumOk } from '../../src/wire/udp.js';
import { describeFrame, IP_A, IP_B, ipFrame, MAC_A, MAC_B, manualHost, pair, udp } from './helpers.js';

function keep(d: UdpDatagram): { src: number; srcPort: number; dstPort: number; data: number[] } {
  return { src: d.src as number, srcPort: d.srcPort, dstPort: d.dstPort, data: [...d.payload] };
}

describe('Udp', () => {
  it('carries datagrams between bound ports, both ways', () => {
    const { clock, a, b } = pair();
    const atB: ReturnType<typeof keep>[] = [];
    const atA: ReturnType<typeof keep>[] = [];
    const server = b.udp!.bind(7, b.rt.app('srv'), {
      onDatagram: (d) => {
        atB.push(keep(d));
        server.send(d.src, d.srcPort, d.payload); // answer from inside the upcall
      },
    });
    const client = a.udp!.bind(0, a.rt.app('cli'), { onDatagram: (d) => void atA.push(keep(d)) });
    expect(client.port).toBe(49152);
    client.send(IP_B, 7, new Uint8Array([1, 2, 3]));
    clock.runAll();
    expect(atB).toEqual([{ src: IP_A, srcPort: 49152, dstPort: 7, data: [1, 2, 3] }]);
    expect(atA).toEqual([{ src: IP_B, srcPort: 7, dstPort: 49152, data: [1, 2, 3] }]);
    expect(a.pool.inUse).toBe(0);
    expect(b.pool.inUse).toBe(0);
  });

  it('computes checksums that verify on the wire', () => {
    const { clock, link, a } = pair();
    const frames: Uint8Array[] = [];
    link.attach('watch').attach((f) => frames.push(f));
    a.udp!.send(5000, IP_B, 6000, new Uint8Array(301).fill(7));
    clock.runAll();
    const f = frames.map(describeFrame).find((x) => x.ip?.protocol === 17)!;
    const p = f.ipPayload!;
    expect(p[6]! | p[7]!).not.toBe(0);
    expect(udpChecksumOk(p, 0, p.length, IP_A, IP_B)).toBe(true);
  });

  it('drops bad checksums, accepts a zero (absent) checksum, counts malformed lengths', () => {
    const { dev, host } = manualHost({ arp: { announce: false } });
    const got: number[][] = [];
    host.udp!.bind(9, host.rt.app('x'), { onDatagram: (d) => void got.push([...d.payload]) });
    const good = udp(IP_A, IP_B, 1, 9, new Uint8Array([5]));
    const bad = good.slice();
    bad[8]! ^= 0xff;
    const noSum = udp(IP_A, IP_B, 1, 9, new Uint8Array([6]), false);
    const shortLen = good.slice();
    shortLen[5] = 4;
    for (const payload of [good, bad, noSum, shortLen, good.subarray(0, 5)]) {
      dev.inject(ipFrame(MAC_B, MAC_A, { src: IP_A, dst: IP_B, protocol: 17, payload }));
    }
    expect(got).toEqual([[5], [6]]);
    expect(Object.fromEntries(host.udp!.stats.dropReasons)).toEqual({ 'bad-checksum': 1, 'bad-length': 1, truncated: 1 });
  });

  it('refuses a port already bound, and frees it on close', () => {
    const { a } = pair();
    const app = a.rt.app('x');
    const s = a.udp!.bind(53, app, {});
    expect(() => a.udp!.bind(53, app, {})).toThrow();
    expect(a.udp!.ports()).toEqual([53]);
    s.close();
    expect(a.udp!.ports()).toEqual([]);
    a.udp!.bind(53, app, {});
  });

  it('answers port unreachable once a port is closed', () => {
    const { dev, host } = manualHost({ arp: { announce: false } });
    host.arp.addStatic(IP_A, MAC_A);
    const s = host.udp!.bind(9, host.rt.app('x'), {});
    const frame = () => ipFrame(MAC_B, MAC_A, { src: IP_A, dst: IP_B, protocol: 17, payload: udp(IP_A, IP_B, 1, 9, new Uint8Array(1)) });
    dev.inject(frame());
    expect(dev.take()).toHaveLength(0);
    s.close();
    dev.inject(frame());
    const sent = dev.take().map(describeFrame);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.ip!.protocol).toBe(1);
    expect(host.udp!.stats.dropReasons.get('no-port')).toBe(1);
  });

  it('gives a mailbox (queued) socket a copy of the data', () => {
    const { clock, a, b } = pair();
    const owner = b.rt.app('mailbox');
    owner.dispatch = 'queued';
    const got: number[][] = [];
    b.udp!.bind(7, owner, { onDatagram: (d) => void got.push([...d.payload]) });
    a.udp!.send(1000, IP_B, 7, new Uint8Array([9, 8, 7]));
    clock.runAll();
    expect(got).toEqual([[9, 8, 7]]);
    expect(b.pool.inUse).toBe(0);
  });
});
