/**
 * Congestion control: slow start and congestion avoidance (RFC 5681) with
 * NewReno fast retransmit and fast recovery (RFC 6582) when SACK is off, and
 * with SACK the window of RFC 6675 loss recovery paced by Proportional Rate
 * Reduction (RFC 6937, as Linux does): during recovery cwnd is recomputed on
 * every ACK as `pipe` plus what PRR allows to send, so the sender neither stalls
 * for half a window nor bursts. The state is plain numbers on an object per
 * connection; each function returns what the sender must do, and the caller
 * does it (retransmit, send new data), so this file decides and never sends.
 */
import { seqGeq } from '../../wire/seq.js';

export class Congestion {
  cwnd: number;
  ssthresh = 0x7fff_ffff;
  dupAcks = 0;
  inRecovery = false;
  /** As an int32, read as the uint32 it is (see TcpConnection's sequence numbers: no heap number per connection). */
  private iRecover = 0;
  /** Highest sequence number sent when recovery started (RFC 6582 "recover"). */
  get recover(): number {
    return this.iRecover >>> 0;
  }
  set recover(v: number) {
    this.iRecover = v | 0;
  }
  /**
   * After a retransmission timeout with SACK: until snd.una reaches `recover`,
   * the outstanding data is repaired from the scoreboard (Linux's Loss state).
   */
  inLoss = false;
  /** The current recovery is SACK-based and paced by PRR (not NewReno's inflation). */
  prr = false;
  /** RFC 6937 prr_delivered, prr_out and RecoverFS, bytes. */
  prrDelivered = 0;
  prrOut = 0;
  private recoverFs = 0;
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
        // Full acknowledgement: recovery ends.
        this.inRecovery = false;
        this.dupAcks = 0;
        if (this.prr) {
          // RFC 6937: at ssthresh. PRR kept pipe near it, so this is no
          // burst; deflating to the flight (often a segment or two by now)
          // would leave the receiver delaying its ACKs.
          this.prr = false;
          this.cwnd = this.ssthresh;
          return 'exit';
        }
        // NewReno deflates (RFC 6582 3.2 step 3, first option).
        const f = flight > mss ? flight : mss;
        this.cwnd = Math.min(this.ssthresh, f + mss);
        return 'exit';
      }
      this.dupAcks = 0;
      // With PRR the window follows pipe (prrAck); nothing to deflate here.
      if (this.prr) return 'partial';
      // Partial acknowledgement: deflate by the amount acked, add back one MSS.
      this.cwnd = this.cwnd > acked ? this.cwnd - acked : mss;
      if (acked >= mss) this.cwnd += mss;
      this.dupAcks = 0;
      return 'partial';
    }
    this.dupAcks = 0;
    if (this.inLoss && seqGeq(una, this.recover)) this.inLoss = false;
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

  /**
   * SACK loss recovery starts (RFC 6675 section 5 step 4, RFC 6937): halve,
   * remember the recovery point; the window itself comes from prrAck.
   */
  enterSackRecovery(flight: number, sndMax: number): void {
    this.ssthresh = Math.max(flight >>> 1, 2 * this.mss);
    this.recover = sndMax;
    this.inRecovery = true;
    this.inLoss = false;
    this.prr = true;
    this.prrDelivered = 0;
    this.prrOut = 0;
    this.recoverFs = flight > 0 ? flight : this.mss;
    this.acked = 0;
  }

  /**
   * RFC 6937 on an ACK in SACK recovery: `delivered` bytes newly acknowledged
   * or SACKed, `pipe` after the scoreboard took them in. Sets cwnd to pipe plus
   * the bytes that may go out now: in proportion to what was delivered while
   * pipe is above ssthresh, catching up by slow start (PRR-SSRB) below it.
   */
  prrAck(delivered: number, pipe: number): void {
    if (!this.prr) return;
    if (delivered > 0) this.prrDelivered += delivered;
    let sndcnt: number;
    if (pipe > this.ssthresh) {
      sndcnt = Math.ceil((this.prrDelivered * this.ssthresh) / this.recoverFs) - this.prrOut;
    } else {
      const owed = this.prrDelivered - this.prrOut;
      const limit = (owed > delivered ? owed : delivered) + this.mss;
      const gap = this.ssthresh - pipe;
      sndcnt = gap < limit ? gap : limit;
    }
    if (sndcnt < 0) sndcnt = 0;
    this.cwnd = pipe + sndcnt;
  }

  /** Bytes sent (new or again) while PRR paces the sender. */
  prrSent(bytes: number): void {
    if (this.prr) this.prrOut += bytes;
  }

  /**
   * Retransmission timeout (RFC 5681 3.1 eq. 4, RFC 6582 section 4). With
   * `sack` the sender then repairs from the scoreboard until `recover`.
   */
  onTimeout(flight: number, sndMax: number, sack = false): void {
    this.ssthresh = Math.max(flight >>> 1, 2 * this.mss);
    this.cwnd = this.mss;
    this.acked = 0;
    this.dupAcks = 0;
    this.inRecovery = false;
    this.prr = false;
    this.inLoss = sack;
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
