/**
 * Behaviour of connections as clients see it: the upcall contract (piggyback,
 * arm-for-send, queued dispatch), failure isolation, listener queues, window
 * exhaustion, many connections, and the netstat facade.
 */
import { describe, expect, it } from 'vitest';
import { PENDING } from '../../../src/core/index.js';
import type { TcpConnection, TcpSlots } from '../../../src/layers/tcp/index.js';
import { Rng } from '../../../src/core/index.js';
import { bytesOf, concat, makePair, textOf } from './support/fake-ip.js';

function echoServer(pair: ReturnType<typeof makePair>, port = 7): { accepted: TcpConnection[] } {
  const accepted: TcpConnection[] = [];
  pair.b.tcp.listen(port, pair.b.rt.app('echo'), {
    onAccept: (c) => {
      accepted.push(c);
      return {
        onData: (conn, d) => void conn.send(d),
        onClose: (conn, how) => {
          if (how === 'peer-fin') conn.close();
        },
      };
    },
  });
  return { accepted };
}

describe('the upcall interface', () => {
  it('an echo written in onData rides on the ACK of the data (piggybacking)', () => {
    const p = makePair();
    echoServer(p);
    const got: string[] = [];
    const c = p.a.tcp.connect(p.b.addr, 7, p.a.rt.app('cli'), { onData: (_c, d) => void got.push(textOf(d)) });
    p.clock.runUntil(() => c.state === 'ESTABLISHED', 1000);
    for (const ch of 'hello') {
      c.send(ch);
      p.clock.advance(50);
    }
    p.clock.advance(1000);
    expect(got.join('')).toBe('hello');
    const srv = p.b.tcp.counters;
    // Every echo carried the ACK of the keystroke: no pure ACK from the server after the handshake.
    expect(srv.piggybackedAcks).toBe(5);
    expect(srv.dataSegmentsOut).toBe(5);
    expect(srv.pureAcksOut).toBe(0);
  });

  it('onSendReady lends the payload area of the segment being built', () => {
    const p = makePair();
    const got: Uint8Array[] = [];
    p.b.tcp.listen(9, p.b.rt.app('sink'), { onAccept: () => ({ onData: (_c, d) => void got.push(d.slice()) }) });
    let calls = 0;
    const spaces: number[] = [];
    const c = p.a.tcp.connect(p.b.addr, 9, p.a.rt.app('src'), {
      onConnect: (conn) => conn.armSend(),
      onSendReady: (conn, w) => {
        calls++;
        spaces.push(w.space);
        // Direct write into the packet, then commit.
        w.buffer.set(bytesOf('abc'), w.offset);
        w.commit(3);
        expect(w.write(bytesOf('def'))).toBe(3);
        if (calls < 3) conn.armSend();
      },
    });
    p.clock.runAll(10_000);
    expect(textOf(concat(got))).toBe('abcdefabcdefabcdef');
    expect(spaces[0]).toBe(1448); // MSS 1460 minus the timestamp option
    expect(c.stats.dataSegmentsOut).toBe(3);
  });

  it('under queued dispatch the same code works: upcalls are messages, onSendReady writes later', () => {
    const p = makePair();
    const srvApp = p.b.rt.app('echo');
    srvApp.dispatch = 'queued';
    const cliApp = p.a.rt.app('cli');
    cliApp.dispatch = 'queued';
    p.b.tcp.listen(7, srvApp, {
      onAccept: (c) => {
        // A queued onAccept cannot return its handlers: it binds them.
        c.bind({ onData: (conn, d) => void conn.send(d) });
        return undefined;
      },
    });
    const got: string[] = [];
    let readyResults = 0;
    const c = p.a.tcp.connect(p.b.addr, 7, cliApp, {
      onConnect: (conn) => conn.armSend(),
      onSendReady: (_conn, w) => {
        readyResults++;
        w.write('queued hello');
      },
      onData: (_c, d) => void got.push(textOf(d)),
    });
    p.clock.runAll(10_000);
    expect(readyResults).toBe(1);
    expect(got.join('')).toBe('queued hello');
    expect(c.state).toBe('ESTABLISHED');
    void PENDING;
  });

  it('a handler that throws ends its task and only its connection', () => {
    const p = makePair();
    const closed: string[] = [];
    p.b.tcp.listen(7, p.b.rt.app('srv'), {
      onAccept: () => ({
        onData: (conn, d) => {
          if (textOf(d).includes('boom')) throw new Error('handler bug');
          conn.send(d);
        },
        onError: () => closed.push('server saw error'),
      }),
    });
    const results = new Map<string, string[]>();
    const open = (name: string): TcpConnection => {
      const log: string[] = [];
      results.set(name, log);
      return p.a.tcp.connect(p.b.addr, 7, p.a.rt.app('cli'), {
        onData: (_c, d) => void log.push(textOf(d)),
        onError: (_c, e) => void log.push(`error ${e.code}`),
      });
    };
    const good = open('good');
    const bad = open('bad');
    p.clock.runUntil(() => good.state === 'ESTABLISHED' && bad.state === 'ESTABLISHED', 1000);
    bad.send('boom');
    good.send('ping');
    p.clock.advance(500);
    expect(results.get('bad')).toEqual(['error ECONNRESET']);
    expect(results.get('good')).toEqual(['ping']);
    // No upcall reached the failing client after its cleanup.
    expect(closed).toEqual([]);
    expect(p.b.tcp.stats.cleanups).toBe(1);
    good.send(' again');
    p.clock.advance(500);
    expect(results.get('good')!.join('')).toBe('ping again');
    expect(p.b.tcp.connectionCount).toBe(1);
  });

  it('a handler that throws in onAccept costs only that connection', () => {
    const p = makePair();
    let n = 0;
    p.b.tcp.listen(7, p.b.rt.app('srv'), {
      onAccept: () => {
        if (++n === 1) throw new Error('first accept fails');
        return { onData: (c, d) => void c.send(d) };
      },
    });
    const errs: string[] = [];
    const first = p.a.tcp.connect(p.b.addr, 7, p.a.rt.app('cli'), { onError: (_c, e) => void errs.push(e.code) });
    p.clock.advance(100);
    const got: string[] = [];
    const second = p.a.tcp.connect(p.b.addr, 7, p.a.rt.app('cli'), { onData: (_c, d) => void got.push(textOf(d)) });
    p.clock.runUntil(() => second.state === 'ESTABLISHED', 1000);
    second.send('ok');
    p.clock.advance(500);
    expect(errs).toEqual(['ECONNRESET']);
    expect(first.state).toBe('CLOSED');
    expect(got).toEqual(['ok']);
  });

  it('send after shutdown is refused and counted', () => {
    const p = makePair();
    echoServer(p);
    const c = p.a.tcp.connect(p.b.addr, 7, p.a.rt.app('cli'), {});
    p.clock.runUntil(() => c.state === 'ESTABLISHED', 1000);
    c.shutdown();
    expect(c.send('late')).toBe(false);
    expect(p.a.tcp.stats.dropReasons.get('send-after-close')).toBe(1);
  });
});

describe('listener queues', () => {
  it('holds at most `backlog` unbound connections; SYNs beyond wait for room', () => {
    const p = makePair();
    const pending: TcpConnection[] = [];
    const l = p.b.tcp.listen(80, p.b.rt.app('srv'), { onAccept: (c) => void pending.push(c) }, { backlog: 2 });
    const conns = [0, 1, 2].map(() => p.a.tcp.connect(p.b.addr, 80, p.a.rt.app('cli'), {}));
    p.clock.advance(500);
    expect(pending.length).toBe(2);
    expect(l.acceptCount).toBe(2);
    // As with Linux: the client believes it is connected; the server ignored
    // its ACK and keeps the connection half-open.
    expect(l.synCount).toBe(1);
    expect(conns[2]!.state).toBe('ESTABLISHED');
    expect(p.b.tcp.stats.dropReasons.get('accept-queue-full')).toBeGreaterThan(0);
    // The application takes one: the SYN-ACK, retried, gets the third in.
    pending[0]!.bind({});
    p.clock.advance(3000);
    expect(pending.length).toBe(3);
    expect(l.synCount).toBe(0);
  });

  it('bounds half-open connections by synBacklog', () => {
    const p = makePair();
    // The server's SYN-ACKs are lost: its connections stay half-open.
    p.net.perSource.set(p.b.addr, { loss: 1 });
    const l = p.b.tcp.listen(80, p.b.rt.app('srv'), {}, { synBacklog: 3 });
    for (let i = 0; i < 5; i++) p.a.tcp.connect(p.b.addr, 80, p.a.rt.app('cli'), {});
    p.clock.advance(10);
    expect(l.synCount).toBe(3);
    expect(p.b.tcp.stats.dropReasons.get('syn-queue-full')).toBe(2);
  });

  it('data sent before the application binds is held, then delivered in order', () => {
    const p = makePair();
    let server: TcpConnection | null = null;
    p.b.tcp.listen(80, p.b.rt.app('srv'), { onAccept: (c) => void (server = c) });
    const c = p.a.tcp.connect(p.b.addr, 80, p.a.rt.app('cli'), { onConnect: (conn) => void conn.send('early bytes') });
    p.clock.advance(500);
    expect(server!.heldAmount).toBe(11);
    const got: string[] = [];
    server!.bind({ onData: (_s, d) => void got.push(textOf(d)) });
    expect(got).toEqual(['early bytes']);
    expect(c.state).toBe('ESTABLISHED');
  });

  it('a peer that sends and closes before the application binds: data, peer-fin and closed all reach the late binder', () => {
    const p = makePair({ config: { mslMs: 100 } });
    let server: TcpConnection | null = null;
    p.b.tcp.listen(80, p.b.rt.app('srv'), { onAccept: (c) => void (server = c) });
    p.a.tcp.connect(p.b.addr, 80, p.a.rt.app('cli'), {
      onConnect: (conn) => {
        conn.send('bye');
        conn.close();
      },
    });
    p.clock.advance(500);
    const log: string[] = [];
    server!.bind({
      onData: (_s, d) => void log.push(textOf(d)),
      onClose: (s, how) => {
        log.push(how);
        if (how === 'peer-fin') s.close();
      },
    });
    p.clock.runAll(10_000);
    expect(log).toEqual(['bye', 'peer-fin', 'closed']);
  });

  it('closing a listener resets its unaccepted connections and frees the port', () => {
    const p = makePair();
    const l = p.b.tcp.listen(80, p.b.rt.app('srv'), {});
    const errs: string[] = [];
    p.a.tcp.connect(p.b.addr, 80, p.a.rt.app('cli'), { onError: (_c, e) => void errs.push(e.code) });
    p.clock.advance(100);
    l.close();
    p.clock.advance(100);
    expect(errs).toEqual(['ECONNRESET']);
    p.b.tcp.listen(80, p.b.rt.app('srv2'), {});
    const refused: string[] = [];
    p.a.tcp.connect(p.b.addr, 81, p.a.rt.app('cli'), { onError: (_c, e) => void refused.push(e.code) });
    p.clock.advance(100);
    expect(refused).toEqual(['ECONNREFUSED']);
  });
});

describe('flow control', () => {
  it('a receiver that stops reading closes the window; probes keep it alive; resume delivers everything', () => {
    const p = makePair({ config: { receiveBufferSize: 16 * 1024 } });
    const got: Uint8Array[] = [];
    let server!: TcpConnection;
    p.b.tcp.listen(80, p.b.rt.app('srv'), {
      onAccept: (c) => {
        server = c;
        c.pause();
        return { onData: (_c, d) => void got.push(d.slice()) };
      },
    });
    const data = new Rng(5).bytes(100_000);
    const c = p.a.tcp.connect(p.b.addr, 80, p.a.rt.app('cli'), { onConnect: (conn) => void conn.send(data) });
    p.clock.advance(20_000);
    expect(got.length).toBe(0);
    expect(server.heldAmount).toBe(16 * 1024);
    expect(c.stats.zeroWindowProbes).toBeGreaterThan(3);
    expect(c.state).toBe('ESTABLISHED');
    server.resume();
    p.clock.advance(5_000);
    expect(Buffer.compare(concat(got), data)).toBe(0);
    expect(p.b.tcp.counters.windowUpdates).toBeGreaterThan(0);
  });

  it('send() reports backpressure and onDrain says when to go on', () => {
    const p = makePair({ config: { sendBufferSize: 8192 } });
    let total = 0;
    p.b.tcp.listen(80, p.b.rt.app('srv'), { onAccept: () => ({ onData: (_c, d) => void (total += d.length) }) });
    const chunk = new Uint8Array(3000);
    let sent = 0;
    let refusals = 0;
    const pump = (conn: TcpConnection) => {
      while (sent < 300_000) {
        sent += chunk.length;
        if (!conn.send(chunk)) {
          refusals++;
          return;
        }
      }
      conn.shutdown();
    };
    const c = p.a.tcp.connect(p.b.addr, 80, p.a.rt.app('cli'), { onConnect: pump, onDrain: pump });
    p.clock.runUntil(() => total === 300_000, 60_000);
    expect(total).toBe(300_000);
    expect(refusals).toBeGreaterThan(10);
    expect(c.sendBuf === undefined).toBe(false);
  });
});

describe('scale', () => {
  it('1,000 concurrent connections on one host pair each echo their own bytes', () => {
    const p = makePair({ faults: { loss: 0.01, reorder: 0.01 } });
    echoServer(p);
    const N = 1000;
    const want: string[] = [];
    const got: string[][] = [];
    const done: boolean[] = [];
    const conns: TcpConnection[] = [];
    for (let i = 0; i < N; i++) {
      want.push(`connection ${i} says hello`);
      got.push([]);
      done.push(false);
      const handlers: Partial<TcpSlots> = {
        onConnect: (c) => void c.send(want[i]!),
        onData: (_c, d) => void got[i]!.push(textOf(d)),
        onClose: (c, how) => {
          if (how === 'peer-fin') c.close();
          else done[i] = true;
        },
      };
      conns.push(p.a.tcp.connect(p.b.addr, 7, p.a.rt.app('cli'), handlers));
    }
    p.clock.runUntil(() => got.every((g, i) => g.join('') === want[i]), 60_000);
    expect(p.a.tcp.connectionCount).toBe(N);
    expect(p.b.tcp.connectionCount).toBe(N);
    const ports = new Set(conns.map((c) => c.localPort));
    expect(ports.size).toBe(N);
    for (const c of conns) c.shutdown();
    p.clock.runUntil(() => done.every(Boolean), 60_000);
    p.clock.runAll(200_000);
    expect(p.a.tcp.connectionCount).toBe(0);
    expect(p.b.tcp.connectionCount).toBe(0);
    expect(p.a.tcp.liveTimers()).toBe(0);
  });
});

describe('netstat facade', () => {
  it('lists listeners and connections with their states', () => {
    const p = makePair();
    echoServer(p, 23);
    const c = p.a.tcp.connect(p.b.addr, 23, p.a.rt.app('cli'), {}, { localPort: 40001 });
    p.clock.advance(100);
    expect(p.b.tcp.connections()).toEqual([
      { local: '0.0.0.0:23', remote: '0.0.0.0:*', state: 'LISTEN' },
      { local: '10.0.0.2:23', remote: '10.0.0.1:40001', state: 'ESTABLISHED' },
    ]);
    c.close();
    p.clock.advance(100);
    expect(p.a.tcp.connections()).toEqual([{ local: '10.0.0.1:40001', remote: '10.0.0.2:23', state: 'TIME-WAIT' }]);
  });

  it('a new SYN may reuse a pair in TIME-WAIT', () => {
    const p = makePair({ config: { mslMs: 60_000 } });
    echoServer(p);
    // The server closes first, so the server side holds TIME-WAIT.
    p.b.tcp.listen(8, p.b.rt.app('closer'), { onAccept: () => ({ onConnect: (c) => c.close() }) });
    const c1 = p.a.tcp.connect(p.b.addr, 8, p.a.rt.app('cli'), { onClose: (c, how) => how === 'peer-fin' && c.close() }, { localPort: 40002 });
    p.clock.advance(1000);
    expect(c1.state).toBe('CLOSED');
    expect(p.b.tcp.connections().find((r) => r.remote === '10.0.0.1:40002')?.state).toBe('TIME-WAIT');
    const c2 = p.a.tcp.connect(p.b.addr, 8, p.a.rt.app('cli'), {}, { localPort: 40002 });
    p.clock.advance(1000);
    expect(c2.state).not.toBe('SYN-SENT');
  });
});
