import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime, VirtualClock, type Module } from '../../../src/core/index.js';
import { Ip } from '../../../src/layers/ip.js';
import { CaptureLink } from '../../../src/layers/nic/capture-link.js';
import type { FollowDirection, FollowGap } from '../../../src/layers/tcp/follow.js';
import { TcpObserver, type ObservedFlow, type TcpObserverOptions } from '../../../src/layers/tcp/observer.js';
import { BufferPool } from '../../../src/wire/buffer.js';
import { classicPcap, tcpFrame, type TcpEndpoint, type TcpFrameSpec } from '../../trace/fixtures/frames.js';
import { tsharkPath } from '../../trace/fixtures/tshark.js';
import { itNeeds } from '../../support/needs.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

const C: TcpEndpoint = { ip: [10, 0, 0, 1], port: 40000 };
const S: TcpEndpoint = { ip: [10, 0, 0, 2], port: 23 };

interface Seen {
  readonly flow: ObservedFlow;
  readonly bytes: [string, string];
  readonly gaps: Array<[FollowDirection, FollowGap]>;
  ended: boolean;
}

/** The observer on the stack it lives on (capture link, promiscuous IP), with a recording observer bound. */
function observerStack(opts: TcpObserverOptions = {}) {
  const clock = new VirtualClock(0);
  const rt = new Runtime({ clock });
  const pool = new BufferPool();
  const link = new CaptureLink(rt, pool);
  const ip = new Ip(rt, link, null, pool, { address: 0, prefixLength: 0, promiscuous: true, verifyChecksum: false });
  const tcp = new TcpObserver(rt, ip, opts);
  const seen: Seen[] = [];
  const byFlow = new Map<ObservedFlow, Seen>();
  const app = rt.app('app');
  tcp.observe(app, {
    onFlowStart: (flow) => {
      const s: Seen = { flow, bytes: ['', ''], gaps: [], ended: false };
      seen.push(s);
      byFlow.set(flow, s);
    },
    onBytes: (flow, dir, data) => {
      byFlow.get(flow)!.bytes[dir] += text(data);
    },
    onGap: (flow, dir, gap) => {
      byFlow.get(flow)!.gaps.push([dir, gap]);
    },
    onFlowEnd: (flow) => {
      byFlow.get(flow)!.ended = true;
    },
  });
  let index = 0;
  /** Feeds a frame at capture time `ms` (default: 1 ms after the previous). */
  const feed = (frame: Uint8Array, ms = clock.now() + 1, originalLength = frame.length): void => {
    if (ms > clock.now()) clock.advanceTo(ms);
    link.input({ index: index++, timestampNs: BigInt(Math.round(ms * 1e6)), linkType: 1, data: frame, originalLength });
  };
  return { rt, clock, link, ip, tcp, seen, feed, app };
}

const seg = (spec: TcpFrameSpec): Uint8Array => tcpFrame(spec);
const handshake = (c: TcpEndpoint, s: TcpEndpoint, ci: number, si: number): Uint8Array[] => [
  seg({ src: c, dst: s, seq: ci, syn: true }),
  seg({ src: s, dst: c, seq: si, ack: ci + 1, syn: true }),
  seg({ src: c, dst: s, seq: ci + 1, ack: si + 1 }),
];

const tmp = mkdtempSync(path.join(tmpdir(), 'observer-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** tshark's tcp.stream of every frame. */
function tsharkStreams(frames: readonly Uint8Array[]): number[] {
  const file = path.join(tmp, `streams-${Math.random().toString(36).slice(2)}.pcap`);
  writeFileSync(file, classicPcap(frames.map((data) => ({ data }))));
  const out = execFileSync(tsharkPath!, ['-r', file, '-T', 'fields', '-e', 'tcp.stream'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.trim().split('\n').map(Number);
}

describe('TcpObserver: flows as tshark numbers them', () => {
  // Each case: the frames, and the stream each frame belongs to (checked against tshark 4.0 when installed).
  const cases: Array<{ name: string; frames: Uint8Array[]; streams: number[] }> = [
    {
      name: 'a new SYN on the same ports after a closed connection',
      frames: [
        ...handshake(C, S, 100, 500),
        seg({ src: C, dst: S, seq: 101, ack: 501, payload: enc('hi') }),
        seg({ src: C, dst: S, seq: 103, ack: 501, fin: true }),
        seg({ src: S, dst: C, seq: 501, ack: 104, fin: true }),
        seg({ src: C, dst: S, seq: 104, ack: 502 }),
        ...handshake(C, S, 9000, 7000),
      ],
      streams: [0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
    },
    {
      name: 'a new SYN while the old connection is still open',
      frames: [...handshake(C, S, 100, 500), seg({ src: C, dst: S, seq: 101, ack: 501, payload: enc('hi') }), ...handshake(C, S, 9000, 7000)],
      streams: [0, 0, 0, 0, 1, 1, 1],
    },
    {
      name: 'a retransmitted SYN (same ISN) is the same flow',
      frames: [seg({ src: C, dst: S, seq: 100, syn: true }), seg({ src: C, dst: S, seq: 100, syn: true }), seg({ src: S, dst: C, seq: 500, ack: 101, syn: true })],
      streams: [0, 0, 0],
    },
    {
      name: 'a SYN from the other side with a new ISN',
      frames: [...handshake(C, S, 100, 500), seg({ src: S, dst: C, seq: 3000, syn: true })],
      streams: [0, 0, 0, 1],
    },
    {
      name: 'mid-flow start: a SYN at the base taken from the first segment is the same flow, another is new',
      frames: [
        seg({ src: C, dst: S, seq: 101, ack: 501, payload: enc('hi') }),
        seg({ src: C, dst: S, seq: 100, syn: true }),
        seg({ src: C, dst: S, seq: 200, syn: true }),
      ],
      streams: [0, 0, 1],
    },
    {
      name: "the base taken from the peer's ACK",
      frames: [
        seg({ src: S, dst: C, seq: 501, ack: 101, payload: enc('hi') }),
        seg({ src: C, dst: S, seq: 100, syn: true }),
        seg({ src: C, dst: S, seq: 300, syn: true }),
      ],
      streams: [0, 0, 1],
    },
    {
      name: 'a SYN/ACK with a new ISN does not start a flow',
      frames: [...handshake(C, S, 100, 500), seg({ src: S, dst: C, seq: 3000, ack: 101, syn: true })],
      streams: [0, 0, 0, 0],
    },
  ];

  for (const c of cases) {
    itNeeds(['tshark'], `${c.name}: tshark numbers the streams the same`, () => {
      expect(tsharkStreams(c.frames)).toEqual(c.streams);
    });
    it(c.name, () => {
      const { tcp, feed, seen } = observerStack();
      const streams: number[] = [];
      for (const f of c.frames) {
        feed(f);
        // The flow the frame went to is the most recently active one of its tuple: the newest with the highest id.
        const live = tcp.flows().sort((x, y) => y.id - x.id);
        streams.push(live.find((x) => x.lastAt === Math.max(...live.map((y) => y.lastAt)))!.id);
      }
      expect(streams).toEqual(c.streams);
      tcp.finishAll();
      expect(seen.map((s) => s.flow.id)).toEqual([...new Set(c.streams)]);
    });
  }

  it('a is the sender of the first captured packet, even when that is the server', () => {
    const { tcp, feed, seen } = observerStack();
    feed(seg({ src: S, dst: C, seq: 501, ack: 101, payload: enc('login: ') }));
    feed(seg({ src: C, dst: S, seq: 101, ack: 508, payload: enc('root\r\n') }));
    tcp.finishAll();
    expect(seen).toHaveLength(1);
    expect([seen[0]!.flow.a, seen[0]!.flow.b]).toEqual(['10.0.0.2:23', '10.0.0.1:40000']);
    expect(seen[0]!.bytes).toEqual(['login: ', 'root\r\n']);
    expect(seen[0]!.flow.endReason).toBe('end-of-capture');
  });

  it('ends the old flow at port reuse and reports its bytes; the new flow starts from its SYN', () => {
    const { feed, seen, tcp } = observerStack();
    for (const f of handshake(C, S, 100, 500)) feed(f);
    feed(seg({ src: C, dst: S, seq: 101, ack: 501, payload: enc('first') }));
    for (const f of handshake(C, S, 9000, 7000)) feed(f);
    feed(seg({ src: C, dst: S, seq: 9001, ack: 7001, payload: enc('second') }));
    expect(seen[0]!.ended).toBe(true);
    expect(seen[0]!.flow.endReason).toBe('port-reuse');
    tcp.finishAll();
    expect(seen.map((s) => s.bytes[0])).toEqual(['first', 'second']);
    expect(seen.map((s) => s.flow.id)).toEqual([0, 1]);
  });
});

describe('TcpObserver: per-flow state and bounds', () => {
  it('counts packets, wire bytes, SYNs and keep-alives each way', () => {
    const { tcp, feed, seen } = observerStack();
    for (const f of handshake(C, S, 100, 500)) feed(f);
    feed(seg({ src: C, dst: S, seq: 101, ack: 501, payload: enc('abc') }));
    feed(seg({ src: C, dst: S, seq: 101, ack: 501, payload: enc('abc') })); // retransmission
    feed(seg({ src: C, dst: S, seq: 103, ack: 501, payload: enc('x') })); // keep-alive: one byte at next-1
    feed(seg({ src: S, dst: C, seq: 501, ack: 104 }));
    tcp.finishAll();
    const f = seen[0]!.flow;
    expect(f.packets).toEqual([5, 2]);
    expect(f.wireBytes).toEqual([7, 0]);
    expect(f.syn).toEqual([true, true]);
    expect(f.keepAlives).toEqual([1, 0]);
    expect(f.stats(0).retransmissions).toBe(2);
    expect(seen[0]!.bytes[0]).toBe('abc');
  });

  it('drops malformed TCP headers with a reason and goes on', () => {
    const { tcp, feed, seen } = observerStack();
    const bad = seg({ src: C, dst: S, seq: 1, payload: enc('zz') });
    bad[14 + 20 + 12] = 3 << 4; // data offset 12 bytes
    feed(bad);
    const cut = seg({ src: C, dst: S, seq: 1 }).slice(0, 14 + 20 + 10);
    cut[14 + 3] = 30; // IP total length 30: 10 bytes of TCP header
    feed(cut);
    const long = seg({ src: C, dst: S, seq: 1, payload: enc('zz') });
    long[14 + 20 + 12] = 15 << 4; // 60-byte header in a 22-byte segment
    feed(long);
    feed(seg({ src: C, dst: S, seq: 1, payload: enc('ok') }));
    tcp.finishAll();
    expect(Object.fromEntries(tcp.stats.dropReasons)).toEqual({ 'bad-data-offset': 1, 'truncated-header': 2 });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.bytes[0]).toBe('ok');
  });

  it('follows only the flows on the ports a binding asked for', () => {
    const { tcp, feed, app } = observerStack();
    const ports: number[] = [];
    tcp.observe(app, { onFlowStart: (f) => void ports.push(f.bPort) }, { ports: [23] });
    for (const f of handshake(C, S, 1, 1)) feed(f);
    for (const f of handshake(C, { ip: [10, 0, 0, 3], port: 80 }, 1, 1)) feed(f);
    expect(ports).toEqual([23]);
  });

  it('finishes a closed flow after its linger time, and counts stragglers against it instead of opening a new flow', () => {
    const { tcp, feed, seen } = observerStack({ closedLingerMs: 1000 });
    for (const f of handshake(C, S, 100, 500)) feed(f, 1);
    feed(seg({ src: C, dst: S, seq: 101, ack: 501, fin: true }), 2);
    feed(seg({ src: S, dst: C, seq: 501, ack: 102, fin: true }), 3);
    expect(seen[0]!.ended).toBe(false);
    // Another flow's packet 5 s later moves the clock: the sweep ran on the way.
    feed(seg({ src: { ip: [10, 0, 0, 9], port: 5 }, dst: S, seq: 7, payload: enc('x') }), 5000);
    expect(seen[0]!.ended).toBe(true);
    expect(seen[0]!.flow.endReason).toBe('closed');
    expect(tcp.liveFlows).toBe(1);
    feed(seg({ src: C, dst: S, seq: 102, ack: 502 }), 5001); // the last ACK, late
    expect(tcp.counters.afterEnd).toBe(1);
    expect(seen).toHaveLength(2);
    // A new connection on the same ports is a new flow.
    feed(seg({ src: C, dst: S, seq: 5000, syn: true }), 5002);
    expect(seen.map((s) => s.flow.id)).toEqual([0, 1, 2]);
  });

  it('keeps at most maxClosedFlows closed flows waiting', () => {
    const { tcp, feed, seen } = observerStack({ maxClosedFlows: 2 });
    for (let i = 0; i < 5; i++) {
      const c: TcpEndpoint = { ip: [10, 0, 1, i], port: 1000 + i };
      for (const f of handshake(c, S, 1, 1)) feed(f);
      feed(seg({ src: c, dst: S, seq: 2, ack: 2, rst: true }));
    }
    expect(seen.filter((s) => s.ended).map((s) => s.flow.id)).toEqual([0, 1, 2]);
    expect(tcp.liveFlows).toBe(2);
  });

  it('finishes the quietest flow beyond maxFlows; when it comes back it continues as part 2 of the same stream', () => {
    const { tcp, feed, seen } = observerStack({ maxFlows: 2 });
    const ends = [0, 1, 2].map((i): TcpEndpoint => ({ ip: [10, 0, 2, i], port: 2000 + i }));
    for (const c of ends) {
      for (const f of handshake(c, S, 10, 20)) feed(f);
      feed(seg({ src: c, dst: S, seq: 11, ack: 21, payload: enc(`one${c.port}`) }));
    }
    expect(seen[0]!.flow.endReason).toBe('flow-limit');
    feed(seg({ src: ends[0]!, dst: S, seq: 18, ack: 21, payload: enc('two') }));
    tcp.finishAll();
    const back = seen[3]!;
    expect([back.flow.id, back.flow.part]).toEqual([0, 2]);
    expect(back.bytes[0]).toBe('two');
    expect(tcp.counters.maxLiveFlows).toBe(2);
  });

  it('bounds held out-of-order data over all flows', () => {
    const { tcp, feed, seen } = observerStack({ maxHeldBytes: 100 });
    for (const f of handshake(C, S, 0, 0)) feed(f);
    feed(seg({ src: C, dst: S, seq: 1000, ack: 1, payload: new Uint8Array(80) }));
    expect(tcp.counters.heldBytes).toBe(80);
    feed(seg({ src: C, dst: S, seq: 2000, ack: 1, payload: new Uint8Array(80) }));
    expect(seen[0]!.flow.endReason).toBe('memory-limit');
    expect(tcp.counters.heldBytes).toBe(0);
    expect(seen[0]!.gaps.map(([, g]) => g.reason)).toEqual(['unfilled-at-end']);
  });

  it('takes bytes the snaplen cut as sent but not captured', () => {
    const { tcp, feed, seen } = observerStack();
    for (const f of handshake(C, S, 0, 0)) feed(f);
    const full = seg({ src: C, dst: S, seq: 1, ack: 1, payload: enc('0123456789') });
    feed(full.slice(0, full.length - 4), undefined, full.length);
    feed(seg({ src: C, dst: S, seq: 11, ack: 1, payload: enc('after') }));
    tcp.finishAll();
    expect(seen[0]!.bytes[0]).toBe('012345after');
    expect(seen[0]!.gaps.map(([d, g]) => [d, g.reason, g.length])).toEqual([[0, 'truncated', 4]]);
    expect(seen[0]!.flow.wireBytes[0]).toBe(15);
  });
});

describe('TcpObserver: an observer that fails', () => {
  it('expends the frame task, detaches that observer from the flow, and the stack goes on for everybody else', () => {
    const { rt, tcp, feed, seen } = observerStack();
    const bad: Module = rt.app('bad');
    let calls = 0;
    tcp.observe(bad, {
      onBytes: (_f, _d, data) => {
        calls++;
        if (text(data) === 'boom') throw new Error('observer bug');
      },
    });
    for (const f of handshake(C, S, 0, 0)) feed(f);
    feed(seg({ src: C, dst: S, seq: 1, ack: 1, payload: enc('boom') }));
    expect(rt.stats.tasksExpended).toBe(1);
    feed(seg({ src: C, dst: S, seq: 5, ack: 1, payload: enc('more') }));
    tcp.finishAll();
    expect(calls).toBe(1);
    // The recording observer was bound first: it got every byte.
    expect(seen[0]!.bytes[0]).toBe('boommore');
    expect(seen[0]!.flow.damaged).toMatch(/threw in bad\.onBytes: observer bug; that observer no longer follows/);
    expect(seen[0]!.ended).toBe(true);
  });
});
