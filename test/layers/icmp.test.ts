import { describe, expect, it } from 'vitest';
import type { IcmpError } from '../../src/layers/icmp.js';
import type { SimPort } from '../../src/layers/nic/sim-link.js';
import { parseIp4 } from '../../src/wire/addr.js';
import { ICMP_DEST_UNREACHABLE, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, parseIcmp } from '../../src/wire/icmp.js';
import { internetChecksum } from '../../src/wire/checksum.js';
import { emitIpv4, type Ipv4Header } from '../../src/wire/ipv4.js';
import { describeFrame, icmpEcho, IP_A, IP_B, ipFrame, MAC_A, MAC_B, manualHost, pair, udp } from './helpers.js';

function icmpMessage(type: number, code: number, rest: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + data.length);
  out[0] = type;
  out[1] = code;
  new DataView(out.buffer).setUint32(4, rest);
  out.set(data, 8);
  const c = internetChecksum(out, 0, out.length);
  out[2] = c >>> 8;
  out[3] = c;
  return out;
}

/** A quoted datagram: an IPv4 header and 8 bytes of transport header. */
function quote(src: number, dst: number, protocol: number): Uint8Array {
  const h: Ipv4Header = { dscp: 0, ecn: 0, totalLength: 28, identification: 1, flags: 0, fragmentOffset: 0, ttl: 64, protocol, checksum: 0, src, dst, options: new Uint8Array(0) };
  return emitIpv4(h, new Uint8Array(8));
}

/** The quote an ICMP error about `frame` carries: its IP header and the first 8 bytes after it. */
function quoteOf(f: ReturnType<typeof describeFrame>): Uint8Array {
  return emitIpv4(f.ip!, f.ipPayload!.subarray(0, 8)).subarray(0, 28);
}

describe('Icmp: echo', () => {
  it('answers an echo request with the same identifier, sequence and data', () => {
    const { dev, host } = manualHost({ arp: { announce: false } });
    host.arp.addStatic(IP_A, MAC_A);
    const data = new Uint8Array([1, 2, 3, 4, 5]);
    dev.inject(ipFrame(MAC_B, MAC_A, { src: IP_A, dst: IP_B, protocol: 1, payload: icmpEcho(ICMP_ECHO_REQUEST, 0x1234, 7, data) }));
    expect(dev.sent).toHaveLength(1);
    const f = describeFrame(dev.sent[0]!);
    expect(f.dst).toBe(MAC_A);
    expect(f.ip!.src).toBe(IP_B);
    expect(f.ip!.dst).toBe(IP_A);
    const m = parseIcmp(f.ipPayload!, 0, f.ipPayload!.length);
    expect(m.ok && m.header.type).toBe(ICMP_ECHO_REPLY);
    expect(m.ok && m.header.rest).toBe((0x1234 << 16) | 7);
    expect(m.ok && [...m.header.data]).toEqual([1, 2, 3, 4, 5]);
    expect(host.icmp.counters.echoRepliesSent).toBe(1);
    expect(host.pool.inUse).toBe(0);
  });

  it('pings across the link: rtt measured on the clock', async () => {
    // 1 ms each way; 100 Mbit/s: a 98-byte frame takes (98 + 24) * 8 / 1e8 s = 9.76 us to serialize.
    // No gratuitous ARP, so the first echo waits for a request and its reply.
    const { clock, a, b } = pair({ delayMs: 1, bandwidthBps: 100e6 }, { arp: { announce: false } }, { arp: { announce: false } });
    const p = a.ping(b.address, { count: 3, intervalMs: 100 });
    clock.runAll();
    const r = await p;
    expect(r).toMatchObject({ sent: 3, received: 3, lost: 0, duplicates: 0, aborted: false });
    // The first one waited for ARP (a request and a reply, 60-byte frames: 6.72 us each).
    const echo = 2 * (1 + 0.00976);
    const arp = 2 * (1 + 0.00672);
    expect(r.replies[0]!.rttMs).toBeCloseTo(arp + echo, 9);
    expect(r.replies[1]!.rttMs).toBeCloseTo(echo, 9);
    expect(r.replies.map((x) => [x.seq, x.ttl, x.bytes])).toEqual([
      [0, 64, 64],
      [1, 64, 64],
      [2, 64, 64],
    ]);
    expect(a.icmp.activePings).toBe(0);
    expect(a.icmp.liveTimers()).toBe(0);
  });

  it('times out requests to a host that is not there', async () => {
    const { clock, a } = pair();
    const timeouts: number[] = [];
    const p = a.ping(parseIp4('10.0.0.77'), { count: 2, intervalMs: 500, timeoutMs: 1000, onTimeout: (s) => void timeouts.push(s) });
    clock.runAll();
    const r = await p;
    expect(r).toMatchObject({ sent: 2, received: 0, lost: 2 });
    expect(timeouts).toEqual([0, 1]);
    expect(a.pool.inUse).toBe(0);
  });

  it('reports duplicate replies without counting them as received', async () => {
    const { clock, a, b } = pair();
    (b.device as SimPort).setConditions({ duplicate: 1 });
    const p = a.ping(b.address, { count: 3, intervalMs: 10 });
    clock.runAll();
    const r = await p;
    expect(r.received).toBe(3);
    // The session ends with the last first reply: its twin arrives after and is counted as unexpected.
    expect(r.duplicates).toBe(2);
    expect(a.icmp.stats.dropReasons.get('unexpected-reply')).toBe(1);
  });

  it('does not answer a broadcast echo request', () => {
    const { dev, host } = manualHost({ arp: { announce: false } });
    dev.inject(ipFrame(MAC_B, MAC_A, { src: IP_A, dst: parseIp4('10.0.0.255'), protocol: 1, payload: icmpEcho(8, 1, 1, new Uint8Array(4)) }));
    expect(dev.sent).toHaveLength(0);
    expect(host.icmp.stats.dropReasons.get('broadcast-echo')).toBe(1);
  });

  it('drops messages with a bad checksum or unknown type', () => {
    const { dev, host } = manualHost({ arp: { announce: false } });
    const bad = icmpEcho(8, 1, 1, new Uint8Array(4));
    bad[3]! ^= 1;
    dev.inject(ipFrame(MAC_B, MAC_A, { src: IP_A, dst: IP_B, protocol: 1, payload: bad }));
    dev.inject(ipFrame(MAC_B, MAC_A, { src: IP_A, dst: IP_B, protocol: 1, payload: icmpEcho(42, 1, 1, new Uint8Array(4)) }));
    dev.inject(ipFrame(MAC_B, MAC_A, { src: IP_A, dst: IP_B, protocol: 1, payload: new Uint8Array(3) }));
    expect(Object.fromEntries(host.icmp.stats.dropReasons)).toEqual({ 'bad-checksum': 1, 'unsupported-type': 1, truncated: 1 });
    expect(dev.sent).toHaveLength(0);
  });
});

describe('Icmp: errors', () => {
  it('answers a datagram for an unbound protocol with protocol unreachable, which the sender hears', () => {
    const { clock, a, b } = pair();
    const errors: IcmpError[] = [];
    a.icmp.bindErrors(a.rt.app('listener'), { onError: (e) => void errors.push({ ...e, transport: e.transport.slice() }) });
    const buf = a.ip.alloc(12);
    buf.bytes.fill(0xab, buf.start, buf.end);
    a.ip.send(IP_B, 200, buf);
    clock.runAll();
    expect(b.ip.stats.dropReasons.get('no-protocol')).toBe(1);
    expect(b.icmp.counters.errorsSent).toBe(1);
    expect(errors).toHaveLength(1);
    const e = errors[0]!;
    expect([e.type, e.code, e.from]).toEqual([ICMP_DEST_UNREACHABLE, 2, IP_B]);
    expect([e.original.protocol, e.original.src, e.original.dst]).toEqual([200, IP_A, IP_B]);
    expect([...e.transport]).toEqual(new Array(8).fill(0xab));
  });

  it('answers a UDP datagram for an unbound port with port unreachable', () => {
    const { dev, host } = manualHost({ arp: { announce: false } });
    host.arp.addStatic(IP_A, MAC_A);
    dev.inject(ipFrame(MAC_B, MAC_A, { src: IP_A, dst: IP_B, protocol: 17, payload: udp(IP_A, IP_B, 1111, 2222, new Uint8Array([1])) }));
    expect(dev.sent).toHaveLength(1);
    const f = describeFrame(dev.sent[0]!);
    const m = parseIcmp(f.ipPayload!, 0, f.ipPayload!.length);
    expect(m.ok && [m.header.type, m.header.code]).toEqual([3, 3]);
    // The quote: the original header (20 bytes) and the first 8 bytes of UDP.
    expect(m.ok && m.header.data.length).toBe(28);
  });

  it('never sends an error about an error, or to a broadcast', () => {
    const { dev, host } = manualHost({ arp: { announce: false } });
    host.arp.addStatic(IP_A, MAC_A);
    // A protocol nobody handles, but sent to the broadcast address.
    dev.inject(ipFrame(MAC_B, MAC_A, { src: IP_A, dst: parseIp4('255.255.255.255'), protocol: 99, payload: new Uint8Array(8) }));
    expect(dev.sent).toHaveLength(0);
    // An ICMP error received: handled (counted), never answered.
    dev.inject(ipFrame(MAC_B, MAC_A, { src: IP_A, dst: IP_B, protocol: 1, payload: icmpMessage(3, 3, 0, quote(IP_B, IP_A, 17)) }));
    expect(host.icmp.counters.errorsReceived).toBe(1);
    expect(dev.sent).toHaveLength(0);
  });

  it('rate-limits the errors it sends (token bucket on the clock)', () => {
    const { clock, dev, host } = manualHost({ arp: { announce: false }, icmp: { errorRatePerSec: 2, errorBurst: 3 } });
    host.arp.addStatic(IP_A, MAC_A);
    const junk = () => ipFrame(MAC_B, MAC_A, { src: IP_A, dst: IP_B, protocol: 99, payload: new Uint8Array(8) });
    for (let i = 0; i < 10; i++) dev.inject(junk());
    expect(dev.take()).toHaveLength(3);
    expect(host.icmp.stats.dropReasons.get('rate-limited')).toBe(7);
    clock.advance(1000); // two more tokens
    for (let i = 0; i < 10; i++) dev.inject(junk());
    expect(dev.take()).toHaveLength(2);
  });

  it('tells a ping session about an error quoting one of its requests', async () => {
    const { clock, dev, host } = manualHost({ arp: { announce: false } });
    host.arp.addStatic(IP_A, MAC_A);
    const codes: number[] = [];
    const p = host.ping(IP_A, { count: 1, timeoutMs: 500, onError: (e) => void codes.push(e.code) });
    const request = describeFrame(dev.take()[0]!);
    // A router on the way answers "host unreachable", quoting our header and 8 bytes of the echo.
    const ipHeaderAndEcho = quoteOf(request);
    dev.inject(ipFrame(MAC_B, MAC_A, { src: parseIp4('10.0.0.254'), dst: IP_B, protocol: 1, payload: icmpMessage(3, 1, 0, ipHeaderAndEcho) }));
    clock.runAll();
    const r = await p;
    expect(codes).toEqual([1]);
    expect(r).toMatchObject({ sent: 1, received: 0, errors: 1 });
  });
});
