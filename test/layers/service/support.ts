/**
 * A small network of hosts, each with a Services module, on one SimLink.
 */
import { VirtualClock } from '../../../src/core/index.js';
import { createHost, type Host } from '../../../src/host.js';
import { SimLink, type SimLinkOptions } from '../../../src/layers/nic/sim-link.js';
import { Services, type ServicesOptions } from '../../../src/layers/service/service.js';

export interface Net {
  readonly clock: VirtualClock;
  readonly link: SimLink;
  readonly hosts: Host[];
  readonly svcs: Services[];
}

/**
 * `n` hosts 10.0.0.1.. (or, with `family` 6, IPv6-only hosts fd00::1.., DAD off) on one link; each gets a
 * Services module (and, by default, static ARP entries for the others).
 */
export function net(n: number, link: SimLinkOptions = {}, opts: Partial<Omit<ServicesOptions, 'udp'>> = {}, seed = 1, staticArp = true, family: 4 | 6 = 4): Net {
  const clock = new VirtualClock();
  const l = new SimLink(clock, { seed, ...link });
  const hosts: Host[] = [];
  const svcs: Services[] = [];
  for (let i = 0; i < n; i++) {
    const ip = family === 4 ? `10.0.0.${i + 1}/24` : `fd00::${i + 1}/64`;
    const h = createHost({ name: `h${i + 1}`, link: l, ip, seed: seed * 100 + i + 1, ...(family === 6 ? { ipv6: { dad: false } } : {}) });
    hosts.push(h);
    svcs.push(new Services(h.rt, { udp: h.udp!, ...opts }));
  }
  // ARP has no checksum (NDP's messages have one): a corrupted reply would poison a cache for minutes, a
  // fault below the service layer, so the lossy tests use fixed neighbours.
  if (staticArp && family === 4) for (const a of hosts) for (const b of hosts) if (a !== b) a.arp.addStatic(b.address, b.mac);
  return { clock, link: l, hosts, svcs };
}
