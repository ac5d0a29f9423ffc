/**
 * A device whose wire is UDP: each Ethernet frame travels as one datagram
 * between two `host:port` endpoints, so stacks in different processes (or a
 * socat relay to a Linux TAP device) share one link.
 *
 * Frames arrive outside any task (a socket callback); the NIC starts the task.
 * The sender's bytes are copied into the datagram: after `send` returns they go
 * back to the sender's pool, while the socket sends later.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Mac } from '../../wire/addr.js';
import type { Device, FrameHandler } from './device.js';

export interface Endpoint {
  host: string;
  port: number;
}

/** "host:port" (or ":port" / "port" for 127.0.0.1). */
export function parseEndpoint(text: string): Endpoint {
  const i = text.lastIndexOf(':');
  const host = i > 0 ? text.slice(0, i) : '127.0.0.1';
  const portText = i >= 0 ? text.slice(i + 1) : text;
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535 || portText === '') {
    throw new RangeError(`not a host:port endpoint: '${text}'`);
  }
  return { host: host.replace(/^\[|\]$/g, ''), port };
}

export interface UdpTunnelOptions {
  name?: string;
  mac: Mac;
  /** Largest Ethernet payload (default 1500). */
  mtu?: number;
  /** Where to listen (port 0: any free port). */
  local: Endpoint;
  /** Where frames go. Omitted: learned from the first datagram received (frames sent before are dropped and counted). */
  remote?: Endpoint;
  /**
   * Socket buffer sizes in bytes (the kernel caps them at net.core.rmem_max /
   * wmem_max). A burst from a fast peer that finds the receive buffer full is
   * lost on this host before the stack sees it, so bulk transfers want more than
   * the default (about 90 full frames).
   */
  recvBufferSize?: number;
  sendBufferSize?: number;
}

export interface UdpTunnelStats {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Datagrams too large or too small to be an Ethernet frame of this link. */
  badDatagrams: number;
  /** Frames sent before the remote end was known. */
  noRemote: number;
  /** Datagrams from an address other than the remote. */
  strangers: number;
  sendErrors: number;
}

const ETHERNET_HEADER = 14;

export class UdpTunnelDevice implements Device {
  readonly name: string;
  readonly mac: Mac;
  readonly mtu: number;
  readonly stats: UdpTunnelStats = {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    badDatagrams: 0,
    noRemote: 0,
    strangers: 0,
    sendErrors: 0,
  };
  private rx: FrameHandler | null = null;
  private remote: Endpoint | undefined;
  private closed = false;

  private constructor(
    private readonly socket: dgram.Socket,
    opts: UdpTunnelOptions,
    readonly local: Endpoint,
  ) {
    this.name = opts.name ?? `udp:${local.port}`;
    this.mac = opts.mac;
    this.mtu = opts.mtu ?? 1500;
    this.remote = opts.remote;
    socket.on('message', (msg, from) => this.onDatagram(msg, from));
    // A peer that is not listening yet makes the kernel report ICMP errors on the socket: not fatal.
    socket.on('error', () => this.stats.sendErrors++);
  }

  /**
   * Bind the local endpoint and return the device. A remote given by name is
   * resolved once, here: datagrams are matched against the address they come
   * from, which is never a name.
   */
  static async open(opts: UdpTunnelOptions): Promise<UdpTunnelDevice> {
    const family = opts.local.host.includes(':') ? 6 : 4;
    const remote = opts.remote === undefined ? undefined : { host: await resolveHost(opts.remote.host, family), port: opts.remote.port };
    const socket = dgram.createSocket({
      type: family === 6 ? 'udp6' : 'udp4',
      ...(opts.recvBufferSize !== undefined ? { recvBufferSize: opts.recvBufferSize } : {}),
      ...(opts.sendBufferSize !== undefined ? { sendBufferSize: opts.sendBufferSize } : {}),
    });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(opts.local.port, opts.local.host, () => {
        socket.off('error', reject);
        const a = socket.address();
        resolve(new UdpTunnelDevice(socket, { ...opts, ...(remote !== undefined ? { remote } : {}) }, { host: a.address, port: a.port }));
      });
    });
  }

  get remoteEndpoint(): Endpoint | undefined {
    return this.remote;
  }

  /** Send to (and accept only from) `remote` from now on. */
  setRemote(remote: Endpoint): void {
    this.remote = remote;
  }

  send(frame: Uint8Array): void {
    if (this.closed) return;
    const remote = this.remote;
    if (remote === undefined) {
      this.stats.noRemote++;
      return;
    }
    this.stats.framesOut++;
    this.stats.bytesOut += frame.length;
    this.socket.send(Buffer.from(frame), remote.port, remote.host, (err) => {
      if (err) this.stats.sendErrors++;
    });
  }

  attach(rx: FrameHandler): void {
    this.rx = rx;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private onDatagram(msg: Buffer, from: dgram.RemoteInfo): void {
    if (this.remote === undefined) this.remote = { host: from.address, port: from.port };
    else if (from.port !== this.remote.port || from.address !== this.remote.host) {
      this.stats.strangers++;
      return;
    }
    // Frames larger than the MTU arrive from captures with segmentation offload,
    // never from a real link: refuse them here, where the wire is.
    if (msg.length < ETHERNET_HEADER || msg.length > this.mtu + ETHERNET_HEADER + 8) {
      this.stats.badDatagrams++;
      return;
    }
    this.stats.framesIn++;
    this.stats.bytesIn += msg.length;
    this.rx?.(new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
  }
}

async function resolveHost(host: string, family: 4 | 6): Promise<string> {
  if (isIP(host) !== 0) return host;
  return (await lookup(host, { family })).address;
}
