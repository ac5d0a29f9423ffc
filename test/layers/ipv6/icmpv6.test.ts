import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/core/index.js';
import { createHost } from '../../../src/host.js';
import type { Icmpv6Error } from '../../../src/layers/ipv6/index.js';
import { SimLink } from '../../../src/layers/nic/sim-link.js';
import { ip6MulticastMac, ip6SolicitedNode, IP6_ALL_NODES, parseIp6, type Ip6 } from '../../../src/wire/addr6.js';
import {
  ICMPV6_DEST_UNREACHABLE, ICMPV6_ECHO_REQUEST, makeIcmpv6DestUnreachable, makeIcmpv6Echo,
} from '../../../src/wire/icmpv6.js';
import { IP_PROTO_ICMPV6 } from '../../../src/wire/ipv6.js';
import { NDP_NEIGHBOR_SOLICITATION } from '../../../src/wire/ndp.js';
import { decode6, frame6, G_A, G_B, hdr, host6, icmp6, ipv6, MAC_A, MAC_B, MAC_X, manual6, ndpFrame, trio, type Host6 } from './helpers.js';

const G_X = parseIp6('fd00::99');

function drops(h: Host6, module: string): Record<string, number> {
  return h.stats().find((r) => r.module === module)!.dropReasons;
}

function fromX(dst: Ip6, payload: Uint8Array, next = IP_PROTO_ICMPV6): Uint8Array {
  return frame6(dst[0] === 0xff ? ip6MulticastMac(dst) : MAC_B, MAC_X, ipv6(hdr(G_X, dst, next), payload));
}

describe('Icmpv6: errors received', () => {
  it('hands errors to the bound transports with the quoted protocol and transport bytes, and to the ping they concern', async () => {
    const { clock, dev, host } = manual6();
    const seen: Array<Pick<Icmpv6Error, 'type' | 'code' | 'protocol'> & { transport: number[]; dst: string }> = [];
    host.icmpv6.bindErrors(host.rt.app('t'), {
      onError: (e) => void seen.push({ type: e.type, code: e.code, protocol: e.protocol, transport: [...e.transport.subarray(0, 4)], dst: e.original.dst.join(',') }),
    });
    // A UDP datagram of ours, port-unreachable at X.
    const udp = Uint8Array.of(0x30, 0x39, 0, 53, 0, 8, 0, 0);
    dev.inject(fromX(G_B, icmp6(makeIcmpv6DestUnreachable(4, ipv6(hdr(G_B, G_X, 17), udp)), G_X, G_B)));
    expect(seen).toEqual([{ type: ICMPV6_DEST_UNREACHABLE, code: 4, protocol: 17, transport: [0x30, 0x39, 0, 53], dst: G_X.join(',') }]);
    // An echo request of ours, unreachable: the ping session hears it. X has introduced itself, so the echo goes at once.
    dev.inject(ndpFrame(ip6MulticastMac(ip6SolicitedNode(G_B)), MAC_X, {
      type: NDP_NEIGHBOR_SOLICITATION, code: 0, checksum: 0, reserved: 0, target: G_B, options: [{ kind: 'source-link-layer', mac: MAC_X }],
    }, G_X, ip6SolicitedNode(G_B)));
    dev.take();
    const errors: number[] = [];
    const p = host.icmpv6.ping(G_X, { timeoutMs: 500, onError: (e) => void errors.push(e.code) });
    const [echo] = decode6(dev.take());
    expect(echo!.payload[0]).toBe(ICMPV6_ECHO_REQUEST);
    // The error quotes the echo as it went out.
    dev.inject(fromX(G_B, icmp6(makeIcmpv6DestUnreachable(3, ipv6(echo!.ip, echo!.payload)), G_X, G_B)));
    clock.advance(600);
    const r = await p;
    expect(r).toMatchObject({ sent: 1, received: 0, errors: 1 });
    expect(errors).toEqual([3]);
    expect(host.icmpv6.counters.errorsReceived).toBe(2);
  });

  it('drops bad checksums, unknown informational types, and echoes when echo is off', () => {
    const { dev, host } = manual6();
    const bad = icmp6(makeIcmpv6Echo(ICMPV6_ECHO_REQUEST, 1, 1, new Uint8Array(4)), G_X, G_B);
    bad[2]! ^= 1;
    dev.inject(fromX(G_B, bad));
    dev.inject(fromX(G_B, icmp6({ type: 200, code: 0, checksum: 0, rest: 0, data: new Uint8Array(0) }, G_X, G_B)));
    host.icmpv6.echo = false;
    dev.inject(fromX(G_B, icmp6(makeIcmpv6Echo(ICMPV6_ECHO_REQUEST, 1, 1, new Uint8Array(4)), G_X, G_B)));
    expect(drops(host, 'icmpv6')).toEqual({ 'bad-checksum': 1, 'unsupported-type': 1, 'echo-disabled': 1 });
    expect(dev.take()).toHaveLength(0);
  });

  it('sends no error to a multicast or unspecified source, nor about a datagram to a group', () => {
    const { dev, host } = manual6();
    dev.inject(frame6(MAC_B, MAC_X, ipv6(hdr(parseIp6('::'), G_B, 253), new Uint8Array(8))));
    dev.inject(fromX(IP6_ALL_NODES, new Uint8Array(8), 253));
    expect(dev.take()).toHaveLength(0);
    expect(drops(host, 'ipv6')['no-protocol']).toBe(2);
    expect(host.icmpv6.counters.errorsSent).toBe(0);
  });
});

describe('Icmpv6: ping', () => {
  it('times out requests to a neighbor that never answers', async () => {
    const { clock, hosts: [a] } = trio(1);
    const timeouts: number[] = [];
    const p = a!.icmpv6.ping(parseIp6('fd00::77'), { count: 2, intervalMs: 500, timeoutMs: 1000, onTimeout: (s) => void timeouts.push(s) });
    clock.advance(5000);
    expect(await p).toMatchObject({ sent: 2, received: 0, lost: 2 });
    expect(timeouts).toEqual([0, 1]);
    expect(a!.icmpv6.liveTimers()).toBe(0);
  });

  it('works the same when every upcall goes through a mailbox (queued dispatch)', async () => {
    const clock = new VirtualClock();
    const link = new SimLink(clock);
    const a = host6(createHost({ name: 'a', link, ip: '10.0.0.1/24', mac: MAC_A, dispatch: 'queued', arp: { announce: false } }), { addresses: [{ address: G_A, prefixLength: 64 }], slaac: false });
    const b = host6(createHost({ name: 'b', link, ip: '10.0.0.2/24', mac: MAC_B, dispatch: 'queued', arp: { announce: false } }), { addresses: [{ address: G_B, prefixLength: 64 }], slaac: false });
    clock.advance(2500);
    const p = a.icmpv6.ping(G_B, { count: 2, intervalMs: 100, size: 2000 });
    clock.advance(1000);
    expect(await p).toMatchObject({ sent: 2, received: 2 });
    expect(b.ipv6.counters.reassembled).toBe(2);
    expect(a.pool.inUse).toBe(0);
    expect(b.pool.inUse).toBe(0);
  });
});
