/**
 * What Telnet needs from the byte-stream transport below it, as an interface:
 * TCP's connection and slots satisfy it, and so does a test double, so the
 * login service and the client can be exercised over any reliable stream.
 * The shapes are TCP's own (src/layers/tcp/types.ts), narrowed to what Telnet uses.
 */
import type { Module } from '../../core/index.js';
import type { IpAddress } from '../net.js';

/** One connection, as Telnet uses it. */
export interface StreamConnection {
  /**
   * Queue bytes to send. Called inside a receive upcall, the bytes leave with
   * the acknowledgement of what was just received. False: the send buffer is
   * above its high-water mark (the bytes are queued all the same).
   */
  send(data: Uint8Array | string): boolean;
  /**
   * Swift's "arm for send": ask for one `onSendReady` upcall when the window has
   * room. Called inside a receive upcall, TCP makes that upcall as it builds the
   * segment carrying the acknowledgement, once the receive upcall has returned,
   * so the reply is written straight into that segment. A FIN (`close`) cancels
   * an arming that has not been served.
   */
  armSend(): void;
  /** FIN after the queued data. */
  close(): void;
  /** Reset now; no further upcalls. */
  abort(): void;
  /** Attach this connection's handlers, with the owner's client state for cleanup. */
  bind(handlers: Partial<StreamSlots>, owner?: Module, client?: unknown): void;
  describe(): string;
  readonly localAddress: string;
  readonly remoteAddress: string;
  readonly localPort: number;
  readonly remotePort: number;
}

/** The per-connection upcalls Telnet binds (a subset of TCP's slots). */
export interface StreamSlots {
  onConnect(conn: StreamConnection): void;
  /** `data` is valid during the upcall only. */
  onData(conn: StreamConnection, data: Uint8Array): void;
  /**
   * The connection was armed (`armSend`) and TCP is building a segment now:
   * write into its payload through `w`. One upcall per arming; arm again for more.
   */
  onSendReady(conn: StreamConnection, w: StreamWriter): void;
  onClose(conn: StreamConnection, how: 'peer-fin' | 'closed'): void;
  onError(conn: StreamConnection, err: Error): void;
}

/**
 * The payload area of the segment being built, lent during `onSendReady`
 * (TCP's SegmentWriter). Under queued dispatch the handler runs after the
 * segment has gone: the writer then has no packet behind it (`commit` throws,
 * `write` falls back to `send`), so a handler should not count on it there.
 */
export interface StreamWriter {
  /** Backing memory of the outgoing packet; write at [offset, offset + space). */
  readonly buffer: Uint8Array;
  readonly offset: number;
  /** Bytes that still fit in this segment. */
  readonly space: number;
  /** Bytes written so far. */
  readonly written: number;
  /** Copies as much of `data` as fits; returns the bytes taken. */
  write(data: Uint8Array | string): number;
  /** Accounts `n` bytes written directly at `buffer[offset]`. */
  commit(n: number): void;
}

export interface StreamListenSlots {
  /** Return undefined after binding the connection with `conn.bind`. */
  onAccept(conn: StreamConnection): Partial<StreamSlots> | undefined;
}

export interface StreamListener {
  close(): void;
}

/** A transport that can listen and connect (TCP). */
export interface StreamTransport {
  /** `noDelay`: send small writes at once (no Nagle), as interactive services do. */
  listen(port: number, owner: Module, slots: Partial<StreamListenSlots>, opts?: { noDelay?: boolean }): StreamListener;
  connect(
    /** An IPv4 or IPv6 address. */
    dst: IpAddress,
    port: number,
    owner: Module,
    handlers: Partial<StreamSlots>,
    opts?: { client?: unknown; noDelay?: boolean },
  ): StreamConnection;
}
