/**
 * TCP's upcall interface: the slots a client binds per connection and per
 * listener, the error it may receive, and the writer it fills in place.
 */
import type { IpAddress } from '../net.js';
import type { TcpConnection } from './connection.js';
import type { TcpState } from './states.js';

/** Handlers for one connection. Every slot is optional. */
export interface TcpSlots {
  /** The connection reached ESTABLISHED (active open), or was accepted (passive open). */
  onConnect(conn: TcpConnection): void;
  /**
   * Bytes arrived in order. `data` is a view into the received packet (or TCP's
   * own buffer), valid only during the upcall: copy what you keep.
   */
  onData(conn: TcpConnection, data: Uint8Array): void;
  /**
   * "Arm for send" (`conn.armSend()`): the window has room, and TCP is building a
   * segment now. Write into it with `w.write(bytes)`, or directly into
   * `w.buffer` at `w.offset` (at most `w.space` bytes) and then `w.commit(n)`.
   * One upcall per arming; arm again for more. Returning PENDING (queued
   * dispatch) means nothing was written now: later writes are queued as `send`.
   */
  onSendReady(conn: TcpConnection, w: SegmentWriter): void;
  /**
   * The send buffer went below its low-water mark after `send` returned false,
   * or everything sent so far has been acknowledged.
   */
  onDrain(conn: TcpConnection): void;
  /**
   * 'peer-fin': the peer finished sending (no more onData; you may still send,
   * then `shutdown`/`close`). 'closed': the connection is over (both FINs
   * exchanged and acknowledged); the last upcall of a connection that ends well.
   */
  onClose(conn: TcpConnection, how: 'peer-fin' | 'closed'): void;
  /** The connection failed (reset, refused, timed out); the last upcall it makes. */
  onError(conn: TcpConnection, err: TcpError): void;
}

export interface TcpListenSlots {
  /**
   * A connection completed its handshake on this listener. Return its handlers
   * (TCP binds them), or call `conn.bind(...)` now or later (queued dispatch must:
   * its return value is not available). Until bound, arriving data is held and
   * the connection counts against the backlog.
   */
  onAccept(conn: TcpConnection): Partial<TcpSlots> | undefined;
}

/** EADDRNOTAVAIL: connect found no free ephemeral port (reported by onError, like the other failures to connect). */
export type TcpErrorCode = 'ECONNRESET' | 'ECONNREFUSED' | 'ETIMEDOUT' | 'ECONNABORTED' | 'ENETUNREACH' | 'EADDRNOTAVAIL';

export class TcpError extends Error {
  constructor(
    readonly code: TcpErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TcpError';
  }
}

/** The payload area of the segment being built, lent to `onSendReady`. */
export interface SegmentWriter {
  /** Backing memory of the outgoing packet; write at [offset, offset + space). */
  readonly buffer: Uint8Array;
  readonly offset: number;
  /** Bytes that still fit in this segment. */
  readonly space: number;
  /** Bytes written so far. */
  readonly written: number;
  /**
   * Copies as much of `data` as fits; returns the bytes taken. Once the segment
   * has gone (after the upcall), writes are queued on the send buffer instead.
   */
  write(data: Uint8Array | string): number;
  /** Accounts `n` bytes written directly at `buffer[offset]`. */
  commit(n: number): void;
}

export interface ConnectOptions {
  /** Local port; default: an ephemeral one. */
  localPort?: number;
  /** Disable Nagle's algorithm (RFC 9293 3.7.4). */
  noDelay?: boolean;
  /** Owner-side client state put on the binding (given to the owner's cleanup). */
  client?: unknown;
}

export interface ListenOptions {
  /** Accept only on this local address (an IPv4 or IPv6 one); default: every address of both families. */
  address?: IpAddress;
  /** Established connections not yet bound by the application. */
  backlog?: number;
  /** Half-open connections (SYN-RECEIVED). */
  synBacklog?: number;
  noDelay?: boolean;
}

/** One row of `tcp.connections()` (what `netstat` prints). */
export interface TcpConnectionRow {
  readonly local: string;
  readonly remote: string;
  readonly state: TcpState;
}
