import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIp4 } from '../../src/wire/addr.js';
import {
  checksumVerifies, finishChecksum, foldSum, internetChecksum, onesComplementSum, onesComplementSumScalar, pseudoHeaderSum,
} from '../../src/wire/checksum.js';

/** The textbook definition, two bytes at a time, for comparison. */
function reference(bytes: Uint8Array, offset: number, length: number): number {
  let sum = 0;
  for (let i = 0; i < length; i += 2) {
    const hi = bytes[offset + i]!;
    const lo = i + 1 < length ? bytes[offset + i + 1]! : 0;
    sum += (hi << 8) | lo;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return sum;
}

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

describe('Internet checksum', () => {
  it('matches the worked example of RFC 1071 section 3', () => {
    const data = hex('0001 f203 f4f5 f6f7');
    expect(onesComplementSum(data, 0, 8)).toBe(0xddf2);
    expect(internetChecksum(data, 0, 8)).toBe(0x220d);
  });

  it('verifies a real IPv4 header from the Telnet capture and rejects a flipped bit', () => {
    // Frame 1 of telnet-raw.pcap: 192.168.0.2 -> 192.168.0.1, checksum a2b1.
    const header = hex('4510 003c 16a7 4000 4006 a2b1 c0a8 0002 c0a8 0001');
    expect(checksumVerifies(header, 0, 20)).toBe(true);
    header[10] = 0;
    header[11] = 0;
    expect(internetChecksum(header, 0, 20)).toBe(0xa2b1);
    header[11] = 0xb1;
    header[10] = 0xa2;
    header[3] ^= 0x01;
    expect(checksumVerifies(header, 0, 20)).toBe(false);
  });

  it('pads an odd trailing byte with zero', () => {
    expect(onesComplementSum(hex('1234 56'), 0, 3)).toBe(0x1234 + 0x5600);
  });

  it('is empty-safe and honours the initial partial sum', () => {
    expect(onesComplementSum(new Uint8Array(0), 0, 0)).toBe(0);
    expect(onesComplementSum(new Uint8Array(0), 0, 0, 0x1234)).toBe(0x1234);
    expect(internetChecksum(new Uint8Array(4), 0, 4)).toBe(0xffff);
  });

  it('agrees with the textbook loop at every size, offset and buffer alignment', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        fc.nat(7),
        fc.nat(7),
        (data, bufferOffset, offset) => {
          // Place the data at an arbitrary byteOffset inside a larger ArrayBuffer.
          const backing = new Uint8Array(data.length + 32);
          const view = new Uint8Array(backing.buffer, bufferOffset, data.length + 16);
          view.set(data, offset);
          expect(onesComplementSum(view, offset, data.length)).toBe(reference(view, offset, data.length));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('chains over chunks of even length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 2000 }), fc.nat(1000), (data, cutAt) => {
        const cut = Math.min(data.length, cutAt) & ~1;
        const first = onesComplementSum(data, 0, cut);
        expect(onesComplementSum(data, cut, data.length - cut, first)).toBe(reference(data, 0, data.length));
      }),
      { numRuns: 200 },
    );
  });

  it('sums long ranges the same by the vector path and the scalar one (chunk edges, lanes near overflow)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 200, max: 70_000 }), fc.nat(63), fc.integer({ min: 0, max: 255 }), fc.nat(), (length, offset, fill, seed) => {
        const data = new Uint8Array(length + offset).fill(fill);
        // Mostly one value (0xff stresses the lanes), with a sprinkle of others.
        for (let i = seed % 97; i < data.length; i += 97 + (seed % 13)) data[i] = (i * 31 + seed) & 0xff;
        expect(onesComplementSum(data, offset, length)).toBe(onesComplementSumScalar(data, offset, length));
        expect(onesComplementSum(data, offset, length)).toBe(reference(data, offset, length));
      }),
      { numRuns: 60 },
    );
  });

  it('sums a range anywhere inside a view up to twice its length, up to the 64 KiB edge (copied whole, summed in place)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 256, max: 40_000 }), fc.nat(), fc.nat(), (length, before, seed) => {
        const total = Math.min(65_536 + (seed % 3), 2 * length);
        const offset = before % (total - length + 1);
        const data = new Uint8Array(total).fill(0xff);
        for (let i = seed % 89; i < total; i += 89 + (seed % 11)) data[i] = (i * 17 + seed) & 0xff;
        expect(onesComplementSum(data, offset, length)).toBe(reference(data, offset, length));
      }),
      { numRuns: 60 },
    );
  });

  it('folds correctly on inputs large enough to need intermediate folds', () => {
    const big = new Uint8Array(9 * 1024 * 1024 + 3).fill(0xff);
    big[12345] = 0x01;
    expect(onesComplementSum(big, 1, big.length - 1)).toBe(reference(big, 1, big.length - 1));
  });

  it('computes the TCP/UDP pseudo-header sum', () => {
    const src = parseIp4('192.168.0.2');
    const dst = parseIp4('192.168.0.1');
    const bytes = hex('c0a8 0002 c0a8 0001 0006 0028');
    expect(pseudoHeaderSum(src, dst, 6, 40)).toBe(reference(bytes, 0, bytes.length));
  });

  it('throws on a range outside the array (a programmer error)', () => {
    expect(() => onesComplementSum(new Uint8Array(4), 2, 4)).toThrow(RangeError);
  });

  it('folds and finishes sums', () => {
    expect(foldSum(0x1_fffe)).toBe(0xffff);
    expect(foldSum(2 ** 48)).toBe(1);
    expect(foldSum(2 ** 40)).toBe(0x100);
    expect(finishChecksum(0xffff)).toBe(0);
    expect(finishChecksum(0)).toBe(0xffff);
  });
});
