/**
 * Cost of one out-of-order segment as the reassembly queue fills with 1-byte
 * pieces around a hole (the out-of-order flood of issue #15).
 *
 *   npx tsx apps/bench/reassembly.ts          # table
 *   npx tsx apps/bench/reassembly.ts --json   # JSON lines
 *
 * Reports the mean time per insert in successive windows of segments: flat
 * means the cost does not grow with what the queue holds.
 */
import { pathToFileURL } from 'node:url';
import { Rng } from '../../src/core/index.js';
import { ReassemblyQueue } from '../../src/layers/tcp/reassembly.js';

export interface ReassemblyBenchRow {
  /** Segments inserted before this window. */
  after: number;
  /** Pieces held at the end of the window. */
  pieces: number;
  nsPerSegment: number;
}

export function runReassemblyBench(total = 100_000, window = 10_000, maxBytes = 256 * 1024): ReassemblyBenchRow[] {
  const rng = new Rng(15);
  const q = new ReassemblyQueue(maxBytes);
  const one = new Uint8Array(1);
  const rows: ReassemblyBenchRow[] = [];
  for (let done = 0; done < total; done += window) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < window; i++) q.insert(1 + 2 * rng.int(maxBytes), one);
    const ns = Number(process.hrtime.bigint() - t0);
    rows.push({ after: done, pieces: q.count, nsPerSegment: ns / window });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = runReassemblyBench();
  if (process.argv.includes('--json')) for (const r of rows) console.log(JSON.stringify({ bench: 'reassembly', ...r }));
  else {
    console.log('segments  pieces  ns/segment');
    for (const r of rows) console.log(`${String(r.after).padStart(8)}  ${String(r.pieces).padStart(6)}  ${r.nsPerSegment.toFixed(0).padStart(10)}`);
  }
}
