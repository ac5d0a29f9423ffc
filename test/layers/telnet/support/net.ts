/**
 * Two hosts on a simulated link, with TCP, the Telnet server on one and the
 * Telnet client on the other: the remote-login setting of the tests.
 */
import { VirtualClock } from '../../../../src/core/index.js';
import { createHost, type Host } from '../../../../src/host.js';
import { SimLink, type SimLinkOptions } from '../../../../src/layers/nic/sim-link.js';
import { Tcp, type TcpConfig } from '../../../../src/layers/tcp/index.js';
import { runVirtual } from '../../../../src/layers/telnet/async-work.js';
import { TelnetClient } from '../../../../src/layers/telnet/client.js';
import { hostShellEnv } from '../../../../src/layers/telnet/host-env.js';
import { TelnetServer, type TelnetServerOptions } from '../../../../src/layers/telnet/server.js';
import { hashPasswordSync, parseUsers, type UserDb } from '../../../../src/layers/telnet/users.js';
import { parseIp4 } from '../../../../src/wire/addr.js';
import { parseIp6 } from '../../../../src/wire/addr6.js';
import type { Runtime } from '../../../../src/core/index.js';
import type { StreamTransport } from '../../../../src/layers/telnet/transport.js';

let cachedUsers: UserDb | null = null;

/** demo/demo and alice/wonderland, hashed cheaply (N=1024) so tests stay fast. */
export function testUsers(): UserDb {
  cachedUsers ??= parseUsers(
    JSON.stringify({
      users: [
        { name: 'demo', scrypt: hashPasswordSync('demo', { N: 1024 }) },
        { name: 'alice', scrypt: hashPasswordSync('wonderland', { N: 1024 }) },
      ],
    }),
  );
  return cachedUsers;
}

export const SERVER_IP = parseIp4('10.0.0.1');
export const CLIENT_IP = parseIp4('10.0.0.2');
export const SERVER_IP6 = parseIp6('fd00::1');
export const CLIENT_IP6 = parseIp6('fd00::2');

export type ServerClass = new (rt: Runtime, transport: StreamTransport, options: TelnetServerOptions) => TelnetServer;

export interface NetOptions {
  seed?: number;
  link?: SimLinkOptions;
  tcp?: Partial<TcpConfig>;
  server?: Partial<TelnetServerOptions>;
  serverClass?: ServerClass;
  /** Both hosts dual-stack (fd00::1, fd00::2; no DAD), TCP over both families. */
  ipv6?: boolean;
}

export interface Net {
  clock: VirtualClock;
  link: SimLink;
  srv: Host;
  cli: Host;
  srvTcp: Tcp;
  cliTcp: Tcp;
  server: TelnetServer;
  client: TelnetClient;
  /** Run the virtual clock until done() (respecting the server's async work). */
  run(done: () => boolean, limitMs?: number): Promise<boolean>;
}

export function makeNet(opts: NetOptions = {}): Net {
  const seed = opts.seed ?? 1;
  const clock = new VirtualClock();
  const link = new SimLink(clock, { seed, ...opts.link });
  const v6 = opts.ipv6 ?? false;
  const srv = createHost({ name: 'server', link, ip: v6 ? ['10.0.0.1/24', 'fd00::1/64'] : '10.0.0.1/24', ipv6: { dad: false }, seed });
  const cli = createHost({ name: 'client', link, ip: v6 ? ['10.0.0.2/24', 'fd00::2/64'] : '10.0.0.2/24', ipv6: { dad: false }, seed: seed + 1 });
  const srvTcp = new Tcp(srv.rt, v6 ? [srv.ip, srv.ipv6!] : srv.ip, opts.tcp);
  const cliTcp = new Tcp(cli.rt, v6 ? [cli.ip, cli.ipv6!] : cli.ip, opts.tcp);
  let server: TelnetServer | undefined;
  const names = v6 ? { client: CLIENT_IP6, server: SERVER_IP6 } : { client: CLIENT_IP, server: SERVER_IP };
  const shellEnv = hostShellEnv(
    { rt: srv.rt, tcp: srvTcp, icmp: srv.icmp, ...(srv.icmpv6 !== undefined ? { icmpv6: srv.icmpv6 } : {}), hostName: 'server', names },
    () => server,
  );
  const Cls = opts.serverClass ?? TelnetServer;
  server = new Cls(srv.rt, srvTcp, { users: testUsers(), shellEnv, ...opts.server });
  server.start();
  const client = new TelnetClient(cli.rt, cliTcp);
  const s = server;
  return {
    clock,
    link,
    srv,
    cli,
    srvTcp,
    cliTcp,
    server: s,
    client,
    run: (done, limitMs = 600_000) => runVirtual(clock, done, { limitMs, work: [s.work] }),
  };
}

export interface RawPeer {
  conn: import('../../../../src/layers/tcp/index.js').TcpConnection;
  /** Everything received, as bytes. */
  readonly received: number[];
  /** Received bytes as latin-1 text (IAC sequences included). */
  text(): string;
  /** 'open' | 'peer-fin' | 'closed' | error code. */
  state: string;
  send(bytes: Uint8Array | string | number[]): void;
}

/** A bare TCP peer of the server that speaks no Telnet at all: the test writes every byte. */
export function rawPeer(n: Net, onData?: (peer: RawPeer, data: Uint8Array) => void): RawPeer {
  const owner = n.cli.rt.app('raw-peer');
  const peer: RawPeer = {
    conn: undefined as never,
    received: [],
    text: () => String.fromCharCode(...peer.received),
    state: 'connecting',
    send: (bytes) => {
      peer.conn.send(Array.isArray(bytes) ? Uint8Array.from(bytes) : bytes);
    },
  };
  peer.conn = n.cliTcp.connect(SERVER_IP, 23, owner, {
    onConnect: () => {
      peer.state = 'open';
    },
    onData: (_c, d) => {
      for (const b of d) peer.received.push(b);
      onData?.(peer, d);
    },
    onClose: (c, how) => {
      peer.state = how;
      if (how === 'peer-fin') c.close();
    },
    onError: (_c, e) => {
      peer.state = e.code;
    },
  }, { noDelay: true });
  return peer;
}

/** The usual login and a list of commands, typed at `paceMs`. */
export function loginScript(commands: readonly string[], opts: { user?: string; password?: string; paceMs?: number } = {}) {
  const pace = opts.paceMs ?? 150;
  return [
    { expect: 'login: ', type: `${opts.user ?? 'demo'}\r`, paceMs: pace, label: 'login' },
    { expect: 'Password: ', type: `${opts.password ?? 'demo'}\r`, paceMs: pace, secret: true, label: 'password' },
    ...commands.map((c) => ({ expect: /\$ $/, delayMs: pace, type: `${c}\r`, paceMs: pace, label: c === 'exit' ? 'exit' : 'command' })),
  ];
}
