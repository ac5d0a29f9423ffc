/**
 * A link layer for captured frames: the bottom of a replay stack.
 *
 * In a replay nothing arrives from a device: frames come out of a capture file.
 * This module is their event source. Each record starts a task here (source
 * 'replay'), the link header is decoded according to the record's link type,
 * and the frame climbs the same modules a live stack uses through the same slot
 * shape the NIC offers (`LinkLayer.bindEthertype`), so IP sits on it unchanged.
 *
 * Link types: Ethernet (1, with up to 8 802.1Q/802.1ad/QinQ tags, then
 * optionally a PPPoE session whose PPP carries IPv4 or IPv6), raw IP (101, 228, and
 * the historical 12/14), Linux cooked SLL (113) and SLL2 (276), BSD loopback
 * (0 and 108). Frames are accepted whatever their length (captures taken with
 * segmentation offload hold frames far above the MTU) and whatever their
 * destination address (a capture sees everybody's traffic).
 *
 * The bytes are handed up as captured. What only this layer knows, how many
 * bytes the frame had on the wire beyond the capture (the record's original
 * length, when the snaplen cut it), goes up with each frame as the slot's
 * `wireMissing` argument; promiscuous IP makes of it what a cut datagram lost.
 *
 * No copies: the record's bytes are the buffer (one PacketBuffer per capture
 * chunk, moved from frame to frame by setting start/end), and nothing keeps it
 * beyond the task.
 */
import { Module, type Binding, type Runtime } from '../../core/index.js';
import { readMac, type Mac } from '../../wire/addr.js';
import type { BufferPool, PacketBuffer } from '../../wire/buffer.js';
import {
  ETHERNET_HEADER_LENGTH,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_PPPOE_SESSION,
  isEthertype,
  isVlanTpid,
  parsePppoeSession,
  type EthernetHeader,
  type PppoeSession,
  type VlanTag,
} from '../../wire/ethernet.js';
import { SLL_HEADER_LENGTH } from '../../wire/sll.js';
import { captureTimeNs } from '../../trace/time.js';
import { EthertypeTable, type EthertypeSlots, type LinkLayer } from './nic.js';

/** Link types this layer decodes (the LINKTYPE_* numbers of pcap and pcapng). */
export const CAPTURE_LINK_TYPES: ReadonlyMap<number, string> = new Map([
  [0, 'BSD loopback'],
  [1, 'Ethernet'],
  [12, 'raw IP'],
  [14, 'raw IP'],
  [101, 'raw IP'],
  [108, 'OpenBSD loopback'],
  [113, 'Linux cooked (SLL)'],
  [228, 'raw IPv4'],
  [276, 'Linux cooked v2 (SLL2)'],
]);

const SLL2_HEADER_LENGTH = 20;
const MAX_VLAN_TAGS = 8;
const NO_VLANS: readonly VlanTag[] = Object.freeze([]);

/** What a capture record carries that the link needs (a CaptureRecord qualifies). */
export interface CapturedFrame {
  readonly index: number;
  readonly timestampNs: bigint;
  readonly linkType: number;
  readonly data: Uint8Array;
  readonly originalLength: number;
}

/** The frame being replayed, for the layers above while its task runs. */
export interface CurrentFrame {
  /** Position of the frame in the capture (0-based); -1 before the first. */
  index: number;
  timestampNs: bigint;
  linkType: number;
  /** Bytes captured, and bytes the frame had on the wire. */
  capturedLength: number;
  originalLength: number;
}

export interface CaptureLinkCounters {
  frames: number;
  bytes: number;
  /** Frames handed to a bound ethertype handler. */
  delivered: number;
  /** Ethernet frames whose payload came out of a PPPoE session. */
  pppoe: number;
  /** IP frames left to another stack (`accept` said no, or `pass` was called): not drops. */
  otherShare: number;
  /** Frames of a link type this layer cannot decode, by link type. */
  readonly unreadable: Map<number, number>;
}

/** Names of link types met in captures that this layer does not decode, for messages. */
const OTHER_LINK_TYPES: ReadonlyMap<number, string> = new Map([
  [9, 'PPP'], [10, 'FDDI'], [50, 'PPP in HDLC'], [51, 'PPPoE'], [104, 'Cisco HDLC'], [105, 'IEEE 802.11'],
  [107, 'Frame Relay'], [119, 'Prism'], [127, 'radiotap'], [140, 'MTP2'], [143, 'DOCSIS'], [163, 'AVS'],
  [187, 'Bluetooth HCI H4'], [189, 'USB (Linux)'], [192, 'PPI'], [195, 'IEEE 802.15.4'],
  [201, 'Bluetooth HCI H4 with pseudo-header'], [220, 'USB (Linux, mmapped)'], [239, 'NFLOG'],
  [249, 'Linux netlink'], [258, 'PKTAP'], [263, 'Bluetooth LE link layer'], [279, 'ETW'],
]);

/** "link type 239 (NFLOG)" */
export function describeLinkType(linkType: number): string {
  const name = CAPTURE_LINK_TYPES.get(linkType) ?? OTHER_LINK_TYPES.get(linkType);
  return `link type ${linkType}${name !== undefined ? ` (${name})` : ''}`;
}

/** The current frame; one known by its numbers (inputAt, passOver) keeps its time as two, made a BigInt only if asked. */
class FrameState implements CurrentFrame {
  index = -1;
  linkType = 0;
  capturedLength = 0;
  originalLength = 0;
  private ns: bigint | undefined = 0n;
  private sec = 0;
  private fracNs = 0;

  get timestampNs(): bigint {
    return (this.ns ??= captureTimeNs(this.sec, this.fracNs));
  }

  set timestampNs(ns: bigint) {
    this.ns = ns;
  }

  setTime(sec: number, fracNs: number): void {
    this.ns = undefined;
    this.sec = sec;
    this.fracNs = fracNs;
  }
}

interface CaptureLinkShared {
  readonly types: EthertypeTable;
}

export interface CaptureLinkOptions {
  /** The MTU IP is told (it only matters for sending, which a replay never does). Default 65535. */
  mtu?: number;
  /**
   * `replay --jobs`: whether this stack follows the IP datagram at
   * `bytes[start, end)` (IPv4 or IPv6 ethertype); the other stacks follow the
   * rest. A plain predicate on the bytes, not an upcall. Default: every datagram.
   */
  accept?: (bytes: Uint8Array, start: number, end: number) => boolean;
}

export class CaptureLink extends Module<CaptureLinkShared> implements LinkLayer {
  readonly mac: Mac = 0;
  readonly mtu: number;
  readonly counters: CaptureLinkCounters = { frames: 0, bytes: 0, delivered: 0, pppoe: 0, otherShare: 0, unreadable: new Map() };
  readonly current: CurrentFrame = new FrameState();
  /** One buffer over the memory the current records live in; frames move its start/end. */
  private rx: PacketBuffer | null = null;
  private rxMemory: ArrayBufferLike | null = null;
  /** Reused for every frame: the slot's header record is valid during the upcall only. */
  private readonly eth: EthernetHeader = {
    dst: 0,
    src: 0,
    vlans: NO_VLANS,
    ethertype: 0,
  };
  private readonly pppoe: PppoeSession = { ethertype: 0, headerLength: 0, payloadLength: 0, pppProtocol: 0 };
  /** The current frame's bytes: frameData[frameStart, frameEnd). */
  private frameData: Uint8Array | null = null;
  private frameStart = 0;
  private frameEnd = 0;
  private readonly receiveCurrent = (): void => this.receive();

  constructor(
    rt: Runtime,
    readonly pool: BufferPool,
    opts: CaptureLinkOptions = {},
    name = 'capture',
  ) {
    super(rt, name, { types: new EthertypeTable() });
    this.mtu = opts.mtu ?? 65535;
    this.accept = opts.accept;
  }

  private readonly accept: CaptureLinkOptions['accept'];

  /** Bind the handler for one ethertype (0x0800 IPv4...), as on the NIC. */
  readonly bindEthertype = this.entry(
    'bindEthertype',
    'reject',
    (ethertype: number, owner: Module, handlers: Partial<EthertypeSlots>): Binding<EthertypeSlots> =>
      this.lock.locked(() => this.shared.types.bind(this, ethertype, owner, handlers)) as Binding<EthertypeSlots>,
  );

  /** A replay never transmits: what a module above sends is counted and dropped. */
  readonly send = this.entry('send', 'reentrant', (buf: PacketBuffer, _dst: Mac, _ethertype: number): void => {
    buf.release();
    this.drop('replay-no-transmit');
  });

  /**
   * Replays one captured frame: a task starts here and climbs the stack. The
   * record's bytes are not kept.
   */
  input(rec: CapturedFrame): void {
    this.take(rec);
    this.replayFrame(rec.data, 0, rec.data.length);
  }

  /**
   * `input` for a frame known by its numbers (a reader's RecordColumns): its
   * bytes at `bytes[start, start + capturedLength)`, its time as seconds and
   * ns within the second.
   */
  inputAt(bytes: Uint8Array, start: number, index: number, sec: number, fracNs: number, linkType: number, capturedLength: number, originalLength: number): void {
    this.takeAt(index, sec, fracNs, linkType, capturedLength, originalLength);
    this.replayFrame(bytes, start, start + capturedLength);
  }

  /** The task of the current frame, whose bytes are `bytes[start, end)`. */
  private replayFrame(bytes: Uint8Array, start: number, end: number): void {
    this.frameData = bytes;
    this.frameStart = start;
    this.frameEnd = end;
    this.startTask('replay', this.receiveCurrent);
    this.frameData = null;
  }

  /**
   * A frame that another stack follows (a share of `replay --jobs`): counted
   * as read and delivered, as `input` would have, without a task.
   */
  pass(rec: CapturedFrame): void {
    this.take(rec);
    this.counters.otherShare++;
  }

  /**
   * `pass` for a frame known by its numbers (a reader's RecordColumns), its
   * time as seconds and ns within the second.
   */
  passOver(index: number, sec: number, fracNs: number, linkType: number, capturedLength: number, originalLength: number): void {
    this.takeAt(index, sec, fracNs, linkType, capturedLength, originalLength);
    this.counters.otherShare++;
  }

  /** `take` for a frame known by its numbers. */
  private takeAt(index: number, sec: number, fracNs: number, linkType: number, capturedLength: number, originalLength: number): void {
    (this.current as FrameState).setTime(sec, fracNs);
    this.takePlace(index, linkType, capturedLength, originalLength);
  }

  /** The frame is the current one (its time and place in the file), read and counted. */
  private take(rec: CapturedFrame): void {
    this.current.timestampNs = rec.timestampNs;
    this.takePlace(rec.index, rec.linkType, rec.data.length, rec.originalLength);
  }

  /** The current frame's place and lengths (its time set by the caller), counted. */
  private takePlace(index: number, linkType: number, capturedLength: number, originalLength: number): void {
    const cur = this.current;
    cur.index = index;
    cur.linkType = linkType;
    cur.capturedLength = capturedLength;
    cur.originalLength = originalLength;
    this.counters.frames++;
    this.counters.bytes += capturedLength;
  }

  /** Gives the buffer back to the pool (end of replay). */
  close(): void {
    if (this.rx !== null) {
      this.rx.release();
      this.rx = null;
      this.rxMemory = null;
    }
  }

  /** The shared buffer positioned on `data`. */
  private bufferFor(data: Uint8Array, start: number, end: number): PacketBuffer {
    const memory = data.buffer;
    let rx = this.rx;
    if (rx === null || memory !== this.rxMemory) {
      if (rx !== null) rx.release();
      // The buffer spans the whole memory block so one handle serves every record in it.
      const whole = new Uint8Array(memory, 0, memory.byteLength);
      rx = this.pool.wrap(whole, 'capture rx');
      this.rx = rx;
      this.rxMemory = memory;
    }
    rx.start = data.byteOffset + start;
    rx.end = rx.start + (end - start);
    return rx;
  }

  private receive(): void {
    const buf = this.bufferFor(this.frameData!, this.frameStart, this.frameEnd);
    const bytes = buf.bytes;
    const start = buf.start;
    const len = buf.end - start;
    const eth = this.eth;
    eth.dst = 0;
    eth.src = 0;
    eth.vlans = NO_VLANS;
    let hl: number;
    let type: number;
    /** Where the frame's payload ends when a PPPoE length says so (Ethernet padding after it); -1 otherwise. */
    let payloadEnd = -1;
    switch (this.current.linkType) {
      case 1: {
        if (len < ETHERNET_HEADER_LENGTH) {
          this.drop('runt', this.rt.observed ? `${len} bytes` : undefined);
          return;
        }
        eth.dst = readMac(bytes, start);
        eth.src = readMac(bytes, start + 6);
        let p = start + 12;
        type = (bytes[p]! << 8) | bytes[p + 1]!;
        if (isVlanTpid(type)) {
          const tags: VlanTag[] = [];
          while (isVlanTpid(type)) {
            if (tags.length === MAX_VLAN_TAGS) {
              this.drop('too-many-vlan-tags');
              return;
            }
            if (p + 6 > start + len) {
              this.drop('runt', 'cut inside a VLAN tag');
              return;
            }
            tags.push({ tpid: type, tci: (bytes[p + 2]! << 8) | bytes[p + 3]! });
            p += 4;
            type = (bytes[p]! << 8) | bytes[p + 1]!;
          }
          eth.vlans = tags;
        }
        hl = p + 2 - start;
        if (type === ETHERTYPE_PPPOE_SESSION) {
          const pp = this.pppoe;
          const why = parsePppoeSession(bytes, start + hl, len - hl, pp);
          if (why !== null) {
            this.drop(why === 'truncated' ? 'runt' : why, why === 'truncated' ? 'cut inside PPPoE' : undefined);
            return;
          }
          if (pp.ethertype < 0) {
            this.drop('pppoe-not-ip', this.rt.observed ? `PPP protocol 0x${pp.pppProtocol.toString(16).padStart(4, '0')}` : undefined);
            return;
          }
          hl += pp.headerLength;
          type = pp.ethertype;
          payloadEnd = start + hl + pp.payloadLength;
          this.counters.pppoe++;
        }
        if (!isEthertype(type)) {
          this.drop('802.3-frame');
          return;
        }
        break;
      }
      case 101:
      case 12:
      case 14:
      case 228: {
        if (len === 0) {
          this.drop('runt', 'empty frame');
          return;
        }
        const version = bytes[start]! >>> 4;
        type = version === 4 ? ETHERTYPE_IPV4 : version === 6 ? ETHERTYPE_IPV6 : -1;
        if (type < 0 || (this.current.linkType === 228 && version !== 4)) {
          this.drop('bad-ip-version', this.rt.observed ? `version ${version}` : undefined);
          return;
        }
        hl = 0;
        break;
      }
      case 113: {
        if (len < SLL_HEADER_LENGTH) {
          this.drop('runt', this.rt.observed ? `${len} bytes` : undefined);
          return;
        }
        const addrLen = (bytes[start + 4]! << 8) | bytes[start + 5]!;
        if (addrLen === 6) eth.src = readMac(bytes, start + 6);
        type = (bytes[start + 14]! << 8) | bytes[start + 15]!;
        hl = SLL_HEADER_LENGTH;
        if (!isEthertype(type)) {
          this.drop('sll-not-ethertype', this.rt.observed ? `protocol 0x${type.toString(16)}` : undefined);
          return;
        }
        break;
      }
      case 276: {
        if (len < SLL2_HEADER_LENGTH) {
          this.drop('runt', this.rt.observed ? `${len} bytes` : undefined);
          return;
        }
        type = (bytes[start]! << 8) | bytes[start + 1]!;
        if (bytes[start + 11] === 6) eth.src = readMac(bytes, start + 12);
        hl = SLL2_HEADER_LENGTH;
        if (!isEthertype(type)) {
          this.drop('sll-not-ethertype', this.rt.observed ? `protocol 0x${type.toString(16)}` : undefined);
          return;
        }
        break;
      }
      case 0:
      case 108: {
        if (len < 4) {
          this.drop('runt', this.rt.observed ? `${len} bytes` : undefined);
          return;
        }
        // The address family is in the capturing host's byte order (0) or network order (108); IPv4 is 2 either way round.
        const le = bytes[start]! | (bytes[start + 1]! << 8) | (bytes[start + 2]! << 16) | (bytes[start + 3]! << 24);
        const be = (bytes[start]! << 24) | (bytes[start + 1]! << 16) | (bytes[start + 2]! << 8) | bytes[start + 3]!;
        type = le === 2 || be === 2 ? ETHERTYPE_IPV4 : le === 24 || le === 28 || le === 30 || be === 24 || be === 28 || be === 30 ? ETHERTYPE_IPV6 : -1;
        if (type < 0) {
          this.drop('unknown-address-family', this.rt.observed ? `family ${le}` : undefined);
          return;
        }
        hl = 4;
        break;
      }
      default: {
        const lt = this.current.linkType;
        const u = this.counters.unreadable;
        u.set(lt, (u.get(lt) ?? 0) + 1);
        this.drop('unsupported-link-type', this.rt.observed ? describeLinkType(lt) : undefined);
        return;
      }
    }
    eth.ethertype = type;
    const b = this.shared.types.binding(type);
    if (b === undefined) {
      this.drop(type === ETHERTYPE_IPV6 ? 'ipv6' : 'unknown-ethertype', this.rt.observed ? `0x${type.toString(16)}` : undefined);
      return;
    }
    buf.start = start + hl;
    const cur = this.current;
    let wireMissing = cur.originalLength > cur.capturedLength ? cur.originalLength - cur.capturedLength : 0;
    if (payloadEnd >= 0) {
      // PPPoE's own length ends the payload: what follows is padding, and a cut frame lost only what fell before it.
      if (payloadEnd < buf.end) buf.end = payloadEnd;
      wireMissing = Math.min(wireMissing, Math.max(0, payloadEnd - buf.end));
    }
    const accept = this.accept;
    if (accept !== undefined && (type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6) && !accept(bytes, buf.start, buf.end)) {
      this.counters.otherShare++;
      return;
    }
    this.counters.delivered++;
    this.upcall(b, 'onFrame', buf, eth, wireMissing);
  }
}
