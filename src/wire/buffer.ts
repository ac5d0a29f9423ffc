/**
 * Packet buffers: one buffer per frame for its whole life.
 *
 * On receive a layer reads its header at `start` and `advance`s past it; on send a
 * layer `prepend`s room for its header in front of the payload and writes there.
 * Nothing is copied between layers.
 *
 * `BufferPool` follows LRPC's pre-allocated argument stacks: the backing memory is
 * allocated once and recycled. Each `alloc` hands out a fresh, small
 * `PacketBuffer` handle over recycled memory, so a stale handle that is released
 * a second time is recognised (counted in `doubleFrees`) instead of freeing
 * memory that a new owner is using. A released handle is emptied, so a late
 * write through it lands nowhere instead of in someone else's packet.
 *
 * This module also holds the result shape shared by every wire parser.
 */

/** What a wire parser returns: never throws on malformed input. */
import { DETACH } from '../core/detach.js';
export type ParseResult<H> = ParseSuccess<H> | ParseFailure;

export interface ParseSuccess<H> {
  readonly ok: true;
  readonly header: H;
  /** Bytes taken by the header (including options/tags): advance by this much to reach the payload. */
  readonly headerLength: number;
}

export interface ParseFailure {
  readonly ok: false;
  /** Short, stable, kebab-case reason ('truncated', 'bad-checksum'...), suitable as a drop counter key. */
  readonly reason: string;
}

const failureCache = new Map<string, ParseFailure>();

/** A shared, frozen failure value: failing costs no allocation. */
export function parseFailure(reason: string): ParseFailure {
  let f = failureCache.get(reason);
  if (f === undefined) {
    f = Object.freeze({ ok: false as const, reason });
    failureCache.set(reason, f);
  }
  return f;
}

export function parseSuccess<H>(header: H, headerLength: number): ParseSuccess<H> {
  return { ok: true, header, headerLength };
}

/**
 * Whether `[offset, offset+length)` lies inside `bytes`. Parsers answer
 * 'out-of-bounds' instead of reading past the array when a caller passes a bad range.
 */
export function inBounds(bytes: Uint8Array, offset: number, length: number): boolean {
  return offset >= 0 && length >= 0 && offset + length <= bytes.length;
}

/** A zero-length array shared by records that have no options. Never write to it. */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/** The parts one after another in a new array (`total`: their summed length, when the caller knows it). */
export function concatBytes(parts: readonly Uint8Array[], total?: number): Uint8Array {
  let n = total;
  if (n === undefined) {
    n = 0;
    for (const p of parts) n += p.length;
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
const EMPTY_VIEW = new DataView(new ArrayBuffer(0));

/** A programmer error in buffer use (not a malformed packet). */
export class BufferError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BufferError';
  }
}

export class PacketBuffer {
  /** The backing memory. Offsets `start`/`end` index into it. */
  readonly bytes: Uint8Array;
  /** @internal the DataView, made on first use (no layer of the stack reads through one per packet). */
  private _view: DataView | null;
  /** Offset of the first byte of current data. */
  start: number;
  /** Offset one past the last byte of current data. */
  end: number;
  /** What the owner said at alloc/wrap time, reported by `BufferPool.leaks()`. */
  readonly label: string | undefined;
  /** Serial number within its pool (1-based), for leak reports. */
  readonly id: number;

  /** @internal links of the pool's in-use list */
  _prev: PacketBuffer | null = null;
  /** @internal */
  _next: PacketBuffer | null = null;
  /** @internal whether the memory goes back to the free list on release */
  _recycle: boolean;
  /** @internal the pool's record of the memory (pooled buffers), handed back on release instead of a new one */
  _storage: Storage | null = null;
  #pool: BufferPool | null;
  #released = false;

  /** @internal use `BufferPool.alloc`/`wrap` or `PacketBuffer.standalone`. */
  constructor(
    bytes: Uint8Array,
    view: DataView | null,
    start: number,
    end: number,
    pool: BufferPool | null,
    recycle: boolean,
    id: number,
    label: string | undefined,
  ) {
    this.bytes = bytes;
    this._view = view;
    this.start = start;
    this.end = end;
    this.#pool = pool;
    this._recycle = recycle;
    this.id = id;
    this.label = label;
  }

  /** A buffer outside any pool (tests, one-off frames); `release` only marks it released. */
  static standalone(payloadLength: number, headroom = 128): PacketBuffer {
    const bytes = new Uint8Array(headroom + payloadLength);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return new PacketBuffer(bytes, view, headroom, headroom + payloadLength, null, false, 0, undefined);
  }

  /** A DataView over exactly the same memory as `bytes` (same offsets). */
  get view(): DataView {
    let v = this._view;
    if (v === null) {
      const b = this.bytes;
      v = this._view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    }
    return v;
  }

  /** Bytes free in front of the data. */
  get headroom(): number {
    return this.start;
  }

  /** Bytes free after the data. */
  get tailroom(): number {
    return this.bytes.length - this.end;
  }

  get length(): number {
    return this.end - this.start;
  }

  get released(): boolean {
    return this.#released;
  }

  /** Claims `n` bytes in front of the data for a header; returns the new `start`. */
  prepend(n: number): number {
    if (!(n >= 0 && n <= this.start)) {
      throw new BufferError(`prepend(${n}) needs more headroom than the ${this.start} bytes left`);
    }
    this.start -= n;
    return this.start;
  }

  /** Consumes `n` bytes from the front (a header that has been read). */
  advance(n: number): void {
    if (!(n >= 0 && n <= this.end - this.start)) {
      throw new BufferError(`advance(${n}) past the ${this.end - this.start} bytes of data`);
    }
    this.start += n;
  }

  /** Keeps only the first `len` bytes of data (e.g. drop Ethernet padding beyond IP's total length). */
  truncate(len: number): void {
    if (!(len >= 0 && len <= this.end - this.start)) {
      throw new BufferError(`truncate(${len}) longer than the ${this.end - this.start} bytes of data`);
    }
    this.end = this.start + len;
  }

  /** Extends the data by `n` bytes into the tailroom; returns the offset of the first new byte. */
  append(n: number): number {
    if (!(n >= 0 && this.end + n <= this.bytes.length)) {
      throw new BufferError(`append(${n}) needs more tailroom than the ${this.bytes.length - this.end} bytes left`);
    }
    const at = this.end;
    this.end += n;
    return at;
  }

  /** The current data as a view onto the same memory (no copy). */
  payload(): Uint8Array {
    return this.bytes.subarray(this.start, this.end);
  }

  /** A copy of the current data that outlives the buffer. */
  copyPayload(): Uint8Array {
    return this.bytes.slice(this.start, this.end);
  }

  /**
   * A copy of the data outside any pool, with the same headroom, for a handler
   * that takes upcalls through a mailbox: this buffer is only lent for the upcall.
   */
  [DETACH](): PacketBuffer {
    const c = PacketBuffer.standalone(this.length, this.start);
    c.bytes.set(this.bytes.subarray(this.start, this.end), c.start);
    return c;
  }

  /** Gives the memory back to the pool. Idempotent; a repeated release is counted as a double free. */
  release(): void {
    if (this.#released) {
      if (this.#pool !== null) this.#pool._doubleFree();
      return;
    }
    this.#released = true;
    const bytes = this.bytes;
    const view = this._view;
    // Later access through this handle must not reach memory a new owner may hold.
    (this as { bytes: Uint8Array }).bytes = EMPTY_BYTES;
    this._view = EMPTY_VIEW;
    this.start = 0;
    this.end = 0;
    if (this.#pool !== null) this.#pool._release(this, bytes, view);
  }
}

export interface BufferPoolOptions {
  /** Bytes reserved in front of the payload of every `alloc`ed buffer. Default 128. */
  headroom?: number;
  /** Total size of each pooled buffer, headroom included. Default 2048 + headroom. */
  bufferSize?: number;
  /** Most free buffers kept for reuse; more are left to the garbage collector. Default 1024. */
  maxFree?: number;
}

export interface LeakReport {
  readonly id: number;
  readonly label: string | undefined;
  readonly length: number;
}

interface Storage {
  bytes: Uint8Array;
  view: DataView;
}

export class BufferPool {
  readonly headroom: number;
  readonly bufferSize: number;
  readonly maxFree: number;

  /** Buffers ever handed out by `alloc` and `wrap`. */
  allocated = 0;
  /** Backing memory blocks ever created (pooled size or oversize). */
  created = 0;
  /** `alloc`s whose size exceeded `bufferSize` and got fresh, unpooled memory. */
  oversize = 0;
  /** Handed out and not yet released. */
  inUse = 0;
  /** The largest `inUse` has been. */
  highWater = 0;
  /** Releases of an already released buffer. */
  doubleFrees = 0;

  readonly #free: Storage[] = [];
  #head: PacketBuffer | null = null;
  // Pooled buffers are carved from shared slabs so that consecutive packets tend to
  // share one ArrayBuffer (the checksum caches its word view per ArrayBuffer).
  #slab: ArrayBuffer | null = null;
  #slabUsed = 0;

  constructor(options: BufferPoolOptions = {}) {
    const headroom = options.headroom ?? 128;
    const bufferSize = options.bufferSize ?? 2048 + headroom;
    const maxFree = options.maxFree ?? 1024;
    if (!(Number.isInteger(headroom) && headroom >= 0)) throw new RangeError(`bad headroom ${headroom}`);
    if (!(Number.isInteger(bufferSize) && bufferSize >= headroom)) throw new RangeError(`bad bufferSize ${bufferSize}`);
    if (!(maxFree >= 0)) throw new RangeError(`bad maxFree ${maxFree}`);
    this.headroom = headroom;
    this.bufferSize = bufferSize;
    this.maxFree = maxFree;
  }

  /** Buffers waiting in the free list. */
  get freeCount(): number {
    return this.#free.length;
  }

  /**
   * A buffer with `headroom` bytes free in front and `payloadLength` bytes of data
   * (contents unspecified: recycled memory is not cleared) for the caller to fill.
   */
  alloc(payloadLength: number, label?: string): PacketBuffer {
    if (!(Number.isInteger(payloadLength) && payloadLength >= 0)) {
      throw new BufferError(`alloc(${payloadLength}): not a length`);
    }
    const need = this.headroom + payloadLength;
    let storage: Storage;
    let recycle: boolean;
    if (need <= this.bufferSize) {
      recycle = true;
      const free = this.#free.pop();
      storage = free !== undefined ? free : this.#carve();
    } else {
      recycle = false;
      storage = makeStorage(need);
      this.created++;
      this.oversize++;
    }
    const buf = new PacketBuffer(
      storage.bytes, storage.view, this.headroom, need, this, recycle, this.allocated + 1, label,
    );
    if (recycle) buf._storage = storage;
    this.#track(buf);
    return buf;
  }

  /** Adopts received bytes as a buffer (start 0, no headroom, no copy); counted like an alloc. */
  wrap(bytes: Uint8Array, label?: string): PacketBuffer {
    const buf = new PacketBuffer(bytes, null, 0, bytes.length, this, false, this.allocated + 1, label);
    this.#track(buf);
    return buf;
  }

  /** Buffers handed out and never released, oldest first. */
  leaks(): LeakReport[] {
    const out: LeakReport[] = [];
    for (let b = this.#head; b !== null; b = b._next) out.push({ id: b.id, label: b.label, length: b.length });
    return out.reverse();
  }

  #carve(): Storage {
    const size = this.bufferSize;
    if (this.#slab === null || this.#slabUsed + size > this.#slab.byteLength) {
      const perSlab = Math.max(1, Math.floor(SLAB_BYTES / Math.max(size, 1)));
      this.#slab = new ArrayBuffer(perSlab * size);
      this.#slabUsed = 0;
    }
    const bytes = new Uint8Array(this.#slab, this.#slabUsed, size);
    this.#slabUsed += size;
    this.created++;
    return { bytes, view: new DataView(this.#slab, bytes.byteOffset, size) };
  }

  #track(buf: PacketBuffer): void {
    this.allocated++;
    this.inUse++;
    if (this.inUse > this.highWater) this.highWater = this.inUse;
    buf._next = this.#head;
    if (this.#head !== null) this.#head._prev = buf;
    this.#head = buf;
  }

  /** @internal called by PacketBuffer.release */
  _release(buf: PacketBuffer, bytes: Uint8Array, view: DataView | null): void {
    this.inUse--;
    const prev = buf._prev;
    const next = buf._next;
    if (prev !== null) prev._next = next;
    else this.#head = next;
    if (next !== null) next._prev = prev;
    buf._prev = null;
    buf._next = null;
    if (buf._recycle && view !== null && this.#free.length < this.maxFree) {
      const s = buf._storage;
      buf._storage = null;
      this.#free.push(s !== null && s.bytes === bytes ? s : { bytes, view });
    }
  }

  /** @internal */
  _doubleFree(): void {
    this.doubleFrees++;
  }
}

const SLAB_BYTES = 64 * 1024;

function makeStorage(size: number): Storage {
  const bytes = new Uint8Array(size);
  return { bytes, view: new DataView(bytes.buffer, 0, size) };
}
