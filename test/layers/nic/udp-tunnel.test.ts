/**
 * The UDP tunnel as a wire between two hosts in one process: real sockets on
 * 127.0.0.1 and real time (the device is a real-time driver), so each wait is
 * bounded by a ping timeout rather than by a virtual clock.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { RealClock } from '../../../src/core/index.js';
import { createHost } from '../../../src/host.js';
import { parseEndpoint, UdpTunnelDevice } from '../../../src/layers/nic/udp-tunnel.js';
import { parseIp4 } from '../../../src/wire/addr.js';
import { emitEthernet, ETHERTYPE_IPV4 } from '../../../src/wire/ethernet.js';

const MAC_A = 0x0200_0000_0a01;
const MAC_B = 0x0200_0000_0a02;

const opened: Array<{ close(): unknown }> = [];

afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
});

async function device(opts: Parameters<typeof UdpTunnelDevice.open>[0]): Promise<UdpTunnelDevice> {
  const d = await UdpTunnelDevice.open(opts);
  opened.push(d);
  return d;
}

function socket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  opened.push({ close: () => new Promise<void>((r) => s.close(() => r())) });
  return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s)));
}

function sendFrom(s: dgram.Socket, to: UdpTunnelDevice, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => s.send(bytes, to.local.port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
}

/** Wait (bounded) until datagrams already on loopback have reached their socket. */
async function until(done: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
}

function seen(d: UdpTunnelDevice): number {
  return d.stats.framesIn + d.stats.badDatagrams + d.stats.strangers;
}

describe('parseEndpoint', () => {
  it('reads host:port, :port and a bare port', () => {
    expect(parseEndpoint('10.0.0.1:4000')).toEqual({ host: '10.0.0.1', port: 4000 });
    expect(parseEndpoint(':4000')).toEqual({ host: '127.0.0.1', port: 4000 });
    expect(parseEndpoint('4000')).toEqual({ host: '127.0.0.1', port: 4000 });
    expect(parseEndpoint('[::1]:4000')).toEqual({ host: '::1', port: 4000 });
  });

  it('refuses what is not an endpoint', () => {
    for (const bad of ['', 'host:', 'host:x', 'host:70000', ':-1']) expect(() => parseEndpoint(bad)).toThrow(RangeError);
  });
});

describe('UdpTunnelDevice', () => {
  it('joins two hosts into one link: they ping each other with real time', async () => {
    const devA = await device({ mac: MAC_A, local: { host: '127.0.0.1', port: 0 } });
    // B knows A; A learns B from B's first frame (its ARP request).
    const devB = await device({ mac: MAC_B, local: { host: '127.0.0.1', port: 0 }, remote: devA.local });
    const clock = new RealClock();
    const a = createHost({ name: 'a', device: devA, ip: '10.88.0.1/24', clock });
    const b = createHost({ name: 'b', device: devB, ip: '10.88.0.2/24', clock });

    const fromB = await b.ping('10.88.0.1', { count: 3, intervalMs: 20, timeoutMs: 2000 });
    expect(fromB.received).toBe(3);
    expect(devA.remoteEndpoint).toEqual(devB.local);
    const fromA = await a.ping('10.88.0.2', { count: 3, intervalMs: 20, timeoutMs: 2000 });
    expect(fromA.received).toBe(3);

    expect(devA.stats.framesIn).toBe(devB.stats.framesOut);
    expect(devB.stats.framesIn).toBe(devA.stats.framesOut);
    expect(devA.stats.badDatagrams + devA.stats.strangers + devA.stats.sendErrors).toBe(0);
    expect(a.totalDrops() + b.totalDrops()).toBe(0);
  });

  it('resolves a remote given by name, so its datagrams are not taken for a stranger', async () => {
    const devA = await device({ mac: MAC_A, local: { host: '127.0.0.1', port: 0 } });
    const devB = await device({ mac: MAC_B, local: { host: '127.0.0.1', port: 0 }, remote: { host: 'localhost', port: devA.local.port } });
    devA.setRemote(devB.local);
    expect(devB.remoteEndpoint).toEqual({ host: '127.0.0.1', port: devA.local.port });
    const clock = new RealClock();
    createHost({ name: 'a', device: devA, ip: '10.88.1.1/24', clock });
    const b = createHost({ name: 'b', device: devB, ip: '10.88.1.2/24', clock });
    expect((await b.ping('10.88.1.1', { count: 1, timeoutMs: 2000 })).received).toBe(1);
    expect(devB.stats.strangers).toBe(0);
  });

  it('counts datagrams that cannot be frames and drops them; the link keeps working', async () => {
    const peer = await socket();
    const dev = await device({ mac: MAC_A, local: { host: '127.0.0.1', port: 0 }, remote: { host: '127.0.0.1', port: peer.address().port } });
    const got: Uint8Array[] = [];
    dev.attach((f) => got.push(f.slice()));

    await sendFrom(peer, dev, new Uint8Array(0)); // empty
    await sendFrom(peer, dev, new Uint8Array(13)); // shorter than an Ethernet header
    await sendFrom(peer, dev, new Uint8Array(1500 + 14 + 9)); // larger than any frame of a 1500-byte link
    const frame = emitEthernet({ dst: MAC_A, src: MAC_B, vlans: [], ethertype: ETHERTYPE_IPV4 }, new Uint8Array(46));
    await sendFrom(peer, dev, frame);
    await until(() => seen(dev) === 4);

    expect(dev.stats.badDatagrams).toBe(3);
    expect(dev.stats.framesIn).toBe(1);
    expect(got).toEqual([frame]);
  });

  it('ignores datagrams from anyone but its peer', async () => {
    const peer = await socket();
    const stranger = await socket();
    const dev = await device({ mac: MAC_A, local: { host: '127.0.0.1', port: 0 }, remote: { host: '127.0.0.1', port: peer.address().port } });
    const got: Uint8Array[] = [];
    dev.attach((f) => got.push(f.slice()));
    const frame = emitEthernet({ dst: MAC_A, src: MAC_B, vlans: [], ethertype: ETHERTYPE_IPV4 }, new Uint8Array(46));

    await sendFrom(stranger, dev, frame);
    await sendFrom(stranger, dev, new Uint8Array(3));
    await until(() => seen(dev) === 2);
    expect(dev.stats.strangers).toBe(2);
    expect(got).toHaveLength(0);

    await sendFrom(peer, dev, frame);
    await until(() => got.length === 1);
    expect(got).toHaveLength(1);
  });

  it('a host behind it survives malformed frames from the peer and still answers', async () => {
    const devA = await device({ mac: MAC_A, local: { host: '127.0.0.1', port: 0 } });
    const devB = await device({ mac: MAC_B, local: { host: '127.0.0.1', port: 0 }, remote: devA.local });
    devA.setRemote(devB.local);
    const clock = new RealClock();
    const a = createHost({ name: 'a', device: devA, ip: '10.88.2.1/24', clock });
    const b = createHost({ name: 'b', device: devB, ip: '10.88.2.2/24', clock });

    // From B's own address: an IPv4 frame whose header is garbage, and a runt.
    const junk = emitEthernet({ dst: MAC_A, src: MAC_B, vlans: [], ethertype: ETHERTYPE_IPV4 }, Uint8Array.of(0x45, 0, 0xff, 0xff, 1, 2, 3));
    devB.send(junk);
    devB.send(new Uint8Array(5));
    // (B's gratuitous ARP may arrive as well: wait for what this test sent.)
    await until(() => devA.stats.badDatagrams === 1 && a.totalDrops() >= 1);
    expect(devA.stats.badDatagrams).toBe(1);
    expect(a.totalDrops()).toBeGreaterThanOrEqual(1);

    expect((await b.ping(parseIp4('10.88.2.1'), { count: 2, intervalMs: 20, timeoutMs: 2000 })).received).toBe(2);
  });

  it('counts frames sent before the peer is known, and sends nothing after close', async () => {
    const dev = await device({ mac: MAC_A, local: { host: '127.0.0.1', port: 0 } });
    dev.send(new Uint8Array(60));
    expect(dev.stats.noRemote).toBe(1);
    await dev.close();
    dev.setRemote({ host: '127.0.0.1', port: 9 });
    dev.send(new Uint8Array(60));
    expect(dev.stats.framesOut).toBe(0);
  });
});
