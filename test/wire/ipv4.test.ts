import { describe, expect, it } from 'vitest';
import { parseIp4 } from '../../src/wire/addr.js';
import { BufferError, BufferPool, EMPTY_BYTES } from '../../src/wire/buffer.js';
import {
  IPV4_FLAG_DF, IPV4_FLAG_MF, IPV4_FLAG_RESERVED, IP_PROTO_TCP, IP_PROTO_UDP, computeIpv4Checksum, emitIpv4,
  ipv4ChecksumOk, ipv4HeaderLength, ipv4IsFragment, ipv4PayloadLength, parseIpv4, setIpv4Checksum, writeIpv4Header,
  type Ipv4Header,
} from '../../src/wire/ipv4.js';

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

// Frame 1 of telnet-raw.pcap from the IP header on: a SYN with 20 bytes of TCP options.
const SYN = hex(
  '4510 003c 16a7 4000 4006 a2b1 c0a8 0002 c0a8 0001' +
    '04e6 0017 0453 d86f 0000 0000 a002 7d78 5d40 0000 0204 05b4 0402 080a 0016 0a25 0000 0000 0103 0300',
);

describe('IPv4 header', () => {
  it('parses every field of a real header', () => {
    const r = parseIpv4(SYN, 0, SYN.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.headerLength).toBe(20);
    expect(r.header).toEqual({
      dscp: 4,
      ecn: 0,
      totalLength: 60,
      identification: 0x16a7,
      flags: IPV4_FLAG_DF,
      fragmentOffset: 0,
      ttl: 64,
      protocol: IP_PROTO_TCP,
      checksum: 0xa2b1,
      src: parseIp4('192.168.0.2'),
      dst: parseIp4('192.168.0.1'),
      options: EMPTY_BYTES,
    });
    expect(ipv4PayloadLength(r.header)).toBe(40);
    expect(ipv4IsFragment(r.header)).toBe(false);
    expect(emitIpv4(r.header, SYN.subarray(20))).toEqual(SYN);
  });

  it('verifies the header checksum as a separate call', () => {
    expect(ipv4ChecksumOk(SYN, 0, 20)).toBe(true);
    expect(computeIpv4Checksum(SYN, 0, 20)).toBe(0xa2b1);
    const bad = new Uint8Array(SYN);
    bad[8] = 63; // TTL changed without fixing the checksum
    const r = parseIpv4(bad, 0, bad.length);
    expect(r.ok).toBe(true); // structure is fine; the checksum is the caller's call
    expect(ipv4ChecksumOk(bad, 0, 20)).toBe(false);
    expect(setIpv4Checksum(bad, 0)).toBe(computeIpv4Checksum(bad, 0, 20));
    expect(ipv4ChecksumOk(bad, 0, 20)).toBe(true);
  });

  it('keeps options, fragment fields and the reserved flag exactly', () => {
    // Router Alert option (94 04 0000), a middle fragment with the "evil" bit set, ECN CE.
    const frag = hex('4603 001c abcd a0b9 0111 0000 0a000001 0a000002 94040000 deadbeef');
    setIpv4Checksum(frag, 0);
    const r = parseIpv4(frag, 0, frag.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.headerLength).toBe(24);
    expect(ipv4HeaderLength(r.header)).toBe(24);
    expect(Array.from(r.header.options)).toEqual([0x94, 0x04, 0, 0]);
    expect(r.header.flags).toBe(IPV4_FLAG_RESERVED | IPV4_FLAG_MF);
    expect(r.header.fragmentOffset).toBe(0xb9 * 8);
    expect(r.header.ecn).toBe(3);
    expect(r.header.protocol).toBe(IP_PROTO_UDP);
    expect(ipv4IsFragment(r.header)).toBe(true);
    expect(ipv4ChecksumOk(frag, 0, 24)).toBe(true);
    expect(emitIpv4(r.header, frag.subarray(24))).toEqual(frag);
  });

  it('ignores link-layer padding beyond the total length', () => {
    const padded = new Uint8Array(SYN.length + 6);
    padded.set(SYN);
    const r = parseIpv4(padded, 0, padded.length);
    expect(r.ok && r.header.totalLength).toBe(60);
  });

  it('names what is wrong with a malformed header', () => {
    const cases: Array<[number, number, string]> = [
      [0, 0x65, 'bad-version'],
      [0, 0x44, 'bad-ihl'],
      [0, 0x4f, 'truncated'], // IHL 60 bytes > 40 available... of a 60-byte datagram: header runs past total
      [3, 0x10, 'bad-total-length'],
      [3, 0x3d, 'truncated'],
    ];
    for (const [at, value, reason] of cases) {
      const b = new Uint8Array(SYN);
      b[at] = value;
      const len = at === 0 && value === 0x4f ? 40 : b.length;
      expect(parseIpv4(b, 0, len)).toEqual({ ok: false, reason });
    }
    expect(parseIpv4(SYN, 30, 40)).toEqual({ ok: false, reason: 'out-of-bounds' });
  });

  it('fails, never throws, at every truncation of the datagram', () => {
    for (let n = 0; n < SYN.length; n++) {
      const r = parseIpv4(SYN, 0, n);
      expect(r).toEqual({ ok: false, reason: 'truncated' });
    }
  });

  it('reads the header of a cut datagram when asked (ICMP quotes)', () => {
    const quote = SYN.subarray(0, 28);
    expect(parseIpv4(quote, 0, 28).ok).toBe(false);
    const r = parseIpv4(quote, 0, 28, false);
    expect(r.ok && r.header.totalLength).toBe(60);
  });

  it('writes a header with computed length and checksum in front of the payload', () => {
    const pool = new BufferPool();
    const buf = pool.alloc(40, 'tcp segment');
    buf.payload().set(SYN.subarray(20));
    const h: Ipv4Header = {
      dscp: 4, ecn: 0, totalLength: 0, identification: 0x16a7, flags: IPV4_FLAG_DF, fragmentOffset: 0, ttl: 64,
      protocol: IP_PROTO_TCP, checksum: 0, src: parseIp4('192.168.0.2'), dst: parseIp4('192.168.0.1'), options: EMPTY_BYTES,
    };
    writeIpv4Header(buf, h);
    expect(buf.payload()).toEqual(SYN);
    buf.release();
  });

  it('refuses to encode impossible headers (programmer errors)', () => {
    const r = parseIpv4(SYN, 0, SYN.length);
    if (!r.ok) throw new Error(r.reason);
    expect(() => emitIpv4({ ...r.header, options: new Uint8Array(3) })).toThrow(BufferError);
    expect(() => emitIpv4({ ...r.header, options: new Uint8Array(44) })).toThrow(BufferError);
    expect(() => emitIpv4({ ...r.header, fragmentOffset: 12 })).toThrow(BufferError);
  });
});
