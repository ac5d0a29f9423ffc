/**
 * The observer follows IPv6 flows as it follows IPv4 ones: one observer bound
 * to both network modules, flows keyed by addresses of either family, one
 * sequence of stream numbers (tshark's tcp.stream), segments beyond 65535 bytes
 * (IPv6 jumbograms, "BIG TCP") followed byte-exact.
 */
import { describe, expect, it } from 'vitest';
import { Runtime, VirtualClock } from '../../../src/core/index.js';
import { Ip } from '../../../src/layers/ip.js';
import { attachIpv6 } from '../../../src/layers/ipv6/index.js';
import { CaptureLink } from '../../../src/layers/nic/capture-link.js';
import { TcpObserver, type ObservedFlow } from '../../../src/layers/tcp/observer.js';
import { BufferPool } from '../../../src/wire/buffer.js';
import { parseIp6 } from '../../../src/wire/addr6.js';
import { tcpFrame, type TcpEndpoint } from '../../trace/fixtures/frames.js';

interface Seg6 {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: number;
  payload?: Uint8Array;
  /** Send as a jumbogram (payload length 0, jumbo option in a hop-by-hop header). */
  jumbo?: boolean;
}

const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;

/** A raw-IP (link type 101) IPv6 TCP datagram; checksums left 0 (replay does not check them, as tshark). */
function v6(s: Seg6): Uint8Array {
  const payload = s.payload ?? new Uint8Array(0);
  const hbh = s.jumbo === true ? 8 : 0;
  const out = new Uint8Array(40 + hbh + 20 + payload.length);
  const v = new DataView(out.buffer);
  out[0] = 0x60;
  v.setUint16(4, s.jumbo === true ? 0 : 20 + payload.length);
  out[6] = s.jumbo === true ? 0 : 6;
  out[7] = 64;
  out.set(parseIp6(s.src), 8);
  out.set(parseIp6(s.dst), 24);
  if (s.jumbo === true) {
    out[40] = 6; // next header TCP, length 0 (8 bytes): the jumbo option (type 0xc2, length 4)
    out[42] = 0xc2;
    out[43] = 4;
    v.setUint32(44, 8 + 20 + payload.length);
  }
  const t = 40 + hbh;
  v.setUint16(t, s.sport);
  v.setUint16(t + 2, s.dport);
  v.setUint32(t + 4, s.seq >>> 0);
  v.setUint32(t + 8, (s.ack ?? 0) >>> 0);
  out[t + 12] = 5 << 4;
  out[t + 13] = s.flags;
  v.setUint16(t + 14, 65535);
  out.set(payload, t + 20);
  return out;
}

/** An IPv4 frame as raw IP (the Ethernet header cut off). */
const v4 = (spec: Parameters<typeof tcpFrame>[0]): Uint8Array => tcpFrame(spec).subarray(14);

function stack() {
  const clock = new VirtualClock(0);
  const rt = new Runtime({ clock });
  const pool = new BufferPool();
  const link = new CaptureLink(rt, pool);
  const ip = new Ip(rt, link, null, pool, { address: 0, prefixLength: 0, promiscuous: true, verifyChecksum: false });
  const { ipv6 } = attachIpv6(rt, link, pool, link.mac, { promiscuous: true });
  const tcp = new TcpObserver(rt, [ip, ipv6], { closedLingerMs: 10 });
  const flows: ObservedFlow[] = [];
  const bytes = new Map<ObservedFlow, [number[], number[]]>();
  tcp.observe(rt.app('app'), {
    onFlowStart: (f) => {
      flows.push(f);
      bytes.set(f, [[], []]);
    },
    onBytes: (f, dir, data) => {
      const into = bytes.get(f)![dir];
      for (const b of data) into.push(b);
    },
  });
  let index = 0;
  const feed = (data: Uint8Array): void => {
    clock.advanceTo(clock.now() + 1);
    // Each frame in a buffer of its own: addresses of one flow never share memory between packets.
    link.input({ index: index++, timestampNs: BigInt(clock.now()) * 1_000_000n, linkType: 101, data: data.slice(), originalLength: data.length });
  };
  return { rt, clock, tcp, flows, bytes, feed };
}

const C4: TcpEndpoint = { ip: [10, 0, 0, 1], port: 5000 };
const S4: TcpEndpoint = { ip: [10, 0, 0, 2], port: 80 };

describe('TcpObserver over IPv6', () => {
  it('numbers IPv4 and IPv6 flows in one sequence, in order of first appearance, and keeps them apart', () => {
    const s = stack();
    // The same ports in both families: two flows, never one.
    s.feed(v6({ src: 'fd00::1', dst: 'fd00::2', sport: 5000, dport: 80, seq: 100, flags: SYN }));
    s.feed(v4({ src: C4, dst: S4, seq: 700, syn: true }));
    s.feed(v6({ src: 'fd00::2', dst: 'fd00::1', sport: 80, dport: 5000, seq: 900, ack: 101, flags: SYN | ACK }));
    s.feed(v6({ src: 'fd00::1', dst: 'fd00::3', sport: 5000, dport: 80, seq: 1, flags: SYN }));
    s.feed(v6({ src: 'fd00::1', dst: 'fd00::2', sport: 5000, dport: 80, seq: 101, ack: 901, flags: ACK, payload: new TextEncoder().encode('GET /') }));
    s.feed(v4({ src: S4, dst: C4, seq: 300, ack: 701, syn: true }));
    expect(s.flows.map((f) => [f.id, f.a, f.b])).toEqual([
      [0, '[fd00::1]:5000', '[fd00::2]:80'],
      [1, '10.0.0.1:5000', '10.0.0.2:80'],
      [2, '[fd00::1]:5000', '[fd00::3]:80'],
    ]);
    expect(s.flows[0]!.packets).toEqual([2, 1]);
    expect(s.flows[1]!.packets).toEqual([1, 1]);
    expect(Buffer.from(s.bytes.get(s.flows[0]!)![0]).toString()).toBe('GET /');
    // Addresses are the flow's own copies, not views into a frame.
    expect(s.flows[0]!.aIp).toBeInstanceOf(Uint8Array);
    expect((s.flows[0]!.aIp as Uint8Array).buffer.byteLength).toBe(16);
  });

  it('starts a new stream on an IPv6 tuple reused with a new ISN, and counts a straggler after a close', () => {
    const s = stack();
    const a = { src: 'fd00::1', dst: 'fd00::2', sport: 4000, dport: 22 };
    const b = { src: 'fd00::2', dst: 'fd00::1', sport: 22, dport: 4000 };
    s.feed(v6({ ...a, seq: 10, flags: SYN }));
    s.feed(v6({ ...b, seq: 50, ack: 11, flags: SYN | ACK }));
    s.feed(v6({ ...a, seq: 5000, flags: SYN }));
    expect(s.flows.map((f) => [f.id, f.endReason])).toEqual([[0, 'port-reuse'], [1, undefined]]);
    s.feed(v6({ ...b, seq: 60, ack: 5001, flags: SYN | ACK }));
    s.feed(v6({ ...a, seq: 5001, ack: 61, flags: FIN | ACK }));
    s.feed(v6({ ...b, seq: 61, ack: 5002, flags: FIN | ACK }));
    s.clock.advance(50);
    expect(s.flows[1]!.endReason).toBe('closed');
    s.feed(v6({ ...a, seq: 5002, ack: 62, flags: ACK }));
    expect(s.tcp.counters.afterEnd).toBe(1);
    expect(s.flows).toHaveLength(2);
  });

  it('follows a segment beyond 65535 bytes (a jumbogram) byte-exact, and the segment after it', () => {
    const s = stack();
    const a = { src: '2001:db8::1', dst: '2001:db8::2', sport: 43001, dport: 80 };
    const big = new Uint8Array(100_000).map((_, i) => (i * 31 + (i >>> 8)) & 0xff);
    s.feed(v6({ ...a, seq: 1000, flags: SYN }));
    s.feed(v6({ ...a, seq: 1001, flags: ACK, payload: big, jumbo: true }));
    s.feed(v6({ ...a, seq: 1001 + big.length, flags: ACK, payload: Uint8Array.of(1, 2, 3) }));
    const f = s.flows[0]!;
    expect(f.wireBytes[0]).toBe(100_003);
    expect(f.stats(0).retransmissions).toBe(0);
    const got = Uint8Array.from(s.bytes.get(f)![0]);
    expect(got.length).toBe(100_003);
    expect(Buffer.from(got.subarray(0, 100_000)).equals(Buffer.from(big))).toBe(true);
    expect([...got.subarray(100_000)]).toEqual([1, 2, 3]);
  });
});
