/**
 * IPv4 reassembly bookkeeping (RFC 815's idea, kept simple): the fragments of
 * one datagram are copied aside as they arrive, in any order, and the datagram
 * is assembled once pieces cover [0, total) with total known from the fragment
 * that has MF clear. Fragments are the one place the receive path copies: the
 * frame a fragment came in is gone once its upcall returns.
 *
 * Pure data structure: the IP module owns the timers and the drop counters.
 * Family-neutral at its core (`addPiece`, `assemble`): IPv4 keeps the first
 * fragment's header record, IPv6 its own bytes in `meta`, and IPv6 asks for
 * overlaps to be refused (RFC 5722) where IPv4 takes them.
 */
import type { Ip4 } from '../wire/addr.js';
import type { BufferPool, PacketBuffer } from '../wire/buffer.js';
import { IPV4_FLAG_MF, type Ipv4Header } from '../wire/ipv4.js';

interface Piece {
  readonly offset: number;
  readonly data: Uint8Array;
}

/** One datagram being reassembled; a client of the IP module while it waits. */
export class PartialDatagram {
  readonly pieces: Piece[] = [];
  /** Payload bytes of the whole datagram, once the last fragment has been seen; else -1. */
  total = -1;
  /** Bytes held in pieces. */
  held = 0;
  /** Header of the fragment at offset 0, once seen (options copied). */
  first: Ipv4Header | null = null;
  timer: { cancel(): void } | null = null;
  /** Whatever the family keeps about the datagram (IPv6: the first fragment's headers). */
  meta: unknown = null;

  constructor(
    readonly key: string,
    /** IPv4 only (0 for other families): the key says who the datagram is from and to. */
    readonly src: Ip4,
    readonly dst: Ip4,
    readonly protocol: number,
    readonly id: number,
    readonly createdAt: number,
  ) {}

  describe(): string {
    return `reassembly ${this.key}`;
  }
}

/** What one piece did to its datagram, whatever the family. */
export type PieceResult = 'held' | 'duplicate' | 'inconsistent' | 'overlap' | 'complete';

export type AddResult =
  | { readonly kind: 'held' }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'inconsistent' }
  | { readonly kind: 'complete'; readonly buf: PacketBuffer; readonly header: Ipv4Header };

const HELD = Object.freeze({ kind: 'held' as const });
const DUPLICATE = Object.freeze({ kind: 'duplicate' as const });
const INCONSISTENT = Object.freeze({ kind: 'inconsistent' as const });

export function reassemblyKey(src: Ip4, dst: Ip4, protocol: number, id: number): string {
  return `${src}/${dst}/${protocol}/${id}`;
}

export class Reassembler {
  readonly partials = new Map<string, PartialDatagram>();
  /** Bytes held over all partial datagrams. */
  held = 0;

  constructor(private readonly pool: BufferPool) {}

  get size(): number {
    return this.partials.size;
  }

  get(key: string): PartialDatagram | undefined {
    return this.partials.get(key);
  }

  open(key: string, h: Ipv4Header, now: number): PartialDatagram {
    const d = new PartialDatagram(key, h.src, h.dst, h.protocol, h.identification, now);
    this.partials.set(key, d);
    return d;
  }

  /** A datagram of another family, known by its key alone. */
  openKeyed(key: string, now: number): PartialDatagram {
    const d = new PartialDatagram(key, 0, 0, 0, 0, now);
    this.partials.set(key, d);
    return d;
  }

  /** The oldest partial datagram (Map order is creation order). */
  oldest(): PartialDatagram | undefined {
    for (const d of this.partials.values()) return d;
    return undefined;
  }

  /** Forget a datagram; returns the bytes it held. */
  discard(d: PartialDatagram): number {
    if (this.partials.get(d.key) === d) this.partials.delete(d.key);
    const n = d.held;
    this.held -= n;
    d.held = 0;
    d.pieces.length = 0;
    return n;
  }

  /**
   * Adds one fragment's payload (`payload` is copied). `h` is the fragment's header.
   * On 'complete' the datagram has been removed; the caller owns the buffer.
   */
  add(d: PartialDatagram, h: Ipv4Header, payload: Uint8Array): AddResult {
    if (h.fragmentOffset === 0 && d.first === null) d.first = { ...h, options: h.options.slice() };
    const r = this.addPiece(d, h.fragmentOffset, (h.flags & IPV4_FLAG_MF) === 0, payload, false, d.first !== null);
    if (r === 'held') return HELD;
    if (r === 'duplicate') return DUPLICATE;
    if (r === 'inconsistent') return INCONSISTENT;
    const buf = this.pool.alloc(d.total, 'ip reassembly');
    this.assemble(d, buf.bytes, buf.start);
    const first = d.first!;
    const header: Ipv4Header = {
      ...first,
      totalLength: 20 + first.options.length + d.total,
      flags: first.flags & ~IPV4_FLAG_MF,
      fragmentOffset: 0,
    };
    this.discard(d);
    return { kind: 'complete', buf, header };
  }

  /**
   * Adds the payload of one fragment at `offset` (copied); `last`: no more
   * fragments follow it. With `refuseOverlap`, a piece that overlaps one already
   * held without being its duplicate is 'overlap' (the caller gives the datagram
   * up); otherwise overlaps are taken. 'complete' once pieces cover [0, total)
   * and `haveFirst` (the caller holds what it needs of the first fragment): the
   * caller then `assemble`s and `discard`s.
   */
  addPiece(d: PartialDatagram, offset: number, last: boolean, payload: Uint8Array, refuseOverlap: boolean, haveFirst = true): PieceResult {
    const end = offset + payload.length;
    if (last) {
      if (d.total >= 0 && d.total !== end) return 'inconsistent';
      for (const p of d.pieces) if (p.offset + p.data.length > end) return 'inconsistent';
      d.total = end;
    } else if (d.total >= 0 && end > d.total) {
      return 'inconsistent';
    }
    for (const p of d.pieces) {
      if (p.offset === offset && p.data.length === payload.length) return 'duplicate';
      if (refuseOverlap && p.offset < end && offset < p.offset + p.data.length) return 'overlap';
    }
    // Keep pieces sorted by offset so completeness is one walk.
    const piece: Piece = { offset, data: payload.slice() };
    let i = d.pieces.length;
    while (i > 0 && d.pieces[i - 1]!.offset > offset) i--;
    d.pieces.splice(i, 0, piece);
    d.held += payload.length;
    this.held += payload.length;
    if (d.total < 0 || !haveFirst) return 'held';
    let covered = 0;
    for (const p of d.pieces) {
      if (p.offset > covered) return 'held';
      const e = p.offset + p.data.length;
      if (e > covered) covered = e;
    }
    return covered < d.total ? 'held' : 'complete';
  }

  /** Copies the pieces of a complete datagram to `bytes[at...]` (`d.total` bytes). */
  assemble(d: PartialDatagram, bytes: Uint8Array, at: number): void {
    for (const p of d.pieces) bytes.set(p.data, at + p.offset);
  }
}
