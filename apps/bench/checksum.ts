/**
 * Internet checksum throughput on typical payload sizes.
 *
 *   npx tsx apps/bench/checksum.ts          # table
 *   npx tsx apps/bench/checksum.ts --json   # one JSON line
 *   npx tsx apps/bench/checksum.ts --quick  # shorter, fewer runs (--runs N: that many)
 *
 * Compares `internetChecksum` with a plain two-bytes-at-a-time loop (the obvious
 * implementation) so the speed-up is visible on the machine at hand.
 */

import { pathToFileURL } from 'node:url';
import { internetChecksum } from '../../src/wire/checksum.js';
import { formatMetrics, metric, roundStat, runsFrom, type Metric, type Sample, type Stat } from './measure.js';

export interface ChecksumBenchRow {
  /** 'internetChecksum' or 'naive loop'. */
  impl: string;
  /** Payload bytes summed per call. */
  bytes: number;
  /** Offset of the payload in its buffer (odd offsets defeat word alignment). */
  offset: number;
  /** Calls in the median run. */
  calls: number;
  /** Wall time, median of the runs. */
  nsPerCall: number;
  nsPerByte: number;
  gbPerSec: number;
  /** ns per call by each clock, min and median of `runs` runs. */
  wall: Stat;
  cpu: Stat;
  runs: number;
}

function naiveChecksum(bytes: Uint8Array, offset: number, length: number): number {
  let sum = 0;
  let i = offset;
  const end = offset + length;
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) sum += bytes[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Deterministic filler (xorshift32), so runs are comparable. */
function filled(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x;
  }
  return out;
}

type Impl = (bytes: Uint8Array, offset: number, length: number) => number;

/** One timed run: calls made until `targetMs` of wall time passed, and the CPU time they took. */
function timedRun(impl: Impl, buffers: readonly Uint8Array[], offset: number, size: number, targetMs: number, batch0: number): Sample<number> {
  let sink = 0;
  let batch = batch0;
  let calls = 0;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let elapsed = 0n;
  const target = BigInt(Math.round(targetMs * 1e6));
  while (elapsed < target) {
    for (let i = 0; i < batch; i++) sink ^= impl(buffers[i & 7]!, offset, size);
    calls += batch;
    elapsed = process.hrtime.bigint() - t0;
    if (elapsed < target / 10n) batch *= 2;
  }
  const c = process.cpuUsage(c0);
  if (sink === -1) console.log('unreachable');
  return { wallMs: Number(elapsed) / 1e6, cpuMs: (c.user + c.system) / 1000, value: calls };
}

function measure(impl: Impl, name: string, size: number, offset: number, targetMs: number, runs: number): { row: ChecksumBenchRow; metric: Metric } {
  // Several buffers, like successive packets; each is its own allocation.
  const buffers = Array.from({ length: 8 }, (_, k) => filled(size + offset + 16, 0x9e3779b9 + k));
  let sink = 0;
  const batch = Math.max(1, Math.floor(200_000 / size));
  // Warm up until the JIT has settled on this call site.
  for (let i = 0; i < batch * 20; i++) sink ^= impl(buffers[i & 7]!, offset, size);
  if (sink === -1) console.log('unreachable');
  const samples: Array<Sample<number>> = [];
  for (let r = 0; r < Math.max(1, runs); r++) samples.push(timedRun(impl, buffers, offset, size, targetMs, batch));
  const m = metric(`${name} ${size}B+${offset} nsPerCall`, 'ns/call', samples, (ms, s) => (ms * 1e6) / s.value);
  const ns = m.wall.median;
  const mid = [...samples].sort((a, b) => a.wallMs / a.value - b.wallMs / b.value)[samples.length >> 1]!;
  const wall = roundStat(m.wall, 2);
  const cpu = roundStat(m.cpu!, 2);
  return {
    row: { impl: name, bytes: size, offset, calls: mid.value, nsPerCall: ns, nsPerByte: ns / size, gbPerSec: size / ns, wall, cpu, runs: m.runs },
    metric: { ...m, wall, cpu },
  };
}

export async function runChecksumBench(options: { targetMs?: number; runs?: number } = {}): Promise<{ rows: ChecksumBenchRow[]; metrics: Metric[] }> {
  const targetMs = options.targetMs ?? 150;
  const runs = options.runs ?? 5;
  const rows: ChecksumBenchRow[] = [];
  const metrics: Metric[] = [];
  const cases: Array<[number, number]> = [[20, 14], [64, 14], [1460, 54], [1460, 55], [9000, 54]];
  for (const [size, offset] of cases) {
    for (const [impl, name] of [[internetChecksum, 'internetChecksum'], [naiveChecksum, 'naive loop']] as const) {
      const x = measure(impl, name, size, offset, targetMs, runs);
      rows.push(x.row);
      metrics.push(x.metric);
    }
    // Let timers and I/O run between cases.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { rows, metrics };
}

export function formatChecksumTable(rows: readonly ChecksumBenchRow[]): string {
  const head = ['impl', 'bytes', 'offset', 'ns/call min', 'ns/call med', 'cpu min', 'cpu med', 'ns/byte', 'GB/s', 'runs'];
  const body = rows.map((r) => [
    r.impl, String(r.bytes), String(r.offset), r.wall.min.toFixed(1), r.wall.median.toFixed(1), r.cpu.min.toFixed(1), r.cpu.median.toFixed(1),
    r.nsPerByte.toFixed(3), r.gbPerSec.toFixed(2), String(r.runs),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const { rows, metrics } = await runChecksumBench({ targetMs: quick ? 60 : 150, runs: runsFrom(process.argv, 5, 3) });
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ bench: 'checksum', node: process.version, rows, metrics }));
  } else {
    console.log(`Internet checksum (RFC 1071), node ${process.version}`);
    console.log(formatChecksumTable(rows));
    console.log('(ns/call: wall time; cpu: process.cpuUsage, user + system, ns/call; ns/byte and GB/s from the wall median)');
    if (process.argv.includes('--metrics')) console.log(formatMetrics(metrics));
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
