/**
 * The public API as the README shows it: two hosts with TCP on a simulated
 * link, an echo service as bound handlers, a client that sends and reads back.
 */
import { describe, expect, it } from 'vitest';
import { createHost, SimLink, VirtualClock, wire, trace, TelnetServer } from '../src/index.js';
import * as api from '../src/index.js';
import { checkLoops } from '../src/check/index.js';

describe('public API', () => {
  it('assembles hosts with TCP and carries an echo end to end', () => {
    const clock = new VirtualClock();
    const link = new SimLink(clock, { seed: 7, delayMs: 1 });
    const server = createHost({ name: 'server', link, ip: '10.0.0.1/24', tcp: true });
    const client = createHost({ name: 'client', link, ip: '10.0.0.2/24', tcp: true });
    server.tcp!.listen(7, server.rt.app('echo'), {
      onAccept: () => ({ onData: (conn, data) => void conn.send(data) }),
    });
    const got: string[] = [];
    const conn = client.tcp!.connect(wire.parseIp4('10.0.0.1'), 7, client.rt.app('user'), {
      onConnect: (c) => void c.send('hello, upcalls'),
      onData: (_c, data) => void got.push(Buffer.from(data).toString()),
    });
    clock.runUntil(() => got.join('') === 'hello, upcalls', 5_000);
    expect(got.join('')).toBe('hello, upcalls');
    expect(conn.state).toBe('ESTABLISHED');
    expect(server.stats().find((r) => r.module === 'tcp')!.upcalls).toBeGreaterThan(0);
    expect(typeof trace.openCapture).toBe('function');
    expect(typeof checkLoops).toBe('function');
    // the checker is its own entry point ('upcall-stack/check'): the stack's must not carry it
    expect('checkLoops' in api).toBe(false);
    expect(typeof TelnetServer).toBe('function');
  });
});
