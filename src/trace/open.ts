/**
 * Opening a capture whatever its format: the first four bytes tell classic pcap
 * (either byte order, µs or ns) from pcapng, and the matching streaming reader
 * takes over. Optionally reports progress for a progress bar.
 */

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { CaptureFormatError, type CaptureRecord } from './capture.js';
import { readPcap, type PcapReadOptions } from './pcap.js';
import { readPcapng, type PcapngReadOptions } from './pcapng.js';

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
  if (typeof source === 'string') return createReadStream(source, { highWaterMark: 256 * 1024 });
  if (typeof source === 'object' && source !== null && Symbol.asyncIterator in source) {
    return source as AsyncIterable<Uint8Array | string>;
  }
  throw new TypeError('openCapture: source must be a path, a Readable or an AsyncIterable of byte chunks');
}

/**
 * Streams the packets of a classic pcap or pcapng capture from a path, a Node
 * Readable or an async iterable of byte chunks.
 *
 * Errors: a missing path → CaptureOpenError ("capture file not found: ...");
 * an empty source or one that starts with neither magic → CaptureFormatError
 * "not a pcap or pcapng file" at offset 0; damage further in → the format
 * reader's CaptureFormatError.
 */
export async function* openCapture(
  source: CaptureSource,
  options: OpenCaptureOptions = {},
): AsyncGenerator<CaptureRecord> {
  const total = typeof source === 'string' ? await sizeOf(source) : undefined;
  const it = iterableOf(source)[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headLength = 0;
  let done = false;
  try {
    // Gather at least four bytes to sniff; they are replayed to the reader.
    while (headLength < 4) {
      const r = await it.next();
      if (r.done) {
        done = true;
        break;
      }
      const chunk = bytesOf(r.value);
      if (chunk.length === 0) continue;
      head.push(chunk);
      headLength += chunk.length;
    }
  } catch (err) {
    await it.return?.();
    throw err;
  }
  const first = new Uint8Array(Math.min(4, headLength));
  let filled = 0;
  for (const c of head) {
    if (filled >= first.length) break;
    const part = c.subarray(0, first.length - filled);
    first.set(part, filled);
    filled += part.length;
  }
  const format = sniffCaptureFormat(first);
  if (format === undefined) {
    await it.return?.();
    const what = headLength === 0 ? 'empty input' : `starts with ${hex(first)}`;
    throw new CaptureFormatError(`not a pcap or pcapng file (${what})`, 0);
  }
  options.onFormat?.(format);

  const onProgress = options.onProgress;
  let consumed = 0;
  async function* replay(): AsyncGenerator<Uint8Array> {
    for (const c of head) {
      consumed += c.length;
      onProgress?.(consumed, total);
      yield c;
    }
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      const c = bytesOf(r.value);
      consumed += c.length;
      onProgress?.(consumed, total);
      yield c;
    }
  }
  const chunks = replay();
  try {
    if (format === 'pcap') yield* readPcap(chunks, options.pcap);
    else yield* readPcapng(chunks, options.pcapng);
  } finally {
    // Closes a file stream when the caller stops early.
    await it.return?.();
  }
}

function bytesOf(v: Uint8Array | string): Uint8Array {
  if (typeof v === 'string') throw new TypeError('openCapture: the source yields text; open it without an encoding');
  return v instanceof Uint8Array && v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}
