/**
 * One share of a capture's traffic, for a replay split across worker threads.
 *
 * `replay --jobs N` runs N replay stacks, each reading the whole capture (so
 * each sees every frame's time, and its clock and timers run exactly as one
 * stack's would). Each follows only the IP datagrams of its share, chosen by
 * the unordered pair of addresses, so both directions of every flow, every
 * fragment of a datagram and every flow between two hosts go to the same stack.
 * Datagrams too short to carry both addresses go to share 0, where IP counts
 * their drop once. The capture link asks `shareOf` (its `accept` option) after
 * decoding the link header; `frameShare` is a quick look at the record that
 * spares a task for most frames of other shares.
 */
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, isVlanTpid } from '../wire/ethernet.js';

export interface Share {
  /** This stack's share, 0 .. count-1. */
  readonly index: number;
  readonly count: number;
}

/** The share an IP datagram belongs to (0 for a datagram too short to tell). */
export function shareOf(bytes: Uint8Array, ip: number, end: number, count: number): number {
  const version = end > ip ? bytes[ip]! >>> 4 : 0;
  let h: number;
  if (version === 4 && end - ip >= 20) h = pairHash(bytes, ip + 12, ip + 16, 4);
  else if (version === 6 && end - ip >= 40) h = pairHash(bytes, ip + 8, ip + 24, 16);
  else return 0;
  return (h >>> 0) % count;
}

/**
 * The share of a captured frame, read straight from the record, or -1 when
 * this quick look cannot tell (PPPoE, a link type it does not know, a frame too
 * short): a stack can pass over another share's frame without starting a task
 * for it. It agrees with `shareOf` on the decoded frame, which decides the rest.
 * The frame is `bytes[start, end)`: a record read where it lies in its chunk.
 */
export function frameShare(linkType: number, bytes: Uint8Array, start: number, end: number, count: number): number {
  let ip: number;
  switch (linkType) {
    case 1: {
      let p = start + 12;
      let type = end - start >= 14 ? (bytes[p]! << 8) | bytes[p + 1]! : -1;
      // VLAN tags as the capture link reads them (at most 8; more are its drop to count).
      for (let tags = 0; isVlanTpid(type) && tags < 8; tags++) {
        p += 4;
        type = end >= p + 2 ? (bytes[p]! << 8) | bytes[p + 1]! : -1;
      }
      if (type !== ETHERTYPE_IPV4 && type !== ETHERTYPE_IPV6) return -1;
      ip = p + 2;
      break;
    }
    case 12:
    case 14:
    case 101:
    case 228:
      ip = start;
      break;
    case 113:
      ip = start + 16;
      break;
    case 276:
      ip = start + 20;
      break;
    default:
      return -1;
  }
  const v = end > ip ? bytes[ip]! >>> 4 : 0;
  if ((v === 4 && end - ip >= 20) || (v === 6 && end - ip >= 40)) return shareOf(bytes, ip, end, count);
  return -1;
}

/** Order-independent: the two addresses' hashes summed. */
function pairHash(bytes: Uint8Array, a: number, b: number, len: number): number {
  return (addrHash(bytes, a, len) + addrHash(bytes, b, len)) | 0;
}

function addrHash(bytes: Uint8Array, at: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < len; i++) h = Math.imul(h ^ bytes[at + i]!, 0x01000193);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d);
}
