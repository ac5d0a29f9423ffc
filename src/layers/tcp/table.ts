/**
 * The port table: connections by 4-tuple, for both families alike. One Map
 * keyed by a 32-bit hash of the tuple, an int32 and so a small integer to V8:
 * a key made of an address and a port (up to 2^48) was a double, boxed and
 * hashed as one on every lookup and insertion, at twice the cost of the
 * lookup itself. Tuples whose hashes collide are chained through the
 * connections themselves (`tableNext`), in insertion order, and told apart
 * address by address; a one-entry cache serves the bulk case where
 * consecutive segments belong to one connection. A lookup allocates nothing.
 *
 * The hash mixes every bit of both addresses and both ports, so a crowd of
 * peers sharing a source port (or one peer using every port) spreads over
 * the Map as before instead of queueing on one chain.
 */
import { ip6Equal, type Ip6 } from '../../wire/addr6.js';
import type { IpAddress } from '../net.js';
import type { TcpConnection } from './connection.js';

function ipSame(a: IpAddress, b: IpAddress): boolean {
  return typeof a === 'number' ? a === b : typeof b !== 'number' && ip6Equal(a, b);
}

/** Whether `c` is the connection of this tuple. */
function holds(c: TcpConnection, localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number): boolean {
  return c.remotePort === remotePort && c.localPort === localPort && ipSame(c.remoteIp, remoteIp) && ipSame(c.localIp, localIp);
}

function mixIp(h: number, ip: IpAddress): number {
  if (typeof ip === 'number') return Math.imul(h ^ ip, 0x9e3779b1) ^ (h >>> 15);
  const b = ip as Ip6;
  for (let i = 0; i < 16; i += 4) {
    const w = (b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!;
    h = Math.imul(h ^ w, 0x9e3779b1) ^ (h >>> 15);
  }
  return h;
}

/** @internal the tuple's key: an int32 (murmur3's finaliser over the mixed words) */
export function tupleKey(localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number): number {
  let h = mixIp(mixIp((remotePort << 16) | localPort, remoteIp), localIp);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

export class ConnectionTable {
  private readonly byKey = new Map<number, TcpConnection>();
  private last: TcpConnection | null = null;
  size = 0;

  get(localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number): TcpConnection | undefined {
    const c = this.last;
    if (c !== null && c.remotePort === remotePort && c.localPort === localPort && c.remoteIp === remoteIp && c.localIp === localIp) {
      return c;
    }
    for (let x = this.byKey.get(tupleKey(localIp, localPort, remoteIp, remotePort)) ?? null; x !== null; x = x.tableNext) {
      if (holds(x, localIp, localPort, remoteIp, remotePort)) {
        this.last = x;
        return x;
      }
    }
    return undefined;
  }

  add(c: TcpConnection): void {
    const k = tupleKey(c.localIp, c.localPort, c.remoteIp, c.remotePort);
    const head = this.byKey.get(k);
    c.tableNext = null;
    if (head === undefined) {
      this.byKey.set(k, c);
      this.size++;
      return;
    }
    let tail = head;
    for (let x: TcpConnection | null = head; x !== null; x = x.tableNext) {
      if (holds(x, c.localIp, c.localPort, c.remoteIp, c.remotePort)) {
        throw new Error(`connection ${c.describe()} already in the table`);
      }
      tail = x;
    }
    tail.tableNext = c;
    this.size++;
  }

  remove(c: TcpConnection): void {
    if (this.last === c) this.last = null;
    const k = tupleKey(c.localIp, c.localPort, c.remoteIp, c.remotePort);
    const head = this.byKey.get(k);
    if (head === undefined) return;
    if (head === c) {
      if (c.tableNext === null) this.byKey.delete(k);
      else this.byKey.set(k, c.tableNext);
    } else {
      let prev = head;
      while (prev.tableNext !== null && prev.tableNext !== c) prev = prev.tableNext;
      if (prev.tableNext !== c) return;
      prev.tableNext = c.tableNext;
    }
    c.tableNext = null;
    this.size--;
  }

  *all(): IterableIterator<TcpConnection> {
    for (const head of this.byKey.values()) {
      for (let x: TcpConnection | null = head; x !== null; x = x.tableNext) yield x;
    }
  }
}
