/**
 * Application-side helpers for TCP tests: a peer that streams a byte array
 * (honouring backpressure through onDrain), records what it receives, and
 * half-closes when done.
 */
import type { Module } from '../../../../src/core/index.js';
import type { TcpConnection, TcpError, TcpSlots } from '../../../../src/layers/tcp/index.js';
import { concat } from './fake-ip.js';

export interface PeerLog {
  received: Uint8Array[];
  events: string[];
  errors: TcpError[];
  conn: TcpConnection | null;
  readonly done: () => boolean;
  readonly bytes: () => Uint8Array;
}

export interface StreamerOptions {
  /** Sizes of successive send() calls (cycled). */
  chunkSizes?: number[];
  /** Use armSend/onSendReady instead of send(). */
  useWriter?: boolean;
  /** Pause reading for this long (virtual ms) after every N bytes received. */
  pauseEvery?: number;
  pauseMs?: number;
  noDelay?: boolean;
  /** close() instead of shutdown() once everything was sent and the peer finished. */
}

/** Handlers that send `data` then half-close, and collect what arrives. */
export function streamer(data: Uint8Array, opts: StreamerOptions = {}, schedule?: (ms: number, fn: () => void) => void): { handlers: Partial<TcpSlots>; log: PeerLog } {
  const sizes = opts.chunkSizes ?? [4096];
  let pos = 0;
  let k = 0;
  let sinceLastPause = 0;
  const log: PeerLog = {
    received: [],
    events: [],
    errors: [],
    conn: null,
    done: () => log.events.includes('closed') || log.errors.length > 0,
    bytes: () => concat(log.received),
  };
  const pump = (c: TcpConnection): void => {
    if (opts.useWriter) {
      if (pos < data.length) c.armSend();
      else if (!log.events.includes('shutdown')) {
        log.events.push('shutdown');
        c.shutdown();
      }
      return;
    }
    while (pos < data.length) {
      const n = Math.min(sizes[k++ % sizes.length]!, data.length - pos);
      const ok = c.send(data.subarray(pos, pos + n));
      pos += n;
      if (!ok) return;
    }
    if (!log.events.includes('shutdown')) {
      log.events.push('shutdown');
      c.shutdown();
    }
  };
  const handlers: Partial<TcpSlots> = {
    onConnect: (c) => {
      log.conn = c;
      log.events.push('connect');
      if (opts.noDelay) c.setNoDelay(true);
      pump(c);
    },
    onData: (c, d) => {
      log.received.push(d.slice());
      sinceLastPause += d.length;
      if (opts.pauseEvery !== undefined && schedule !== undefined && sinceLastPause >= opts.pauseEvery) {
        sinceLastPause = 0;
        c.pause();
        schedule(opts.pauseMs ?? 100, () => c.resume());
      }
    },
    onSendReady: (c, w) => {
      const n = w.write(data.subarray(pos, pos + Math.min(w.space, sizes[k++ % sizes.length]!)));
      pos += n;
      pump(c);
    },
    onDrain: (c) => pump(c),
    onClose: (_c, how) => log.events.push(how),
    onError: (_c, e) => {
      log.errors.push(e);
      log.events.push(`error:${e.code}`);
    },
  };
  return { handlers, log };
}

/** An app module's listener that answers every connection with a streamer. */
export function acceptStreamer(
  tcpListen: (port: number, owner: Module, h: { onAccept: (c: TcpConnection) => Partial<TcpSlots> | undefined }) => unknown,
  port: number,
  owner: Module,
  data: Uint8Array,
  opts: StreamerOptions = {},
  schedule?: (ms: number, fn: () => void) => void,
): PeerLog[] {
  const logs: PeerLog[] = [];
  tcpListen(port, owner, {
    onAccept: (c) => {
      const s = streamer(data, opts, schedule);
      logs.push(s.log);
      // bind() rather than returning the handlers: works under queued dispatch too.
      c.bind(s.handlers);
      return undefined;
    },
  });
  return logs;
}
