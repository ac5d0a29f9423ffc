/**
 * Mutation fuzzing of the capture readers (classic pcap, pcapng, and openCapture
 * in front of both). Seeds are real captures (the reference Telnet traces, cut
 * short so each mutant is cheap; small captures of IPv6 with extension headers
 * and fragments, of QinQ VLANs, and of PPPoE under three VLAN tags, as
 * recorded) and a pcapng sample with every block type the reader knows, in
 * both byte orders; mutants flip bits, overwrite bytes and 32-bit fields with
 * boundary values, cut, duplicate, insert and splice. The replay command
 * (every 100th mutant) decodes what the frames carry, so the IPv6, VLAN and
 * PPPoE seeds reach its link and network decoding too.
 *
 * The rule checked: a reader either yields records or throws
 * CaptureFormatError; anything else (a RangeError, a TypeError, a hang) is a
 * failure. Every record's timestamp must format (the replay prints them).
 * Shared by the quick test (test/fuzz/capture.test.ts) and the long script
 * (test/fuzz/capture-fuzz.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runReplayCli } from '../../apps/replay.js';
import { Rng } from '../../src/core/index.js';
import { CaptureFormatError, type CaptureRecord } from '../../src/trace/capture.js';
import { openCapture } from '../../src/trace/open.js';
import { encodePcap, parsePcapBuffer } from '../../src/trace/pcap.js';
import { encodePcapng, parsePcapngBuffer } from '../../src/trace/pcapng.js';
import { formatCaptureNs } from '../../src/trace/time.js';
import { buildSample } from '../trace/fixtures/pcapng-sample.js';

export interface Seed {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** Real captures of other link and network layers, taken whole (each under 12 KB). */
const LAYER_SEEDS = [
  { name: 'ipv6-ext-frag', file: 'ipv6-link.pcap' },
  { name: 'qinq-pcapng', file: 'qinq.pcapng' },
  { name: 'vlan3-pppoe', file: 'vlan3-pppoe.pcap' },
];

/** Seeds: short real captures in pcap (µs, ns, both byte orders) and pcapng, the pcapng sample, and the LAYER_SEEDS. */
export function captureSeeds(frames = 12): Seed[] {
  const dir = path.resolve(process.cwd(), 'test/fixtures/traces');
  const layers = LAYER_SEEDS.map((l) => ({ name: l.name, bytes: new Uint8Array(readFileSync(path.join(dir, l.file))) }));
  const recs = parsePcapBuffer(new Uint8Array(readFileSync(path.join(dir, 'telnet-raw.pcap')))).slice(0, frames);
  const linkType = recs[0]!.linkType;
  return [
    { name: 'pcap-us-le', bytes: encodePcap(recs, { linkType }) },
    { name: 'pcap-ns-be', bytes: encodePcap(recs, { linkType, precision: 'ns', byteOrder: 'be' }) },
    { name: 'pcapng-le', bytes: encodePcapng(recs, { interfaces: [{ linkType }] }) },
    { name: 'pcapng-be-ns', bytes: encodePcapng(recs, { byteOrder: 'be', interfaces: [{ linkType, tsresol: 9, snaplen: 200 }] }) },
    { name: 'pcapng-sample-le', bytes: buildSample('le').file },
    { name: 'pcapng-sample-be', bytes: buildSample('be').file },
    ...layers,
  ];
}

const BOUNDARY32 = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff, 12, 16, 28, 32];

/** One mutant of `seed` (a new array), from `rng`; `other` is used for splices. */
export function mutate(rng: Rng, seed: Uint8Array, other: Uint8Array): Uint8Array {
  let b = seed.slice();
  const n = 1 + rng.int(4);
  for (let k = 0; k < n; k++) {
    const len = b.length;
    switch (rng.int(8)) {
      case 0: // flip a bit
        if (len > 0) b[rng.int(len)]! ^= 1 << rng.int(8);
        break;
      case 1: // a random byte
        if (len > 0) b[rng.int(len)] = rng.int(256);
        break;
      case 2: {
        // a 32-bit field (aligned, as block fields are) set to a boundary value, either byte order
        if (len < 4) break;
        const at = rng.int(len >>> 2) << 2;
        const v = BOUNDARY32[rng.int(BOUNDARY32.length)]! ^ (rng.chance(0.2) ? rng.int(16) : 0);
        new DataView(b.buffer, b.byteOffset).setUint32(Math.min(at, len - 4), v >>> 0, rng.chance(0.5));
        break;
      }
      case 3: // cut
        b = b.subarray(0, rng.int(len + 1)).slice();
        break;
      case 4: {
        // duplicate a region in place
        if (len < 2) break;
        const from = rng.int(len);
        const size = 1 + rng.int(Math.min(256, len - from));
        const at = rng.int(len);
        const out = new Uint8Array(len + size);
        out.set(b.subarray(0, at));
        out.set(b.subarray(from, from + size), at);
        out.set(b.subarray(at), at + size);
        b = out;
        break;
      }
      case 5: {
        // insert random bytes
        const size = 1 + rng.int(16);
        const at = rng.int(len + 1);
        const out = new Uint8Array(len + size);
        out.set(b.subarray(0, at));
        out.set(rng.bytes(size), at);
        out.set(b.subarray(at), at + size);
        b = out;
        break;
      }
      case 6: {
        // splice: our head, another seed's tail
        const at = rng.int(len + 1);
        const from = rng.int(other.length + 1);
        const out = new Uint8Array(at + other.length - from);
        out.set(b.subarray(0, at));
        out.set(other.subarray(from), at);
        b = out;
        break;
      }
      default: {
        // a run of bytes set to 0x00 or 0xff
        if (len === 0) break;
        const at = rng.int(len);
        b.fill(rng.chance(0.5) ? 0 : 0xff, at, Math.min(len, at + 1 + rng.int(8)));
      }
    }
  }
  return b;
}

export type Verdict = 'read' | 'rejected';

function check(records: Iterable<CaptureRecord>): number {
  let n = 0;
  for (const r of records) {
    formatCaptureNs(r.timestampNs);
    if (!(r.data instanceof Uint8Array)) throw new Error('record data is not bytes');
    n++;
  }
  return n;
}

/** The in-memory reader for the mutant's magic (or pcap's, which rejects the unknown). */
export function readSync(b: Uint8Array): Verdict {
  try {
    const ng = b.length >= 4 && b[0] === 0x0a && b[1] === 0x0d && b[2] === 0x0d && b[3] === 0x0a;
    check(ng ? parsePcapngBuffer(b) : parsePcapBuffer(b));
    return 'read';
  } catch (err) {
    if (err instanceof CaptureFormatError) return 'rejected';
    throw err;
  }
}

/** openCapture over the mutant cut into chunks at random places (the streaming readers). */
export async function readStreaming(b: Uint8Array, rng: Rng): Promise<Verdict> {
  const cuts: number[] = [];
  for (let at = 0; at < b.length; ) {
    const size = 1 + rng.int(rng.chance(0.3) ? 8 : 4096);
    cuts.push(Math.min(b.length, at + size));
    at += size;
  }
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let from = 0;
    for (const to of cuts) {
      yield b.subarray(from, to);
      from = to;
    }
  }
  try {
    for await (const r of openCapture(chunks())) check([r]);
    return 'read';
  } catch (err) {
    if (err instanceof CaptureFormatError) return 'rejected';
    throw err;
  }
}

export interface FuzzTally {
  mutants: number;
  read: number;
  rejected: number;
  /** Mutants on which the two readers disagreed. */
  disagreements: number;
}

/** A failure: the mutant and what escaped. */
export class FuzzFailure extends Error {
  constructor(
    readonly mutant: Uint8Array,
    readonly index: number,
    readonly seedName: string,
    cause: unknown,
  ) {
    super(`mutant ${index} of ${seedName}: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`, { cause });
  }
}

/** Runs `count` mutants from `seed`; throws FuzzFailure at the first that escapes the rule. */
export async function fuzzCaptures(seed: number, count: number, seeds: readonly Seed[] = captureSeeds(), onMutant?: (i: number, m: Uint8Array, s: Seed) => Promise<void> | void): Promise<FuzzTally> {
  const rng = new Rng(seed);
  const tally: FuzzTally = { mutants: 0, read: 0, rejected: 0, disagreements: 0 };
  for (let i = 0; i < count; i++) {
    const s = seeds[rng.int(seeds.length)]!;
    const m = mutate(rng, s.bytes, seeds[rng.int(seeds.length)]!.bytes);
    let a: Verdict;
    let b: Verdict;
    try {
      a = readSync(m);
      b = await readStreaming(m, rng);
      await onMutant?.(i, m, s);
    } catch (err) {
      throw new FuzzFailure(m, i, s.name, err);
    }
    tally.mutants++;
    if (a === 'read') tally.read++;
    else tally.rejected++;
    if (a !== b) tally.disagreements++;
  }
  return tally;
}

/**
 * The replay command on the mutant (written to `file`): exit 0 with nothing on
 * stderr, or exit 2 with exactly one line. Returns the exit status; throws otherwise.
 */
export async function replayVerdict(m: Uint8Array, file: string): Promise<number> {
  writeFileSync(file, m);
  let err = '';
  const code = await runReplayCli([file], { out: () => {}, err: (t) => (err += t), errIsTty: false });
  const lines = err.split('\n').filter((l) => l.length > 0);
  if (code === 0 ? lines.length !== 0 : code !== 2 || lines.length !== 1) {
    throw new Error(`replay exited ${code} with ${lines.length} line(s) on stderr: ${err.slice(0, 300)}`);
  }
  return code;
}
