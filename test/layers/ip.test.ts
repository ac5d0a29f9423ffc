import { describe, expect, it } from 'vitest';
import { Runtime, VirtualClock } from '../../src/core/index.js';
import { createHost, type Host } from '../../src/host.js';
import { Ip, type IpPacket } from '../../src/layers/ip.js';
import { CaptureLink } from '../../src/layers/nic/capture-link.js';
import { BufferPool } from '../../src/wire/buffer.js';
import { parseIp4 } from '../../src/wire/addr.js';
import { IPV4_FLAG_DF, IPV4_FLAG_MF } from '../../src/wire/ipv4.js';
import {
  describeFrame,
  ethernet,
  fragments,
  IP_A,
  IP_B,
  IP_X,
  ipFrame,
  ipv4,
  MAC_A,
  MAC_B,
  manualHost,
  pair,
  type DatagramFields,
} from './helpers.js';

const PROTO = 253;

interface Got {
  src: number;
  dst: number;
  ttl: number;
  data: Uint8Array;
  id: number;
}

function collect(h: Host, protocol = PROTO): Got[] {
  const got: Got[] = [];
  h.ip.bindProtocol(protocol, h.rt.app(`sink-${protocol}`), {
    onPacket: (p: IpPacket) => void got.push({ src: p.src, dst: p.dst, ttl: p.ttl, data: p.buf.copyPayload(), id: p.header.identification }),
  });
  return got;
}

function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + seed) & 0xff;
  return out;
}

function send(h: Host, dst: number, data: Uint8Array, opts?: Parameters<Host['ip']['send']>[3]): string {
  const buf = h.ip.alloc(data.length);
  buf.bytes.set(data, buf.start);
  return h.ip.send(dst, PROTO, buf, opts);
}

const dgram = (f: Partial<DatagramFields>): DatagramFields => ({ src: IP_A, dst: IP_B, protocol: PROTO, payload: pattern(16), ...f });

describe('Ip: delivery and demultiplexing', () => {
  it('delivers to the handler bound for the protocol, payload at buf.start, link padding trimmed', () => {
    const { dev, host } = manualHost();
    const got = collect(host);
    dev.inject(ipFrame(MAC_B, MAC_A, dgram({ payload: new Uint8Array([1, 2, 3]) }))); // 37 bytes: padded by nobody, fine
    const padded = new Uint8Array(60);
    padded.set(ipFrame(MAC_B, MAC_A, dgram({ payload: new Uint8Array([4, 5]) })));
    dev.inject(padded);
    expect(got.map((g) => [...g.data])).toEqual([[1, 2, 3], [4, 5]]);
    expect(got[0]!.src).toBe(IP_A);
    expect(host.ip.counters.delivered).toBe(2);
  });

  it('lets a handler bind any protocol number, one handler per number', () => {
    const { dev, host } = manualHost();
    const got200 = collect(host, 200);
    dev.inject(ipFrame(MAC_B, MAC_A, dgram({ protocol: 200 })));
    expect(got200).toHaveLength(1);
    const app = host.rt.app('other');
    host.rt.startTask(app, 'call', () => {
      expect(() => host.ip.bindProtocol(200, app, { onPacket() {} })).toThrow(/already bound/);
    });
  });

  it('accepts broadcasts, drops datagrams for other hosts (no forwarding)', () => {
    const { dev, host } = manualHost();
    const got = collect(host);
    dev.inject(ipFrame(MAC_B, MAC_A, dgram({ dst: parseIp4('255.255.255.255') })));
    dev.inject(ipFrame(MAC_B, MAC_A, dgram({ dst: parseIp4('10.0.0.255') })));
    dev.inject(ipFrame(MAC_B, MAC_A, dgram({ dst: IP_X })));
    expect(got).toHaveLength(2);
    expect(host.ip.stats.dropReasons.get('not-for-us')).toBe(1);
  });

  it('delivers everything in promiscuous mode, without answering with ICMP', () => {
    const { dev, host } = manualHost({ promiscuous: true });
    const got = collect(host);
    dev.inject(ipFrame(0x0200_0000_0077, MAC_A, dgram({ dst: IP_X })));
    dev.inject(ipFrame(MAC_B, MAC_A, dgram({ protocol: 99 }))); // no handler: no protocol-unreachable either
    expect(got).toHaveLength(1);
    expect(dev.sent).toHaveLength(0);
  });

  it('counts every malformed case by reason', () => {
    const { dev, host } = manualHost({ arp: { announce: false } });
    const good = ipv4(dgram({}));
    const inject = (d: Uint8Array): void => dev.inject(ethernet(MAC_B, MAC_A, 0x0800, d));
    const mutate = (f: (d: Uint8Array) => void): Uint8Array => {
      const d = good.slice();
      f(d);
      return d;
    };
    inject(good.slice(0, 12)); // truncated header
    inject(mutate((d) => (d[0] = 0x65))); // version 6
    inject(mutate((d) => (d[0] = 0x44))); // IHL 4 (16 bytes)
    inject(mutate((d) => (d[10]! ^= 0xff))); // checksum
    inject(ipv4(dgram({ totalLength: 10 }))); // total length below the header
    inject(ipv4(dgram({ totalLength: 200 }))); // total length beyond the frame
    inject(ipv4(dgram({ src: parseIp4('224.0.0.1') }))); // multicast source
    inject(ipv4(dgram({ flags: IPV4_FLAG_MF, payload: pattern(12) }))); // fragment not a multiple of 8
    inject(ipv4(dgram({ protocol: 99 }))); // nobody bound
    expect(Object.fromEntries(host.ip.stats.dropReasons)).toEqual({
      truncated: 2,
      'bad-version': 1,
      'bad-ihl': 1,
      'bad-checksum': 1,
      'bad-total-length': 1,
      'bad-source': 1,
      'bad-fragment': 1,
      'no-protocol': 1,
    });
    expect(host.ip.counters.received).toBe(9);
  });

  it('loops datagrams for its own address back on the clock', () => {
    const { clock, dev, host } = manualHost({ arp: { announce: false } });
    const got = collect(host);
    expect(send(host, IP_B, pattern(5))).toBe('sent');
    expect(got).toHaveLength(0);
    clock.runAll();
    expect(got.map((g) => [...g.data])).toEqual([[...pattern(5)]]);
    expect(dev.sent).toHaveLength(0);
    expect(host.pool.inUse).toBe(0);
  });
});

describe('Ip: sending and routing', () => {
  it('writes a correct header: TTL, protocol, addresses, fresh identification per datagram', () => {
    const { clock, link, a, b } = pair();
    const frames: Uint8Array[] = [];
    link.attach('watch').attach((f) => frames.push(f));
    const got = collect(b);
    send(a, IP_B, pattern(10), { ttl: 9 });
    send(a, IP_B, pattern(10));
    clock.runAll();
    expect(got.map((g) => g.ttl)).toEqual([9, 64]);
    expect(got[1]!.id).toBe((got[0]!.id + 1) & 0xffff);
    const ipFrames = frames.map(describeFrame).filter((f) => f.ip !== undefined);
    expect(ipFrames[0]!.ip!.protocol).toBe(PROTO);
    expect(ipFrames[0]!.dst).toBe(MAC_B);
  });

  it('routes off-link destinations to the gateway’s MAC', () => {
    const { clock, link, a } = pair({}, { gateway: '10.0.0.2' });
    const frames: Uint8Array[] = [];
    link.attach('watch').attach((f) => frames.push(f));
    const far = parseIp4('192.168.7.7');
    expect(a.ip.sourceFor(far)).toBe(IP_A);
    expect(send(a, far, pattern(4))).toBe('queued');
    clock.runAll();
    const out = frames.map(describeFrame).find((f) => f.ip?.dst === far);
    expect(out).toBeDefined();
    expect(out!.dst).toBe(MAC_B); // the router's MAC, the far host's IP
    expect(a.arp.lookup(parseIp4('10.0.0.2'))).toBe(MAC_B);
  });

  it('answers no-route without a matching route, and picks the longest prefix', () => {
    const { clock, a } = pair();
    expect(send(a, parseIp4('8.8.8.8'), pattern(4))).toBe('no-route');
    expect(a.ip.stats.dropReasons.get('no-route')).toBe(1);
    a.ip.addRoute(parseIp4('8.0.0.0'), 8, parseIp4('10.0.0.2'));
    a.ip.addRoute(parseIp4('8.8.0.0'), 16, parseIp4('10.0.0.3'));
    expect(a.ip.route(parseIp4('8.8.8.8'))!.gateway).toBe(parseIp4('10.0.0.3'));
    expect(a.ip.route(parseIp4('8.9.9.9'))!.gateway).toBe(parseIp4('10.0.0.2'));
    expect(a.ip.route(IP_B)!.gateway).toBe(0);
    expect(a.ip.removeRoute(parseIp4('8.8.0.0'), 16)).toBe(true);
    expect(a.ip.route(parseIp4('8.8.8.8'))!.gateway).toBe(parseIp4('10.0.0.2'));
    clock.runAll();
    expect(a.pool.inUse).toBe(0);
  });
});

describe('Ip: fragmentation and reassembly', () => {
  it('fragments above the MTU and the peer reassembles the same bytes', () => {
    const { clock, link, a, b } = pair();
    const frames: Uint8Array[] = [];
    link.attach('watch').attach((f) => frames.push(f));
    const got = collect(b);
    const data = pattern(4000);
    send(a, IP_B, data);
    clock.runAll();
    expect(got).toHaveLength(1);
    expect(got[0]!.data).toEqual(data);
    const frags = frames.map(describeFrame).filter((f) => f.ip?.protocol === PROTO);
    expect(frags.map((f) => [f.ip!.fragmentOffset, f.ip!.flags & IPV4_FLAG_MF, f.ip!.totalLength])).toEqual([
      [0, 1, 1500],
      [1480, 1, 1500],
      [2960, 0, 1060],
    ]);
    expect(a.ip.counters.fragmentsSent).toBe(3);
    expect(b.ip.counters.reassembled).toBe(1);
    expect(a.pool.inUse).toBe(0);
    expect(b.pool.inUse).toBe(0);
  });

  it('reassembles fragments in any order and ignores duplicates', () => {
    const { dev, host } = manualHost();
    const got = collect(host);
    const data = pattern(3000, 5);
    const parts = fragments(dgram({ payload: data, id: 77 }), 1000);
    for (const p of [parts[2]!, parts[0]!, parts[0]!, parts[1]!]) dev.inject(ethernet(MAC_B, MAC_A, 0x0800, p));
    expect(got).toHaveLength(1);
    expect(got[0]!.data).toEqual(data);
    expect(host.ip.stats.dropReasons.get('duplicate-fragment')).toBe(1);
    expect(host.ip.reassemblyState()).toEqual({ datagrams: 0, bytes: 0 });
  });

  it('keeps datagrams with the same id from different sources apart', () => {
    const { dev, host } = manualHost();
    const got = collect(host);
    const d1 = fragments(dgram({ payload: pattern(800, 1), id: 5 }), 400);
    const d2 = fragments(dgram({ src: IP_X, payload: pattern(800, 2), id: 5 }), 400);
    for (const p of [d1[0]!, d2[0]!, d2[1]!, d1[1]!]) dev.inject(ethernet(MAC_B, MAC_A, 0x0800, p));
    expect(got.map((g) => [g.src, g.data[0]])).toEqual([
      [IP_X, pattern(800, 2)[0]],
      [IP_A, pattern(800, 1)[0]],
    ]);
  });

  it('gives up an incomplete datagram after 30 s (counted), holding nothing after', () => {
    const { clock, dev, host } = manualHost();
    const got = collect(host);
    const parts = fragments(dgram({ payload: pattern(3000) }), 1000);
    dev.inject(ethernet(MAC_B, MAC_A, 0x0800, parts[0]!));
    dev.inject(ethernet(MAC_B, MAC_A, 0x0800, parts[2]!));
    expect(host.ip.reassemblyState()).toEqual({ datagrams: 1, bytes: 2000 });
    clock.advance(29_999);
    expect(host.ip.reassemblyState().datagrams).toBe(1);
    clock.advance(1);
    expect(host.ip.reassemblyState()).toEqual({ datagrams: 0, bytes: 0 });
    expect(host.ip.stats.dropReasons.get('reassembly-timeout')).toBe(1);
    // The missing piece arriving late starts a new datagram that times out in turn.
    dev.inject(ethernet(MAC_B, MAC_A, 0x0800, parts[1]!));
    expect(got).toHaveLength(0);
    expect(host.ip.liveTimers()).toBe(1);
  });

  it('bounds reassembly memory: the oldest datagrams are given up first (counted)', () => {
    const { dev, host } = manualHost({ ipOptions: { reassemblyMaxBytes: 4000 } });
    const got = collect(host);
    // Five datagrams, each missing its last fragment: 1000 bytes held per datagram.
    const all = Array.from({ length: 5 }, (_, i) => fragments(dgram({ payload: pattern(2000, i), id: 100 + i }), 1000));
    for (const d of all) dev.inject(ethernet(MAC_B, MAC_A, 0x0800, d[0]!));
    expect(host.ip.reassemblyState().bytes).toBeLessThanOrEqual(4000);
    expect(host.ip.stats.dropReasons.get('reassembly-overflow')).toBe(1);
    // The first datagram was given up; the last one still completes.
    dev.inject(ethernet(MAC_B, MAC_A, 0x0800, all[0]![1]!));
    dev.inject(ethernet(MAC_B, MAC_A, 0x0800, all[4]![1]!));
    expect(got.map((g) => g.id)).toEqual([104]);
    expect(host.ip.reassemblyState().bytes).toBeLessThanOrEqual(4000);
  });

  it('drops inconsistent fragments (two different ends) and what was held with them', () => {
    const { dev, host } = manualHost();
    const got = collect(host);
    dev.inject(ethernet(MAC_B, MAC_A, 0x0800, ipv4(dgram({ payload: pattern(16), fragmentOffset: 16 }))));
    dev.inject(ethernet(MAC_B, MAC_A, 0x0800, ipv4(dgram({ payload: pattern(16), fragmentOffset: 32 }))));
    expect(got).toHaveLength(0);
    expect(host.ip.stats.dropReasons.get('bad-fragment')).toBe(1);
    expect(host.ip.reassemblyState()).toEqual({ datagrams: 0, bytes: 0 });
  });

  it('respects DF: too big to send without fragmenting is dropped and counted', () => {
    const { a } = pair();
    expect(send(a, IP_B, pattern(2000), { df: true })).toBe('dropped');
    expect(a.ip.stats.dropReasons.get('needs-fragmentation')).toBe(1);
    expect(a.pool.inUse).toBe(0);
  });

  it('sets DF on the wire when asked and the datagram fits', () => {
    const { clock, link, a } = pair();
    const frames: Uint8Array[] = [];
    link.attach('watch').attach((f) => frames.push(f));
    send(a, IP_B, pattern(100), { df: true });
    clock.runAll();
    const f = frames.map(describeFrame).find((x) => x.ip?.protocol === PROTO)!;
    expect(f.ip!.flags & IPV4_FLAG_DF).toBe(IPV4_FLAG_DF);
  });

  it('fragments to a smaller link MTU', () => {
    const { clock, link, a, b } = pair({ mtu: 576 });
    const got = collect(b);
    send(a, IP_B, pattern(1500));
    clock.runAll();
    expect(got[0]!.data).toEqual(pattern(1500));
    expect(a.ip.counters.fragmentsSent).toBe(3);
    expect(link.stats.oversize).toBe(0);
  });
});

describe('Ip: lower layer through an interface', () => {
  it('runs on anything offering the link layer shape', () => {
    const made: string[] = [];
    const h = createHost({
      ip: '10.0.0.2/24',
      belowIp: (nic) => {
        made.push(nic.name);
        return nic;
      },
    });
    expect(made).toEqual(['nic']);
    expect(h.link).toBe(h.nic);
  });
});

describe('Ip: reassembly limits', () => {
  it('gives up a datagram sent in too many tiny fragments', () => {
    const { dev, host } = manualHost();
    collect(host);
    const parts = fragments(dgram({ payload: pattern(8 * 300) }), 8);
    for (const p of parts.slice(0, 299)) dev.inject(ethernet(MAC_B, MAC_A, 0x0800, p));
    expect(host.ip.stats.dropReasons.get('too-many-fragments')).toBeGreaterThan(0);
    expect(host.ip.reassemblyState().datagrams).toBeLessThanOrEqual(1);
    expect(host.ip.reassemblyState().bytes).toBeLessThanOrEqual(8 * 256);
  });
});

describe('Ip: captured datagrams in promiscuous mode', () => {
  /** Promiscuous IP on a capture link, as a replay builds it, with a sink recording what it is handed. */
  function replayIp() {
    const rt = new Runtime({ clock: new VirtualClock(0) });
    const link = new CaptureLink(rt, new BufferPool());
    const ip = new Ip(rt, link, null, new BufferPool(), { address: 0, prefixLength: 0, promiscuous: true, verifyChecksum: false });
    const got: Array<{ data: number[]; missing: number | undefined; totalLength: number; options: number[] }> = [];
    ip.bindProtocol(PROTO, rt.app('sink'), {
      onPacket: (p) => void got.push({ data: [...p.buf.copyPayload()], missing: p.missing, totalLength: p.header.totalLength, options: [...p.header.options] }),
    });
    let index = 0;
    /** A raw-IPv4 record (link type 228) of `data`, `originalLength` bytes on the wire. */
    const feed = (data: Uint8Array, originalLength = data.length): void =>
      link.input({ index: index++, timestampNs: 0n, linkType: 228, data, originalLength });
    return { ip, got, feed };
  }

  it('delivers a datagram the snaplen cut as far as captured, saying how many bytes the wire had beyond', () => {
    const { ip, got, feed } = replayIp();
    const whole = ipv4(dgram({ payload: pattern(100) }));
    feed(whole.slice(0, 60), whole.length);
    expect(got).toEqual([{ data: [...pattern(40)], missing: 60, totalLength: 120, options: [] }]);
    expect(ip.counters.snaplenCut).toBe(1);
    expect(ip.stats.drops).toBe(0);
  });

  it('takes a whole frame holding less than its total length as it is, with nothing missing', () => {
    const { ip, got, feed } = replayIp();
    feed(ipv4(dgram({ payload: pattern(10), totalLength: 200 })));
    expect(got).toEqual([{ data: [...pattern(10)], missing: 0, totalLength: 200, options: [] }]);
    expect(ip.counters.shortFrames).toBe(1);
  });

  it('takes a total length of 0 (segmentation offload) as the captured length, leaving the captured bytes as they were', () => {
    const { ip, got, feed } = replayIp();
    const d = ipv4(dgram({ payload: pattern(3000), totalLength: 0, options: new Uint8Array([1, 1, 1, 0]) }));
    const before = d.slice();
    feed(d);
    expect(got).toEqual([{ data: [...pattern(3000)], missing: 0, totalLength: 3024, options: [1, 1, 1, 0] }]);
    expect(ip.counters.offloadLength).toBe(1);
    expect(d).toEqual(before);
  });

  it('still drops a cut fragment, and a whole datagram has nothing missing', () => {
    const { ip, got, feed } = replayIp();
    const frag = ipv4(dgram({ payload: pattern(64), flags: IPV4_FLAG_MF }));
    feed(frag.slice(0, 50), frag.length);
    feed(ipv4(dgram({ payload: pattern(4) })));
    expect(ip.stats.dropReasons.get('truncated')).toBe(1);
    expect(got.map((g) => [g.data.length, g.missing])).toEqual([[4, 0]]);
  });

  it('leaves live IP as strict as ever: cut and zero-length datagrams are dropped', () => {
    const { dev, host } = manualHost({ arp: { announce: false } });
    const got = collect(host);
    dev.inject(ethernet(MAC_B, MAC_A, 0x0800, ipv4(dgram({ totalLength: 200 }))));
    dev.inject(ethernet(MAC_B, MAC_A, 0x0800, ipv4(dgram({ totalLength: 0 }))));
    expect(got).toHaveLength(0);
    expect(Object.fromEntries(host.ip.stats.dropReasons)).toEqual({ truncated: 1, 'bad-total-length': 1 });
    expect(host.ip.counters).toMatchObject({ snaplenCut: 0, shortFrames: 0, offloadLength: 0 });
  });
});
