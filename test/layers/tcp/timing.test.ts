import { describe, expect, it } from 'vitest';
import { Congestion, initialWindow } from '../../../src/layers/tcp/congestion.js';
import { RttEstimator } from '../../../src/layers/tcp/rto.js';
import { IsnGenerator } from '../../../src/layers/tcp/isn.js';
import { Scoreboard } from '../../../src/layers/tcp/scoreboard.js';

describe('RttEstimator (RFC 6298)', () => {
  it('starts at the initial RTO, follows samples, keeps the RTO a minimum above SRTT', () => {
    const r = new RttEstimator(1000, 200, 60_000);
    expect(r.rto).toBe(1000);
    r.sample(400); // SRTT 400, RTTVAR 200 -> 400 + 800
    expect(r.rto).toBe(1200);
    r.sample(400); // RTTVAR 150 -> 400 + 600
    expect(r.rto).toBe(1000);
    const fast = new RttEstimator(1000, 200, 60_000);
    fast.sample(10); // 4 RTTVAR = 20 < 200: SRTT + 200 + G (strictly above the floor, so a 200 ms delayed ACK never ties)
    expect(fast.rto).toBe(211);
  });

  it('doubles on each timeout up to the maximum; a sample ends the backoff', () => {
    const r = new RttEstimator(1000, 200, 5_000);
    r.timedOut();
    expect(r.rto).toBe(2000);
    r.timedOut();
    expect(r.rto).toBe(4000);
    r.timedOut();
    expect(r.rto).toBe(5000);
    r.sample(10);
    expect(r.rto).toBe(211);
  });
});

describe('Congestion (RFC 5681 / RFC 6582)', () => {
  it('initial window per RFC 5681 3.1', () => {
    expect(initialWindow(1460, 0)).toBe(4380);
    expect(initialWindow(536, 0)).toBe(2144);
    expect(initialWindow(8948, 0)).toBe(17896);
    expect(initialWindow(1460, 10)).toBe(14600);
  });

  it('slow start grows by one MSS per ACK, congestion avoidance by one MSS per window', () => {
    const c = new Congestion(1000, 0, 0);
    c.ssthresh = 6000;
    const w0 = c.cwnd;
    c.onAck(1000, 1000, 0);
    expect(c.cwnd).toBe(w0 + 1000);
    c.onAck(1000, 2000, 0);
    expect(c.cwnd).toBe(6000);
    for (let i = 0; i < 6; i++) c.onAck(1000, 3000 + i * 1000, 0);
    expect(c.cwnd).toBe(7000);
  });

  it('enters fast recovery on the third duplicate ACK, inflates, deflates on a partial ACK, exits on a full one', () => {
    const c = new Congestion(1000, 10, 0);
    expect(c.onDupAck(10_000, 1000, 11_000)).toBe(false);
    expect(c.onDupAck(10_000, 1000, 11_000)).toBe(false);
    expect(c.onDupAck(10_000, 1000, 11_000)).toBe(true);
    expect(c.ssthresh).toBe(5000);
    expect(c.cwnd).toBe(8000);
    c.onDupAck(10_000, 1000, 11_000);
    expect(c.cwnd).toBe(9000);
    expect(c.onAck(3000, 4000, 7000)).toBe('partial');
    expect(c.cwnd).toBe(7000);
    expect(c.onAck(7000, 11_000, 0)).toBe('exit');
    expect(c.cwnd).toBe(1000 + 1000);
    expect(c.inRecovery).toBe(false);
  });

  it('SACK recovery is paced by PRR (RFC 6937): in proportion above ssthresh, slow start below it, ends at ssthresh', () => {
    const c = new Congestion(1000, 10, 0);
    c.enterSackRecovery(10_000, 11_000);
    expect(c.inRecovery).toBe(true);
    expect(c.ssthresh).toBe(5000);
    // 1000 delivered of a 10000 flight with 5000 to aim for: 500 may go.
    c.prrAck(1000, 8000);
    expect(c.cwnd).toBe(8500);
    c.prrSent(1000);
    c.prrAck(1000, 7000); // 2000 delivered, 1000 sent: nothing more yet
    expect(c.cwnd).toBe(7000);
    // Below ssthresh: catch up by what is owed plus a segment, but not past ssthresh.
    c.prrAck(1000, 3000);
    expect(c.cwnd).toBe(5000);
    c.prrSent(2000);
    c.prrAck(500, 1000); // 500 owed (3500 delivered, 3000 sent) plus a segment
    expect(c.cwnd).toBe(2500);
    // A partial ACK leaves the window to PRR; the full one ends at ssthresh.
    expect(c.onAck(2000, 5000, 4000)).toBe('partial');
    expect(c.onAck(6000, 11_000, 1000)).toBe('exit');
    expect(c.cwnd).toBe(5000);
    expect(c.inRecovery).toBe(false);
  });

  it('after a timeout with SACK the sender is in loss recovery until the recovery point is acknowledged', () => {
    const c = new Congestion(1000, 10, 0);
    c.onTimeout(10_000, 20_000, true);
    expect(c.inLoss).toBe(true);
    expect(c.cwnd).toBe(1000);
    c.onAck(1000, 11_000, 9000);
    expect(c.inLoss).toBe(true);
    c.onAck(9000, 20_000, 0);
    expect(c.inLoss).toBe(false);
  });

  it('a timeout collapses the window to one segment', () => {
    const c = new Congestion(1000, 10, 0);
    c.onTimeout(10_000, 20_000);
    expect(c.cwnd).toBe(1000);
    expect(c.ssthresh).toBe(5000);
    // Duplicate ACKs for data sent before the timeout do not start another recovery.
    c.onDupAck(5000, 15_000, 20_000);
    c.onDupAck(5000, 15_000, 20_000);
    expect(c.onDupAck(5000, 15_000, 20_000)).toBe(false);
  });
});

describe('IsnGenerator (RFC 6528)', () => {
  it('is a keyed function of the 4-tuple plus a 4 microsecond clock', () => {
    const g = new IsnGenerator(new Uint8Array(16).fill(1));
    const a = g.isn(0, 1, 1000, 2, 80);
    expect(g.isn(0, 1, 1000, 2, 80)).toBe(a);
    expect(g.isn(1, 1, 1000, 2, 80)).toBe((a + 250) >>> 0);
    expect(g.isn(0, 1, 1001, 2, 80)).not.toBe(a);
    const other = new IsnGenerator(new Uint8Array(16).fill(2));
    expect(other.isn(0, 1, 1000, 2, 80)).not.toBe(a);
  });
});

describe('Scoreboard (SACK)', () => {
  it('each scoreboard keeps its own blocks and retransmissions, also after being cleared', () => {
    const a = new Scoreboard();
    const b = new Scoreboard();
    a.clear();
    a.timedOut(0, true);
    a.update([100, 200], 0, 1000);
    a.retransmitted(0, 100, 1000);
    expect(a.empty).toBe(false);
    expect(a.retransmissionsInFlight).toBe(1);
    expect(b.empty).toBe(true);
    expect(b.retransmissionsInFlight).toBe(0);
    expect(b.active(0)).toBe(false);
    b.update([300, 400], 0, 1000);
    expect(b.sackedBytes).toBe(100);
    expect(a.sackedBytes).toBe(100);
    expect(a.highest).toBe(200);
    expect(new Scoreboard().empty).toBe(true);
  });

  it('merges blocks, forgets what the cumulative ACK covers, finds the holes', () => {
    const s = new Scoreboard();
    expect(s.update([300, 400, 100, 200], 50, 1000)).toBe(200);
    expect(s.update([200, 250], 50, 1000)).toBe(50);
    expect(s.update([200, 250], 50, 1000)).toBe(0);
    expect(s.sackedBytes).toBe(250);
    // Rule 3 holes (lost or not): below the highest SACKed byte.
    expect(s.nextUnsacked(50, 1000)).toEqual({ seq: 50, room: 50 });
    expect(s.nextUnsacked(100, 1000)).toEqual({ seq: 250, room: 50 });
    expect(s.highest).toBe(400);
    s.update([2000, 3000], 50, 1000); // beyond what was sent: ignored
    expect(s.highest).toBe(400);
    s.advance(320);
    expect(s.sackedBytes).toBe(80);
    expect(s.nextUnsacked(320, 1000)).toBeNull();
    s.advance(400);
    expect(s.empty).toBe(true);
    expect(s.sackedBytes).toBe(0);
  });

  it('IsLost (RFC 6675): more than DupThresh-1 segments SACKed above, or DupThresh blocks', () => {
    const mss = 100;
    const s = new Scoreboard();
    // Two segments SACKed above the hole at 0: not yet lost.
    s.update([100, 300], 0, 1000);
    expect(s.headLost(0, 1000, mss)).toBe(false);
    expect(s.nextLost(0, 1000, mss)).toBeNull();
    expect(s.pipe(0, 1000, mss)).toBe(800);
    // A third: the hole is lost and leaves the pipe.
    s.update([300, 400], 0, 1000);
    expect(s.headLost(0, 1000, mss)).toBe(true);
    expect(s.nextLost(0, 1000, mss)).toEqual({ seq: 0, room: 100 });
    expect(s.pipe(0, 1000, mss)).toBe(1000 - 300 - 100);
    // Three small discontiguous blocks also make the first hole lost, but not the ones between them.
    const t = new Scoreboard();
    t.update([110, 120, 130, 140, 150, 160], 0, 1000);
    expect(t.lossEdge(0, 1000, mss)).toBe(110);
    expect(t.nextLost(0, 1000, mss)).toEqual({ seq: 0, room: 110 });
  });

  it('a retransmitted hole counts in the pipe again and is not chosen twice', () => {
    const mss = 100;
    const s = new Scoreboard();
    s.update([100, 400], 0, 1000);
    s.retransmitted(0, 100, 1000);
    expect(s.nextLost(0, 1000, mss)).toBeNull();
    expect(s.pipe(0, 1000, mss)).toBe(1000 - 300 - 100 + 100);
    // Its delivery (cumulative ACK) shows everything sent before it and still missing is lost.
    s.advance(400);
    expect(s.nextLost(400, 1000, mss)).toEqual({ seq: 400, room: 600 });
  });

  it('a retransmission is lost again when data sent after it is SACKed, or a later retransmission arrives', () => {
    const mss = 100;
    const s = new Scoreboard();
    s.update([100, 400], 0, 1000);
    s.retransmitted(0, 100, 1000); // sent when snd.max was 1000
    s.update([1000, 1200], 0, 1300);
    expect(s.settle(mss)).toBe(0); // two segments sent after it: could be reordering
    s.update([1200, 1300], 0, 1300);
    expect(s.settle(mss)).toBe(1);
    expect(s.nextLost(0, 1300, mss)).toEqual({ seq: 0, room: 100 });

    const t = new Scoreboard();
    t.update([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000], 0, 1000);
    for (const l of [0, 200, 400, 600, 800]) t.retransmitted(l, l + 100, 1000);
    t.update([800, 900], 0, 1000); // the fifth retransmission arrived; the first was sent three before it
    expect(t.settle(mss)).toBe(2);
    expect(t.nextLost(0, 1000, mss)).toEqual({ seq: 0, room: 100 });
    expect(t.retransmissionsInFlight).toBe(2);
  });

  it('after a timeout everything outstanding is lost but what the receiver SACKed', () => {
    const mss = 100;
    const s = new Scoreboard();
    s.update([200, 400], 0, 1000);
    s.timedOut(1000, false);
    expect(s.pipe(0, 1000, mss)).toBe(0);
    expect(s.nextLost(0, 1000, mss)).toEqual({ seq: 0, room: 200 });
    s.retransmitted(0, 100, 1000);
    expect(s.nextLost(0, 1000, mss)).toEqual({ seq: 100, room: 100 });
    s.timedOut(1000, true);
    expect(s.empty).toBe(true);
    expect(s.nextLost(0, 1000, mss)).toEqual({ seq: 0, room: 1000 });
  });
});
