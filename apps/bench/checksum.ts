/**
 * Internet checksum throughput on typical payload sizes.
 *
 *   npx tsx apps/bench/checksum.ts          # table
 *   npx tsx apps/bench/checksum.ts --json   # one JSON line
 *
 * Compares `internetChecksum` with a plain two-bytes-at-a-time loop (the obvious
 * implementation) so the speed-up is visible on the machine at hand.
 */

import { pathToFileURL } from 'node:url';
import { internetChecksum } from '../../src/wire/checksum.js';

export interface ChecksumBenchRow {
  /** 'internetChecksum' or 'naive loop'. */
  impl: string;
  /** Payload bytes summed per call. */
  bytes: number;
  /** Offset of the payload in its buffer (odd offsets defeat word alignment). */
  offset: number;
  calls: number;
  nsPerCall: number;
  nsPerByte: number;
  gbPerSec: number;
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

function measure(impl: Impl, name: string, size: number, offset: number, targetMs: number): ChecksumBenchRow {
  // Several buffers, like successive packets; each is its own allocation.
  const buffers = Array.from({ length: 8 }, (_, k) => filled(size + offset + 16, 0x9e3779b9 + k));
  let sink = 0;
  let batch = Math.max(1, Math.floor(200_000 / size));
  // Warm up until the JIT has settled on this call site.
  for (let i = 0; i < batch * 20; i++) sink ^= impl(buffers[i & 7]!, offset, size);
  let calls = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0n;
  const target = BigInt(Math.round(targetMs * 1e6));
  while (elapsed < target) {
    for (let i = 0; i < batch; i++) sink ^= impl(buffers[i & 7]!, offset, size);
    calls += batch;
    elapsed = process.hrtime.bigint() - t0;
    if (elapsed < target / 10n) batch *= 2;
  }
  if (sink === -1) console.log('unreachable');
  const ns = Number(elapsed);
  return {
    impl: name,
    bytes: size,
    offset,
    calls,
    nsPerCall: ns / calls,
    nsPerByte: ns / calls / size,
    gbPerSec: (calls * size) / ns,
  };
}

export async function runChecksumBench(options: { targetMs?: number } = {}): Promise<ChecksumBenchRow[]> {
  const targetMs = options.targetMs ?? 300;
  const rows: ChecksumBenchRow[] = [];
  const cases: Array<[number, number]> = [[20, 14], [64, 14], [1460, 54], [1460, 55], [9000, 54]];
  for (const [size, offset] of cases) {
    rows.push(measure(internetChecksum, 'internetChecksum', size, offset, targetMs));
    rows.push(measure(naiveChecksum, 'naive loop', size, offset, targetMs));
    // Let timers and I/O run between cases.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return rows;
}

export function formatChecksumTable(rows: readonly ChecksumBenchRow[]): string {
  const head = ['impl', 'bytes', 'offset', 'ns/call', 'ns/byte', 'GB/s'];
  const body = rows.map((r) => [
    r.impl, String(r.bytes), String(r.offset), r.nsPerCall.toFixed(1), r.nsPerByte.toFixed(3), r.gbPerSec.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const rows = await runChecksumBench();
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ bench: 'checksum', node: process.version, rows }));
  } else {
    console.log(`Internet checksum (RFC 1071), node ${process.version}`);
    console.log(formatChecksumTable(rows));
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
