/**
 * What ICMP (icmp.ts) and ICMPv6 (ipv6/icmpv6.ts) do alike, whatever the
 * family: the state their ping sessions and errors share, the echo reply made
 * from a request, the echo request's data. Each module keeps what differs by
 * family: its type numbers, its checksum (ICMPv6's covers the pseudo-header),
 * which requests to answer and from where, how an error quotes a packet.
 * The ping session's own bookkeeping is ping-session.ts's.
 */
import type { Runtime } from '../core/index.js';
import type { PacketBuffer } from '../wire/buffer.js';
import type { IcmpRecord } from '../wire/icmp-header.js';

/** The shared state of an ICMP module: its ping sessions by identifier, and the token bucket of the errors it sends. */
export class IcmpState<S extends { readonly id: number }> {
  readonly sessions = new Map<number, S>();
  private nextIdent: number;
  private tokens: number;
  private tokensAt: number;

  constructor(rt: Runtime, errorBurst: number) {
    this.nextIdent = rt.rng.int(0x10000);
    this.tokens = errorBurst;
    this.tokensAt = rt.clock.now();
  }

  /** A new session (`make` given its identifier), running from now on. */
  open(make: (id: number) => S): S {
    const id = this.nextIdent;
    this.nextIdent = (id + 1) & 0xffff;
    const s = make(id);
    this.sessions.set(id, s);
    return s;
  }

  /** Whether `s` still runs (a session over is not one to send for or time out). */
  running(s: S): boolean {
    return this.sessions.get(s.id) === s;
  }

  /** Ends `s`; false when it was over already. */
  close(s: S): boolean {
    if (!this.running(s)) return false;
    this.sessions.delete(s.id);
    return true;
  }

  /** The session whose echo request (of type `requestType`) an error quotes, its ICMP header first in `quoted`. */
  quotedSession(quoted: Uint8Array, requestType: number): S | undefined {
    if (quoted.length < 8 || quoted[0] !== requestType) return undefined;
    return this.sessions.get((quoted[4]! << 8) | quoted[5]!);
  }

  /** Whether an error may go out at `now`: at most `ratePerSec`, `burst` back to back (token bucket). */
  takeToken(now: number, ratePerSec: number, burst: number): boolean {
    this.tokens = Math.min(burst, this.tokens + ((now - this.tokensAt) * ratePerSec) / 1000);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * Copies the echo request `req` into `out` as its reply: type `replyType`, code
 * 0, the rest as received. The checksum is the caller's to set.
 */
export function copyEchoAsReply(req: PacketBuffer, out: PacketBuffer, replyType: number): void {
  out.bytes.set(req.bytes.subarray(req.start, req.end), out.start);
  out.bytes[out.start] = replyType;
  out.bytes[out.start + 1] = 0;
}

/**
 * Fills `buf` with an echo request's data (byte i is i + 8, as ping(8) sends)
 * and `m` with its header fields; the header is the caller's to write.
 */
export function prepareEchoRequest(buf: PacketBuffer, size: number, m: IcmpRecord, requestType: number, id: number, seq: number): void {
  const bytes = buf.bytes;
  for (let i = 0; i < size; i++) bytes[buf.start + i] = (i + 8) & 0xff;
  m.type = requestType;
  m.code = 0;
  m.rest = ((id << 16) | seq) >>> 0;
}
