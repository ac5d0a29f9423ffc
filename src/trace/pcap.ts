/**
 * Classic libpcap files: reading (streaming, bounded memory) and writing.
 *
 * File header (24 bytes): magic, version 2.4, thiszone, sigfigs, snaplen, link
 * type; then records of a 16-byte header (seconds, micro- or nanoseconds,
 * captured length, original length) and the captured bytes. The magic tells the
 * byte order (a1b2c3d4 written natively) and the precision (a1b23c4d: nanoseconds).
 *
 * Errors: a file that is cut short or corrupt throws `CaptureFormatError` whose
 * `offset` is where the damaged structure starts (the file header at 0, or the
 * header of the record that is cut or has an impossible length).
 */

import { createReadStream } from 'node:fs';
import { CaptureFormatError, LINKTYPE_ETHERNET, type CaptureRecord, type RecordColumns } from './capture.js';
import { CaptureSink } from './sink.js';

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAPNG_MAGIC = 0x0a0d0d0a;

export const PCAP_FILE_HEADER_LENGTH = 24;
export const PCAP_RECORD_HEADER_LENGTH = 16;
/** No record may claim more captured bytes than this (libpcap's own maximum snaplen). */
export const PCAP_MAX_RECORD_LENGTH = 262_144;
export const PCAP_DEFAULT_SNAPLEN = 262_144;

export type PcapPrecision = 'us' | 'ns';
export type ByteOrder = 'le' | 'be';

export interface PcapHeader {
  byteOrder: ByteOrder;
  precision: PcapPrecision;
  versionMajor: number;
  versionMinor: number;
  /** GMT offset in seconds; 0 in practice. */
  thiszone: number;
  sigfigs: number;
  snaplen: number;
  /** The link type (low 16 bits of the field). */
  linkType: number;
  /** FCS bytes at the end of each frame when the file says so (upper bits of the link-type field), else 0. */
  fcsLength: number;
}

export interface PcapReadOptions {
  /**
   * Largest captured length a record may claim before the file is judged corrupt.
   * Default: twice the snaplen (at least 1024), never more than 256 KiB.
   */
  maxRecordLength?: number;
  /** readPcapBatches: every record noted here instead of made into a CaptureRecord (see RecordColumns); batches come empty. */
  columns?: RecordColumns;
}

const NS_PER_S = 1_000_000_000n;

/** Parses the 24-byte file header at the start of `bytes`. */
export function parsePcapHeader(bytes: Uint8Array): PcapHeader {
  if (bytes.length === 0) throw new CaptureFormatError('empty file: no pcap header', 0);
  if (bytes.length < 4) throw new CaptureFormatError(`truncated pcap file header: ${bytes.length} of 24 bytes`, 0);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const be = dv.getUint32(0, false);
  const le = dv.getUint32(0, true);
  let byteOrder: ByteOrder;
  let precision: PcapPrecision;
  if (le === PCAP_MAGIC_US || le === PCAP_MAGIC_NS) {
    byteOrder = 'le';
    precision = le === PCAP_MAGIC_NS ? 'ns' : 'us';
  } else if (be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS) {
    byteOrder = 'be';
    precision = be === PCAP_MAGIC_NS ? 'ns' : 'us';
  } else if (be === PCAPNG_MAGIC) {
    throw new CaptureFormatError('this is a pcapng file, not a classic pcap file', 0);
  } else {
    throw new CaptureFormatError(`not a pcap file: bad magic 0x${be.toString(16).padStart(8, '0')}`, 0);
  }
  if (bytes.length < PCAP_FILE_HEADER_LENGTH) {
    throw new CaptureFormatError(`truncated pcap file header: ${bytes.length} of 24 bytes`, 0);
  }
  const little = byteOrder === 'le';
  const versionMajor = dv.getUint16(4, little);
  const versionMinor = dv.getUint16(6, little);
  if (versionMajor !== 2) throw new CaptureFormatError(`unsupported pcap version ${versionMajor}.${versionMinor}`, 4);
  const linkField = dv.getUint32(20, little);
  return {
    byteOrder,
    precision,
    versionMajor,
    versionMinor,
    thiszone: dv.getInt32(8, little),
    sigfigs: dv.getUint32(12, little),
    snaplen: dv.getUint32(16, little),
    linkType: linkField & 0xffff,
    // Bit 28 says whether bits 29..31 carry the FCS length in 16-bit units.
    fcsLength: linkField & 0x1000_0000 ? (linkField >>> 29) * 2 : 0,
  };
}

function recordLimit(header: PcapHeader, options: PcapReadOptions | undefined): number {
  if (options?.maxRecordLength !== undefined) return options.maxRecordLength;
  if (header.snaplen === 0) return PCAP_MAX_RECORD_LENGTH;
  return Math.min(PCAP_MAX_RECORD_LENGTH, Math.max(2 * header.snaplen, 1024));
}

/** What RecordDecoder.next returns for a record it noted in its columns. */
const NOTED = Symbol('noted');

/** Decodes records out of consecutive byte windows; shared by the sync and streaming readers. */
class RecordDecoder {
  index = 0;
  /** Bytes (header and captured bytes) of the record `next` returned last. */
  size = 0;
  private readonly little: boolean;
  /** ns per unit of the fraction field: 1 or 1000 (a product below 2^53: exact as a double). */
  private readonly fracToNs: number;
  /** The latest record's seconds and their nanoseconds as a BigInt: consecutive records mostly share their second. */
  private sec = -1;
  private secNs = 0n;

  constructor(
    readonly header: PcapHeader,
    private readonly limit: number,
    private readonly columns: RecordColumns | undefined = undefined,
  ) {
    this.little = header.byteOrder === 'le';
    this.fracToNs = header.precision === 'ns' ? 1 : 1000;
  }

  /**
   * Reads the record at `bytes[at]` (absolute file offset `fileOffset`) when it is
   * complete; returns undefined when more bytes are needed. Throws on an impossible length.
   */
  next(bytes: Uint8Array, dv: DataView, at: number, fileOffset: number): CaptureRecord | typeof NOTED | undefined {
    if (bytes.length - at < PCAP_RECORD_HEADER_LENGTH) return undefined;
    const little = this.little;
    const inclLen = dv.getUint32(at + 8, little);
    if (inclLen > this.limit) {
      throw new CaptureFormatError(
        `record ${this.index} claims ${inclLen} captured bytes, more than the limit of ${this.limit}`, fileOffset,
      );
    }
    if (bytes.length - at - PCAP_RECORD_HEADER_LENGTH < inclLen) return undefined;
    const sec = dv.getUint32(at, little);
    const frac = dv.getUint32(at + 4, little);
    const start = at + PCAP_RECORD_HEADER_LENGTH;
    this.size = PCAP_RECORD_HEADER_LENGTH + inclLen;
    const columns = this.columns;
    if (columns !== undefined) {
      columns.push(bytes, this.index++, sec, frac * this.fracToNs, this.header.linkType, start, inclLen, dv.getUint32(at + 12, little));
      return NOTED;
    }
    if (sec !== this.sec) {
      this.sec = sec;
      this.secNs = BigInt(sec) * NS_PER_S;
    }
    const fracNs = frac * this.fracToNs;
    return {
      index: this.index++,
      timestampNs: this.secNs + BigInt(fracNs),
      // sec * 1e9 is exact as a double (sec * 1953125 < 2^53, times 2^9), so the
      // sum is the exact value correctly rounded: Number(timestampNs), without the BigInt.
      timeNs: sec * 1e9 + fracNs,
      linkType: this.header.linkType,
      data: bytes.subarray(start, start + inclLen),
      originalLength: dv.getUint32(at + 12, little),
      interfaceId: 0,
      fileOffset,
    };
  }

  /**
   * The size of the record (header and captured bytes) at `bytes[at]` when its
   * header is there and its length plausible, else undefined (the caller then
   * lets `next` decide, errors included).
   */
  recordSize(bytes: Uint8Array, dv: DataView, at: number): number | undefined {
    if (bytes.length - at < PCAP_RECORD_HEADER_LENGTH) return undefined;
    const inclLen = dv.getUint32(at + 8, this.little);
    return inclLen > this.limit ? undefined : PCAP_RECORD_HEADER_LENGTH + inclLen;
  }

  /** The error for bytes left over at end of file. */
  truncatedAt(bytes: Uint8Array, dv: DataView, at: number, fileOffset: number): CaptureFormatError {
    const have = bytes.length - at;
    if (have < PCAP_RECORD_HEADER_LENGTH) {
      return new CaptureFormatError(
        `truncated header of record ${this.index}: ${have} of ${PCAP_RECORD_HEADER_LENGTH} bytes`, fileOffset,
      );
    }
    const inclLen = dv.getUint32(at + 8, this.little);
    return new CaptureFormatError(
      `truncated record ${this.index}: ${have - PCAP_RECORD_HEADER_LENGTH} of ${inclLen} captured bytes present`,
      fileOffset,
    );
  }
}

/** Whether records were noted in columns since the consumer last took them: their batch must be yielded, even empty. */
function notedAny(options: PcapReadOptions | undefined): boolean {
  return options?.columns !== undefined && options.columns.count > 0;
}

/** Yields the records of a whole pcap file held in memory; `data` are views into `bytes`. */
export function* iteratePcapBuffer(input: Uint8Array, options?: PcapReadOptions): Generator<CaptureRecord> {
  // A Node Buffer's subarrays are Buffers; records carry plain Uint8Arrays whatever came in.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const header = parsePcapHeader(bytes);
  const decoder = new RecordDecoder(header, recordLimit(header, options));
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = PCAP_FILE_HEADER_LENGTH;
  while (at < bytes.length) {
    const rec = decoder.next(bytes, dv, at, at);
    if (rec === undefined) throw decoder.truncatedAt(bytes, dv, at, at);
    if (rec !== NOTED) yield rec;
    at += decoder.size;
  }
}

/** All records of a pcap file held in memory (small files); `data` are views into `bytes`. */
export function parsePcapBuffer(bytes: Uint8Array, options?: PcapReadOptions): CaptureRecord[] {
  return Array.from(iteratePcapBuffer(bytes, options));
}

export type PcapSource = string | NodeJS.ReadableStream | AsyncIterable<Uint8Array>;

function chunksOf(source: PcapSource): AsyncIterable<Uint8Array | string> {
  if (typeof source === 'string') return createReadStream(source, { highWaterMark: 256 * 1024 });
  if (Symbol.asyncIterator in source) return source as AsyncIterable<Uint8Array | string>;
  throw new TypeError('readPcap: source must be a path, a Readable or an AsyncIterable of byte chunks');
}

/**
 * Streams the records of a pcap file from a path, a Node Readable or any async
 * iterable of byte chunks. Memory stays bounded by the chunk size plus one record.
 * A record's `data` is a view into the chunk it arrived in (or a copy when it
 * straddled two chunks), so a source must not reuse a chunk's memory after yielding
 * it (Node streams do not).
 */
export async function* readPcap(source: PcapSource, options?: PcapReadOptions): AsyncGenerator<CaptureRecord> {
  for await (const batch of readPcapBatches(source, options)) yield* batch;
}

/**
 * readPcap by the chunk: each batch holds the records completed by one chunk
 * of input. A consumer that handles records synchronously pays one promise per
 * chunk instead of one per record (with async hooks on, a promise is costly).
 * Records before damage are yielded before the error is thrown.
 */
export async function* readPcapBatches(source: PcapSource, options?: PcapReadOptions): AsyncGenerator<CaptureRecord[]> {
  let decoder: RecordDecoder | undefined;
  // Unconsumed bytes: window[pos..] starts at absolute file offset `base + pos`.
  let window: Uint8Array = new Uint8Array(0);
  let dv = new DataView(window.buffer);
  let pos = 0;
  let base = 0;
  for await (const chunk of chunksOf(source)) {
    if (typeof chunk === 'string') throw new TypeError('readPcap: the source yields text; open it without an encoding');
    if (chunk.length === 0) continue;
    const plain = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const batch: CaptureRecord[] = [];
    // A record cut by the chunk's start: only it is copied whole (the rest of
    // the chunk is read where it is), when its size is known and the chunk holds its end.
    const rest = window.length - pos;
    const size = decoder !== undefined && rest > 0 ? decoder.recordSize(window, dv, pos) : undefined;
    if (pos === window.length) {
      base += window.length;
      window = plain;
      pos = 0;
    } else if (size !== undefined && size - rest <= plain.length) {
      const record = new Uint8Array(size);
      record.set(window.subarray(pos), 0);
      record.set(plain.subarray(0, size - rest), rest);
      const rec = decoder!.next(record, new DataView(record.buffer), 0, base + pos)!;
      if (rec !== NOTED) batch.push(rec);
      base += window.length;
      window = plain;
      pos = size - rest;
    } else {
      // The leftover is at most one record header plus one record: bounded.
      const joined = new Uint8Array(rest + plain.length);
      joined.set(window.subarray(pos), 0);
      joined.set(plain, rest);
      base += pos;
      window = joined;
      pos = 0;
    }
    dv = new DataView(window.buffer, window.byteOffset, window.byteLength);
    if (decoder === undefined) {
      if (window.length < PCAP_FILE_HEADER_LENGTH) continue;
      const header = parsePcapHeader(window);
      decoder = new RecordDecoder(header, recordLimit(header, options), options?.columns);
      pos = PCAP_FILE_HEADER_LENGTH;
    }
    try {
      for (;;) {
        const rec = decoder.next(window, dv, pos, base + pos);
        if (rec === undefined) break;
        pos += decoder.size;
        if (rec !== NOTED) batch.push(rec);
      }
    } catch (err) {
      if (batch.length > 0 || notedAny(options)) yield batch;
      throw err;
    }
    if (batch.length > 0 || notedAny(options)) yield batch;
  }
  if (decoder === undefined) {
    parsePcapHeader(window); // throws the precise error for a short or empty file
    return;
  }
  if (pos < window.length) throw decoder.truncatedAt(window, dv, pos, base + pos);
}

// ---------------------------------------------------------------------------
// Writing

export interface PcapWriterOptions {
  /** Link type of every record. Default: the first record's `linkType`, else Ethernet (1). */
  linkType?: number;
  /** Captured bytes kept per record; longer frames are cut. Default 262144. */
  snaplen?: number;
  /** Timestamp precision. Default 'us', which every reader supports. */
  precision?: PcapPrecision;
  /** Default 'le'. */
  byteOrder?: ByteOrder;
  /** When writing to a stream the caller passed in: end it on `close()`. Default true. */
  endStream?: boolean;
}

/** What the writer needs of a frame; a `CaptureRecord` qualifies. */
export interface PcapWriteRecord {
  readonly timestampNs: bigint;
  readonly data: Uint8Array;
  /** Length on the wire; default `data.length`. */
  readonly originalLength?: number;
  /** When given, must match the file's link type. */
  readonly linkType?: number;
}

interface ResolvedWriterOptions {
  linkType: number;
  snaplen: number;
  precision: PcapPrecision;
  little: boolean;
}

function encodeFileHeader(o: ResolvedWriterOptions): Uint8Array {
  const out = new Uint8Array(PCAP_FILE_HEADER_LENGTH);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, o.precision === 'ns' ? PCAP_MAGIC_NS : PCAP_MAGIC_US, o.little);
  dv.setUint16(4, 2, o.little);
  dv.setUint16(6, 4, o.little);
  dv.setInt32(8, 0, o.little);
  dv.setUint32(12, 0, o.little);
  dv.setUint32(16, o.snaplen, o.little);
  dv.setUint32(20, o.linkType, o.little);
  return out;
}

/** Writes one record (header and captured bytes) at `out[at]`; returns the bytes written. */
function encodeRecord(out: Uint8Array, dv: DataView, at: number, rec: PcapWriteRecord, o: ResolvedWriterOptions): number {
  const ts = rec.timestampNs;
  if (ts < 0n) throw new RangeError(`pcap cannot hold a timestamp before 1970 (${ts} ns)`);
  const sec = ts / NS_PER_S;
  if (sec > 0xffff_ffffn) throw new RangeError(`pcap cannot hold a timestamp after 2106 (${ts} ns)`);
  const fracNs = ts % NS_PER_S;
  const frac = o.precision === 'ns' ? fracNs : fracNs / 1000n;
  const incl = Math.min(rec.data.length, o.snaplen);
  dv.setUint32(at, Number(sec), o.little);
  dv.setUint32(at + 4, Number(frac), o.little);
  dv.setUint32(at + 8, incl, o.little);
  dv.setUint32(at + 12, rec.originalLength ?? rec.data.length, o.little);
  out.set(incl === rec.data.length ? rec.data : rec.data.subarray(0, incl), at + PCAP_RECORD_HEADER_LENGTH);
  return PCAP_RECORD_HEADER_LENGTH + incl;
}

function resolveOptions(options: PcapWriterOptions, first: PcapWriteRecord | undefined): ResolvedWriterOptions {
  const snaplen = options.snaplen ?? PCAP_DEFAULT_SNAPLEN;
  if (!(Number.isInteger(snaplen) && snaplen > 0 && snaplen <= 0xffff_ffff)) throw new RangeError(`bad snaplen ${snaplen}`);
  return {
    linkType: options.linkType ?? first?.linkType ?? LINKTYPE_ETHERNET,
    snaplen,
    precision: options.precision ?? 'us',
    little: (options.byteOrder ?? 'le') === 'le',
  };
}

function checkLinkType(rec: PcapWriteRecord, o: ResolvedWriterOptions): void {
  if (rec.linkType !== undefined && rec.linkType !== o.linkType) {
    throw new RangeError(`record of link type ${rec.linkType} in a pcap file of link type ${o.linkType}`);
  }
}

/** A whole pcap file in memory. */
export function encodePcap(records: Iterable<PcapWriteRecord>, options: PcapWriterOptions = {}): Uint8Array {
  const list = Array.from(records);
  const o = resolveOptions(options, list[0]);
  let size = PCAP_FILE_HEADER_LENGTH;
  for (const r of list) size += PCAP_RECORD_HEADER_LENGTH + Math.min(r.data.length, o.snaplen);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set(encodeFileHeader(o), 0);
  let at = PCAP_FILE_HEADER_LENGTH;
  for (const r of list) {
    checkLinkType(r, o);
    at += encodeRecord(out, dv, at, r, o);
  }
  return out;
}

const CHUNK_SIZE = 64 * 1024;

function msToNs(ms: number): bigint {
  if (!Number.isFinite(ms)) throw new RangeError(`bad timestamp ${ms} ms`);
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}

/**
 * Writes a pcap file record by record to a path or a Writable. Records are
 * batched into 64 KiB chunks; `close()` flushes, ends the stream and resolves
 * once the bytes are written (rejects if the stream failed).
 */
export class PcapWriter {
  readonly #sink: CaptureSink;
  readonly #options: PcapWriterOptions;
  #resolved: ResolvedWriterOptions | undefined;
  #chunk = new Uint8Array(CHUNK_SIZE);
  #dv = new DataView(this.#chunk.buffer);
  #used = 0;
  #closed: Promise<void> | undefined;
  #count = 0;

  constructor(target: string | NodeJS.WritableStream, options: PcapWriterOptions = {}) {
    this.#options = options;
    this.#sink = new CaptureSink(target, options.endStream);
    if (options.linkType !== undefined) this.#begin(undefined);
  }

  /** Records written so far. */
  get recordsWritten(): number {
    return this.#count;
  }

  /**
   * Appends a record. The second form takes a bare frame and a wall-clock time in
   * milliseconds since the Unix epoch (fractions allowed), as `Clock.wallTime()` gives.
   */
  write(record: PcapWriteRecord): void;
  write(data: Uint8Array, wallTimeMs: number): void;
  write(recordOrData: PcapWriteRecord | Uint8Array, wallTimeMs?: number): void {
    const record: PcapWriteRecord = recordOrData instanceof Uint8Array
      ? { data: recordOrData, timestampNs: msToNs(wallTimeMs ?? 0) }
      : recordOrData;
    if (this.#closed !== undefined) throw new Error('PcapWriter: write after close');
    this.#sink.check();
    const o = this.#resolved ?? this.#begin(record);
    checkLinkType(record, o);
    const need = PCAP_RECORD_HEADER_LENGTH + Math.min(record.data.length, o.snaplen);
    if (this.#used + need > this.#chunk.length) {
      this.#flush();
      if (need > this.#chunk.length) {
        this.#chunk = new Uint8Array(need);
        this.#dv = new DataView(this.#chunk.buffer);
      }
    }
    this.#used += encodeRecord(this.#chunk, this.#dv, this.#used, record, o);
    this.#count++;
  }

  /** Flushes and finishes the file. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#finish();
    return this.#closed;
  }

  #begin(first: PcapWriteRecord | undefined): ResolvedWriterOptions {
    const o = resolveOptions(this.#options, first);
    this.#resolved = o;
    this.#chunk.set(encodeFileHeader(o), 0);
    this.#used = PCAP_FILE_HEADER_LENGTH;
    return o;
  }

  #flush(): void {
    if (this.#used === 0) return;
    // The stream may keep the chunk until written, so the next records go to a new one.
    this.#sink.write(this.#chunk.subarray(0, this.#used));
    this.#chunk = new Uint8Array(CHUNK_SIZE);
    this.#dv = new DataView(this.#chunk.buffer);
    this.#used = 0;
  }

  async #finish(): Promise<void> {
    if (this.#resolved === undefined) this.#begin(undefined);
    const data = this.#chunk.subarray(0, this.#used);
    this.#used = 0;
    await this.#sink.finish(data);
  }
}
