import { describe, expect, it } from 'vitest';
import type { TcpConnection } from '../../../src/layers/tcp/connection.js';
import { ConnectionTable } from '../../../src/layers/tcp/table.js';

function conn(localIp: number, localPort: number, remoteIp: number, remotePort: number): TcpConnection {
  return { localIp, localPort, remoteIp, remotePort, describe: () => `${localPort}->${remotePort}` } as unknown as TcpConnection;
}

const A = 0x0a000001;
const B = 0x0a000002;

describe('ConnectionTable (IPv4)', () => {
  it('finds connections sharing a remote endpoint, alone or many, and forgets them one by one', () => {
    const t = new ConnectionTable();
    const one = conn(A, 40000, B, 80);
    const two = conn(A, 40001, B, 80);
    const three = conn(B, 40000, B, 80); // same ports, another local address
    t.add(one);
    expect(t.get(A, 40000, B, 80)).toBe(one);
    expect(t.get(A, 40001, B, 80)).toBeUndefined();
    expect(t.get(B, 40000, B, 80)).toBeUndefined();
    t.add(two);
    t.add(three);
    expect(t.size).toBe(3);
    for (const c of [one, two, three]) expect(t.get(c.localIp, c.localPort, c.remoteIp, c.remotePort)).toBe(c);
    expect(() => t.add(conn(A, 40001, B, 80))).toThrow(/already in the table/);
    expect(new Set(t.all())).toEqual(new Set([one, two, three]));
    t.remove(one);
    t.remove(one); // twice: nothing more happens
    expect(t.size).toBe(2);
    expect(t.get(A, 40000, B, 80)).toBeUndefined();
    expect(t.get(A, 40001, B, 80)).toBe(two);
    t.remove(two);
    t.remove(three);
    expect(t.size).toBe(0);
    expect([...t.all()]).toEqual([]);
  });

  it('refuses a second connection on the tuple of one kept alone, and removes only the one it holds', () => {
    const t = new ConnectionTable();
    const one = conn(A, 40000, B, 80);
    t.add(one);
    expect(() => t.add(conn(A, 40000, B, 80))).toThrow(/already in the table/);
    t.remove(conn(A, 40000, B, 80)); // same tuple, another object: not in the table
    expect(t.get(A, 40000, B, 80)).toBe(one);
    expect(t.size).toBe(1);
  });
});

describe('ConnectionTable: tuples whose keys collide', () => {
  it('chains them, finds each, and unlinks any of them', async () => {
    const { tupleKey } = await import('../../../src/layers/tcp/table.js');
    // Birthday search for tuples with one key (deterministic: the hash is fixed).
    const seen = new Map<number, [number, number]>();
    const groups: Array<Array<[number, number]>> = [];
    for (let ip = 0; ip < 300 && groups.length < 3; ip++) {
      for (let port = 1024; port < 2048 && groups.length < 3; port++) {
        const k = tupleKey(A, 80, 0xc0a80000 + ip, port);
        const other = seen.get(k);
        if (other !== undefined) groups.push([other, [0xc0a80000 + ip, port]]);
        else seen.set(k, [0xc0a80000 + ip, port]);
      }
    }
    expect(groups.length).toBeGreaterThan(0);
    for (const [[ip1, p1], [ip2, p2]] of groups) {
      const t = new ConnectionTable();
      const x = conn(A, 80, ip1, p1);
      const y = conn(A, 80, ip2, p2);
      t.add(x);
      t.add(y);
      expect(t.get(A, 80, ip1, p1)).toBe(x);
      expect(t.get(A, 80, ip2, p2)).toBe(y);
      expect(() => t.add(conn(A, 80, ip2, p2))).toThrow(/already in the table/);
      expect([...t.all()]).toEqual([x, y]);
      t.remove(x);
      expect(t.get(A, 80, ip1, p1)).toBeUndefined();
      expect(t.get(A, 80, ip2, p2)).toBe(y);
      t.add(x);
      t.remove(x); // the tail of the chain
      expect(t.get(A, 80, ip2, p2)).toBe(y);
      expect(t.size).toBe(1);
      t.remove(y);
      expect(t.size).toBe(0);
      expect([...t.all()]).toEqual([]);
    }
  });
});
