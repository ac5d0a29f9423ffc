import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/core/index.js';
import { Rng } from '../src/core/index.js';
import { createHost, formatStats, parseCidr, parseCidrAny, type Host } from '../src/host.js';
import { formatIp } from '../src/layers/net.js';
import { createConnection, createServer } from '../src/layers/tcp/stream.js';
import type { TcpConnection, TcpError } from '../src/layers/tcp/index.js';
import { parseIp6 } from '../src/wire/addr6.js';
import type { PingResult } from '../src/layers/icmp.js';
import { SimLink, type SimLinkOptions } from '../src/layers/nic/sim-link.js';
import { PcapDevice } from '../src/layers/nic/wrappers.js';
import { PcapWriter } from '../src/trace/pcap.js';
import { parseIp4 } from '../src/wire/addr.js';
import { itNeeds } from './support/needs.js';

const TSHARK = '/usr/bin/tshark';
const dir = mkdtempSync(path.join(tmpdir(), 'host-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function twoHosts(link: SimLinkOptions, extra: { dispatch?: 'direct' | 'queued' } = {}) {
  const clock = new VirtualClock();
  const sim = new SimLink(clock, link);
  const a = createHost({ name: 'a', link: sim, ip: '10.0.0.1/24', seed: 11, ...extra });
  const b = createHost({ name: 'b', link: sim, ip: '10.0.0.2/24', seed: 12, ...extra });
  return { clock, link: sim, a, b };
}

/** Both hosts ping each other at once; returns both results. */
async function pingBothWays(seed: number, loss: number): Promise<[PingResult, PingResult]> {
  const { clock, a, b } = twoHosts({ seed, loss });
  const pa = a.ping(b.address, { count: 50, intervalMs: 200, timeoutMs: 1000 });
  const pb = b.ping(a.address, { count: 50, intervalMs: 200, timeoutMs: 1000 });
  clock.runUntil(() => a.icmp.activePings === 0 && b.icmp.activePings === 0);
  return [await pa, await pb];
}

const summary = (r: PingResult) => ({ received: r.received, replies: r.replies.map((x) => [x.seq, +x.rttMs.toFixed(6)]) });

describe('host', () => {
  it('two hosts on a link with 10% loss ping each other, deterministically from the seed', async () => {
    const [ab, ba] = await pingBothWays(2026, 0.1);
    // Loss is real: some replies go missing, most arrive.
    expect(ab.received).toBeLessThan(50);
    expect(ab.received).toBeGreaterThan(30);
    expect(ba.received).toBeLessThan(50);
    expect(ba.received).toBeGreaterThan(30);
    // The same seed replays the same run, to the microsecond; another seed gives another.
    const [ab2, ba2] = await pingBothWays(2026, 0.1);
    expect(summary(ab2)).toEqual(summary(ab));
    expect(summary(ba2)).toEqual(summary(ba));
    const [ab3] = await pingBothWays(2027, 0.1);
    expect(summary(ab3)).not.toEqual(summary(ab));
  });

  it('returns every buffer to the pool after traffic', async () => {
    const { clock, a, b } = twoHosts({ seed: 3, loss: 0.1, duplicate: 0.05, reorder: 0.05, corrupt: 0.02 });
    const baseA = a.pool.inUse;
    const baseB = b.pool.inUse;
    const app = b.rt.app('echo');
    const srv = b.udp!.bind(7, app, { onDatagram: (d) => void srv.send(d.src, d.srcPort, d.payload) });
    const cli = a.udp!.bind(0, a.rt.app('c'), {});
    for (let i = 0; i < 30; i++) clock.schedule(i * 50, () => cli.send(b.address, 7, new Uint8Array(100 + i * 150)));
    const p = a.ping(b.address, { count: 20, intervalMs: 100, size: 3000 }); // fragmented both ways
    clock.runAll();
    await p;
    clock.advance(60_000); // reassembly timeouts, ARP retries
    expect(a.pool.inUse).toBe(baseA);
    expect(b.pool.inUse).toBe(baseB);
    expect(a.leaks()).toEqual([]);
    expect(a.pool.doubleFrees + b.pool.doubleFrees).toBe(0);
    expect(a.rt.stats.tasksExpended + b.rt.stats.tasksExpended).toBe(0);
  });

  it('works the same with every upcall delivered through a mailbox (queued dispatch)', async () => {
    const { clock, a, b } = twoHosts({ seed: 1 }, { dispatch: 'queued' });
    const p = a.ping(b.address, { count: 5, intervalMs: 100, size: 2000 });
    const errors: number[][] = [];
    a.icmp.bindErrors(a.rt.app('errors'), { onError: (e) => void errors.push([e.code, e.original.protocol, ...e.transport.subarray(2, 4)]) });
    a.udp!.send(5555, b.address, 9, new Uint8Array(3)); // nobody on port 9: port unreachable
    const got: number[][] = [];
    b.udp!.bind(7, b.rt.app('seven'), { onDatagram: (d) => void got.push([...d.payload]) });
    a.udp!.send(5555, b.address, 7, new Uint8Array([1, 2, 3]));
    clock.runAll();
    const r = await p;
    expect(r.received).toBe(5);
    expect(errors).toEqual([[3, 17, 0, 9]]);
    expect(got).toEqual([[1, 2, 3]]);
    expect(a.pool.inUse + b.pool.inUse).toBe(0);
  });

  it('reports per-module counters', async () => {
    const { clock, a, b } = twoHosts({ seed: 1 });
    const p = a.ping(b.address, { count: 2, intervalMs: 10 });
    clock.runAll();
    await p;
    const rows = a.stats();
    expect(rows.map((r) => r.module)).toEqual(['nic', 'arp', 'ip', 'icmp', 'udp']);
    for (const r of rows) expect(Object.keys(r).sort()).toEqual(['cleanups', 'deferrals', 'dropReasons', 'drops', 'entries', 'module', 'upcalls']);
    expect(rows.find((r) => r.module === 'nic')!.upcalls).toBeGreaterThan(0);
    const text = formatStats(rows);
    expect(text.split('\n')[0]).toMatch(/^module\s+entries\s+upcalls\s+deferrals\s+cleanups\s+drops$/);
    expect(text.split('\n')).toHaveLength(6);
    // Modules added later show up without further wiring.
    b.rt.app('telnet-to-be');
    expect(b.stats().map((r) => r.module)).toContain('telnet-to-be');
  });

  it('parses its configuration', () => {
    expect(parseCidr('192.168.1.9/16')).toEqual({ address: parseIp4('192.168.1.9'), prefixLength: 16 });
    expect(() => parseCidr('10.0.0.1')).toThrow();
    const h = createHost({ ip: '10.1.2.3/8', gateway: '10.0.0.1', mac: '02:aa:bb:cc:dd:ee' });
    expect(h.address).toBe(parseIp4('10.1.2.3'));
    expect(h.mac).toBe(0x02aabbccddee);
    expect(h.ip.route(parseIp4('1.1.1.1'))!.gateway).toBe(parseIp4('10.0.0.1'));
  });

  itNeeds(['tshark'], 'writes a pcap that tshark opens with no malformed packets and no checksum errors', async () => {
    const file = path.join(dir, 'traffic.pcap');
    const clock = new VirtualClock();
    const link = new SimLink(clock, { seed: 4, loss: 0.05 });
    const writer = new PcapWriter(file);
    const a = createHost({ name: 'a', device: new PcapDevice(link.attach('a'), writer, clock), ip: '10.0.0.1/24' });
    const b: Host = createHost({ name: 'b', link, ip: '10.0.0.2/24' });
    const app = b.rt.app('echo');
    const srv = b.udp!.bind(7, app, { onDatagram: (d) => void srv.send(d.src, d.srcPort, d.payload) });
    const cli = a.udp!.bind(0, a.rt.app('c'), {});
    for (let i = 0; i < 10; i++) clock.schedule(i * 30, () => cli.send(b.address, 7, new Uint8Array(1 + i * 400).fill(i)));
    clock.schedule(500, () => cli.send(b.address, 9, new Uint8Array(4))); // port unreachable
    clock.schedule(600, () => {
      const buf = a.ip.alloc(10);
      buf.bytes.fill(1, buf.start, buf.end);
      a.ip.send(b.address, 200, buf); // protocol unreachable
    });
    const p = a.ping(b.address, { count: 10, intervalMs: 50, size: 2500 });
    clock.runAll();
    await p;
    await writer.close();
    const out = execFileSync(
      TSHARK,
      ['-n', '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-r', file, '-T', 'fields', '-e', 'frame.number', '-e', '_ws.col.Protocol', '-e', '_ws.expert.severity', '-e', '_ws.malformed', '-e', 'ip.checksum.status', '-e', 'udp.checksum.status', '-e', 'icmp.checksum.status'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const rows = out.trim().split('\n').map((l) => l.split('\t'));
    expect(rows.length).toBe(writer.recordsWritten);
    expect(rows.length).toBeGreaterThan(40);
    const protocols = new Set(rows.map((r) => r[1]));
    for (const want of ['ARP', 'ICMP', 'UDP', 'IPv4']) expect(protocols).toContain(want);
    for (const r of rows) {
      expect(r[3], `frame ${r[0]} malformed`).toBe('');
      // Checksum status: 0 = bad, 1 = good, 2 = unverified (a fragment's transport header).
      for (const status of [r[4], r[5], r[6]]) for (const s of (status ?? '').split(',')) expect(s, `frame ${r[0]}: ${r.join(' | ')}`).not.toBe('0');
    }
    // tshark's expert info: nothing at warning (6291456) or error (8388608) severity.
    const severities = rows.flatMap((r) => (r[2] ?? '').split(',').filter((s) => s !== '').map(Number));
    expect(severities.filter((s) => s >= 6291456)).toEqual([]);
  });
});

describe('dual-stack host', () => {
  function dualHosts(link: SimLinkOptions, dad = true) {
    const clock = new VirtualClock();
    const sim = new SimLink(clock, link);
    const ipv6 = { dad };
    const a = createHost({ name: 'a', link: sim, ip: ['10.0.0.1/24', 'fd00::1/64'], seed: 21, tcp: true, ipv6 });
    const b = createHost({ name: 'b', link: sim, ip: ['10.0.0.2/24', 'fd00::2/64'], seed: 22, tcp: true, ipv6 });
    // Duplicate address detection holds the addresses tentative for a while.
    if (dad) clock.advance(3_000);
    return { clock, link: sim, a, b };
  }

  it('builds IPv6, ICMPv6 and NDP beside IPv4, and lists them', () => {
    const { a } = dualHosts({ seed: 1 });
    expect(a.ipv6).toBeDefined();
    expect(formatIp(a.address6!)).toBe('fd00::1');
    expect(a.address).toBe(parseIp4('10.0.0.1'));
    const names = a.stats().map((r) => r.module);
    for (const m of ['ip', 'ipv6', 'icmpv6', 'ndp', 'udp', 'tcp']) expect(names).toContain(m);
    expect(a.tcp!.lowers.map((l) => l.family)).toEqual([4, 6]);
    expect(a.udp!.lowers.map((l) => l.family)).toEqual([4, 6]);
    expect(parseCidrAny('fd00::1/64')).toEqual({ address: parseIp6('fd00::1'), prefixLength: 64 });
    expect(parseCidrAny('10.0.0.1/8')).toEqual({ address: parseIp4('10.0.0.1'), prefixLength: 8 });
    expect(() => parseCidrAny('fd00::1/129')).toThrow(/129/);
    expect(() => createHost({ ip: ['10.0.0.1/24', '10.0.0.2/24'] })).toThrow(/one IPv4/);
  });

  it('pings over IPv6 and over IPv4 from one host', async () => {
    const { clock, a, b } = dualHosts({ seed: 2 });
    const p6 = a.ping('fd00::2', { count: 3, intervalMs: 10 });
    const p4 = a.ping('10.0.0.2', { count: 3, intervalMs: 10 });
    clock.runUntil(() => a.icmp.activePings === 0 && a.icmpv6!.activePings === 0, 10_000);
    const [r6, r4] = await Promise.all([p6, p4]);
    expect(r6.received).toBe(3);
    expect(r4.received).toBe(3);
    expect(formatIp(r6.replies[0]!.from)).toBe('fd00::2');
    expect(b.ndp).toBeDefined();
  });

  it('carries TCP over IPv6 byte-exact through 3% loss, beside IPv4, and UDP over both', () => {
    const { clock, a, b } = dualHosts({ seed: 3, loss: 0.03 });
    const data = new Rng(5).bytes(300_000);
    const got: Uint8Array[] = [];
    const families: number[] = [];
    b.tcp!.listen(9, b.rt.app('sink'), {
      onAccept: (c) => {
        families.push(c.family);
        return { onData: (_c, d) => void got.push(d.slice()), onClose: (cc, how) => void (how === 'peer-fin' && cc.close()) };
      },
    });
    let closed = false;
    const conn: TcpConnection = a.tcp!.connect(parseIp6('fd00::2'), 9, a.rt.app('src'), {
      onConnect: (c) => {
        c.send(data);
        c.close();
      },
      onClose: (_c, how) => void (closed = how === 'closed' || closed),
    });
    const echoes: string[] = [];
    const srv = b.udp!.bind(7, b.rt.app('echo'), { onDatagram: (d) => void srv.send(d.src, d.srcPort, d.payload) });
    const cli = a.udp!.bind(0, a.rt.app('c'), { onDatagram: (d) => void echoes.push(formatIp(d.src)) });
    cli.send(parseIp6('fd00::2'), 7, new Uint8Array(100));
    cli.send(parseIp4('10.0.0.2'), 7, new Uint8Array(100));
    clock.runUntil(() => closed && echoes.length >= 1, 600_000);
    expect(conn.family).toBe(6);
    expect(families).toEqual([6]);
    expect(Buffer.compare(Buffer.concat(got), data)).toBe(0);
    expect(a.tcp!.counters.retransmissions + a.tcp!.counters.fastRetransmits).toBeGreaterThan(0);
    // UDP has no retransmission: with loss, whichever echo came back came from its own family.
    for (const e of echoes) expect(['fd00::2', '10.0.0.2']).toContain(e);
  });

  it('serves a Duplex client over IPv6', async () => {
    const { clock, a, b } = dualHosts({ seed: 4 }, false);
    const server = createServer(b.tcp!, (s) => s.pipe(s));
    server.listen(8080);
    expect(server.address()).toEqual({ address: '::', family: 'IPv6', port: 8080 });
    const s = createConnection(a.tcp!, { host: 'fd00::2', port: 8080 });
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => void chunks.push(d));
    s.write('over six');
    for (let i = 0; i < 50 && Buffer.concat(chunks).toString() !== 'over six'; i++) {
      clock.advance(10);
      await new Promise((r) => setImmediate(r));
    }
    expect(Buffer.concat(chunks).toString()).toBe('over six');
    expect(s.remoteFamily).toBe('IPv6');
    expect(s.remoteAddress).toBe('fd00::2');
    s.destroy();
    server.close();
    const only6 = createServer(b.tcp!, () => undefined);
    only6.listen({ port: 8081, host: '[fd00::2]' });
    expect(only6.address()).toEqual({ address: 'fd00::2', family: 'IPv6', port: 8081 });
    only6.close();
  });

  it('refuses a connect at once when the peer answers with ICMP protocol unreachable or ICMPv6 unknown next header', () => {
    const clock = new VirtualClock();
    const sim = new SimLink(clock, { seed: 6 });
    const a = createHost({ name: 'a', link: sim, ip: ['10.0.0.1/24', 'fd00::1/64'], tcp: true, ipv6: { dad: false } });
    // No TCP on b: its IPv4 and IPv6 layers answer the SYNs with errors.
    createHost({ name: 'b', link: sim, ip: ['10.0.0.2/24', 'fd00::2/64'], ipv6: { dad: false } });
    const codes: string[] = [];
    a.tcp!.connect(parseIp4('10.0.0.2'), 80, a.rt.app('c'), { onError: (_c, e) => void codes.push(`4 ${e.code}`) });
    a.tcp!.connect(parseIp6('fd00::2'), 80, a.rt.app('c'), { onError: (_c, e) => void codes.push(`6 ${e.code}`) });
    clock.runUntil(() => codes.length === 2, 60_000);
    expect(codes.sort()).toEqual(['4 ECONNREFUSED', '6 ECONNREFUSED']);
    // Well before the first retransmission of the SYN (1 s).
    expect(clock.now()).toBeLessThan(100);
  });

  it('builds an IPv6-only host: TCP and UDP over IPv6 alone', () => {
    const clock = new VirtualClock();
    const sim = new SimLink(clock, { seed: 5 });
    const h = createHost({ name: 'six', link: sim, ip: 'fd00::6/64', tcp: true, ipv6: { dad: false } });
    const peer = createHost({ name: 'peer', link: sim, ip: ['10.0.0.9/24', 'fd00::9/64'], tcp: true, ipv6: { dad: false } });
    expect(h.address).toBe(0);
    expect(h.tcp!.lowers.map((l) => l.family)).toEqual([6]);
    expect(h.udp!.lowers.map((l) => l.family)).toEqual([6]);
    const errors: TcpError[] = [];
    h.tcp!.connect(parseIp4('10.0.0.9'), 80, h.rt.app('c'), { onError: (_c, e) => void errors.push(e) });
    let up = false;
    peer.tcp!.listen(80, peer.rt.app('s'), { onAccept: () => ({}) });
    h.tcp!.connect(parseIp6('fd00::9'), 80, h.rt.app('c'), { onConnect: () => void (up = true) });
    clock.runUntil(() => up && errors.length > 0, 10_000);
    expect(errors.map((e) => e.code)).toEqual(['ENETUNREACH']);
    expect(up).toBe(true);
  });
});

