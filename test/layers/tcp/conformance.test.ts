/**
 * Conformance cases written from the RFCs, one script each: a segment in, the
 * segments the TCP must send, with their timing. See support/drill.ts.
 */
import { describe, expect, it } from 'vitest';
import { Drill, type DrillOptions } from './support/drill.js';

const PLAIN = { timestamps: false, sack: false, windowScaling: false };
const plain = (extra: DrillOptions['config'] = {}): DrillOptions => ({ config: { ...PLAIN, ...extra } });

/** A passive connection brought to ESTABLISHED at t=0.010 (peer window 65535, MSS 1460). */
function established(extra: DrillOptions['config'] = {}, opts: DrillOptions = {}): Drill {
  return new Drill({ ...opts, config: { ...PLAIN, ...extra } }).listen().run(`
    0     < S 0:0(0) win 65535 <mss 1460>
    0     > S. 0:0(0) ack 1 win 65535 <mss 1460>
    0.010 < . 1:1(0) ack 1 win 65535
    0.010 state ESTABLISHED
  `);
}

describe('RFC 9293 3.5: connection establishment', () => {
  it('answers a SYN with a SYN-ACK carrying the options both sides support', () => {
    new Drill().listen().run(`
      0     < S 0:0(0) win 65535 <mss 1400,sackOK,TS val 100 ecr 0,nop,wscale 7>
      0     > S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 3>
      0.010 < . 1:1(0) ack 1 win 257 <nop,nop,TS val 110 ecr 0>
      0.010 state ESTABLISHED
      0.010 event accept
      0.010 event connect
    `);
  });

  it('offers no option the peer did not send', () => {
    new Drill().listen().run(`
      0     < S 0:0(0) win 8192 <mss 536>
      0     > S. 0:0(0) ack 1 win 65535 <mss 1460>
    `);
  });

  it('active open: SYN with every option, then ACK of the SYN-ACK, MSS from the peer', () => {
    const d = new Drill({ config: { windowScaling: true } }).connect();
    d.run(`
      0     > S 0:0(0) win 65535 <mss 1460,sackOK,TS val * ecr 0,nop,wscale 3>
      0.010 < S. 0:0(0) ack 1 win 5000 <mss 1000>
      0.010 > . 1:1(0) ack 1 win 65535
      0.010 state ESTABLISHED
      0.010 event connect
      0.020 call send 2500
      0.020 > . 1:1001(1000) ack 1
      0.020 > . 1001:2001(1000) ack 1
      // Nagle holds the last 500 bytes until an ACK arrives.
      0.030 < . 1:1(0) ack 2001 win 5000
      0.030 > P. 2001:2501(500) ack 1
    `);
  });

  it('retransmits the SYN with exponential backoff, then fails with ETIMEDOUT', () => {
    new Drill(plain({ synRetries: 2 })).connect().run(`
      0     > S 0:0(0) win 65535 <mss 1460>
      1.000 > S 0:0(0) win 65535 <mss 1460>
      3.000 > S 0:0(0) win 65535 <mss 1460>
      7.000 event error ETIMEDOUT
      7.000 gone
      9.000 none
    `);
  });

  it('a RST answering our SYN refuses the connection', () => {
    new Drill(plain()).connect().run(`
      0     > S 0:0(0) win 65535 <mss 1460>
      0.010 < R. 0:0(0) ack 1 win 0
      0.010 event error ECONNREFUSED
      0.010 gone
    `);
  });

  it('simultaneous open (RFC 9293 figure 7)', () => {
    new Drill(plain()).connect().run(`
      0     > S 0:0(0) win 65535 <mss 1460>
      0.010 < S 0:0(0) win 65535 <mss 1460>
      0.010 > S. 0:0(0) ack 1 win 65535 <mss 1460>
      0.010 state SYN-RECEIVED
      0.020 < S. 0:0(0) ack 1 win 65535 <mss 1460>
      0.020 state ESTABLISHED
      0.020 event connect
    `);
  });

  it('a retransmitted SYN in SYN-RECEIVED gets the SYN-ACK again', () => {
    new Drill(plain()).listen().run(`
      0     < S 0:0(0) win 65535 <mss 1460>
      0     > S. 0:0(0) ack 1 win 65535 <mss 1460>
      0.500 < S 0:0(0) win 65535 <mss 1460>
      0.500 > S. 0:0(0) ack 1 win 65535 <mss 1460>
    `);
  });

  it('retransmits a lost SYN-ACK on its timer', () => {
    new Drill(plain()).listen().run(`
      0     < S 0:0(0) win 65535 <mss 1460>
      0     > S. 0:0(0) ack 1 win 65535 <mss 1460>
      1.000 > S. 0:0(0) ack 1 win 65535 <mss 1460>
      3.000 > S. 0:0(0) ack 1 win 65535 <mss 1460>
    `);
  });
});

describe('RFC 9293 3.10.7.1: segments to closed ports', () => {
  it('a SYN to a closed port is answered with RST,ACK; an ACK with a RST at its ack', () => {
    const d = new Drill(plain());
    d.localPort = 9;
    d.run(`
      0     < S 0:0(0) win 65535
      0     > R. 0:0(0) ack 1 win 0
      0.100 < . 5:5(0) ack 777 win 65535
      0.100 > R 777:777(0) win 0
      0.200 < R 5:5(0) win 0
      0.300 none
    `);
  });
});

describe('RFC 5961: blind RST, SYN and data injection', () => {
  it('a RST exactly at RCV.NXT resets the connection', () => {
    established().run(`
      0.100 < R 1:1(0) win 0
      0.100 event error ECONNRESET
      0.100 gone
    `);
  });

  it('a RST inside the window but not at RCV.NXT gets a challenge ACK and changes nothing', () => {
    established().run(`
      0.100 < R 500:500(0) win 0
      0.100 > . 1:1(0) ack 1
      0.100 state ESTABLISHED
    `);
  });

  it('a RST outside the window is dropped silently', () => {
    established().run(`
      0.100 < R 900000:900000(0) win 0
      0.200 none
      0.200 state ESTABLISHED
    `);
  });

  it('a SYN on an established connection gets a challenge ACK', () => {
    established().run(`
      0.100 < S 12345:12345(0) win 65535 <mss 1460>
      0.100 > . 1:1(0) ack 1
      0.100 state ESTABLISHED
    `);
  });

  it('data acknowledging something never sent is answered with an ACK and dropped', () => {
    established().run(`
      0.100 < P. 1:11(10) ack 5000 win 65535
      0.100 > . 1:1(0) ack 1
      0.100 noevent data
    `);
  });

  it('an ACK older than the send window allows gets a challenge ACK; data is not accepted', () => {
    const d = established();
    d.run(`
      0.020 call send 100
      0.020 > P. 1:101(100) ack 1
      0.030 < . 1:1(0) ack 101 win 65535
      0.100 < P. 1:11(10) ack 4294000000 win 65535
      0.100 > . 101:101(0) ack 1
      0.100 noevent data
    `);
  });
});

describe('RFC 9293 3.6: closing', () => {
  it('passive close: FIN is acknowledged at once, CLOSE-WAIT, then LAST-ACK', () => {
    established().run(`
      0.100 < F. 1:1(0) ack 1 win 65535
      0.100 > . 1:1(0) ack 2
      0.100 state CLOSE-WAIT
      0.100 event peer-fin
      0.200 call close
      0.200 > F. 1:1(0) ack 2
      0.200 state LAST-ACK
      0.210 < . 2:2(0) ack 2 win 65535
      0.210 event closed
      0.210 gone
    `);
  });

  it('active close: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT for 2 MSL', () => {
    established({ mslMs: 500 }).run(`
      0.100 call close
      0.100 > F. 1:1(0) ack 1
      0.100 state FIN-WAIT-1
      0.110 < . 1:1(0) ack 2 win 65535
      0.110 state FIN-WAIT-2
      0.200 < F. 1:1(0) ack 2 win 65535
      0.200 > . 2:2(0) ack 2
      0.200 state TIME-WAIT
      0.200 event closed
      1.190 state TIME-WAIT
      1.201 gone
    `);
  });

  it('a FIN retransmitted into TIME-WAIT is acknowledged again and restarts 2 MSL', () => {
    established({ mslMs: 500 }).run(`
      0.100 call close
      0.100 > F. 1:1(0) ack 1
      0.110 < F. 1:1(0) ack 2 win 65535
      0.110 > . 2:2(0) ack 2
      0.110 state TIME-WAIT
      0.900 < F. 1:1(0) ack 2 win 65535
      0.900 > . 2:2(0) ack 2
      1.200 state TIME-WAIT
      1.901 gone
    `);
  });

  it('simultaneous close: FIN-WAIT-1 -> CLOSING -> TIME-WAIT', () => {
    established({ mslMs: 500 }).run(`
      0.100 call close
      0.100 > F. 1:1(0) ack 1
      0.105 < F. 1:1(0) ack 1 win 65535
      0.105 > . 2:2(0) ack 2
      0.105 state CLOSING
      0.110 < . 2:2(0) ack 2 win 65535
      0.110 state TIME-WAIT
    `);
  });

  it('half-close: after shutdown the connection still receives', () => {
    established().run(`
      0.100 call shutdown
      0.100 > F. 1:1(0) ack 1
      0.110 < . 1:1(0) ack 2 win 65535
      0.110 state FIN-WAIT-2
      0.200 < P. 1:6(5) ack 2 win 65535
      0.200 event data 5
      0.400 > . 2:2(0) ack 6
    `);
  });

  it('data after close() resets the connection (RFC 2525 2.17)', () => {
    established().run(`
      0.100 call close
      0.100 > F. 1:1(0) ack 1
      0.110 < . 1:1(0) ack 2 win 65535
      0.200 < P. 1:6(5) ack 2 win 65535
      0.200 > R. 2:2(0) ack 1
      0.200 gone
    `);
  });

  it('abort sends a RST and forgets the connection', () => {
    established().run(`
      0.100 call abort
      0.100 > R. 1:1(0) ack 1
      0.100 gone
      0.200 < P. 1:6(5) ack 1 win 65535
      0.200 > R 1:1(0) win 0
    `);
  });

  it('FIN with data: both delivered, the ACK covers both', () => {
    established().run(`
      0.100 < FP. 1:11(10) ack 1 win 65535
      0.100 > . 1:1(0) ack 12
      0.100 event data 10
      0.100 event peer-fin
    `);
  });
});

describe('RFC 9293 3.8.6.3 / RFC 1122 4.2.3.2: delayed ACK', () => {
  it('a lone segment is acknowledged after the delayed-ACK time (default 200 ms, the RFC bound)', () => {
    established().run(`
      0.100 < P. 1:11(10) ack 1 win 65535
      0.299 none
      0.300 > . 1:1(0) ack 11
    `);
  });

  it('the delayed-ACK time is configurable', () => {
    established({ delayedAckMs: 40 }).run(`
      0.100 < P. 1:11(10) ack 1 win 65535
      0.140 > . 1:1(0) ack 11
    `);
  });

  it('every second full-sized segment is acknowledged at once', () => {
    established().run(`
      0.100 < . 1:1461(1460) ack 1 win 65535
      0.101 < . 1461:2921(1460) ack 1 win 65535
      0.101 > . 1:1(0) ack 2921
    `);
  });

  it('out-of-order data is acknowledged at once (duplicate ACK); filling the gap too', () => {
    established().run(`
      0.100 < . 1461:2921(1460) ack 1 win 65535
      0.100 > . 1:1(0) ack 1
      0.110 < . 1:1461(1460) ack 1 win 65535
      0.110 > . 1:1(0) ack 2921
      0.110 event data 1460
    `);
  });

  it('an answer queued in onData leaves with the ACK (piggybacking)', () => {
    const d = established();
    d.extra = { onData: (c, data) => void c.send(data) };
    d.run(`
      0.100 < P. 1:6(5) ack 1 win 65535
      0.100 > P. 1:6(5) ack 6
      0.110 < . 6:6(0) ack 6 win 65535
      0.500 none
    `);
    expect(d.host.tcp.counters.piggybackedAcks).toBe(1);
    expect(d.host.tcp.counters.pureAcksOut).toBe(0);
  });
});

describe('RFC 5961 / RFC 2018: SACK', () => {
  it('reports out-of-order blocks, most recent first', () => {
    new Drill({ config: { timestamps: false, windowScaling: false } }).listen().run(`
      0     < S 0:0(0) win 65535 <mss 1460,sackOK>
      0     > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK>
      0.010 < . 1:1(0) ack 1 win 65535
      0.100 < . 1001:2001(1000) ack 1 win 65535
      0.100 > . 1:1(0) ack 1 <nop,nop,sack 1001:2001>
      0.110 < . 3001:4001(1000) ack 1 win 65535
      0.110 > . 1:1(0) ack 1 <nop,nop,sack 3001:4001 1001:2001>
    `);
  });
});

describe('RFC 6298: retransmission timer', () => {
  it('backs off exponentially (RTO 1 s before any sample)', () => {
    new Drill(plain()).listen().run(`
      0     < S 0:0(0) win 65535 <mss 1460>
      0     > S. 0:0(0) ack 1 win 65535 <mss 1460>
      // The ACK of the SYN-ACK takes 900 ms: SRTT 900, RTTVAR 450, RTO 2.7 s.
      0.900 < . 1:1(0) ack 1 win 65535
      1.000 call send 10
      1.000 > P. 1:11(10) ack 1
      3.700 > P. 1:11(10) ack 1
      9.100 > P. 1:11(10) ack 1
      19.900 > P. 1:11(10) ack 1
      20.000 < . 1:1(0) ack 11 win 65535
      60.000 none
    `);
  });

  it('keeps the RTO at least 200 ms above the RTT (SRTT 10 ms: RTO 210 ms)', () => {
    established().run(`
      0.100 call send 10
      0.100 > P. 1:11(10) ack 1
      0.310 > P. 1:11(10) ack 1
      0.730 > P. 1:11(10) ack 1
    `);
  });
});

describe('RFC 5681 / RFC 6582: fast retransmit and recovery', () => {
  it('retransmits after the third duplicate ACK, not before', () => {
    const d = established({ initialWindowSegments: 10 });
    d.run(`
      0.100 call send 14600
      0.100 > . 1:1461(1460) ack 1
      0.100 > . 1461:2921(1460) ack 1
      0.100 > . 2921:4381(1460) ack 1
      0.100 > . 4381:5841(1460) ack 1
      0.100 > . 5841:7301(1460) ack 1
      0.100 > . 7301:8761(1460) ack 1
      0.100 > . 8761:10221(1460) ack 1
      0.100 > . 10221:11681(1460) ack 1
      0.100 > . 11681:13141(1460) ack 1
      0.100 > P. 13141:14601(1460) ack 1
      0.110 < . 1:1(0) ack 1461 win 65535
      0.111 < . 1:1(0) ack 1461 win 65535
      0.112 < . 1:1(0) ack 1461 win 65535
      0.113 none
      0.113 < . 1:1(0) ack 1461 win 65535
      0.113 > . 1461:2921(1460) ack 1
    `);
    expect(d.host.tcp.counters.fastRetransmits).toBe(1);
    expect(d.host.tcp.counters.dupAcksIn).toBe(3);
  });
});

describe('RFC 6675 with RFC 6582: SACK-based hole repair in fast recovery', () => {
  it('repairs a second hole within the same round trip, as soon as PRR lets a segment out', () => {
    const d = new Drill({ config: { timestamps: false, windowScaling: false, initialWindowSegments: 10 } }).listen();
    d.run(`
      0     < S 0:0(0) win 65535 <mss 1460,sackOK>
      0     > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK>
      0.010 < . 1:1(0) ack 1 win 65535
      0.100 call send 14600
      0.100 > . 1:1461(1460) ack 1
      0.100 > . 1461:2921(1460) ack 1
      0.100 > . 2921:4381(1460) ack 1
      0.100 > . 4381:5841(1460) ack 1
      0.100 > . 5841:7301(1460) ack 1
      0.100 > . 7301:8761(1460) ack 1
      0.100 > . 8761:10221(1460) ack 1
      0.100 > . 10221:11681(1460) ack 1
      0.100 > . 11681:13141(1460) ack 1
      0.100 > P. 13141:14601(1460) ack 1
      // Segments 1 and 3 were lost; the receiver SACKs what it holds.
      0.110 < . 1:1(0) ack 1 win 65535 <nop,nop,sack 1461:2921>
      0.111 < . 1:1(0) ack 1 win 65535 <nop,nop,sack 4381:5841 1461:2921>
      0.112 < . 1:1(0) ack 1 win 65535 <nop,nop,sack 4381:7301 1461:2921>
      0.112 > . 1:1461(1460) ack 1
      // The hole at 2921 is now lost too (three segments SACKed above it), but
      // pipe (7300) has only come down to ssthresh: PRR (RFC 6937), like
      // RFC 6675's cwnd - pipe, sends nothing yet ...
      0.113 < . 1:1(0) ack 1 win 65535 <nop,nop,sack 4381:8761 1461:2921>
      // ... and the next delivered segment lets the repair out, not new data.
      0.114 < . 1:1(0) ack 1 win 65535 <nop,nop,sack 4381:10221 1461:2921>
      0.114 > . 2921:4381(1460) ack 1
    `);
    expect(d.host.tcp.counters.fastRetransmits).toBe(1);
    expect(d.host.tcp.counters.retransmissions).toBe(2);
  });
});

/** A passive connection with SACK (no timestamps, no scaling; RTT 10 ms, RTO 210 ms), IW 10 segments. */
function sackEstablished(extra: DrillOptions['config'] = {}): Drill {
  return new Drill({ config: { timestamps: false, windowScaling: false, initialWindowSegments: 10, ...extra } }).listen().run(`
    0     < S 0:0(0) win 29200 <mss 1460,sackOK>
    0     > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK>
    0.010 < . 1:1(0) ack 1 win 29200
  `);
}

/** Script lines for `n` full segments from byte `from` (relative), sent at `t`; the last one pushed if `push`. */
function flight(t: string, from: number, n: number, push = false): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = from + i * 1460;
    lines.push(`${t} > ${push && i === n - 1 ? 'P.' : '.'} ${a}:${a + 1460}(1460) ack 1`);
  }
  return lines.join('\n');
}

describe('RFC 6675: SACK loss detection against a Linux receiver', () => {
  it('counts ACKs that SACK new data as duplicates although the window grows on each: fast retransmit on the third', () => {
    const d = sackEstablished();
    d.run(`
      0.100 call send 14600
      ${flight('0.100', 1, 10, true)}
      // Segment 1 was lost. Linux answers each later arrival at once with a
      // SACK, and its receive-buffer autotuning opens the window a little more
      // every time: RFC 5681 would call none of these a duplicate.
      0.110 < . 1:1(0) ack 1 win 30000 <nop,nop,sack 1461:2921>
      0.111 < . 1:1(0) ack 1 win 31000 <nop,nop,sack 1461:4381>
      0.112 none
      0.112 < . 1:1(0) ack 1 win 32000 <nop,nop,sack 1461:5841>
      0.112 > . 1:1461(1460) ack 1
      0.120 < . 1:1(0) ack 14601 win 40000
      0.500 none
    `);
    expect(d.host.tcp.counters.dupAcksIn).toBe(3);
    expect(d.host.tcp.counters.fastRetransmits).toBe(1);
    expect(d.host.tcp.counters.rtoTimeouts).toBe(0);
    // Recovery ended at ssthresh: half the flight (RFC 6937).
    expect(d.conn!.timing.cwnd).toBe(7300);
  });

  it('without SACK keeps RFC 5681: ACKs that change the window are not duplicates, so the loss waits for the RTO', () => {
    const d = established({ initialWindowSegments: 10 });
    d.run(`
      0.100 call send 14600
      ${flight('0.100', 1, 10, true)}
      0.110 < . 1:1(0) ack 1 win 30000
      0.111 < . 1:1(0) ack 1 win 31000
      0.112 < . 1:1(0) ack 1 win 32000
      0.113 < . 1:1(0) ack 1 win 33000
      0.300 none
      0.310 > . 1:1461(1460) ack 1
    `);
    expect(d.host.tcp.counters.dupAcksIn).toBe(0);
    expect(d.host.tcp.counters.fastRetransmits).toBe(0);
    expect(d.host.tcp.counters.rtoTimeouts).toBe(1);
  });

  it('starts recovery on one ACK when the scoreboard already shows the head lost (IsLost: three segments SACKed above)', () => {
    const d = sackEstablished();
    d.run(`
      0.100 call send 14600
      ${flight('0.100', 1, 10, true)}
      // The ACKs for segments 2 and 3 were lost: the first to arrive SACKs three.
      0.112 < . 1:1(0) ack 1 win 32000 <nop,nop,sack 1461:5841>
      0.112 > . 1:1461(1460) ack 1
    `);
    expect(d.host.tcp.counters.fastRetransmits).toBe(1);
  });

  it('repairs the holes as the SACKs reveal them, and a retransmission lost again without waiting for the RTO', () => {
    const d = sackEstablished();
    d.run(`
      0.100 call send 29200
      ${flight('0.100', 1, 10)}
      // Segments 1 and 4 were lost. Two SACKed segments free room for two new
      // ones (RFC 6675 limited transmit: pipe, not the flight, meets cwnd).
      0.110 < . 1:1(0) ack 1 win 29200 <nop,nop,sack 1461:4381>
      ${flight('0.110', 14601, 2)}
      // More than two segments SACKed above the first hole: lost.
      0.111 < . 1:1(0) ack 1 win 29200 <nop,nop,sack 5841:7301 1461:4381>
      0.111 > . 1:1461(1460) ack 1
      0.112 < . 1:1(0) ack 1 win 29200 <nop,nop,sack 5841:8761 1461:4381>
      // The second hole is lost now too; PRR lets it out on the next ACK.
      0.113 < . 1:1(0) ack 1 win 29200 <nop,nop,sack 5841:10221 1461:4381>
      0.114 < . 1:1(0) ack 1 win 29200 <nop,nop,sack 5841:11681 1461:4381>
      0.114 > . 4381:5841(1460) ack 1
      // Then a new segment for about every one delivered (pipe is at ssthresh).
      0.115 < . 1:1(0) ack 1 win 29200 <nop,nop,sack 5841:13141 1461:4381>
      0.115 > . 17521:18981(1460) ack 1
      0.116 < . 1:1(0) ack 1 win 29200 <nop,nop,sack 5841:14601 1461:4381>
      0.116 > . 18981:20441(1460) ack 1
      0.117 < . 1:1(0) ack 1 win 29200 <nop,nop,sack 5841:16061 1461:4381>
      0.117 > . 20441:21901(1460) ack 1
      0.118 < . 1:1(0) ack 1 win 29200 <nop,nop,sack 5841:17521 1461:4381>
      0.118 > . 21901:23361(1460) ack 1
      // The repair of 4381 arrived; the one of 1 did not.
      0.119 < . 1:1(0) ack 1 win 29200 <nop,nop,sack 1461:17521>
      0.119 > . 23361:24821(1460) ack 1
      0.120 < . 1:1(0) ack 1 win 29200 <nop,nop,sack 17521:18981 1461:17521>
      0.120 > . 24821:26281(1460) ack 1
      0.121 < . 1:1(0) ack 1 win 29200 <nop,nop,sack 17521:20441 1461:17521>
      0.121 > . 26281:27741(1460) ack 1
      // Three segments first sent after that retransmission are SACKed: it
      // was lost as well, and goes again at once, ahead of new data.
      0.122 < . 1:1(0) ack 1 win 29200 <nop,nop,sack 17521:21901 1461:17521>
      0.122 > . 1:1461(1460) ack 1
      0.122 > P. 27741:29201(1460) ack 1
      0.132 < . 1:1(0) ack 29201 win 29200
      1.000 none
    `);
    expect(d.host.tcp.counters.rtoTimeouts).toBe(0);
    expect(d.host.tcp.counters.fastRetransmits).toBe(1);
    expect(d.host.tcp.counters.retransmissions).toBe(3);
  });

  it('after a timeout resends only what the receiver does not hold, then repairs from the scoreboard', () => {
    const d = sackEstablished({ initialWindowSegments: 4 });
    d.run(`
      0.100 call send 5840
      ${flight('0.100', 1, 4, true)}
      // Segments 1 and 3 lost: two SACKed segments call nothing lost, and
      // with nothing new to send no probe can go, so the RTO fires.
      0.110 < . 1:1(0) ack 1 win 29200 <nop,nop,sack 1461:2921>
      0.111 < . 1:1(0) ack 1 win 29200 <nop,nop,sack 4381:5841 1461:2921>
      0.310 > . 1:1461(1460) ack 1
      // Slow start allows two segments now, but only 2921 is missing: 4381,
      // which the receiver holds, is not sent again (go-back-N would).
      0.320 < . 1:1(0) ack 2921 win 29200 <nop,nop,sack 4381:5841>
      0.320 > . 2921:4381(1460) ack 1
      0.330 < . 1:1(0) ack 5841 win 29200
      1.000 none
    `);
    expect(d.host.tcp.counters.rtoTimeouts).toBe(1);
    expect(d.host.tcp.counters.retransmissions).toBe(2);
  });
});

describe('RFC 8985 7 / RFC 5827 / RFC 3042: when the ACKs stop', () => {
  it('sends a tail loss probe of new data after two round trips of silence, not after the RTO', () => {
    const d = sackEstablished();
    d.run(`
      // SRTT 10 ms: the probe timer is 20 ms, the RTO 210 ms.
      0.100 call send 29200
      ${flight('0.100', 1, 10)}
      // Every ACK for the flight is lost. Two new segments draw an ACK at once
      // (a lone one would wait for the receiver's delayed-ACK timer).
      0.120 > . 14601:16061(1460) ack 1
      0.120 > . 16061:17521(1460) ack 1
      0.130 < . 1:1(0) ack 17521 win 29200
      ${flight('0.130', 17521, 8, true)}
      0.140 < . 1:1(0) ack 29201 win 29200
      1.000 none
    `);
    expect(d.host.tcp.counters.lossProbes).toBe(1);
    expect(d.host.tcp.counters.rtoTimeouts).toBe(0);
    expect(d.host.tcp.counters.retransmissions).toBe(0);
  });

  it('early retransmit: with fewer than four segments out and nothing new to send, one SACKed segment is enough', () => {
    const d = sackEstablished();
    d.run(`
      0.100 call send 4380
      ${flight('0.100', 1, 3, true)}
      // The middle segment was lost: only two duplicates can ever come.
      0.110 < . 1:1(0) ack 1461 win 29200
      0.111 < . 1:1(0) ack 1461 win 29200 <nop,nop,sack 2921:4381>
      0.111 > . 1461:2921(1460) ack 1
      0.121 < . 1:1(0) ack 4381 win 29200
      1.000 none
    `);
    expect(d.host.tcp.counters.rtoTimeouts).toBe(0);
  });

  it('limited transmit without SACK: each of the first two duplicate ACKs lets one new segment out', () => {
    const d = established({ initialWindowSegments: 4 });
    d.run(`
      0.100 call send 14600
      ${flight('0.100', 1, 4)}
      0.110 < . 1:1(0) ack 1 win 65535
      0.110 > . 5841:7301(1460) ack 1
      0.111 < . 1:1(0) ack 1 win 65535
      0.111 > . 7301:8761(1460) ack 1
      0.112 < . 1:1(0) ack 1 win 65535
      0.112 > . 1:1461(1460) ack 1
    `);
    expect(d.host.tcp.counters.fastRetransmits).toBe(1);
  });
});

describe('RFC 9293 3.8.6.1: zero window', () => {
  it('probes a closed window with backoff and resumes when it opens', () => {
    established().run(`
      0.100 < . 1:1(0) ack 1 win 0
      0.110 call send 100
      // The persist timer starts at the RTO (210 ms here) and doubles.
      0.320 > . 1:2(1) ack 1
      0.330 < . 1:1(0) ack 1 win 0
      0.740 > . 1:2(1) ack 1
      0.750 < . 1:1(0) ack 1 win 0
      1.580 > . 1:2(1) ack 1
      1.590 < . 1:1(0) ack 2 win 1000
      1.590 > P. 2:101(99) ack 1
    `);
  });

  it('retransmits into a window closed after the data was sent, and never times out while the peer answers (RFC 1122 4.2.2.17)', () => {
    established({ maxRetries: 2 }).run(`
      0.100 call send 100
      0.100 > P. 1:101(100) ack 1
      0.105 < . 1:1(0) ack 1 win 0
      0.310 > P. 1:101(100) ack 1
      0.315 < . 1:1(0) ack 1 win 0
      0.730 > P. 1:101(100) ack 1
      0.735 < . 1:1(0) ack 1 win 0
      1.570 > P. 1:101(100) ack 1
      1.575 < . 1:1(0) ack 1 win 0
      3.250 > P. 1:101(100) ack 1
      3.255 < . 1:1(0) ack 101 win 1000
      3.255 state ESTABLISHED
      3.255 noevent error
    `);
  });

  it('advertises a shrinking window to a sender while the reader is paused, then a window update', () => {
    const d = new Drill({ config: { ...PLAIN, receiveBufferSize: 4000 } }).listen();
    d.run(`
      0     < S 0:0(0) win 65535 <mss 1000>
      0     > S. 0:0(0) ack 1 win 4000 <mss 1460>
      0.010 < . 1:1(0) ack 1 win 65535
      0.020 call pause
      0.100 < . 1:1001(1000) ack 1 win 65535
      0.101 < . 1001:2001(1000) ack 1 win 65535
      0.101 > . 1:1(0) ack 2001 win 2000
      0.102 < . 2001:3001(1000) ack 1 win 65535
      0.103 < . 3001:4001(1000) ack 1 win 65535
      0.103 > . 1:1(0) ack 4001 win 0
      // A probe into the zero window is answered, not accepted.
      0.500 < . 4001:4002(1) ack 1 win 65535
      0.500 > . 1:1(0) ack 4001 win 0
      0.600 call resume
      0.600 > . 1:1(0) ack 4001 win 4000
      0.600 event data 1000
    `);
    expect(d.received.reduce((n, b) => n + b.length, 0)).toBe(4000);
  });
});

describe('RFC 7323: window scaling and timestamps', () => {
  it('scales the peer window by its shift', () => {
    const d = new Drill({ config: { timestamps: false, sack: false } }).listen();
    d.run(`
      0     < S 0:0(0) win 65535 <mss 1460,nop,wscale 7>
      0     > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 3>
      0.010 < . 1:1(0) ack 1 win 2
    `);
    // 2 << 7 = 256 bytes of window: one 256-byte segment fits.
    d.run(`
      0.100 call nodelay
      0.100 call send 1000
      0.100 > . 1:257(256) ack 1 win 32768
    `);
  });

  it('echoes the peer timestamp and drops an older one (PAWS)', () => {
    new Drill({ config: { sack: false, windowScaling: false } }).listen().run(`
      0     < S 0:0(0) win 65535 <mss 1460,nop,nop,TS val 1000 ecr 0>
      0     > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,TS val * ecr 1000>
      0.010 < . 1:1(0) ack 1 win 65535 <nop,nop,TS val 1010 ecr 0>
      0.100 < P. 1:11(10) ack 1 win 65535 <nop,nop,TS val 1100 ecr 0>
      0.300 > . 1:1(0) ack 11 <nop,nop,TS val * ecr 1100>
      0.400 < P. 11:21(10) ack 1 win 65535 <nop,nop,TS val 900 ecr 0>
      0.400 > . 1:1(0) ack 11 <nop,nop,TS val * ecr 1100>
    `);
  });
});
