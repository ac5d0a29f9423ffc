/**
 * A capture whose timestamps lie beyond JavaScript's Date range (a damaged or
 * hostile pcapng) is still read: the replay reports such a time as it is
 * ("@seconds.ns since the epoch") and goes on, instead of dying with
 * "RangeError: Invalid time value".
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runReplayCli } from '../../apps/replay.js';
import { parsePcapBuffer } from '../../src/trace/pcap.js';
import { encodePcapng } from '../../src/trace/pcapng.js';
import { formatCaptureNs } from '../../src/trace/time.js';

const dir = mkdtempSync(path.join(tmpdir(), 'hostile-time-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const recs = parsePcapBuffer(new Uint8Array(readFileSync(path.resolve(process.cwd(), 'test/fixtures/traces/telnet-raw.pcap'))));
const FAR = 0xffff_ffff_ffff_fff0n * 1000n; // the largest µs timestamp a pcapng EPB can hold, in ns

function captureWith(at: (i: number) => boolean): string {
  const file = path.join(dir, `far-${Math.random().toString(36).slice(2)}.pcapng`);
  const bytes = encodePcapng(
    recs.map((r, i) => ({ timestampNs: at(i) ? FAR : r.timestampNs, data: r.data, originalLength: r.originalLength })),
    { interfaces: [{ linkType: recs[0]!.linkType }] },
  );
  writeFileSync(file, bytes);
  return file;
}

async function replay(file: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runReplayCli([file], { out: (s) => (out += s), err: (s) => (err += s), errIsTty: false });
  return { code, out, err };
}

describe('hostile: capture timestamps beyond the Date range', () => {
  it('formats any 64-bit time: ISO inside the Date range, "@seconds" outside', () => {
    expect(formatCaptureNs(0n)).toBe('1970-01-01T00:00:00.000Z');
    expect(formatCaptureNs(FAR)).toBe('@18446744073709.551600000');
    expect(formatCaptureNs(-10_000_000_000_000n * 1_000_000_000n - 5n)).toBe('@-10000000000000.000000005');
  });

  it('replays a capture whose last frame is far in the future and reports the time as it is', async () => {
    const r = await replay(captureWith((i) => i === recs.length - 1));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('.. @18446744073709.551600000');
  });

  it('replays a capture with a far frame in the middle of a flow (the flow report keeps its times)', async () => {
    const r = await replay(captureWith((i) => i === 3));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`${recs.length} frames`);
  });
});
