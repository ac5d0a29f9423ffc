import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/index.js';
import { makePair } from './support/fake-ip.js';
import { acceptStreamer, streamer } from './support/apps.js';

function run(seed: number, sizeAB: number, sizeBA: number, faults: Record<string, number>, opts: { useWriter?: boolean; chunk?: number[] } = {}) {
  const { clock, a, b, net } = makePair({ seed, faults });
  const rng = new Rng(seed);
  const dataAB = rng.bytes(sizeAB);
  const dataBA = rng.bytes(sizeBA);
  const sched = (ms: number, fn: () => void) => clock.schedule(clock.now() + ms, fn);
  const srv = acceptStreamer((p, o, h) => b.tcp.listen(p, o, h), 80, b.rt.app('srv'), dataBA, { chunkSizes: opts.chunk ?? [1000, 3000, 17] }, sched);
  const cli = streamer(dataAB, { chunkSizes: opts.chunk ?? [5000, 1, 700], useWriter: opts.useWriter ?? false }, sched);
  a.tcp.connect(b.addr, 80, a.rt.app('cli'), cli.handlers);
  const ok = clock.runUntil(() => cli.log.done() && srv[0] !== undefined && srv[0].done(), 3_600_000);
  return { ok, cli: cli.log, srv: srv[0]!, dataAB, dataBA, clock, a, b, net };
}

describe('bulk transfer over the fake network', () => {
  it('moves data both ways without faults', () => {
    const r = run(1, 300_000, 100_000, {});
    expect(r.ok).toBe(true);
    expect(r.cli.errors).toEqual([]);
    expect(Buffer.compare(r.srv.bytes(), r.dataAB)).toBe(0);
    expect(Buffer.compare(r.cli.bytes(), r.dataBA)).toBe(0);
  });

  it('moves data with loss, duplication, reordering and corruption', () => {
    const r = run(2, 200_000, 50_000, { loss: 0.1, duplicate: 0.05, reorder: 0.1, corrupt: 0.05 });
    expect(r.ok).toBe(true);
    expect(r.cli.errors).toEqual([]);
    expect(r.srv.errors).toEqual([]);
    expect(Buffer.compare(r.srv.bytes(), r.dataAB)).toBe(0);
    expect(Buffer.compare(r.cli.bytes(), r.dataBA)).toBe(0);
  });

  it('moves data written through onSendReady', () => {
    const r = run(3, 100_000, 1000, { loss: 0.05 }, { useWriter: true });
    expect(r.ok).toBe(true);
    expect(Buffer.compare(r.srv.bytes(), r.dataAB)).toBe(0);
  });
});
