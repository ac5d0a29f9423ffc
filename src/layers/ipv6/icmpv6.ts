/**
 * ICMPv6 (RFC 4443): echo replies, a ping API, the errors IPv6 asks for, and
 * what the errors we receive mean.
 *
 * - Echo requests to one of our addresses or a group we are in are answered
 *   (RFC 4443 §4.2: from a unicast address of ours).
 * - `ping(dst, opts)`: the same session and result as `Icmp.ping`, over IPv6.
 * - IPv6 reports through its `problems` slot what it could not take (an
 *   unknown option or next header, a port nobody listens on, a reassembly
 *   that timed out); ICMPv6 answers with the error, at most `errorRatePerSec`
 *   (token bucket, §2.4(f)), never about an ICMPv6 error, never to a multicast
 *   or unspecified source, and to a multicast destination only when §2.4(e)
 *   allows it (the option types that ask for it).
 * - Errors received: packet too big lowers the path MTU in IPv6 (expiring);
 *   every error is fanned out to `onError` (transports) with its quoted packet.
 * - Neighbor discovery messages (133..137) go to the module bound to the
 *   `ndp` slot, unchecked: NDP makes RFC 4861's checks itself and counts them.
 *
 * What it does as ICMP does (sessions, token bucket, echo reply) is
 * icmp-common.ts's; the ping session's bookkeeping is ping-session.ts's.
 */
import { DETACH, FAILED, Module, SlotTable, type Binding, type Runtime } from '../../core/index.js';
import { formatIp6, ip6Equal, isIp6Multicast, isIp6Unspecified, type Ip6 } from '../../wire/addr6.js';
import { EMPTY_BYTES } from '../../wire/buffer.js';
import {
  ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPV6_MAX_QUOTE, ICMPV6_PACKET_TOO_BIG,
  ICMPV6_PARAM_PROBLEM, icmpv6ChecksumOk, icmpv6EchoIdentifier, icmpv6EchoSequence, isIcmpv6Error, parseIcmpv6,
  parseIcmpv6QuotedPacket, setIcmpv6Checksum, writeIcmpv6Header, type Icmpv6Message,
} from '../../wire/icmpv6.js';
import { IP_PROTO_ICMPV6, IPV6_HEADER_LENGTH, type Ipv6Header } from '../../wire/ipv6.js';
import { walkIpv6Chain } from '../../wire/ipv6ext.js';
import { isNdpType } from '../../wire/ndp.js';
import { copyEchoAsReply, IcmpState, prepareEchoRequest } from '../icmp-common.js';
import type { PingOptions, PingReply, PingResult } from '../icmp.js';
import { bindLocked } from '../net-binding.js';
import type { NetSlots } from '../net.js';
import { pingParams, PingSession } from '../ping-session.js';
import type { Ipv6, Ipv6Packet, Ipv6Problem, Ipv6ProblemSlots } from './ipv6.js';

export interface Ping6Reply extends Omit<PingReply, 'from'> {
  readonly from: Ip6;
}

export interface Ping6Result extends Omit<PingResult, 'dst' | 'replies'> {
  readonly dst: Ip6;
  readonly replies: readonly Ping6Reply[];
}

export interface Ping6Options extends Omit<PingOptions, 'onReply' | 'onError'> {
  onReply?(reply: Ping6Reply): void;
  onError?(error: Icmpv6Error): void;
}

/** An ICMPv6 error received, with what it says about the packet it quotes. */
export interface Icmpv6Error {
  readonly type: number;
  readonly code: number;
  readonly from: Ip6;
  /** Fixed header of the quoted packet (one we sent). */
  readonly original: Ipv6Header;
  /** Its upper-layer protocol after its extension headers, -1 when the quote does not reach it. */
  readonly protocol: number;
  /** The quoted bytes from the upper-layer header on (empty when unknown). Valid during the upcall only. */
  readonly transport: Uint8Array;
  /** Packet too big: the MTU it announces (IPv6's path MTU is already lowered); else 0. */
  readonly mtu: number;
  /** Parameter problem: the pointer; else 0. */
  readonly pointer: number;
  readonly [DETACH]?: () => Icmpv6Error;
}

export interface Icmpv6ErrorSlots {
  onError(error: Icmpv6Error): void;
}

/** Where neighbor discovery messages go (NDP binds it). `pkt.buf` is at the ICMPv6 header. */
export interface Icmpv6NdpSlots {
  onNdp(pkt: Ipv6Packet): void;
}

export interface Icmpv6Options {
  /** Errors sent per second at most. Default 100. */
  errorRatePerSec?: number;
  /** Errors that may go out back to back. Default 10. */
  errorBurst?: number;
  echo?: boolean;
}

export interface Icmpv6Counters {
  echoRequestsReceived: number;
  echoRepliesSent: number;
  echoRequestsSent: number;
  echoRepliesReceived: number;
  errorsSent: number;
  errorsReceived: number;
  packetTooBig: number;
}

class Ping6Session extends PingSession<Ip6, Ping6Reply, Ping6Options> {
  describe(): string {
    return `ping6 ${formatIp6(this.dst)} id ${this.id}`;
  }
}

export class Icmpv6 extends Module<IcmpState<Ping6Session>, Ping6Session> {
  readonly counters: Icmpv6Counters = {
    echoRequestsReceived: 0, echoRepliesSent: 0, echoRequestsSent: 0, echoRepliesReceived: 0, errorsSent: 0, errorsReceived: 0, packetTooBig: 0,
  };
  readonly errorRatePerSec: number;
  readonly errorBurst: number;
  echo: boolean;
  readonly binding: Binding<NetSlots>;
  readonly problemBinding: Binding<Ipv6ProblemSlots>;
  private readonly errorTable = new SlotTable<Icmpv6ErrorSlots>(this, 'errors', { onError: 'many' });
  private readonly ndpTable = new SlotTable<Icmpv6NdpSlots>(this, 'ndp', { onNdp: 'one' });
  private readonly txMessage: Icmpv6Message = { type: 0, code: 0, checksum: 0, rest: 0, data: EMPTY_BYTES };

  constructor(
    rt: Runtime,
    readonly ipv6: Ipv6,
    opts: Icmpv6Options = {},
  ) {
    const burst = opts.errorBurst ?? 10;
    super(rt, 'icmpv6', new IcmpState(rt, burst));
    this.errorRatePerSec = opts.errorRatePerSec ?? 100;
    this.errorBurst = burst;
    this.echo = opts.echo ?? true;
    this.binding = ipv6.bindProtocol(IP_PROTO_ICMPV6, this, { onPacket: (pkt) => this.receive(pkt as Ipv6Packet) });
    this.problemBinding = ipv6.bindProblems(this, { onProblem: (p) => this.sendError(p) });
  }

  readonly bindErrors = this.entry('bindErrors', 'reject', (owner: Module, handlers: Partial<Icmpv6ErrorSlots>): Binding<Icmpv6ErrorSlots> =>
    bindLocked(this, this.errorTable, owner, handlers));

  readonly bindNdp = this.entry('bindNdp', 'reject', (owner: Module, handlers: Partial<Icmpv6NdpSlots>): Binding<Icmpv6NdpSlots> =>
    bindLocked(this, this.ndpTable, owner, handlers));

  /** Echo requests to `dst`, as `Icmp.ping`; resolves as the clock runs. */
  readonly ping = this.entry('ping', 'reject', (dst: Ip6, opts: Ping6Options = {}): Promise<Ping6Result> => {
    const params = pingParams(opts, 65527);
    const s = this.lock.locked(() => this.shared.open((id) => new Ping6Session(id, dst.slice(0, 16), params, opts))) as Ping6Session;
    const done = s.result();
    s.sendTimer = this.timer(s, 'ping-send', () => this.sendEcho(s));
    s.expireTimer = this.timer(s, 'ping-timeout', () => this.expire(s));
    this.claim(s);
    this.sendEcho(s);
    return done;
  });

  get activePings(): number {
    return this.shared.sessions.size;
  }

  // ---- receive ---------------------------------------------------------------

  private receive(pkt: Ipv6Packet): void {
    const buf = pkt.buf;
    const len = buf.length;
    const r = parseIcmpv6(buf.bytes, buf.start, len);
    if (!r.ok) {
      this.drop(r.reason);
      return;
    }
    const m = r.header;
    // Replay: others' messages are followed, not answered or matched to pings of ours (nothing to drop).
    if (this.ipv6.promiscuous) {
      if (m.type === ICMPV6_ECHO_REQUEST) this.counters.echoRequestsReceived++;
      else if (isIcmpv6Error(m)) this.counters.errorsReceived++;
      return;
    }
    if (isNdpType(m.type)) {
      const b = this.ndpTable.bindings[0];
      if (b === undefined) this.drop('no-ndp');
      else this.upcall(b, 'onNdp', pkt);
      return;
    }
    if (!icmpv6ChecksumOk(buf.bytes, buf.start, len, pkt.src, pkt.dst)) {
      this.drop('bad-checksum');
      return;
    }
    if (m.type === ICMPV6_ECHO_REQUEST) this.answerEcho(pkt);
    else if (m.type === ICMPV6_ECHO_REPLY) this.onEchoReply(pkt, m);
    else if (isIcmpv6Error(m)) this.onErrorMessage(pkt, m);
    else this.drop('unsupported-type', this.rt.observed ? String(m.type) : undefined);
  }

  private answerEcho(pkt: Ipv6Packet): void {
    this.counters.echoRequestsReceived++;
    if (!this.echo || this.ipv6.promiscuous) {
      this.drop('echo-disabled');
      return;
    }
    // To a group: answer from a unicast address of ours (RFC 4443 §4.2).
    const src = isIp6Multicast(pkt.dst) ? this.ipv6.sourceFor(pkt.src) : pkt.dst;
    if (src === undefined || typeof src === 'number' || isIp6Unspecified(pkt.src)) {
      this.drop('no-source-for-reply');
      return;
    }
    const len = pkt.buf.length;
    const out = this.ipv6.alloc(len, 'icmpv6 echo reply');
    copyEchoAsReply(pkt.buf, out, ICMPV6_ECHO_REPLY);
    setIcmpv6Checksum(out.bytes, out.start, len, src, pkt.src);
    this.counters.echoRepliesSent++;
    this.ipv6.send(pkt.src, IP_PROTO_ICMPV6, out, { src });
  }

  private onEchoReply(pkt: Ipv6Packet, m: Icmpv6Message): void {
    const s = this.shared.sessions.get(icmpv6EchoIdentifier(m));
    const seq = icmpv6EchoSequence(m);
    // A reply to a multicast ping comes from each member's own address.
    if (s === undefined || seq >= s.nextSeq || (!isIp6Multicast(s.dst) && !ip6Equal(s.dst, pkt.src))) {
      this.drop('unexpected-reply');
      return;
    }
    this.counters.echoRepliesReceived++;
    this.claim(s);
    const reply = s.takeReply(seq, this.rt.clock.now(), (rttMs, duplicate): Ping6Reply => ({
      from: pkt.src.slice(0, 16), seq, rttMs, ttl: pkt.ttl, bytes: pkt.buf.length, duplicate,
    }));
    if (reply === undefined) {
      this.drop('late-reply', this.rt.observed ? `seq ${seq}` : undefined);
      return;
    }
    if (s.settled) this.finish(s);
  }

  private onErrorMessage(pkt: Ipv6Packet, m: Icmpv6Message): void {
    const q = parseIcmpv6QuotedPacket(m);
    if (!q.ok) {
      this.drop('bad-quote', q.reason);
      return;
    }
    this.counters.errorsReceived++;
    const original = q.header;
    let protocol = -1;
    let transport = EMPTY_BYTES;
    const c = walkIpv6Chain(m.data, 0, m.data.length, original.nextHeader);
    if (c.ok && c.header.problem === undefined && c.header.upperOffset <= m.data.length) {
      protocol = c.header.upperProtocol;
      transport = m.data.subarray(c.header.upperOffset);
    } else if (original.nextHeader !== 0 && original.nextHeader !== 43 && original.nextHeader !== 44 && original.nextHeader !== 60) {
      protocol = original.nextHeader;
      transport = m.data.subarray(IPV6_HEADER_LENGTH);
    }
    let mtu = 0;
    if (m.type === ICMPV6_PACKET_TOO_BIG) {
      this.counters.packetTooBig++;
      // Only about a packet we sent: its source must be ours.
      if (this.ipv6.findAddress(original.src) === undefined) {
        this.drop('foreign-packet-too-big');
        return;
      }
      mtu = m.rest;
      this.ipv6.updatePathMtu(original.dst, mtu);
    }
    const error: Icmpv6Error = {
      type: m.type, code: m.code, from: pkt.src, original, protocol, transport, mtu,
      pointer: m.type === ICMPV6_PARAM_PROBLEM ? m.rest : 0, [DETACH]: detachError,
    };
    if (this.rt.observed) this.note(`error type ${m.type} code ${m.code} from ${formatIp6(pkt.src)} about ${formatIp6(original.dst)}`);
    const s = protocol === IP_PROTO_ICMPV6 ? this.shared.quotedSession(transport, ICMPV6_ECHO_REQUEST) : undefined;
    if (s !== undefined && ip6Equal(s.dst, original.dst)) {
      s.errors++;
      s.opts.onError?.(error);
    }
    for (const b of this.errorTable.bindings) if (this.upcall(b, 'onError', error) === FAILED) return;
  }

  // ---- errors we send --------------------------------------------------------

  private sendError(p: Ipv6Problem): void {
    const src = p.src;
    if (isIp6Unspecified(src) || isIp6Multicast(src)) return;
    if (isIp6Multicast(p.dst) && !p.evenIfMulticast) return;
    if (this.aboutAnError(p)) return;
    if (!this.shared.takeToken(this.rt.clock.now(), this.errorRatePerSec, this.errorBurst)) {
      this.drop('rate-limited', this.rt.observed ? `type ${p.type} to ${formatIp6(src)}` : undefined);
      return;
    }
    const from = !isIp6Multicast(p.dst) && this.ipv6.isLocal(p.dst) ? p.dst : this.ipv6.sourceFor(src);
    if (from === undefined || typeof from === 'number') return;
    const quoted = Math.min(p.packet.length, ICMPV6_MAX_QUOTE);
    const out = this.ipv6.alloc(quoted, 'icmpv6 error');
    out.bytes.set(p.packet.subarray(0, quoted), out.start);
    const m = this.txMessage;
    m.type = p.type;
    m.code = p.code;
    m.rest = p.pointer >>> 0;
    writeIcmpv6Header(out, m, from, src);
    this.counters.errorsSent++;
    if (this.rt.observed) this.note(`error type ${p.type} code ${p.code} to ${formatIp6(src)}`);
    this.ipv6.send(src, IP_PROTO_ICMPV6, out, { src: from });
  }

  /** RFC 4443 §2.4(e): never an error about an ICMPv6 error (or an unknown type, which may be one). */
  private aboutAnError(p: Ipv6Problem): boolean {
    let proto = p.upperProtocol;
    let at = p.upperOffset;
    if (proto < 0) [proto, at] = upperLayerOf(p.packet);
    if (proto !== IP_PROTO_ICMPV6) return false;
    if (at >= p.packet.length) return true;
    return p.packet[at]! < 128;
  }

  // ---- ping ------------------------------------------------------------------

  private sendEcho(s: Ping6Session): void {
    if (!this.shared.running(s) || !s.moreToSend) return;
    const seq = s.markSent(this.rt.clock.now());
    const src = this.ipv6.sourceFor(s.dst);
    if (src !== undefined && typeof src !== 'number') {
      const buf = this.ipv6.alloc(s.size, 'icmpv6 echo');
      prepareEchoRequest(buf, s.size, this.txMessage, ICMPV6_ECHO_REQUEST, s.id, seq);
      writeIcmpv6Header(buf, this.txMessage, src, s.dst);
      this.counters.echoRequestsSent++;
      this.ipv6.send(s.dst, IP_PROTO_ICMPV6, buf, { src, ...(s.opts.ttl !== undefined ? { ttl: s.opts.ttl } : {}) });
    } else {
      this.drop('no-route', this.rt.observed ? formatIp6(s.dst) : undefined);
    }
    s.sent();
  }

  private expire(s: Ping6Session): void {
    if (!this.shared.running(s)) return;
    s.expire(this.rt.clock.now());
    if (s.settled) this.finish(s);
  }

  /** Ends the session (every request answered or timed out, or a task working for it failed). */
  private finish(s: Ping6Session): void {
    if (!this.shared.close(s)) return;
    this.releaseClient(s);
    s.deliver();
  }

  protected override cleanup(client: Ping6Session | undefined, _reason: string): void {
    if (client === undefined) return;
    client.aborted = true;
    this.finish(client);
  }
}

function detachError(this: Icmpv6Error): Icmpv6Error {
  return {
    ...this,
    from: this.from.slice(),
    original: { ...this.original, src: this.original.src.slice(), dst: this.original.dst.slice() },
    transport: this.transport.slice(),
  };
}

/**
 * The upper-layer protocol and its offset in `packet` (from its IPv6 header),
 * following option, routing and first-fragment headers whatever they hold:
 * the walker stops at what it does not know, this must see past it.
 */
function upperLayerOf(packet: Uint8Array): [number, number] {
  if (packet.length < IPV6_HEADER_LENGTH) return [-1, -1];
  let proto = packet[6]!;
  let p = IPV6_HEADER_LENGTH;
  for (let n = 0; n < 16 && p + 8 <= packet.length; n++) {
    if (proto === 44) {
      if ((((packet[p + 2]! << 8) | packet[p + 3]!) >>> 3) !== 0) return [-1, -1];
      proto = packet[p]!;
      p += 8;
    } else if (proto === 0 || proto === 43 || proto === 60) {
      const next = packet[p]!;
      p += (packet[p + 1]! + 1) * 8;
      proto = next;
    } else break;
  }
  return [proto, p];
}
