import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureFormatError, LINKTYPE_ETHERNET, LINKTYPE_RAW, type CaptureRecord } from '../../src/trace/capture.js';
import {
  PcapWriter, encodePcap, parsePcapBuffer, parsePcapHeader, readPcap, type PcapSource,
} from '../../src/trace/pcap.js';
import { emitEthernet, parseEthernet, ETHERTYPE_IPV4 } from '../../src/wire/ethernet.js';
import { IP_PROTO_TCP, emitIpv4, ipv4ChecksumOk, parseIpv4 } from '../../src/wire/ipv4.js';
import { computeTcpChecksum, emitTcp, parseTcp, tcpChecksumOk } from '../../src/wire/tcp.js';
import { itNeeds } from '../support/needs.js';

const TRACES = path.resolve(process.cwd(), 'test/fixtures/traces');
const RAW = path.join(TRACES, 'telnet-raw.pcap');
const COOKED = path.join(TRACES, 'telnet-cooked.pcap');
const rawBytes = new Uint8Array(readFileSync(RAW));
const cookedBytes = new Uint8Array(readFileSync(COOKED));

const tmp = mkdtempSync(path.join(tmpdir(), 'pcap-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));


/**
 * Frames whose IPv4 total length claims more bytes than were captured: the
 * capture kept only the 52 bytes of IP and TCP headers. tshark reports
 * "IPv4 total length exceeds packet length" and a bad TCP checksum for exactly
 * these frames (`tshark -o tcp.check_checksum:TRUE`), listed with the checksum
 * tshark calculates.
 */
const CUT_FRAMES: Record<string, Map<number, number>> = {
  'telnet-raw.pcap': new Map([
    [37, 0xf3a1], [41, 0xf386], [45, 0xf372], [49, 0xf365], [83, 0xee23], [87, 0xedb2], [93, 0xed09], [97, 0xecdf],
    [101, 0xecbe], [105, 0xec89], [129, 0xeace], [141, 0xea5b], [149, 0xea14], [161, 0xe9c6], [181, 0xe8c8],
    [185, 0xe8ad], [189, 0xe891], [201, 0xe802], [205, 0xe7a6], [209, 0xe798], [213, 0xe78f], [217, 0xe6c7],
    [256, 0xdcc6], [264, 0xdbab], [268, 0xdafb],
  ]),
  'telnet-cooked.pcap': new Map([[18, 0xed12], [32, 0xeb7d], [52, 0xe266], [70, 0xde21], [78, 0xdd15]]),
};

interface Decoded {
  /** The datagram is shorter than its IPv4 total length says. */
  cut: boolean;
  ipChecksumOk: boolean;
  tcpChecksumOk: boolean;
  /** The checksum the segment as captured should carry (what tshark reports as calculated). */
  tcpChecksumCalculated: number;
  reemitted: Uint8Array;
}

function decode(data: Uint8Array): Decoded {
  const eth = parseEthernet(data, 0, data.length);
  if (!eth.ok) throw new Error(`ethernet: ${eth.reason}`);
  expect(eth.header.ethertype).toBe(ETHERTYPE_IPV4);
  const ipOff = eth.headerLength;
  let ip = parseIpv4(data, ipOff, data.length - ipOff);
  const cut = !ip.ok && ip.reason === 'truncated';
  if (cut) ip = parseIpv4(data, ipOff, data.length - ipOff, false);
  if (!ip.ok) throw new Error(`ipv4: ${ip.reason}`);
  expect(ip.header.protocol).toBe(IP_PROTO_TCP);
  const ipLen = Math.min(ip.header.totalLength, data.length - ipOff);
  const tcpOff = ipOff + ip.headerLength;
  const tcpLen = ipLen - ip.headerLength;
  const tcp = parseTcp(data, tcpOff, tcpLen);
  if (!tcp.ok) throw new Error(`tcp: ${tcp.reason}`);
  const { src, dst } = ip.header;
  const segment = emitTcp(tcp.header, data.subarray(tcpOff + tcp.headerLength, ipOff + ipLen));
  const datagram = emitIpv4(ip.header, segment);
  const trailer = data.subarray(ipOff + ipLen);
  const frame = emitEthernet(eth.header, Uint8Array.from([...datagram, ...trailer]));
  return {
    cut,
    ipChecksumOk: ipv4ChecksumOk(data, ipOff, ip.headerLength),
    tcpChecksumOk: tcpChecksumOk(data, tcpOff, tcpLen, src, dst),
    tcpChecksumCalculated: computeTcpChecksum(data, tcpOff, tcpLen, src, dst),
    reemitted: frame,
  };
}

function sameRecords(a: readonly CaptureRecord[], b: readonly CaptureRecord[]): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    expect(a[i]!.index).toBe(b[i]!.index);
    expect(a[i]!.timestampNs).toBe(b[i]!.timestampNs);
    expect(a[i]!.originalLength).toBe(b[i]!.originalLength);
    expect(a[i]!.linkType).toBe(b[i]!.linkType);
    expect(Buffer.from(a[i]!.data).equals(Buffer.from(b[i]!.data))).toBe(true);
  }
}

async function collect(source: PcapSource): Promise<CaptureRecord[]> {
  const out: CaptureRecord[] = [];
  for await (const r of readPcap(source)) out.push(r);
  return out;
}

/** The bytes as an async source delivering `size`-byte chunks (each its own copy). */
async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

function formatError(fn: () => unknown): CaptureFormatError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CaptureFormatError);
    return e as CaptureFormatError;
  }
  throw new Error('expected a CaptureFormatError');
}

async function asyncFormatError(p: Promise<unknown>): Promise<CaptureFormatError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CaptureFormatError);
    return e as CaptureFormatError;
  }
  throw new Error('expected a CaptureFormatError');
}

describe('reading the reference captures', () => {
  it('reads the file headers', () => {
    expect(parsePcapHeader(rawBytes)).toEqual({
      byteOrder: 'le', precision: 'us', versionMajor: 2, versionMinor: 4, thiszone: 0, sigfigs: 0, snaplen: 1514,
      linkType: LINKTYPE_ETHERNET, fcsLength: 0,
    });
  });

  it('yields every record with its time, lengths and file offset', () => {
    const raw = parsePcapBuffer(rawBytes);
    const cooked = parsePcapBuffer(cookedBytes);
    expect(raw.length).toBe(272);
    expect(cooked.length).toBe(92);
    // tshark: frame.time_epoch 944192088.255531000 and 944192088.257221000, both 74 bytes.
    expect(raw[0]).toMatchObject({
      index: 0, timestampNs: 944_192_088_255_531_000n, linkType: 1, originalLength: 74, interfaceId: 0, fileOffset: 24,
    });
    expect(raw[0]!.data.length).toBe(74);
    expect(raw[1]).toMatchObject({ index: 1, timestampNs: 944_192_088_257_221_000n, fileOffset: 24 + 16 + 74 });
    expect(raw[271]!.timestampNs).toBe(944_192_142_668_467_000n);
    expect(raw.reduce((n, r) => n + r.data.length, 0) + 24 + 16 * 272).toBe(rawBytes.length);
  });

  for (const [name, bytes] of [['telnet-raw.pcap', rawBytes], ['telnet-cooked.pcap', cookedBytes]] as const) {
    it(`${name}: every frame decodes as Ethernet/IPv4/TCP, checksums agree with tshark, re-emits byte for byte`, () => {
      const cutFrames = CUT_FRAMES[name]!;
      let tcpVerified = 0;
      for (const rec of parsePcapBuffer(bytes)) {
        const frameNumber = rec.index + 1;
        const d = decode(rec.data);
        expect(d.ipChecksumOk, `frame ${frameNumber} IPv4 checksum`).toBe(true);
        expect(d.reemitted, `frame ${frameNumber} re-emitted`).toEqual(rec.data);
        const expectedCut = cutFrames.get(frameNumber);
        if (expectedCut === undefined) {
          expect(d.cut, `frame ${frameNumber} whole`).toBe(false);
          expect(d.tcpChecksumOk, `frame ${frameNumber} TCP checksum`).toBe(true);
          tcpVerified++;
        } else {
          expect(d.cut, `frame ${frameNumber} cut`).toBe(true);
          expect(d.tcpChecksumOk).toBe(false);
          expect(d.tcpChecksumCalculated, `frame ${frameNumber} calculated checksum`).toBe(expectedCut);
        }
      }
      expect(tcpVerified).toBe(name === 'telnet-raw.pcap' ? 272 - 25 : 92 - 5);
    });
  }

  it('streams the same records from a path, a Readable and odd-sized chunks', async () => {
    const whole = parsePcapBuffer(rawBytes);
    sameRecords(await collect(RAW), whole);
    const { createReadStream } = await import('node:fs');
    sameRecords(await collect(createReadStream(RAW, { highWaterMark: 100 })), whole);
    for (const size of [1, 7, 16, 113, 200, 1500, 4096]) {
      const recs = await collect(chunked(rawBytes, size));
      sameRecords(recs, whole);
      expect(recs.map((r) => r.fileOffset)).toEqual(whole.map((r) => r.fileOffset));
    }
  });

  it('can stop early without reading the rest', async () => {
    let n = 0;
    for await (const r of readPcap(RAW)) {
      n++;
      if (r.index === 4) break;
    }
    expect(n).toBe(5);
  });
});

describe('timestamps', () => {
  it('gives each record its time as a BigInt and as the nearest double, equal to Number() of it, at the extremes of both precisions', () => {
    const secs = [0n, 1n, 1_700_000_000n, 2n ** 31n - 1n, 2n ** 32n - 1n];
    for (const precision of ['us', 'ns'] as const) {
      const fracs = precision === 'ns' ? [0n, 1n, 499_999_999n, 500_000_000n, 999_999_999n] : [0n, 1_000n, 500_000_000n, 999_999_000n];
      const times = secs.flatMap((s) => fracs.map((f) => s * 1_000_000_000n + f));
      const recs = parsePcapBuffer(encodePcap(times.map((t) => ({ timestampNs: t, data: new Uint8Array(20) })), { precision, linkType: LINKTYPE_RAW }));
      expect(recs.map((r) => r.timestampNs)).toEqual(times);
      for (const r of recs) expect(r.timeNs).toBe(Number(r.timestampNs));
    }
  });
});

describe('truncated and corrupt files', () => {
  const recs = parsePcapBuffer(rawBytes);
  const last = recs[recs.length - 1]!;
  const cases: Array<[string, number, number | null]> = [
    ['empty file', 0, 0],
    ['inside the magic', 3, 0],
    ['inside the file header', 20, 0],
    ['inside the first record header', 30, 24],
    ['inside the first record data', 24 + 16 + 10, 24],
    ['inside the second record header', 114 + 15, 114],
    ['inside the last record', rawBytes.length - 1, last.fileOffset],
  ];

  for (const [what, cut, offset] of cases) {
    it(`cut ${what} (${cut} bytes): CaptureFormatError at offset ${offset}`, async () => {
      const bytes = rawBytes.slice(0, cut);
      const e = formatError(() => parsePcapBuffer(bytes));
      expect(e.offset).toBe(offset);
      expect(e.message).toContain(`offset ${offset}`);
      for (const size of [5, 4096]) {
        const s = await asyncFormatError(collect(chunked(bytes, size)));
        expect(s.offset).toBe(offset);
      }
    });
  }

  it('a cut exactly between records is a shorter, valid file', async () => {
    expect(parsePcapBuffer(rawBytes.slice(0, 24))).toEqual([]);
    expect(parsePcapBuffer(rawBytes.slice(0, 114)).length).toBe(1);
    expect((await collect(chunked(rawBytes.slice(0, 114), 50))).length).toBe(1);
  });

  it('reports a cut file read from disk with the record offset', async () => {
    const file = path.join(tmp, 'cut.pcap');
    writeFileSync(file, rawBytes.subarray(0, last.fileOffset + 20));
    const e = await asyncFormatError(collect(file));
    expect(e.offset).toBe(last.fileOffset);
  });

  it('rejects a file that is not pcap', () => {
    const gif = new TextEncoder().encode('GIF89a this is not a capture file at all');
    const e = formatError(() => parsePcapBuffer(gif));
    expect(e.offset).toBe(0);
    expect(e.message).toMatch(/bad magic/);
    const ng = Uint8Array.from([0x0a, 0x0d, 0x0d, 0x0a, ...new Uint8Array(28)]);
    expect(formatError(() => parsePcapBuffer(ng)).message).toMatch(/pcapng/);
    const v3 = rawBytes.slice();
    v3[4] = 3;
    expect(formatError(() => parsePcapBuffer(v3)).offset).toBe(4);
  });

  it('rejects an impossible record length at that record', async () => {
    const bad = rawBytes.slice();
    const at = recs[3]!.fileOffset;
    new DataView(bad.buffer).setUint32(at + 8, 0x7fff_0000, true);
    const e = formatError(() => parsePcapBuffer(bad));
    expect(e.offset).toBe(at);
    expect(e.message).toMatch(/record 3/);
    expect((await asyncFormatError(collect(chunked(bad, 1000)))).offset).toBe(at);
    // More than twice the snaplen is already implausible...
    new DataView(bad.buffer).setUint32(at + 8, 5000, true);
    expect(formatError(() => parsePcapBuffer(bad)).offset).toBe(at);
    // ...unless the caller allows it; then the reader runs into garbage further on.
    expect(formatError(() => parsePcapBuffer(bad, { maxRecordLength: 10_000 })).offset).toBeGreaterThan(at);
  });
});

describe('writing', () => {
  it('rewrites a reference capture byte for byte', async () => {
    const file = path.join(tmp, 'copy.pcap');
    const w = new PcapWriter(file, { snaplen: 1514, precision: 'us' });
    for (const r of parsePcapBuffer(rawBytes)) w.write(r);
    expect(w.recordsWritten).toBe(272);
    await w.close();
    expect(Buffer.from(readFileSync(file)).equals(Buffer.from(rawBytes))).toBe(true);
    expect(Buffer.from(encodePcap(parsePcapBuffer(rawBytes), { snaplen: 1514 })).equals(Buffer.from(rawBytes))).toBe(true);
  });

  it('reads back nanosecond and big-endian files identically', () => {
    const recs = parsePcapBuffer(cookedBytes).map((r, i) => ({ ...r, timestampNs: r.timestampNs + BigInt(i) }));
    for (const byteOrder of ['le', 'be'] as const) {
      const bytes = encodePcap(recs, { precision: 'ns', byteOrder });
      const header = parsePcapHeader(bytes);
      expect(header.precision).toBe('ns');
      expect(header.byteOrder).toBe(byteOrder);
      sameRecords(parsePcapBuffer(bytes), recs);
    }
  });

  it('writes to a Writable, takes bare frames with a millisecond wall time, and cuts at the snaplen', async () => {
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    const w = new PcapWriter(sink, { linkType: LINKTYPE_RAW, snaplen: 100 });
    w.write(new Uint8Array(40).fill(0x45), Date.UTC(2026, 0, 1) + 0.5);
    w.write({ timestampNs: 5_000_001_999n, data: new Uint8Array(300).fill(1) });
    await w.close();
    const back = parsePcapBuffer(new Uint8Array(Buffer.concat(chunks)));
    expect(back.map((r) => [r.linkType, r.timestampNs, r.data.length, r.originalLength])).toEqual([
      [LINKTYPE_RAW, BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n + 500_000n, 40, 40],
      [LINKTYPE_RAW, 5_000_001_000n, 100, 300],
    ]);
  });

  it('writes a valid empty file and refuses misuse', async () => {
    const file = path.join(tmp, 'empty.pcap');
    const w = new PcapWriter(file);
    await w.close();
    await w.close();
    expect(parsePcapBuffer(new Uint8Array(readFileSync(file)))).toEqual([]);
    expect(() => w.write({ timestampNs: 0n, data: new Uint8Array(1) })).toThrow(/after close/);
    const w2 = new PcapWriter(new PassThrough(), { linkType: 1 });
    expect(() => w2.write({ timestampNs: -1n, data: new Uint8Array(1) })).toThrow(RangeError);
    expect(() => w2.write({ timestampNs: 0n, data: new Uint8Array(1), linkType: 113 })).toThrow(RangeError);
  });

  it('rejects close() when the file cannot be written', async () => {
    const w = new PcapWriter(path.join(tmp, 'no-such-dir', 'x.pcap'));
    w.write({ timestampNs: 0n, data: new Uint8Array(10) });
    await expect(w.close()).rejects.toThrow(/ENOENT/);
  });

  itNeeds(['tshark'], 'produces files tshark opens cleanly with the same frames and times', async () => {
    const expected = tsharkFrames(RAW);
    const recs = parsePcapBuffer(rawBytes);
    for (const [name, options] of [
      ['us-le.pcap', { precision: 'us' }],
      ['ns-be.pcap', { precision: 'ns', byteOrder: 'be' }],
    ] as const) {
      const file = path.join(tmp, name);
      const w = new PcapWriter(file, options);
      for (const r of recs) w.write(r);
      await w.close();
      expect(tsharkFrames(file)).toEqual(expected);
    }
  });
});

/** tshark's view of a file: time, length, sequence number and source per frame; fails on any complaint. */
function tsharkFrames(file: string): string {
  const r = spawnSync(
    'tshark',
    ['-r', file, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'tcp.seq_raw', '-e', 'ip.src'],
    { encoding: 'utf8' },
  );
  expect(r.status).toBe(0);
  // tshark warns when run as root; anything else on stderr is a complaint about the file.
  const complaints = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/Running as user/.test(l));
  expect(complaints).toEqual([]);
  expect(r.stdout.split('\n').filter(Boolean).length).toBe(272);
  return r.stdout;
}
