import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng, VirtualClock } from '../../src/core/index.js';
import { createHost } from '../../src/host.js';
import { SimLink } from '../../src/layers/nic/sim-link.js';
import { FaultDevice, PcapDevice } from '../../src/layers/nic/wrappers.js';
import { Tcp, type TcpConnection, type TcpSlots } from '../../src/layers/tcp/index.js';
import { CaptureFormatError } from '../../src/trace/capture.js';
import { PcapWriter } from '../../src/trace/pcap.js';
import { encodePcapng } from '../../src/trace/pcapng.js';
import { createReplayStack, replayCapture, type ReplayOptions } from '../../src/trace/replay.js';
import type { FlowReport, FrameTrace } from '../../src/trace/report.js';
import { generateCapture } from '../../apps/bench/replay.js';
import { classicPcap, tcpFrame, type TcpEndpoint, type TcpFrameSpec } from './fixtures/frames.js';
import { tsharkFollowRaw } from './fixtures/tshark.js';
import { itNeeds, oracle } from '../support/needs.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const traces = (name: string): string => path.resolve(process.cwd(), 'test/fixtures/traces', name);

const tmp = mkdtempSync(path.join(tmpdir(), 'replay-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Replays an in-memory capture handed over in small chunks (records straddle them). */
async function replayBytes(bytes: Uint8Array, opts: ReplayOptions = {}) {
  const flows: FlowReport[] = [];
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < bytes.length; i += 777) yield bytes.subarray(i, i + 777);
  }
  const result = await replayCapture(chunks(), { ...opts, onFlow: (f) => flows.push(f) });
  return { flows, ...result };
}

const C: TcpEndpoint = { ip: [192, 168, 1, 10], port: 51000 };
const S: TcpEndpoint = { ip: [192, 168, 1, 1], port: 8080 };

/**
 * The frames of one connection carrying `ab` and `ba`: handshake, data both
 * ways in segments of the given sizes, FIN both ways. `fault` may rearrange
 * each direction's data segments (retransmissions, reordering, duplicates).
 */
function connection(
  c: TcpEndpoint,
  s: TcpEndpoint,
  ab: Uint8Array,
  ba: Uint8Array,
  rng: Rng,
  fault: (segs: TcpFrameSpec[]) => TcpFrameSpec[] = (x) => x,
): Uint8Array[] {
  const ci = rng.u32();
  const si = rng.u32();
  const specs: TcpFrameSpec[] = [
    { src: c, dst: s, seq: ci, syn: true },
    { src: s, dst: c, seq: si, ack: (ci + 1) >>> 0, syn: true },
    { src: c, dst: s, seq: (ci + 1) >>> 0, ack: (si + 1) >>> 0 },
  ];
  const data = (from: TcpEndpoint, to: TcpEndpoint, bytes: Uint8Array, isn: number, ack: number): TcpFrameSpec[] => {
    const out: TcpFrameSpec[] = [];
    for (let off = 0; off < bytes.length; ) {
      const len = Math.min(bytes.length - off, 1 + rng.int(rng.chance(0.3) ? 1400 : 100));
      out.push({ src: from, dst: to, seq: (isn + 1 + off) >>> 0, ack, payload: bytes.subarray(off, off + len) });
      off += len;
    }
    return fault(out);
  };
  const a = data(c, s, ab, ci, (si + 1) >>> 0);
  const b = data(s, c, ba, si, (ci + 1) >>> 0);
  // Interleave the two directions.
  while (a.length > 0 || b.length > 0) specs.push((rng.chance(0.5) && a.length > 0) || b.length === 0 ? a.shift()! : b.shift()!);
  const cEnd = (ci + 1 + ab.length) >>> 0;
  const sEnd = (si + 1 + ba.length) >>> 0;
  specs.push({ src: c, dst: s, seq: cEnd, ack: sEnd, fin: true });
  specs.push({ src: s, dst: c, seq: sEnd, ack: (cEnd + 1) >>> 0, fin: true });
  specs.push({ src: c, dst: s, seq: (cEnd + 1) >>> 0, ack: (sEnd + 1) >>> 0 });
  return specs.map(tcpFrame);
}

/** Retransmissions (some with new boundaries), duplicates and reordering, every byte still sent once at least. */
function faults(rng: Rng): (segs: TcpFrameSpec[]) => TcpFrameSpec[] {
  return (segs) => {
    const out: TcpFrameSpec[] = [];
    for (const s of segs) {
      out.push(s);
      const p = s.payload!;
      if (rng.chance(0.15)) out.push(s); // duplicate
      if (rng.chance(0.1) && p.length > 2) {
        // retransmitted later, cut in two
        const cut = 1 + rng.int(p.length - 1);
        out.push({ ...s, payload: p.subarray(0, cut) }, { ...s, seq: (s.seq + cut) >>> 0, payload: p.subarray(cut) });
      }
    }
    for (let i = 1; i < out.length; i++) if (rng.chance(0.2)) [out[i - 1], out[i]] = [out[i]!, out[i - 1]!];
    return out;
  };
}

describe('replay of the real Telnet captures (digests from test/fixtures/traces/README.md, i.e. tshark)', () => {
  const cases = [
    {
      file: 'telnet-raw.pcap',
      frames: 272,
      a: '192.168.0.2:1254',
      aToB: [259, 'd377bc56f926943eedc2c8b30ca983d47f8389bbbb0c88cd6519ab6519fc2fca'],
      bToA: [1742, '1e57217203e5da839f1f66f51658741991bed3887962ab9f3c73f59fa1e848a0'],
      keepAlives: 22,
    },
    {
      file: 'telnet-cooked.pcap',
      frames: 92,
      a: '192.168.0.2:1550',
      aToB: [263, 'fd08ed4e6a21e2baeb6840b90ef3fa41f43cfd48974fff663ad959a8e5407307'],
      bToA: [1371, '116b34c396c000749320f5f0d476c88e9b957bde93727683a7effcadfefc198c'],
      keepAlives: 0,
    },
  ] as const;
  for (const c of cases) {
    it(`reproduces tshark's streams for ${c.file}, every frame accounted for`, async () => {
      const flows: FlowReport[] = [];
      const { summary, error } = await replayCapture(traces(c.file), { onFlow: (f) => flows.push(f) });
      expect(error).toBeUndefined();
      expect(flows).toHaveLength(1);
      const f = flows[0]!;
      expect([f.stream, f.a, f.b]).toEqual([0, c.a, '192.168.0.1:23']);
      expect([f.aToB.bytes, f.aToB.sha256]).toEqual(c.aToB);
      expect([f.bToA.bytes, f.bToA.sha256]).toEqual(c.bToA);
      expect(f.packets).toBe(c.frames);
      expect(f.aToB.keepAlives).toBe(c.keepAlives);
      expect(f.aToB.gaps).toEqual([]);
      expect(f.handshake).toBe(true);
      expect(summary).toMatchObject({ frames: c.frames, format: 'pcap', flows: 1, telnetSessions: 1, dropTotal: 0, segments: c.frames });
    });
  }

  it('walks each frame up capture > ip > tcp > the observers, with the TCP verdict (--trace)', async () => {
    const traced: FrameTrace[] = [];
    await replayCapture(traces('telnet-cooked.pcap'), { onTrace: (t) => traced.push(t) });
    const frames = traced.filter((t) => t.type === 'frame');
    expect(frames).toHaveLength(92);
    expect(frames[0]!.path).toEqual(['capture', 'ip', 'tcp-observer', 'report', 'telnet-transcriber']);
    expect(frames[0]!.steps.map((s) => s.text)).toEqual([
      'stream 0 192.168.0.2:1550 <-> 192.168.0.1:23: new flow',
      'stream 0 192.168.0.2:1550 <-> 192.168.0.1:23 a->b [SYN] seq=0 len=0: empty',
    ]);
    expect(frames[3]!.steps.at(-1)!.text).toMatch(/a->b \[ACK\] seq=1 len=27: delivered$/);
    expect(frames.some((t) => t.steps.some((s) => s.text.endsWith(': retransmission')))).toBe(true);
    // A datagram claiming more than its frame holds: IP says what it did.
    expect(frames.some((t) => t.steps.some((s) => s.module === 'ip' && /exceeds the frame/.test(s.text)))).toBe(true);
    expect(frames.every((t) => t.outcome === 'ok')).toBe(true);
  });
});

describe('replay of synthetic captures', () => {
  it('rebuilds both directions exactly despite retransmissions, reordering and duplicates (and agrees with tshark)', async () => {
    const rng = new Rng(42);
    const conns = [0, 1, 2, 3].map((i) => ({
      c: { ip: [10, 1, 0, 1 + i], port: 40000 + i } as TcpEndpoint,
      ab: rng.bytes(3000 + rng.int(20000)),
      ba: rng.bytes(rng.int(9000)),
    }));
    const frames = conns.map((k) => connection(k.c, S, k.ab, k.ba, rng, faults(rng)));
    // Interleave the connections' frames.
    const all: Uint8Array[] = [];
    while (frames.some((f) => f.length > 0)) {
      const live = frames.filter((f) => f.length > 0);
      all.push(live[rng.int(live.length)]!.shift()!);
    }
    const file = classicPcap(all.map((data) => ({ data })));
    const { flows, summary } = await replayBytes(file);
    expect(summary.dropTotal).toBe(0);
    expect(flows).toHaveLength(4);
    for (const f of flows) {
      const k = conns.find((x) => f.a === `${x.c.ip.join('.')}:${x.c.port}`)!;
      expect(f.aToB.sha256).toBe(sha256(k.ab));
      expect(f.bToA.sha256).toBe(sha256(k.ba));
      expect(f.aToB.bytes).toBe(k.ab.length);
      expect(f.aToB.gaps).toEqual([]);
    }
    expect(flows.some((f) => f.aToB.retransmissions + f.bToA.retransmissions > 0)).toBe(true);
    expect(flows.some((f) => f.aToB.outOfOrder + f.bToA.outOfOrder > 0)).toBe(true);
    if (oracle('tshark')) {
      const p = path.join(tmp, 'synthetic.pcap');
      writeFileSync(p, file);
      const ts = tsharkFollowRaw(p, [0, 1, 2, 3]);
      for (const f of flows) {
        const t = ts.get(f.stream)!;
        expect(t.node0).toBe(f.a);
        expect([sha256(t.client), sha256(t.server)]).toEqual([f.aToB.sha256, f.bToA.sha256]);
      }
    }
  });

  it('replays the benchmark\'s traffic (many interleaved flows, Telnet among them) with retransmissions and reordering seen', async () => {
    const file = path.join(tmp, 'bench-traffic.pcap');
    const gen = await generateCapture(file, 6000, 48, 3);
    const flows: FlowReport[] = [];
    const { summary } = await replayCapture(file, { onFlow: (f) => flows.push(f) });
    expect(summary.frames).toBe(gen.frames);
    expect(flows).toHaveLength(gen.flows);
    expect(summary.telnetSessions).toBeGreaterThan(0);
    expect(flows.map((f) => f.stream)).toEqual(flows.map((_, i) => i));
    expect(flows.some((f) => f.aToB.retransmissions + f.bToA.retransmissions > 0)).toBe(true);
    expect(flows.some((f) => f.aToB.outOfOrder + f.bToA.outOfOrder > 0)).toBe(true);
  });

  it('gives the same results from records read as numbers (RecordColumns) as from record objects, whole and in a share', async () => {
    const file = path.join(tmp, 'bench-traffic.pcap');
    await generateCapture(file, 6000, 48, 3);
    for (const share of [undefined, { index: 0, count: 2 }, { index: 1, count: 3 }]) {
      const run = async (objects: boolean) => {
        const flows: FlowReport[] = [];
        const seen: number[] = [];
        // onRecord wants each record as an object: the reader then makes them all.
        // Short linger and idle times: flows end in timer tasks between frames, at the frame the clock reached.
        const { summary } = await replayCapture(file, {
          ...(share !== undefined ? { share } : {}),
          observer: { closedLingerMs: 0.2, idleTimeoutMs: 3 },
          onFlow: (f) => flows.push(f),
          ...(objects ? { onRecord: () => undefined } : {}),
          onStack: (stack) =>
            stack.tcp.observe(stack.rt.app('frames'), {
              onFlowStart: () => void seen.push(stack.link.current.index),
              onFlowEnd: () => void seen.push(-stack.link.current.index),
            }),
        });
        return { flows, seen, summary: { ...summary, elapsedMs: 0, framesPerSecond: 0, megabytesPerSecond: 0, heapUsedMb: 0 } };
      };
      const numbers = await run(false);
      const objects = await run(true);
      expect(numbers.flows.length).toBeGreaterThan(20);
      expect(numbers.flows.some((f) => f.ended.includes('idle'))).toBe(true);
      expect(numbers).toEqual(objects);
    }
  });

  itNeeds(['tshark'], "has tshark's bytes on every stream of that traffic", async () => {
    const file = path.join(tmp, 'bench-traffic.pcap');
    const flows: FlowReport[] = [];
    await replayCapture(file, { onFlow: (f) => flows.push(f) });
    const ts = tsharkFollowRaw(file, flows.map((f) => f.stream));
    for (const f of flows) {
      const t = ts.get(f.stream)!;
      expect([t.node0, sha256(t.client), sha256(t.server)]).toEqual([f.a, f.aToB.sha256, f.bToA.sha256]);
    }
  });

  it("replays a transfer the stack itself recorded under loss, duplication and reordering to exactly the bytes the applications sent", async () => {
    const clock = new VirtualClock();
    const link = new SimLink(clock, { seed: 3 });
    const file = path.join(tmp, 'recorded.pcap');
    const writer = new PcapWriter(file);
    // Recorded at host a, after the faults: what a sent, and what reached it.
    const device = new PcapDevice(new FaultDevice(link.attach('a'), clock, { seed: 9, loss: 0.1, duplicate: 0.05, reorder: 0.1 }), writer, clock);
    const a = createHost({ name: 'a', device, ip: '10.0.0.1/24', clock });
    const b = createHost({ name: 'b', link, ip: '10.0.0.2/24' });
    const tcpA = new Tcp(a.rt, a.ip);
    const tcpB = new Tcp(b.rt, b.ip);
    const rng = new Rng(5);
    const sentAB = rng.bytes(150_000);
    const sentBA = rng.bytes(40_000);
    let closed = 0;
    const received: [number, number] = [0, 0];
    const peer = (data: Uint8Array, side: 0 | 1): Partial<TcpSlots> => {
      let pos = 0;
      const pump = (c: TcpConnection): void => {
        while (pos < data.length) {
          const n = Math.min(1000, data.length - pos);
          const room = c.send(data.subarray(pos, pos + n));
          pos += n;
          if (!room) return;
        }
        c.shutdown();
      };
      return {
        onConnect: pump,
        onDrain: pump,
        onData: (_c, d) => void (received[side] += d.length),
        onClose: (_c, how) => void (how === 'closed' && closed++),
      };
    };
    tcpB.listen(2323, b.rt.app('server'), { onAccept: () => peer(sentBA, 1) });
    tcpA.connect(b.ip.address, 2323, a.rt.app('client'), peer(sentAB, 0));
    expect(clock.runUntil(() => closed === 2, 600_000)).toBe(true);
    expect(received).toEqual([sentBA.length, sentAB.length]);
    await writer.close();
    const st = (device.inner as FaultDevice).stats;
    expect(st.lost).toBeGreaterThan(0);
    expect(st.duplicated).toBeGreaterThan(0);
    expect(st.reordered).toBeGreaterThan(0);

    const flows: FlowReport[] = [];
    const { summary } = await replayCapture(file, { onFlow: (f) => flows.push(f), telnetPorts: [2323] });
    expect(flows).toHaveLength(1);
    const f = flows[0]!;
    expect(f.a).toBe(`10.0.0.1:${f.a.split(':')[1]}`);
    expect([f.aToB.bytes, f.aToB.sha256]).toEqual([sentAB.length, sha256(sentAB)]);
    expect([f.bToA.bytes, f.bToA.sha256]).toEqual([sentBA.length, sha256(sentBA)]);
    expect(f.aToB.retransmissions).toBeGreaterThan(0);
    expect(f.ended).toBe('closed');
    // ARP is not followed: counted at the link, nothing else dropped.
    expect(Object.keys(summary.drops)).toEqual(['capture']);
    if (oracle('tshark')) {
      const t = tsharkFollowRaw(file).get(0)!;
      expect([sha256(t.client), sha256(t.server)]).toEqual([f.aToB.sha256, f.bToA.sha256]);
    }
  });

  it('reads raw IPv4 (101, 228) and Linux cooked (113) captures', async () => {
    const rng = new Rng(7);
    const ab = enc('over a raw link');
    const ba = enc('and back');
    const eth = connection(C, S, ab, ba, rng);
    const raw = eth.map((f) => f.subarray(14));
    const sll = eth.map((f) => {
      const out = new Uint8Array(16 + f.length - 14);
      out.set([0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00], 0);
      out.set(f.subarray(14), 16);
      return out;
    });
    for (const [linkType, frames] of [[101, raw], [228, raw], [113, sll]] as const) {
      const { flows, summary } = await replayBytes(classicPcap(frames.map((data) => ({ data })), linkType));
      expect(summary.dropTotal).toBe(0);
      expect(flows.map((f) => [f.aToB.sha256, f.bToA.sha256])).toEqual([[sha256(ab), sha256(ba)]]);
    }
  });

  it('reads pcapng with several interfaces of different link types and timestamp resolutions', async () => {
    const rng = new Rng(8);
    const mk = (i: number): { c: TcpEndpoint; ab: Uint8Array; ba: Uint8Array; frames: Uint8Array[] } => {
      const c: TcpEndpoint = { ip: [172, 16, 0, i + 1], port: 3000 + i };
      const ab = rng.bytes(500 + rng.int(3000));
      const ba = rng.bytes(rng.int(2000));
      return { c, ab, ba, frames: connection(c, S, ab, ba, rng, faults(rng)) };
    };
    const flowsIn = [mk(0), mk(1), mk(2)];
    const records = [
      ...flowsIn[0]!.frames.map((data, k) => ({ data, interfaceId: 0, timestampNs: 1_700_000_000_000_000_000n + BigInt(k) * 1000n })),
      ...flowsIn[1]!.frames.map((data, k) => ({ data: data.subarray(14), interfaceId: 1, timestampNs: 1_700_000_001_000_000_000n + BigInt(k) * 1000n })),
      ...flowsIn[2]!.frames.map((data, k) => {
        const out = new Uint8Array(data.length + 2);
        out.set([0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0, 0x08, 0x00]);
        out.set(data.subarray(14), 16);
        return { data: out.subarray(0, data.length + 2), interfaceId: 2, timestampNs: 1_700_000_002_000_000_000n + BigInt(k) * 1000n };
      }),
    ];
    const file = encodePcapng(records, {
      byteOrder: 'be',
      interfaces: [{ linkType: 1 }, { linkType: 101, tsresol: 9 }, { linkType: 113, tsresol: 0x80 | 20 }],
    });
    const { flows, summary } = await replayBytes(file);
    expect(summary.format).toBe('pcapng');
    expect(summary.dropTotal).toBe(0);
    expect(flows).toHaveLength(3);
    for (const [i, f] of flows.entries()) {
      expect([f.aToB.sha256, f.bToA.sha256]).toEqual([sha256(flowsIn[i]!.ab), sha256(flowsIn[i]!.ba)]);
    }
    expect(flows[0]!.start).toBe('2023-11-14T22:13:20.000Z');
  });

  it('reports holes as gaps, never inventing bytes, and gives tshark\'s digest with its markers apart', async () => {
    const rng = new Rng(9);
    const ab = enc('0123456789abcdefghij');
    // Bytes 5..9 were sent but not captured; the server acknowledges them all the same.
    const parsed = [
      ...[
        { src: C, dst: S, seq: 100, syn: true },
        { src: S, dst: C, seq: 900, ack: 101, syn: true },
        { src: C, dst: S, seq: 101, ack: 901 },
        { src: C, dst: S, seq: 101, ack: 901, payload: ab.subarray(0, 5) },
        { src: S, dst: C, seq: 901, ack: 106 },
        { src: C, dst: S, seq: 111, ack: 901, payload: ab.subarray(10) },
        { src: S, dst: C, seq: 901, ack: 121 },
      ].map((x) => tcpFrame(x as TcpFrameSpec)),
    ];
    void rng;
    const file = classicPcap(parsed.map((data) => ({ data })));
    const { flows } = await replayBytes(file);
    const f = flows[0]!;
    const captured = f.aToB;
    expect(captured.gapCount).toBeGreaterThan(0);
    expect(captured.gaps[0]!.reason).toBe('acked-unseen');
    expect(captured.bytes).toBeLessThan(ab.length);
    expect(f.anomalies.some((x) => /bytes missing at offset/.test(x))).toBe(true);
    expect(captured.tshark).toBeDefined();
    if (oracle('tshark')) {
      const p = path.join(tmp, 'gap.pcap');
      writeFileSync(p, file);
      const t = tsharkFollowRaw(p).get(0)!;
      expect([t.client.length, sha256(t.client)]).toEqual([captured.tshark!.bytes, captured.tshark!.sha256]);
    }
  });

  it('numbers flows like tcp.stream across port reuse', async () => {
    const rng = new Rng(10);
    const first = connection(C, S, enc('first'), enc('1'), rng);
    const second = connection(C, S, enc('second'), enc('2'), rng);
    const { flows } = await replayBytes(classicPcap([...first, ...second].map((data) => ({ data }))));
    expect(flows.map((f) => [f.stream, f.aToB.bytes, f.ended])).toEqual([
      [0, 5, 'closed (port-reuse)'],
      [1, 6, 'closed'],
    ]);
  });

  it('follows snaplen-cut frames as far as they were captured', async () => {
    const rng = new Rng(11);
    const ab = rng.bytes(4000);
    const eth = connection(C, S, ab, new Uint8Array(0), rng);
    const file = classicPcap(eth.map((data) => ({ data: data.subarray(0, Math.min(data.length, 96)), originalLength: data.length })), 1, 96);
    const { flows, summary } = await replayBytes(file);
    expect(summary.dropTotal).toBe(0);
    expect(summary.repaired.snaplenCut).toBeGreaterThan(0);
    const d = flows[0]!.aToB;
    expect(d.gaps.every((g) => g.reason === 'truncated')).toBe(true);
    expect(d.wireBytes).toBe(ab.length);
    expect(d.bytes).toBeLessThan(ab.length);
  });

  it('stops at a damaged record with its offset, after reporting what came before', async () => {
    const rng = new Rng(12);
    const file = classicPcap(connection(C, S, enc('hello'), enc('world'), rng).map((data) => ({ data })));
    const cut = file.subarray(0, file.length - 10);
    const { flows, summary, error } = await replayBytes(cut);
    expect(error).toBeInstanceOf(CaptureFormatError);
    expect(error!.message).toMatch(/truncated record \d+: .* \(at byte offset \d+\)/);
    expect(error!.offset).toBeGreaterThan(24);
    expect(summary.error).toBe(error!.message);
    expect(flows).toHaveLength(1);
    await expect(replayBytes(enc('this is not a capture'))).rejects.toThrow(/not a pcap or pcapng file .*at byte offset 0/);
  });

  it('drops what it cannot follow with a reason, and goes on', async () => {
    const rng = new Rng(13);
    const good = connection(C, S, enc('fine'), enc(''), rng);
    const arp = new Uint8Array(42);
    arp.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    const v6 = new Uint8Array(60);
    v6.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd, 0x60]);
    const badIp = tcpFrame({ src: C, dst: S, seq: 1 });
    badIp[14] = 0x35; // version 3
    const { flows, summary } = await replayBytes(classicPcap([arp, v6, badIp, ...good].map((data) => ({ data }))));
    // The IPv6 frame climbs to IPv6 now (replay follows IPv6): its 46 bytes are no IPv6 header.
    expect(summary.drops).toEqual({ capture: { 'unknown-ethertype': 1 }, ip: { 'bad-version': 1 }, ipv6: { truncated: 1 } });
    expect(flows.map((f) => f.aToB.bytes)).toEqual([4]);
  });

  it('paces on the capture timestamps with speed', async () => {
    const rng = new Rng(14);
    const frames = connection(C, S, enc('a'), enc('b'), rng).map((data, i) => ({ data, timeUs: 1_700_000_000_000_000 + i * 20_000 }));
    const t0 = performance.now();
    await replayBytes(classicPcap(frames), { speed: 2 });
    // 8 frames 20 ms apart at twice the speed: about 70 ms, not the 140 ms of the capture nor 0.
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThan(50);
    expect(ms).toBeLessThan(2000);
  });
});

describe('createReplayStack', () => {
  it('is the same stack fed record by record, with the clock on capture time', () => {
    const flows: FlowReport[] = [];
    const stack = createReplayStack({ onFlow: (f) => flows.push(f) });
    const rng = new Rng(15);
    const frames = connection(C, S, enc('x'), enc('y'), rng);
    frames.forEach((data, i) => stack.feed({ index: i, timestampNs: 1_000_000_000_000n + BigInt(i) * 2_000_000n, linkType: 1, data, originalLength: data.length }));
    expect(stack.clock.now()).toBe(2 * (frames.length - 1));
    stack.finish();
    expect(flows).toHaveLength(1);
    expect(flows[0]!.durationMs).toBe(2 * (frames.length - 1));
    expect(flows[0]!.start).toBe('1970-01-01T00:16:40.000Z');
    expect(stack.rt.allModules().map((m) => m.name)).toEqual(['capture', 'ip', 'ipv6', 'icmpv6', 'ndp', 'tcp-observer', 'report', 'telnet-transcriber']);
    expect(() => stack.feed({ index: 99, timestampNs: 0n, linkType: 1, data: frames[0]!, originalLength: 60 })).toThrow(/after finish/);
  });
});

// The file is read by the CLI tests as well; keep the fixtures honest about what they are.
describe('fixtures', () => {
  it('the real captures are classic pcap', () => {
    expect(readFileSync(traces('telnet-raw.pcap')).readUInt32LE(0)).toBe(0xa1b2c3d4);
  });
});
