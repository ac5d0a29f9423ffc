import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureFormatError, type CaptureRecord } from '../../src/trace/capture.js';
import { CaptureOpenError, openCapture, sniffCaptureFormat, type CaptureFormat } from '../../src/trace/open.js';
import { encodePcap } from '../../src/trace/pcap.js';
import { buildSample } from './fixtures/pcapng-sample.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'open-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const RAW = path.resolve(process.cwd(), 'test/fixtures/traces/telnet-raw.pcap');
const COOKED = path.resolve(process.cwd(), 'test/fixtures/traces/telnet-cooked.pcap');

async function collect(it: AsyncIterable<CaptureRecord>): Promise<CaptureRecord[]> {
  const out: CaptureRecord[] = [];
  for await (const r of it) out.push({ ...r, data: r.data.slice() });
  return out;
}

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.slice(at, at + size);
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

describe('openCapture', () => {
  it('reads the real classic pcap captures (272 and 92 packets)', async () => {
    const formats: CaptureFormat[] = [];
    const raw = await collect(openCapture(RAW, { onFormat: (f) => formats.push(f) }));
    expect(raw).toHaveLength(272);
    expect(formats).toEqual(['pcap']);
    expect(raw[0]!.linkType).toBe(1);
    expect(raw.every((r, i) => r.index === i && r.interfaceId === 0)).toBe(true);
    expect(await collect(openCapture(COOKED))).toHaveLength(92);
  });

  it('reads pcapng, from a path, a Readable, or one-byte chunks (the magic split across chunks)', async () => {
    const s = buildSample('be');
    const file = path.join(tmp, 'sample.pcapng');
    writeFileSync(file, s.file);
    const expected = s.records.map((r) => [r.timestampNs, r.interfaceId, r.linkType, Array.from(r.data)]);
    const shape = (rs: CaptureRecord[]) => rs.map((r) => [r.timestampNs, r.interfaceId, r.linkType, Array.from(r.data)]);
    expect(shape(await collect(openCapture(file)))).toEqual(expected);
    expect(shape(await collect(openCapture(Readable.from([Buffer.from(s.file)]))))).toEqual(expected);
    expect(shape(await collect(openCapture(chunked(s.file, 1))))).toEqual(expected);
  });

  it('recognises all four classic pcap magics', async () => {
    const frames = [
      { timestampNs: 1_700_000_000_123_456_789n, data: Uint8Array.of(1, 2, 3) },
      { timestampNs: 1_700_000_001_000_000_001n, data: Uint8Array.of(4) },
    ];
    for (const byteOrder of ['le', 'be'] as const) {
      for (const precision of ['us', 'ns'] as const) {
        const bytes = encodePcap(frames, { byteOrder, precision, linkType: 1 });
        expect(sniffCaptureFormat(bytes)).toBe('pcap');
        const got = await collect(openCapture(chunked(bytes, 3)));
        const cut = (ns: bigint) => (precision === 'us' ? ns - (ns % 1000n) : ns);
        expect(got.map((r) => [r.timestampNs, Array.from(r.data)])).toEqual(
          frames.map((f) => [cut(f.timestampNs), Array.from(f.data)]),
        );
      }
    }
  });

  it('says so when the file does not exist', async () => {
    const missing = path.join(tmp, 'nope.pcap');
    const err = await failure(collect(openCapture(missing)));
    expect(err).toBeInstanceOf(CaptureOpenError);
    expect(err.message).toBe(`capture file not found: ${missing}`);
    const dir = await failure(collect(openCapture(tmp)));
    expect(dir.message).toMatch(/not a regular file/);
  });

  it('rejects empty input and unknown magic as "not a pcap or pcapng file" at offset 0', async () => {
    const empty = path.join(tmp, 'empty.pcap');
    writeFileSync(empty, '');
    const text = path.join(tmp, 'text.pcap');
    writeFileSync(text, 'hello, this is not a capture\n');
    for (const source of [empty, text, chunked(Uint8Array.of(0xa1, 0xb2), 1), chunked(new Uint8Array(0), 1)]) {
      const err = await failure(collect(openCapture(source)));
      expect(err).toBeInstanceOf(CaptureFormatError);
      expect(err.message).toMatch(/^not a pcap or pcapng file/);
      expect((err as CaptureFormatError).offset).toBe(0);
    }
  });

  it('passes damage further in through as the format reader reports it', async () => {
    const bytes = readFileSync(RAW).subarray(0, 1000);
    const err = await failure(collect(openCapture(chunked(bytes, 100))));
    expect(err).toBeInstanceOf(CaptureFormatError);
    expect((err as CaptureFormatError).offset).toBeGreaterThan(24);
  });

  it('reports progress: bytes consumed so far and the total size of a file', async () => {
    const calls: [number, number | undefined][] = [];
    const n = (await collect(openCapture(RAW, { onProgress: (a, b) => calls.push([a, b]) }))).length;
    expect(n).toBe(272);
    const size = statSync(RAW).size;
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every(([, t]) => t === size)).toBe(true);
    expect(calls.at(-1)![0]).toBe(size);
    expect(calls.every(([a], i) => i === 0 || a > calls[i - 1]![0])).toBe(true);

    const streamed: [number, number | undefined][] = [];
    await collect(openCapture(chunked(readFileSync(RAW), 4096), { onProgress: (a, b) => streamed.push([a, b]) }));
    expect(streamed.map(([a]) => a)).toEqual(
      Array.from({ length: Math.ceil(size / 4096) }, (_, i) => Math.min(size, (i + 1) * 4096)),
    );
    expect(streamed.every(([, t]) => t === undefined)).toBe(true);
  });

  it('stops reading when the consumer stops early', async () => {
    let pulled = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      const bytes = readFileSync(RAW);
      for (let at = 0; at < bytes.length; at += 512) {
        pulled++;
        yield bytes.slice(at, at + 512);
      }
    }
    let seen = 0;
    for await (const _ of openCapture(source())) {
      if (++seen === 3) break;
    }
    expect(seen).toBe(3);
    expect(pulled).toBeLessThan(5);
  });
});
