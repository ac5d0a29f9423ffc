/**
 * Tunables of one TCP module. Defaults follow the RFCs where they give a number
 * and Linux where they leave a choice; every timer is on the runtime's clock, so
 * a test on the virtual clock runs TIME_WAIT or an RTO backoff in no real time.
 */

export interface TcpConfig {
  /** Maximum segment lifetime; TIME_WAIT lasts 2 MSL (RFC 9293 3.4.2). Default 30 s. */
  mslMs: number;
  /** RTO before any RTT sample (RFC 6298 2.1). Default 1 s. */
  initialRtoMs: number;
  /**
   * Floor of the RTO's variance term, as Linux applies it: RTO = SRTT +
   * max(4 RTTVAR, minRtoMs), so the RTO always exceeds the RTT by at least this
   * much and a delayed ACK never races a retransmission (RFC 6298 2.4 asks
   * for a 1 s floor; Linux uses 200 ms this way). Default 200 ms.
   */
  minRtoMs: number;
  /** Upper bound of the RTO after backoff. Default 60 s. */
  maxRtoMs: number;
  /** Timeouts of the same data before the connection fails with ETIMEDOUT (RFC 1122 R2; Linux's tcp_retries2). Default 15. */
  maxRetries: number;
  /** SYN retransmissions before connect fails with ETIMEDOUT. Default 6. */
  synRetries: number;
  /** SYN-ACK retransmissions before a half-open connection is dropped. Default 5. */
  synAckRetries: number;
  /** Delayed-ACK timeout, at most 200 ms per RFC 9293 3.8.6.3 (RFC 1122 allows 500); 0 acknowledges every segment at once. Default 200. */
  delayedAckMs: number;
  /** Send-buffer high-water mark: `send` returns false above it. Default 256 KiB. */
  sendBufferSize: number;
  /** Receive buffer, which bounds the advertised window. Default 256 KiB. */
  receiveBufferSize: number;
  /** Bytes of out-of-order data held for reassembly per connection. Default: the receive buffer size. */
  maxReassemblyBytes: number;
  /** Offer and accept window scaling (RFC 7323). Default true. */
  windowScaling: boolean;
  /** Offer and accept timestamps (RFC 7323). Default true. */
  timestamps: boolean;
  /** Offer and accept SACK (RFC 2018) and use it in recovery. Default true. */
  sack: boolean;
  /** Initial congestion window in segments; 0 uses RFC 5681's formula. Default 0. */
  initialWindowSegments: number;
  /** A connection closed by the application gives up waiting for the peer's FIN after this long. Default 60 s. */
  finWait2TimeoutMs: number;
  /**
   * RFC 5961 challenge ACKs allowed per second, module-wide, on average: each
   * second's budget is drawn between half and one and a half times this
   * (challenge.ts). Default 1000.
   */
  challengeAckLimit: number;
  /** Least time between two challenge ACKs of one connection (Linux's tcp_invalid_ratelimit). Default 500 ms. */
  challengeAckIntervalMs: number;
  /** Keepalive (off unless a connection asks): silence before the first probe when setKeepAlive gives no delay. Default 2 h (RFC 1122, Linux). */
  keepaliveIdleMs: number;
  /** Keepalive: time between unanswered probes. Default 75 s (Linux). */
  keepaliveIntervalMs: number;
  /** Keepalive: unanswered probes before the connection fails with ETIMEDOUT. Default 9 (Linux). */
  keepaliveProbes: number;
  /** Default accept backlog (established connections not yet bound by the application). Default 128. */
  backlog: number;
  /** Default limit of half-open connections (SYN-RECEIVED) per listener. Default 256. */
  synBacklog: number;
  /**
   * When a SYN queue is full: make room by dropping the oldest half-open
   * connection whose SYN-ACK went unanswered, else answer with a SYN cookie
   * (RFC 4987; syn-cookies.ts). false: further SYNs are dropped. Default true.
   */
  synCookies: boolean;
  /** Range of local ports for active opens. */
  ephemeralLow: number;
  ephemeralHigh: number;
  /** Verify checksums of arriving segments (off only for captures taken with offload). Default true. */
  verifyChecksums: boolean;
  /** Secret key of the RFC 6528 ISN function; default: drawn from the runtime's seeded Rng. */
  isnSecret: Uint8Array | undefined;
}

export const DEFAULT_TCP_CONFIG: Readonly<TcpConfig> = Object.freeze({
  mslMs: 30_000,
  initialRtoMs: 1_000,
  minRtoMs: 200,
  maxRtoMs: 60_000,
  maxRetries: 15,
  synRetries: 6,
  synAckRetries: 5,
  delayedAckMs: 200,
  sendBufferSize: 256 * 1024,
  receiveBufferSize: 256 * 1024,
  maxReassemblyBytes: 0,
  windowScaling: true,
  timestamps: true,
  sack: true,
  initialWindowSegments: 0,
  finWait2TimeoutMs: 60_000,
  challengeAckLimit: 1_000,
  challengeAckIntervalMs: 500,
  keepaliveIdleMs: 7_200_000,
  keepaliveIntervalMs: 75_000,
  keepaliveProbes: 9,
  backlog: 128,
  synBacklog: 256,
  synCookies: true,
  ephemeralLow: 49_152,
  ephemeralHigh: 65_535,
  verifyChecksums: true,
  isnSecret: undefined,
});

export function resolveConfig(c: Partial<TcpConfig> = {}): TcpConfig {
  const out: TcpConfig = { ...DEFAULT_TCP_CONFIG };
  for (const k of Object.keys(c) as (keyof TcpConfig)[]) {
    const v = c[k];
    if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  }
  if (out.maxReassemblyBytes <= 0) out.maxReassemblyBytes = out.receiveBufferSize;
  if (!(out.receiveBufferSize >= 1 && out.receiveBufferSize <= 0x3fff_c000)) {
    throw new RangeError(`receiveBufferSize ${out.receiveBufferSize} out of range`);
  }
  if (out.minRtoMs > out.maxRtoMs) throw new RangeError('minRtoMs above maxRtoMs');
  if (!(out.ephemeralLow >= 1 && out.ephemeralHigh <= 65_535 && out.ephemeralLow <= out.ephemeralHigh)) {
    throw new RangeError('bad ephemeral port range');
  }
  return out;
}
