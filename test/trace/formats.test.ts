/**
 * Replay of captures as tshark reads them: stacked VLAN tags and PPPoE, QinQ,
 * BIG TCP, gzip-compressed pcap and pcapng, mixed IPv4/IPv6 flows (stream
 * numbers = tshark's tcp.stream), a real Linux loopback capture, and the files
 * replay cannot read (truncated gzip, NFLOG, PKTAP: exit 2, one line).
 *
 * The captures and tshark's reading of each (<name>.tshark.json) are made by
 * test/fixtures/traces/make-format-traces.sh; the recorded numbers are checked
 * everywhere, tshark itself where it is installed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runReplayCli } from '../../apps/replay.js';
import { replayCapture } from '../../src/trace/replay.js';
import type { FlowReport, ReplaySummary } from '../../src/trace/report.js';
import { describeNeeds } from '../support/needs.js';
import { tsharkFollowRaw } from './fixtures/tshark.js';
import { createHash } from 'node:crypto';

const dir = path.resolve(process.cwd(), 'test/fixtures/traces');
const fixture = (name: string): string => path.join(dir, name);

interface RecordedStream {
  stream: number;
  packets: number;
  node0: string;
  node1: string;
  aToB: { bytes: number; sha256: string };
  bToA: { bytes: number; sha256: string };
}

const recorded = (name: string): RecordedStream[] =>
  (JSON.parse(readFileSync(fixture(`${name}.tshark.json`), 'utf8')) as { streams: RecordedStream[] }).streams;

/** What replay says of each stream, in tshark's terms (its digest with gap markers where it has one). */
function asTshark(f: FlowReport): RecordedStream {
  const dirOf = (d: FlowReport['aToB']) => d.tshark ?? { bytes: d.bytes, sha256: d.sha256 };
  return { stream: f.stream, packets: f.packets, node0: f.a, node1: f.b, aToB: dirOf(f.aToB), bToA: dirOf(f.bToA) };
}

async function replay(name: string): Promise<{ flows: FlowReport[]; summary: ReplaySummary; error?: string }> {
  const flows: FlowReport[] = [];
  const r = await replayCapture(fixture(name), { onFlow: (f) => flows.push(f), transcripts: false });
  flows.sort((x, y) => x.stream - y.stream);
  return { flows, summary: r.summary, ...(r.error !== undefined ? { error: r.error.message } : {}) };
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runReplayCli(argv, { out: (s) => (out += s), err: (s) => (err += s), errIsTty: false });
  return { code, out, err };
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const CASES: ReadonlyArray<{ file: string; json: string; what: string }> = [
  { file: 'vlan3-pppoe.pcap', json: 'vlan3-pppoe', what: 'three VLAN tags then PPPoE, IPv4 and IPv6 inside' },
  { file: 'qinq.pcapng', json: 'qinq', what: 'QinQ (802.1ad + 802.1Q), pcapng' },
  { file: 'bigtcp.pcap', json: 'bigtcp', what: 'BIG TCP: IPv4 total length 0 (100000 bytes), IPv6 jumbogram (90000 bytes)' },
  { file: 'mixed.pcap', json: 'mixed', what: 'IPv4 and IPv6 interleaved: extension headers, IPv6 fragments, reordering, port reuse' },
  { file: 'mixed.pcap.gz', json: 'mixed', what: 'the same, gzip-compressed pcap' },
  { file: 'mixed.pcapng.gz', json: 'mixed', what: 'the same, gzip-compressed pcapng' },
  { file: 'linux-lo-mixed.pcap', json: 'linux-lo-mixed', what: 'real Linux TCP over loopback, IPv4 and IPv6 connections overlapping' },
];

describe("replay equals tshark's Follow TCP Stream (recorded numbers)", () => {
  for (const c of CASES) {
    it(`${c.file}: ${c.what}`, async () => {
      const { flows, summary, error } = await replay(c.file);
      expect(error).toBeUndefined();
      expect(flows.map(asTshark)).toEqual(recorded(c.json));
      // Nothing TCP went unfollowed: every drop is of something tshark does not follow either.
      expect(summary.drops['tcp-observer']).toBeUndefined();
      expect(summary.drops.capture).toBeUndefined();
    });
  }

  it('counts BIG TCP in the summary and says so in its text', async () => {
    const { summary } = await replay('bigtcp.pcap');
    expect(summary.repaired.bigTcp).toBe(1);
    expect(summary.repaired.jumbograms).toBe(1);
    const { code, out } = await cli(fixture('bigtcp.pcap'));
    expect(code).toBe(0);
    expect(out).toContain('1 with IP length 0 and more than 65535 bytes (BIG TCP)');
    expect(out).toContain("IPv6 jumbograms (payload length 0, RFC 2675) taken at their frame's length: 1");
  });

  it('numbers IPv4 and IPv6 flows in one sequence and a reused IPv6 tuple anew', async () => {
    const { flows } = await replay('mixed.pcap');
    expect(flows.map((f) => f.a)).toEqual(['10.0.0.1:40000', '[fd00::1]:40001', '10.0.0.3:40002', '[2001:db8::10]:40003', '[fd00::1]:40001']);
    expect(flows.map((f) => f.stream)).toEqual([0, 1, 2, 3, 4]);
    expect(flows[1]!.ended).toBe('closed (port-reuse)');
  });
});

describe('captures replay cannot read: exit 2 and one line', () => {
  it('a truncated .gz: what came before is reported, as tshark does, then exit 2 naming the damage', async () => {
    const { flows, error } = await replay('truncated.pcap.gz');
    expect(error).toMatch(/^gzip: compressed data ends early \(truncated \.gz file\?\)/);
    expect(flows.map(asTshark)).toEqual(recorded('truncated'));
    const { code, err } = await cli(fixture('truncated.pcap.gz'));
    expect(code).toBe(2);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toMatch(/truncated\.pcap\.gz: gzip: compressed data ends early/);
  });

  for (const [file, type] of [
    ['nflog.pcap', 'link type 239 (NFLOG)'],
    ['pktap.pcap', 'link type 258 (PKTAP)'],
  ] as const) {
    it(`${file}: names ${type}, exit 2, no stack trace`, async () => {
      await expect(replay(file)).rejects.toThrow(`cannot replay ${type}: no frame of this capture could be read (3 frames)`);
      const { code, out, err } = await cli(fixture(file));
      expect(code).toBe(2);
      expect(out).toBe('');
      expect(err).toBe(`replay: ${fixture(file)}: cannot replay ${type}: no frame of this capture could be read (3 frames) (at byte offset 0)\n`);
    });
  }
});

describeNeeds(['tshark'], 'against tshark itself', () => {
  for (const c of CASES) {
    it(`${c.file}: every stream's number, nodes and bytes each way`, async () => {
      const { flows } = await replay(c.file);
      const t = tsharkFollowRaw(fixture(c.file), flows.map((f) => f.stream));
      expect(flows.map((f) => [f.stream, f.a, f.b, f.aToB.tshark?.sha256 ?? f.aToB.sha256, f.bToA.tshark?.sha256 ?? f.bToA.sha256])).toEqual(
        [...t.values()].sort((x, y) => x.stream - y.stream).map((s) => [s.stream, s.node0, s.node1, sha256(s.client), sha256(s.server)]),
      );
    });
  }
});
