/**
 * The port table: connections by 4-tuple. Two numeric map levels (remote
 * address and port, then local address and port: each pair fits a double
 * exactly) so a lookup allocates nothing, plus a one-entry cache for the bulk
 * case where consecutive segments belong to one connection.
 */
import type { TcpConnection } from './connection.js';

const P16 = 65536;

export class ConnectionTable {
  private readonly byRemote = new Map<number, Map<number, TcpConnection>>();
  private last: TcpConnection | null = null;
  size = 0;

  get(localIp: number, localPort: number, remoteIp: number, remotePort: number): TcpConnection | undefined {
    const c = this.last;
    if (c !== null && c.remotePort === remotePort && c.localPort === localPort && c.remoteIp === remoteIp && c.localIp === localIp) {
      return c;
    }
    const inner = this.byRemote.get(remoteIp * P16 + remotePort);
    if (inner === undefined) return undefined;
    const found = inner.get(localIp * P16 + localPort);
    if (found !== undefined) this.last = found;
    return found;
  }

  add(c: TcpConnection): void {
    const rk = c.remoteIp * P16 + c.remotePort;
    let inner = this.byRemote.get(rk);
    if (inner === undefined) {
      inner = new Map();
      this.byRemote.set(rk, inner);
    }
    const lk = c.localIp * P16 + c.localPort;
    if (inner.has(lk)) throw new Error(`connection ${c.describe()} already in the table`);
    inner.set(lk, c);
    this.size++;
  }

  remove(c: TcpConnection): void {
    if (this.last === c) this.last = null;
    const rk = c.remoteIp * P16 + c.remotePort;
    const inner = this.byRemote.get(rk);
    if (inner === undefined) return;
    const lk = c.localIp * P16 + c.localPort;
    if (inner.get(lk) !== c) return;
    inner.delete(lk);
    this.size--;
    if (inner.size === 0) this.byRemote.delete(rk);
  }

  *all(): IterableIterator<TcpConnection> {
    for (const inner of this.byRemote.values()) yield* inner.values();
  }
}
