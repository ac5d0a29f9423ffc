/**
 * The net.Socket-like Duplex adapter, and a well-known npm protocol stack
 * driven over it: the `ws` WebSocket client talking to a `ws` server that sits
 * on Node's own HTTP server, both ends on this TCP over Ethernet/ARP/IPv4 on a
 * simulated link. Nothing in `ws` or `node:http` knows it is not a kernel socket.
 */
import { createServer as createHttpServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { VirtualClock } from '../../../src/core/index.js';
import { createHost } from '../../../src/host.js';
import { SimLink } from '../../../src/layers/nic/sim-link.js';
import { Tcp } from '../../../src/layers/tcp/index.js';
import { createConnection, createServer, type TcpSocket } from '../../../src/layers/tcp/stream.js';
import { Rng } from '../../../src/core/index.js';

function stack(seed = 1, loss = 0) {
  const clock = new VirtualClock();
  const link = new SimLink(clock, { seed, loss });
  const A = createHost({ name: 'a', link, ip: '10.0.0.1/24', seed: 11 });
  const B = createHost({ name: 'b', link, ip: '10.0.0.2/24', seed: 12 });
  return { clock, A, B, ta: new Tcp(A.rt, A.ip), tb: new Tcp(B.rt, B.ip) };
}

/** Advance virtual time while letting Node's stream machinery (ticks, promises, immediates) run. */
async function until(clock: VirtualClock, done: () => boolean, limitMs = 60_000): Promise<void> {
  const end = clock.now() + limitMs;
  while (!done()) {
    if (clock.now() >= end) throw new Error('condition not reached in virtual time');
    clock.advance(1);
    await new Promise<void>((r) => setImmediate(r));
  }
}

describe('TcpSocket / TcpServer', () => {
  it('echoes, ends and closes like net.Socket', async () => {
    const s = stack();
    const server = createServer(s.tb, (sock) => {
      sock.on('data', (d: Buffer) => sock.write(d));
      sock.on('end', () => sock.end());
    });
    server.listen(7);
    const events: string[] = [];
    const chunks: Buffer[] = [];
    const client = createConnection(s.ta, { port: 7, host: '10.0.0.2' }, () => events.push('connect'));
    client.on('data', (d: Buffer) => chunks.push(d));
    client.on('end', () => events.push('end'));
    client.on('close', (hadError: boolean) => events.push(`close ${hadError}`));
    client.write('hello ');
    client.write(Buffer.from('world'));
    await until(s.clock, () => Buffer.concat(chunks).toString() === 'hello world');
    expect(client.remoteAddress).toBe('10.0.0.2');
    expect(client.remotePort).toBe(7);
    expect(client.localAddress).toBe('10.0.0.1');
    client.end();
    await until(s.clock, () => events.includes('close false'));
    expect(events).toEqual(['connect', 'end', 'close false']);
    server.close();
  });

  it('propagates backpressure both ways and loses nothing', async () => {
    const s = stack(2);
    const data = new Rng(3).bytes(2_000_000);
    let serverSock: TcpSocket | null = null;
    const got: Buffer[] = [];
    createServer(s.tb, (sock) => {
      serverSock = sock;
      sock.pause();
      sock.on('data', (d: Buffer) => got.push(d));
    }).listen(9);
    const client = createConnection(s.ta, { port: 9, host: '10.0.0.2' });
    let drains = 0;
    client.on('drain', () => drains++);
    let off = 0;
    let blocked = false;
    const writeMore = (): void => {
      while (off < data.length) {
        const ok = client.write(data.subarray(off, off + 65536));
        off += 65536;
        if (!ok) {
          blocked = true;
          return;
        }
      }
      client.end();
    };
    client.on('drain', writeMore);
    writeMore();
    await until(s.clock, () => serverSock !== null && blocked, 10_000);
    // The reader is paused: the writer is held back, TCP's window is closed.
    await until(s.clock, () => s.ta.allConnections()[0]?.stats.zeroWindowProbes !== 0, 20_000);
    expect(got.length).toBe(0);
    serverSock!.resume();
    await until(s.clock, () => Buffer.concat(got).length === data.length, 120_000);
    expect(Buffer.compare(Buffer.concat(got), data)).toBe(0);
    expect(drains).toBeGreaterThan(0);
  });

  it('reports a refused connection as an error event', async () => {
    const s = stack(4);
    const client = createConnection(s.ta, { port: 1234, host: '10.0.0.2' });
    const errs: string[] = [];
    client.on('error', (e: Error & { code?: string }) => errs.push(e.code ?? e.message));
    await until(s.clock, () => client.destroyed);
    expect(errs).toEqual(['ECONNREFUSED']);
  });
});

describe('an npm protocol client over the stack', () => {
  it('ws: WebSocket handshake (HTTP upgrade), text and binary messages, ping, close 1000', async () => {
    const s = stack(5, 0.02);
    // Server: Node's HTTP server fed with our sockets, ws handling the upgrade.
    const http = createHttpServer();
    const wss = new WebSocketServer({ noServer: true });
    http.on('upgrade', (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    });
    const serverLog: string[] = [];
    wss.on('connection', (ws, req) => {
      serverLog.push(`open ${req.url} from ${req.socket.remoteAddress}`);
      ws.on('message', (data, isBinary) => {
        serverLog.push(isBinary ? `binary ${(data as Buffer).length}` : `text ${data.toString()}`);
        ws.send(data, { binary: isBinary });
      });
      ws.on('close', (code) => serverLog.push(`close ${code}`));
    });
    createServer(s.tb, (sock) => http.emit('connection', sock)).listen(8080);

    // Client: ws with a connection factory that dials through our TCP.
    const ws = new WebSocket('ws://10.0.0.2:8080/chat', {
      createConnection: ((opts: { port?: number | string; host?: string }) =>
        createConnection(s.ta, { port: Number(opts.port), host: String(opts.host) })) as never,
    });
    const clientLog: string[] = [];
    ws.on('open', () => {
      clientLog.push('open');
      ws.send('hello over upcalls');
      ws.send(new Rng(9).bytes(100_000), { binary: true });
      ws.ping();
    });
    ws.on('pong', () => clientLog.push('pong'));
    ws.on('message', (data, isBinary) => {
      clientLog.push(isBinary ? `binary ${(data as Buffer).length}` : `text ${data.toString()}`);
      if (clientLog.filter((l) => l.startsWith('binary') || l.startsWith('text')).length === 2) ws.close(1000, 'done');
    });
    let closed = -1;
    ws.on('close', (code) => (closed = code));
    await until(s.clock, () => closed !== -1, 120_000);
    expect(clientLog).toContain('text hello over upcalls');
    expect(clientLog).toContain('binary 100000');
    expect(clientLog).toContain('pong');
    expect(closed).toBe(1000);
    await until(s.clock, () => serverLog.includes('close 1000'));
    expect(serverLog[0]).toBe('open /chat from 10.0.0.1');
    expect(serverLog).toContain('text hello over upcalls');
    expect(serverLog).toContain('binary 100000');
    // Every connection ends cleanly (TIME-WAIT expires on the virtual clock).
    await until(s.clock, () => s.ta.connectionCount === 0 && s.tb.connectionCount === 0, 200_000);
  });
});
