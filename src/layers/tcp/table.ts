/**
 * The port table: connections by 4-tuple. Two numeric map levels (remote
 * address and port, then local address and port: each pair fits a double
 * exactly) so a lookup allocates nothing, plus a one-entry cache for the bulk
 * case where consecutive segments belong to one connection. A remote endpoint
 * with one connection, as each client of a server is, keeps it in the first
 * level itself: a Map per connection would weigh more than the connection's
 * timers, and its making was a tenth of the table's cost per open.
 *
 * IPv6 connections, whose addresses fit no number, live apart: by the pair of
 * ports (a number), then a short list compared address by address, so their
 * lookup allocates nothing either and the IPv4 path is unchanged.
 */
import { ip6Equal, type Ip6 } from '../../wire/addr6.js';
import type { IpAddress } from '../net.js';
import type { TcpConnection } from './connection.js';

const P16 = 65536;

export class ConnectionTable {
  private readonly byRemote = new Map<number, TcpConnection | Map<number, TcpConnection>>();
  private readonly byPorts6 = new Map<number, TcpConnection[]>();
  private last: TcpConnection | null = null;
  size = 0;

  get(localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number): TcpConnection | undefined {
    const c = this.last;
    if (c !== null && c.remotePort === remotePort && c.localPort === localPort && c.remoteIp === remoteIp && c.localIp === localIp) {
      return c;
    }
    if (typeof remoteIp !== 'number') return this.get6(localIp as Ip6, localPort, remoteIp, remotePort);
    const inner = this.byRemote.get(remoteIp * P16 + remotePort);
    if (inner === undefined) return undefined;
    if (!(inner instanceof Map)) {
      if (inner.localPort !== localPort || inner.localIp !== localIp) return undefined;
      this.last = inner;
      return inner;
    }
    const found = inner.get((localIp as number) * P16 + localPort);
    if (found !== undefined) this.last = found;
    return found;
  }

  private get6(localIp: Ip6, localPort: number, remoteIp: Ip6, remotePort: number): TcpConnection | undefined {
    const list = this.byPorts6.get(remotePort * P16 + localPort);
    if (list === undefined) return undefined;
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      if (ip6Equal(c.remoteIp as Ip6, remoteIp) && ip6Equal(c.localIp as Ip6, localIp)) {
        this.last = c;
        return c;
      }
    }
    return undefined;
  }

  add(c: TcpConnection): void {
    if (typeof c.remoteIp !== 'number') {
      if (this.get6(c.localIp as Ip6, c.localPort, c.remoteIp, c.remotePort) !== undefined) {
        throw new Error(`connection ${c.describe()} already in the table`);
      }
      const pk = c.remotePort * P16 + c.localPort;
      const list = this.byPorts6.get(pk);
      if (list === undefined) this.byPorts6.set(pk, [c]);
      else list.push(c);
      this.size++;
      return;
    }
    const rk = c.remoteIp * P16 + c.remotePort;
    const lk = (c.localIp as number) * P16 + c.localPort;
    let inner = this.byRemote.get(rk);
    if (inner === undefined) {
      this.byRemote.set(rk, c);
      this.size++;
      return;
    }
    if (!(inner instanceof Map)) {
      const first = inner;
      const fk = (first.localIp as number) * P16 + first.localPort;
      if (fk === lk) throw new Error(`connection ${c.describe()} already in the table`);
      this.byRemote.set(rk, (inner = new Map([[fk, first]])));
    }
    if (inner.has(lk)) throw new Error(`connection ${c.describe()} already in the table`);
    inner.set(lk, c);
    this.size++;
  }

  remove(c: TcpConnection): void {
    if (this.last === c) this.last = null;
    if (typeof c.remoteIp !== 'number') {
      const pk = c.remotePort * P16 + c.localPort;
      const list = this.byPorts6.get(pk);
      const i = list === undefined ? -1 : list.indexOf(c);
      if (i < 0) return;
      list!.splice(i, 1);
      this.size--;
      if (list!.length === 0) this.byPorts6.delete(pk);
      return;
    }
    const rk = c.remoteIp * P16 + c.remotePort;
    const inner = this.byRemote.get(rk);
    if (inner === undefined) return;
    if (!(inner instanceof Map)) {
      if (inner !== c) return;
      this.byRemote.delete(rk);
      this.size--;
      return;
    }
    const lk = (c.localIp as number) * P16 + c.localPort;
    if (inner.get(lk) !== c) return;
    inner.delete(lk);
    this.size--;
    if (inner.size === 0) this.byRemote.delete(rk);
  }

  *all(): IterableIterator<TcpConnection> {
    for (const inner of this.byRemote.values()) {
      if (inner instanceof Map) yield* inner.values();
      else yield inner;
    }
    for (const list of this.byPorts6.values()) yield* list;
  }
}
