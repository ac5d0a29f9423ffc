/**
 * The SegmentWriter lent to onSendReady: a window onto the payload area of the
 * packet TCP is building, so the client writes its bytes where they will be
 * sent. After the upcall the writer is retired: a handler that kept it (or one
 * that runs later, under queued dispatch, which gets a writer with no packet
 * behind it) writes through `send` instead, still within `space`.
 */
import { EMPTY_BYTES } from '../../wire/buffer.js';
import type { TcpConnection } from './connection.js';
import type { SegmentWriter } from './types.js';

const encoder = new TextEncoder();

export class PayloadWriter implements SegmentWriter {
  written = 0;
  private live: boolean;

  constructor(
    private readonly conn: TcpConnection,
    public buffer: Uint8Array,
    public offset: number,
    public space: number,
  ) {
    this.live = buffer !== EMPTY_BYTES;
  }

  write(data: Uint8Array | string): number {
    const bytes = typeof data === 'string' ? encoder.encode(data) : data;
    const n = bytes.length < this.space ? bytes.length : this.space;
    if (n === 0) return 0;
    const part = n === bytes.length ? bytes : bytes.subarray(0, n);
    if (this.live) {
      this.buffer.set(part, this.offset);
      this.offset += n;
    } else {
      this.conn.send(part);
    }
    this.space -= n;
    this.written += n;
    return n;
  }

  commit(n: number): void {
    if (!this.live) throw new Error('SegmentWriter.commit outside its upcall: use write()');
    if (!(Number.isInteger(n) && n >= 0 && n <= this.space)) throw new RangeError(`commit(${n}) with ${this.space} bytes of space`);
    this.offset += n;
    this.space -= n;
    this.written += n;
  }

  /** @internal ends the loan of the packet; returns the bytes written into it */
  retire(): number {
    const n = this.written;
    if (this.live) {
      this.live = false;
      this.buffer = EMPTY_BYTES;
      this.offset = 0;
    }
    return n;
  }
}
