/**
 * The wire between the stack under test and the script: a Device whose far
 * end is the script's remote peer. Frames the host sends are parsed and kept
 * (TCP segments) or answered (ARP requests for the peer or the gateway);
 * segments the script injects become whole Ethernet frames handed to the
 * host's NIC, so they climb the real stack like any arrival.
 */
import type { Clock } from '../core/index.js';
import type { Device, FrameHandler } from '../layers/nic/device.js';
import type { Ip4, Mac } from '../wire/addr.js';
import { ARP_REPLY, ARP_REQUEST, emitArp, parseArp } from '../wire/arp.js';
import { emitEthernet, ETHERTYPE_ARP, ETHERTYPE_IPV4, parseEthernet } from '../wire/ethernet.js';
import { emitIpv4, IP_PROTO_TCP, IPV4_FLAG_DF, parseIpv4, setIpv4Checksum } from '../wire/ipv4.js';
import { emitTcp, parseTcp, setTcpChecksum, type TcpHeader } from '../wire/tcp.js';

/** A segment the host sent, as seen on the wire. */
export interface WireSegment {
  /** Clock time (ms) it left the host. */
  readonly at: number;
  readonly src: Ip4;
  readonly dst: Ip4;
  readonly header: TcpHeader;
  readonly payload: Uint8Array;
}

export class PeerDevice implements Device {
  readonly name = 'drill';
  /** TCP segments sent by the host, oldest first, not yet taken by the runner. */
  readonly captured: WireSegment[] = [];
  /** Frames that were not TCP over IPv4 (ARP, ICMP...), counted only. */
  otherFrames = 0;
  private rx: FrameHandler | null = null;
  private ipId = 1;

  constructor(
    private readonly clock: Clock,
    /** The host's own MAC (the device is the host's NIC). */
    readonly mac: Mac,
    /** MAC the peer (or the gateway in front of it) answers with. */
    private readonly peerMac: Mac,
    readonly mtu: number,
    private readonly localIp: Ip4,
  ) {}

  attach(rx: FrameHandler): void {
    this.rx = rx;
  }

  send(frame: Uint8Array): void {
    const eth = parseEthernet(frame, 0, frame.length);
    if (!eth.ok) return;
    const off = eth.headerLength;
    if (eth.header.ethertype === ETHERTYPE_ARP) {
      this.answerArp(frame, off);
      return;
    }
    if (eth.header.ethertype !== ETHERTYPE_IPV4) {
      this.otherFrames++;
      return;
    }
    const ip = parseIpv4(frame, off, frame.length - off);
    if (!ip.ok || ip.header.protocol !== IP_PROTO_TCP) {
      this.otherFrames++;
      return;
    }
    const ipOff = off + ip.headerLength;
    const len = ip.header.totalLength - ip.headerLength;
    const tcp = parseTcp(frame, ipOff, len);
    if (!tcp.ok) {
      this.otherFrames++;
      return;
    }
    this.captured.push({
      at: this.clock.now(),
      src: ip.header.src,
      dst: ip.header.dst,
      header: tcp.header,
      // The frame is only borrowed for the call: keep a copy of the payload.
      payload: frame.slice(ipOff + tcp.headerLength, ipOff + len),
    });
  }

  /** Sends a TCP segment from `src` to the host, now, as a whole frame. */
  inject(src: Ip4, header: TcpHeader, payload: Uint8Array): void {
    const seg = emitTcp(header, payload);
    setTcpChecksum(seg, 0, seg.length, src, this.localIp);
    const ip = emitIpv4(
      {
        dscp: 0,
        ecn: 0,
        totalLength: 20 + seg.length,
        identification: this.ipId++ & 0xffff,
        flags: IPV4_FLAG_DF,
        fragmentOffset: 0,
        ttl: 64,
        protocol: IP_PROTO_TCP,
        checksum: 0,
        src,
        dst: this.localIp,
        options: new Uint8Array(0),
      },
      seg,
    );
    setIpv4Checksum(ip, 0);
    const frame = emitEthernet({ dst: this.mac, src: this.peerMac, vlans: [], ethertype: ETHERTYPE_IPV4 }, ip);
    this.rx?.(frame);
  }

  private answerArp(frame: Uint8Array, off: number): void {
    const a = parseArp(frame, off, frame.length - off);
    if (!a.ok) return;
    const req = a.header;
    if (req.operation !== ARP_REQUEST || req.targetIp === this.localIp) return;
    const reply = emitArp({ operation: ARP_REPLY, senderMac: this.peerMac, senderIp: req.targetIp, targetMac: req.senderMac, targetIp: req.senderIp });
    const out = emitEthernet({ dst: req.senderMac, src: this.peerMac, vlans: [], ethertype: ETHERTYPE_ARP }, reply);
    // Not inside the host's own send: the reply arrives on the next clock turn.
    this.clock.schedule(this.clock.now(), () => this.rx?.(out));
  }
}
