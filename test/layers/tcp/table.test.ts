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
