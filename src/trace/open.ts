/**
 * Opening a capture whatever its format: the first four bytes tell classic pcap
 * (either byte order, µs or ns) from pcapng, gzip-compressed or not, and the
 * matching streaming reader takes over. Optionally reports progress for a progress bar.
 */

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { CaptureFormatError, type CaptureRecord } from './capture.js';
import { readPcapBatches, type PcapReadOptions } from './pcap.js';
import { readPcapngBatches, type PcapngReadOptions } from './pcapng.js';

export type CaptureSource = string | NodeJS.ReadableStream | AsyncIterable<Uint8Array>;

export type CaptureFormat = 'pcap' | 'pcapng';

export interface OpenCaptureOptions {
  /**
   * Called after each chunk is handed to the reader: bytes consumed so far and
   * the file's size when known (a path), else undefined.
   */
  readonly onProgress?: (bytesRead: number, totalBytes: number | undefined) => void;
  /** Told the format once it is recognised. */
  readonly onFormat?: (format: CaptureFormat) => void;
  readonly pcap?: PcapReadOptions;
  readonly pcapng?: PcapngReadOptions;
}

/** Which format four leading bytes announce, or undefined. */
export function sniffCaptureFormat(head: Uint8Array): CaptureFormat | undefined {
  if (head.length < 4) return undefined;
  const be = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
  switch (be) {
    case 0xa1b2c3d4:
    case 0xd4c3b2a1:
    case 0xa1b23c4d:
    case 0x4d3cb2a1:
      return 'pcap';
    case 0x0a0d0d0a:
      return 'pcapng';
    default:
      return undefined;
  }
}

/** Thrown when a capture path does not exist or is not a file. */
export class CaptureOpenError extends Error {
  constructor(
    message: string,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CaptureOpenError';
  }
}

async function sizeOf(path: string): Promise<number> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CaptureOpenError(`capture file not found: ${path}`, path, { cause: err });
    throw new CaptureOpenError(`cannot open capture file ${path}: ${(err as Error).message}`, path, { cause: err });
  }
  if (!st.isFile()) throw new CaptureOpenError(`not a regular file: ${path}`, path);
  return st.size;
}

function iterableOf(source: CaptureSource): AsyncIterable<Uint8Array | string> {
  if (typeof source === 'string') return createReadStream(source, { highWaterMark: 1024 * 1024 });
  if (typeof source === 'object' && source !== null && Symbol.asyncIterator in source) {
    return source as AsyncIterable<Uint8Array | string>;
  }
  throw new TypeError('openCapture: source must be a path, a Readable or an AsyncIterable of byte chunks');
}

/**
 * Streams the packets of a classic pcap or pcapng capture from a path, a Node
 * Readable or an async iterable of byte chunks. A gzip-compressed capture
 * (.pcap.gz, .pcapng.gz: tshark reads them directly) is recognised by its magic
 * and decompressed as it streams, so memory stays bounded whatever its size.
 *
 * Errors: a missing path → CaptureOpenError ("capture file not found: ...");
 * an empty source or one that starts with neither magic → CaptureFormatError
 * "not a pcap or pcapng file" at offset 0; damage further in → the format
 * reader's CaptureFormatError; a damaged or truncated gzip stream →
 * CaptureFormatError "gzip: ..." at the compressed offset reached.
 */
export async function* openCapture(source: CaptureSource, options: OpenCaptureOptions = {}): AsyncGenerator<CaptureRecord> {
  for await (const batch of openCaptureBatches(source, options)) yield* batch;
}

/**
 * openCapture by the chunk: each batch holds the records one chunk of input
 * completed (see readPcapBatches). Replay reads this way: one promise per
 * chunk, not per record.
 */
export async function* openCaptureBatches(source: CaptureSource, options: OpenCaptureOptions = {}): AsyncGenerator<CaptureRecord[]> {
  const total = typeof source === 'string' ? await sizeOf(source) : undefined;
  const raw = iterableOf(source)[Symbol.asyncIterator]();
  const onProgress = options.onProgress;
  let consumed = 0;
  // Progress counts the bytes of the source itself (compressed ones for gzip), matching the file size.
  async function* counted(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const r = await raw.next();
      if (r.done) return;
      const c = bytesOf(r.value);
      consumed += c.length;
      onProgress?.(consumed, total);
      yield c;
    }
  }
  try {
    let it: AsyncIterator<Uint8Array> = counted();
    let p = await peek(it);
    let gzip = false;
    if (p.first.length >= 2 && p.first[0] === 0x1f && p.first[1] === 0x8b) {
      gzip = true;
      it = gunzip(resume(p, it), () => consumed)[Symbol.asyncIterator]();
      p = await peek(it);
    }
    const format = sniffCaptureFormat(p.first);
    if (format === undefined) {
      const what = p.length === 0 ? 'empty input' : `starts with ${hex(p.first)}`;
      throw new CaptureFormatError(`not a pcap or pcapng file (${gzip ? 'gzip-compressed, ' : ''}${what})`, 0);
    }
    options.onFormat?.(format);
    const chunks = resume(p, it);
    if (format === 'pcap') yield* readPcapBatches(chunks, options.pcap);
    else yield* readPcapngBatches(chunks, options.pcapng);
  } finally {
    // Closes a file stream when the caller stops early or on error.
    await raw.return?.();
  }
}

interface Peeked {
  readonly head: Uint8Array[];
  /** The first four bytes (fewer when the input is shorter). */
  readonly first: Uint8Array;
  readonly length: number;
  readonly done: boolean;
}

/** Reads chunks until at least four bytes are in hand; they are replayed by `resume`. */
async function peek(it: AsyncIterator<Uint8Array>): Promise<Peeked> {
  const head: Uint8Array[] = [];
  let length = 0;
  let done = false;
  while (length < 4) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    if (r.value.length === 0) continue;
    head.push(r.value);
    length += r.value.length;
  }
  const first = new Uint8Array(Math.min(4, length));
  let filled = 0;
  for (const c of head) {
    if (filled >= first.length) break;
    const part = c.subarray(0, first.length - filled);
    first.set(part, filled);
    filled += part.length;
  }
  return { head, first, length, done };
}

async function* resume(p: Peeked, it: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* p.head;
  if (p.done) return;
  for (;;) {
    const r = await it.next();
    if (r.done) return;
    yield r.value;
  }
}

/**
 * Decompresses as the reader pulls: the pipe's backpressure keeps at most a
 * few chunks in flight. zlib's complaints become CaptureFormatErrors at the
 * compressed offset reached; the source's own errors pass through unchanged.
 */
async function* gunzip(chunks: AsyncIterable<Uint8Array>, offset: () => number): AsyncGenerator<Uint8Array> {
  const input = Readable.from(chunks, { objectMode: false });
  const z = createGunzip();
  input.on('error', (err) => z.destroy(err));
  input.pipe(z);
  try {
    for await (const c of z as AsyncIterable<Buffer>) yield new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      const why = code === 'Z_BUF_ERROR' ? 'compressed data ends early (truncated .gz file?)' : (err as Error).message;
      throw new CaptureFormatError(`gzip: ${why}`, offset());
    }
    throw err;
  } finally {
    input.destroy();
    z.destroy();
  }
}

function bytesOf(v: Uint8Array | string): Uint8Array {
  if (typeof v === 'string') throw new TypeError('openCapture: the source yields text; open it without an encoding');
  return v instanceof Uint8Array && v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}
