import { describe, expect, it } from 'vitest';
import { parseIp4 } from '../../src/wire/addr.js';
import { BufferPool } from '../../src/wire/buffer.js';
import {
  ICMP_DEST_UNREACHABLE, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_TIME_EXCEEDED, ICMP_TIME_EXCEEDED_TTL,
  ICMP_UNREACH_FRAG_NEEDED, ICMP_UNREACH_PORT, computeIcmpChecksum, emitIcmp, icmpChecksumOk, icmpEchoIdentifier,
  icmpEchoSequence, icmpNextHopMtu, isIcmpError, makeIcmpDestUnreachable, makeIcmpEcho, makeIcmpTimeExceeded,
  parseIcmp, parseIcmpQuotedDatagram, setIcmpChecksum, writeIcmpHeader,
} from '../../src/wire/icmp.js';
import { IP_PROTO_UDP } from '../../src/wire/ipv4.js';

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

const enc = new TextEncoder();
// A Windows-style ping: identifier 1, sequence 5, 32 bytes of the alphabet.
const ECHO = Uint8Array.from([...hex('0800 4d56 0001 0005'), ...enc.encode('abcdefghijklmnopqrstuvwabcdefghi')]);

// The datagram a port-unreachable quotes: IP header + 8 bytes of UDP.
const QUOTE = hex('4500 0021 1234 0000 4011 0000 c0a80002 c0a80001 0400 0035 000d 0000');

describe('ICMP', () => {
  it('parses an echo request', () => {
    const r = parseIcmp(ECHO, 0, ECHO.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.headerLength).toBe(8);
    expect(r.header.type).toBe(ICMP_ECHO_REQUEST);
    expect(r.header.code).toBe(0);
    expect(r.header.checksum).toBe(0x4d56);
    expect(icmpEchoIdentifier(r.header)).toBe(1);
    expect(icmpEchoSequence(r.header)).toBe(5);
    expect(new TextDecoder().decode(r.header.data)).toBe('abcdefghijklmnopqrstuvwabcdefghi');
    expect(icmpChecksumOk(ECHO, 0, ECHO.length)).toBe(true);
    expect(computeIcmpChecksum(r.header)).toBe(0x4d56);
    expect(isIcmpError(r.header)).toBe(false);
    expect(emitIcmp(r.header)).toEqual(ECHO);
  });

  it('detects a corrupted message', () => {
    const bad = new Uint8Array(ECHO);
    bad[20] ^= 0x20;
    expect(icmpChecksumOk(bad, 0, bad.length)).toBe(false);
    setIcmpChecksum(bad, 0, bad.length);
    expect(icmpChecksumOk(bad, 0, bad.length)).toBe(true);
  });

  it('answers an echo with a reply built in a pooled buffer', () => {
    const req = parseIcmp(ECHO, 0, ECHO.length);
    if (!req.ok) throw new Error(req.reason);
    const buf = new BufferPool().alloc(req.header.data.length, 'echo reply');
    buf.payload().set(req.header.data);
    writeIcmpHeader(buf, makeIcmpEcho(ICMP_ECHO_REPLY, 1, 5, req.header.data));
    const reply = buf.payload();
    expect(icmpChecksumOk(reply, 0, reply.length)).toBe(true);
    const back = parseIcmp(reply, 0, reply.length);
    expect(back.ok && back.header.type).toBe(ICMP_ECHO_REPLY);
    expect(back.ok && icmpEchoSequence(back.header)).toBe(5);
    // Only type and checksum differ from the request.
    expect(reply.subarray(4)).toEqual(ECHO.subarray(4));
  });

  it('carries the original datagram in destination unreachable and time exceeded', () => {
    for (const m of [
      makeIcmpDestUnreachable(ICMP_UNREACH_PORT, QUOTE),
      makeIcmpDestUnreachable(ICMP_UNREACH_FRAG_NEEDED, QUOTE, 1400),
      makeIcmpTimeExceeded(ICMP_TIME_EXCEEDED_TTL, QUOTE),
    ]) {
      const bytes = emitIcmp({ ...m, checksum: computeIcmpChecksum(m) });
      expect(icmpChecksumOk(bytes, 0, bytes.length)).toBe(true);
      const r = parseIcmp(bytes, 0, bytes.length);
      if (!r.ok) throw new Error(r.reason);
      expect(isIcmpError(r.header)).toBe(true);
      expect([ICMP_DEST_UNREACHABLE, ICMP_TIME_EXCEEDED]).toContain(r.header.type);
      if (r.header.code === ICMP_UNREACH_FRAG_NEEDED) expect(icmpNextHopMtu(r.header)).toBe(1400);
      const q = parseIcmpQuotedDatagram(r.header);
      expect(q.ok).toBe(true);
      if (!q.ok) continue;
      expect(q.header.protocol).toBe(IP_PROTO_UDP);
      expect(q.header.dst).toBe(parseIp4('192.168.0.1'));
      const ports = r.header.data.subarray(q.headerLength);
      expect((ports[2]! << 8) | ports[3]!).toBe(53);
      expect(emitIcmp(r.header)).toEqual(bytes);
    }
  });

  it('keeps unknown types and the rest-of-header word verbatim', () => {
    const odd = hex('2a07 1234 deadbeef 0102');
    const r = parseIcmp(odd, 0, odd.length);
    expect(r.ok && r.header.rest).toBe(0xdeadbeef);
    if (r.ok) expect(emitIcmp(r.header)).toEqual(odd);
  });

  it('fails, never throws, at every truncation of the header', () => {
    for (let n = 0; n < 8; n++) expect(parseIcmp(ECHO, 0, n)).toEqual({ ok: false, reason: 'truncated' });
    for (let n = 8; n <= ECHO.length; n++) expect(parseIcmp(ECHO, 0, n).ok).toBe(true);
    expect(parseIcmp(ECHO, 4, ECHO.length)).toEqual({ ok: false, reason: 'out-of-bounds' });
  });

  it('reports a quote too short to hold an IP header', () => {
    const m = parseIcmp(hex('0303 0000 00000000 4500'), 0, 10);
    if (!m.ok) throw new Error(m.reason);
    expect(parseIcmpQuotedDatagram(m.header)).toEqual({ ok: false, reason: 'truncated' });
  });
});
