/**
 * Echo (RFC 862) and discard (RFC 863) on TCP, written as handlers bound to
 * TCP's slots: no socket, no read loop. The echo handler sends what it got from
 * inside onData, so the echo leaves in the segment that acknowledges the data
 * (watch `piggybackedAcks` against `pureAcksOut`).
 *
 *     npx tsx apps/examples/tcp-services.ts
 */
import { pathToFileURL } from 'node:url';
import { VirtualClock, type Module } from '../../src/core/index.js';
import { createHost } from '../../src/host.js';
import { SimLink } from '../../src/layers/nic/sim-link.js';
import { Tcp, type TcpListener, type TcpSlots } from '../../src/layers/tcp/index.js';
import { formatIp4 } from '../../src/wire/addr.js';

/** Per-service counts. */
export interface ServiceStats {
  connections: number;
  bytes: number;
}

/** Echo: every byte received is sent back, from inside the onData upcall. */
export function echoService(tcp: Tcp, owner: Module, port = 7): { listener: TcpListener; stats: ServiceStats } {
  const stats: ServiceStats = { connections: 0, bytes: 0 };
  const handlers: Partial<TcpSlots> = {
    onData(conn, data) {
      stats.bytes += data.length;
      conn.send(data);
    },
    onClose(conn, how) {
      if (how === 'peer-fin') conn.close();
    },
  };
  const listener = tcp.listen(port, owner, {
    onAccept() {
      stats.connections++;
      return handlers;
    },
  });
  return { listener, stats };
}

/** Discard: bytes are acknowledged and dropped. */
export function discardService(tcp: Tcp, owner: Module, port = 9): { listener: TcpListener; stats: ServiceStats } {
  const stats: ServiceStats = { connections: 0, bytes: 0 };
  const handlers: Partial<TcpSlots> = {
    onData(_conn, data) {
      stats.bytes += data.length;
    },
    onClose(conn, how) {
      if (how === 'peer-fin') conn.close();
    },
  };
  const listener = tcp.listen(port, owner, {
    onAccept() {
      stats.connections++;
      return handlers;
    },
  });
  return { listener, stats };
}

export interface ServicesRun {
  echoed: string[];
  echo: ServiceStats;
  discard: ServiceStats;
  /** The server's TCP counters. */
  server: { segmentsOut: number; dataSegmentsOut: number; pureAcksOut: number; piggybackedAcks: number };
  lines: string[];
}

/** Two hosts on a simulated link; the client types into echo, then pours 100 KB into discard. */
export function runTcpServices(print: (line: string) => void = (l) => console.log(l)): ServicesRun {
  const lines: string[] = [];
  const say = (l: string): void => {
    lines.push(l);
    print(l);
  };
  const clock = new VirtualClock();
  const link = new SimLink(clock, { seed: 1, delayMs: 5 });
  const client = createHost({ name: 'client', link, ip: '10.0.0.1/24', seed: 1, tcp: true });
  const server = createHost({ name: 'server', link, ip: '10.0.0.2/24', seed: 2, tcp: true });
  const ctcp = client.tcp!;
  const stcp = server.tcp!;
  const services = server.rt.app('services');
  const echo = echoService(stcp, services);
  const discard = discardService(stcp, services);
  say(`server ${formatIp4(server.address)}: echo on 7, discard on 9`);

  const app = client.rt.app('client');
  const echoed: string[] = [];
  const keys = 'hello, upcalls';
  const e = ctcp.connect(server.address, 7, app, {
    onConnect(conn) {
      say(`client connected to echo from port ${conn.localPort}`);
      // One keystroke every 50 ms, like a person typing.
      for (let i = 0; i < keys.length; i++) clock.schedule(clock.now() + 50 * i, () => conn.send(keys[i]!));
      clock.schedule(clock.now() + 50 * keys.length + 100, () => conn.shutdown());
    },
    onData(_conn, data) {
      echoed.push(new TextDecoder().decode(data));
    },
    onClose(_conn, how) {
      if (how === 'closed') say(`echo connection closed; got back ${JSON.stringify(echoed.join(''))}`);
    },
  });
  clock.runUntil(() => e.state === 'TIME-WAIT' || e.state === 'CLOSED', 60_000);
  const afterEcho = { ...stcp.counters };
  say(
    `echo: server sent ${afterEcho.dataSegmentsOut} data segments, ${afterEcho.piggybackedAcks} carried the ACK of the keystroke, ${afterEcho.pureAcksOut} pure ACKs`,
  );

  const blob = new Uint8Array(100_000).fill(0x2a);
  const d = ctcp.connect(server.address, 9, app, {
    onConnect(conn) {
      conn.send(blob);
      conn.shutdown();
    },
  });
  clock.runUntil(() => d.state === 'TIME-WAIT' || d.state === 'CLOSED', 60_000);
  say(`discard: ${discard.stats.bytes} bytes dropped on the floor, acknowledged all the same`);
  clock.runAll(600_000);
  const c = stcp.counters;
  return {
    echoed,
    echo: echo.stats,
    discard: discard.stats,
    server: { segmentsOut: c.segmentsOut, dataSegmentsOut: c.dataSegmentsOut, pureAcksOut: c.pureAcksOut, piggybackedAcks: c.piggybackedAcks },
    lines,
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runTcpServices();
}
