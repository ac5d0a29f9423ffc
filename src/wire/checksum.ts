/**
 * The Internet checksum (RFC 1071): the 16-bit one's complement of the one's
 * complement sum of the data taken as big-endian 16-bit words.
 *
 * Partial sums here are "folded": a number in 0..0xffff in network byte order.
 * They can be chained: `onesComplementSum(b, 0, 10, onesComplementSum(a, 0, 20))`
 * sums a then b, provided every chunk except the last has an even length (an odd
 * chunk would shift the byte pairing of the next one).
 *
 * Speed: the sum is associative and commutative, and summing byte-swapped words
 * gives the byte-swapped sum (RFC 1071 §2(B)). So on a little-endian host the bulk
 * is summed as native 32-bit words through a Uint32Array over the backing
 * ArrayBuffer, accumulating carries in a double and folding once at the end. Short
 * ranges, where making the word view costs more than it saves, take a plain
 * byte loop. Where WebAssembly SIMD is available, long ranges are copied into a
 * small WebAssembly memory and summed 64 bytes per loop there: a
 * memcpy and the vector loop cost about a third of the JavaScript word loop on
 * a 9000-byte segment.
 */

import type { Ip4 } from './addr.js';

/** Below this many bytes the byte loop wins: making the word view costs ~40 ns (crossover measured near 150 bytes). */
const WORD_PATH_MIN = 192;
/** 32-bit words summed before a fold: 2^20 words stays far below 2^53. */
const WORDS_PER_FOLD = 1 << 20;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Folds a non-negative integer below 2^53 to 16 bits with end-around carry. */
export function foldSum(sum: number): number {
  // Division only for sums beyond 32 bits; the common case stays in integer registers.
  while (sum > 0xffff_ffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The checksum field value for a folded partial sum. */
export function finishChecksum(sum: number): number {
  return ~foldSum(sum) & 0xffff;
}

function swap16(x: number): number {
  return ((x & 0xff) << 8) | (x >>> 8);
}

function byteLoopSum(bytes: Uint8Array, offset: number, length: number): number {
  let s = 0;
  let t = 0;
  let i = offset;
  const end16 = offset + (length & ~15);
  for (; i < end16; i += 16) {
    s += ((bytes[i]! << 8) | bytes[i + 1]!) + ((bytes[i + 2]! << 8) | bytes[i + 3]!) +
      ((bytes[i + 4]! << 8) | bytes[i + 5]!) + ((bytes[i + 6]! << 8) | bytes[i + 7]!);
    t += ((bytes[i + 8]! << 8) | bytes[i + 9]!) + ((bytes[i + 10]! << 8) | bytes[i + 11]!) +
      ((bytes[i + 12]! << 8) | bytes[i + 13]!) + ((bytes[i + 14]! << 8) | bytes[i + 15]!);
  }
  const end2 = offset + (length & ~1);
  for (; i < end2; i += 2) s += (bytes[i]! << 8) | bytes[i + 1]!;
  if (length & 1) s += bytes[i]! << 8;
  return foldSum(s + t);
}

// One-entry cache: consecutive sums usually hit the same buffer (or pool slab).
let cachedBuffer: ArrayBufferLike | null = null;
let cachedWords: Uint32Array = new Uint32Array(0);

function wordsOf(buffer: ArrayBufferLike): Uint32Array {
  if (buffer !== cachedBuffer || cachedWords.length !== buffer.byteLength >>> 2) {
    cachedWords = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    cachedBuffer = buffer;
  }
  return cachedWords;
}

/**
 * Sums with the memory's own pairing: a byte at an even absolute address is the
 * low byte of a little-endian word, at an odd address the high byte.
 */
function wordPathSum(bytes: Uint8Array, offset: number, length: number): number {
  const base = bytes.byteOffset;
  const absStart = base + offset;
  const absEnd = absStart + length;
  let edge = 0;
  let a = absStart;
  const headEnd = (absStart + 3) & ~3;
  for (; a < headEnd; a++) edge += a & 1 ? bytes[a - base]! << 8 : bytes[a - base]!;
  const words = wordsOf(bytes.buffer);
  let w = a >>> 2;
  const wEnd = absEnd >>> 2;
  let total = 0;
  while (w < wEnd) {
    const stop = Math.min(wEnd, w + WORDS_PER_FOLD);
    let s = 0;
    for (; w + 4 <= stop; w += 4) s += words[w]! + words[w + 1]! + words[w + 2]! + words[w + 3]!;
    for (; w < stop; w++) s += words[w]!;
    total = foldSum(total + foldSum(s));
  }
  for (a = wEnd << 2; a < absEnd; a++) edge += a & 1 ? bytes[a - base]! << 8 : bytes[a - base]!;
  const native = foldSum(total + edge);
  // Data starting at an odd address already has its first byte in the high half.
  return absStart & 1 ? native : swap16(native);
}

/*
 * The vector loop, in WebAssembly (SIMD is in every Node this package
 * supports). The module is a few hand-assembled bytes, so nothing is built or
 * fetched: one exported memory and one function,
 *
 *   sum(n: i32, p: i32) -> i32   // n - p a multiple of 64, at most `chunk`
 *
 * which reads memory[p, n) as little-endian 16-bit words, four 16-byte vectors
 * per turn, widening pairs into 32-bit lanes (i32x4.extadd_pairwise_i16x8_u)
 * of two accumulators, and returns the lanes' total. Each turn adds at most
 * 2 x 65535 to a lane, so `chunk` (32 KiB: 512 turns) keeps the total below
 * 2^31. If WebAssembly or SIMD is missing, the checksum stays in JavaScript.
 */

/** Bytes summed per loop turn; the caller sums any shorter tail itself. */
const SIMD_BLOCK = 64;

interface SimdSummer {
  /** Where the caller copies the bytes to sum. */
  readonly scratch: Uint8Array;
  /** Most bytes per call. */
  readonly chunk: number;
  /** Total of memory[start, end) as little-endian 16-bit words (end - start a multiple of 64). */
  sum(start: number, end: number): number;
}

const V128_LOAD = (offset: number): number[] => [0xfd, 0x00, 0x00, offset];
const EXTADD_U = [0xfd, 0x7f];
const I32X4_ADD = [0xfd, 0xae, 0x01];
const lane = (i: number): number[] => [0x20, 0x02, 0xfd, 0x1b, i];

/** acc(local) += pairwise-widened load at p + offset */
const accumulate = (acc: number, offset: number): number[] => [0x20, acc, 0x20, 0x01, ...V128_LOAD(offset), ...EXTADD_U, ...I32X4_ADD, 0x21, acc];

// Locals: 0 = n and 1 = p (params), 2 and 3 = accumulators (v128).
const BODY = [
  0x01, 0x02, 0x7b,
  0x03, 0x40, // loop
  ...accumulate(2, 0x00),
  ...accumulate(3, 0x10),
  ...accumulate(2, 0x20),
  ...accumulate(3, 0x30),
  0x20, 0x01, 0x41, 0xc0, 0x00, 0x6a, 0x22, 0x01, // p += 64 (tee)
  0x20, 0x00, 0x49, 0x0d, 0x00, // br_if p < n
  0x0b,
  0x20, 0x02, 0x20, 0x03, ...I32X4_ADD, 0x21, 0x02, // acc2 += acc3
  ...lane(0), ...lane(1), 0x6a, ...lane(2), 0x6a, ...lane(3), 0x6a,
  0x0b,
];

/** The little of the WebAssembly API used here (the project's lib settings do not declare it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

const section = (id: number, bytes: number[]): number[] => [id, bytes.length, ...bytes];

const MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, [0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f]), // type: (i32, i32) -> i32
  ...section(3, [0x01, 0x00]), // one function of that type
  ...section(5, [0x01, 0x00, 0x01]), // one memory, one 64 KiB page
  ...section(7, [0x02, 0x03, 0x73, 0x75, 0x6d, 0x00, 0x00, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00]), // "sum", "mem"
  ...section(10, [0x01, BODY.length, ...BODY]),
]);

function simdSummer(): SimdSummer | null {
  try {
    const wa = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (wa === undefined || !wa.validate(MODULE)) return null;
    const inst = new wa.Instance(new wa.Module(MODULE));
    const mem = inst.exports['mem'] as { buffer: ArrayBuffer };
    const fn = inst.exports['sum'] as (n: number, p: number) => number;
    return { scratch: new Uint8Array(mem.buffer), chunk: 32 * 1024, sum: (start: number, end: number): number => fn(end, start) >>> 0 };
  } catch {
    return null;
  }
}

/** From this many bytes the copy into WebAssembly memory pays for itself (measured near 200 on x86-64). */
const SIMD_MIN = 256;
const simd = LITTLE_ENDIAN ? simdSummer() : null;

/**
 * The vector path: whole 64-byte blocks are copied into the summer's memory
 * (its little-endian lanes give the byte-swapped sum; the words pair from
 * where the sum starts, whatever its address) and summed in chunks that cannot
 * overflow its 32-bit lanes; the tail, at an even distance from `offset`, keeps
 * the pairing in the byte loop. A view at most twice the range (a frame, a
 * packet buffer) is copied whole, at its own offsets: `subarray` makes an
 * object and costs more than copying the header bytes around the range.
 */
function simdPathSum(bytes: Uint8Array, offset: number, length: number): number {
  const sm = simd!;
  const scratch = sm.scratch;
  let off = offset;
  let left = length;
  let le = 0;
  const whole = bytes.length <= scratch.length && bytes.length <= 2 * length;
  if (whole) scratch.set(bytes);
  while (left >= SIMD_BLOCK) {
    const n = Math.min(left - (left % SIMD_BLOCK), sm.chunk);
    if (whole) le += sm.sum(off, off + n);
    else {
      scratch.set(bytes.subarray(off, off + n));
      le += sm.sum(0, n);
    }
    off += n;
    left -= n;
  }
  const s = swap16(foldSum(le));
  return left === 0 ? s : foldSum(s + byteLoopSum(bytes, off, left));
}

/**
 * One's complement sum of `bytes[offset, offset+length)` as big-endian 16-bit
 * words (a trailing odd byte padded with zero), plus `initial`, folded to 16 bits.
 */
export function onesComplementSum(bytes: Uint8Array, offset: number, length: number, initial = 0): number {
  if (offset < 0 || length < 0 || offset + length > bytes.length) {
    throw new RangeError(`checksum range [${offset}, ${offset + length}) outside ${bytes.length} bytes`);
  }
  const s = length >= SIMD_MIN && simd !== null
    ? simdPathSum(bytes, offset, length)
    : length >= WORD_PATH_MIN && LITTLE_ENDIAN
      ? wordPathSum(bytes, offset, length)
      : byteLoopSum(bytes, offset, length);
  return initial === 0 ? s : foldSum(s + initial);
}

/** @internal the sums without the vector path, for tests and the benchmark's comparison. */
export function onesComplementSumScalar(bytes: Uint8Array, offset: number, length: number): number {
  return length >= WORD_PATH_MIN && LITTLE_ENDIAN ? wordPathSum(bytes, offset, length) : byteLoopSum(bytes, offset, length);
}

/** The RFC 1071 checksum of a range: the value to store in a checksum field that was zero while summing. */
export function internetChecksum(bytes: Uint8Array, offset: number, length: number, initial = 0): number {
  return ~onesComplementSum(bytes, offset, length, initial) & 0xffff;
}

/** Whether a range that includes its own checksum field sums to all ones (i.e. verifies). */
export function checksumVerifies(bytes: Uint8Array, offset: number, length: number, initial = 0): boolean {
  const s = onesComplementSum(bytes, offset, length, initial);
  // +0 and -0 are the same in one's complement; a range of all zeros is not valid data but sums to 0.
  return s === 0xffff;
}

/** Folded sum of the IPv4 pseudo-header used by TCP and UDP (RFC 793, RFC 768). */
export function pseudoHeaderSum(src: Ip4, dst: Ip4, protocol: number, length: number): number {
  let s = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + (protocol & 0xff) + (length & 0xffff) +
    ((length >>> 16) & 0xffff);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}
