import { describe, expect, it } from 'vitest';
import { RealClock, VirtualClock } from '../../../src/core/index.js';
import { SimLink, type SimLinkOptions, type SimPort } from '../../../src/layers/nic/sim-link.js';
import { BROADCAST_MAC, type Mac } from '../../../src/wire/addr.js';
import { ethernet } from '../helpers.js';

/** A frame from `src` to `dst` whose payload carries a serial number (bytes 14..17) and is `size` bytes long. */
function frame(dst: Mac, src: Mac, serial: number, size = 100): Uint8Array {
  const payload = new Uint8Array(size - 14);
  new DataView(payload.buffer).setUint32(0, serial);
  return ethernet(dst, src, 0x88b5, payload);
}

function serialOf(f: Uint8Array): number {
  return new DataView(f.buffer, f.byteOffset).getUint32(14);
}

interface Rx {
  port: string;
  at: number;
  serial: number;
  bytes: string;
}

function record(clock: VirtualClock, ports: SimPort[]): Rx[] {
  const got: Rx[] = [];
  for (const p of ports) p.attach((f) => got.push({ port: p.name, at: clock.now(), serial: serialOf(f), bytes: Buffer.from(f).toString('hex') }));
  return got;
}

function setup(opts: SimLinkOptions, n = 2): { clock: VirtualClock; link: SimLink; ports: SimPort[]; got: Rx[] } {
  const clock = new VirtualClock();
  const link = new SimLink(clock, opts);
  const ports = Array.from({ length: n }, (_, i) => link.attach(String.fromCharCode(97 + i)));
  const got = record(clock, ports);
  return { clock, link, ports, got };
}

describe('SimLink', () => {
  it('delivers on the clock, never inside the sender’s call', () => {
    const { clock, ports, got } = setup({ delayMs: 2, bandwidthBps: Infinity });
    ports[0]!.send(frame(ports[1]!.mac, ports[0]!.mac, 1));
    expect(got).toEqual([]);
    clock.advance(1.999);
    expect(got).toEqual([]);
    clock.advance(0.001);
    expect(got.map((g) => [g.port, g.at, g.serial])).toEqual([['b', 2, 1]]);
  });

  it('copies the frame: the sender may reuse its memory at once', () => {
    const { clock, ports, got } = setup({});
    const f = frame(ports[1]!.mac, ports[0]!.mac, 7);
    ports[0]!.send(f);
    f.fill(0);
    clock.runAll();
    expect(got[0]!.serial).toBe(7);
  });

  it('as a hub reaches every other port, never the sender', () => {
    const { clock, ports, got } = setup({}, 4);
    ports[1]!.send(frame(ports[0]!.mac, ports[1]!.mac, 1));
    clock.runAll();
    expect(got.map((g) => g.port).sort()).toEqual(['a', 'c', 'd']);
  });

  it('as a learning switch sends unicast only where the destination was seen; floods unknown and broadcast', () => {
    const { clock, link, ports, got } = setup({ mode: 'switch' }, 3);
    const [a, b] = ports as [SimPort, SimPort, SimPort];
    a.send(frame(b.mac, a.mac, 1)); // b unknown yet: flooded to b and c; the switch learns a
    clock.runAll();
    expect(got.map((g) => g.port).sort()).toEqual(['b', 'c']);
    got.length = 0;
    b.send(frame(a.mac, b.mac, 2)); // a known: only a
    clock.runAll();
    expect(got.map((g) => g.port)).toEqual(['a']);
    got.length = 0;
    a.send(frame(b.mac, a.mac, 3)); // b learned from frame 2
    clock.runAll();
    expect(got.map((g) => g.port)).toEqual(['b']);
    got.length = 0;
    a.send(frame(BROADCAST_MAC, a.mac, 4));
    clock.runAll();
    expect(got.map((g) => g.port).sort()).toEqual(['b', 'c']);
    got.length = 0;
    a.send(frame(a.mac, b.mac, 5)); // destination on the sender's own port: filtered
    clock.runAll();
    expect(got).toEqual([]);
    expect(link.stats.filtered).toBe(1);
  });

  it('serializes at the port’s bandwidth and queues frames behind each other', () => {
    // 8 Mbit/s = 1 byte per microsecond; 976-byte frame + 24 bytes of framing = 1 ms on the wire.
    const { clock, ports, got } = setup({ delayMs: 0.5, bandwidthBps: 8e6 });
    ports[0]!.send(frame(ports[1]!.mac, ports[0]!.mac, 1, 976));
    ports[0]!.send(frame(ports[1]!.mac, ports[0]!.mac, 2, 976));
    ports[0]!.send(frame(ports[1]!.mac, ports[0]!.mac, 3, 976));
    clock.runAll();
    expect(got.map((g) => [g.serial, +g.at.toFixed(6)])).toEqual([
      [1, 1.5],
      [2, 2.5],
      [3, 3.5],
    ]);
  });

  it('tail-drops frames beyond the transmit queue limit', () => {
    const { clock, link, ports, got } = setup({ bandwidthBps: 8e6, queueLimit: 2 });
    for (let i = 0; i < 5; i++) ports[0]!.send(frame(ports[1]!.mac, ports[0]!.mac, i, 976));
    clock.runAll();
    expect(got.map((g) => g.serial)).toEqual([0, 1]);
    expect(link.stats.queueDrops).toBe(3);
  });

  it('drops and counts frames whose payload exceeds the MTU', () => {
    const { clock, link, ports, got } = setup({ mtu: 1000 });
    ports[0]!.send(frame(ports[1]!.mac, ports[0]!.mac, 1, 1014)); // payload 1000: fits
    ports[0]!.send(frame(ports[1]!.mac, ports[0]!.mac, 2, 1015)); // payload 1001: too big
    clock.runAll();
    expect(got.map((g) => g.serial)).toEqual([1]);
    expect(link.stats.oversize).toBe(1);
    expect(ports[0]!.mtu).toBe(1000);
  });

  it('keeps each path in order under jitter unless the reorder fault picks a frame', () => {
    const { clock, ports, got } = setup({ seed: 5, jitterMs: 10, bandwidthBps: Infinity });
    for (let i = 0; i < 50; i++) {
      ports[0]!.send(frame(ports[1]!.mac, ports[0]!.mac, i));
      clock.advance(1);
    }
    clock.runAll();
    expect(got.map((g) => g.serial)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('reorders: a frame held back is overtaken by later ones', () => {
    const { clock, link, ports, got } = setup({ seed: 2, reorder: 0.3, reorderDelayMs: 5, bandwidthBps: Infinity });
    for (let i = 0; i < 40; i++) {
      ports[0]!.send(frame(ports[1]!.mac, ports[0]!.mac, i));
      clock.advance(1);
    }
    clock.runAll();
    const serials = got.map((g) => g.serial);
    expect(serials.slice().sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(serials).not.toEqual(serials.slice().sort((x, y) => x - y));
    expect(link.stats.reordered).toBeGreaterThan(0);
  });

  it('loses, duplicates and corrupts at about the configured rates', () => {
    const { clock, link, ports, got } = setup({ seed: 9, loss: 0.1, duplicate: 0.05, corrupt: 0.05, bandwidthBps: Infinity });
    const n = 2000;
    for (let i = 0; i < n; i++) ports[0]!.send(frame(ports[1]!.mac, ports[0]!.mac, i));
    clock.runAll();
    const s = link.stats;
    expect(s.lost / n).toBeGreaterThan(0.07);
    expect(s.lost / n).toBeLessThan(0.13);
    expect(s.duplicated).toBeGreaterThan(50);
    expect(s.corrupted).toBeGreaterThan(50);
    expect(got.length).toBe(n - s.lost + s.duplicated);
    expect(s.delivered).toBe(got.length);
    // A corrupted copy differs from the frame sent in exactly one bit.
    let oneBit = 0;
    for (const g of got) {
      const orig = frame(ports[1]!.mac, ports[0]!.mac, serialOf(Buffer.from(g.bytes, 'hex')));
      const b = Buffer.from(g.bytes, 'hex');
      let bits = 0;
      for (let i = 0; i < b.length; i++) bits += popcount(b[i]! ^ orig[i]!);
      if (bits === 1) oneBit++;
      expect(bits).toBeLessThanOrEqual(1);
    }
    // A flip inside the serial number itself is invisible to this comparison; the rest show as one bit.
    expect(oneBit).toBeGreaterThan(s.corrupted * 0.9);
  });

  it('is deterministic per seed: same seed, same delivered sequence; another seed, another', () => {
    const run = (seed: number): Rx[] => {
      const { clock, ports, got } = setup({ seed, loss: 0.2, duplicate: 0.1, reorder: 0.1, corrupt: 0.1, jitterMs: 3 }, 3);
      for (let i = 0; i < 300; i++) {
        ports[i % 3]!.send(frame(BROADCAST_MAC, ports[i % 3]!.mac, i));
        if (i % 7 === 0) clock.advance(0.3);
      }
      clock.runAll();
      return got;
    };
    const first = run(42);
    expect(run(42)).toEqual(first);
    expect(run(43)).not.toEqual(first);
  });

  it('applies conditions per port egress: each direction on its own', () => {
    const { clock, ports, got } = setup({});
    ports[1]!.setConditions({ loss: 1 });
    ports[0]!.send(frame(ports[1]!.mac, ports[0]!.mac, 1));
    ports[1]!.send(frame(ports[0]!.mac, ports[1]!.mac, 2));
    clock.runAll();
    expect(got.map((g) => [g.port, g.serial])).toEqual([['b', 1]]);
  });

  it('a detached port neither sends nor receives', () => {
    const { clock, ports, got } = setup({}, 3);
    ports[2]!.detach();
    ports[0]!.send(frame(BROADCAST_MAC, ports[0]!.mac, 1));
    ports[2]!.send(frame(BROADCAST_MAC, ports[2]!.mac, 2));
    clock.runAll();
    expect(got.map((g) => [g.port, g.serial])).toEqual([['b', 1]]);
  });

  it('works on a RealClock too', async () => {
    const clock = new RealClock();
    const link = new SimLink(clock, { delayMs: 1 });
    const a = link.attach('a');
    const b = link.attach('b');
    const got = new Promise<Uint8Array>((resolve) => b.attach(resolve));
    let synchronous = true;
    a.send(frame(b.mac, a.mac, 11));
    synchronous = false;
    const f = await got;
    expect(synchronous).toBe(false);
    expect(serialOf(f)).toBe(11);
  });
});

function popcount(x: number): number {
  let n = 0;
  while (x) {
    n += x & 1;
    x >>>= 1;
  }
  return n;
}
