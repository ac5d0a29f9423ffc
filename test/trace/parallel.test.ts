/**
 * `replay --jobs N`: the flows shared out to worker threads by address pair,
 * and put back together with the results of one thread: the same stream
 * numbers, the same records (digests, counts, end reasons) and the same summary.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateCapture } from '../../apps/bench/replay.js';
import { parseReplayArgs } from '../../apps/replay.js';
import { replayParallel } from '../../src/trace/parallel.js';
import { replayCapture, type ReplayResult } from '../../src/trace/replay.js';
import { formatFlow, formatTranscript, jsonLine, transcriptRecord, type FlowReport, type ReplaySummary } from '../../src/trace/report.js';
import { frameShare, shareOf } from '../../src/trace/shard.js';
import type { TelnetTranscript } from '../../src/layers/telnet/transcript.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'replay-jobs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The summary without what measures the run rather than the capture. */
function capturePart(s: ReplaySummary): Partial<ReplaySummary> {
  const { elapsedMs: _e, framesPerSecond: _f, megabytesPerSecond: _m, heapUsedMb: _h, ...rest } = s;
  return rest;
}

async function both(file: string, jobs: number) {
  const one = { flows: [] as FlowReport[], transcripts: [] as TelnetTranscript[] };
  const many = { flows: [] as FlowReport[], transcripts: [] as TelnetTranscript[] };
  const r1: ReplayResult = await replayCapture(file, { onFlow: (f) => one.flows.push(f), onTranscript: (t) => one.transcripts.push(t) });
  const rn: ReplayResult = await replayParallel(file, { jobs, onFlow: (f) => many.flows.push(f), onTranscript: (t) => many.transcripts.push(t) });
  const byStream = (a: FlowReport, b: FlowReport): number => a.stream - b.stream || (a.part ?? 1) - (b.part ?? 1);
  const tByStream = (a: TelnetTranscript, b: TelnetTranscript): number => a.stream - b.stream || a.part - b.part || a.chunk - b.chunk;
  return {
    one: { summary: capturePart(r1.summary), flows: one.flows.sort(byStream), transcripts: one.transcripts.sort(tByStream) },
    many: { summary: capturePart(rn.summary), flows: many.flows, transcripts: many.transcripts.sort(tByStream) },
  };
}

describe('replay --jobs', () => {
  it('shares by the unordered address pair: both directions of a flow, and every flow of two hosts, go together', () => {
    const v4 = (a: number[], b: number[]): Uint8Array => Uint8Array.from([0x45, ...new Array(11).fill(0), ...a, ...b]);
    for (let i = 0; i < 50; i++) {
      const a = [10, 0, i, 1];
      const b = [192, 168, 1, i];
      expect(shareOf(v4(a, b), 0, 20, 3)).toBe(shareOf(v4(b, a), 0, 20, 3));
    }
    expect(new Set(Array.from({ length: 50 }, (_, i) => shareOf(v4([10, 0, i, 1], [10, 0, 0, 2]), 0, 20, 3)))).toEqual(new Set([0, 1, 2]));
    // Too short to tell: share 0, where its drop is counted once.
    expect(shareOf(Uint8Array.of(0x45, 0), 0, 2, 3)).toBe(0);
    // The quick look at a record agrees, through VLAN tags; what it cannot read it leaves to the link (-1).
    const ip = v4([10, 0, 7, 1], [10, 0, 0, 2]);
    const tagged = Uint8Array.from([...new Array(12).fill(2), 0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x08, 0x00, ...ip]);
    expect(frameShare(1, tagged, 0, tagged.length, 3)).toBe(shareOf(ip, 0, 20, 3));
    expect(frameShare(101, ip, 0, ip.length, 3)).toBe(shareOf(ip, 0, 20, 3));
    const pppoe = Uint8Array.from([...new Array(12).fill(2), 0x88, 0x64, 0x11, 0, 0, 1, 0, 22, 0, 0x21, ...ip]);
    expect(frameShare(1, pppoe, 0, pppoe.length, 3)).toBe(-1);
    expect(frameShare(239, ip, 0, ip.length, 3)).toBe(-1);
  });

  it('gives the results of one thread on many interleaved flows (Telnet among them), jobs 1 vs 3', async () => {
    const file = path.join(tmp, 'flows.pcap');
    await generateCapture(file, 20_000, 64, 7);
    const { one, many } = await both(file, 3);
    expect(one.flows.length).toBeGreaterThan(300);
    expect(one.transcripts.length).toBeGreaterThan(30);
    expect(many.flows).toEqual(one.flows);
    expect(many.transcripts).toEqual(one.transcripts);
    expect(many.summary).toEqual(one.summary);
  }, 60_000);

  it('gives the results of one thread on mixed IPv4/IPv6 traffic with fragments and port reuse', async () => {
    const { one, many } = await both(path.resolve(process.cwd(), 'test/fixtures/traces/mixed.pcap'), 2);
    expect(many.flows.map((f) => f.stream)).toEqual([0, 1, 2, 3, 4]);
    expect(many.flows).toEqual(one.flows);
    expect(many.summary).toEqual(one.summary);
  }, 60_000);

  it('is refused with what needs one thread in capture order (one line, exit 2 from the CLI)', () => {
    expect(() => parseReplayArgs(['f.pcap', '--jobs', '2', '--trace'])).toThrow('--jobs 2 does not go with --trace');
    expect(() => parseReplayArgs(['f.pcap', '--jobs', '3', '--speed', '2'])).toThrow('--jobs 3 does not go with --speed');
    expect(parseReplayArgs(['f.pcap', '--jobs', '1', '--trace'])).toMatchObject({ jobs: 1, trace: true });
  });

  it('writes the records as text in the workers (JSON and plain) exactly as one thread renders its records, in stream order', async () => {
    const file = path.join(tmp, 'rendered.pcap');
    await generateCapture(file, 6_000, 48, 11);
    for (const source of [file, path.resolve(process.cwd(), 'test/fixtures/traces/mixed.pcap')]) {
      const flows: FlowReport[] = [];
      const transcripts: TelnetTranscript[] = [];
      await replayCapture(source, { onFlow: (f) => flows.push(f), onTranscript: (t) => transcripts.push(t) });
      flows.sort((a, b) => a.stream - b.stream || (a.part ?? 1) - (b.part ?? 1));
      transcripts.sort((a, b) => a.stream - b.stream || a.part - b.part || a.chunk - b.chunk);
      for (const render of ['json', 'text'] as const) {
        const expected: string[] = [];
        for (const f of flows) {
          expected.push(render === 'json' ? jsonLine(f) : formatFlow(f));
          if ((f.part ?? 1) > 1) continue;
          for (const t of transcripts.filter((x) => x.stream === f.stream)) expected.push(render === 'json' ? jsonLine(transcriptRecord(t)) : formatTranscript(t));
        }
        const got: string[] = [];
        await replayParallel(source, { jobs: 2, render, onText: (text) => got.push(text) });
        expect(got).toEqual(expected);
      }
      if (source === file) expect(transcripts.length).toBeGreaterThan(5);
    }
  }, 60_000);

  it('fails as one thread does on a file it cannot read', async () => {
    await expect(replayParallel(path.resolve(process.cwd(), 'test/fixtures/traces/nflog.pcap'), { jobs: 2 })).rejects.toThrow(
      'cannot replay link type 239 (NFLOG): no frame of this capture could be read (3 frames) (at byte offset 0)',
    );
  }, 60_000);
});
