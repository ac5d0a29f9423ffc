import { describe, expect, it } from 'vitest';
import { BufferError, BufferPool, PacketBuffer, parseFailure } from '../../src/wire/buffer.js';

describe('PacketBuffer', () => {
  it('allocates with headroom and exposes bytes and view over the same memory', () => {
    const pool = new BufferPool({ headroom: 64 });
    const buf = pool.alloc(100, 'test');
    expect(buf.start).toBe(64);
    expect(buf.end).toBe(164);
    expect(buf.headroom).toBe(64);
    expect(buf.length).toBe(100);
    expect(buf.bytes.length).toBe(2048 + 64);
    buf.view.setUint16(buf.start, 0xbeef);
    expect(buf.bytes[buf.start]).toBe(0xbe);
    expect(buf.bytes[buf.start + 1]).toBe(0xef);
  });

  it('prepends headers in front of the payload until the headroom runs out', () => {
    const pool = new BufferPool({ headroom: 54 });
    const buf = pool.alloc(5);
    buf.payload().set([1, 2, 3, 4, 5]);
    expect(buf.prepend(20)).toBe(34);
    expect(buf.prepend(20)).toBe(14);
    expect(buf.prepend(14)).toBe(0);
    expect(buf.length).toBe(59);
    expect(Array.from(buf.payload().subarray(54))).toEqual([1, 2, 3, 4, 5]);
    expect(() => buf.prepend(1)).toThrow(BufferError);
  });

  it('advances over headers on receive and truncates trailing padding', () => {
    const pool = new BufferPool();
    const frame = new Uint8Array(60).map((_, i) => i);
    const buf = pool.wrap(frame, 'rx');
    expect(buf.headroom).toBe(0);
    buf.advance(14);
    expect(buf.start).toBe(14);
    expect(buf.payload()[0]).toBe(14);
    buf.truncate(30);
    expect(buf.end).toBe(44);
    expect(() => buf.advance(31)).toThrow(BufferError);
    expect(() => buf.truncate(31)).toThrow(BufferError);
    expect(() => buf.advance(-1)).toThrow(BufferError);
  });

  it('gives payload views without copying', () => {
    const frame = new Uint8Array([9, 8, 7, 6]);
    const buf = new BufferPool().wrap(frame);
    const p = buf.payload();
    p[0] = 1;
    expect(frame[0]).toBe(1);
    const copy = buf.copyPayload();
    copy[1] = 0;
    expect(frame[1]).toBe(8);
  });

  it('appends into tailroom', () => {
    const buf = PacketBuffer.standalone(0, 16);
    expect(buf.tailroom).toBe(0);
    const buf2 = new BufferPool({ headroom: 16, bufferSize: 64 }).alloc(8);
    expect(buf2.tailroom).toBe(40);
    expect(buf2.append(10)).toBe(24);
    expect(buf2.length).toBe(18);
    expect(() => buf2.append(31)).toThrow(BufferError);
    expect(buf.length).toBe(0);
  });
});

describe('BufferPool', () => {
  it('counts allocations, use and high water, and recycles memory', () => {
    const pool = new BufferPool();
    const a = pool.alloc(10, 'a');
    const b = pool.alloc(10, 'b');
    const c = pool.wrap(new Uint8Array(60), 'c');
    expect(pool.allocated).toBe(3);
    expect(pool.inUse).toBe(3);
    expect(pool.highWater).toBe(3);
    expect(pool.created).toBe(2);
    a.release();
    c.release();
    expect(pool.inUse).toBe(1);
    expect(pool.freeCount).toBe(1);
    const d = pool.alloc(1500, 'd');
    expect(pool.created).toBe(2); // reused a's memory
    expect(pool.allocated).toBe(4);
    expect(pool.inUse).toBe(2);
    expect(pool.highWater).toBe(3);
    b.release();
    d.release();
    expect(pool.inUse).toBe(0);
    expect(pool.leaks()).toEqual([]);
  });

  it('allocates oversize buffers fresh but still counts them', () => {
    const pool = new BufferPool({ headroom: 16, bufferSize: 256 });
    const big = pool.alloc(1000, 'jumbo');
    expect(big.length).toBe(1000);
    expect(big.headroom).toBe(16);
    expect(pool.oversize).toBe(1);
    expect(pool.inUse).toBe(1);
    big.release();
    expect(pool.inUse).toBe(0);
    expect(pool.freeCount).toBe(0);
  });

  it('lists leaked buffers with the label given at alloc', () => {
    const pool = new BufferPool();
    const x = pool.alloc(40, 'tcp:syn-ack');
    pool.alloc(60, 'arp:request');
    pool.wrap(new Uint8Array(64), 'rx:frame');
    x.release();
    expect(pool.leaks()).toEqual([
      { id: 2, label: 'arp:request', length: 60 },
      { id: 3, label: 'rx:frame', length: 64 },
    ]);
  });

  it('counts a second release as a double free without crashing or freeing a new owner', () => {
    const pool = new BufferPool();
    const first = pool.alloc(10, 'first');
    first.release();
    const second = pool.alloc(10, 'second'); // gets first's memory
    first.release();
    first.release();
    expect(pool.doubleFrees).toBe(2);
    expect(pool.inUse).toBe(1);
    expect(pool.leaks().map((l) => l.label)).toEqual(['second']);
    second.release();
    expect(pool.inUse).toBe(0);
  });

  it('cuts a released handle off from the memory it used to hold', () => {
    const pool = new BufferPool();
    const stale = pool.alloc(10);
    stale.release();
    expect(stale.released).toBe(true);
    const fresh = pool.alloc(10);
    fresh.bytes.fill(7);
    stale.bytes[0] = 99; // lands nowhere
    expect(fresh.bytes[0]).toBe(7);
    expect(stale.length).toBe(0);
    expect(() => stale.view.setUint8(0, 1)).toThrow(RangeError);
  });

  it('bounds the free list by maxFree', () => {
    const pool = new BufferPool({ maxFree: 2 });
    const bufs = [pool.alloc(1), pool.alloc(1), pool.alloc(1), pool.alloc(1)];
    for (const b of bufs) b.release();
    expect(pool.freeCount).toBe(2);
  });

  it('rejects bad sizes as programmer errors', () => {
    const pool = new BufferPool();
    expect(() => pool.alloc(-1)).toThrow(BufferError);
    expect(() => pool.alloc(1.5)).toThrow(BufferError);
    expect(() => new BufferPool({ headroom: 100, bufferSize: 50 })).toThrow(RangeError);
  });

  it('recycled buffers from one pool share a slab', () => {
    const pool = new BufferPool();
    const a = pool.alloc(1);
    const b = pool.alloc(1);
    expect(a.bytes.buffer).toBe(b.bytes.buffer);
    expect(b.bytes.byteOffset - a.bytes.byteOffset).toBe(pool.bufferSize);
  });
});

describe('BufferPool recycling', () => {
  it('keeps a pooled buffer\'s payload and a recycled buffer apart', () => {
    const pool = new BufferPool({ bufferSize: 256, headroom: 16 });
    const a = pool.alloc(8);
    a.bytes.fill(1, a.start, a.end);
    const memory = a.bytes;
    expect([...a.payload()]).toEqual(new Array(8).fill(1));
    a.release();
    const b = pool.alloc(8);
    // The same memory again, through its new handle only: the released one reaches nothing.
    expect(b.bytes).toBe(memory);
    expect(a.bytes.length).toBe(0);
    expect(a.length).toBe(0);
    b.bytes.fill(2, b.start, b.end);
    expect([...b.payload()]).toEqual(new Array(8).fill(2));
    expect(pool.freeCount).toBe(0);
    b.release();
    expect(pool.freeCount).toBe(1);
  });
});

describe('parse failures', () => {
  it('are shared frozen values', () => {
    const f = parseFailure('truncated');
    expect(f).toEqual({ ok: false, reason: 'truncated' });
    expect(parseFailure('truncated')).toBe(f);
    expect(Object.isFrozen(f)).toBe(true);
  });
});
