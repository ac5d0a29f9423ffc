/**
 * What TCP counts, per connection (`conn.stats`) and for the whole module
 * (`tcp.counters`). Plain objects of numbers: incrementing one is the whole cost.
 */

export interface TcpCounters {
  segmentsIn: number;
  segmentsOut: number;
  /** Segments sent carrying payload (retransmissions included). */
  dataSegmentsOut: number;
  /** Segments sent with only an acknowledgement (no payload, SYN, FIN or RST). */
  pureAcksOut: number;
  /** Data segments that also acknowledged received data that was owed an ACK. */
  piggybackedAcks: number;
  /** Pure ACKs sent because the delayed-ACK timer ran out. */
  delayedAcks: number;
  /** Segments sent again (timeout, fast retransmit, SYN/FIN resends). */
  retransmissions: number;
  fastRetransmits: number;
  rtoTimeouts: number;
  /** Tail loss probes sent (RFC 8985 7: new data past cwnd when ACKs stopped coming). */
  lossProbes: number;
  dupAcksIn: number;
  outOfOrderSegments: number;
  /** Payload bytes delivered in order to the application side. */
  bytesIn: number;
  /** Payload bytes sent for the first time. */
  bytesOut: number;
  checksumErrors: number;
  resetsIn: number;
  resetsOut: number;
  challengeAcks: number;
  /** Keepalive probes sent (RFC 1122 4.2.3.6). */
  keepaliveProbes: number;
  /** SYNs answered with a SYN cookie because the SYN queue was full (RFC 4987). */
  synCookiesSent: number;
  /** Connections rebuilt from a returning cookie. */
  synCookiesAccepted: number;
  /** ACKs to a listener that carried no valid cookie while cookies were in use. */
  synCookiesRejected: number;
  /** Half-open connections whose SYN-ACK went unanswered, dropped to make room in a full SYN queue. */
  halfOpenEvicted: number;
  zeroWindowProbes: number;
  windowUpdates: number;
  /** ICMP "fragmentation needed" / ICMPv6 "packet too big" that lowered the segment size. */
  pathMtuReductions: number;
}

export function newCounters(): TcpCounters {
  return {
    segmentsIn: 0,
    segmentsOut: 0,
    dataSegmentsOut: 0,
    pureAcksOut: 0,
    piggybackedAcks: 0,
    delayedAcks: 0,
    retransmissions: 0,
    fastRetransmits: 0,
    rtoTimeouts: 0,
    lossProbes: 0,
    dupAcksIn: 0,
    outOfOrderSegments: 0,
    bytesIn: 0,
    bytesOut: 0,
    checksumErrors: 0,
    resetsIn: 0,
    resetsOut: 0,
    challengeAcks: 0,
    keepaliveProbes: 0,
    synCookiesSent: 0,
    synCookiesAccepted: 0,
    synCookiesRejected: 0,
    halfOpenEvicted: 0,
    zeroWindowProbes: 0,
    windowUpdates: 0,
    pathMtuReductions: 0,
  };
}
