/**
 * TCP over IPv6 and over both families at once, on the fake network (a
 * NetLower double of either family): the handshake, bulk data under faults,
 * resets, the MSS a path MTU allows, the IPv6 pseudo-header, one listener for
 * both families, listeners bound to one address, and SYN cookies.
 */
import { describe, expect, it } from 'vitest';
import { Rng, Runtime, VirtualClock } from '../../../src/core/index.js';
import { Tcp, type TcpConfig, type TcpConnection, type TcpError } from '../../../src/layers/tcp/index.js';
import { parseIp4, type Ip4 } from '../../../src/wire/addr.js';
import { parseIp6, type Ip6 } from '../../../src/wire/addr6.js';
import { checksumVerifies } from '../../../src/wire/checksum.js';
import { ipv6PseudoHeaderSum } from '../../../src/wire/ipv6.js';
import { parseTcp, parseTcpOptions, tcpOptionValues, TCP_RST, TCP_SYN } from '../../../src/wire/tcp.js';
import type { IcmpError } from '../../../src/layers/icmp.js';
import type { Icmpv6Error } from '../../../src/layers/ipv6/icmpv6.js';
import { FakeIp, FakeNet, type Faults } from './support/fake-ip.js';
import { acceptStreamer, streamer } from './support/apps.js';

const A6 = parseIp6('fd00::1');
const B6 = parseIp6('fd00::2');
const A4 = parseIp4('10.0.0.1');
const B4 = parseIp4('10.0.0.2');

interface Node {
  rt: Runtime;
  tcp: Tcp;
  v6?: FakeIp<Ip6>;
  v4?: FakeIp<Ip4>;
}

/** Nets per family on one clock; nodes join one or both. */
function world(seed = 1, faults: Partial<Faults> = {}, dispatch: 'direct' | 'queued' = 'direct') {
  const clock = new VirtualClock();
  const net6 = new FakeNet<Ip6>(clock, seed * 7 + 3, faults);
  const net4 = new FakeNet<Ip4>(clock, seed * 7 + 4, faults);
  let n = 0;
  const node = (addrs: { v6?: Ip6; v4?: Ip4 }, config: Partial<TcpConfig> = {}, mtu = 1500): Node => {
    const rt = new Runtime({ name: `h${++n}`, clock, seed: seed * 10 + n, dispatch });
    const v6 = addrs.v6 === undefined ? undefined : new FakeIp<Ip6>(rt, net6, addrs.v6, mtu);
    const v4 = addrs.v4 === undefined ? undefined : new FakeIp<Ip4>(rt, net4, addrs.v4, mtu);
    const lowers = [v4, v6].filter((l) => l !== undefined);
    const tcp = new Tcp(rt, lowers, config);
    return { rt, tcp, ...(v6 ? { v6 } : {}), ...(v4 ? { v4 } : {}) };
  };
  return { clock, net6, net4, node };
}

function recorder() {
  const events: string[] = [];
  const errors: TcpError[] = [];
  let conn: TcpConnection | null = null;
  const handlers = {
    onConnect: (c: TcpConnection) => {
      conn = c;
      events.push('connect');
    },
    onData: (_c: TcpConnection, d: Uint8Array) => void events.push(`data:${new TextDecoder().decode(d)}`),
    onClose: (_c: TcpConnection, how: string) => void events.push(how),
    onError: (_c: TcpConnection, e: TcpError) => {
      errors.push(e);
      events.push(`error:${e.code}`);
    },
  };
  return { events, errors, handlers, conn: () => conn };
}

/** SYNs seen on a net: their MSS option. */
function synMss(bytes: Uint8Array): number | undefined {
  const p = parseTcp(bytes, 0, bytes.length);
  if (!p.ok || !(p.header.flags & TCP_SYN)) return undefined;
  return tcpOptionValues(parseTcpOptions(bytes, 20, p.headerLength - 20)).mss;
}

describe('TCP over IPv6', () => {
  it('completes the handshake and exchanges data in both directions', () => {
    const w = world();
    const a = w.node({ v6: A6 });
    const b = w.node({ v6: B6 });
    const accepted: TcpConnection[] = [];
    b.tcp.listen(23, b.rt.app('srv'), {
      onAccept: (c) => {
        accepted.push(c);
        return { onData: (cc, d) => void cc.send(d) }; // echo
      },
    });
    const r = recorder();
    const conn = a.tcp.connect(parseIp6('fd00:0:0::2'), 23, a.rt.app('cli'), {
      ...r.handlers,
      onConnect: (c) => {
        r.handlers.onConnect(c);
        c.send('hello over v6');
      },
    });
    w.clock.runUntil(() => r.events.includes('data:hello over v6'), 10_000);
    expect(r.events).toEqual(['connect', 'data:hello over v6']);
    expect(conn.family).toBe(6);
    expect(conn.remoteAddress).toBe('fd00::2');
    expect(conn.localAddress).toBe('fd00::1');
    expect(conn.describe()).toMatch(/^tcp \[fd00::1\]:\d+ -> \[fd00::2\]:23 ESTABLISHED$/);
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.remoteAddress).toBe('fd00::1');
    expect(accepted[0]!.remotePort).toBe(conn.localPort);
    expect(b.tcp.connections().map((row) => `${row.local} ${row.remote} ${row.state}`)).toEqual([
      '[::]:23 [::]:* LISTEN',
      `[fd00::2]:23 [fd00::1]:${conn.localPort} ESTABLISHED`,
    ]);
    expect(a.rt.allModules().reduce((n, m) => n + m.stats.drops, 0)).toBe(0);
  });

  it('moves 200 kB each way byte-exact under loss, duplication, reordering and corruption', () => {
    const w = world(5, { loss: 0.08, duplicate: 0.03, reorder: 0.08, corrupt: 0.03 });
    const a = w.node({ v6: A6 });
    const b = w.node({ v6: B6 });
    const rng = new Rng(9);
    const up = rng.bytes(200_000);
    const down = rng.bytes(200_000);
    const sched = (ms: number, fn: () => void) => w.clock.schedule(w.clock.now() + ms, fn);
    const srv = acceptStreamer((p, o, h) => b.tcp.listen(p, o, h), 9000, b.rt.app('srv'), down, { chunkSizes: [1000, 7000] }, sched);
    const cli = streamer(up, { chunkSizes: [3000, 11] }, sched);
    a.tcp.connect(B6, 9000, a.rt.app('cli'), cli.handlers);
    const ok = w.clock.runUntil(() => cli.log.done() && srv[0] !== undefined && srv[0].done(), 3_600_000);
    expect(ok).toBe(true);
    expect(cli.log.errors).toEqual([]);
    expect(Buffer.compare(srv[0]!.bytes(), up)).toBe(0);
    expect(Buffer.compare(cli.log.bytes(), down)).toBe(0);
    expect(w.net6.stats.corrupted).toBeGreaterThan(0);
    // Corrupted segments are caught by the IPv6 pseudo-header checksum.
    expect(a.tcp.counters.checksumErrors + b.tcp.counters.checksumErrors).toBeGreaterThan(0);
  });

  it('works the same with every upcall delivered through a mailbox (queued dispatch)', () => {
    const w = world(6, { loss: 0.05 }, 'queued');
    const a = w.node({ v6: A6 });
    const b = w.node({ v6: B6 });
    const data = new Rng(6).bytes(50_000);
    const sched = (ms: number, fn: () => void) => w.clock.schedule(w.clock.now() + ms, fn);
    const srv = acceptStreamer((p, o, h) => b.tcp.listen(p, o, h), 80, b.rt.app('srv'), data, {}, sched);
    const cli = streamer(data, {}, sched);
    a.tcp.connect(B6, 80, a.rt.app('cli'), cli.handlers);
    expect(w.clock.runUntil(() => cli.log.done() && srv[0] !== undefined && srv[0].done(), 600_000)).toBe(true);
    expect(Buffer.compare(srv[0]!.bytes(), data)).toBe(0);
    expect(Buffer.compare(cli.log.bytes(), data)).toBe(0);
    expect(srv[0]!.conn!.remoteAddress).toBe('fd00::1');
  });

  it('is refused with a RST by a port nobody listens on', () => {
    const w = world();
    const a = w.node({ v6: A6 });
    w.node({ v6: B6 });
    const resets: number[] = [];
    w.net6.taps.push((d) => {
      const p = parseTcp(d.bytes, 0, d.bytes.length);
      if (p.ok && p.header.flags & TCP_RST) resets.push(p.header.srcPort);
    });
    const r = recorder();
    a.tcp.connect(B6, 4444, a.rt.app('cli'), r.handlers);
    w.clock.runUntil(() => r.errors.length > 0, 10_000);
    expect(r.events).toEqual(['error:ECONNREFUSED']);
    expect(resets).toEqual([4444]);
  });

  it('advertises the MSS the path MTU allows: MTU - 60 over IPv6, MTU - 40 over IPv4', () => {
    const w = world();
    const a = w.node({ v6: A6, v4: A4 }, {}, 1500);
    w.node({ v6: B6, v4: B4 }, {}, 1280);
    const mss6: number[] = [];
    const mss4: number[] = [];
    w.net6.taps.push((d) => void (synMss(d.bytes) !== undefined && mss6.push(synMss(d.bytes)!)));
    w.net4.taps.push((d) => void (synMss(d.bytes) !== undefined && mss4.push(synMss(d.bytes)!)));
    const r6 = recorder();
    const r4 = recorder();
    const c6 = a.tcp.connect(B6, 7, a.rt.app('cli'), r6.handlers);
    a.tcp.connect(B4, 7, a.rt.app('cli'), r4.handlers);
    w.clock.runUntil(() => r6.events.length > 0 && r4.events.length > 0, 10_000);
    // a's SYNs; b (no listener) answers with RSTs, which carry no options.
    expect(mss6).toEqual([1440]);
    expect(mss4).toEqual([1460]);
    expect(c6.timing.mss).toBeLessThanOrEqual(1440);
  });

  it('takes a segment size from the peer MSS and the smaller path MTU', () => {
    const w = world();
    const a = w.node({ v6: A6 }, {}, 1500);
    const b = w.node({ v6: B6 }, {}, 1280);
    const sizes: number[] = [];
    w.net6.taps.push((d) => {
      const p = parseTcp(d.bytes, 0, d.bytes.length);
      if (p.ok && p.header.srcPort !== 80) sizes.push(d.bytes.length - p.headerLength);
    });
    acceptStreamer((p, o, h) => b.tcp.listen(p, o, h), 80, b.rt.app('srv'), new Uint8Array(0));
    const cli = streamer(new Rng(3).bytes(20_000), { chunkSizes: [20_000] });
    a.tcp.connect(B6, 80, a.rt.app('cli'), cli.handlers);
    w.clock.runUntil(() => cli.log.done(), 60_000);
    // b's MSS is 1280 - 60 = 1220; a sends timestamps (12 bytes of options).
    expect(Math.max(...sizes)).toBe(1220 - 12);
  });

  it('checksums over the IPv6 pseudo-header', () => {
    const w = world();
    const a = w.node({ v6: A6 });
    w.node({ v6: B6 });
    const seen: Array<{ src: Ip6; dst: Ip6; bytes: Uint8Array }> = [];
    w.net6.taps.push((d) => void seen.push(d));
    a.tcp.connect(B6, 22, a.rt.app('cli'), {});
    w.clock.runUntil(() => seen.length >= 2, 10_000);
    for (const d of seen) {
      expect(checksumVerifies(d.bytes, 0, d.bytes.length, ipv6PseudoHeaderSum(d.src, d.dst, 6, d.bytes.length))).toBe(true);
    }
  });

  it('reports ENETUNREACH for an IPv6 destination on an IPv4-only TCP, and the reverse', () => {
    const w = world();
    const only4 = w.node({ v4: A4 });
    const only6 = w.node({ v6: A6 });
    const r1 = recorder();
    const r2 = recorder();
    only4.tcp.connect(B6, 80, only4.rt.app('cli'), r1.handlers);
    only6.tcp.connect(B4, 80, only6.rt.app('cli'), r2.handlers);
    w.clock.runUntil(() => r1.errors.length > 0 && r2.errors.length > 0, 10_000);
    expect(r1.events).toEqual(['error:ENETUNREACH']);
    expect(r2.events).toEqual(['error:ENETUNREACH']);
    expect(w.net4.stats.sent + w.net6.stats.sent).toBe(0);
  });

  it('rebuilds a connection from a SYN cookie over IPv6', () => {
    const w = world();
    const a = w.node({ v6: A6 });
    const b = w.node({ v6: B6 }, { synBacklog: 0, synCookies: true });
    const got: string[] = [];
    b.tcp.listen(80, b.rt.app('srv'), { onAccept: () => ({ onData: (_c, d) => void got.push(new TextDecoder().decode(d)) }) });
    const r = recorder();
    a.tcp.connect(B6, 80, a.rt.app('cli'), { ...r.handlers, onConnect: (c) => void c.send('cookie') });
    w.clock.runUntil(() => got.length > 0, 10_000);
    expect(got).toEqual(['cookie']);
    expect(b.tcp.counters.synCookiesSent).toBe(1);
  });
});

describe('one TCP over both families', () => {
  it('accepts IPv4 and IPv6 clients on one listener', () => {
    const w = world();
    const srv = w.node({ v4: B4, v6: B6 });
    const c4 = w.node({ v4: A4 });
    const c6 = w.node({ v6: A6 });
    const from: string[] = [];
    srv.tcp.listen(23, srv.rt.app('srv'), {
      onAccept: (c) => {
        from.push(`${c.family} ${c.remoteAddress}`);
        return { onData: (cc, d) => void cc.send(d) };
      },
    });
    const r4 = recorder();
    const r6 = recorder();
    c4.tcp.connect(B4, 23, c4.rt.app('cli'), { ...r4.handlers, onConnect: (c) => void c.send('four') });
    c6.tcp.connect(B6, 23, c6.rt.app('cli'), { ...r6.handlers, onConnect: (c) => void c.send('six') });
    w.clock.runUntil(() => r4.events.length > 0 && r6.events.length > 0, 10_000);
    expect(r4.events).toEqual(['data:four']);
    expect(r6.events).toEqual(['data:six']);
    expect(from.sort()).toEqual(['4 10.0.0.1', '6 fd00::1']);
    expect(srv.tcp.connections().filter((row) => row.state === 'LISTEN').map((row) => row.local)).toEqual(['0.0.0.0:23', '[::]:23']);
    expect(srv.tcp.connectionCount).toBe(2);
  });

  it('keeps a listener bound to one address to that address', () => {
    const w = world();
    const srv = w.node({ v4: B4, v6: B6 });
    const cli = w.node({ v4: A4, v6: A6 });
    const got: string[] = [];
    const l = srv.tcp.listen(23, srv.rt.app('srv'), { onAccept: (c) => void got.push(c.remoteAddress) }, { address: parseIp6('fd00::2') });
    expect(l.describe()).toBe('tcp listen [fd00::2]:23');
    // Another listener may take the same port on the other address, but not on every address.
    expect(() => srv.tcp.listen(23, srv.rt.app('srv'), {}, { address: B6 })).toThrow(/already listening/);
    expect(() => srv.tcp.listen(23, srv.rt.app('srv'), {})).toThrow(/already listening/);
    const r4 = recorder();
    const r6 = recorder();
    cli.tcp.connect(B4, 23, cli.rt.app('cli'), r4.handlers);
    cli.tcp.connect(B6, 23, cli.rt.app('cli'), r6.handlers);
    w.clock.runUntil(() => r4.events.length > 0 && got.length > 0, 10_000);
    expect(r4.events).toEqual(['error:ECONNREFUSED']);
    expect(r6.events).toEqual(['connect']);
    expect(got).toEqual(['fd00::1']);
    const l4 = srv.tcp.listen(23, srv.rt.app('srv'), { onAccept: (c) => void got.push(c.remoteAddress) }, { address: B4 });
    const again = recorder();
    cli.tcp.connect(B4, 23, cli.rt.app('cli'), again.handlers);
    w.clock.runUntil(() => got.length > 1, 10_000);
    expect(again.events).toEqual(['connect']);
    expect(got).toEqual(['fd00::1', '10.0.0.1']);
    l.close();
    l4.close();
    expect(srv.tcp.connections().filter((row) => row.state === 'LISTEN')).toEqual([]);
    srv.tcp.listen(23, srv.rt.app('srv'), {});
  });

  it('keeps connections of the same ports apart by address and family', () => {
    const w = world();
    const srv = w.node({ v4: B4, v6: B6 });
    const cli = w.node({ v4: A4, v6: A6 });
    const got: string[] = [];
    srv.tcp.listen(80, srv.rt.app('srv'), {
      onAccept: (c) => ({ onData: (_cc, d) => void got.push(`${c.family}:${new TextDecoder().decode(d)}`) }),
    });
    cli.tcp.connect(B4, 80, cli.rt.app('cli'), { onConnect: (c) => void c.send('v4') }, { localPort: 5000 });
    cli.tcp.connect(B6, 80, cli.rt.app('cli'), { onConnect: (c) => void c.send('v6') }, { localPort: 5000 });
    w.clock.runUntil(() => got.length === 2, 10_000);
    expect(got.sort()).toEqual(['4:v4', '6:v6']);
    expect(cli.tcp.connectionCount).toBe(2);
  });
});

describe('ICMP and ICMPv6 errors to connections', () => {
  /** A TCP over both families whose error sources the test drives. */
  function watched() {
    const w = world();
    const a = w.node({ v4: A4, v6: A6 });
    const b = w.node({ v4: B4, v6: B6 });
    let on4: ((e: IcmpError) => void) | undefined;
    let on6: ((e: Icmpv6Error) => void) | undefined;
    a.tcp.watchErrors(
      { bindErrors: (_o, h) => void (on4 = h.onError) },
      { bindErrors: (_o, h) => void (on6 = h.onError) },
    );
    return { w, a, b, on4: (e: IcmpError) => on4!(e), on6: (e: Icmpv6Error) => on6!(e) };
  }

  /** The first 8 bytes of a segment of `c`, as an ICMP error quotes them. */
  function quote(c: TcpConnection, seq: number): Uint8Array {
    const q = new Uint8Array(8);
    const v = new DataView(q.buffer);
    v.setUint16(0, c.localPort);
    v.setUint16(2, c.remotePort);
    v.setUint32(4, seq);
    return q;
  }

  const v6Header = (src: Ip6, dst: Ip6) => ({ version: 6, trafficClass: 0, flowLabel: 0, payloadLength: 0, nextHeader: 6, hopLimit: 64, src, dst }) as unknown as Icmpv6Error['original'];

  it('lowers the segment size on an ICMPv6 packet too big and resends at once', () => {
    const { w, a, b, on6 } = watched();
    acceptStreamer((p, o, h) => b.tcp.listen(p, o, h), 80, b.rt.app('srv'), new Uint8Array(0));
    const cli = streamer(new Rng(1).bytes(50_000), { chunkSizes: [50_000] });
    const conn = a.tcp.connect(B6, 80, a.rt.app('cli'), cli.handlers);
    w.clock.runUntil(() => conn.state !== 'SYN-SENT', 10_000);
    expect(conn.bufferedAmount).toBeGreaterThan(0);
    const before = conn.timing.mss;
    const sizes: number[] = [];
    w.net6.taps.push((d) => {
      const p = parseTcp(d.bytes, 0, d.bytes.length);
      if (p.ok && p.header.srcPort === conn.localPort) sizes.push(d.bytes.length - p.headerLength);
    });
    on6({ type: 2, code: 0, from: B6, original: v6Header(A6, B6), protocol: 6, transport: quote(conn, (conn as unknown as { sndUna: number }).sndUna), mtu: 1280, pointer: 0 });
    expect(Object.fromEntries(a.tcp.stats.dropReasons)).toEqual({});
    expect(conn.timing.mss).toBe(1280 - 60 - 12);
    expect(conn.timing.mss).toBeLessThan(before);
    expect(a.tcp.counters.pathMtuReductions).toBe(1);
    w.clock.runUntil(() => cli.log.done(), 60_000);
    expect(Math.max(...sizes)).toBe(1280 - 60 - 12);
  });

  it('ignores an error whose quoted sequence number is outside the window (RFC 5927)', () => {
    const { w, a, b, on6 } = watched();
    acceptStreamer((p, o, h) => b.tcp.listen(p, o, h), 80, b.rt.app('srv'), new Uint8Array(0));
    const conn = a.tcp.connect(B6, 80, a.rt.app('cli'), {});
    w.clock.runUntil(() => conn.state === 'ESTABLISHED', 10_000);
    const una = (conn as unknown as { sndUna: number }).sndUna;
    on6({ type: 2, code: 0, from: B6, original: v6Header(A6, B6), protocol: 6, transport: quote(conn, (una + 100_000) >>> 0), mtu: 1280, pointer: 0 });
    expect(a.tcp.counters.pathMtuReductions).toBe(0);
    expect(a.tcp.stats.dropReasons.get('icmp-bad-seq')).toBe(1);
  });

  it('refuses a connect on ICMP port unreachable (IPv4) and ICMPv6 unknown next header', () => {
    const { w, a, on4, on6 } = watched();
    // Nobody answers: the nets lose everything, only the errors arrive.
    w.net4.faults.loss = 1;
    w.net6.faults.loss = 1;
    const r4 = recorder();
    const r6 = recorder();
    const c4 = a.tcp.connect(B4, 80, a.rt.app('cli'), r4.handlers);
    const c6 = a.tcp.connect(B6, 80, a.rt.app('cli'), r6.handlers);
    w.clock.advance(1);
    const iss = (c: TcpConnection) => (c as unknown as { iss: number }).iss;
    // A soft error (no route) leaves the connection trying.
    on6({ type: 1, code: 0, from: B6, original: v6Header(A6, B6), protocol: 6, transport: quote(c6, iss(c6)), mtu: 0, pointer: 0 });
    expect(c6.state).toBe('SYN-SENT');
    on4({ type: 3, code: 3, from: B4, original: { src: A4, dst: B4, protocol: 6 } as IcmpError['original'], transport: quote(c4, iss(c4)), nextHopMtu: 0 });
    on6({ type: 4, code: 1, from: B6, original: v6Header(A6, B6), protocol: 6, transport: quote(c6, iss(c6)), mtu: 0, pointer: 40 });
    expect(r4.events).toEqual(['error:ECONNREFUSED']);
    expect(r6.events).toEqual(['error:ECONNREFUSED']);
  });
});
