/**
 * pcapng files: streaming reader (bounded memory) and writer.
 *
 * A file is a sequence of blocks: type (4 bytes), total length (4), body, total
 * length again. A Section Header Block (SHB) opens each section and fixes its
 * byte order (its byte-order magic 0x1A2B3C4D); Interface Description Blocks
 * (IDB) of a section are numbered from 0 and give link type, snaplen and the
 * timestamp resolution and offset; packets come in Enhanced (EPB), Simple (SPB)
 * or obsolete Packet Blocks (PB, type 2). Every other block (name resolution,
 * interface statistics, decryption secrets, custom...) is skipped by its length.
 *
 * Corrupt input throws CaptureFormatError with the offset of the damaged block.
 */

import { createReadStream } from 'node:fs';
import { CaptureFormatError, type CaptureRecord } from './capture.js';
import { CaptureSink } from './sink.js';
import { concatBytes } from '../wire/buffer.js';

export const PCAPNG_SHB = 0x0a0d0d0a;
export const PCAPNG_IDB = 0x00000001;
export const PCAPNG_PB = 0x00000002;
export const PCAPNG_SPB = 0x00000003;
export const PCAPNG_NRB = 0x00000004;
export const PCAPNG_ISB = 0x00000005;
export const PCAPNG_EPB = 0x00000006;
export const PCAPNG_DSB = 0x0000000a;
export const PCAPNG_CUSTOM = 0x00000bad;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const OPT_END = 0;
const IF_NAME = 2;
const IF_DESCRIPTION = 3;
const IF_TSRESOL = 9;
const IF_FCSLEN = 13;
const IF_TSOFFSET = 14;
const SHB_USERAPPL = 4;

/** Blocks longer than this are taken for corruption (Wireshark's own bound is 16 MiB for packets). */
export const PCAPNG_MAX_BLOCK_LENGTH = 64 * 1024 * 1024;

/** What a reader knows of one interface of the current section. */
export interface PcapngInterface {
  readonly linkType: number;
  /** 0 means no limit. */
  readonly snaplen: number;
  /** Timestamp units per second (if_tsresol; default 10^6). */
  readonly unitsPerSecond: bigint;
  /** Seconds added to every timestamp (if_tsoffset). */
  readonly tsOffsetSeconds: bigint;
  readonly name?: string;
  readonly description?: string;
  /** FCS bytes at the end of each frame (if_fcslen), when the file says. */
  readonly fcsLength?: number;
}

export interface PcapngReadOptions {
  /** Largest block accepted before the file is judged corrupt (default 64 MiB). */
  readonly maxBlockLength?: number;
  /** Told about each interface as its IDB is read (section index counts from 0). */
  readonly onInterface?: (iface: PcapngInterface, interfaceId: number, section: number) => void;
}

export type PcapngSource = string | NodeJS.ReadableStream | AsyncIterable<Uint8Array>;

const NS_PER_S = 1_000_000_000n;
const DEFAULT_UNITS = 1_000_000n;

/**
 * Bytes arriving in chunks, consumed from the front. A block that lies inside
 * one chunk is handed out as a view of it; one that straddles chunks is
 * assembled once, so every byte is copied at most once whatever the block size.
 */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  /** Index of the first chunk still holding unconsumed bytes, and the offset in it. */
  private first = 0;
  private head = 0;
  available = 0;
  /** File offset of the first unconsumed byte. */
  offset = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.available += chunk.length;
  }

  /** The next n bytes (n <= available), consumed. */
  take(n: number): Uint8Array {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  /** The next n bytes (n <= available), left in place. */
  peek(n: number): Uint8Array {
    const c0 = this.chunks[this.first]!;
    if (c0.length - this.head >= n) return c0.subarray(this.head, this.head + n);
    const out = new Uint8Array(n);
    let filled = 0;
    let i = this.first;
    let from = this.head;
    while (filled < n) {
      const c = this.chunks[i++]!;
      const part = Math.min(c.length - from, n - filled);
      out.set(c.subarray(from, from + part), filled);
      filled += part;
      from = 0;
    }
    return out;
  }

  skip(n: number): void {
    this.available -= n;
    this.offset += n;
    let left = n;
    while (left > 0) {
      const rest = this.chunks[this.first]!.length - this.head;
      if (rest > left) {
        this.head += left;
        break;
      }
      left -= rest;
      this.first++;
      this.head = 0;
    }
    // Drop consumed chunks in batches: tiny chunks must not make this quadratic.
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first > 64 && this.first * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}

function chunksOf(source: PcapngSource): AsyncIterable<Uint8Array | string> {
  if (typeof source === 'string') return createReadStream(source, { highWaterMark: 256 * 1024 });
  if (typeof source === 'object' && source !== null && Symbol.asyncIterator in source) {
    return source as AsyncIterable<Uint8Array | string>;
  }
  throw new TypeError('readPcapng: source must be a path, a Readable or an AsyncIterable of byte chunks');
}

/** Decodes the blocks of one file, section by section. */
class BlockDecoder {
  private little = true;
  private section = -1;
  private interfaces: PcapngInterface[] = [];
  private index = 0;
  private readonly maxBlock: number;

  constructor(private readonly options: PcapngReadOptions | undefined) {
    this.maxBlock = options?.maxBlockLength ?? PCAPNG_MAX_BLOCK_LENGTH;
  }

  /**
   * Total length of the block whose first 12 bytes are given, validated; sets
   * the byte order when it is a section header.
   */
  blockLength(head: Uint8Array, offset: number): number {
    const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const type = dv.getUint32(0, true);
    if (type === PCAPNG_SHB) {
      const magicLe = dv.getUint32(8, true);
      if (magicLe === BYTE_ORDER_MAGIC) this.little = true;
      else if (dv.getUint32(8, false) === BYTE_ORDER_MAGIC) this.little = false;
      else {
        throw new CaptureFormatError(
          `section header with unknown byte-order magic 0x${dv.getUint32(8, false).toString(16).padStart(8, '0')}`,
          offset + 8,
        );
      }
    } else if (this.section < 0) {
      throw new CaptureFormatError('not a pcapng file: it does not start with a section header block', offset);
    }
    const length = dv.getUint32(4, this.little);
    const name = blockName(this.little ? type : dv.getUint32(0, false));
    if (length < 12) throw new CaptureFormatError(`${name} with impossible total length ${length}`, offset);
    if (length % 4 !== 0) {
      throw new CaptureFormatError(`${name} total length ${length} is not a multiple of 4`, offset);
    }
    if (length > this.maxBlock) {
      throw new CaptureFormatError(`${name} total length ${length} exceeds the limit of ${this.maxBlock}`, offset);
    }
    if (type === PCAPNG_SHB && length < 28) {
      throw new CaptureFormatError(`section header block too short (${length} bytes)`, offset);
    }
    return length;
  }

  /** Decodes one whole block; returns a packet record or undefined. */
  block(b: Uint8Array, offset: number): CaptureRecord | undefined {
    const little = this.little;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const type = dv.getUint32(0, little);
    const length = b.length;
    if (dv.getUint32(length - 4, little) !== length) {
      throw new CaptureFormatError(
        `${blockName(type)} total length mismatch: ${length} at the start, ${dv.getUint32(length - 4, little)} at the end`,
        offset,
      );
    }
    switch (type) {
      case PCAPNG_SHB:
        this.sectionHeader(dv, offset);
        return undefined;
      case PCAPNG_IDB:
        this.interfaceDescription(b, dv, offset);
        return undefined;
      case PCAPNG_EPB:
        return this.enhancedPacket(b, dv, offset);
      case PCAPNG_SPB:
        return this.simplePacket(b, dv, offset);
      case PCAPNG_PB:
        return this.obsoletePacket(b, dv, offset);
      default:
        return undefined;
    }
  }

  private sectionHeader(dv: DataView, offset: number): void {
    const major = dv.getUint16(12, this.little);
    const minor = dv.getUint16(14, this.little);
    if (major !== 1) throw new CaptureFormatError(`unsupported pcapng version ${major}.${minor}`, offset + 12);
    this.section++;
    this.interfaces = [];
  }

  private interfaceDescription(b: Uint8Array, dv: DataView, offset: number): void {
    if (b.length < 20) throw new CaptureFormatError(`interface description block too short (${b.length} bytes)`, offset);
    const little = this.little;
    let unitsPerSecond = DEFAULT_UNITS;
    let tsOffsetSeconds = 0n;
    let name: string | undefined;
    let description: string | undefined;
    let fcsLength: number | undefined;
    forEachOption(b, dv, 16, little, offset, (code, at, len) => {
      if (code === IF_TSRESOL && len >= 1) {
        const v = b[at]!;
        const exp = BigInt(v & 0x7f);
        unitsPerSecond = v & 0x80 ? 1n << exp : 10n ** exp;
      } else if (code === IF_TSOFFSET && len >= 8) {
        tsOffsetSeconds = dv.getBigInt64(at, little);
      } else if (code === IF_NAME) {
        name = utf8(b.subarray(at, at + len));
      } else if (code === IF_DESCRIPTION) {
        description = utf8(b.subarray(at, at + len));
      } else if (code === IF_FCSLEN && len >= 1) {
        fcsLength = b[at]!;
      }
    });
    const iface: PcapngInterface = {
      linkType: dv.getUint16(8, little),
      snaplen: dv.getUint32(12, little),
      unitsPerSecond,
      tsOffsetSeconds,
      ...(name !== undefined ? { name } : {}),
      ...(description !== undefined ? { description } : {}),
      ...(fcsLength !== undefined ? { fcsLength } : {}),
    };
    this.interfaces.push(iface);
    this.options?.onInterface?.(iface, this.interfaces.length - 1, this.section);
  }

  private iface(id: number, what: string, offset: number): PcapngInterface {
    const iface = this.interfaces[id];
    if (iface === undefined) {
      throw new CaptureFormatError(
        `${what} for interface ${id}, but the section defines ${this.interfaces.length} interface(s)`,
        offset,
      );
    }
    return iface;
  }

  private packet(
    b: Uint8Array,
    offset: number,
    iface: PcapngInterface,
    interfaceId: number,
    timestampNs: bigint,
    dataAt: number,
    captured: number,
    original: number,
  ): CaptureRecord {
    return {
      index: this.index++,
      timestampNs,
      linkType: iface.linkType,
      data: b.subarray(dataAt, dataAt + captured),
      originalLength: original,
      interfaceId,
      fileOffset: offset,
    };
  }

  private enhancedPacket(b: Uint8Array, dv: DataView, offset: number): CaptureRecord {
    if (b.length < 32) throw new CaptureFormatError(`enhanced packet block too short (${b.length} bytes)`, offset);
    const little = this.little;
    const id = dv.getUint32(8, little);
    const iface = this.iface(id, 'enhanced packet block', offset);
    const captured = dv.getUint32(20, little);
    if (captured > b.length - 32) {
      throw new CaptureFormatError(
        `enhanced packet block claims ${captured} captured bytes in a ${b.length}-byte block`,
        offset,
      );
    }
    const ts = (BigInt(dv.getUint32(12, little)) << 32n) | BigInt(dv.getUint32(16, little));
    return this.packet(b, offset, iface, id, toNs(ts, iface), 28, captured, dv.getUint32(24, little));
  }

  private obsoletePacket(b: Uint8Array, dv: DataView, offset: number): CaptureRecord {
    if (b.length < 32) throw new CaptureFormatError(`packet block too short (${b.length} bytes)`, offset);
    const little = this.little;
    const id = dv.getUint16(8, little);
    const iface = this.iface(id, 'packet block', offset);
    const captured = dv.getUint32(20, little);
    if (captured > b.length - 32) {
      throw new CaptureFormatError(`packet block claims ${captured} captured bytes in a ${b.length}-byte block`, offset);
    }
    const ts = (BigInt(dv.getUint32(12, little)) << 32n) | BigInt(dv.getUint32(16, little));
    return this.packet(b, offset, iface, id, toNs(ts, iface), 28, captured, dv.getUint32(24, little));
  }

  /** SPB: no interface id (always 0), no timestamp (0 is reported), captured length implied by snaplen. */
  private simplePacket(b: Uint8Array, dv: DataView, offset: number): CaptureRecord {
    if (b.length < 16) throw new CaptureFormatError(`simple packet block too short (${b.length} bytes)`, offset);
    const iface = this.iface(0, 'simple packet block', offset);
    const original = dv.getUint32(8, this.little);
    let captured = original;
    if (iface.snaplen !== 0 && captured > iface.snaplen) captured = iface.snaplen;
    if (captured > b.length - 16) {
      throw new CaptureFormatError(
        `simple packet block of ${original} bytes does not fit its ${b.length}-byte block`,
        offset,
      );
    }
    return this.packet(b, offset, iface, 0, 0n, 12, captured, original);
  }
}

/** Calls back for each option of a block body starting at `at`; stops at opt_endofopt or the trailer. */
function forEachOption(
  b: Uint8Array,
  dv: DataView,
  at: number,
  little: boolean,
  offset: number,
  fn: (code: number, valueAt: number, valueLength: number) => void,
): void {
  const end = b.length - 4;
  let p = at;
  while (p + 4 <= end) {
    const code = dv.getUint16(p, little);
    const len = dv.getUint16(p + 2, little);
    if (code === OPT_END) return;
    if (p + 4 + len > end) {
      throw new CaptureFormatError(`option ${code} runs past the end of its block`, offset);
    }
    fn(code, p + 4, len);
    p += 4 + ((len + 3) & ~3);
  }
}

function toNs(ts: bigint, iface: PcapngInterface): bigint {
  const u = iface.unitsPerSecond;
  const ns = u === DEFAULT_UNITS ? ts * 1000n : u === NS_PER_S ? ts : (ts * NS_PER_S) / u;
  return iface.tsOffsetSeconds === 0n ? ns : ns + iface.tsOffsetSeconds * NS_PER_S;
}

const decoder = new TextDecoder('utf-8');
function utf8(b: Uint8Array): string {
  // Some writers count a trailing NUL in the option length.
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return decoder.decode(b.subarray(0, end));
}

function blockName(type: number): string {
  switch (type >>> 0) {
    case PCAPNG_SHB:
      return 'section header block';
    case PCAPNG_IDB:
      return 'interface description block';
    case PCAPNG_PB:
      return 'packet block';
    case PCAPNG_SPB:
      return 'simple packet block';
    case PCAPNG_NRB:
      return 'name resolution block';
    case PCAPNG_ISB:
      return 'interface statistics block';
    case PCAPNG_EPB:
      return 'enhanced packet block';
    default:
      return `block of type 0x${(type >>> 0).toString(16).padStart(8, '0')}`;
  }
}

/**
 * Streams the packets of a pcapng file from a path, a Node Readable or any async
 * iterable of byte chunks. Memory stays bounded by the chunk size plus one block.
 * A record's `data` is a view into the chunk it arrived in (or into a block
 * assembled from several chunks): a source must not reuse a chunk's memory
 * after yielding it (Node streams do not).
 */
export async function* readPcapng(source: PcapngSource, options?: PcapngReadOptions): AsyncGenerator<CaptureRecord> {
  for await (const batch of readPcapngBatches(source, options)) yield* batch;
}

/** readPcapng by the chunk (see readPcapBatches): the packets completed by each chunk of input. */
export async function* readPcapngBatches(source: PcapngSource, options?: PcapngReadOptions): AsyncGenerator<CaptureRecord[]> {
  const q = new ByteQueue();
  const dec = new BlockDecoder(options);
  let need = 0;
  for await (const chunk of chunksOf(source)) {
    if (typeof chunk === 'string') throw new TypeError('readPcapng: the source yields text; open it without an encoding');
    q.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    const batch: CaptureRecord[] = [];
    try {
      for (;;) {
        if (need === 0) {
          if (q.available < 12) break;
          need = dec.blockLength(q.peek(12), q.offset);
        }
        if (q.available < need) break;
        const offset = q.offset;
        const rec = dec.block(q.take(need), offset);
        need = 0;
        if (rec !== undefined) batch.push(rec);
      }
    } catch (err) {
      if (batch.length > 0) yield batch;
      throw err;
    }
    if (batch.length > 0) yield batch;
  }
  if (q.available > 0 || need > 0) {
    if (q.offset === 0 && q.available < 12) {
      throw new CaptureFormatError(`truncated pcapng file: ${q.available} bytes`, 0);
    }
    const what = need > 0 ? `${need}-byte block` : 'block header';
    throw new CaptureFormatError(`truncated ${what} at end of file: ${q.available} bytes present`, q.offset);
  }
  if (q.offset === 0) throw new CaptureFormatError('empty file: no pcapng section header', 0);
}

/** All packets of a pcapng file held in memory (small files); `data` are views into `bytes`. */
export function parsePcapngBuffer(bytes: Uint8Array, options?: PcapngReadOptions): CaptureRecord[] {
  const dec = new BlockDecoder(options);
  const out: CaptureRecord[] = [];
  if (bytes.length === 0) throw new CaptureFormatError('empty file: no pcapng section header', 0);
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < 12) {
      if (at === 0) throw new CaptureFormatError(`truncated pcapng file: ${bytes.length} bytes`, 0);
      throw new CaptureFormatError(`truncated block header at end of file: ${bytes.length - at} bytes present`, at);
    }
    const len = dec.blockLength(bytes.subarray(at, at + 12), at);
    if (bytes.length - at < len) {
      throw new CaptureFormatError(`truncated ${len}-byte block at end of file: ${bytes.length - at} bytes present`, at);
    }
    const rec = dec.block(bytes.subarray(at, at + len), at);
    if (rec !== undefined) out.push(rec);
    at += len;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Writing

/** An interface as the writer declares it. */
export interface PcapngInterfaceSpec {
  readonly linkType: number;
  /** 0 (the default) means no limit. */
  readonly snaplen?: number;
  readonly name?: string;
  readonly description?: string;
  /**
   * Timestamp resolution as the if_tsresol byte: 6 (µs, the default), 9 (ns),
   * 0x80 | n for 2^-n seconds.
   */
  readonly tsresol?: number;
  /** if_tsoffset: seconds added to each timestamp by readers. */
  readonly tsOffsetSeconds?: bigint;
}

export interface PcapngWriterOptions {
  /** Default 'le'. */
  readonly byteOrder?: 'le' | 'be';
  /** Interfaces declared right after the section header. More can be added with addInterface. */
  readonly interfaces?: readonly PcapngInterfaceSpec[];
  /** shb_userappl option. */
  readonly application?: string;
  /** When writing to a stream the caller passed in: end it on close(). Default true. */
  readonly endStream?: boolean;
}

/** What the writer needs of a packet; a CaptureRecord qualifies. */
export interface PcapngWriteRecord {
  readonly timestampNs: bigint;
  readonly data: Uint8Array;
  /** Default data.length. */
  readonly originalLength?: number;
  /** Default 0. */
  readonly interfaceId?: number;
}

const encoder = new TextEncoder();

interface EncoderInterface {
  readonly snaplen: number;
  readonly unitsPerSecond: bigint;
  readonly tsOffsetSeconds: bigint;
}

/**
 * Builds pcapng blocks in memory, one call per block. PcapngWriter streams
 * them; tests use it directly to build files block by block (unknown blocks,
 * several sections, both byte orders).
 */
export class PcapngEncoder {
  readonly little: boolean;
  private interfaces: EncoderInterface[] = [];

  constructor(byteOrder: 'le' | 'be' = 'le') {
    this.little = byteOrder === 'le';
  }

  /** Number of interfaces declared in the current section. */
  get interfaceCount(): number {
    return this.interfaces.length;
  }

  /** A section header; forgets the previous section's interfaces. */
  sectionHeader(application?: string): Uint8Array {
    this.interfaces = [];
    const opts = application !== undefined ? [option(SHB_USERAPPL, encoder.encode(application))] : [];
    return this.block(PCAPNG_SHB, 16, opts, (dv) => {
      dv.setUint32(8, BYTE_ORDER_MAGIC, this.little);
      dv.setUint16(12, 1, this.little);
      dv.setUint16(14, 0, this.little);
      // Section length unknown (-1): lets writers stream.
      dv.setBigInt64(16, -1n, this.little);
    });
  }

  interfaceDescription(spec: PcapngInterfaceSpec): Uint8Array {
    const tsresol = spec.tsresol ?? 6;
    const exp = BigInt(tsresol & 0x7f);
    if ((tsresol & 0x80) === 0 && exp > 19n) throw new RangeError(`if_tsresol 10^-${exp} is beyond 64-bit timestamps`);
    if (tsresol & 0x80 && exp > 63n) throw new RangeError(`if_tsresol 2^-${exp} is beyond 64-bit timestamps`);
    const opts: Uint8Array[] = [];
    if (spec.name !== undefined) opts.push(option(IF_NAME, encoder.encode(spec.name)));
    if (spec.description !== undefined) opts.push(option(IF_DESCRIPTION, encoder.encode(spec.description)));
    if (spec.tsresol !== undefined) opts.push(option(IF_TSRESOL, Uint8Array.of(tsresol)));
    if (spec.tsOffsetSeconds !== undefined && spec.tsOffsetSeconds !== 0n) {
      const v = new Uint8Array(8);
      new DataView(v.buffer).setBigInt64(0, spec.tsOffsetSeconds, this.little);
      opts.push(option(IF_TSOFFSET, v));
    }
    const snaplen = spec.snaplen ?? 0;
    this.interfaces.push({
      snaplen,
      unitsPerSecond: tsresol & 0x80 ? 1n << exp : 10n ** exp,
      tsOffsetSeconds: spec.tsOffsetSeconds ?? 0n,
    });
    return this.block(PCAPNG_IDB, 8, opts, (dv) => {
      dv.setUint16(8, spec.linkType, this.little);
      dv.setUint32(12, snaplen, this.little);
    });
  }

  /** An Enhanced Packet Block; the data is cut to the interface's snaplen. */
  enhancedPacket(rec: PcapngWriteRecord): Uint8Array {
    const id = rec.interfaceId ?? 0;
    const iface = this.interfaces[id];
    if (iface === undefined) throw new RangeError(`pcapng: packet for undeclared interface ${id}`);
    const units = this.units(rec.timestampNs, iface);
    const captured = iface.snaplen !== 0 ? Math.min(rec.data.length, iface.snaplen) : rec.data.length;
    const padded = (captured + 3) & ~3;
    const b = this.block(PCAPNG_EPB, 20 + padded, [], (dv) => {
      dv.setUint32(8, id, this.little);
      dv.setUint32(12, Number(units >> 32n), this.little);
      dv.setUint32(16, Number(units & 0xffffffffn), this.little);
      dv.setUint32(20, captured, this.little);
      dv.setUint32(24, rec.originalLength ?? rec.data.length, this.little);
    });
    b.set(captured === rec.data.length ? rec.data : rec.data.subarray(0, captured), 28);
    return b;
  }

  /** A Simple Packet Block (interface 0, no timestamp); the data is cut to interface 0's snaplen. */
  simplePacket(data: Uint8Array, originalLength: number = data.length): Uint8Array {
    const iface = this.interfaces[0];
    if (iface === undefined) throw new RangeError('pcapng: simple packet before any interface');
    const captured = iface.snaplen !== 0 ? Math.min(data.length, iface.snaplen, originalLength) : Math.min(data.length, originalLength);
    const b = this.block(PCAPNG_SPB, 4 + ((captured + 3) & ~3), [], (dv) => {
      dv.setUint32(8, originalLength, this.little);
    });
    b.set(data.subarray(0, captured), 12);
    return b;
  }

  /** Any other block (NRB, ISB, custom...): `body` is everything between the length fields. */
  rawBlock(type: number, body: Uint8Array): Uint8Array {
    const b = this.block(type, (body.length + 3) & ~3, [], () => undefined);
    b.set(body, 8);
    return b;
  }

  private units(ns: bigint, iface: EncoderInterface): bigint {
    const rel = ns - iface.tsOffsetSeconds * NS_PER_S;
    if (rel < 0n) throw new RangeError(`pcapng: timestamp ${ns} ns is before the interface's offset`);
    const u = iface.unitsPerSecond;
    const units = u === NS_PER_S ? rel : (rel * u) / NS_PER_S;
    if (units > 0xffff_ffff_ffff_ffffn) throw new RangeError(`pcapng: timestamp ${ns} ns does not fit 64 bits`);
    return units;
  }

  /** A block with a fixed part of `fixed` bytes after the header, then options. */
  private block(type: number, fixed: number, opts: readonly Uint8Array[], fill: (dv: DataView) => void): Uint8Array {
    let optLen = 0;
    for (const o of opts) optLen += o.length;
    if (opts.length > 0) optLen += 4; // opt_endofopt
    const total = 8 + fixed + optLen + 4;
    const b = new Uint8Array(total);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, type, this.little);
    dv.setUint32(4, total, this.little);
    dv.setUint32(total - 4, total, this.little);
    fill(dv);
    let at = 8 + fixed;
    for (const o of opts) {
      // Option headers are written in the section's byte order.
      const odv = new DataView(o.buffer, o.byteOffset, o.byteLength);
      const code = odv.getUint16(0, true);
      const len = odv.getUint16(2, true);
      b.set(o, at);
      dv.setUint16(at, code, this.little);
      dv.setUint16(at + 2, len, this.little);
      at += o.length;
    }
    return b;
  }
}

/** An option with its header in little-endian (re-encoded by PcapngEncoder.block) and padding. */
function option(code: number, value: Uint8Array): Uint8Array {
  if (value.length > 0xffff) throw new RangeError('pcapng option value too long');
  const o = new Uint8Array(4 + ((value.length + 3) & ~3));
  const dv = new DataView(o.buffer);
  dv.setUint16(0, code, true);
  dv.setUint16(2, value.length, true);
  o.set(value, 4);
  return o;
}

/** A whole pcapng file in memory: one section, the given interfaces, the records as EPBs. */
export function encodePcapng(records: Iterable<PcapngWriteRecord>, options: PcapngWriterOptions = {}): Uint8Array {
  const enc = new PcapngEncoder(options.byteOrder);
  const parts: Uint8Array[] = [enc.sectionHeader(options.application)];
  const ifaces = options.interfaces ?? [{ linkType: 1 }];
  for (const i of ifaces) parts.push(enc.interfaceDescription(i));
  for (const r of records) parts.push(enc.enhancedPacket(r));
  return concatBytes(parts);
}

const WRITE_BATCH = 64 * 1024;

/**
 * Writes a pcapng file to a path or a Writable: one section, interfaces declared
 * up front or on the way (addInterface), packets as EPBs. Blocks are batched
 * into 64 KiB writes; close() flushes, ends the stream and resolves once the
 * bytes are written (rejects if the stream failed).
 */
export class PcapngWriter {
  readonly #sink: CaptureSink;
  readonly #encoder: PcapngEncoder;
  #batch: Uint8Array[] = [];
  #batched = 0;
  #closed: Promise<void> | undefined;
  #count = 0;

  constructor(target: string | NodeJS.WritableStream, options: PcapngWriterOptions = {}) {
    this.#sink = new CaptureSink(target, options.endStream);
    this.#encoder = new PcapngEncoder(options.byteOrder);
    this.#push(this.#encoder.sectionHeader(options.application));
    for (const i of options.interfaces ?? []) this.addInterface(i);
  }

  /** Packets written so far. */
  get recordsWritten(): number {
    return this.#count;
  }

  /** Declares an interface; returns its id for write(). */
  addInterface(spec: PcapngInterfaceSpec): number {
    this.#check();
    this.#push(this.#encoder.interfaceDescription(spec));
    return this.#encoder.interfaceCount - 1;
  }

  /** Appends a packet as an EPB. Declares an Ethernet interface first if none was. */
  write(record: PcapngWriteRecord): void {
    this.#check();
    if (this.#encoder.interfaceCount === 0) this.addInterface({ linkType: 1 });
    this.#push(this.#encoder.enhancedPacket(record));
    this.#count++;
  }

  /** Flushes and finishes the file. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#finish();
    return this.#closed;
  }

  #check(): void {
    if (this.#closed !== undefined) throw new Error('PcapngWriter: write after close');
    this.#sink.check();
  }

  #push(block: Uint8Array): void {
    this.#batch.push(block);
    this.#batched += block.length;
    if (this.#batched >= WRITE_BATCH) this.#flush();
  }

  #flush(): void {
    if (this.#batched === 0) return;
    const out = this.#batch.length === 1 ? this.#batch[0]! : concatBytes(this.#batch, this.#batched);
    this.#batch = [];
    this.#batched = 0;
    this.#sink.write(out);
  }

  async #finish(): Promise<void> {
    const data = this.#batch.length === 0 ? new Uint8Array(0) : concatBytes(this.#batch, this.#batched);
    this.#batch = [];
    this.#batched = 0;
    await this.#sink.finish(data);
  }
}
