/**
 * Out-of-order flood: a peer sends tiny segments around a hole so that every
 * one is held for reassembly. The queue must stay bounded in pieces (not only
 * in bytes), so the work per segment does not grow with what is held.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/index.js';
import { formatResult } from '../../apps/drill.js';
import { runDrill } from '../../src/drill/index.js';
import { ReassemblyQueue } from '../../src/layers/tcp/reassembly.js';

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

  it('a TCP connection flooded with 100k 1-byte segments around a hole answers each, stays bounded and delivers what a bounded queue holds', () => {
    // The flood as a packetdrill script: every 1-byte segment lands after the
    // hole at 1 and is answered by one ACK (carrying SACK blocks); then the
    // hole fills and one read takes everything that was held in order.
    const rng = new Rng(77);
    const offsets: number[] = [];
    for (let i = 0; i < N; i++) offsets.push(i % 2 === 0 ? 2 + 2 * rng.int(30_000) : 2 + rng.int(60_000));
    // What a queue bounded like TCP's (the receive buffer, so many pieces) holds
    // of the same flood: the read must return exactly that, no more (unbounded) and no less.
    const model = new ReassemblyQueue(65_535);
    let first = Infinity;
    for (const off of offsets) if (model.insert(off, Uint8Array.of(0)) === 'stored' && off < first) first = off;
    expect(model.refusedForPieces).toBeGreaterThan(0);
    // The filler reaches the first byte held, so what follows it without a gap comes up too.
    const end = model.take(first, () => {});
    expect(end - first).toBeGreaterThan(1);
    const lines = [
      '--tolerance_usecs=500',
      '`sysctl -q net.ipv4.tcp_timestamps=0 net.ipv4.tcp_sack=1 net.ipv4.tcp_window_scaling=0 net.ipv4.tcp_rmem="4096 65535 65535"`',
      '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3',
      '+0 bind(3, ..., ...) = 0',
      '+0 listen(3, 1) = 0',
      '+0 < S 0:0(0) win 65535 <mss 1460,sackOK>',
      '+0 > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK>',
      '+.001 < . 1:1(0) ack 1 win 65535',
      '+0 accept(3, ..., ...) = 4',
    ];
    for (const off of offsets) lines.push(`+0 < . ${off}:${off + 1}(1) ack 1 win 65535`, '+0 > . 1:1(0) ack 1 <...>');
    lines.push(`+.001 < . 1:${first}(${first - 1}) ack 1 win 65535`, `+0 > . 1:1(0) ack ${end} <...>`, `+0 read(4, ..., 65535) = ${end - 1}`);
    const r = runDrill(`${lines.join('\n')}\n`, { strict: true });
    expect(r.status, formatResult('ooo-flood', r)).toBe('passed');
  });
});
