/**
 * Congestion control: slow start and congestion avoidance (RFC 5681) with
 * NewReno fast retransmit and fast recovery (RFC 6582). The state is plain
 * numbers on an object per connection; each function returns what the sender
 * must do, and the caller does it (retransmit, send new data), so this file
 * decides and never sends.
 */
import { seqGeq } from '../../wire/seq.js';

export class Congestion {
  cwnd: number;
  ssthresh = 0x7fff_ffff;
  dupAcks = 0;
  inRecovery = false;
  /** Highest sequence number sent when recovery started (RFC 6582 "recover"). */
  recover = 0;
  /** Bytes acknowledged in congestion avoidance not yet turned into cwnd growth (RFC 5681 3.1 byte counting). */
  private acked = 0;

  constructor(
    public mss: number,
    initialSegments: number,
    /** The ISS: nothing was sent before it, so no earlier recovery point exists. */
    iss: number,
  ) {
    this.cwnd = initialWindow(mss, initialSegments);
    this.recover = iss;
  }

  /** The MSS became known (after the handshake): restart the initial window with it. */
  setMss(mss: number, initialSegments: number): void {
    this.mss = mss;
    this.cwnd = initialWindow(mss, initialSegments);
  }

  /**
   * A cumulative ACK advanced snd.una by `acked` bytes to `una`.
   * Returns 'partial' when a partial ACK in recovery asks for the next hole to be retransmitted.
   */
  onAck(acked: number, una: number, flight: number): 'normal' | 'partial' | 'exit' {
    const mss = this.mss;
    if (this.inRecovery) {
      if (seqGeq(una, this.recover)) {
        // Full acknowledgement: deflate (RFC 6582 3.2 step 3, first option).
        this.inRecovery = false;
        this.dupAcks = 0;
        const f = flight > mss ? flight : mss;
        this.cwnd = Math.min(this.ssthresh, f + mss);
        return 'exit';
      }
      // Partial acknowledgement: deflate by the amount acked, add back one MSS.
      this.cwnd = this.cwnd > acked ? this.cwnd - acked : mss;
      if (acked >= mss) this.cwnd += mss;
      this.dupAcks = 0;
      return 'partial';
    }
    this.dupAcks = 0;
    if (this.cwnd < this.ssthresh) {
      this.cwnd += acked < mss ? acked : mss;
    } else {
      this.acked += acked;
      if (this.acked >= this.cwnd) {
        this.acked -= this.cwnd;
        this.cwnd += mss;
      }
    }
    return 'normal';
  }

  /**
   * A duplicate ACK. Returns true on the third one when fast retransmit should
   * start (`sndMax` becomes the recovery point).
   */
  onDupAck(flight: number, una: number, sndMax: number): boolean {
    this.dupAcks++;
    if (this.inRecovery) {
      this.cwnd += this.mss; // inflate: another segment has left the network
      return false;
    }
    if (this.dupAcks !== 3) return false;
    // RFC 6582 3.2 step 2: only if the ACK covers more than the last recovery
    // point (`recover` is one past the highest byte sent then).
    if (!seqGeq(una, this.recover)) return false;
    this.ssthresh = Math.max(flight >>> 1, 2 * this.mss);
    this.cwnd = this.ssthresh + 3 * this.mss;
    this.recover = sndMax;
    this.inRecovery = true;
    return true;
  }

  /** Retransmission timeout (RFC 5681 3.1 eq. 4, RFC 6582 section 4). */
  onTimeout(flight: number, sndMax: number): void {
    this.ssthresh = Math.max(flight >>> 1, 2 * this.mss);
    this.cwnd = this.mss;
    this.acked = 0;
    this.dupAcks = 0;
    this.inRecovery = false;
    this.recover = sndMax;
  }

  /** After an idle period longer than the RTO the window restarts (RFC 5681 4.1). */
  onIdle(rto: number, idleMs: number, initialSegments: number): void {
    if (idleMs > rto) {
      const iw = initialWindow(this.mss, initialSegments);
      if (iw < this.cwnd) this.cwnd = iw;
    }
  }
}

/** RFC 5681 3.1 (or a configured number of segments). */
export function initialWindow(mss: number, segments: number): number {
  if (segments > 0) return segments * mss;
  if (mss > 2190) return 2 * mss;
  if (mss > 1095) return 3 * mss;
  return 4 * mss;
}
