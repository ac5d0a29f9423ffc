import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/random.js';
import {
  FlowFollower,
  FollowCollector,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
  wiresharkGapMarker,
  type FollowDirection,
  type FollowOptions,
  type FollowVerdict,
} from '../../../src/layers/tcp/follow.js';
import {
  classicPcap,
  classicPcapFrames,
  parseTcpFrame,
  tcpFrame,
  type TcpEndpoint,
} from '../../trace/fixtures/frames.js';
import { tsharkFollowRaw } from '../../trace/fixtures/tshark.js';
import { describeNeeds } from '../../support/needs.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function follower(opts: Omit<FollowOptions, 'onBytes' | 'onGap'> = {}): { f: FlowFollower; out: FollowCollector } {
  const out = new FollowCollector();
  return { f: new FlowFollower({ ...opts, onBytes: out.onBytes, onGap: out.onGap }), out };
}

const tmp = mkdtempSync(path.join(tmpdir(), 'follow-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Feeds every TCP frame of a capture; direction 0 is the sender of the first TCP frame. */
function followFrames(frames: readonly Uint8Array[], opts: Omit<FollowOptions, 'onBytes' | 'onGap'> = {}) {
  const { f, out } = follower(opts);
  let first: string | undefined;
  const verdicts: FollowVerdict[] = [];
  for (const frame of frames) {
    const t = parseTcpFrame(frame);
    if (t === undefined) continue;
    const from = `${t.srcIp}:${t.srcPort}`;
    first ??= from;
    verdicts.push(f.segment(from === first ? 0 : 1, t.seq, t.ack, t.flags, t.payload));
  }
  f.finish();
  return { f, out, verdicts };
}

describe('FlowFollower on the real Telnet captures (digests from test/fixtures/traces/README.md)', () => {
  const cases = [
    {
      file: 'telnet-raw.pcap',
      c2s: [259, 'd377bc56f926943eedc2c8b30ca983d47f8389bbbb0c88cd6519ab6519fc2fca'],
      s2c: [1742, '1e57217203e5da839f1f66f51658741991bed3887962ab9f3c73f59fa1e848a0'],
    },
    {
      file: 'telnet-cooked.pcap',
      c2s: [263, 'fd08ed4e6a21e2baeb6840b90ef3fa41f43cfd48974fff663ad959a8e5407307'],
      s2c: [1371, '116b34c396c000749320f5f0d476c88e9b957bde93727683a7effcadfefc198c'],
    },
  ] as const;
  for (const c of cases) {
    it(`reassembles ${c.file} byte for byte in both directions`, () => {
      const file = path.resolve(process.cwd(), 'test/fixtures/traces', c.file);
      const { f, out } = followFrames(classicPcapFrames(readFileSync(file)));
      const c2s = out.wiresharkBytes(0);
      const s2c = out.wiresharkBytes(1);
      expect([c2s.length, sha256(c2s)]).toEqual(c.c2s);
      expect([s2c.length, sha256(s2c)]).toEqual(c.s2c);
      expect(out.bytes(0)).toEqual(c2s);
      expect(f.stats(0).gaps).toEqual([]);
      expect(f.stats(1).gaps).toEqual([]);
      expect(f.stats(0).bytes).toBe(c.c2s[0]);
      expect(f.stats(1).bytes).toBe(c.s2c[0]);
    });
  }
});

// ---------------------------------------------------------------------------
// Hand-made flows. Each expected result below is what tshark 4.0 prints for
// the same packets (checked again against tshark, when installed, further down).

interface Pkt {
  /** Sent by the client (the side that sends the first packet of the case). */
  readonly c: boolean;
  readonly seq: number;
  readonly ack?: number;
  readonly syn?: boolean;
  readonly fin?: boolean;
  readonly rst?: boolean;
  readonly p?: string;
}

interface Case {
  readonly name: string;
  readonly pkts: readonly Pkt[];
  readonly client: string;
  readonly server: string;
  readonly verdicts?: readonly FollowVerdict[];
}

const CI = 1000;
const SI = 5000;
const hs = (ci: number, si: number): Pkt[] => [
  { c: true, seq: ci, syn: true },
  { c: false, seq: si, ack: ci + 1, syn: true },
  { c: true, seq: ci + 1, ack: si + 1 },
];

const handCases: Case[] = [
  {
    name: 'plain exchange after a handshake',
    pkts: [...hs(CI, SI), { c: true, seq: CI + 1, ack: SI + 1, p: 'hello' }, { c: false, seq: SI + 1, ack: CI + 6, p: 'world' }],
    client: 'hello',
    server: 'world',
    verdicts: ['empty', 'empty', 'empty', 'delivered', 'delivered'],
  },
  {
    name: 'an overlapping retransmission with different bytes keeps the bytes written first',
    pkts: [
      ...hs(CI, SI),
      { c: true, seq: CI + 1, ack: SI + 1, p: 'AAAAAAAAAA' },
      { c: true, seq: CI + 6, ack: SI + 1, p: 'BBBBBBBBBB' },
      { c: true, seq: CI + 1, ack: SI + 1, p: 'CCCCCCCCCC' },
    ],
    client: 'AAAAAAAAAABBBBB',
    server: '',
    verdicts: ['empty', 'empty', 'empty', 'delivered', 'partial-overlap', 'retransmission'],
  },
  {
    name: 'an out-of-order segment is held until the hole fills',
    pkts: [...hs(CI, SI), { c: true, seq: CI + 11, ack: SI + 1, p: 'XXXXXXXXXX' }, { c: true, seq: CI + 1, ack: SI + 1, p: 'AAAAAAAAAA' }],
    client: 'AAAAAAAAAAXXXXXXXXXX',
    server: '',
    verdicts: ['empty', 'empty', 'empty', 'out-of-order', 'filled'],
  },
  {
    name: 'an in-order segment wins over held data it overlaps',
    pkts: [
      ...hs(CI, SI),
      { c: true, seq: CI + 11, ack: SI + 1, p: 'XXXXXXXXXX' },
      { c: true, seq: CI + 1, ack: SI + 1, p: 'AAAAAAAAAAAAAAA' },
    ],
    client: 'AAAAAAAAAAAAAAAXXXXX',
    server: '',
  },
  {
    name: 'held segments are tried in arrival order (shorter first)',
    pkts: [
      ...hs(CI, SI),
      { c: true, seq: CI + 11, ack: SI + 1, p: 'YYYYY' },
      { c: true, seq: CI + 11, ack: SI + 1, p: 'XXXXXXXXXX' },
      { c: true, seq: CI + 1, ack: SI + 1, p: 'AAAAAAAAAA' },
    ],
    client: 'AAAAAAAAAAYYYYYXXXXX',
    server: '',
  },
  {
    name: 'held segments are tried in arrival order (longer first)',
    pkts: [
      ...hs(CI, SI),
      { c: true, seq: CI + 11, ack: SI + 1, p: 'XXXXXXXXXX' },
      { c: true, seq: CI + 13, ack: SI + 1, p: 'YYYYYYYYYYYYY' },
      { c: true, seq: CI + 14, ack: SI + 1, p: 'ZZZ' },
      { c: true, seq: CI + 1, ack: SI + 1, p: 'AAAAAAAAAA' },
    ],
    client: 'AAAAAAAAAAXXXXXXXXXXYYYYY',
    server: '',
    verdicts: ['empty', 'empty', 'empty', 'out-of-order', 'out-of-order', 'duplicate', 'filled'],
  },
  {
    name: 'a hole the peer acknowledged is skipped (tshark writes a marker there)',
    pkts: [
      ...hs(CI, SI),
      { c: true, seq: CI + 1, ack: SI + 1, p: 'AAAAAAAAAA' },
      { c: true, seq: CI + 21, ack: SI + 1, p: 'CCCCCCCCCC' },
      { c: false, seq: SI + 1, ack: CI + 31 },
      { c: true, seq: CI + 31, ack: SI + 1, p: 'DD' },
    ],
    client: 'AAAAAAAAAA[10 bytes missing in capture file]\0CCCCCCCCCCDD',
    server: '',
    verdicts: ['empty', 'empty', 'empty', 'delivered', 'out-of-order', 'gap-skipped', 'delivered'],
  },
  {
    name: 'an ACK that reaches just into held data releases all of it',
    pkts: [
      ...hs(CI, SI),
      { c: true, seq: CI + 1, ack: SI + 1, p: 'AAAAAAAAAA' },
      { c: true, seq: CI + 21, ack: SI + 1, p: 'CCCCCCCCCC' },
      { c: false, seq: SI + 1, ack: CI + 22 },
    ],
    client: 'AAAAAAAAAA[10 bytes missing in capture file]\0CCCCCCCCCC',
    server: '',
  },
  {
    name: 'an ACK up to the held data (not beyond) skips nothing',
    pkts: [
      ...hs(CI, SI),
      { c: true, seq: CI + 1, ack: SI + 1, p: 'AAAAAAAAAA' },
      { c: true, seq: CI + 21, ack: SI + 1, p: 'CCCCCCCCCC' },
      { c: false, seq: SI + 1, ack: CI + 21 },
    ],
    client: 'AAAAAAAAAA',
    server: '',
  },
  {
    name: 'data behind a hole never acknowledged is not written',
    pkts: [
      ...hs(CI, SI),
      { c: true, seq: CI + 1, ack: SI + 1, p: 'AAAAAAAAAA' },
      { c: true, seq: CI + 21, ack: SI + 1, p: 'CCCCCCCCCC' },
      { c: false, seq: SI + 1, ack: CI + 11, p: 'srv' },
      { c: true, seq: CI + 31, ack: SI + 4, p: 'DD' },
    ],
    client: 'AAAAAAAAAA',
    server: 'srv',
  },
  {
    name: 'a capture that starts mid-flow follows from the first segment seen',
    pkts: [
      { c: true, seq: CI, ack: SI, p: 'hello' },
      { c: false, seq: SI, ack: CI + 5, p: 'world' },
      { c: true, seq: CI + 5, ack: SI + 5, p: '!' },
      { c: true, seq: CI - 3, ack: SI + 5, p: 'old' },
    ],
    client: 'hello!',
    server: 'world',
    verdicts: ['delivered', 'delivered', 'delivered', 'before-start'],
  },
  {
    name: 'a first pure ACK fixes where a direction starts',
    pkts: [
      { c: true, seq: CI, ack: SI },
      { c: true, seq: CI + 10, ack: SI, p: 'late' },
      { c: false, seq: SI, ack: CI, p: 'srv' },
    ],
    client: '',
    server: 'srv',
  },
  {
    name: "a segment behind the peer's ACK is followed from there",
    pkts: [
      { c: true, seq: CI, ack: SI, p: 'x' },
      { c: false, seq: SI - 3, ack: CI + 1, p: 'abcdef' },
    ],
    client: 'x',
    server: 'abcdef',
  },
  {
    name: 'Wireshark quirk: a keep-alive-like first segment at ACK-1 does not fix the start',
    pkts: [
      { c: true, seq: CI, ack: SI, p: 'x' },
      { c: false, seq: SI - 1, ack: CI + 1 },
      { c: false, seq: SI + 5, ack: CI + 1, p: 'late' },
    ],
    client: 'x',
    server: 'late',
  },
  {
    name: "but a first segment at the peer's ACK does",
    pkts: [
      { c: true, seq: CI, ack: SI, p: 'x' },
      { c: false, seq: SI, ack: CI + 1 },
      { c: false, seq: SI + 5, ack: CI + 1, p: 'late' },
    ],
    client: 'x',
    server: '',
  },
  {
    name: 'sequence numbers wrap around 2^32',
    pkts: [
      ...hs(0xfffffff8, 0xfffffffe),
      { c: true, seq: 0xfffffff9, ack: 0xffffffff, p: 'ABCDEFGHIJKL' },
      { c: true, seq: 9, ack: 0xffffffff, p: 'op' },
      { c: true, seq: 5, ack: 0xffffffff, p: 'mn' },
      { c: true, seq: 5, ack: 0xffffffff, p: 'MN' },
      { c: true, seq: 7, ack: 0xffffffff, p: 'kl' },
      { c: false, seq: 0xffffffff, ack: 11, p: 'xyz' },
    ],
    client: 'ABCDEFGHIJKLmnklop',
    server: 'xyz',
  },
  {
    name: 'data on a SYN starts after the ISN; FIN and RST change nothing',
    pkts: [
      { c: true, seq: CI, syn: true, p: 'tfo' },
      { c: false, seq: SI, ack: CI + 4, syn: true },
      { c: true, seq: CI + 4, ack: SI + 1, p: 'more', fin: true },
      { c: false, seq: SI + 1, ack: CI + 9, rst: true, p: 'bye' },
    ],
    client: 'tfomore',
    server: 'bye',
  },
];

function pktFlags(p: Pkt): number {
  return (
    (p.syn ? TCP_SYN : 0) | (p.fin ? TCP_FIN : 0) | (p.rst ? TCP_RST : 0) | (p.ack !== undefined ? TCP_ACK : 0)
  );
}

function runCase(pkts: readonly Pkt[], opts: Omit<FollowOptions, 'onBytes' | 'onGap'> = {}) {
  const { f, out } = follower(opts);
  const verdicts = pkts.map((p) => f.segment(p.c ? 0 : 1, p.seq >>> 0, (p.ack ?? 0) >>> 0, pktFlags(p), enc(p.p ?? '')));
  f.finish();
  return { f, out, verdicts };
}

describe('FlowFollower semantics on hand-made flows', () => {
  for (const c of handCases) {
    it(c.name, () => {
      const { out, verdicts } = runCase(c.pkts);
      expect(latin1(out.wiresharkBytes(0))).toBe(c.client);
      expect(latin1(out.wiresharkBytes(1))).toBe(c.server);
      if (c.verdicts) expect(verdicts).toEqual(c.verdicts);
    });
  }

  it('reports an acknowledged hole with its position, sequence number and length, and writes no invented bytes', () => {
    const { f, out } = runCase(handCases.find((c) => c.name.startsWith('a hole the peer'))!.pkts);
    expect(latin1(out.bytes(0))).toBe('AAAAAAAAAACCCCCCCCCCDD');
    expect(f.stats(0).gaps).toEqual([{ at: 10, seq: CI + 11, length: 10, reason: 'acked-unseen' }]);
    expect(latin1(wiresharkGapMarker(f.stats(0).gaps[0]!))).toBe('[10 bytes missing in capture file]\0');
  });

  it('finish() reports the unacknowledged tail and discards held data, or flushes it when asked', () => {
    const pkts = handCases.find((c) => c.name.startsWith('data behind a hole never'))!.pkts;
    const a = runCase(pkts);
    expect(a.f.stats(0).gaps).toEqual([{ at: 10, seq: CI + 11, length: 22, reason: 'unfilled-at-end' }]);
    expect(a.f.stats(0).discardedBytes).toBe(12);
    expect(a.f.stats(0).heldBytes).toBe(0);
    const b = runCase(pkts, { flushHeldAtFinish: true });
    expect(latin1(b.out.bytes(0))).toBe('AAAAAAAAAACCCCCCCCCCDD');
    expect(b.f.stats(0).gaps).toEqual([{ at: 10, seq: CI + 11, length: 10, reason: 'unfilled-at-end' }]);
  });

  it('counts per direction', () => {
    const { f } = runCase(handCases[1]!.pkts);
    expect(f.stats(0)).toMatchObject({ bytes: 15, segments: 5, retransmissions: 1, overlaps: 1, outOfOrder: 0 });
    expect(f.stats(1)).toMatchObject({ bytes: 0, segments: 1 });
    expect(f.nextSeq(0)).toBe(CI + 16);
  });

  it('accepts flag records as well as flag bits', () => {
    const f = new FlowFollower();
    expect(f.segment(0, 10, 0, { syn: true }, new Uint8Array(0))).toBe('empty');
    expect(f.segment(0, 11, 7, { ack: true }, enc('ab'))).toBe('delivered');
    expect(f.nextSeq(0)).toBe(13);
  });

  it('writes the captured part of a snaplen-cut segment and reports the cut as a gap', () => {
    const { f, out } = follower();
    f.segment(0, 100, 0, TCP_SYN, new Uint8Array(0));
    expect(f.segment(0, 101, 1, TCP_ACK, enc('abc'), 10)).toBe('delivered');
    expect(f.segment(0, 111, 1, TCP_ACK, new Uint8Array(0), 5)).toBe('truncated');
    expect(f.segment(0, 111, 1, TCP_ACK, enc('xy'))).toBe('delivered');
    expect(latin1(out.bytes(0))).toBe('abcxy');
    expect(f.stats(0).gaps).toEqual([{ at: 3, seq: 104, length: 7, reason: 'truncated' }]);
  });

  it('bounds held data: past the bound the earliest hole is given up, never a crash', () => {
    const { f, out } = follower({ maxBufferedBytes: 100 });
    f.segment(0, 0, 0, TCP_SYN, new Uint8Array(0));
    f.segment(0, 1, 0, 0, new Uint8Array(50).fill(1));
    // Bytes 51..60 never come; 40-byte segments after the hole pile up.
    for (let i = 0; i < 5; i++) {
      f.segment(0, 61 + 40 * i, 0, 0, new Uint8Array(40).fill(2 + i));
      expect(f.stats(0).heldBytes).toBeLessThanOrEqual(100);
    }
    expect(f.stats(0).gaps).toEqual([{ at: 50, seq: 51, length: 10, reason: 'buffer-limit' }]);
    expect(out.bytes(0).length).toBe(250);
    expect(f.stats(0).heldBytes).toBe(0);
  });

  it('refuses segments after finish() (a programming error)', () => {
    const f = new FlowFollower();
    f.finish();
    expect(() => f.segment(0, 1, 0, 0, enc('x'))).toThrow(/after finish/);
  });
});

// ---------------------------------------------------------------------------
// Properties: whatever the network did to faithful segments, the stream comes out whole.

interface Send {
  readonly off: number;
  readonly len: number;
}

/**
 * A sender's transmissions of stream bytes [0, total): an initial segmentation,
 * some segments lost (not captured) and later retransmitted with different
 * boundaries, overlapping retransmissions, duplicates and local reordering.
 * Every byte is sent at least once; the first send starts at 0 when `anchorFirst`.
 */
function schedule(rng: Rng, total: number, anchorFirst: boolean): Send[] {
  const first: Send[] = [];
  for (let off = 0; off < total; ) {
    const len = Math.min(total - off, 1 + rng.int(rng.chance(0.2) ? 200 : 40));
    first.push({ off, len });
    off += len;
  }
  const out: Send[] = [];
  const pending: Send[] = [];
  first.forEach((s, i) => {
    const lost = i > 0 && rng.chance(0.15);
    if (lost) pending.push(s);
    else out.push(s);
    if (rng.chance(0.1) && out.length > 0) out.push(out[rng.int(out.length)]!);
    // Retransmit lost ranges a little later, widened into neighbours and cut differently.
    while (pending.length > 0 && rng.chance(0.4)) {
      const p = pending.shift()!;
      const from = Math.max(0, p.off - rng.int(30));
      const to = Math.min(total, p.off + p.len + rng.int(30));
      for (let o = from; o < to; ) {
        const len = Math.min(to - o, 1 + rng.int(25));
        out.push({ off: o, len });
        o += len;
      }
    }
  });
  for (const p of pending) out.push(p);
  for (let i = anchorFirst ? 2 : 1; i < out.length; i++) {
    if (rng.chance(0.2)) [out[i - 1], out[i]] = [out[i]!, out[i - 1]!];
  }
  return out;
}

describe('FlowFollower properties (fast-check)', () => {
  it('reassembles the exact stream despite loss, retransmission with new boundaries, reordering, duplication, mid-flow start and wraparound', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 3000 }),
        fc.integer({ min: 0, max: 0x7fffffff }),
        fc.boolean(),
        fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0xfffff000, max: 0xffffffff })),
        (data, seed, handshake, isn) => {
          const rng = new Rng(seed);
          const { f, out } = follower();
          const first = handshake ? (isn + 1) >>> 0 : isn;
          if (handshake) expect(f.segment(0, isn, 0, TCP_SYN, new Uint8Array(0))).toBe('empty');
          for (const s of schedule(rng, data.length, !handshake)) {
            f.segment(0, (first + s.off) >>> 0, 777, TCP_ACK, data.subarray(s.off, s.off + s.len));
          }
          f.finish();
          expect(out.bytes(0)).toEqual(data);
          expect(out.wiresharkBytes(0)).toEqual(data);
          expect(f.stats(0).gaps).toEqual([]);
          expect(f.stats(0).bytes).toBe(data.length);
          expect(f.stats(0).heldBytes).toBe(0);
          expect(f.nextSeq(0)).toBe((first + data.length) >>> 0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reports a hole the peer acknowledged at its position and length, and nothing else is lost', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 3, maxLength: 2000 }),
        fc.integer({ min: 0, max: 0x7fffffff }),
        fc.integer({ min: 0xffffe000, max: 0xffffffff }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (data, seed, isn, pa, pb) => {
          // 0 < a < b < length: data on both sides of the hole.
          const a = 1 + Math.floor(pa * (data.length - 3));
          const b = a + 1 + Math.floor(pb * (data.length - a - 2));
          const rng = new Rng(seed);
          const { f, out } = follower();
          f.segment(0, isn, 0, TCP_SYN, new Uint8Array(0));
          const isn1 = (isn + 1) >>> 0;
          for (const s of schedule(rng, data.length, false)) {
            // Cut [a, b) out of everything that is sent: the capture never has it.
            const parts: Send[] = [];
            if (s.off < a) parts.push({ off: s.off, len: Math.min(s.len, a - s.off) });
            if (s.off + s.len > b) parts.push({ off: Math.max(s.off, b), len: s.off + s.len - Math.max(s.off, b) });
            for (const p of parts) f.segment(0, (isn1 + p.off) >>> 0, 9, TCP_ACK, data.subarray(p.off, p.off + p.len));
          }
          // The receiver got it all.
          f.segment(1, 9, (isn1 + data.length) >>> 0, TCP_ACK, new Uint8Array(0));
          f.finish();
          const expected = new Uint8Array([...data.subarray(0, a), ...data.subarray(b)]);
          expect(out.bytes(0)).toEqual(expected);
          expect(f.stats(0).gaps).toEqual([{ at: a, seq: (isn1 + a) >>> 0, length: b - a, reason: 'acked-unseen' }]);
          const marker = enc(`[${b - a} bytes missing in capture file]\0`);
          expect(out.wiresharkBytes(0)).toEqual(new Uint8Array([...data.subarray(0, a), ...marker, ...data.subarray(b)]));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps held data within the bound and loses only what was never captured', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 50, maxLength: 3000 }),
        fc.integer({ min: 0, max: 0x7fffffff }),
        fc.integer({ min: 16, max: 400 }),
        (data, seed, bound) => {
          const rng = new Rng(seed);
          const hole = { off: 10 + rng.int(20), len: 1 + rng.int(20) };
          const { f, out } = follower({ maxBufferedBytes: bound, maxHeldSegments: 8 });
          f.segment(0, 41, 0, TCP_SYN, new Uint8Array(0));
          let maxHeld = 0;
          let capturedEnd = 0;
          for (let off = 0; off < data.length; ) {
            const len = Math.min(data.length - off, 1 + rng.int(15));
            const end = off + len;
            if (end <= hole.off || off >= hole.off + hole.len) {
              f.segment(0, 42 + off, 0, 0, data.subarray(off, end));
              capturedEnd = end;
            }
            maxHeld = Math.max(maxHeld, f.stats(0).heldBytes);
            off = end;
          }
          f.finish();
          expect(maxHeld).toBeLessThanOrEqual(bound);
          const got = out.bytes(0);
          const lost = f.stats(0).gaps.reduce((n, g) => n + g.length, 0);
          // A missing tail cannot be told from the end of the stream: no gap there.
          expect(got.length + lost).toBe(capturedEnd);
          // Every written byte is at its true place: rebuild with the gaps.
          let pos = 0;
          let src = 0;
          for (const g of f.stats(0).gaps) {
            expect(got.subarray(pos, g.at)).toEqual(data.subarray(src, src + g.at - pos));
            src += g.at - pos + g.length;
            pos = g.at;
          }
          expect(got.subarray(pos)).toEqual(data.subarray(src, capturedEnd));
        },
      ),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------
// Against tshark itself: many random flows, with loss, holes, overlapping
// retransmissions whose bytes differ from the originals, reordering, mid-flow
// starts, keep-alives and wraparound, all in one capture and one tshark run.

const CLIENT_IP = [10, 1, 0, 1] as const;
const SERVER_IP = [10, 1, 0, 2] as const;

interface Wire {
  readonly fromClient: boolean;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly payload: Uint8Array;
}

function randomFlow(rng: Rng): Wire[] {
  const isn = [rng.chance(0.3) ? (0xffffffff - rng.int(300)) >>> 0 : rng.u32(), rng.u32()];
  const streams = [rng.bytes(rng.int(160)), rng.bytes(rng.int(160))];
  const handshake = rng.chance(0.5);
  const base = [(isn[0]! + 1) >>> 0, (isn[1]! + 1) >>> 0];
  // Per direction: the sends, some of them left out of the capture.
  const sends = streams.map((s) => schedule(rng, s.length, false));
  const uncaptured = sends.map((list) => list.map(() => rng.chance(0.08)));
  const sentEnd = [0, 0];
  const pos = [0, 0];
  const pkts: Wire[] = [];
  if (handshake) {
    pkts.push({ fromClient: true, seq: isn[0]!, ack: 0, flags: TCP_SYN, payload: new Uint8Array(0) });
    pkts.push({ fromClient: false, seq: isn[1]!, ack: base[0]!, flags: TCP_SYN | TCP_ACK, payload: new Uint8Array(0) });
  }
  const ackFor = (peer: number): number => {
    const k = rng.int(10);
    const off = k < 6 ? sentEnd[peer]! : k < 9 ? rng.int(sentEnd[peer]! + 1) : sentEnd[peer]! + rng.int(5);
    return (base[peer]! + off) >>> 0;
  };
  while (pos[0]! < sends[0]!.length || pos[1]! < sends[1]!.length) {
    const d = pos[0]! >= sends[0]!.length ? 1 : pos[1]! >= sends[1]!.length ? 0 : rng.int(2);
    const peer = 1 - d;
    if (rng.chance(0.1)) {
      // A keep-alive (seq one below the next byte) or a pure ACK.
      const ka = rng.chance(0.5);
      pkts.push({
        fromClient: d === 0,
        seq: (base[d]! + sentEnd[d]! - (ka ? 1 : 0)) >>> 0,
        ack: ackFor(peer),
        flags: TCP_ACK,
        payload: ka && rng.chance(0.5) ? rng.bytes(1) : new Uint8Array(0),
      });
      continue;
    }
    const i = pos[d]!++;
    const s = sends[d]![i]!;
    sentEnd[d] = Math.max(sentEnd[d]!, s.off + s.len);
    if (uncaptured[d]![i]) continue;
    let payload = streams[d]!.slice(s.off, s.off + s.len);
    // Some retransmissions carry different bytes than the first copy.
    if (rng.chance(0.25)) payload = payload.map((x) => (rng.chance(0.5) ? x ^ 0x5a : x));
    pkts.push({ fromClient: d === 0, seq: (base[d]! + s.off) >>> 0, ack: ackFor(peer), flags: TCP_ACK, payload });
  }
  for (const d of [0, 1]) {
    if (rng.chance(0.5)) {
      pkts.push({
        fromClient: d === 0,
        seq: (base[d]! + sentEnd[d]!) >>> 0,
        ack: ackFor(1 - d),
        flags: TCP_ACK | (rng.chance(0.8) ? TCP_FIN : TCP_RST),
        payload: new Uint8Array(0),
      });
    }
  }
  // Sometimes the capture starts late (always after the SYN, so tshark sees one conversation).
  const skip = rng.chance(0.3) ? 1 + rng.int(Math.max(1, Math.min(6, pkts.length - 1))) : 0;
  return pkts.slice(skip);
}

describeNeeds(['tshark'], 'FlowFollower against tshark -z follow,tcp,raw', () => {
  it('matches tshark on the hand-made flows', () => {
    const frames: { data: Uint8Array }[] = [];
    handCases.forEach((c, k) => {
      const C: TcpEndpoint = { ip: CLIENT_IP, port: 20000 + k };
      const S: TcpEndpoint = { ip: SERVER_IP, port: 23 };
      c.pkts.forEach((p, i) => {
        const a = p.c ? C : S;
        const b = p.c ? S : C;
        frames.push({
          data: tcpFrame({
            src: a,
            dst: b,
            seq: p.seq >>> 0,
            ack: (p.ack ?? 0) >>> 0,
            syn: p.syn,
            fin: p.fin,
            rst: p.rst,
            ackFlag: p.ack !== undefined,
            payload: enc(p.p ?? ''),
            ipId: i,
          }),
        });
      });
    });
    const file = path.join(tmp, 'hand.pcap');
    writeFileSync(file, classicPcap(frames));
    const ts = tsharkFollowRaw(
      file,
      handCases.map((_, k) => k),
    );
    handCases.forEach((c, k) => {
      const t = ts.get(k)!;
      expect(t.node0, c.name).toBe(`10.1.0.1:${20000 + k}`);
      expect(latin1(t.client), c.name).toBe(c.client);
      expect(latin1(t.server), c.name).toBe(c.server);
    });
  });

  it('matches tshark byte for byte on 150 random damaged flows', () => {
    const rng = new Rng(0x5eed);
    const flows: Wire[][] = [];
    while (flows.length < 150) {
      const f = randomFlow(rng);
      if (f.length > 0) flows.push(f);
    }
    const frames: { data: Uint8Array }[] = [];
    flows.forEach((pkts, k) => {
      const C: TcpEndpoint = { ip: CLIENT_IP, port: 30000 + k };
      const S: TcpEndpoint = { ip: SERVER_IP, port: 80 };
      pkts.forEach((p, i) =>
        frames.push({
          data: tcpFrame({
            src: p.fromClient ? C : S,
            dst: p.fromClient ? S : C,
            seq: p.seq,
            ack: p.ack,
            syn: (p.flags & TCP_SYN) !== 0,
            fin: (p.flags & TCP_FIN) !== 0,
            rst: (p.flags & TCP_RST) !== 0,
            ackFlag: (p.flags & TCP_ACK) !== 0,
            payload: p.payload,
            ipId: i,
          }),
        }),
      );
    });
    const file = path.join(tmp, 'random.pcap');
    writeFileSync(file, classicPcap(frames));
    const ts = tsharkFollowRaw(
      file,
      flows.map((_, k) => k),
    );
    let gapsSeen = 0;
    let markersSeen = 0;
    flows.forEach((pkts, k) => {
      const t = ts.get(k);
      expect(t, `flow ${k}`).toBeDefined();
      const firstFromClient = pkts[0]!.fromClient;
      expect(t!.node0).toBe(firstFromClient ? `10.1.0.1:${30000 + k}` : '10.1.0.2:80');
      const { f, out } = follower();
      for (const p of pkts) {
        const dir: FollowDirection = p.fromClient === firstFromClient ? 0 : 1;
        f.segment(dir, p.seq, p.ack, p.flags, p.payload);
      }
      f.finish();
      expect(Buffer.from(out.wiresharkBytes(0)).toString('hex'), `flow ${k} node 0`).toBe(
        Buffer.from(t!.client).toString('hex'),
      );
      expect(Buffer.from(out.wiresharkBytes(1)).toString('hex'), `flow ${k} node 1`).toBe(
        Buffer.from(t!.server).toString('hex'),
      );
      for (const d of [0, 1] as const) {
        gapsSeen += f.stats(d).gaps.length;
        markersSeen += out.gaps(d).filter((g) => g.reason === 'acked-unseen').length;
      }
    });
    // The generator must actually exercise the hard paths.
    expect(markersSeen).toBeGreaterThan(10);
    expect(gapsSeen).toBeGreaterThan(markersSeen);
  });
});
