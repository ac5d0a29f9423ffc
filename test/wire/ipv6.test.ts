import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMac, parseMac } from '../../src/wire/addr.js';
import {
  IP6_ALL_NODES, formatIp6, ip6Copy, ip6Equal, ip6FromPrefixAndMac, ip6InPrefix, ip6LinkLocalFromMac, ip6MulticastMac,
  ip6MulticastScope, ip6SolicitedNode, isIp6LinkLocal, isIp6Loopback, isIp6Multicast, isIp6SolicitedNode,
  isIp6Unspecified, parseIp6, tryParseIp6,
} from '../../src/wire/addr6.js';
import { BufferError, BufferPool } from '../../src/wire/buffer.js';
import { checksumVerifies } from '../../src/wire/checksum.js';
import {
  IP_PROTO_HOPOPTS, IP_PROTO_ICMPV6, IP_PROTO_IPV6_DSTOPTS, IP_PROTO_IPV6_FRAG, IP_PROTO_IPV6_ROUTE, IPV6_HEADER_LENGTH,
  emitIpv6, ipv6PayloadLength, ipv6PseudoHeaderSum, parseIpv6, writeIpv6Header, type Ipv6Header,
} from '../../src/wire/ipv6.js';
import {
  IPV6_OPTION_PADN, IPV6_OPTION_ROUTER_ALERT, emitIpv6ExtensionHeader, ipv6ExtensionProtocol, ipv6OptionAction,
  isIpv6ExtensionHeader, padIpv6Options, parseIpv6ExtensionHeader, walkIpv6Chain, type Ipv6ExtensionHeader,
} from '../../src/wire/ipv6ext.js';
import { first, loadIpv6Trace, num } from './ipv6-traces.js';

const link = loadIpv6Trace('ipv6-link');
const loopback = loadIpv6Trace('ipv6-loopback');
const frame = (n: number): Uint8Array => link[n - 1]!.ip;

describe('IPv6 addresses', () => {
  it('formats as RFC 5952 says', () => {
    const cases: Array<[string, string]> = [
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of two equal runs
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group stays
      ['FE80::ABCD:0012', 'fe80::abcd:12'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
      ['::ffff:c000:0201', '::ffff:192.0.2.1'],
      ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ];
    for (const [text, canonical] of cases) expect(formatIp6(parseIp6(text))).toBe(canonical);
  });

  it('refuses what is not an address', () => {
    for (const bad of [
      '', ':', ':::', '1::2::3', '12345::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::8', 'fe80::1%eth0',
      '::1.2.3.04', '::1.2.3.256', '::1.2.3', 'g::', '1.2.3.4', ':1::', '1::2:',
    ]) {
      expect(tryParseIp6(bad), bad).toBeUndefined();
    }
    expect(() => parseIp6('nope')).toThrow(RangeError);
  });

  it('agrees with the WHATWG URL serializer on random addresses, and round-trips', () => {
    const words = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
      minLength: 8, maxLength: 8,
    });
    fc.assert(fc.property(words, (w) => {
      const text = w.map((x) => x.toString(16)).join(':');
      const a = parseIp6(text);
      const mapped = w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff;
      if (!mapped) expect(formatIp6(a)).toBe(new URL(`http://[${text}]/`).hostname.slice(1, -1));
      expect(ip6Equal(parseIp6(formatIp6(a)), a)).toBe(true);
    }), { seed: 6, numRuns: 2000 });
  });

  it('classifies addresses and derives the multicast and link-local forms', () => {
    expect(isIp6Unspecified(parseIp6('::'))).toBe(true);
    expect(isIp6Loopback(parseIp6('::1'))).toBe(true);
    expect(isIp6Multicast(IP6_ALL_NODES)).toBe(true);
    expect(ip6MulticastScope(parseIp6('ff05::2'))).toBe(5);
    expect(isIp6LinkLocal(parseIp6('fe80::1'))).toBe(true);
    expect(isIp6LinkLocal(parseIp6('febf::1'))).toBe(true);
    expect(isIp6LinkLocal(parseIp6('fec0::1'))).toBe(false);
    expect(formatIp6(ip6SolicitedNode(parseIp6('fd06::2')))).toBe('ff02::1:ff00:2');
    expect(isIp6SolicitedNode(parseIp6('ff02::1:ff00:2'))).toBe(true);
    expect(isIp6SolicitedNode(parseIp6('ff02::1:fe00:2'))).toBe(false);
    expect(formatMac(ip6MulticastMac(parseIp6('ff02::1:ff00:2')))).toBe('33:33:ff:00:00:02');
    expect(ip6InPrefix(parseIp6('fd06::1'), parseIp6('fd06::'), 64)).toBe(true);
    expect(ip6InPrefix(parseIp6('fd07::1'), parseIp6('fd06::'), 64)).toBe(false);
    expect(ip6InPrefix(parseIp6('fd07::1'), parseIp6('fd06::'), 14)).toBe(true);
    expect(ip6InPrefix(parseIp6('fd07::1'), parseIp6('fd06::'), 16)).toBe(false);
    expect(ip6InPrefix(parseIp6('fd07::1'), parseIp6('fd06::1'), 0)).toBe(true);
    const a = parseIp6('fd06::1');
    const c = ip6Copy(a);
    c[15] = 9;
    expect(formatIp6(a)).toBe('fd06::1');
  });

  it('forms the same link-local and SLAAC addresses as the kernel did (modified EUI-64)', () => {
    // Frame 2: the host's router solicitation, from its link-local address, with its MAC in the option.
    const rs = link[1]!;
    const mac = parseMac(rs.tshark['icmpv6.opt.linkaddr']!);
    expect(formatIp6(ip6LinkLocalFromMac(mac))).toBe(rs.tshark['ipv6.src']);
    // Frame 31: after the router advertisement for fd06::/64 the kernel used its SLAAC address.
    expect(formatIp6(ip6FromPrefixAndMac(parseIp6('fd06::'), mac))).toBe(link[30]!.tshark['ipv6.src']);
  });
});

describe('IPv6 header', () => {
  it('parses every frame of both captures as tshark does, and emits it back byte for byte', () => {
    let n = 0;
    for (const f of [...link, ...loopback]) {
      const r = parseIpv6(f.ip, 0, f.ip.length);
      if (!r.ok) throw new Error(`frame ${f.number}: ${r.reason}`);
      const h = r.header;
      expect(formatIp6(h.src)).toBe(first(f, 'ipv6.src'));
      expect(formatIp6(h.dst)).toBe(first(f, 'ipv6.dst'));
      expect(h.payloadLength).toBe(num(first(f, 'ipv6.plen')));
      expect(h.nextHeader).toBe(num(first(f, 'ipv6.nxt')));
      expect(h.hopLimit).toBe(num(first(f, 'ipv6.hlim')));
      expect(h.trafficClass).toBe(num(first(f, 'ipv6.tclass')));
      expect(h.flowLabel).toBe(num(first(f, 'ipv6.flow')));
      expect(emitIpv6(h, f.ip.subarray(40))).toEqual(f.ip);
      n++;
    }
    expect(n).toBe(link.length + loopback.length);
  });

  it('checks the upper-layer checksum over the pseudo-header (UDP after extension headers)', () => {
    let checked = 0;
    for (const f of link) {
      if (f.tshark['udp.srcport'] === undefined || f.tshark['icmpv6.type'] !== undefined) continue;
      const h = parseIpv6(f.ip, 0, f.ip.length);
      if (!h.ok) throw new Error(h.reason);
      // Recognise every option so that the walk goes on to UDP.
      const chain = walkIpv6Chain(f.ip, 0, f.ip.length, h.header.nextHeader, { isKnownOption: () => true });
      if (!chain.ok) throw new Error(chain.reason);
      const { upperOffset } = chain.header;
      const len = f.ip.length - upperOffset;
      const ok = checksumVerifies(f.ip, upperOffset, len, ipv6PseudoHeaderSum(h.header.src, h.header.dst, 17, len));
      // Frame 18 left the host with its checksum to be filled in by the (virtual) NIC.
      expect(ok, `frame ${f.number}`).toBe(f.number !== 18);
      checked++;
    }
    expect(checked).toBe(5);
  });

  it('writes a header with the computed payload length in front of the payload', () => {
    const f = link[11]!.ip; // echo request
    const r = parseIpv6(f, 0, f.length);
    if (!r.ok) throw new Error(r.reason);
    const buf = new BufferPool().alloc(f.length - 40);
    buf.payload().set(f.subarray(40));
    writeIpv6Header(buf, { ...r.header, payloadLength: 0 });
    expect(buf.payload()).toEqual(f);
    const big = new BufferPool().alloc(70_000);
    expect(() => writeIpv6Header(big, r.header)).toThrow(BufferError);
  });

  it('names what is wrong and never throws on truncation', () => {
    const f = frame(12);
    for (let n = 0; n < f.length; n++) expect(parseIpv6(f, 0, n)).toEqual({ ok: false, reason: 'truncated' });
    const v4 = new Uint8Array(f);
    v4[0] = 0x45;
    expect(parseIpv6(v4, 0, v4.length)).toEqual({ ok: false, reason: 'bad-version' });
    expect(parseIpv6(f, 10, f.length)).toEqual({ ok: false, reason: 'out-of-bounds' });
    const cut = parseIpv6(f, 0, 48, false);
    expect(cut.ok && cut.header.payloadLength).toBe(64);
  });

  it('takes a jumbogram\'s length from the frame', () => {
    const h: Ipv6Header = {
      trafficClass: 0, flowLabel: 0, payloadLength: 0, nextHeader: IP_PROTO_HOPOPTS, hopLimit: 64,
      src: parseIp6('fd06::1'), dst: parseIp6('fd06::2'),
    };
    const bytes = emitIpv6(h, new Uint8Array(100));
    const r = parseIpv6(bytes, 0, bytes.length);
    expect(r.ok && ipv6PayloadLength(r.header, bytes.length)).toBe(100);
    const notJumbo = emitIpv6({ ...h, nextHeader: IP_PROTO_ICMPV6 }, new Uint8Array(100));
    const r2 = parseIpv6(notJumbo, 0, notJumbo.length);
    expect(r2.ok && ipv6PayloadLength(r2.header, notJumbo.length)).toBe(0);
  });
});

describe('IPv6 extension headers', () => {
  it('walks the real chains to the upper layer as tshark reads them', () => {
    const seen = new Set<number>();
    for (const f of link) {
      const h = parseIpv6(f.ip, 0, f.ip.length);
      if (!h.ok) throw new Error(h.reason);
      const r = walkIpv6Chain(f.ip, 0, f.ip.length, h.header.nextHeader);
      if (!r.ok) throw new Error(`frame ${f.number}: ${r.reason}`);
      const c = r.header;
      seen.add(h.header.nextHeader);
      if (f.tshark['ipv6.fraghdr.offset'] !== undefined) {
        expect(c.fragmentHeaderOffset).toBe(40);
        const fh = parseIpv6ExtensionHeader(f.ip, 40, f.ip.length - 40, IP_PROTO_IPV6_FRAG);
        if (!fh.ok || fh.header.kind !== 'fragment') throw new Error('fragment');
        expect(fh.header.fragmentOffset / 8).toBe(num(f.tshark['ipv6.fraghdr.offset']));
        expect(fh.header.moreFragments).toBe(f.tshark['ipv6.fraghdr.more'] === '1');
        expect(fh.header.identification).toBe(num(f.tshark['ipv6.fraghdr.ident']));
      }
      if (c.problem === undefined && c.fragmentHeaderOffset < 0) {
        // tshark names the upper layer; the walker must land on it.
        const upper = f.tshark['icmpv6.type'] !== undefined ? IP_PROTO_ICMPV6 : f.tshark['udp.srcport'] !== undefined ? 17 : -1;
        expect(c.upperProtocol, `frame ${f.number}`).toBe(upper);
      }
      // Every extension header round-trips through its record.
      let p = 40;
      let proto = h.header.nextHeader;
      for (let i = 0; i < c.headerCount; i++) {
        const e = parseIpv6ExtensionHeader(f.ip, p, f.ip.length - p, proto);
        if (!e.ok) throw new Error(`frame ${f.number}: ${e.reason}`);
        expect(ipv6ExtensionProtocol(e.header)).toBe(proto);
        expect(emitIpv6ExtensionHeader(e.header)).toEqual(f.ip.subarray(p, p + e.headerLength));
        proto = e.header.nextHeader;
        p += e.headerLength;
      }
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 17, 43, 44, 58, 60]);
  });

  it('reads the router alert of MLD reports (hop-by-hop)', () => {
    const f = frame(1);
    const r = parseIpv6ExtensionHeader(f, 40, f.length - 40, IP_PROTO_HOPOPTS);
    if (!r.ok || r.header.kind !== 'hop-by-hop') throw new Error('hop-by-hop');
    expect(r.header.options.map((o) => o.type)).toEqual([IPV6_OPTION_ROUTER_ALERT, IPV6_OPTION_PADN]);
    expect(r.header.nextHeader).toBe(IP_PROTO_ICMPV6);
  });

  it('reports unknown options and routing headers with the pointer the kernel sent back', () => {
    // Frames 37 and 41 carry unknown options with high bits 10 and 11; the router answered with
    // parameter problems (frames 38, 42) whose pointers our walker must reproduce.
    for (const [sent, answer, action] of [[37, 38, 'discard-icmp'], [41, 42, 'discard-icmp-unless-multicast']] as const) {
      const f = frame(sent);
      const r = walkIpv6Chain(f, 0, f.length, f[6]!);
      if (!r.ok) throw new Error(r.reason);
      expect(r.header.problem).toEqual({ reason: 'unknown-option', action, code: 2, pointer: num(link[answer - 1]!.tshark['icmpv6.pointer']) });
    }
    // Frame 35: an unknown option whose high bits say skip it.
    const skip = walkIpv6Chain(frame(35), 0, frame(35).length, IP_PROTO_IPV6_DSTOPTS);
    expect(skip.ok && skip.header.problem).toBe(undefined);
    expect(skip.ok && skip.header.upperProtocol).toBe(17);
    // Frame 43: a segment routing header (type 4) with one segment left.
    const srh = frame(43);
    const r = walkIpv6Chain(srh, 0, srh.length, IP_PROTO_IPV6_ROUTE);
    if (!r.ok) throw new Error(r.reason);
    expect(r.header.routingHeaderOffset).toBe(40);
    expect(r.header.problem).toEqual({ reason: 'unknown-routing-type', action: 'discard-icmp', code: 0, pointer: 42 });
    const rh = parseIpv6ExtensionHeader(srh, 40, srh.length - 40, IP_PROTO_IPV6_ROUTE);
    expect(rh.ok && rh.header.kind === 'routing' && [rh.header.routingType, rh.header.segmentsLeft]).toEqual([4, 1]);
    expect(ipv6OptionAction(0x1e)).toBe('skip');
    expect(ipv6OptionAction(0x5e)).toBe('discard');
  });

  it('stops after a later fragment and at a misplaced hop-by-hop header', () => {
    const later = frame(15);
    const r = walkIpv6Chain(later, 0, later.length, IP_PROTO_IPV6_FRAG);
    expect(r.ok && [r.header.fragmentHeaderOffset, r.header.upperOffset, r.header.headerCount]).toEqual([40, 48, 1]);
    const chain = buildChain([dst(), hbh()], 17);
    const m = walkIpv6Chain(chain, 0, chain.length, chain[6]!);
    expect(m.ok && m.header.problem).toEqual({ reason: 'misplaced-hop-by-hop', action: 'discard-icmp', code: 1, pointer: 40 });
  });

  it('refuses hostile chains with a counted reason', () => {
    const many = buildChain(Array.from({ length: 9 }, () => dst()), 59);
    expect(walkIpv6Chain(many, 0, many.length, many[6]!)).toEqual({ ok: false, reason: 'too-many-headers' });
    const eight = buildChain(Array.from({ length: 8 }, () => dst()), 59);
    expect(walkIpv6Chain(eight, 0, eight.length, eight[6]!).ok).toBe(true);
    expect(walkIpv6Chain(many, 0, many.length, many[6]!, { maxHeaders: 16 }).ok).toBe(true);
    const pads = Array.from({ length: 4 }, () => ({ type: IPV6_OPTION_PADN, data: new Uint8Array(254) }));
    const fat = buildChain([{ kind: 'destination', nextHeader: 0, options: padIpv6Options(pads) }], 59);
    expect(walkIpv6Chain(fat, 0, fat.length, fat[6]!)).toEqual({ ok: false, reason: 'chain-too-long' });
    const badOpt = buildChain([dst()], 17);
    badOpt[43] = 200; // the PadN claims more than the header holds
    expect(walkIpv6Chain(badOpt, 0, badOpt.length, badOpt[6]!)).toEqual({ ok: false, reason: 'bad-option-length' });
    expect(parseIpv6ExtensionHeader(badOpt, 40, badOpt.length - 40, IP_PROTO_IPV6_DSTOPTS))
      .toEqual({ ok: false, reason: 'bad-option-length' });
    const chain = buildChain([hbh(), dst(), dst()], 17);
    for (let n = 40; n < 64; n++) {
      expect(walkIpv6Chain(chain, 0, n, chain[6]!)).toEqual({ ok: false, reason: 'truncated' });
    }
    expect(walkIpv6Chain(chain, 0, 64, chain[6]!).ok).toBe(true);
    expect(walkIpv6Chain(chain, 0, 30, chain[6]!)).toEqual({ ok: false, reason: 'out-of-bounds' });
  });

  it('builds padded options headers and refuses impossible ones', () => {
    const opts = padIpv6Options([{ type: IPV6_OPTION_ROUTER_ALERT, data: new Uint8Array(2) }]);
    const bytes = emitIpv6ExtensionHeader({ kind: 'hop-by-hop', nextHeader: 58, options: opts });
    expect(Array.from(bytes)).toEqual([58, 0, 5, 2, 0, 0, 1, 0]); // as the kernel writes it in the MLD reports
    expect(Array.from(frame(1).subarray(40, 48))).toEqual(Array.from(bytes));
    const seven = padIpv6Options([{ type: 0x1e, data: new Uint8Array(3) }]);
    expect(emitIpv6ExtensionHeader({ kind: 'destination', nextHeader: 17, options: seven }).length).toBe(8);
    expect(() => emitIpv6ExtensionHeader({ kind: 'destination', nextHeader: 17, options: [] })).toThrow(BufferError);
    expect(() => emitIpv6ExtensionHeader({
      kind: 'destination', nextHeader: 17, options: [{ type: IPV6_OPTION_PADN, data: new Uint8Array(300) }],
    })).toThrow(BufferError);
    expect(() => emitIpv6ExtensionHeader({
      kind: 'fragment', nextHeader: 17, reserved: 0, fragmentOffset: 3, reservedBits: 0, moreFragments: false, identification: 1,
    })).toThrow(BufferError);
    expect(isIpv6ExtensionHeader(58)).toBe(false);
    expect(parseIpv6ExtensionHeader(bytes, 0, 8, 58)).toEqual({ ok: false, reason: 'not-an-extension-header' });
  });
});

function dst(): Ipv6ExtensionHeader {
  return { kind: 'destination', nextHeader: 0, options: [{ type: IPV6_OPTION_PADN, data: new Uint8Array(4) }] };
}

function hbh(): Ipv6ExtensionHeader {
  return { kind: 'hop-by-hop', nextHeader: 0, options: [{ type: IPV6_OPTION_PADN, data: new Uint8Array(4) }] };
}

/** A datagram with the given extension headers (next-header fields chained) and `upper` after them. */
function buildChain(headers: Ipv6ExtensionHeader[], upper: number): Uint8Array {
  const parts = headers.map((h, i) =>
    emitIpv6ExtensionHeader({ ...h, nextHeader: i + 1 < headers.length ? ipv6ExtensionProtocol(headers[i + 1]!) : upper }));
  const payload = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    payload.set(p, at);
    at += p.length;
  }
  return emitIpv6({
    trafficClass: 0, flowLabel: 0, payloadLength: payload.length,
    nextHeader: headers.length > 0 ? ipv6ExtensionProtocol(headers[0]!) : upper, hopLimit: 64,
    src: parseIp6('fd06::1'), dst: parseIp6('fd06::2'),
  }, payload);
}

// Keep the header length constant honest for readers of the walker's offsets.
it('fixed header is 40 bytes', () => expect(IPV6_HEADER_LENGTH).toBe(40));
