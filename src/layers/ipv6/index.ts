/**
 * The IPv6 side of a host: IPv6, ICMPv6 and neighbor discovery on the link
 * IPv4 uses, and the one function a host calls to have them.
 */
import type { Runtime } from '../../core/index.js';
import type { Mac } from '../../wire/addr.js';
import { IP6_ANY, type Ip6 } from '../../wire/addr6.js';
import type { BufferPool } from '../../wire/buffer.js';
import type { LinkLayer } from '../nic/nic.js';
import { Icmpv6, type Icmpv6Options } from './icmpv6.js';
import { Ipv6 } from './ipv6.js';
import { Ndp, type NdpOptions } from './ndp.js';

export * from './icmpv6.js';
export * from './ipv6.js';
export * from './ndp.js';

export interface AttachIpv6Options {
  /** Addresses of the interface (tentative until DAD has run, unless `dad` is false). */
  addresses?: Array<{ address: Ip6; prefixLength: number }>;
  /** Default router (a router advertisement may add others). */
  gateway?: Ip6;
  /** Form the link-local address from the MAC. Default true. */
  linkLocal?: boolean;
  /** Duplicate address detection (on the host's clock: up to 1 s random delay, then 1 s). Default true. */
  dad?: boolean;
  /** Addresses, routes and MTU from router advertisements. Default true. */
  slaac?: boolean;
  /** Replay: every datagram delivered, no NDP, no ICMPv6 answers, reassembly on. */
  promiscuous?: boolean;
  mtu?: number;
  hopLimit?: number;
  /** Reassembly bounds (replay reassembles for every host of a capture at once). */
  reassemblyTimeoutMs?: number;
  reassemblyMaxBytes?: number;
  reassemblyMaxDatagrams?: number;
  icmpv6?: Icmpv6Options;
  ndp?: Omit<NdpOptions, 'dad' | 'slaac'>;
}

export interface Ipv6Stack {
  readonly ipv6: Ipv6;
  readonly icmpv6: Icmpv6;
  readonly ndp: Ndp;
}

/**
 * Builds IPv6 ('ipv6' on ethertype 0x86DD of `link`), ICMPv6 ('icmpv6') and
 * NDP ('ndp', IPv6's resolver) on `rt`, and configures the addresses.
 * `mac` is the link's address (the link-local and SLAAC addresses come from it).
 */
export function attachIpv6(rt: Runtime, link: LinkLayer, pool: BufferPool, mac: Mac, opts: AttachIpv6Options = {}): Ipv6Stack {
  if (mac !== link.mac) throw new RangeError('attachIpv6: mac is not the link\'s address');
  const promiscuous = opts.promiscuous ?? false;
  const ipv6 = new Ipv6(rt, link, pool, {
    promiscuous,
    ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}),
    ...(opts.hopLimit !== undefined ? { hopLimit: opts.hopLimit } : {}),
    ...(opts.reassemblyTimeoutMs !== undefined ? { reassemblyTimeoutMs: opts.reassemblyTimeoutMs } : {}),
    ...(opts.reassemblyMaxBytes !== undefined ? { reassemblyMaxBytes: opts.reassemblyMaxBytes } : {}),
    ...(opts.reassemblyMaxDatagrams !== undefined ? { reassemblyMaxDatagrams: opts.reassemblyMaxDatagrams } : {}),
  });
  const icmpv6 = new Icmpv6(rt, ipv6, opts.icmpv6);
  const ndp = new Ndp(rt, ipv6, icmpv6, link, pool, {
    ...opts.ndp,
    dad: (opts.dad ?? true) && !promiscuous,
    slaac: (opts.slaac ?? true) && !promiscuous,
  });
  if ((opts.linkLocal ?? true) && !promiscuous) ndp.configureLinkLocal();
  for (const a of opts.addresses ?? []) ndp.configure(a.address, a.prefixLength, 'manual');
  if (opts.gateway !== undefined) ipv6.addRoute(IP6_ANY, 0, opts.gateway);
  return { ipv6, icmpv6, ndp };
}
