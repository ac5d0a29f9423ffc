/**
 * Out-of-order flood: a peer sends tiny segments around a hole so that every
 * one is held for reassembly. The queue must stay bounded in pieces (not only
 * in bytes), so the work per segment does not grow with what is held.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/index.js';
import { ReassemblyQueue } from '../../src/layers/tcp/reassembly.js';
import { Drill } from '../layers/tcp/support/drill.js';

const N = 100_000;

describe('hostile: out-of-order flood', () => {
  it('holds 100k 1-byte segments around a hole in a bounded number of pieces, then delivers exactly what was held', () => {
    const rng = new Rng(0x00f1_00d);
    const base = 0xffff_f000; // across the wrap of sequence space
    const q = new ReassemblyQueue(256 * 1024);
    let maxCount = 0;
    const stored = new Map<number, number>();
    for (let i = 0; i < N; i++) {
      // Every other byte after the hole (pieces that can never merge), mixed with
      // runs of adjacent bytes sent backwards and forwards.
      const off = i % 3 === 0 ? 1 + 2 * rng.int(60_000) : 1 + rng.int(120_000);
      const v = off & 0xff;
      if (q.insert((base + off) >>> 0, Uint8Array.of(v)) === 'stored') stored.set(off, v);
      if (q.count > maxCount) maxCount = q.count;
    }
    expect(maxCount).toBeLessThanOrEqual(q.maxPieces);
    expect(q.maxPieces).toBeLessThanOrEqual(4096);
    expect(q.bytes).toBe(stored.size);
    expect(q.refusedForPieces).toBeGreaterThan(0);
    // The hole fills: what follows without a gap comes out once, in order, as held.
    const out: number[] = [];
    const nxt = q.take((base + 1) >>> 0, (c) => out.push(...c));
    let k = 1;
    while (stored.has(k)) k++;
    expect(nxt).toBe((base + k) >>> 0);
    expect(out).toEqual(Array.from({ length: k - 1 }, (_, i) => stored.get(i + 1)));
  });

  it('merges adjacent tiny segments on insert, forwards or backwards, so they cost few pieces', () => {
    for (const dir of [1, -1]) {
      const q = new ReassemblyQueue(64 * 1024);
      let refused = 0;
      for (let i = 0; i < 60_000; i++) {
        const off = dir > 0 ? 1 + i : 60_000 - i;
        if (q.insert(off, Uint8Array.of(off & 0xff)) !== 'stored') refused++;
      }
      expect(refused).toBe(0);
      expect(q.bytes).toBe(60_000);
      expect(q.count).toBeLessThanOrEqual(Math.ceil(60_000 / 1024) + 1);
      const out: number[] = [];
      expect(q.take(1, (c) => out.push(...c))).toBe(60_001);
      expect(out.length).toBe(60_000);
      expect(out.every((b, i) => b === ((i + 1) & 0xff))).toBe(true);
    }
  });

  it('a TCP connection flooded with 100k 1-byte segments around a hole stays bounded and delivers the stream', () => {
    const d = new Drill({ config: { timestamps: false, sack: true, windowScaling: false, receiveBufferSize: 65_535 } });
    d.listen(8080);
    d.inject('S', 0, 0, undefined, 65535, 'mss 1460,sackOK');
    d.clock.advance(1);
    d.inject('.', 1, 0, 1, 65535);
    d.clock.advance(1);
    expect(d.events).toContain('accept');
    const c = d.conn!;
    const rng = new Rng(77);
    for (let i = 0; i < N; i++) {
      const off = i % 2 === 0 ? 2 + 2 * rng.int(30_000) : 2 + rng.int(60_000);
      d.inject('.', off, 1, 1, 65535);
    }
    const ooo = (c as unknown as { ooo: ReassemblyQueue }).ooo;
    expect(ooo.count).toBeLessThanOrEqual(ooo.maxPieces);
    expect(ooo.bytes).toBeLessThanOrEqual(65_535);
    // Every SACK sent during the flood is well formed (at most 4 blocks).
    const sacks = d.captured.filter((s) => s.options.some((o) => o.kind === 'sack'));
    expect(sacks.length).toBeGreaterThan(0);
    // The hole fills; the in-order prefix that was held comes up.
    d.inject('.', 1, 1, 1, 65535);
    d.clock.advance(1);
    const got = d.received.reduce((n, b) => n + b.length, 0);
    expect(got).toBeGreaterThanOrEqual(1);
    const all = Uint8Array.from(d.received.flatMap((b) => [...b]));
    expect(all.every((b, i) => b === 0x30 + ((1 + i) % 10))).toBe(true);
  });
});
