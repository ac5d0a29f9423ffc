/**
 * UDP over IPv6 and over both families, on the fake network (a NetLower
 * double of either family): one socket for both families, the IPv6
 * pseudo-header, the checksum IPv6 makes mandatory, port unreachable reported
 * to the network layer the datagram came through.
 */
import { describe, expect, it } from 'vitest';
import { Runtime, VirtualClock } from '../../src/core/index.js';
import { formatIp, type IpAddress } from '../../src/layers/net.js';
import { Udp, type UdpDatagram } from '../../src/layers/udp.js';
import { parseIp4, type Ip4 } from '../../src/wire/addr.js';
import { parseIp6, type Ip6 } from '../../src/wire/addr6.js';
import { checksumVerifies, internetChecksum } from '../../src/wire/checksum.js';
import { ipv6PseudoHeaderSum } from '../../src/wire/ipv6.js';
import { FakeIp, FakeNet } from './tcp/support/fake-ip.js';

const A6 = parseIp6('fd00::1');
const B6 = parseIp6('fd00::2');
const A4 = parseIp4('10.0.0.1');
const B4 = parseIp4('10.0.0.2');

function world() {
  const clock = new VirtualClock();
  const net6 = new FakeNet<Ip6>(clock, 1);
  const net4 = new FakeNet<Ip4>(clock, 2);
  let n = 0;
  const node = (addrs: { v6?: Ip6; v4?: Ip4 }) => {
    const rt = new Runtime({ name: `h${++n}`, clock, seed: n });
    const v6 = addrs.v6 === undefined ? undefined : new FakeIp<Ip6>(rt, net6, addrs.v6);
    const v4 = addrs.v4 === undefined ? undefined : new FakeIp<Ip4>(rt, net4, addrs.v4);
    const udp = new Udp(rt, [v4, v6].filter((l) => l !== undefined));
    return { rt, udp, v6, v4 };
  };
  return { clock, net6, net4, node };
}

/** A UDP datagram with the given checksum field (computed over the IPv6 pseudo-header unless given). */
function datagram6(src: Ip6, dst: Ip6, srcPort: number, dstPort: number, data: Uint8Array, checksum?: number): Uint8Array {
  const out = new Uint8Array(8 + data.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, srcPort);
  v.setUint16(2, dstPort);
  v.setUint16(4, out.length);
  out.set(data, 8);
  v.setUint16(6, checksum ?? internetChecksum(out, 0, out.length, ipv6PseudoHeaderSum(src, dst, 17, out.length)));
  return out;
}

const text = (d: Uint8Array): string => new TextDecoder().decode(d);

describe('UDP over IPv6', () => {
  it('carries datagrams both ways, checksummed over the IPv6 pseudo-header', () => {
    const w = world();
    const a = w.node({ v6: A6 });
    const b = w.node({ v6: B6 });
    const kept: UdpDatagram[] = [];
    const srv = b.udp.bind(7, b.rt.app('srv'), {
      onDatagram: (d) => {
        kept.push(d);
        srv.send(d.src, d.srcPort, d.payload);
      },
    });
    const replies: string[] = [];
    const cli = a.udp.bind(0, a.rt.app('cli'), { onDatagram: (d) => void replies.push(`${formatIp(d.src)} ${text(d.payload)}`) });
    const wire: Array<{ src: Ip6; dst: Ip6; bytes: Uint8Array }> = [];
    w.net6.taps.push((d) => void wire.push(d));
    expect(cli.send(parseIp6('fd00::2'), 7, new TextEncoder().encode('ping6'))).toBe('sent');
    w.clock.runAll();
    expect(replies).toEqual(['fd00::2 ping6']);
    // The address a handler was given is its own, not a view of a packet since reused.
    expect(formatIp(kept[0]!.src)).toBe('fd00::1');
    expect(wire).toHaveLength(2);
    for (const d of wire) {
      expect(d.bytes[6]! | d.bytes[7]!).not.toBe(0);
      expect(checksumVerifies(d.bytes, 0, d.bytes.length, ipv6PseudoHeaderSum(d.src, d.dst, 17, d.bytes.length))).toBe(true);
    }
  });

  it('drops a datagram without a checksum over IPv6, and one with a wrong checksum', () => {
    const w = world();
    w.node({ v6: A6 });
    const b = w.node({ v6: B6 });
    const got: string[] = [];
    b.udp.bind(7, b.rt.app('srv'), { onDatagram: (d) => void got.push(text(d.payload)) });
    const data = new TextEncoder().encode('x');
    w.net6.deliver(A6, B6, 17, datagram6(A6, B6, 1000, 7, data, 0));
    w.net6.deliver(A6, B6, 17, datagram6(A6, B6, 1000, 7, data, 0x1234));
    w.net6.deliver(A6, B6, 17, datagram6(A6, B6, 1000, 7, data));
    w.clock.runAll();
    expect(got).toEqual(['x']);
    expect(Object.fromEntries(b.udp.stats.dropReasons)).toEqual({ 'no-checksum-v6': 1, 'bad-checksum': 1 });
  });

  it('reports a datagram for an unbound port to the IPv6 layer it came through', () => {
    const w = world();
    w.node({ v6: A6 });
    const b = w.node({ v6: B6, v4: B4 });
    w.net6.deliver(A6, B6, 17, datagram6(A6, B6, 1000, 9999, new Uint8Array(4)));
    w.clock.runAll();
    expect(b.v6!.unreachables).toEqual([3]);
    expect(b.v4!.unreachables).toEqual([]);
  });
});

describe('one UDP over both families', () => {
  it('receives on one port from both families and answers each over its own', () => {
    const w = world();
    const srv = w.node({ v4: B4, v6: B6 });
    const c4 = w.node({ v4: A4 });
    const c6 = w.node({ v6: A6 });
    const from: string[] = [];
    const sock = srv.udp.bind(53, srv.rt.app('srv'), {
      onDatagram: (d) => {
        from.push(formatIp(d.src));
        sock.send(d.src, d.srcPort, d.payload);
      },
    });
    const back: string[] = [];
    const s4 = c4.udp.bind(0, c4.rt.app('c'), { onDatagram: (d) => void back.push(text(d.payload)) });
    const s6 = c6.udp.bind(0, c6.rt.app('c'), { onDatagram: (d) => void back.push(text(d.payload)) });
    s4.send(B4, 53, new TextEncoder().encode('four'));
    s6.send(B6, 53, new TextEncoder().encode('six'));
    w.clock.runAll();
    expect(from.sort()).toEqual(['10.0.0.1', 'fd00::1']);
    expect(back.sort()).toEqual(['four', 'six']);
    expect(w.net4.stats.sent).toBe(2);
    expect(w.net6.stats.sent).toBe(2);
  });

  it('has no route to a family it does not run over', () => {
    const w = world();
    const a = w.node({ v4: A4 });
    const s = a.udp.bind(0, a.rt.app('c'), {});
    const dst: IpAddress = B6;
    expect(s.send(dst, 53, new Uint8Array(1))).toBe('no-route');
    expect(a.udp.stats.dropReasons.get('no-route')).toBe(1);
    expect(() => new Udp(new Runtime({ clock: w.clock }), [])).toThrow(RangeError);
  });
});
