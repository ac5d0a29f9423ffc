import { describe, expect, expectTypeOf, it } from 'vitest';
import { formatMac, parseMac } from '../../src/wire/addr.js';
import { formatIp6, ip6SolicitedNode, parseIp6 } from '../../src/wire/addr6.js';
import { BufferError, BufferPool } from '../../src/wire/buffer.js';
import { setIcmpv6Checksum } from '../../src/wire/icmpv6.js';
import { parseIpv6, type Ipv6Header } from '../../src/wire/ipv6.js';
import {
  NDP_NA_OVERRIDE, NDP_NA_ROUTER, NDP_NA_SOLICITED, NDP_NEIGHBOR_ADVERTISEMENT, NDP_NEIGHBOR_SOLICITATION,
  NDP_PREFIX_AUTONOMOUS, NDP_PREFIX_ON_LINK, NDP_RA_OTHER, NDP_REDIRECT, NDP_ROUTER_ADVERTISEMENT,
  NDP_ROUTER_SOLICITATION, emitNdp, findNdpOption, isNdpType, ndpValidityProblem, parseNdp, parseNdpOptions, writeNdp,
  type NdpMessage, type NdpOption, type NdpSourceLinkLayerOption, type NdpTargetLinkLayerOption,
} from '../../src/wire/ndp.js';
import { first, loadIpv6Trace, num, type TraceFrame } from './ipv6-traces.js';

const link = loadIpv6Trace('ipv6-link');
const byNumber = (n: number): TraceFrame => link[n - 1]!;

function optionTypeNumber(o: NdpOption): number {
  switch (o.kind) {
    case 'source-link-layer': return 1;
    case 'target-link-layer': return 2;
    case 'prefix': return 3;
    case 'redirected-header': return 4;
    case 'mtu': return 5;
    default: return o.type;
  }
}

/** The NDP message of a frame (ICMPv6 right after the fixed header in these captures). */
function ndpOf(f: TraceFrame): { ip: Ipv6Header; bytes: Uint8Array; m: NdpMessage } {
  const h = parseIpv6(f.ip, 0, f.ip.length);
  if (!h.ok) throw new Error(h.reason);
  const bytes = f.ip.subarray(40);
  const r = parseNdp(bytes, 0, bytes.length);
  if (!r.ok) throw new Error(`frame ${f.number}: ${r.reason}`);
  return { ip: h.header, bytes, m: r.header };
}

describe('NDP', () => {
  it('reads every NDP message of the capture as tshark does, finds it valid, and emits it back', () => {
    const types: number[] = [];
    for (const f of link) {
      if (f.ip[6] !== 58 || !isNdpType(f.ip[40]!)) continue;
      const { ip, bytes, m } = ndpOf(f);
      types.push(m.type);
      expect(ndpValidityProblem(ip, bytes, 0, bytes.length, m), `frame ${f.number}`).toBeUndefined();
      expect(emitNdp(m)).toEqual(bytes);
      expect(m.options.map(optionTypeNumber).join(',')).toBe(f.tshark['icmpv6.opt.type'] ?? '');
      const lla = findNdpOption(m.options, m.type === NDP_NEIGHBOR_ADVERTISEMENT || m.type === NDP_REDIRECT
        ? 'target-link-layer' : 'source-link-layer');
      if (lla !== undefined) expect(formatMac(lla.mac)).toBe(f.tshark['icmpv6.opt.linkaddr']);
      switch (m.type) {
        case NDP_NEIGHBOR_SOLICITATION:
          expect(formatIp6(m.target)).toBe(f.tshark['icmpv6.nd.ns.target_address']);
          break;
        case NDP_NEIGHBOR_ADVERTISEMENT:
          expect(formatIp6(m.target)).toBe(f.tshark['icmpv6.nd.na.target_address']);
          expect([(m.flags & NDP_NA_ROUTER) !== 0, (m.flags & NDP_NA_SOLICITED) !== 0, (m.flags & NDP_NA_OVERRIDE) !== 0])
            .toEqual(['r', 's', 'o'].map((x) => f.tshark[`icmpv6.nd.na.flag.${x}`] === '1'));
          break;
        case NDP_ROUTER_ADVERTISEMENT: {
          expect(m.curHopLimit).toBe(num(f.tshark['icmpv6.nd.ra.cur_hop_limit']));
          expect(m.routerLifetime).toBe(num(f.tshark['icmpv6.nd.ra.router_lifetime']));
          expect(m.reachableTime).toBe(num(f.tshark['icmpv6.nd.ra.reachable_time']));
          expect(m.retransTimer).toBe(num(f.tshark['icmpv6.nd.ra.retrans_timer']));
          expect(m.flags).toBe(NDP_RA_OTHER);
          const p = findNdpOption(m.options, 'prefix')!;
          expect(formatIp6(p.prefix)).toBe(f.tshark['icmpv6.opt.prefix']);
          expect(p.prefixLength).toBe(num(f.tshark['icmpv6.opt.prefix.length']));
          expect(p.validLifetime).toBe(num(f.tshark['icmpv6.opt.prefix.valid_lifetime']));
          expect(p.preferredLifetime).toBe(num(f.tshark['icmpv6.opt.prefix.preferred_lifetime']));
          expect(p.flags).toBe(NDP_PREFIX_ON_LINK | NDP_PREFIX_AUTONOMOUS);
          expect(findNdpOption(m.options, 'mtu')!.mtu).toBe(num(f.tshark['icmpv6.opt.mtu']));
          break;
        }
        case NDP_REDIRECT: {
          expect(formatIp6(m.target)).toBe(first(f, 'icmpv6.nd.rd.target_address'));
          expect(formatIp6(m.destination)).toBe('fd09::1');
          const rh = findNdpOption(m.options, 'redirected-header')!;
          const q = parseIpv6(rh.data, 0, rh.data.length, false);
          expect(q.ok && formatIp6(q.header.dst)).toBe('fd09::1');
          break;
        }
        default:
          expect(m.type).toBe(NDP_ROUTER_SOLICITATION);
      }
    }
    expect([...new Set(types)].sort()).toEqual([133, 134, 135, 136, 137]);
    expect(types.length).toBe(12); // as many as tshark shows with `-Y "icmpv6.type >= 133 && icmpv6.type <= 137"`
  });

  it('builds the kernel\'s neighbor solicitation and router advertisement from records', () => {
    for (const n of [10, 28, 30]) {
      const { ip, bytes, m } = ndpOf(byNumber(n));
      const buf = new BufferPool().alloc(0, 'ndp');
      writeNdp(buf, { ...m, checksum: 0 }, ip.src, ip.dst);
      expect(buf.payload()).toEqual(bytes);
    }
    const ns: NdpMessage = {
      type: NDP_NEIGHBOR_SOLICITATION, code: 0, checksum: 0, reserved: 0, target: parseIp6('fd06::2'),
      options: [{ kind: 'source-link-layer', mac: parseMac(byNumber(10).tshark['icmpv6.opt.linkaddr']!) }],
    };
    const buf = new BufferPool().alloc(0);
    writeNdp(buf, ns, parseIp6('fd06::1'), ip6SolicitedNode(parseIp6('fd06::2')));
    expect(buf.payload()).toEqual(byNumber(10).ip.subarray(40));
  });

  it('names the RFC 4861 check a message fails', () => {
    /** A copy of frame `n`'s message changed by `edit` (checksum fixed unless `keepChecksum`), with header `ip`. */
    const check = (n: number, edit: (b: Uint8Array) => void, ipEdit: Partial<Ipv6Header> = {}, keepChecksum = false) => {
      const { ip } = ndpOf(byNumber(n));
      const bytes = byNumber(n).ip.slice(40);
      edit(bytes);
      const h = { ...ip, ...ipEdit };
      if (!keepChecksum) setIcmpv6Checksum(bytes, 0, bytes.length, h.src, h.dst);
      const r = parseNdp(bytes, 0, bytes.length);
      if (!r.ok) return r.reason;
      return ndpValidityProblem(h, bytes, 0, bytes.length, r.header);
    };
    const none = (): void => {};
    expect(check(10, none)).toBeUndefined();
    expect(check(10, none, { hopLimit: 254 })).toBe('bad-hop-limit');
    expect(check(10, (b) => { b[30] ^= 1; }, {}, true)).toBe('bad-checksum');
    expect(check(10, (b) => { b[1] = 1; })).toBe('bad-code');
    expect(check(10, (b) => { b[8] = 0xff; })).toBe('multicast-target');
    // Duplicate address detection (frame 8: from ::) must go to the target's solicited-node group, without a link-layer option.
    expect(check(8, none)).toBeUndefined();
    expect(check(8, none, { dst: parseIp6('ff02::1') })).toBe('bad-destination-for-dad');
    expect(check(10, none, { src: parseIp6('::') })).toBe('unspecified-source-with-link-layer-option');
    expect(check(2, none, { src: parseIp6('::') })).toBe('unspecified-source-with-link-layer-option');
    // Frame 11: a solicited advertisement; sent to all nodes it would be a lie.
    expect(check(11, none, { dst: parseIp6('ff02::1') })).toBe('solicited-to-multicast');
    expect(check(29, none)).toBeUndefined(); // the unsolicited one to all nodes
    expect(check(28, none, { src: parseIp6('fd06::2') })).toBe('source-not-link-local');
    expect(check(30, none, { src: parseIp6('fd06::2') })).toBe('source-not-link-local');
    expect(check(30, (b) => { b[24] = 0xff; })).toBe('multicast-destination');
    expect(check(30, (b) => { b[8] = 0xfd; })).toBe('bad-redirect-target');
    // Parse-level failures.
    expect(check(10, (b) => { b[25] = 0; })).toBe('bad-option-length');
    expect(check(28, (b) => { b[25] = 3; })).toBe('bad-option'); // the MTU option claims 24 bytes
  });

  it('fails, never throws, at every truncation and on options that run past the end', () => {
    for (const n of [2, 10, 11, 28, 30]) {
      const bytes = byNumber(n).ip.subarray(40);
      for (let len = 0; len < bytes.length; len++) {
        const r = parseNdp(bytes, 0, len);
        if (r.ok) expect(len % 8).toBe(0); // cut between options: a shorter valid message
        else expect(['truncated', 'bad-option-length', 'bad-option']).toContain(r.reason);
      }
    }
    expect(parseNdp(Uint8Array.from([128, 0, 0, 0, 0, 0, 0, 0]), 0, 8)).toEqual({ ok: false, reason: 'not-ndp' });
    expect(parseNdpOptions(Uint8Array.from([1, 2, 0, 0, 0, 0, 0, 0]), 0, 8)).toEqual({ ok: false, reason: 'bad-option-length' });
    expect(parseNdp(byNumber(10).ip, 50, 200)).toEqual({ ok: false, reason: 'out-of-bounds' });
  });

  it('keeps unknown options and odd link-layer addresses as bytes, and refuses impossible ones', () => {
    const raw = Uint8Array.from([1, 2, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 14, 1, 9, 9, 9, 9, 9, 9]);
    const r = parseNdpOptions(raw, 0, raw.length);
    if (!r.ok) throw new Error(r.reason);
    expect(r.header.map((o) => o.kind)).toEqual(['raw', 'raw']);
    expect(() => emitNdp({
      type: NDP_ROUTER_SOLICITATION, code: 0, checksum: 0, reserved: 0, options: [{ kind: 'raw', type: 9, data: new Uint8Array(3) }],
    })).toThrow(BufferError);
  });

  it('finds a link-layer option by its kind, typed as that option (its MAC readable without a cast)', () => {
    const options: NdpOption[] = [
      { kind: 'mtu', reserved: 0, mtu: 1280 },
      { kind: 'target-link-layer', mac: parseMac('02:00:00:00:00:02') },
      { kind: 'source-link-layer', mac: parseMac('02:00:00:00:00:01') },
    ];
    const s = findNdpOption(options, 'source-link-layer');
    const t = findNdpOption(options, 'target-link-layer');
    expectTypeOf(s).toEqualTypeOf<NdpSourceLinkLayerOption | undefined>();
    expectTypeOf(t).toEqualTypeOf<NdpTargetLinkLayerOption | undefined>();
    expect(s && formatMac(s.mac)).toBe('02:00:00:00:00:01');
    expect(t && formatMac(t.mac)).toBe('02:00:00:00:00:02');
    expect(findNdpOption(options.slice(0, 1), 'source-link-layer')).toBeUndefined();
  });
});
