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
  it('repairs a second hole on the next duplicate ACK instead of a round trip later', () => {
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
      0.113 < . 1:1(0) ack 1 win 65535 <nop,nop,sack 4381:8761 1461:2921>
      0.113 > . 2921:4381(1460) ack 1
    `);
    expect(d.host.tcp.counters.fastRetransmits).toBe(1);
    expect(d.host.tcp.counters.retransmissions).toBe(2);
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
