/**
 * ICMP (RFC 792): echo replies, a ping API, and error messages.
 *
 * - Echo requests addressed to us are answered (not broadcast ones).
 * - `ping(dst, opts)` sends echo requests on the clock and resolves with the
 *   round-trip times measured on it. Each ping session is a client of the
 *   module: its timers belong to it, and a failed task that worked for it ends
 *   the session (its promise resolves with what was seen so far).
 * - IP reports undeliverable datagrams through its error slot, which ICMP binds:
 *   ICMP answers with destination unreachable (protocol 2 from IP, port 3 from
 *   UDP...), never about an ICMP error, a broadcast or a non-first fragment, and
 *   at most `errorRatePerSec` per second (token bucket).
 * - Errors received are parsed (the quoted datagram) and fanned out to the
 *   `onError` slot, for transports that care (TCP: unreachable, frag needed).
 *
 * What it does as ICMPv6 does (sessions, token bucket, echo reply) is
 * icmp-common.ts's; the ping session's bookkeeping is ping-session.ts's.
 */
import { DETACH, FAILED, Module, SlotTable, type Binding, type Runtime } from '../core/index.js';
import { formatIp4, IP4_BROADCAST, type Ip4 } from '../wire/addr.js';
import { EMPTY_BYTES } from '../wire/buffer.js';
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  icmpChecksumOk,
  icmpEchoIdentifier,
  icmpEchoSequence,
  icmpNextHopMtu,
  isIcmpError,
  makeIcmpDestUnreachable,
  parseIcmp,
  parseIcmpQuotedDatagram,
  setIcmpChecksum,
  writeIcmpHeader,
  type IcmpMessage,
} from '../wire/icmp.js';
import { encodeIpv4Header, IP_PROTO_ICMP, ipv4HeaderLength, setIpv4Checksum, type Ipv4Header } from '../wire/ipv4.js';
import { copyEchoAsReply, IcmpState, prepareEchoRequest } from './icmp-common.js';
import type { Ip, IpErrorSlots, IpPacket, IpSlots } from './ip.js';
import { bindLocked } from './net-binding.js';
import { pingParams, PingSession } from './ping-session.js';

export interface PingOptions {
  /** Echo requests to send. Default 1. */
  count?: number;
  /** Time between requests, ms. Default 1000. */
  intervalMs?: number;
  /** How long to wait for each reply, ms. Default 1000. */
  timeoutMs?: number;
  /** Data bytes per request (after the 8-byte ICMP header). Default 56. */
  size?: number;
  ttl?: number;
  /** Called for every reply (duplicates too, marked). */
  onReply?(reply: PingReply): void;
  /** Called when a request's time runs out unanswered. */
  onTimeout?(seq: number): void;
  /** Called for an ICMP error about one of our requests (e.g. unreachable). */
  onError?(error: IcmpError): void;
}

export interface PingReply {
  readonly from: Ip4;
  readonly seq: number;
  readonly rttMs: number;
  readonly ttl: number;
  /** ICMP bytes (header + data). */
  readonly bytes: number;
  readonly duplicate: boolean;
}

export interface PingResult {
  readonly dst: Ip4;
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly errors: number;
  /** First reply per sequence number, in arrival order. */
  readonly replies: readonly PingReply[];
  readonly minMs: number;
  readonly avgMs: number;
  readonly maxMs: number;
  /** True when the session ended early because a task working for it failed. */
  readonly aborted: boolean;
}

/** An ICMP error received, with what it says about the datagram it quotes. */
export interface IcmpError {
  readonly type: number;
  readonly code: number;
  /** Who sent the error (a router or the destination). */
  readonly from: Ip4;
  /** Header of the datagram that caused it (one we sent). */
  readonly original: Ipv4Header;
  /** The quoted transport bytes (at least 8 when the sender followed RFC 792). Valid during the upcall only. */
  readonly transport: Uint8Array;
  /** For "fragmentation needed": the next-hop MTU (0 if not given). */
  readonly nextHopMtu: number;
  /** A copy for a mailbox (queued dispatch), valid after the upcall. */
  readonly [DETACH]?: () => IcmpError;
}

export interface IcmpErrorSlots {
  onError(error: IcmpError): void;
}

export interface IcmpOptions {
  /** ICMP errors sent per second at most (token bucket). Default 100. */
  errorRatePerSec?: number;
  /** Errors that may go out back to back. Default 10. */
  errorBurst?: number;
  /** Answer echo requests. Default true. */
  echo?: boolean;
}

export interface IcmpCounters {
  echoRequestsReceived: number;
  echoRepliesSent: number;
  echoRequestsSent: number;
  echoRepliesReceived: number;
  errorsSent: number;
  errorsReceived: number;
}

/** One ping session: a client of the ICMP module. */
class Ping4Session extends PingSession<Ip4, PingReply, PingOptions> {
  describe(): string {
    return `ping ${formatIp4(this.dst)} id ${this.id}`;
  }
}

export class Icmp extends Module<IcmpState<Ping4Session>, Ping4Session> {
  readonly counters: IcmpCounters = {
    echoRequestsReceived: 0, echoRepliesSent: 0, echoRequestsSent: 0, echoRepliesReceived: 0, errorsSent: 0, errorsReceived: 0,
  };
  readonly errorRatePerSec: number;
  readonly errorBurst: number;
  echo: boolean;
  readonly binding: Binding<IpSlots>;
  readonly errorBinding: Binding<IpErrorSlots>;
  private readonly errorTable = new SlotTable<IcmpErrorSlots>(this, 'errors', { onError: 'many' });
  private readonly txMessage: IcmpMessage = { type: 0, code: 0, checksum: 0, rest: 0, data: EMPTY_BYTES };

  constructor(
    rt: Runtime,
    readonly ip: Ip,
    opts: IcmpOptions = {},
  ) {
    const burst = opts.errorBurst ?? 10;
    super(rt, 'icmp', new IcmpState(rt, burst));
    this.errorRatePerSec = opts.errorRatePerSec ?? 100;
    this.errorBurst = burst;
    this.echo = opts.echo ?? true;
    this.binding = ip.bindProtocol(IP_PROTO_ICMP, this, { onPacket: (pkt) => this.receive(pkt) });
    this.errorBinding = ip.bindErrors(this, { onUndeliverable: (pkt, code) => this.sendUnreachable(pkt, code) });
  }

  /** Be told of every ICMP error received (fan-out). */
  readonly bindErrors = this.entry('bindErrors', 'reject', (owner: Module, handlers: Partial<IcmpErrorSlots>): Binding<IcmpErrorSlots> =>
    bindLocked(this, this.errorTable, owner, handlers));

  /**
   * Send `count` echo requests to `dst`, one every `intervalMs`, and resolve once
   * each is answered or timed out. Times are the clock's: on a VirtualClock the
   * promise settles only as the clock is advanced.
   */
  readonly ping = this.entry('ping', 'reject', (dst: Ip4, opts: PingOptions = {}): Promise<PingResult> => {
    const params = pingParams(opts, 65507);
    const s = this.lock.locked(() => this.shared.open((id) => new Ping4Session(id, dst, params, opts))) as Ping4Session;
    const done = s.result();
    s.sendTimer = this.timer(s, 'ping-send', () => this.sendEcho(s));
    s.expireTimer = this.timer(s, 'ping-timeout', () => this.expire(s));
    this.claim(s);
    this.sendEcho(s);
    return done;
  });

  /** Ping sessions still running. */
  get activePings(): number {
    return this.shared.sessions.size;
  }

  // ---- receive -------------------------------------------------------------

  private receive(pkt: IpPacket): void {
    const buf = pkt.buf;
    const len = buf.length;
    const r = parseIcmp(buf.bytes, buf.start, len);
    if (!r.ok) {
      this.drop(r.reason);
      return;
    }
    if (!icmpChecksumOk(buf.bytes, buf.start, len)) {
      this.drop('bad-checksum');
      return;
    }
    const m = r.header;
    if (m.type === ICMP_ECHO_REQUEST) this.answerEcho(pkt);
    else if (m.type === ICMP_ECHO_REPLY) this.onEchoReply(pkt, m);
    else if (isIcmpError(m)) this.onErrorMessage(pkt, m);
    else this.drop('unsupported-type', this.rt.observed ? String(m.type) : undefined);
  }

  private answerEcho(pkt: IpPacket): void {
    this.counters.echoRequestsReceived++;
    if (!this.echo || this.ip.promiscuous) {
      this.drop('echo-disabled');
      return;
    }
    if (pkt.dst !== this.ip.address) {
      // Answering broadcasts turns a host into an amplifier (smurf).
      this.drop('broadcast-echo');
      return;
    }
    const len = pkt.buf.length;
    // The request's frame is gone when this upcall returns: the reply is a new buffer.
    const out = this.ip.alloc(len, 'icmp echo reply');
    copyEchoAsReply(pkt.buf, out, ICMP_ECHO_REPLY);
    setIcmpChecksum(out.bytes, out.start, len);
    this.counters.echoRepliesSent++;
    this.ip.send(pkt.src, IP_PROTO_ICMP, out, { src: pkt.dst });
  }

  private onEchoReply(pkt: IpPacket, m: IcmpMessage): void {
    const s = this.shared.sessions.get(icmpEchoIdentifier(m));
    const seq = icmpEchoSequence(m);
    if (s === undefined || s.dst !== pkt.src || seq >= s.nextSeq) {
      this.drop('unexpected-reply');
      return;
    }
    this.counters.echoRepliesReceived++;
    this.claim(s);
    const reply = s.takeReply(seq, this.rt.clock.now(), (rttMs, duplicate): PingReply => ({
      from: pkt.src, seq, rttMs, ttl: pkt.ttl, bytes: pkt.buf.length, duplicate,
    }));
    if (reply === undefined) {
      this.drop('late-reply', this.rt.observed ? `seq ${seq}` : undefined);
      return;
    }
    if (s.settled) this.finish(s);
  }

  private onErrorMessage(pkt: IpPacket, m: IcmpMessage): void {
    const q = parseIcmpQuotedDatagram(m);
    if (!q.ok) {
      this.drop('bad-quote', q.reason);
      return;
    }
    this.counters.errorsReceived++;
    const original = q.header;
    const error: IcmpError = {
      type: m.type,
      code: m.code,
      from: pkt.src,
      original,
      transport: m.data.subarray(q.headerLength),
      nextHopMtu: m.type === ICMP_DEST_UNREACHABLE ? icmpNextHopMtu(m) : 0,
      [DETACH]: detachError,
    };
    if (this.rt.observed) this.note(`error type ${m.type} code ${m.code} from ${formatIp4(pkt.src)} about ${formatIp4(original.dst)}`);
    // One of our echo requests?
    const s = original.protocol === IP_PROTO_ICMP ? this.shared.quotedSession(error.transport, ICMP_ECHO_REQUEST) : undefined;
    if (s !== undefined && s.dst === original.dst) {
      s.errors++;
      s.opts.onError?.(error);
    }
    for (const b of this.errorTable.bindings) {
      if (this.upcall(b, 'onError', error) === FAILED) return;
    }
  }

  // ---- errors we send ------------------------------------------------------

  /** IP could not deliver `pkt` (its buf at the payload): answer with destination unreachable `code`. */
  private sendUnreachable(pkt: IpPacket, code: number): void {
    const h = pkt.header;
    const src = pkt.src;
    if (src === 0 || src === IP4_BROADCAST || src >>> 28 === 0xe || h.fragmentOffset !== 0) return;
    const payload = pkt.buf;
    if (pkt.protocol === IP_PROTO_ICMP) {
      // Never an error about an error (RFC 1122 3.2.2); unknown types count as errors here.
      const t = payload.length > 0 ? payload.bytes[payload.start]! : 255;
      if (t !== ICMP_ECHO_REQUEST && t !== ICMP_ECHO_REPLY && t !== 13 && t !== 15 && t !== 17) return;
    }
    if (!this.shared.takeToken(this.rt.clock.now(), this.errorRatePerSec, this.errorBurst)) {
      this.drop('rate-limited', this.rt.observed ? `unreachable to ${formatIp4(src)}` : undefined);
      return;
    }
    const hl = ipv4HeaderLength(h);
    const quoted = Math.min(8, payload.length);
    const out = this.ip.alloc(hl + quoted, 'icmp error');
    // The quote is the header as received (rebuilt from the record: after
    // reassembly the original bytes are gone) and the first 8 payload bytes.
    encodeIpv4Header(out.bytes, out.start, h);
    setIpv4Checksum(out.bytes, out.start);
    out.bytes.set(payload.bytes.subarray(payload.start, payload.start + quoted), out.start + hl);
    const msg = makeIcmpDestUnreachable(code, EMPTY_BYTES);
    writeIcmpHeader(out, msg);
    this.counters.errorsSent++;
    if (this.rt.observed) this.note(`unreachable code ${code} to ${formatIp4(src)}`);
    this.ip.send(src, IP_PROTO_ICMP, out);
  }

  // ---- ping ----------------------------------------------------------------

  private sendEcho(s: Ping4Session): void {
    if (!this.shared.running(s) || !s.moreToSend) return;
    const seq = s.markSent(this.rt.clock.now());
    const buf = this.ip.alloc(s.size, 'icmp echo');
    prepareEchoRequest(buf, s.size, this.txMessage, ICMP_ECHO_REQUEST, s.id, seq);
    writeIcmpHeader(buf, this.txMessage);
    this.counters.echoRequestsSent++;
    this.ip.send(s.dst, IP_PROTO_ICMP, buf, s.opts.ttl !== undefined ? { ttl: s.opts.ttl } : undefined);
    s.sent();
  }

  private expire(s: Ping4Session): void {
    if (!this.shared.running(s)) return;
    s.expire(this.rt.clock.now());
    if (s.settled) this.finish(s);
  }

  /** Ends the session (every request answered or timed out, or a task working for it failed). */
  private finish(s: Ping4Session): void {
    if (!this.shared.close(s)) return;
    this.releaseClient(s);
    s.deliver();
  }

  protected override cleanup(client: Ping4Session | undefined, _reason: string): void {
    if (client === undefined) return;
    client.aborted = true;
    this.finish(client);
  }
}

function detachError(this: IcmpError): IcmpError {
  return { ...this, original: { ...this.original, options: this.original.options.slice() }, transport: this.transport.slice() };
}
