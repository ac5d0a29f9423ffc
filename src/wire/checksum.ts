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
 * byte loop.
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

/**
 * One's complement sum of `bytes[offset, offset+length)` as big-endian 16-bit
 * words (a trailing odd byte padded with zero), plus `initial`, folded to 16 bits.
 */
export function onesComplementSum(bytes: Uint8Array, offset: number, length: number, initial = 0): number {
  if (offset < 0 || length < 0 || offset + length > bytes.length) {
    throw new RangeError(`checksum range [${offset}, ${offset + length}) outside ${bytes.length} bytes`);
  }
  const s = length >= WORD_PATH_MIN && LITTLE_ENDIAN
    ? wordPathSum(bytes, offset, length)
    : byteLoopSum(bytes, offset, length);
  return initial === 0 ? s : foldSum(s + initial);
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
