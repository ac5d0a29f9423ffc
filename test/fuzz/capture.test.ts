/**
 * Quick version of the capture fuzz (test/fuzz/capture-fuzz.ts runs 100,000):
 * a few thousand mutants of real captures through both readers; each is read
 * or rejected with CaptureFormatError, nothing else escapes; every 100th also
 * through the replay command (exit 0, or exit 2 with one line).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fuzzCaptures, replayVerdict } from './capture-mutants.js';

const dir = mkdtempSync(path.join(tmpdir(), 'capture-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('capture readers under mutation', () => {
  it('read or reject 3000 mutants with CaptureFormatError, never another error; the replay exits 0 or 2 with one line', async () => {
    const codes: number[] = [];
    const tally = await fuzzCaptures(20261203, 3000, undefined, async (i, m) => {
      if (i % 100 === 0) codes.push(await replayVerdict(m, path.join(dir, 'mutant.cap')));
    });
    expect(tally.mutants).toBe(3000);
    // The mutants reach past the headers: some are still read.
    expect(tally.read).toBeGreaterThan(100);
    expect(tally.rejected).toBeGreaterThan(100);
    expect(codes).toHaveLength(30);
    expect(codes).toContain(0);
    expect(codes).toContain(2);
  });
});
