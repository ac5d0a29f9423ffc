/**
 * The part of IP that TCP uses, as an interface: the real `Ip` module satisfies
 * it, and so does a test double, so TCP can be exercised over any substrate that
 * delivers datagrams.
 */
import type { Binding, Module } from '../../core/index.js';
import type { Ip4 } from '../../wire/addr.js';
import type { PacketBuffer } from '../../wire/buffer.js';
import type { IpPacket, IpSlots, SendOptions, SendResult } from '../ip.js';

export type { IpPacket, IpSlots, SendOptions, SendResult };

export interface TcpLower {
  /** Primary local address. */
  readonly address: Ip4;
  bindProtocol(protocol: number, owner: Module, handlers: Partial<IpSlots>): Binding<IpSlots>;
  /** Takes ownership of `buf` (segment at start..end, headroom in front). */
  send(dst: Ip4, protocol: number, buf: PacketBuffer, opts?: SendOptions): SendResult;
  /** A buffer with headroom for every header below TCP and `payloadLength` bytes of data. */
  alloc(payloadLength: number, label?: string): PacketBuffer;
  sourceFor(dst: Ip4): Ip4 | undefined;
  pathMtu(dst: Ip4): number;
}
