/**
 * readSegment reads the options in place: whatever the option bytes, it must
 * find what the wire format's parser finds (parseTcpOptions, then
 * tcpOptionValues), malformed and truncated lists included.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readSegment, Segment } from '../../../src/layers/tcp/segment.js';
import { parseTcpOptions, tcpOptionValues } from '../../../src/wire/tcp.js';

const SEED = Number(process.env['FC_SEED'] ?? 20261203);

/** Option bytes: mostly well-formed options in any order and number, sometimes garbage. */
const option = fc.oneof(
  fc.constant([1]),
  fc.constant([0]),
  fc.tuple(fc.integer({ min: 0, max: 65535 })).map(([m]) => [2, 4, m >> 8, m & 0xff]),
  fc.integer({ min: 0, max: 255 }).map((s) => [3, 3, s]),
  fc.constant([4, 2]),
  fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 8, maxLength: 8 }).map((b) => [8, 10, ...b]),
  fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 8, maxLength: 32 }).map((b) => [5, 2 + b.length, ...b]),
  fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 6 }),
);

function segmentWith(opts: number[]): { bytes: Uint8Array; hl: number } {
  const padded = opts.slice(0, 40);
  while (padded.length % 4 !== 0) padded.push(1);
  const hl = 20 + padded.length;
  const bytes = new Uint8Array(hl + 3);
  bytes.set([0x13, 0x89, 0xc3, 0x50, 1, 2, 3, 4, 5, 6, 7, 8, (hl / 4) << 4, 0x12, 0xff, 0xff], 0);
  bytes.set(padded, 20);
  return { bytes, hl };
}

describe('readSegment options', () => {
  it('finds what parseTcpOptions and tcpOptionValues find', () => {
    fc.assert(
      fc.property(fc.array(option, { maxLength: 12 }), (parts) => {
        const { bytes, hl } = segmentWith(parts.flat());
        const seg = new Segment(bytes);
        expect(readSegment(seg, bytes, 0, bytes.length)).toBeNull();
        const v = tcpOptionValues(parseTcpOptions(bytes, 20, hl - 20));
        expect(seg.mss).toBe(v.mss ?? -1);
        expect(seg.wscale).toBe(v.wscale ?? -1);
        expect(seg.sackOk).toBe(v.sackPermitted);
        expect(seg.hasTs).toBe(v.timestamps !== undefined);
        if (v.timestamps !== undefined) {
          expect(seg.tsVal).toBe(v.timestamps.tsVal);
          expect(seg.tsEcr).toBe(v.timestamps.tsEcr);
        }
        expect(seg.sack).toEqual(v.sack === undefined ? null : v.sack.flatMap((b) => [b.left, b.right]));
        expect(seg.dataOff).toBe(hl);
        expect(seg.dataLen).toBe(3);
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });
});
