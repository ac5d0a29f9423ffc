/**
 * TCP's output goes through the runtime's deferral (afterUnwind): it runs when
 * TCP's outermost activation working on the connection unwinds, so what a
 * handler asks for inside an upcall leaves with the segment TCP owes anyway,
 * and the deferral is visible in the runtime's events and counters.
 */
import { describe, expect, it } from 'vitest';
import type { StackEvent } from '../../../src/core/index.js';
import type { TcpConnection, TcpSlots } from '../../../src/layers/tcp/index.js';
import { TCP_ACK, TCP_PSH } from '../../../src/wire/tcp.js';
import { makePair, textOf, type Datagram } from './support/fake-ip.js';

interface Seg {
  at: number;
  flags: number;
  seq: number;
  ack: number;
  text: string;
}

function seg(d: Datagram): Seg {
  const b = d.bytes;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const off = (b[12]! >>> 4) * 4;
  return { at: d.at, flags: b[13]!, seq: v.getUint32(4), ack: v.getUint32(8), text: textOf(b.subarray(off)) };
}

/** A connected pair; `server` handlers given; the server's segments recorded from now on. */
function connected(server: Partial<TcpSlots>) {
  const p = makePair();
  let srv: TcpConnection | undefined;
  p.b.tcp.listen(7, p.b.rt.app('srv'), {
    onAccept: (c) => {
      srv = c;
      return server;
    },
  });
  const got: string[] = [];
  const cli = p.a.tcp.connect(p.b.addr, 7, p.a.rt.app('cli'), { onData: (_c, d) => void got.push(textOf(d)) });
  p.clock.runUntil(() => cli.state === 'ESTABLISHED' && srv !== undefined, 1000);
  p.clock.advance(500);
  const fromServer: Seg[] = [];
  p.net.taps.push((d) => {
    if (d.src === p.b.addr) fromServer.push(seg(d));
  });
  const events: StackEvent[] = [];
  p.b.rt.events.subscribe((e) => events.push(e));
  return { p, cli, srv: () => srv!, got, fromServer, events };
}

describe('TCP output runs when its work on the connection unwinds', () => {
  it("a handler's conn.send() inside onData leaves in one segment with the ACK of the data", () => {
    const t = connected({ onData: (c, d) => void c.send(`re:${textOf(d)}`) });
    t.cli.send('ping');
    const sentAt = t.p.clock.now();
    // (Less than the client's delayed ACK: later the server's tail loss probe may race it.)
    t.p.clock.advance(100);
    expect(t.got.join('')).toBe('re:ping');
    expect(t.fromServer).toHaveLength(1);
    const s = t.fromServer[0]!;
    expect(s.text).toBe('re:ping');
    expect(s.flags & TCP_ACK).toBe(TCP_ACK);
    expect(s.flags & TCP_PSH).toBe(TCP_PSH);
    // It acknowledges the four bytes, and left as soon as they arrived (1 ms link), not after a delayed ACK.
    expect(s.at).toBe(sentAt + 1);
    expect(t.p.b.tcp.counters.pureAcksOut).toBe(0);
    expect(t.p.b.tcp.counters.piggybackedAcks).toBe(1);
  });

  it('several sends and an arm inside one upcall still make one segment; the output is deferred once and runs once', () => {
    const t = connected({
      onData: (c) => {
        c.send('a');
        c.send('b');
        c.armSend();
      },
      onSendReady: (_c, w) => void w.write('c'),
    });
    t.cli.send('x');
    t.p.clock.advance(100);
    expect(t.fromServer.map((s) => s.text)).toEqual(['abc']);
    const task = t.events.find((e) => e.kind === 'upcall' && e.slot === 'onData')!.task;
    const mine = t.events.filter((e) => e.task === task && (e.kind === 'deferral' || e.kind === 'deferred-run'));
    expect(mine).toMatchObject([
      { kind: 'deferral', module: 'tcp', entry: 'output', from: 'tcp' },
      { kind: 'deferred-run', module: 'tcp', entry: 'output' },
    ]);
    expect((mine[0] as { client: string }).client).toMatch(/^tcp 10\.0\.0\.2:7 -> 10\.0\.0\.1:\d+ ESTABLISHED$/);
    // The deferral is made inside the handler's call down; it runs after TCP's upcall returned.
    const kinds = t.events.filter((e) => e.task === task).map((e) => (e.kind === 'upcall' ? `upcall ${e.slot}` : e.kind === 'enter' ? `enter ${e.entry}` : e.kind));
    expect(kinds.indexOf('deferral')).toBeGreaterThan(kinds.indexOf('upcall onData'));
    expect(kinds.indexOf('deferred-run')).toBeLessThan(kinds.indexOf('upcall onSendReady'));
    expect(kinds.indexOf('enter send')).toBeLessThan(kinds.indexOf('deferral'));
  });

  it('the echo path (armSend in onData, the write in onSendReady) counts one deferral per keystroke, in module and runtime stats', () => {
    let pending = '';
    const t = connected({
      onData: (c, d) => {
        pending += textOf(d);
        c.armSend();
      },
      onSendReady: (_c, w) => {
        w.write(pending);
        pending = '';
      },
    });
    const before = { tcp: t.p.b.tcp.stats.deferrals, rt: t.p.b.rt.stats.deferrals };
    for (const ch of 'hello') {
      t.cli.send(ch);
      t.p.clock.advance(150);
    }
    expect(t.got.join('')).toBe('hello');
    // One segment per keystroke: the echo carries the ACK.
    expect(t.fromServer.map((s) => s.text)).toEqual(['h', 'e', 'l', 'l', 'o']);
    expect(t.p.b.tcp.stats.deferrals - before.tcp).toBe(5);
    expect(t.p.b.rt.stats.deferrals - before.rt).toBe(5);
    expect(t.events.filter((e) => e.kind === 'deferred-run' && e.module === 'tcp')).toHaveLength(5);
  });

  it('a handler arming again from onSendReady is served after its segment is out, in the same task', () => {
    let left = 3;
    const tasks = new Set<number>();
    const t = connected({
      onData: (c) => {
        c.setNoDelay(true);
        c.armSend();
      },
      onSendReady: (c, w) => {
        w.write(String(left));
        if (--left > 0) c.armSend();
      },
    });
    t.events.length = 0;
    t.cli.send('go');
    t.p.clock.advance(100);
    expect(t.fromServer.map((s) => s.text)).toEqual(['3', '2', '1']);
    for (const e of t.events) if (e.kind === 'upcall' && e.slot === 'onSendReady') tasks.add(e.task!);
    expect(tasks.size).toBe(1);
  });

  it('called from outside any task, send() puts its segment on the wire before it returns', () => {
    const t = connected({});
    const n = t.fromServer.length;
    t.srv().send('hi');
    expect(t.fromServer.length).toBe(n + 1);
    expect(t.fromServer.at(-1)!.text).toBe('hi');
  });

  it('close() inside onData: the FIN leaves with the ACK and the reply', () => {
    const t = connected({
      onData: (c) => {
        c.send('bye');
        c.close();
      },
    });
    t.cli.send('quit');
    t.p.clock.advance(1);
    expect(t.fromServer).toHaveLength(1);
    expect(t.fromServer[0]!.text).toBe('bye');
    expect(t.fromServer[0]!.flags & 0x01).toBe(0x01); // FIN
  });
});
