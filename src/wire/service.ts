/**
 * The service protocol's messages (version 2): request, reply, ack,
 * lookup (query) and offer (answer or announcement), failure.
 *
 * Every message starts with the same 10 bytes:
 *
 *     0  'S' 'V'        magic, so stray datagrams on the port are told apart at once
 *     2  version        2 (1 is still read: it differs only in the offer's address, IPv4 alone)
 *     3  kind           1 request, 2 reply, 3 ack, 4 lookup, 5 offer, 6 failure
 *     4  checksum       Internet checksum of the whole message (this field as 0)
 *     6  length u32     the whole message, header included (frames it on a stream)
 *
 * then the fields of its kind, big-endian; strings are UTF-8 with a one-byte
 * (`str8`) or two-byte (`str16`) length, byte strings with a two-byte (`bytes16`)
 * or four-byte (`bytes32`) length. Call arguments and results travel as opaque
 * bytes (the layer puts JSON there); this file knows bytes only.
 *
 * An offer's relayed address carries its family: a byte 0 (none: the sender),
 * 4 (four bytes follow) or 6 (sixteen bytes follow). Version 1 had a u32 there,
 * 0 for the sender.
 *
 * The message carries its own checksum although UDP has one: a UDP checksum of 0
 * means "none", and a checksum that is our own keeps a stream transport's frames
 * honest too. Parsing never throws: bad bytes give a failure with a reason.
 */
import type { Ip4 } from './addr.js';
import type { Ip6 } from './addr6.js';
import { internetChecksum } from './checksum.js';

export const SERVICE_VERSION = 2;
/** The version before offers carried an address family: still parsed (its addresses are IPv4). */
export const SERVICE_VERSION_1 = 1;
export const SERVICE_HEADER_LENGTH = 10;
/** UDP port the service layer listens on by default. */
export const SERVICE_PORT = 7300;

/** Message kinds and their numbers on the wire. */
export const SERVICE_KINDS = { request: 1, reply: 2, ack: 3, lookup: 4, offer: 5, failure: 6 } as const;
export type ServiceKind = keyof typeof SERVICE_KINDS;
const KIND_BY_NUMBER: readonly (ServiceKind | undefined)[] = [undefined, 'request', 'reply', 'ack', 'lookup', 'offer', 'failure'];

/** Request flag: a notification call (no result expected beyond "done"). */
export const REQUEST_NOTIFY = 1;
/** Failure flag: the server did not complete the call and kept no effect; another server may run it. */
export const FAILURE_RETRYABLE = 1;
/** Ack `what`: the client received the reply (server may forget it). */
export const ACK_REPLY = 0;
/** Ack `what`: the server has the request and is working on it (client: keep waiting). */
export const ACK_WORKING = 1;

/** Identifies one call: the client's id (random per host) and its sequence number. */
export interface RequestId {
  readonly clientId: number;
  readonly seq: number;
}

export interface RequestMessage extends RequestId {
  readonly kind: 'request';
  /** The server (offer) asked for; 0: any offer of the service on the host. */
  readonly serverId: number;
  /** Every seq below this one has its outcome at the client: the server may forget them. */
  readonly ackFloor: number;
  /** The client's deadline for the call, ms (0: none). */
  readonly deadlineMs: number;
  readonly flags: number;
  readonly service: string;
  readonly call: string;
  /** A security token (empty: none). */
  readonly token: Uint8Array;
  readonly body: Uint8Array;
}

export interface ReplyMessage extends RequestId {
  readonly kind: 'reply';
  readonly serverId: number;
  /** Requests the server has outstanding (running and queued): what "least busy" reads. */
  readonly load: number;
  readonly body: Uint8Array;
}

export interface AckMessage extends RequestId {
  readonly kind: 'ack';
  readonly serverId: number;
  /** ACK_REPLY or ACK_WORKING. */
  readonly what: number;
  readonly load: number;
}

export interface LookupMessage {
  readonly kind: 'lookup';
  readonly queryId: number;
  readonly service: string;
}

export interface OfferMessage {
  readonly kind: 'offer';
  readonly service: string;
  readonly serverId: number;
  readonly load: number;
  /** How long the answer may be cached, ms; 0 withdraws the offer. */
  readonly ttlMs: number;
  /** The server's address (a directory host relays offers of others); null: the sender. An IPv6 address parsed is a view into the bytes. */
  readonly address: Ip4 | Ip6 | null;
  readonly port: number;
}

export interface FailureMessage extends RequestId {
  readonly kind: 'failure';
  readonly serverId: number;
  readonly load: number;
  readonly flags: number;
  readonly reason: string;
  readonly detail: string;
}

export type ServiceMessage = RequestMessage | ReplyMessage | AckMessage | LookupMessage | OfferMessage | FailureMessage;

export type ServiceParse = { readonly ok: true; readonly message: ServiceMessage } | { readonly ok: false; readonly reason: string };

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const EMPTY = new Uint8Array(0);

// ---- emit ----------------------------------------------------------------------

/** A growable writer; messages are small, so one pass into a sized array. */
class Writer {
  private parts: Array<(out: Uint8Array, o: number) => number> = [];
  size = SERVICE_HEADER_LENGTH;

  u8(v: number): this {
    this.parts.push((out, o) => ((out[o] = v & 0xff), o + 1));
    this.size += 1;
    return this;
  }
  u16(v: number): this {
    this.parts.push((out, o) => ((out[o] = (v >>> 8) & 0xff), (out[o + 1] = v & 0xff), o + 2));
    this.size += 2;
    return this;
  }
  u32(v: number): this {
    this.parts.push((out, o) => (writeU32(out, o, v), o + 4));
    this.size += 4;
    return this;
  }
  raw(b: Uint8Array, lenBytes: 1 | 2 | 4, max: number, what: string): this {
    if (b.length > max) throw new RangeError(`service message: ${what} is ${b.length} bytes, at most ${max}`);
    if (lenBytes === 1) this.u8(b.length);
    else if (lenBytes === 2) this.u16(b.length);
    else this.u32(b.length);
    this.parts.push((out, o) => (out.set(b, o), o + b.length));
    this.size += b.length;
    return this;
  }
  /** Bytes without a length (an address of a known size). */
  fixed(b: Uint8Array): this {
    this.parts.push((out, o) => (out.set(b, o), o + b.length));
    this.size += b.length;
    return this;
  }
  str8(s: string, what: string): this {
    return this.raw(utf8.encode(s), 1, 0xff, what);
  }
  str16(s: string, what: string): this {
    return this.raw(utf8.encode(s), 2, 0xffff, what);
  }
  finish(kind: ServiceKind): Uint8Array {
    const out = new Uint8Array(this.size);
    out[0] = 0x53;
    out[1] = 0x56;
    out[2] = SERVICE_VERSION;
    out[3] = SERVICE_KINDS[kind];
    writeU32(out, 6, this.size);
    let o = SERVICE_HEADER_LENGTH;
    for (const p of this.parts) o = p(out, o);
    const c = internetChecksum(out, 0, out.length);
    out[4] = c >>> 8;
    out[5] = c & 0xff;
    return out;
  }
}

function writeU32(out: Uint8Array, o: number, v: number): void {
  out[o] = (v >>> 24) & 0xff;
  out[o + 1] = (v >>> 16) & 0xff;
  out[o + 2] = (v >>> 8) & 0xff;
  out[o + 3] = v & 0xff;
}

/**
 * The bytes of `m`. Throws RangeError for a programmer's mistake (a string or
 * body too long for its field), never for anything received.
 */
export function emitServiceMessage(m: ServiceMessage): Uint8Array {
  const w = new Writer();
  switch (m.kind) {
    case 'request':
      return w
        .u32(m.clientId)
        .u32(m.seq)
        .u32(m.serverId)
        .u32(m.ackFloor)
        .u32(m.deadlineMs)
        .u8(m.flags)
        .str8(m.service, 'service name')
        .str8(m.call, 'call name')
        .raw(m.token, 2, 0xffff, 'token')
        .raw(m.body, 4, 0xffff_ffff, 'body')
        .finish(m.kind);
    case 'reply':
      return w.u32(m.clientId).u32(m.seq).u32(m.serverId).u16(m.load).raw(m.body, 4, 0xffff_ffff, 'body').finish(m.kind);
    case 'ack':
      return w.u32(m.clientId).u32(m.seq).u32(m.serverId).u8(m.what).u16(m.load).finish(m.kind);
    case 'lookup':
      return w.u32(m.queryId).str8(m.service, 'service name').finish(m.kind);
    case 'offer':
      w.str8(m.service, 'service name').u32(m.serverId).u16(m.load).u32(m.ttlMs);
      if (m.address === null) w.u8(0);
      else if (typeof m.address === 'number') w.u8(4).u32(m.address);
      else {
        if (m.address.length !== 16) throw new RangeError(`service message: an IPv6 address is 16 bytes, not ${m.address.length}`);
        w.u8(6).fixed(m.address);
      }
      return w.u16(m.port).finish(m.kind);
    case 'failure':
      return w
        .u32(m.clientId)
        .u32(m.seq)
        .u32(m.serverId)
        .u16(m.load)
        .u8(m.flags)
        .str8(m.reason, 'reason')
        .str16(m.detail, 'detail')
        .finish(m.kind);
  }
}

// ---- parse ---------------------------------------------------------------------

/** A bounds-checked cursor: a read past the end sets `bad` and returns zeros. */
class Reader {
  bad: string | null = null;
  constructor(
    private readonly b: Uint8Array,
    private o: number,
    private readonly end: number,
  ) {}

  private take(n: number): number {
    if (this.o + n > this.end) {
      this.bad ??= 'truncated';
      return -1;
    }
    const at = this.o;
    this.o += n;
    return at;
  }
  u8(): number {
    const o = this.take(1);
    return o < 0 ? 0 : this.b[o]!;
  }
  u16(): number {
    const o = this.take(2);
    return o < 0 ? 0 : (this.b[o]! << 8) | this.b[o + 1]!;
  }
  u32(): number {
    const o = this.take(4);
    return o < 0 ? 0 : ((this.b[o]! << 24) | (this.b[o + 1]! << 16) | (this.b[o + 2]! << 8) | this.b[o + 3]!) >>> 0;
  }
  bytes(lenBytes: 1 | 2 | 4): Uint8Array {
    return this.fixed(lenBytes === 1 ? this.u8() : lenBytes === 2 ? this.u16() : this.u32());
  }
  fixed(n: number): Uint8Array {
    const o = this.take(n);
    return o < 0 ? EMPTY : this.b.subarray(o, o + n);
  }
  str(lenBytes: 1 | 2): string {
    const b = this.bytes(lenBytes);
    if (this.bad !== null) return '';
    try {
      return utf8Strict.decode(b);
    } catch {
      this.bad = 'bad-utf8';
      return '';
    }
  }
  /** The fields must end exactly where the message does. */
  finish(): string | null {
    if (this.bad === null && this.o !== this.end) this.bad = 'trailing-bytes';
    return this.bad;
  }
}

/**
 * Parse one message from `bytes[offset, offset+length)`. Byte fields of the
 * result (body, token) are views into `bytes`: copy them to keep them.
 */
export function parseServiceMessage(bytes: Uint8Array, offset = 0, length = bytes.length - offset): ServiceParse {
  if (offset < 0 || length < 0 || offset + length > bytes.length) return fail('out-of-bounds');
  if (length < SERVICE_HEADER_LENGTH) return fail('truncated');
  if (bytes[offset] !== 0x53 || bytes[offset + 1] !== 0x56) return fail('bad-magic');
  const version = bytes[offset + 2];
  if (version !== SERVICE_VERSION && version !== SERVICE_VERSION_1) return fail('bad-version');
  const total = ((bytes[offset + 6]! << 24) | (bytes[offset + 7]! << 16) | (bytes[offset + 8]! << 8) | bytes[offset + 9]!) >>> 0;
  if (total < SERVICE_HEADER_LENGTH) return fail('bad-length');
  if (total > length) return fail('truncated');
  if (total < length) return fail('trailing-bytes');
  if (internetChecksum(bytes, offset, total) !== 0) return fail('bad-checksum');
  const r = new Reader(bytes, offset + SERVICE_HEADER_LENGTH, offset + total);
  const kind = KIND_BY_NUMBER[bytes[offset + 3]!];
  let m: ServiceMessage;
  switch (kind) {
    case 'request': {
      const clientId = r.u32();
      const seq = r.u32();
      const serverId = r.u32();
      const ackFloor = r.u32();
      const deadlineMs = r.u32();
      const flags = r.u8();
      const service = r.str(1);
      const call = r.str(1);
      const token = r.bytes(2);
      const body = r.bytes(4);
      m = { kind, clientId, seq, serverId, ackFloor, deadlineMs, flags, service, call, token, body };
      break;
    }
    case 'reply': {
      const clientId = r.u32();
      const seq = r.u32();
      const serverId = r.u32();
      const load = r.u16();
      const body = r.bytes(4);
      m = { kind, clientId, seq, serverId, load, body };
      break;
    }
    case 'ack': {
      const clientId = r.u32();
      const seq = r.u32();
      const serverId = r.u32();
      const what = r.u8();
      const load = r.u16();
      if (what !== ACK_REPLY && what !== ACK_WORKING) return fail('bad-ack');
      m = { kind, clientId, seq, serverId, what, load };
      break;
    }
    case 'lookup': {
      const queryId = r.u32();
      const service = r.str(1);
      m = { kind, queryId, service };
      break;
    }
    case 'offer': {
      const service = r.str(1);
      const serverId = r.u32();
      const load = r.u16();
      const ttlMs = r.u32();
      let address: Ip4 | Ip6 | null;
      if (version === SERVICE_VERSION_1) {
        const a = r.u32();
        address = a === 0 ? null : a;
      } else {
        const family = r.u8();
        if (family === 0) address = null;
        else if (family === 4) address = r.u32();
        else if (family === 6) address = r.fixed(16);
        else return fail('bad-family');
      }
      const port = r.u16();
      m = { kind, service, serverId, load, ttlMs, address, port };
      break;
    }
    case 'failure': {
      const clientId = r.u32();
      const seq = r.u32();
      const serverId = r.u32();
      const load = r.u16();
      const flags = r.u8();
      const reason = r.str(1);
      const detail = r.str(2);
      m = { kind, clientId, seq, serverId, load, flags, reason, detail };
      break;
    }
    default:
      return fail('bad-kind');
  }
  const bad = r.finish();
  if (bad !== null) return fail(bad);
  if ((m.kind === 'request' || m.kind === 'lookup' || m.kind === 'offer') && m.service === '') return fail('no-service');
  return { ok: true, message: m };
}

/** One frozen failure per reason: a flood of bad datagrams allocates nothing. */
const failures = new Map<string, ServiceParse>();
function fail(reason: string): ServiceParse {
  let f = failures.get(reason);
  if (f === undefined) failures.set(reason, (f = Object.freeze({ ok: false as const, reason })));
  return f;
}

export { EMPTY as NO_BYTES };
