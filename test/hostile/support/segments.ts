/**
 * A TCP under test on the fake network, and scripted peers at any address and
 * port that inject segments and see what the TCP sends them.
 */
import { VirtualClock } from '../../../src/core/index.js';
import type { TcpConfig } from '../../../src/layers/tcp/config.js';
import type { TcpConnection } from '../../../src/layers/tcp/index.js';
import { parseIp4, type Ip4 } from '../../../src/wire/addr.js';
import { emitTcp, parseTcp, setTcpChecksum, TCP_ACK, TCP_SYN, type TcpHeader, type TcpOption } from '../../../src/wire/tcp.js';
import { FakeNet, makeHost, type FakeHost } from '../../layers/tcp/support/fake-ip.js';

export const SERVER = parseIp4('10.0.0.1');

export interface Seen {
  at: number;
  dst: Ip4;
  h: TcpHeader;
  len: number;
}

export class Bench {
  readonly clock = new VirtualClock();
  readonly net: FakeNet;
  readonly host: FakeHost;
  readonly seen: Seen[] = [];
  readonly accepted: TcpConnection[] = [];

  constructor(seed: number, config: Partial<TcpConfig> = {}) {
    this.net = new FakeNet(this.clock, seed);
    this.host = makeHost(this.clock, this.net, 'server', '10.0.0.1', seed, config);
    this.net.intercept = (d) => {
      if (d.src !== SERVER) return false;
      const p = parseTcp(d.bytes, 0, d.bytes.length);
      if (p.ok) this.seen.push({ at: d.at, dst: d.dst, h: p.header, len: d.bytes.length - p.headerLength });
      return true;
    };
  }

  listen(port: number, handlers: { onData?: (c: TcpConnection, d: Uint8Array) => void } = {}, opts: { backlog?: number; synBacklog?: number } = {}): void {
    this.host.tcp.listen(port, this.host.rt.app('srv'), {
      onAccept: (c) => {
        this.accepted.push(c);
        return { onData: handlers.onData ?? (() => {}) };
      },
    }, opts);
  }

  send(src: Ip4, srcPort: number, dstPort: number, flags: number, seq: number, ack: number, payload: Uint8Array = new Uint8Array(0), options: TcpOption[] = [], window = 65535): void {
    const bytes = emitTcp(
      { srcPort, dstPort, seq: seq >>> 0, ack: ack >>> 0, flags, reserved: 0, window, checksum: 0, urgentPointer: 0, options },
      payload,
    );
    setTcpChecksum(bytes, 0, bytes.length, src, SERVER);
    this.net.deliver(src, SERVER, 6, bytes);
  }

  /** Segments sent to `dst` since index `from`. */
  to(dst: Ip4, from = 0): Seen[] {
    return this.seen.slice(from).filter((s) => s.dst === dst);
  }

  /** A full handshake from src:srcPort with initial sequence `isn`; returns the server's ISS. */
  handshake(src: Ip4, srcPort: number, dstPort: number, isn: number, options: TcpOption[] = [{ kind: 'mss', mss: 1460 }]): number {
    const from = this.seen.length;
    this.send(src, srcPort, dstPort, TCP_SYN, isn, 0, undefined, options);
    this.clock.advance(1);
    const synAck = this.to(src, from).find((s) => s.h.flags & TCP_SYN);
    if (synAck === undefined) throw new Error('no SYN-ACK');
    this.send(src, srcPort, dstPort, TCP_ACK, isn + 1, synAck.h.seq + 1);
    this.clock.advance(1);
    return synAck.h.seq;
  }
}
