import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/core/index.js';
import { ManualDevice } from '../../../src/layers/nic/device.js';
import { SimLink } from '../../../src/layers/nic/sim-link.js';
import { FaultDevice, PcapDevice, TraceDevice, type FrameEvent } from '../../../src/layers/nic/wrappers.js';
import { parsePcapBuffer, PcapWriter } from '../../../src/trace/pcap.js';
import { ethernet, MAC_A, MAC_B } from '../helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'nic-wrappers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function numbered(i: number): Uint8Array {
  return ethernet(MAC_B, MAC_A, 0x88b5, new Uint8Array([i, 0, 0, 0]));
}

describe('FaultDevice', () => {
  it('drops, duplicates, corrupts and reorders frames it sends, from a seed', () => {
    const run = (seed: number): number[][] => {
      const clock = new VirtualClock();
      const inner = new ManualDevice('x', MAC_A);
      const dev = new FaultDevice(inner, clock, { seed, loss: 0.2, duplicate: 0.2, corrupt: 0.1, reorder: 0.2, direction: 'tx' });
      for (let i = 0; i < 100; i++) {
        dev.send(numbered(i));
        clock.advance(1);
      }
      clock.runAll();
      expect(dev.stats.lost).toBeGreaterThan(5);
      expect(dev.stats.duplicated).toBeGreaterThan(5);
      expect(dev.stats.reordered).toBeGreaterThan(5);
      expect(dev.stats.corrupted).toBeGreaterThan(2);
      return inner.take().map((f) => [...f]);
    };
    const a = run(1);
    expect(run(1)).toEqual(a);
    expect(run(2)).not.toEqual(a);
  });

  it('applies to received frames only when asked', () => {
    const clock = new VirtualClock();
    const inner = new ManualDevice('x', MAC_A);
    const dev = new FaultDevice(inner, clock, { loss: 1, direction: 'rx' });
    const got: Uint8Array[] = [];
    dev.attach((f) => got.push(f));
    dev.send(numbered(1));
    inner.inject(numbered(2));
    expect(inner.sent).toHaveLength(1);
    expect(got).toHaveLength(0);
    expect(dev.stats.lost).toBe(1);
  });

  it('never corrupts the sender’s memory (a sent frame is only borrowed)', () => {
    const clock = new VirtualClock();
    const inner = new ManualDevice('x', MAC_A);
    const dev = new FaultDevice(inner, clock, { corrupt: 1, direction: 'tx' });
    const f = numbered(3);
    const copy = f.slice();
    dev.send(f);
    expect(f).toEqual(copy);
    expect(inner.sent[0]).not.toEqual(copy);
  });
});

describe('TraceDevice', () => {
  it('emits frames in and out while subscribed, nothing otherwise', () => {
    const clock = new VirtualClock();
    const inner = new ManualDevice('x', MAC_A);
    const dev = new TraceDevice(inner, clock);
    dev.attach(() => {});
    dev.send(numbered(0)); // nobody listening
    const seen: FrameEvent[] = [];
    const sub = dev.frames.subscribe((e) => seen.push(e));
    clock.advance(5);
    dev.send(numbered(1));
    inner.inject(numbered(2));
    sub.unsubscribe();
    dev.send(numbered(3));
    expect(seen.map((e) => [e.direction, e.at, e.frame[14]])).toEqual([
      ['tx', 5, 1],
      ['rx', 5, 2],
    ]);
  });
});

describe('PcapDevice', () => {
  it('writes every frame sent and received, stamped with the clock’s wall time', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const link = new SimLink(clock, { delayMs: 2, bandwidthBps: Infinity });
    const file = path.join(dir, 'a.pcap');
    const writer = new PcapWriter(file);
    const a = new PcapDevice(link.attach('a', { mac: MAC_A }), writer, clock);
    const b = link.attach('b', { mac: MAC_B });
    a.attach(() => {});
    b.attach((f) => b.send(ethernet(MAC_A, MAC_B, 0x88b5, f.subarray(14)))); // b echoes
    clock.advance(1.5);
    a.send(numbered(9));
    clock.runAll();
    await writer.close();
    const recs = parsePcapBuffer(new Uint8Array(readFileSync(file)));
    expect(recs).toHaveLength(2);
    const base = BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n;
    expect(recs.map((r) => Number(r.timestampNs - base) / 1e6)).toEqual([1.5, 5.5]);
    expect([...recs[0]!.data]).toEqual([...numbered(9)]);
    expect(recs[1]!.data[14]).toBe(9);
  });

  it('composes with the other wrappers around any device', async () => {
    const clock = new VirtualClock();
    const file = path.join(dir, 'b.pcap');
    const writer = new PcapWriter(file);
    const inner = new ManualDevice('x', MAC_A);
    const traced = new TraceDevice(inner, clock);
    const dev = new PcapDevice(new FaultDevice(traced, clock, { loss: 1, direction: 'tx' }), writer, clock);
    let traces = 0;
    traced.frames.subscribe(() => traces++);
    dev.send(numbered(1)); // recorded by pcap (outside), lost by the fault device before the tracer
    expect(dev.mac).toBe(MAC_A);
    expect(dev.mtu).toBe(1500);
    await writer.close();
    expect(parsePcapBuffer(new Uint8Array(readFileSync(file)))).toHaveLength(1);
    expect(traces).toBe(0);
    expect(inner.sent).toHaveLength(0);
  });
});
