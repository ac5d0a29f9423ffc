/**
 * ICMP and ICMPv6 errors as TCP reads them (RFC 9293 3.9 "ICMP messages",
 * RFC 1122 4.2.3.9, RFC 5927, RFC 8201): both families' reports are put in
 * the same words (`NetError`), then one code path acts on them.
 *
 * - Accepted only when the quoted sequence number lies in [snd.una, snd.max]
 *   (RFC 5927 4.1): a blind attacker must guess it, as for a RST.
 * - "Packet too big" / "fragmentation needed" lowers the segment size to what
 *   the path allows and sends the first unacknowledged segment again.
 * - Port or protocol unreachable (a hard error; for IPv6 also "unknown next
 *   header") ends a connection still in
 *   SYN-SENT with ECONNREFUSED; in any other state, and for every soft error
 *   (no route, time exceeded...), the connection goes on: its own timers
 *   decide (RFC 1122: soft errors must not abort).
 */
import type { Module } from '../../core/index.js';
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_TIME_EXCEEDED,
  ICMP_UNREACH_FRAG_NEEDED,
  ICMP_UNREACH_PORT,
  ICMP_UNREACH_PROTOCOL,
} from '../../wire/icmp.js';
import {
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_PARAM_PROBLEM,
  ICMPV6_PARAM_UNKNOWN_NEXT_HEADER,
  ICMPV6_TIME_EXCEEDED,
  ICMPV6_UNREACH_PORT,
} from '../../wire/icmpv6.js';
import { IP_PROTO_TCP } from '../../wire/ipv4.js';
import { seqGeq, seqLeq } from '../../wire/seq.js';
import type { IcmpError } from '../icmp.js';
import type { Icmpv6Error } from '../ipv6/icmpv6.js';
import type { NetError } from '../net.js';
import { mssForMtu } from './lower.js';
import { retransmitFirst } from './output.js';
import { SYN_SENT } from './states.js';
import type { Tcp } from './tcp.js';

/** The plateau RFC 1191 falls back to when a "fragmentation needed" names no MTU. */
const UNKNOWN_MTU_V4 = 576;

/** Anything offering ICMP's error slot (Icmp, Icmpv6): `Tcp.watchErrors` binds it. */
export interface ErrorSource<E> {
  bindErrors(owner: Module, handlers: { onError(e: E): void }): unknown;
}

export function fromIcmp(e: IcmpError): NetError {
  const unreach = e.type === ICMP_DEST_UNREACHABLE;
  const tooBig = unreach && e.code === ICMP_UNREACH_FRAG_NEEDED;
  return {
    kind: tooBig ? 'too-big' : unreach ? 'unreachable' : e.type === ICMP_TIME_EXCEEDED ? 'time-exceeded' : 'parameter-problem',
    refused: unreach && (e.code === ICMP_UNREACH_PORT || e.code === ICMP_UNREACH_PROTOCOL),
    src: e.original.src,
    dst: e.original.dst,
    protocol: e.original.protocol,
    transport: e.transport,
    mtu: tooBig ? (e.nextHopMtu > 0 ? e.nextHopMtu : UNKNOWN_MTU_V4) : 0,
  };
}

export function fromIcmpv6(e: Icmpv6Error): NetError {
  const kind =
    e.type === ICMPV6_PACKET_TOO_BIG
      ? 'too-big'
      : e.type === ICMPV6_DEST_UNREACHABLE
        ? 'unreachable'
        : e.type === ICMPV6_TIME_EXCEEDED
          ? 'time-exceeded'
          : 'parameter-problem';
  return {
    kind,
    // An unknown next header is IPv6's "protocol unreachable" (RFC 8200 4).
    refused:
      (e.type === ICMPV6_DEST_UNREACHABLE && e.code === ICMPV6_UNREACH_PORT) ||
      (e.type === ICMPV6_PARAM_PROBLEM && e.code === ICMPV6_PARAM_UNKNOWN_NEXT_HEADER),
    src: e.original.src,
    dst: e.original.dst,
    protocol: e.protocol,
    transport: e.transport,
    mtu: e.type === ICMPV6_PACKET_TOO_BIG ? e.mtu : 0,
  };
}

/** Acts on an error about one of our segments (the caller is TCP's activation for the error). */
export function netErrorArrives(tcp: Tcp, e: NetError): void {
  const t = e.transport;
  if (e.protocol !== IP_PROTO_TCP || t.length < 8) return;
  const srcPort = (t[0]! << 8) | t[1]!;
  const dstPort = (t[2]! << 8) | t[3]!;
  const seq = ((t[4]! << 24) | (t[5]! << 16) | (t[6]! << 8) | t[7]!) >>> 0;
  const c = tcp.lookup(e.src, srcPort, e.dst, dstPort);
  if (c === undefined) {
    tcp.drop('icmp-no-connection');
    return;
  }
  if (!(seqGeq(seq, c.sndUna) && seqLeq(seq, c.sndMax))) {
    tcp.drop('icmp-bad-seq');
    return;
  }
  tcp.claimConn(c);
  if (tcp.rt.observed) tcp.note(`icmp ${e.kind}${e.mtu > 0 ? ` mtu=${e.mtu}` : ''} for ${c.describe()}`);
  if (e.kind === 'too-big') {
    const mss = mssForMtu(c.family, e.mtu) - (c.tsOk ? 12 : 0);
    if (mss >= c.sndMss || mss < 8) return;
    c.sndMss = mss;
    c.cc.mss = mss;
    c.stats.pathMtuReductions++;
    tcp.counters.pathMtuReductions++;
    retransmitFirst(tcp, c);
    tcp.requestOutput(c);
    return;
  }
  if (e.refused && c.st === SYN_SENT) {
    tcp.fail(c, 'ECONNREFUSED', 'connection refused (ICMP)', false);
  }
}
