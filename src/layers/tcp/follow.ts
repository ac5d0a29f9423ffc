/**
 * Passive reassembly of one TCP connection, both directions, reproducing what
 * Wireshark's "Follow TCP Stream" prints (tshark -z follow,tcp,raw), so that a
 * replay's per-direction digests can be held against tshark's.
 *
 * The rules, as Wireshark 4.0 applies them (epan/dissectors/packet-tcp.c,
 * follow tap), and as checked against tshark in test/layers/tcp/follow.test.ts:
 *
 * - Sequence numbers are kept relative to a per-direction base, chosen the way
 *   Wireshark's TCP analysis does: the ISN of a SYN; else, the first segment's
 *   seq minus one; or, when the peer's ACK is seen first, that ACK minus one.
 *   A SYN's payload starts at seq + 1.
 * - The next expected sequence number of a direction is taken from its first
 *   segment (with or without payload). While nothing has been written in order
 *   and that expectation is still relative 0, every segment re-takes it (a
 *   quirk visible only when the peer's ACK fixed the base, e.g. a keep-alive
 *   seen first).
 * - A segment starting at or before the expected byte contributes only the bytes
 *   beyond it: bytes already written are never replaced (first written wins).
 *   An in-order segment that covers data held out of order wins over that held
 *   data for the overlapping range.
 * - A segment starting beyond the expected byte is held. Held segments are
 *   retried after every in-order write, in arrival order: the first held
 *   segment that starts at or before the expected byte contributes its bytes
 *   beyond it; held segments entirely behind are dropped.
 * - When a segment from the peer acknowledges beyond the lowest held sequence
 *   number, the receiver evidently got bytes the capture lacks: the hole is
 *   skipped (Wireshark writes the text "[N bytes missing in capture file]" and
 *   a NUL there) and held data is written from the lowest held sequence on.
 * - Held data behind a hole that is never acknowledged is never written: tshark's
 *   output for that direction stops at the hole.
 * - FIN and RST change nothing for the byte stream.
 *
 * Where this module differs, by design:
 * - It never invents bytes. Its byte sink receives captured bytes only; every
 *   hole is reported as a FollowGap (offset in the delivered bytes, sequence
 *   number, length, reason). `wiresharkGapMarker` gives tshark's marker bytes
 *   for a gap, so a caller that needs tshark's exact output (FollowCollector's
 *   `wiresharkBytes`) splices them in.
 * - Held data is bounded (`maxBufferedBytes`, `maxHeldSegments`): past the
 *   bound the earliest hole is declared permanent and held data written from
 *   behind it (reason 'buffer-limit'), rather than growing without bound.
 *   Dropping held bytes instead would lose captured data while the hole stayed.
 * - A snaplen-truncated in-order segment (payload captured shorter than sent) is
 *   written as captured and its missing tail reported as a 'truncated' gap;
 *   Wireshark skips such a tail silently.
 * - `finish()` with `flushHeldAtFinish` writes held data behind unfilled holes
 *   (reported as gaps) instead of discarding it.
 */

import { concatBytes } from '../../wire/buffer.js';

export type FollowDirection = 0 | 1;

/** TCP flag bits as on the wire (byte 13 of the header). */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

export interface TcpFlagSet {
  readonly syn?: boolean;
  readonly fin?: boolean;
  readonly rst?: boolean;
  readonly ack?: boolean;
}

/**
 * What one segment did to its direction's stream. Shown per frame by the
 * replay's --trace output.
 */
export type FollowVerdict =
  /** New bytes written in order. */
  | 'delivered'
  /** New bytes written in order, and they let data held out of order follow. */
  | 'filled'
  /** Began inside already-written bytes; only the bytes beyond were written. */
  | 'partial-overlap'
  /** Every byte had been written already (the first copy is kept). */
  | 'retransmission'
  /** Lies entirely before the first byte followed in this direction (capture began mid-flow). */
  | 'before-start'
  /** Begins beyond the next expected byte: held until the hole fills. */
  | 'out-of-order'
  /** A copy of data already held out of order; not held twice. */
  | 'duplicate'
  /** No payload, and its ACK told nothing new (pure ACK, SYN, FIN, RST). */
  | 'empty'
  /** No payload, but its ACK covers peer bytes the capture lacks: a peer hole was skipped. */
  | 'gap-skipped'
  /** Payload sent but not captured (snaplen): nothing to write. */
  | 'truncated';

export type FollowGapReason =
  /** The peer acknowledged bytes that are not in the capture. */
  | 'acked-unseen'
  /** Held data exceeded the bound; the earliest hole was given up. */
  | 'buffer-limit'
  /** The capture's snaplen cut the segment's payload. */
  | 'truncated'
  /** finish(): a hole never filled nor acknowledged (held data after it discarded unless flushHeldAtFinish). */
  | 'unfilled-at-end';

export interface FollowGap {
  /** Offset in this direction's delivered (captured) bytes where the hole sits. */
  readonly at: number;
  /** Absolute sequence number of the first missing byte. */
  readonly seq: number;
  /** Number of sequence numbers missing. */
  readonly length: number;
  readonly reason: FollowGapReason;
}

export interface FollowDirectionStats {
  /** Captured bytes written to the stream. */
  bytes: number;
  /** Segments seen in this direction, with or without payload. */
  segments: number;
  /** Segments whose payload had been written already ('retransmission'). */
  retransmissions: number;
  /** Segments that began inside written bytes and extended them ('partial-overlap'). */
  overlaps: number;
  outOfOrder: number;
  duplicates: number;
  beforeStart: number;
  /** Bytes currently held out of order. */
  heldBytes: number;
  /** Held bytes thrown away by finish() (behind a hole never filled). */
  discardedBytes: number;
  readonly gaps: FollowGap[];
  fin: boolean;
  rst: boolean;
}

export interface FollowOptions {
  /** Bound on bytes held out of order, per direction (default 8 MiB). */
  readonly maxBufferedBytes?: number;
  /** Bound on segments held out of order, per direction (default 16384). */
  readonly maxHeldSegments?: number;
  /** At finish(), write held data behind unfilled holes instead of discarding it as tshark does (default false). */
  readonly flushHeldAtFinish?: boolean;
  /**
   * Receives each run of captured bytes in stream order. `data` may be a view of
   * the caller's payload: copy it to keep it past the call.
   */
  readonly onBytes?: (dir: FollowDirection, data: Uint8Array, seq: number) => void;
  readonly onGap?: (dir: FollowDirection, gap: FollowGap) => void;
}

interface Held {
  /** Relative sequence number of data[0]. */
  readonly rel: number;
  readonly data: Uint8Array;
}

/** Signed distance a - b in sequence space. */
function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

class DirectionState {
  baseSet = false;
  /** Absolute sequence number that relative 0 stands for. */
  base = 0;
  /** Next expected relative sequence number (Wireshark's follow "seq"). */
  next = 0;
  /** Whether an in-order write happened (Wireshark's bytes_written != 0). */
  wroteInOrder = false;
  seen = false;
  /** Relative sequence number where following began. */
  start = 0;
  readonly held: Held[] = [];
  readonly stats: FollowDirectionStats = {
    bytes: 0,
    segments: 0,
    retransmissions: 0,
    overlaps: 0,
    outOfOrder: 0,
    duplicates: 0,
    beforeStart: 0,
    heldBytes: 0,
    discardedBytes: 0,
    gaps: [],
    fin: false,
    rst: false,
  };
}

const EMPTY = new Uint8Array(0);

export class FlowFollower {
  private readonly dirs: readonly [DirectionState, DirectionState] = [new DirectionState(), new DirectionState()];
  private readonly maxBufferedBytes: number;
  private readonly maxHeldSegments: number;
  private readonly flushHeldAtFinish: boolean;
  private readonly onBytes: FollowOptions['onBytes'];
  private readonly onGap: FollowOptions['onGap'];
  private finished = false;
  private gapsThisSegment = 0;

  constructor(opts: FollowOptions = {}) {
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 8 * 1024 * 1024;
    this.maxHeldSegments = opts.maxHeldSegments ?? 16384;
    this.flushHeldAtFinish = opts.flushHeldAtFinish ?? false;
    this.onBytes = opts.onBytes;
    this.onGap = opts.onGap;
  }

  /** Per-direction counters and the gaps found so far. */
  stats(dir: FollowDirection): Readonly<FollowDirectionStats> {
    return this.dirs[dir].stats;
  }

  /** Absolute sequence number of the next byte expected in this direction, or undefined before its first segment. */
  nextSeq(dir: FollowDirection): number | undefined {
    const d = this.dirs[dir];
    return d.seen ? (d.base + d.next) >>> 0 : undefined;
  }

  /**
   * Feeds one captured segment.
   * @param dir which side sent it (0 is usually the side that sent the flow's first captured packet)
   * @param seq the header's sequence number
   * @param ack the header's acknowledgment number (looked at only when the ACK flag is set)
   * @param flags header flag bits (TCP_SYN | TCP_ACK ...) or a flag record
   * @param payload the captured payload bytes (not kept: held data is copied)
   * @param wireLength payload length on the wire when the snaplen cut it (default payload.length)
   */
  segment(
    dir: FollowDirection,
    seq: number,
    ack: number,
    flags: number | TcpFlagSet,
    payload: Uint8Array,
    wireLength: number = payload.length,
  ): FollowVerdict {
    if (this.finished) throw new Error('FlowFollower.segment() after finish()');
    const bits = typeof flags === 'number' ? flags : flagBits(flags);
    const d = this.dirs[dir];
    const peerDir: FollowDirection = dir === 0 ? 1 : 0;
    const peer = this.dirs[peerDir];
    d.stats.segments++;
    if (bits & TCP_FIN) d.stats.fin = true;
    if (bits & TCP_RST) d.stats.rst = true;
    this.gapsThisSegment = 0;

    // Relative bases as Wireshark's TCP analysis fixes them, before the follow step.
    if (!d.baseSet) {
      d.baseSet = true;
      d.base = bits & TCP_SYN ? seq >>> 0 : (seq - 1) >>> 0;
    }
    const hasAck = (bits & TCP_ACK) !== 0;
    if (hasAck && !peer.baseSet) {
      peer.baseSet = true;
      peer.base = (ack - 1) >>> 0;
    }

    // An ACK beyond held peer data means the receiver had bytes we never saw.
    if (hasAck && peer.held.length > 0) {
      this.drain(peerDir, peer, true, (ack - peer.base) >>> 0);
    }

    let rel = (seq - d.base) >>> 0;
    if (bits & TCP_SYN) rel = (rel + 1) >>> 0;
    if (!d.wroteInOrder && d.next === 0) {
      d.next = rel;
      d.start = rel;
    }
    d.seen = true;

    let length = wireLength;
    let dataLength = payload.length;
    let dataOffset = 0;
    if (seqDiff(rel, d.next) < 0) {
      const end = (rel + length) >>> 0;
      if (seqDiff(end, d.next) > 0) {
        dataOffset = (d.next - rel) >>> 0;
        dataLength = dataLength <= dataOffset ? 0 : dataLength - dataOffset;
        rel = d.next;
        length = (end - d.next) >>> 0;
      }
    }

    if (dataLength === 0 || seqDiff(rel, d.next) < 0) {
      return this.classifyIgnored(d, rel, wireLength, payload.length, dataOffset);
    }

    if (rel === d.next) {
      const data = dataOffset === 0 && dataLength === payload.length ? payload : payload.subarray(dataOffset, dataOffset + dataLength);
      this.write(dir, d, data);
      d.wroteInOrder = true;
      if (length > dataLength) {
        // Snaplen cut the tail: Wireshark advances past it without bytes.
        this.gap(dir, d, (d.base + d.next + dataLength) >>> 0, length - dataLength, 'truncated');
      }
      d.next = (d.next + length) >>> 0;
      const bytesBefore = d.stats.bytes;
      if (d.held.length > 0) this.drain(dir, d, false, 0);
      if (dataOffset > 0) {
        d.stats.overlaps++;
        return 'partial-overlap';
      }
      return d.stats.bytes > bytesBefore ? 'filled' : 'delivered';
    }

    // Beyond the expected byte: hold a copy, unless one held segment already has it all.
    const end = (rel + dataLength) >>> 0;
    for (const h of d.held) {
      if (seqDiff(h.rel, rel) <= 0 && seqDiff((h.rel + h.data.length) >>> 0, end) >= 0) {
        d.stats.duplicates++;
        return 'duplicate';
      }
    }
    const copy = payload.slice(dataOffset, dataOffset + dataLength);
    d.held.push({ rel, data: copy });
    d.stats.heldBytes += copy.length;
    d.stats.outOfOrder++;
    this.enforceBound(dir, d);
    return 'out-of-order';
  }

  /**
   * Ends the flow. Held data behind a hole is discarded, as tshark does (its
   * span reported as an 'unfilled-at-end' gap), or written after the hole when
   * `flushHeldAtFinish` is set.
   */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const dir of [0, 1] as const) {
      const d = this.dirs[dir];
      if (d.held.length === 0) continue;
      if (this.flushHeldAtFinish) {
        while (d.held.length > 0) {
          this.skipToLowest(dir, d, 'unfilled-at-end');
          this.drain(dir, d, false, 0);
        }
      } else {
        let far = d.next;
        for (const h of d.held) {
          const e = (h.rel + h.data.length) >>> 0;
          if (seqDiff(e, far) > 0) far = e;
        }
        this.gap(dir, d, (d.base + d.next) >>> 0, (far - d.next) >>> 0, 'unfilled-at-end');
        d.stats.discardedBytes += d.stats.heldBytes;
        d.stats.heldBytes = 0;
        d.held.length = 0;
      }
    }
  }

  private classifyIgnored(
    d: DirectionState,
    rel: number,
    wireLength: number,
    captured: number,
    dataOffset: number,
  ): FollowVerdict {
    if (wireLength === 0) return this.gapsThisSegment > 0 ? 'gap-skipped' : 'empty';
    const end = (rel + wireLength) >>> 0;
    // Sent bytes beyond the expected one, but none of them captured.
    if (captured <= dataOffset && seqDiff(end, d.next) > 0) return 'truncated';
    // Entirely at or behind the expected byte: before where following began, or written already.
    if (((d.next - end) >>> 0) >= ((d.next - d.start) >>> 0)) {
      d.stats.beforeStart++;
      return 'before-start';
    }
    d.stats.retransmissions++;
    return 'retransmission';
  }

  private write(dir: FollowDirection, d: DirectionState, data: Uint8Array): void {
    if (data.length === 0) return;
    const seq = (d.base + d.next) >>> 0;
    d.stats.bytes += data.length;
    if (this.onBytes !== undefined) this.onBytes(dir, data, seq);
  }

  private gap(dir: FollowDirection, d: DirectionState, seq: number, length: number, reason: FollowGapReason): void {
    if (length === 0) return;
    const g: FollowGap = { at: d.stats.bytes, seq, length, reason };
    d.stats.gaps.push(g);
    this.gapsThisSegment++;
    if (this.onGap !== undefined) this.onGap(dir, g);
  }

  /**
   * Writes held data that now fits, in arrival order, and (when an ACK is
   * given) skips holes the peer has acknowledged.
   */
  private drain(dir: FollowDirection, d: DirectionState, useAck: boolean, ackRel: number): void {
    const held = d.held;
    for (;;) {
      if (held.length === 0) return;
      let lowest = held[0]!.rel;
      let applied = false;
      for (let i = 0; i < held.length; i++) {
        const h = held[i]!;
        if (seqDiff(lowest, h.rel) > 0) lowest = h.rel;
        const behind = seqDiff(h.rel, d.next) < 0;
        if (behind || h.rel === d.next) {
          if (behind) {
            const end = (h.rel + h.data.length) >>> 0;
            if (seqDiff(end, d.next) > 0) {
              const from = (d.next - h.rel) >>> 0;
              this.write(dir, d, h.data.subarray(from));
              d.next = end;
            }
          } else {
            this.write(dir, d, h.data);
            d.next = (d.next + h.data.length) >>> 0;
          }
          held.splice(i, 1);
          d.stats.heldBytes -= h.data.length;
          applied = true;
          break;
        }
      }
      if (applied) continue;
      if (useAck && seqDiff(ackRel, lowest) > 0) {
        this.gap(dir, d, (d.base + d.next) >>> 0, (lowest - d.next) >>> 0, 'acked-unseen');
        d.next = lowest;
        continue;
      }
      return;
    }
  }

  private skipToLowest(dir: FollowDirection, d: DirectionState, reason: FollowGapReason): void {
    let lowest = d.held[0]!.rel;
    for (const h of d.held) if (seqDiff(lowest, h.rel) > 0) lowest = h.rel;
    if (seqDiff(lowest, d.next) > 0) {
      this.gap(dir, d, (d.base + d.next) >>> 0, (lowest - d.next) >>> 0, reason);
      d.next = lowest;
    }
  }

  private enforceBound(dir: FollowDirection, d: DirectionState): void {
    while (d.held.length > 0 && (d.stats.heldBytes > this.maxBufferedBytes || d.held.length > this.maxHeldSegments)) {
      this.skipToLowest(dir, d, 'buffer-limit');
      this.drain(dir, d, false, 0);
    }
  }
}

function flagBits(f: TcpFlagSet): number {
  return (f.syn ? TCP_SYN : 0) | (f.fin ? TCP_FIN : 0) | (f.rst ? TCP_RST : 0) | (f.ack ? TCP_ACK : 0);
}

const encoder = new TextEncoder();

/**
 * The bytes Wireshark's follow writes in place of a hole the peer acknowledged:
 * "[N bytes missing in capture file]" and a NUL. Other gap reasons have no
 * marker in tshark's output (it skips a truncated tail silently and never
 * writes past an unacknowledged hole).
 */
export function wiresharkGapMarker(gap: FollowGap): Uint8Array {
  if (gap.reason !== 'acked-unseen') return EMPTY;
  return encoder.encode(`[${gap.length | 0} bytes missing in capture file]\0`);
}

/**
 * A sink that keeps everything: per-direction bytes and gaps, in order. For
 * tests, small flows and digests; a replay of large captures should hash in
 * onBytes instead.
 */
export class FollowCollector {
  private readonly parts: [Array<Uint8Array | FollowGap>, Array<Uint8Array | FollowGap>] = [[], []];

  readonly onBytes = (dir: FollowDirection, data: Uint8Array): void => {
    this.parts[dir].push(data.slice());
  };

  readonly onGap = (dir: FollowDirection, gap: FollowGap): void => {
    this.parts[dir].push(gap);
  };

  /** Captured bytes only, holes closed up. */
  bytes(dir: FollowDirection): Uint8Array {
    return concatBytes(this.parts[dir].filter((p): p is Uint8Array => p instanceof Uint8Array));
  }

  /** What `tshark -z follow,tcp,raw` prints for this direction: gap markers spliced in. */
  wiresharkBytes(dir: FollowDirection): Uint8Array {
    return concatBytes(this.parts[dir].map((p) => (p instanceof Uint8Array ? p : wiresharkGapMarker(p))));
  }

  gaps(dir: FollowDirection): FollowGap[] {
    return this.parts[dir].filter((p): p is FollowGap => !(p instanceof Uint8Array));
  }
}
