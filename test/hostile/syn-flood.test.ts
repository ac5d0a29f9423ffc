/**
 * SYN floods: spoofed SYNs fill a listener's queue of half-open connections.
 * When it is full the oldest unanswered entry gives way, or the SYN is answered
 * with a SYN cookie (RFC 4987) and nothing is kept; the real client's ACK
 * brings the connection back, with the MSS, window scale and SACK it asked for.
 */
import { describe, expect, it } from 'vitest';
import { createHost } from '../../src/host.js';
import { Tcp, type TcpConnection } from '../../src/layers/tcp/index.js';
import { COOKIE_MSS, mssIndexFor, SynCookies } from '../../src/layers/tcp/syn-cookies.js';
import { parseIp4 } from '../../src/wire/addr.js';
import { emitTcp, setTcpChecksum, TCP_ACK, TCP_RST, TCP_SYN } from '../../src/wire/tcp.js';
import { ETHERTYPE_IPV4 } from '../../src/wire/ethernet.js';
import { ethernet, ipv4 } from '../layers/helpers.js';
import { makeNet } from '../layers/telnet/support/net.js';
import { Bench } from './support/segments.js';
import { answering, peer } from './support/telnet-peer.js';
import { Rng } from '../../src/core/index.js';

const CLIENT = parseIp4('10.0.0.2');
const tsOf = (s: { h: { options: readonly { kind: string }[] } }): { tsVal: number; tsEcr: number } | undefined =>
  s.h.options.find((o) => o.kind === 'timestamps') as { tsVal: number; tsEcr: number } | undefined;

function fullQueue(config = {}): Bench {
  const b = new Bench(7, config);
  b.listen(80, { onData: (c, d) => void c.send(d) }, { synBacklog: 2 });
  // Two spoofed SYNs: their SYN-ACKs go nowhere, the queue is full.
  b.send(parseIp4('10.9.9.1'), 1111, 80, TCP_SYN, 1, 0, undefined, [{ kind: 'mss', mss: 1460 }]);
  b.send(parseIp4('10.9.9.2'), 2222, 80, TCP_SYN, 1, 0, undefined, [{ kind: 'mss', mss: 1460 }]);
  b.clock.advance(1);
  return b;
}

describe('hostile: SYN cookies', () => {
  it('cookies encode the MSS and expire after two to three minutes', () => {
    const k = new SynCookies(new Uint8Array(16).fill(3));
    for (const mss of [536, 1300, 1440, 1460, 9000, 600]) {
      const idx = mssIndexFor(mss);
      const c = k.encode(1_000_000, 1, 80, 2, 4000, 12345, idx);
      expect(k.decode(1_000_000 + 100_000, 1, 80, 2, 4000, 12345, c)).toBe(idx);
      expect(k.decode(1_000_000 + 200_000, 1, 80, 2, 4000, 12345, c)).toBe(-1);
      expect(k.decode(1_000_000, 1, 80, 2, 4001, 12345, c)).toBe(-1);
    }
    // A guessed cookie is as good as never valid.
    const rng = new Rng(5);
    let valid = 0;
    for (let i = 0; i < 20_000; i++) if (k.decode(1_000_000, 1, 80, 2, 4000, 12345, rng.u32()) >= 0) valid++;
    expect(valid).toBe(0);
    expect(COOKIE_MSS[mssIndexFor(1459)]).toBe(1440);
  });

  it('a full SYN queue answers with a cookie; the ACK rebuilds the connection with MSS, window scale, SACK and timestamps', () => {
    const b = fullQueue();
    const from = b.seen.length;
    b.send(CLIENT, 40_000, 80, TCP_SYN, 5000, 0, undefined, [
      { kind: 'mss', mss: 1460 },
      { kind: 'sack-permitted' },
      { kind: 'timestamps', tsVal: 777, tsEcr: 0 },
      { kind: 'nop' },
      { kind: 'wscale', shift: 7 },
    ]);
    b.clock.advance(1);
    const synAck = b.to(CLIENT, from)[0]!;
    expect(synAck.h.flags).toBe(TCP_SYN | TCP_ACK);
    expect(b.host.tcp.counters.synCookiesSent).toBe(1);
    expect(b.host.tcp.connectionCount).toBe(2); // nothing kept for the cookie
    const ts = tsOf(synAck)!;
    b.send(CLIENT, 40_000, 80, TCP_ACK, 5001, synAck.h.seq + 1, new TextEncoder().encode('hi'), [{ kind: 'timestamps', tsVal: 778, tsEcr: ts.tsVal }], 1000);
    b.clock.advance(1);
    expect(b.host.tcp.counters.synCookiesAccepted).toBe(1);
    expect(b.accepted).toHaveLength(1);
    const c = b.accepted[0]! as TcpConnection & { sndWscale: number; sackOk: boolean; tsOk: boolean; sndMss: number; sndWnd: number };
    expect(c.state).toBe('ESTABLISHED');
    expect([c.sndWscale, c.sackOk, c.tsOk, c.sndMss]).toEqual([7, true, true, 1460 - 12]);
    expect(c.sndWnd).toBe(1000 << 7);
    // The data the ACK carried came up and was echoed.
    expect(b.to(CLIENT, from).some((s) => s.len === 2)).toBe(true);
  });

  it('without timestamps the cookie still carries the MSS (no window scale, no SACK)', () => {
    const b = fullQueue();
    const from = b.seen.length;
    b.send(CLIENT, 40_001, 80, TCP_SYN, 9000, 0, undefined, [{ kind: 'mss', mss: 1380 }, { kind: 'sack-permitted' }]);
    b.clock.advance(1);
    const synAck = b.to(CLIENT, from)[0]!;
    b.send(CLIENT, 40_001, 80, TCP_ACK, 9001, synAck.h.seq + 1);
    b.clock.advance(1);
    const c = b.accepted[0]! as TcpConnection & { sndWscale: number; sackOk: boolean; tsOk: boolean; sndMss: number };
    expect([c.state, c.sndWscale, c.sackOk, c.tsOk, c.sndMss]).toEqual(['ESTABLISHED', 0, false, false, 1300]);
  });

  it('an ACK with a forged cookie is reset and builds nothing', () => {
    const b = fullQueue();
    b.send(CLIENT, 40_002, 80, TCP_SYN, 100, 0, undefined, [{ kind: 'mss', mss: 1460 }]);
    b.clock.advance(1);
    const from = b.seen.length;
    b.send(CLIENT, 40_003, 80, TCP_ACK, 101, 0x1234_5678);
    b.clock.advance(1);
    expect(b.accepted).toHaveLength(0);
    expect(b.host.tcp.counters.synCookiesRejected).toBe(1);
    expect(b.to(CLIENT, from).some((s) => s.h.flags & TCP_RST)).toBe(true);
  });

  it('a half-open entry whose SYN-ACK went unanswered gives its slot to a new SYN', () => {
    const b = fullQueue();
    b.clock.advance(1_500); // the spoofed entries' SYN-ACKs have been retransmitted once
    const from = b.seen.length;
    b.send(CLIENT, 40_004, 80, TCP_SYN, 100, 0, undefined, [{ kind: 'mss', mss: 1460 }]);
    b.clock.advance(1);
    expect(b.host.tcp.counters.halfOpenEvicted).toBe(1);
    expect(b.host.tcp.counters.synCookiesSent).toBe(0);
    const synAck = b.to(CLIENT, from)[0]!;
    b.send(CLIENT, 40_004, 80, TCP_ACK, 101, synAck.h.seq + 1);
    b.clock.advance(1);
    expect(b.accepted).toHaveLength(1);
  });
});

describe('hostile: SYN flood against the Telnet service', () => {
  it('during a flood of 20,000 spoofed SYNs a real client connects and logs in within 2 s', async () => {
    const n = makeNet({ link: { mode: 'switch' } });
    const attacker = n.link.attach('attacker');
    const serverMac = n.srv.nic.mac;
    const rng = new Rng(15);
    const syn = (i: number): Uint8Array => {
      // Spoofed sources on the server's own subnet that never answer ARP, and farther ones.
      const src = i % 2 === 0 ? parseIp4(`10.0.0.${20 + rng.int(200)}`) : parseIp4(`172.16.${rng.int(256)}.${rng.int(256)}`);
      const seg = emitTcp(
        { srcPort: 1024 + rng.int(60_000), dstPort: 23, seq: rng.u32(), ack: 0, flags: TCP_SYN, reserved: 0, window: 65535, checksum: 0, urgentPointer: 0, options: [{ kind: 'mss', mss: 1460 }] },
        new Uint8Array(0),
      );
      setTcpChecksum(seg, 0, seg.length, src, parseIp4('10.0.0.1'));
      return ethernet(serverMac, 0x0200_0000_00aa, ETHERTYPE_IPV4, ipv4({ src, dst: parseIp4('10.0.0.1'), protocol: 6, payload: seg }));
    };
    // 20,000 SYNs over 2 s, 10 a millisecond.
    let sent = 0;
    const burst = (): void => {
      for (let k = 0; k < 10 && sent < 20_000; k++) attacker.send(syn(sent++));
      if (sent < 20_000) n.clock.schedule(n.clock.now() + 1, burst);
    };
    burst();
    await n.run(() => sent >= 5_000, 10_000);
    const host = createHost({ name: 'user', link: n.link, ip: '10.0.0.3/24', seed: 33 });
    const utcp = new Tcp(host.rt, host.ip);
    const t0 = n.clock.now();
    const user = peer(utcp, host.rt.app('user'), answering('demo', 'demo'));
    expect(await n.run(() => user.text.includes('demo@server$ '), 10_000)).toBe(true);
    const took = n.clock.now() - t0;
    if (process.env['HOSTILE_FIGURES']) {
      const c = n.srvTcp.counters;
      console.log(`SYN flood: login took ${took.toFixed(1)} ms (virtual) with ${sent} SYNs sent so far; cookies ${c.synCookiesSent} sent, ${c.synCookiesAccepted} accepted; ${c.halfOpenEvicted} half-open evicted`);
    }
    expect(sent).toBeLessThan(20_000); // the flood was still going on
    expect(took).toBeLessThan(2_000);
    await n.run(() => sent >= 20_000, 10_000);
    expect(n.srvTcp.counters.synCookiesSent + n.srvTcp.counters.halfOpenEvicted).toBeGreaterThan(10_000);
  });
});
