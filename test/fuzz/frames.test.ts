/**
 * Bad input never escapes the stack: random frames, real frames with bytes
 * changed, and synthesized frames with random fields are fed to one host. Each
 * must be either accepted (used by some layer) or dropped with a counted reason,
 * no task may crash, and once the timers have run every buffer is back in the pool.
 *
 * The host takes the server's place in the reference captures (its MAC and IP),
 * so the real frames, and the mutants of them, reach deep into the stack.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/core/index.js';
import { createHost } from '../../src/host.js';
import type { Device, FrameHandler } from '../../src/layers/nic/device.js';
import { parseIp4, parseMac } from '../../src/wire/addr.js';
import { internetChecksum } from '../../src/wire/checksum.js';
import { parsePcapBuffer } from '../../src/trace/pcap.js';
import { setIpv4Checksum } from '../../src/wire/ipv4.js';
import { setUdpChecksum } from '../../src/wire/udp.js';

const SERVER_MAC = parseMac('00:00:c0:9f:a0:97');
const CLIENT_MAC = parseMac('00:a0:cc:3b:bf:fa');
const SERVER_IP = parseIp4('192.168.0.1');
const CLIENT_IP = parseIp4('192.168.0.2');

const seeds: Uint8Array[] = ['telnet-raw.pcap', 'telnet-cooked.pcap'].flatMap((f) =>
  parsePcapBuffer(new Uint8Array(readFileSync(path.resolve(process.cwd(), 'test/fixtures/traces', f)))).map((r) => r.data),
);

/** Counts what the host sends and forgets it. */
class NullDevice implements Device {
  readonly name = 'null';
  readonly mtu = 1500;
  sent = 0;
  rx: FrameHandler = () => {};
  constructor(readonly mac: number) {}
  send(): void {
    this.sent++;
  }
  attach(rx: FrameHandler): void {
    this.rx = rx;
  }
}

// ---- generators ---------------------------------------------------------------

const randomFrame = fc.uint8Array({ minLength: 0, maxLength: 1600 });

/** A real frame with some bytes overwritten, maybe cut short or extended. */
const mutatedFrame = fc
  .record({
    seed: fc.nat(),
    edits: fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
    tail: fc.uint8Array({ maxLength: 16 }),
  })
  .map(({ seed, edits, cut, tail }) => {
    const base = seeds[seed % seeds.length]!;
    const f = new Uint8Array(base.length + tail.length);
    f.set(base);
    f.set(tail, base.length);
    for (const [pos, v] of edits) f[pos % f.length] = v;
    return cut === undefined ? f : f.subarray(0, cut % (f.length + 1));
  });

/**
 * A real frame addressed to us whose IP header fields are changed and then
 * given a valid checksum again, so the mutation is judged by the checks after
 * the checksum (lengths, fragments, protocols).
 */
const reheadedFrame = fc
  .record({
    seed: fc.nat(),
    edits: fc.array(fc.tuple(fc.nat(19), fc.nat(255)), { minLength: 1, maxLength: 4 }),
    protocol: fc.constantFrom(1, 6, 17, 253, 99),
  })
  .map(({ seed, edits, protocol }) => {
    const f = seeds[seed % seeds.length]!.slice();
    if (f.length < 34 || f[12] !== 0x08 || f[13] !== 0) return f;
    // Aim it at us.
    f.set([0x00, 0x00, 0xc0, 0x9f, 0xa0, 0x97], 0);
    f.set([192, 168, 0, 1], 30);
    f[23] = protocol;
    for (const [pos, v] of edits) if (pos !== 0 || (v & 0xf0) === 0x40) f[14 + pos] = v; // keep IPv4 mostly
    if (f.length >= 14 + ((f[14]! & 0x0f) * 4)) setIpv4Checksum(f, 14);
    return f;
  });

/** A well-formed Ethernet + IPv4 header to us around a transport header with random fields (valid checksums). */
const synthesizedFrame = fc
  .record({
    protocol: fc.constantFrom(1, 17, 253, 6),
    flags: fc.constantFrom(0, 0, 0, 1, 2),
    fragOffset8: fc.oneof(fc.constant(0), fc.nat(16)),
    id: fc.nat(3),
    payload: fc.uint8Array({ minLength: 0, maxLength: 120 }),
    icmpType: fc.constantFrom(0, 3, 8, 11, 13, 5, 42),
    icmpCode: fc.nat(15),
    port: fc.constantFrom(7, 9, 53, 40000),
    broadcast: fc.boolean(),
  })
  .map(({ protocol, flags, fragOffset8, id, payload, icmpType, icmpCode, port, broadcast }) => {
    let l4: Uint8Array;
    if (protocol === 1) {
      l4 = new Uint8Array(8 + payload.length);
      l4[0] = icmpType;
      l4[1] = icmpCode;
      l4.set(payload, 8);
      if (icmpType === 3 || icmpType === 11) {
        // A plausible quote: an IPv4 header of ours.
        l4[8] = 0x45;
        l4[17] = 17;
      }
      const c = internetChecksum(l4, 0, l4.length);
      l4[2] = c >>> 8;
      l4[3] = c;
    } else if (protocol === 17) {
      l4 = new Uint8Array(8 + payload.length);
      l4.set([0x12, 0x34, port >>> 8, port & 0xff, l4.length >>> 8, l4.length & 0xff], 0);
      l4.set(payload, 8);
      setUdpChecksum(l4, 0, l4.length, CLIENT_IP, SERVER_IP);
    } else {
      l4 = payload;
    }
    const f = new Uint8Array(34 + l4.length);
    f.set(broadcast ? [255, 255, 255, 255, 255, 255] : [0x00, 0x00, 0xc0, 0x9f, 0xa0, 0x97], 0);
    f.set([0x00, 0xa0, 0xcc, 0x3b, 0xbf, 0xfa, 0x08, 0x00], 6);
    const ip = 14;
    const total = 20 + l4.length;
    f.set([0x45, 0, total >>> 8, total & 0xff, 0, id, (flags << 5) | (fragOffset8 >>> 8), fragOffset8 & 0xff, 64, protocol], ip);
    f.set([192, 168, 0, 2], ip + 12);
    f.set(broadcast ? [255, 255, 255, 255] : [192, 168, 0, 1], ip + 16);
    setIpv4Checksum(f, ip);
    f.set(l4, 34);
    return f;
  });

/** ARP packets with random fields, often about us. */
const arpFrame = fc
  .record({
    op: fc.constantFrom(1, 2, 3),
    senderIp: fc.constantFrom(CLIENT_IP, SERVER_IP, 0, parseIp4('192.168.0.77')),
    targetIp: fc.constantFrom(SERVER_IP, CLIENT_IP, parseIp4('10.1.1.1')),
    senderMac: fc.constantFrom(CLIENT_MAC, SERVER_MAC, 0, 0xffff_ffff_ffff),
    hlen: fc.constantFrom(6, 6, 6, 8),
    len: fc.nat(60),
  })
  .map(({ op, senderIp, targetIp, senderMac, hlen, len }) => {
    const f = new Uint8Array(Math.max(14, Math.min(60, 14 + 28 + (len % 20) - 10)));
    const all = new Uint8Array(60);
    all.set([255, 255, 255, 255, 255, 255, 0x00, 0xa0, 0xcc, 0x3b, 0xbf, 0xfa, 0x08, 0x06, 0, 1, 8, 0, hlen, 4, 0, op], 0);
    const dv = new DataView(all.buffer);
    dv.setUint16(22, Math.floor(senderMac / 2 ** 32));
    dv.setUint32(24, senderMac % 2 ** 32);
    dv.setUint32(28, senderIp);
    dv.setUint32(38, targetIp);
    f.set(all.subarray(0, f.length));
    return f;
  });

// ---- the test -----------------------------------------------------------------

describe('fuzz: frames into a host', () => {
  it('never throws out of the stack: every frame is accepted or dropped with a counted reason', () => {
    expect(seeds.length).toBe(364);
    const clock = new VirtualClock();
    const dev = new NullDevice(SERVER_MAC);
    const host = createHost({ name: 'fuzz', device: dev, clock, ip: '192.168.0.1/24', seed: 7 });
    // A UDP service, so some datagrams are delivered all the way up.
    host.udp!.bind(7, host.rt.app('svc'), { onDatagram: () => {} });
    const accepted = (): number => host.arp.counters.accepted + host.ip.counters.fragmentsHeld + host.ip.counters.delivered;

    let total = 0;
    let dropped = 0;
    let used = 0;
    const feed = (frame: Uint8Array): boolean => {
      total++;
      const d0 = host.totalDrops();
      const a0 = accepted();
      dev.rx(frame);
      const d = host.totalDrops() - d0;
      const a = accepted() - a0;
      if (d > 0) dropped++;
      else if (a > 0) used++;
      // Time moves on: ARP retries, reassembly timeouts and the ICMP rate limit come into play.
      if (total % 16 === 0) clock.advance(1);
      return d > 0 || a > 0;
    };

    const runs = { randomFrame: 25_000, mutatedFrame: 30_000, reheadedFrame: 20_000, synthesizedFrame: 20_000, arpFrame: 5_000 };
    const arbs = { randomFrame, mutatedFrame, reheadedFrame, synthesizedFrame, arpFrame };
    let seed = 20260101;
    for (const [name, numRuns] of Object.entries(runs)) {
      fc.assert(fc.property(arbs[name as keyof typeof arbs], feed), { numRuns, seed: seed++, endOnFailure: true });
    }
    // The real captures themselves, unchanged.
    for (const s of seeds) feed(s.slice());

    if (process.env["FUZZ_REPORT"]) console.log(total, used, dropped, JSON.stringify(host.stats().map((r) => [r.module, r.dropReasons])), JSON.stringify({ ip: host.ip.counters, icmp: host.icmp.counters, arp: host.arp.counters, udp: host.udp!.counters }));
    expect(total).toBeGreaterThanOrEqual(100_000);
    expect(used + dropped).toBe(total);
    expect(host.nic.counters.rxFrames).toBe(total);
    expect(host.rt.stats.tasksExpended).toBe(0);
    // Every layer took its share.
    for (const m of ['nic', 'arp', 'ip', 'icmp', 'udp']) expect(host.rt.module(m)!.stats.drops, m).toBeGreaterThan(0);
    expect(host.ip.counters.delivered).toBeGreaterThan(1000);
    expect(host.ip.counters.reassembled).toBeGreaterThan(0);
    expect(host.udp!.counters.delivered).toBeGreaterThan(0);
    expect(host.icmp.counters.echoRepliesSent).toBeGreaterThan(0);

    // Once the timers have run, nothing is held.
    clock.advance(120_000);
    expect(host.ip.reassemblyState()).toEqual({ datagrams: 0, bytes: 0 });
    expect(host.arp.queued).toBe(0);
    expect(host.pool.inUse).toBe(0);
    expect(host.pool.doubleFrees).toBe(0);
  });
});
