/**
 * A packet filter inserted between the NIC and IP.
 *
 *     npx tsx apps/examples/packet-filter.ts
 *
 * The filter is a module that binds the NIC's IPv4 ethertype slot and offers
 * IP the same shape (the LinkLayer interface: `bindEthertype` + `send`), so IP
 * is built on top of it without knowing. Each received IPv4 datagram is checked
 * against the rules in order; the first match drops it and counts the drop under
 * the rule's name. Outgoing datagrams pass through unchanged (rules could apply
 * there too). Other ethertypes (ARP) bind the NIC directly.
 */
import { pathToFileURL } from 'node:url';
import { Module, SlotTable, VirtualClock, type Binding, type Runtime } from '../../src/core/index.js';
import { createHost } from '../../src/host.js';
import type { PingResult } from '../../src/layers/icmp.js';
import type { EthertypeSlots, LinkLayer } from '../../src/layers/nic/nic.js';
import { SimLink } from '../../src/layers/nic/sim-link.js';
import { formatIp4, parseIp4, type Mac } from '../../src/wire/addr.js';
import type { PacketBuffer } from '../../src/wire/buffer.js';
import { ETHERTYPE_IPV4, type EthernetHeader } from '../../src/wire/ethernet.js';
import { IP_PROTO_ICMP, IP_PROTO_UDP, parseIpv4, type Ipv4Header } from '../../src/wire/ipv4.js';

export interface FilterRule {
  /** Counted as the drop reason. */
  readonly name: string;
  /** `payload` is the IP payload (the transport header first); valid during the call. */
  match(h: Ipv4Header, payload: Uint8Array): boolean;
}

export class PacketFilter extends Module<{ rules: FilterRule[] }> implements LinkLayer {
  private readonly above = new SlotTable<EthertypeSlots>(this, 'ipv4', { onFrame: 'one' });
  readonly passed = { in: 0, out: 0 };

  constructor(
    rt: Runtime,
    readonly below: LinkLayer,
    rules: FilterRule[] = [],
  ) {
    super(rt, 'filter', { rules });
    below.bindEthertype(ETHERTYPE_IPV4, this, { onFrame: (buf, eth) => this.receive(buf, eth) });
  }

  get mac(): Mac {
    return this.below.mac;
  }

  get mtu(): number {
    return this.below.mtu;
  }

  readonly addRule = this.entry('addRule', 'reject', (rule: FilterRule): void => {
    this.lock.locked(() => this.shared.rules.push(rule));
  });

  readonly bindEthertype = this.entry(
    'bindEthertype',
    'reject',
    (ethertype: number, owner: Module, handlers: Partial<EthertypeSlots>): Binding<EthertypeSlots> => {
      // Only IPv4 passes through the filter; anything else is the NIC's business.
      if (ethertype !== ETHERTYPE_IPV4) return this.below.bindEthertype(ethertype, owner, handlers);
      return this.above.bind(owner, handlers);
    },
  );

  readonly send = this.entry('send', 'reentrant', (buf: PacketBuffer, dst: Mac, ethertype: number): void => {
    this.passed.out++;
    this.below.send(buf, dst, ethertype);
  });

  private receive(buf: PacketBuffer, eth: EthernetHeader): void {
    const r = parseIpv4(buf.bytes, buf.start, buf.length);
    // Malformed datagrams are IP's to count; the filter judges only what it can read.
    if (r.ok) {
      const payload = buf.bytes.subarray(buf.start + r.headerLength, buf.start + r.header.totalLength);
      for (const rule of this.shared.rules) {
        if (rule.match(r.header, payload)) {
          this.drop(rule.name, this.rt.observed ? `${formatIp4(r.header.src)} -> ${formatIp4(r.header.dst)}` : undefined);
          return;
        }
      }
    }
    const b = this.above.bindings[0];
    if (b === undefined) {
      this.drop('no-handler');
      return;
    }
    this.passed.in++;
    this.upcall(b, 'onFrame', buf, eth);
  }
}

/** A few ready-made rules. */
export const rules = {
  icmpEchoFrom(src: string): FilterRule {
    const ip = parseIp4(src);
    return { name: `no-ping-from-${src}`, match: (h, p) => h.protocol === IP_PROTO_ICMP && h.src === ip && p[0] === 8 };
  },
  udpPort(port: number): FilterRule {
    return {
      name: `udp-port-${port}`,
      match: (h, p) => h.protocol === IP_PROTO_UDP && h.fragmentOffset === 0 && p.length >= 4 && ((p[2]! << 8) | p[3]!) === port,
    };
  },
};

export interface PacketFilterRun {
  pingFromA: PingResult;
  pingFromC: PingResult;
  udpReceived: number[];
  filterDrops: Record<string, number>;
  lines: string[];
}

export async function runPacketFilter(print: (line: string) => void = (l) => console.log(l)): Promise<PacketFilterRun> {
  const lines: string[] = [];
  const say = (l: string): void => {
    lines.push(l);
    print(l);
  };
  const clock = new VirtualClock();
  const link = new SimLink(clock, { seed: 1, mode: 'switch' });
  let filter: PacketFilter | undefined;
  // The server: NIC -> filter -> IP.
  const server = createHost({
    name: 'server',
    link,
    ip: '10.0.0.2/24',
    belowIp: (nic, rt) => (filter = new PacketFilter(rt, nic, [rules.icmpEchoFrom('10.0.0.1'), rules.udpPort(9)])),
  });
  const a = createHost({ name: 'a', link, ip: '10.0.0.1/24' });
  const c = createHost({ name: 'c', link, ip: '10.0.0.3/24' });
  say('server 10.0.0.2: nic -> filter -> ip, rules: no ping from 10.0.0.1, no UDP to port 9');

  const udpReceived: number[] = [];
  server.udp!.bind(7, server.rt.app('svc'), { onDatagram: (d) => void udpReceived.push(d.dstPort) });
  server.udp!.bind(9, server.rt.app('discard'), { onDatagram: (d) => void udpReceived.push(d.dstPort) });

  const pa = a.ping(server.address, { count: 3, intervalMs: 100, timeoutMs: 200 });
  const pc = c.ping(server.address, { count: 3, intervalMs: 100, timeoutMs: 200 });
  const sock = a.udp!.bind(0, a.rt.app('client'), {});
  sock.send(server.address, 7, new Uint8Array([1]));
  sock.send(server.address, 9, new Uint8Array([2]));
  sock.send(server.address, 7, new Uint8Array([3]));
  clock.runAll();
  const pingFromA = await pa;
  const pingFromC = await pc;
  say(`ping from 10.0.0.1: ${pingFromA.received}/${pingFromA.sent} answered`);
  say(`ping from 10.0.0.3: ${pingFromC.received}/${pingFromC.sent} answered`);
  say(`UDP datagrams the server's sockets got, by port: ${udpReceived.join(', ')}`);
  const filterDrops = Object.fromEntries(filter!.stats.dropReasons);
  say(`filter drops: ${JSON.stringify(filterDrops)}; passed in ${filter!.passed.in}, out ${filter!.passed.out}`);
  return { pingFromA, pingFromC, udpReceived, filterDrops, lines };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void runPacketFilter();
}
