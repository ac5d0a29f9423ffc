import { describe, expect, it } from 'vitest';
import { formatIp6, parseIp6 } from '../../src/wire/addr6.js';
import { BufferPool } from '../../src/wire/buffer.js';
import {
  ICMPV6_DEST_UNREACHABLE, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPV6_MAX_QUOTE, ICMPV6_PACKET_TOO_BIG,
  ICMPV6_PARAM_PROBLEM, ICMPV6_PARAM_UNKNOWN_OPTION, ICMPV6_TIME_EXCEEDED, ICMPV6_TIME_EXCEEDED_HOP_LIMIT,
  ICMPV6_UNREACH_ADDRESS, ICMPV6_UNREACH_PORT, computeIcmpv6Checksum, emitIcmpv6, icmpv6ChecksumOk,
  icmpv6EchoIdentifier, icmpv6EchoSequence, icmpv6Mtu, icmpv6Pointer, isIcmpv6Error, makeIcmpv6DestUnreachable,
  makeIcmpv6Echo, makeIcmpv6PacketTooBig, makeIcmpv6ParamProblem, makeIcmpv6TimeExceeded, parseIcmpv6,
  parseIcmpv6QuotedPacket, setIcmpv6Checksum, writeIcmpv6Header,
} from '../../src/wire/icmpv6.js';
import { IP_PROTO_ICMPV6, parseIpv6, writeIpv6Header } from '../../src/wire/ipv6.js';
import { walkIpv6Chain } from '../../src/wire/ipv6ext.js';
import { first, loadIpv6Trace, num, type TraceFrame } from './ipv6-traces.js';

const link = loadIpv6Trace('ipv6-link');
const loopback = loadIpv6Trace('ipv6-loopback');
const byNumber = (n: number): TraceFrame => link[n - 1]!;

/** The ICMPv6 message of a frame: its offset in `f.ip`, its length, and the IPv6 header. */
function icmpOf(f: TraceFrame) {
  const h = parseIpv6(f.ip, 0, f.ip.length);
  if (!h.ok) throw new Error(h.reason);
  const c = walkIpv6Chain(f.ip, 0, f.ip.length, h.header.nextHeader);
  if (!c.ok) throw new Error(c.reason);
  if (c.header.upperProtocol !== IP_PROTO_ICMPV6 || c.header.fragmentHeaderOffset >= 0) return undefined;
  const at = c.header.upperOffset;
  return { ip: h.header, at, len: f.ip.length - at };
}

describe('ICMPv6', () => {
  it('reads every ICMPv6 message of the captures as tshark does and emits it back', () => {
    let n = 0;
    for (const f of [...link, ...loopback]) {
      const m = icmpOf(f);
      if (m === undefined) continue;
      const r = parseIcmpv6(f.ip, m.at, m.len);
      if (!r.ok) throw new Error(r.reason);
      expect(r.header.type).toBe(num(first(f, 'icmpv6.type')));
      expect(r.header.code).toBe(num(first(f, 'icmpv6.code')));
      expect(r.header.checksum).toBe(num(first(f, 'icmpv6.checksum')));
      expect(icmpv6ChecksumOk(f.ip, m.at, m.len, m.ip.src, m.ip.dst)).toBe(first(f, 'icmpv6.checksum.status') === '1');
      expect(computeIcmpv6Checksum(f.ip, m.at, m.len, m.ip.src, m.ip.dst)).toBe(r.header.checksum);
      if (r.header.type === ICMPV6_ECHO_REQUEST || r.header.type === ICMPV6_ECHO_REPLY) {
        expect(icmpv6EchoIdentifier(r.header)).toBe(num(first(f, 'icmpv6.echo.identifier')));
        expect(icmpv6EchoSequence(r.header)).toBe(num(first(f, 'icmpv6.echo.sequence_number')));
      }
      expect(emitIcmpv6(r.header)).toEqual(f.ip.subarray(m.at));
      n++;
    }
    expect(n).toBe(37);
  });

  it('reads the errors the kernel sent and the packets they quote', () => {
    const cases: Array<[number, number, number]> = [
      [19, ICMPV6_DEST_UNREACHABLE, ICMPV6_UNREACH_PORT],
      [21, ICMPV6_TIME_EXCEEDED, ICMPV6_TIME_EXCEEDED_HOP_LIMIT],
      [25, ICMPV6_PACKET_TOO_BIG, 0],
      [38, ICMPV6_PARAM_PROBLEM, ICMPV6_PARAM_UNKNOWN_OPTION],
      [40, ICMPV6_DEST_UNREACHABLE, ICMPV6_UNREACH_ADDRESS],
    ];
    for (const [frame, type, code] of cases) {
      const f = byNumber(frame);
      const m = icmpOf(f)!;
      const r = parseIcmpv6(f.ip, m.at, m.len);
      if (!r.ok) throw new Error(r.reason);
      expect([r.header.type, r.header.code]).toEqual([type, code]);
      expect(isIcmpv6Error(r.header)).toBe(true);
      const q = parseIcmpv6QuotedPacket(r.header);
      if (!q.ok) throw new Error(q.reason);
      // tshark's second ipv6.dst is the quoted packet's.
      expect(formatIp6(q.header.dst)).toBe(f.tshark['ipv6.dst']!.split(',')[1]);
      if (type === ICMPV6_PACKET_TOO_BIG) {
        expect(icmpv6Mtu(r.header)).toBe(num(f.tshark['icmpv6.mtu']));
        expect(f.ip.length).toBe(1280); // the kernel filled the error up to the minimum MTU
      }
      if (type === ICMPV6_PARAM_PROBLEM) expect(icmpv6Pointer(r.header)).toBe(num(f.tshark['icmpv6.pointer']));
    }
  });

  it('checks an echo request split in two fragments over the reassembled pseudo-header', () => {
    const a = byNumber(14).ip;
    const b = byNumber(15).ip;
    const whole = new Uint8Array(a.length - 48 + b.length - 48);
    whole.set(a.subarray(48));
    whole.set(b.subarray(48), a.length - 48);
    const h = parseIpv6(a, 0, a.length);
    if (!h.ok) throw new Error(h.reason);
    expect(whole.length).toBe(2008);
    expect(icmpv6ChecksumOk(whole, 0, whole.length, h.header.src, h.header.dst)).toBe(true);
    expect(icmpv6ChecksumOk(whole, 0, whole.length, h.header.dst, parseIp6('fd06::3'))).toBe(false);
  });

  it('answers the real echo request with the bytes the kernel answered', () => {
    const req = byNumber(12);
    const m = icmpOf(req)!;
    const r = parseIcmpv6(req.ip, m.at, m.len);
    if (!r.ok) throw new Error(r.reason);
    const buf = new BufferPool().alloc(r.header.data.length, 'echo reply');
    buf.payload().set(r.header.data);
    const reply = makeIcmpv6Echo(ICMPV6_ECHO_REPLY, icmpv6EchoIdentifier(r.header), icmpv6EchoSequence(r.header), r.header.data);
    writeIcmpv6Header(buf, reply, m.ip.dst, m.ip.src);
    const kernel = byNumber(13).ip;
    expect(buf.payload()).toEqual(kernel.subarray(40));
    const k = parseIpv6(kernel, 0, kernel.length);
    if (!k.ok) throw new Error(k.reason);
    writeIpv6Header(buf, { ...k.header, payloadLength: 0 });
    expect(buf.payload()).toEqual(kernel);
    buf.release();
  });

  it('builds errors that quote at most what fits the minimum MTU', () => {
    const src = parseIp6('fd06::2');
    const dst = parseIp6('fd06::1');
    const big = new Uint8Array(3000);
    for (const e of [
      makeIcmpv6DestUnreachable(ICMPV6_UNREACH_PORT, big),
      makeIcmpv6PacketTooBig(1280, big),
      makeIcmpv6TimeExceeded(ICMPV6_TIME_EXCEEDED_HOP_LIMIT, big),
      makeIcmpv6ParamProblem(ICMPV6_PARAM_UNKNOWN_OPTION, 42, big),
    ]) {
      expect(e.data.length).toBe(ICMPV6_MAX_QUOTE);
      const bytes = emitIcmpv6(e);
      expect(40 + bytes.length).toBe(1280);
      setIcmpv6Checksum(bytes, 0, bytes.length, src, dst);
      expect(icmpv6ChecksumOk(bytes, 0, bytes.length, src, dst)).toBe(true);
    }
    expect(makeIcmpv6DestUnreachable(0, new Uint8Array(48)).data.length).toBe(48);
  });

  it('fails, never throws, at every truncation', () => {
    const f = byNumber(12).ip.subarray(40);
    for (let n = 0; n < 8; n++) expect(parseIcmpv6(f, 0, n)).toEqual({ ok: false, reason: 'truncated' });
    for (let n = 8; n <= f.length; n++) expect(parseIcmpv6(f, 0, n).ok).toBe(true);
    expect(parseIcmpv6(f, 4, f.length)).toEqual({ ok: false, reason: 'out-of-bounds' });
    const short = parseIcmpv6(Uint8Array.from([1, 4, 0, 0, 0, 0, 0, 0, 0x60, 0]), 0, 10);
    if (!short.ok) throw new Error(short.reason);
    expect(parseIcmpv6QuotedPacket(short.header)).toEqual({ ok: false, reason: 'truncated' });
  });
});
