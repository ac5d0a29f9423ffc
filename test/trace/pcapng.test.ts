import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureFormatError, type CaptureRecord } from '../../src/trace/capture.js';
import {
  encodePcapng,
  parsePcapngBuffer,
  PcapngEncoder,
  PcapngWriter,
  readPcapng,
  type PcapngInterface,
} from '../../src/trace/pcapng.js';
import { buildSample } from './fixtures/pcapng-sample.js';
import { tsharkFields } from './fixtures/tshark.js';
import { describeNeeds } from '../support/needs.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'pcapng-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function collect(it: AsyncIterable<CaptureRecord>): Promise<CaptureRecord[]> {
  const out: CaptureRecord[] = [];
  for await (const r of it) out.push({ ...r, data: r.data.slice() });
  return out;
}

/** The bytes as an async iterable of chunks of the given sizes (cycled). */
async function* chunked(bytes: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  let i = 0;
  while (at < bytes.length) {
    const n = Math.max(1, sizes[i++ % sizes.length]!);
    // A fresh copy per chunk, like a stream's buffers.
    yield bytes.slice(at, at + n);
    at += n;
  }
}

async function errorOf(p: Promise<unknown>): Promise<CaptureFormatError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CaptureFormatError);
    return err as CaptureFormatError;
  }
  throw new Error('expected a CaptureFormatError');
}

const plain = (records: readonly CaptureRecord[]) => records.map((r) => ({ ...r, data: Array.from(r.data) }));

describe('readPcapng', () => {
  for (const order of ['le', 'be'] as const) {
    it(`reads a ${order === 'le' ? 'little' : 'big'}-endian file with two sections, three time resolutions, SPB, PB and unknown blocks`, async () => {
      const s = buildSample(order);
      const file = path.join(tmp, `sample-${order}.pcapng`);
      writeFileSync(file, s.file);
      expect(plain(await collect(readPcapng(file)))).toEqual(plain(s.records));
      expect(plain(parsePcapngBuffer(s.file))).toEqual(plain(s.records));
    });
  }

  it('yields the same records whatever the chunking of the input', async () => {
    const s = buildSample('le');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }), async (sizes) => {
        expect(plain(await collect(readPcapng(chunked(s.file, sizes))))).toEqual(plain(s.records));
      }),
      { numRuns: 100 },
    );
    // One byte at a time, and from a Node Readable.
    expect(plain(await collect(readPcapng(chunked(s.file, [1]))))).toEqual(plain(s.records));
    expect(plain(await collect(readPcapng(Readable.from([Buffer.from(s.file)]))))).toEqual(plain(s.records));
  });

  it('assembles a large block that arrives in many chunks', async () => {
    const big = new Uint8Array(3 * 1024 * 1024 + 3);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    const file = encodePcapng([
      { timestampNs: 5_000n, data: Uint8Array.of(1, 2, 3) },
      { timestampNs: 6_000n, data: big },
      { timestampNs: 7_000n, data: Uint8Array.of(4) },
    ]);
    const got = await collect(readPcapng(chunked(file, [4096, 65536, 13])));
    expect(got.map((r) => r.data.length)).toEqual([3, big.length, 1]);
    // (Buffer.equals: a deep toEqual over megabytes is slow.)
    expect(Buffer.from(got[1]!.data).equals(big)).toBe(true);
    expect(got.map((r) => r.timestampNs)).toEqual([5_000n, 6_000n, 7_000n]);
  });

  it('reports interfaces as they are described', async () => {
    const seen: [number, number, PcapngInterface][] = [];
    await collect(readPcapng(chunked(buildSample('be').file, [100]), { onInterface: (i, id, sec) => seen.push([sec, id, i]) }));
    expect(seen.map(([sec, id, i]) => [sec, id, i.linkType, i.snaplen, i.unitsPerSecond, i.tsOffsetSeconds, i.name])).toEqual([
      [0, 0, 1, 100, 1_000_000n, 0n, 'eth0'],
      [0, 1, 1, 0, 1_000_000_000n, 0n, 'eth1'],
      [0, 2, 1, 65535, 1n << 20n, 1_600_000_000n, undefined],
      [1, 0, 101, 0, 1000n, 0n, undefined],
    ]);
    expect(seen[1]![2].description).toBe('nanoseconds');
  });
});

describe('readPcapng on damaged input', () => {
  const enc = new PcapngEncoder('le');
  const shb = enc.sectionHeader();
  const idb = enc.interfaceDescription({ linkType: 1 });
  const epb = enc.enhancedPacket({ timestampNs: 1_000n, data: new Uint8Array(10).fill(9) });
  const good = Uint8Array.from([...shb, ...idb, ...epb]);
  const epbAt = shb.length + idb.length;

  const damaged = (mutate: (b: Uint8Array, dv: DataView) => Uint8Array | void): Uint8Array => {
    const b = good.slice();
    return mutate(b, new DataView(b.buffer)) ?? b;
  };

  const cases: { name: string; bytes: Uint8Array; message: RegExp; offset: number }[] = [
    {
      name: 'trailing total length differs from the leading one',
      bytes: damaged((b, dv) => dv.setUint32(b.length - 4, 99, true)),
      message: /enhanced packet block total length mismatch: 44 at the start, 99 at the end/,
      offset: epbAt,
    },
    {
      name: 'total length not a multiple of 4',
      bytes: damaged((_, dv) => dv.setUint32(epbAt + 4, 42, true)),
      message: /not a multiple of 4/,
      offset: epbAt,
    },
    {
      name: 'total length beyond 64 MiB',
      bytes: damaged((_, dv) => dv.setUint32(epbAt + 4, 65 * 1024 * 1024, true)),
      message: /exceeds the limit of 67108864/,
      offset: epbAt,
    },
    {
      name: 'total length below the 12-byte minimum',
      bytes: damaged((_, dv) => dv.setUint32(epbAt + 4, 8, true)),
      message: /impossible total length 8/,
      offset: epbAt,
    },
    {
      name: 'packet on an interface the section did not describe',
      bytes: damaged((_, dv) => dv.setUint32(epbAt + 8, 3, true)),
      message: /interface 3, but the section defines 1 interface/,
      offset: epbAt,
    },
    {
      name: 'captured length larger than the block',
      bytes: damaged((_, dv) => dv.setUint32(epbAt + 20, 200, true)),
      message: /claims 200 captured bytes in a 44-byte block/,
      offset: epbAt,
    },
    {
      name: 'file cut inside a block',
      bytes: good.subarray(0, good.length - 5),
      message: /truncated 44-byte block at end of file: 39 bytes present/,
      offset: epbAt,
    },
    {
      name: 'file cut inside a block header',
      bytes: good.subarray(0, epbAt + 6),
      message: /truncated block header at end of file: 6 bytes present/,
      offset: epbAt,
    },
    {
      name: 'no section header first',
      bytes: Uint8Array.from([...idb, ...epb]),
      message: /does not start with a section header block/,
      offset: 0,
    },
    {
      name: 'unknown byte-order magic',
      bytes: damaged((_, dv) => dv.setUint32(8, 0x11223344, true)),
      message: /unknown byte-order magic 0x44332211/,
      offset: 8,
    },
    {
      name: 'unsupported major version',
      bytes: damaged((_, dv) => dv.setUint16(12, 2, true)),
      message: /unsupported pcapng version 2\.0/,
      offset: 12,
    },
    {
      name: 'an interface of an earlier section used after a new section header',
      bytes: Uint8Array.from([...shb, ...idb, ...shb, ...epb]),
      message: /interface 0, but the section defines 0 interface/,
      offset: shb.length * 2 + idb.length,
    },
    { name: 'empty input', bytes: new Uint8Array(0), message: /empty file/, offset: 0 },
  ];

  for (const c of cases) {
    it(`${c.name} → CaptureFormatError at byte ${c.offset}`, async () => {
      for (const source of [chunked(c.bytes, [7]), chunked(c.bytes, [1 << 20])]) {
        const err = await errorOf(collect(readPcapng(source)));
        expect(err.message).toMatch(c.message);
        expect(err.offset).toBe(c.offset);
        expect(err.message).toContain(`(at byte offset ${c.offset})`);
      }
      let syncErr: unknown;
      try {
        parsePcapngBuffer(c.bytes);
      } catch (e) {
        syncErr = e;
      }
      expect(syncErr).toBeInstanceOf(CaptureFormatError);
      expect((syncErr as CaptureFormatError).offset).toBe(c.offset);
    });
  }

  it('yields the good packets before the damage', async () => {
    const bytes = Uint8Array.from([...good, ...epb.subarray(0, 20)]);
    const seen: CaptureRecord[] = [];
    const err = await errorOf(
      (async () => {
        for await (const r of readPcapng(chunked(bytes, [16]))) seen.push(r);
      })(),
    );
    expect(seen).toHaveLength(1);
    expect(err.offset).toBe(good.length);
  });

  it('never throws anything but CaptureFormatError on random corruption', async () => {
    const s = buildSample('le').file;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(s.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat(s.length),
        async (edits, cut) => {
          const b = s.slice(0, Math.max(cut, 1));
          for (const [at, v] of edits) if (at < b.length) b[at] = v;
          try {
            await collect(readPcapng(chunked(b, [333])));
          } catch (err) {
            expect(err).toBeInstanceOf(CaptureFormatError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('PcapngWriter', () => {
  it('writes interfaces and packets that read back identically, to a path and to a stream', async () => {
    const file = path.join(tmp, 'written.pcapng');
    const w = new PcapngWriter(file, { application: 'test', interfaces: [{ linkType: 1, name: 'sim0' }] });
    const ns = w.addInterface({ linkType: 101, tsresol: 9 });
    const frames = [Uint8Array.of(1, 2, 3, 4, 5), Uint8Array.of(6), new Uint8Array(70_000).fill(0xaa)];
    w.write({ timestampNs: 1_700_000_000_000_001_000n, data: frames[0]! });
    w.write({ timestampNs: 1_700_000_000_000_000_007n, data: frames[1]!, interfaceId: ns, originalLength: 60 });
    w.write({ timestampNs: 1_700_000_001_000_000_000n, data: frames[2]! });
    expect(w.recordsWritten).toBe(3);
    await w.close();
    await w.close();
    expect(() => w.write({ timestampNs: 0n, data: frames[1]! })).toThrow(/after close/);
    const got = await collect(readPcapng(file));
    expect(got.map((r) => [r.interfaceId, r.linkType, r.timestampNs, r.originalLength, r.data.length])).toEqual([
      [0, 1, 1_700_000_000_000_001_000n, 5, 5],
      [1, 101, 1_700_000_000_000_000_007n, 60, 1],
      [0, 1, 1_700_000_001_000_000_000n, 70_000, 70_000],
    ]);
    expect(Buffer.from(got[2]!.data).equals(frames[2]!)).toBe(true);

    const sink = new PassThrough();
    const parts: Buffer[] = [];
    sink.on('data', (c: Buffer) => parts.push(c));
    const ws = new PcapngWriter(sink, { byteOrder: 'be' });
    ws.write({ timestampNs: 42_000n, data: frames[0]! });
    await ws.close();
    const streamed = Buffer.concat(parts);
    expect(streamed.readUInt32BE(8)).toBe(0x1a2b3c4d);
    expect(plain(parsePcapngBuffer(streamed)).map((r) => [r.timestampNs, r.data])).toEqual([[42_000n, [1, 2, 3, 4, 5]]]);
    expect(readFileSync(file).subarray(0, 4)).toEqual(Buffer.from([0x0a, 0x0d, 0x0d, 0x0a]));
  });

  it('refuses packets for undeclared interfaces and timestamps it cannot hold', () => {
    const enc = new PcapngEncoder();
    enc.sectionHeader();
    expect(() => enc.enhancedPacket({ timestampNs: 0n, data: new Uint8Array(1) })).toThrow(/undeclared interface 0/);
    enc.interfaceDescription({ linkType: 1, tsOffsetSeconds: 10n });
    expect(() => enc.enhancedPacket({ timestampNs: 1n, data: new Uint8Array(1) })).toThrow(/before the interface's offset/);
  });
});

describeNeeds(['tshark'], 'pcapng files against tshark', () => {
  for (const order of ['le', 'be'] as const) {
    it(`tshark reads the ${order} sample cleanly, with the same packets and timestamps`, async () => {
      const s = buildSample(order);
      const file = path.join(tmp, `tshark-${order}.pcapng`);
      writeFileSync(file, s.file);
      // tshark also lists custom blocks (0x00000BAD) as records; packets are the rows with an interface.
      const rows = tsharkFields(file, ['frame.interface_id', 'frame.time_epoch', 'frame.len', 'frame.cap_len']).filter(
        (r) => r[0] !== '',
      );
      const ours = await collect(readPcapng(file));
      expect(rows.length).toBe(ours.length);
      rows.forEach((r, i) => {
        const rec = ours[i]!;
        expect(Number(r[2]), `frame ${i}`).toBe(rec.originalLength);
        expect(Number(r[3]), `frame ${i}`).toBe(rec.data.length);
        // tshark prints no time for an SPB (no timestamp); we say 0.
        const expected =
          rec.timestampNs === 0n ? '' : `${rec.timestampNs / 1_000_000_000n}.${String(rec.timestampNs % 1_000_000_000n).padStart(9, '0')}`;
        expect(r[1], `frame ${i}`).toBe(expected);
      });
    });
  }

  it('tshark reads what PcapngWriter writes', async () => {
    const file = path.join(tmp, 'writer-tshark.pcapng');
    const w = new PcapngWriter(file, { byteOrder: 'be', interfaces: [{ linkType: 1, name: 'a' }, { linkType: 1, tsresol: 9, name: 'b' }] });
    for (let i = 0; i < 50; i++) {
      w.write({ timestampNs: 1_700_000_000_000_000_000n + BigInt(i) * 1_234_567n, data: new Uint8Array(60 + i).fill(i), interfaceId: i % 2 });
    }
    await w.close();
    const rows = tsharkFields(file, ['frame.interface_id', 'frame.time_epoch', 'frame.len']);
    expect(rows).toHaveLength(50);
    rows.forEach((r, i) => {
      const ns = BigInt(i) * 1_234_567n;
      const frac = i % 2 === 0 ? ns - (ns % 1000n) : ns;
      expect(r).toEqual([String(i % 2), `1700000000.${String(frac).padStart(9, '0')}`, String(60 + i)]);
    });
  });
});
