/**
 * Frames as the report shows them: the few numbers the TCP graphs need, and a
 * few lines of text for the task detail panel. Runs only when a report is being
 * made; malformed bytes give a frame with fewer fields, never an exception.
 */
import { formatIp4, formatMac } from '../wire/addr.js';
import { parseArp } from '../wire/arp.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, parseEthernet } from '../wire/ethernet.js';
import { parseIcmp } from '../wire/icmp.js';
import { IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP, parseIpv4 } from '../wire/ipv4.js';
import { formatTcpFlags, parseTcp, tcpOptionValues, TCP_SYN } from '../wire/tcp.js';

/** Link types the report decodes (pcap LINKTYPE_ numbers). */
export const LINK_ETHERNET = 1;
const LINK_RAW = 101;
const LINK_IPV4 = 228;
const LINK_SLL = 113;

export interface TcpFields {
  readonly src: number;
  readonly dst: number;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  /** Window field as sent (unscaled). */
  readonly window: number;
  /** Payload bytes according to the IP header (the capture may hold fewer). */
  readonly len: number;
  /** Window-scale shift, on a SYN that carries the option. */
  readonly wscale: number | undefined;
  /** SACK blocks as [left, right, left, right...]. */
  readonly sack: readonly number[];
}

export interface DecodedFrame {
  /** Bytes of the frame. */
  readonly size: number;
  readonly tcp: TcpFields | null;
  /** One line per layer, outermost first. */
  readonly lines: string[];
}

const PRINTABLE_MAX = 48;

/** A payload as a short quoted string (Telnet keystrokes, echoes, prompts). */
function quote(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  const stop = Math.min(end, start + PRINTABLE_MAX);
  for (let i = start; i < stop; i++) {
    const b = bytes[i]!;
    if (b === 0x0d) s += '\\r';
    else if (b === 0x0a) s += '\\n';
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return `"${s}"${end > stop ? '…' : ''}`;
}

/**
 * Decodes a frame. Without `text` only the TCP fields are read (the cheap path
 * for frames beyond the report's detail cap): `lines` comes back empty.
 */
export function decodeFrame(bytes: Uint8Array, linkType = LINK_ETHERNET, text = true): DecodedFrame {
  const lines: string[] = [];
  if (!text) return { size: bytes.length, tcp: tcpOnly(bytes, linkType), lines };
  let off = 0;
  let ethertype = ETHERTYPE_IPV4;
  if (linkType === LINK_ETHERNET) {
    const eth = parseEthernet(bytes, 0, bytes.length);
    if (!eth.ok) return { size: bytes.length, tcp: null, lines: [`Ethernet: unreadable (${eth.reason})`] };
    const h = eth.header;
    lines.push(`Ethernet ${formatMac(h.src)} → ${formatMac(h.dst)} type 0x${h.ethertype.toString(16).padStart(4, '0')}${h.vlans.length > 0 ? ` (${h.vlans.length} VLAN tag${h.vlans.length > 1 ? 's' : ''})` : ''}`);
    off = eth.headerLength;
    ethertype = h.ethertype;
  } else if (linkType === LINK_SLL) {
    if (bytes.length < 16) return { size: bytes.length, tcp: null, lines: ['Linux cooked: truncated'] };
    ethertype = (bytes[14]! << 8) | bytes[15]!;
    lines.push(`Linux cooked capture, protocol 0x${ethertype.toString(16).padStart(4, '0')}`);
    off = 16;
  } else if (linkType !== LINK_RAW && linkType !== LINK_IPV4) {
    return { size: bytes.length, tcp: null, lines: [`link type ${linkType}: not decoded`] };
  }
  if (ethertype === ETHERTYPE_ARP) {
    const arp = parseArp(bytes, off, bytes.length - off);
    if (!arp.ok) lines.push(`ARP: unreadable (${arp.reason})`);
    else {
      const a = arp.header;
      lines.push(a.operation === 1 ? `ARP who-has ${formatIp4(a.targetIp)} tell ${formatIp4(a.senderIp)}` : `ARP ${formatIp4(a.senderIp)} is-at ${formatMac(a.senderMac)}`);
    }
    return { size: bytes.length, tcp: null, lines };
  }
  if (ethertype !== ETHERTYPE_IPV4) return { size: bytes.length, tcp: null, lines };
  const ip = parseIpv4(bytes, off, bytes.length - off, false);
  if (!ip.ok) {
    lines.push(`IPv4: unreadable (${ip.reason})`);
    return { size: bytes.length, tcp: null, lines };
  }
  const iph = ip.header;
  const frag = iph.fragmentOffset !== 0 || (iph.flags & 1) !== 0;
  lines.push(`IPv4 ${formatIp4(iph.src)} → ${formatIp4(iph.dst)} proto ${iph.protocol} ttl ${iph.ttl} id ${iph.identification} len ${iph.totalLength}${frag ? ` fragment at ${iph.fragmentOffset}` : ''}`);
  const l4 = off + ip.headerLength;
  const l4len = iph.totalLength - ip.headerLength;
  const avail = Math.min(l4len, bytes.length - l4);
  if (frag && iph.fragmentOffset !== 0) return { size: bytes.length, tcp: null, lines };
  if (iph.protocol === IP_PROTO_TCP) {
    const t = parseTcp(bytes, l4, Math.max(0, avail));
    if (!t.ok) {
      lines.push(`TCP: unreadable (${t.reason})`);
      return { size: bytes.length, tcp: null, lines };
    }
    const h = t.header;
    const len = Math.max(0, l4len - t.headerLength);
    const opts = tcpOptionValues(h.options);
    const sack: number[] = [];
    if (opts.sack !== undefined) for (const b of opts.sack) sack.push(b.left, b.right);
    const parts: string[] = [];
    if (opts.mss !== undefined) parts.push(`mss ${opts.mss}`);
    if (opts.wscale !== undefined) parts.push(`wscale ${opts.wscale}`);
    if (opts.sackPermitted) parts.push('sackOK');
    if (opts.timestamps !== undefined) parts.push(`TS ${opts.timestamps.tsVal}/${opts.timestamps.tsEcr}`);
    if (opts.sack !== undefined) parts.push(`SACK ${opts.sack.map((b) => `${b.left}-${b.right}`).join(' ')}`);
    lines.push(
      `TCP ${h.srcPort} → ${h.dstPort} [${formatTcpFlags(h.flags)}] seq ${h.seq} ack ${h.ack} win ${h.window} len ${len}` +
        (parts.length > 0 ? ` <${parts.join(', ')}>` : ''),
    );
    const pstart = l4 + t.headerLength;
    if (len > 0) {
      const have = Math.max(0, Math.min(bytes.length, pstart + len) - pstart);
      lines.push(have > 0 ? `payload ${quote(bytes, pstart, pstart + have)}` : `payload of ${len} bytes not in the capture`);
    }
    return {
      size: bytes.length,
      lines,
      tcp: {
        src: iph.src,
        dst: iph.dst,
        srcPort: h.srcPort,
        dstPort: h.dstPort,
        seq: h.seq,
        ack: h.ack,
        flags: h.flags,
        window: h.window,
        len,
        wscale: (h.flags & TCP_SYN) !== 0 ? opts.wscale : undefined,
        sack,
      },
    };
  }
  if (iph.protocol === IP_PROTO_ICMP) {
    const m = parseIcmp(bytes, l4, Math.max(0, avail));
    lines.push(m.ok ? `ICMP type ${m.header.type} code ${m.header.code}` : `ICMP: unreadable (${m.reason})`);
  } else if (iph.protocol === IP_PROTO_UDP && avail >= 8) {
    lines.push(`UDP ${(bytes[l4]! << 8) | bytes[l4 + 1]!} → ${(bytes[l4 + 2]! << 8) | bytes[l4 + 3]!} len ${(bytes[l4 + 4]! << 8) | bytes[l4 + 5]!}`);
  }
  return { size: bytes.length, tcp: null, lines };
}

/** The TCP fields alone, without building any text. */
function tcpOnly(bytes: Uint8Array, linkType: number): TcpFields | null {
  let off = 0;
  if (linkType === LINK_ETHERNET) {
    const eth = parseEthernet(bytes, 0, bytes.length);
    if (!eth.ok || eth.header.ethertype !== ETHERTYPE_IPV4) return null;
    off = eth.headerLength;
  } else if (linkType === LINK_SLL) {
    if (bytes.length < 16 || ((bytes[14]! << 8) | bytes[15]!) !== ETHERTYPE_IPV4) return null;
    off = 16;
  } else if (linkType !== LINK_RAW && linkType !== LINK_IPV4) {
    return null;
  }
  const ip = parseIpv4(bytes, off, bytes.length - off, false);
  if (!ip.ok || ip.header.protocol !== IP_PROTO_TCP || ip.header.fragmentOffset !== 0) return null;
  const iph = ip.header;
  const l4 = off + ip.headerLength;
  const l4len = iph.totalLength - ip.headerLength;
  const t = parseTcp(bytes, l4, Math.max(0, Math.min(l4len, bytes.length - l4)));
  if (!t.ok) return null;
  const h = t.header;
  const opts = h.options.length > 0 ? tcpOptionValues(h.options) : null;
  const sack: number[] = [];
  if (opts?.sack !== undefined) for (const b of opts.sack) sack.push(b.left, b.right);
  return {
    src: iph.src,
    dst: iph.dst,
    srcPort: h.srcPort,
    dstPort: h.dstPort,
    seq: h.seq,
    ack: h.ack,
    flags: h.flags,
    window: h.window,
    len: Math.max(0, l4len - t.headerLength),
    wscale: (h.flags & TCP_SYN) !== 0 ? opts?.wscale : undefined,
    sack,
  };
}
