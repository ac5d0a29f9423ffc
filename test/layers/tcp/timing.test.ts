import { describe, expect, it } from 'vitest';
import { Congestion, initialWindow } from '../../../src/layers/tcp/congestion.js';
import { RttEstimator } from '../../../src/layers/tcp/rto.js';
import { IsnGenerator } from '../../../src/layers/tcp/isn.js';

describe('RttEstimator (RFC 6298)', () => {
  it('starts at the initial RTO, follows samples, keeps the RTO a minimum above SRTT', () => {
    const r = new RttEstimator(1000, 200, 60_000);
    expect(r.rto).toBe(1000);
    r.sample(400); // SRTT 400, RTTVAR 200 -> 400 + 800
    expect(r.rto).toBe(1200);
    r.sample(400); // RTTVAR 150 -> 400 + 600
    expect(r.rto).toBe(1000);
    const fast = new RttEstimator(1000, 200, 60_000);
    fast.sample(10); // 4 RTTVAR = 20 < 200: SRTT + 200
    expect(fast.rto).toBe(210);
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
    expect(r.rto).toBe(210);
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
  it('merges blocks, forgets what the cumulative ACK covers, finds the holes', async () => {
    const { Scoreboard } = await import('../../../src/layers/tcp/scoreboard.js');
    const s = new Scoreboard();
    s.update([300, 400, 100, 200], 50, 1000);
    s.update([200, 250], 50, 1000);
    expect(s.nextHole(50)).toEqual({ seq: 50, room: 50 });
    expect(s.nextHole(100)).toEqual({ seq: 250, room: 50 });
    expect(s.highest).toBe(400);
    s.update([2000, 3000], 50, 1000); // beyond what was sent: ignored
    expect(s.highest).toBe(400);
    s.advance(320);
    expect(s.nextHole(320)).toEqual({ seq: 400, room: Infinity });
    s.advance(400);
    expect(s.empty).toBe(true);
  });
});
