/**
 * The public API of upcall-stack.
 *
 * The runtime and the host assembly are exported flat; each layer's module and
 * its upcall interface too; byte formats live under `wire` and capture files
 * under `trace`, so their many small names stay out of the way.
 *
 * The loop checker is a separate entry point (`upcall-stack/check`,
 * src/check/index.ts): it loads the TypeScript compiler, which this entry must
 * never do, so that importing the stack stays fast and needs no TypeScript.
 *
 * @module upcall-stack
 */
export * from './core/index.js';
export {
  createHost,
  parseCidr,
  parseCidrAny,
  formatStats,
  Host,
  type HostAddress,
  type HostOptions,
  type StatsRow,
  type PoolStats,
} from './host.js';

export { type Device, DeviceWrapper, ManualDevice } from './layers/nic/device.js';
export { Nic, type EthertypeSlots, type NicTapSlots, type LinkLayer, type NicOptions } from './layers/nic/nic.js';
export { SimLink, SimPort, type LinkConditions, type SimLinkOptions } from './layers/nic/sim-link.js';
export { FaultDevice, TraceDevice, PcapDevice, type FaultOptions, type FrameEvent } from './layers/nic/wrappers.js';
export { UdpTunnelDevice, parseEndpoint, type Endpoint, type UdpTunnelOptions } from './layers/nic/udp-tunnel.js';
export { TapLink, tapSupport, type TapLinkOptions } from './layers/nic/tap.js';
export { CaptureLink } from './layers/nic/capture-link.js';
export { Arp, type ArpOptions } from './layers/arp.js';
export { Ip, type IpPacket, type IpSlots, type IpTapSlots, type IpOptions, type SendResult, type SendOptions } from './layers/ip.js';
export { Icmp, type PingOptions, type PingResult } from './layers/icmp.js';
export {
  familyOf,
  formatIp,
  formatEndpoint,
  ipEqual,
  tryParseIp,
  type Family,
  type IpAddress,
  type NetLower,
  type NetPacket,
  type NetSlots,
  type NetSendOptions,
  type NetSendResult,
} from './layers/net.js';
export {
  attachIpv6,
  Ipv6,
  Icmpv6,
  Ndp,
  type AttachIpv6Options,
  type Ipv6Stack,
  type Icmpv6Error,
  type Ping6Options,
  type Ping6Result,
} from './layers/ipv6/index.js';
export { Udp, UdpSocket, type UdpOptions, type UdpDatagram, type UdpSlots, type UdpLower } from './layers/udp.js';
export * from './layers/tcp/index.js';
export { TcpObserver, ObservedFlow, type TcpObserverSlots } from './layers/tcp/observer.js';
export { FlowFollower, FollowCollector, type FollowVerdict, type FollowGap } from './layers/tcp/follow.js';
export * from './layers/telnet/index.js';
export { TelnetTranscriber, renderTranscript, type TelnetTranscript } from './layers/telnet/transcript.js';

export * as wire from './wire/index.js';
export * as trace from './trace/index.js';
export * from './layers/service/index.js';
