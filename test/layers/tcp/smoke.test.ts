import { describe, expect, it } from 'vitest';
import { bytesOf, concat, makePair, textOf } from './support/fake-ip.js';
import type { TcpConnection } from '../../../src/layers/tcp/index.js';

describe('smoke', () => {
  it('connects, echoes and closes', () => {
    const { clock, a, b } = makePair();
    const srvApp = b.rt.app('srv');
    const cliApp = a.rt.app('cli');
    const log: string[] = [];
    b.tcp.listen(7, srvApp, {
      onAccept: () => ({
        onData: (c, d) => {
          c.send(d);
        },
        onClose: (c, how) => {
          log.push(`srv ${how}`);
          if (how === 'peer-fin') c.close();
        },
      }),
    });
    const got: Uint8Array[] = [];
    let conn!: TcpConnection;
    conn = a.tcp.connect(b.addr, 7, cliApp, {
      onConnect: (c) => {
        log.push('connected');
        c.send(bytesOf('hello'));
      },
      onData: (_c, d) => got.push(d.slice()),
      onClose: (c, how) => log.push(`cli ${how}`),
      onError: (_c, e) => log.push(`err ${e.code}`),
    });
    clock.runUntil(() => got.length > 0, 5000);
    expect(textOf(concat(got))).toBe('hello');
    conn.close();
    clock.runAll(200_000);
    expect(log).toEqual(['connected', 'srv peer-fin', 'cli peer-fin', 'cli closed', 'srv closed']);
    expect(a.tcp.connectionCount).toBe(0);
    expect(b.tcp.connectionCount).toBe(0);
  });
});
