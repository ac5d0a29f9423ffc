/**
 * The send buffer: bytes the application handed over that are not yet
 * acknowledged (sent and in flight, then unsent), in sequence order, in one
 * growable ring. TCP copies segments out of it on every (re)transmission and
 * drops bytes from its front as ACKs arrive.
 *
 * The ring grows by doubling and never shrinks below what it once needed while
 * the connection lives: a bulk sender settles on one allocation.
 */

const MIN_CAPACITY = 4096;

export class SendBuffer {
  private buf: Uint8Array = new Uint8Array(0);
  private head = 0;
  /** Bytes held (unacknowledged, sent or not). */
  length = 0;

  get capacity(): number {
    return this.buf.length;
  }

  /** Appends `len` bytes of `src` from `off`. */
  append(src: Uint8Array, off: number, len: number): void {
    if (len <= 0) return;
    this.reserve(this.length + len);
    const cap = this.buf.length;
    const mask = cap - 1;
    const tail = (this.head + this.length) & mask;
    const first = Math.min(len, cap - tail);
    this.buf.set(first === src.length && off === 0 ? src : src.subarray(off, off + first), tail);
    if (first < len) this.buf.set(src.subarray(off + first, off + len), 0);
    this.length += len;
  }

  /** Copies `len` bytes starting `offset` bytes after the front into `dst` at `dstOff`. */
  copyOut(offset: number, dst: Uint8Array, dstOff: number, len: number): void {
    if (len <= 0) return;
    if (offset < 0 || offset + len > this.length) throw new RangeError(`copyOut(${offset}, ${len}) beyond ${this.length} bytes`);
    const cap = this.buf.length;
    const start = (this.head + offset) & (cap - 1);
    const first = Math.min(len, cap - start);
    dst.set(this.buf.subarray(start, start + first), dstOff);
    if (first < len) dst.set(this.buf.subarray(0, len - first), dstOff + first);
  }

  /** Forgets `n` bytes from the front (they were acknowledged). */
  consume(n: number): void {
    if (n <= 0) return;
    if (n >= this.length) {
      this.head = 0;
      this.length = 0;
      return;
    }
    this.head = (this.head + n) & (this.buf.length - 1);
    this.length -= n;
  }

  /** Releases the memory (connection gone). */
  free(): void {
    this.buf = new Uint8Array(0);
    this.head = 0;
    this.length = 0;
  }

  private reserve(need: number): void {
    const old = this.buf;
    if (need <= old.length) return;
    let cap = Math.max(MIN_CAPACITY, old.length);
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    if (this.length > 0) {
      const first = Math.min(this.length, old.length - this.head);
      next.set(old.subarray(this.head, this.head + first), 0);
      if (first < this.length) next.set(old.subarray(0, this.length - first), first);
    }
    this.buf = next;
    this.head = 0;
  }
}
