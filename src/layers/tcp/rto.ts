/**
 * The retransmission timer's value, per RFC 6298: a smoothed RTT and its mean
 * deviation from samples, Karn's rule (the caller feeds no sample from a
 * retransmitted segment unless timestamps disambiguate it), and exponential
 * backoff on timeouts up to maxRto. The minimum applies to the variance term
 * (RTO >= SRTT + minRto), as in Linux, rather than to the whole RTO.
 */

export class RttEstimator {
  /** Smoothed round-trip time, ms (0 until the first sample). */
  srtt = 0;
  rttvar = 0;
  /** Base RTO, ms, before backoff. */
  private base: number;
  /** Consecutive timeouts; the RTO doubles with each. */
  backoff = 0;
  samples = 0;

  constructor(
    initialRtoMs: number,
    private readonly minRto: number,
    private readonly maxRto: number,
    /** Clock granularity G of RFC 6298, ms. */
    private readonly granularity = 1,
  ) {
    this.base = initialRtoMs;
  }

  /** The RTO to arm now, ms. */
  get rto(): number {
    const v = this.base * 2 ** this.backoff;
    return v > this.maxRto ? this.maxRto : v;
  }

  /** A new round-trip measurement, ms. */
  sample(r: number): void {
    if (!(r >= 0)) return;
    if (this.samples === 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      const d = this.srtt - r;
      this.rttvar = 0.75 * this.rttvar + 0.25 * (d < 0 ? -d : d);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.samples++;
    // RFC 6298 2.3 with Linux's floor on the variance term (see TcpConfig.minRtoMs).
    let k = 4 * this.rttvar;
    if (k < this.granularity) k = this.granularity;
    // Strictly above the floor: a peer's delayed ACK is up to minRto (200 ms)
    // late, and with SRTT equal to the path's RTT (a clean link) an ACK held
    // that long would otherwise tie with the timer and lose the race.
    if (k <= this.minRto) k = this.minRto + this.granularity;
    let rto = this.srtt + k;
    if (rto > this.maxRto) rto = this.maxRto;
    this.base = rto;
    // RFC 6298 5.7: a fresh sample ends the backoff.
    this.backoff = 0;
  }

  /**
   * The handshake is over and data may flow. RFC 6298 5.7 (MUST): if the SYN
   * or SYN-ACK timed out and the handshake gave no sample, the backed-off RTO
   * says nothing about the path, so data starts from 3 s (Linux's fallback).
   */
  handshakeDone(): void {
    if (this.samples > 0 || this.backoff === 0) return;
    this.base = 3000;
    this.backoff = 0;
  }

  /** A retransmission timeout happened (RFC 6298 5.5). */
  timedOut(): void {
    if (this.base * 2 ** this.backoff < this.maxRto) this.backoff++;
    // RFC 6298 5.7 allows forgetting SRTT and RTTVAR after repeated backoff:
    // they are likely bogus (an inflated sample from a lost ACK keeps the
    // RTO high long after the path recovered). The next sample starts afresh.
    if (this.backoff >= 3) this.samples = 0;
  }
}
