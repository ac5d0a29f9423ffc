/**
 * One stack host on a real wire, in a process of its own: a Telnet server or a
 * Telnet client, on a UDP tunnel (two such processes, on one machine or two,
 * form one Ethernet link) or on a Linux TAP device in a network namespace of
 * its own (root), where the kernel is the peer.
 *
 *   # two processes, one link (UDP datagrams between 127.0.0.1:7001 and :7002)
 *   npx tsx apps/tunnel-host.ts server --local 127.0.0.1:7001 --remote 127.0.0.1:7002 --ip 10.88.0.1/24
 *   npx tsx apps/tunnel-host.ts client --local 127.0.0.1:7002 --remote 127.0.0.1:7001 --ip 10.88.0.2/24 --connect 10.88.0.1
 *
 *   # the kernel as the peer (root): then `ip netns exec <ns> telnet 10.77.0.2`
 *   sudo npx tsx apps/tunnel-host.ts server --tap 10.77.0.1/24
 *
 * Options:
 *   server | client          the role (default server)
 *   --local HOST:PORT        UDP tunnel: where this host listens (port 0: any)
 *   --remote HOST:PORT       UDP tunnel: the other end (omitted: learned from the first datagram)
 *   --tap CIDR               TAP link instead; CIDR is the KERNEL's address in the namespace
 *   --ip CIDR                the stack's address (default .2 of the TAP subnet; required with --local)
 *   --mac MAC                the stack's MAC (default 02:00:00:00:00:<last octet of --ip>)
 *   --connect IP[:PORT]      client: where to connect (default the TAP's kernel address, port 23)
 *   --port N                 server: port to listen on (default 23)
 *   --users FILE             server: the accounts (default apps/data/users.json)
 *   --loss P                 drop this fraction of frames each way on this host's side
 *   --pcap FILE              write every frame this host sends and receives
 *   --ping IP                ping IP three times once the link is up, then go on
 *
 * The client reads keystrokes from stdin (raw when it is a terminal; Ctrl-]
 * hangs up) and writes what the server sends to stdout; it exits when the
 * connection ends. The server runs until Ctrl-C. Everything made for a TAP
 * link (namespace, device, relay) is removed on exit, Ctrl-C and failure.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RealClock } from '../src/core/index.js';
import { createHost, parseCidr, type Host } from '../src/host.js';
import type { Device } from '../src/layers/nic/device.js';
import { TapLink } from '../src/layers/nic/tap.js';
import { parseEndpoint, UdpTunnelDevice, type Endpoint } from '../src/layers/nic/udp-tunnel.js';
import { FaultDevice, PcapDevice } from '../src/layers/nic/wrappers.js';
import { Tcp } from '../src/layers/tcp/index.js';
import type { ClientSession } from '../src/layers/telnet/client-session.js';
import { TelnetClient } from '../src/layers/telnet/client.js';
import { hostShellEnv } from '../src/layers/telnet/host-env.js';
import { TelnetServer } from '../src/layers/telnet/server.js';
import { loadUsers } from '../src/layers/telnet/users.js';
import { PcapWriter } from '../src/trace/pcap.js';
import { formatIp4, formatMac, parseIp4, parseMac, type Ip4, type Mac } from '../src/wire/addr.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface TunnelHostOptions {
  role: 'server' | 'client';
  /** UDP tunnel endpoints (when `tap` is not given). */
  local?: Endpoint;
  remote?: Endpoint;
  /** TAP link: the kernel's address with prefix. */
  tap?: string;
  /** The stack's address with prefix. */
  ip?: string;
  mac?: Mac;
  /** Client: where to connect. */
  connect?: { ip: Ip4; port: number };
  /** Server: port. */
  port: number;
  users: string;
  loss: number;
  pcap?: string;
  ping?: Ip4;
}

export const USAGE =
  'usage: tsx apps/tunnel-host.ts [server|client] (--local HOST:PORT [--remote HOST:PORT] --ip CIDR | --tap CIDR [--ip CIDR])\n' +
  '         [--mac MAC] [--connect IP[:PORT]] [--port N] [--users FILE] [--loss P] [--pcap FILE] [--ping IP]';

/** Parses the command line; a string is the one-line error to print ('help' for --help). */
export function parseTunnelArgs(argv: readonly string[]): TunnelHostOptions | string {
  const o: TunnelHostOptions = { role: 'server', port: 23, users: 'apps/data/users.json', loss: 0 };
  let connect: string | undefined;
  try {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      const value = (): string => {
        const v = argv[++i];
        if (v === undefined || v === '') throw new Error(`${a} needs a value`);
        return v;
      };
      switch (a) {
        case 'server':
        case 'client':
          o.role = a;
          break;
        case '--local':
          o.local = parseEndpoint(value());
          break;
        case '--remote':
          o.remote = parseEndpoint(value());
          break;
        case '--tap':
          o.tap = value();
          parseCidr(o.tap);
          break;
        case '--ip':
          o.ip = value();
          parseCidr(o.ip);
          break;
        case '--mac':
          o.mac = parseMac(value());
          break;
        case '--connect':
          connect = value();
          break;
        case '--port': {
          const n = Number(value());
          if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error('--port needs a port number');
          o.port = n;
          break;
        }
        case '--users':
          o.users = value();
          break;
        case '--loss': {
          const p = Number(value());
          if (!(p >= 0 && p < 1)) throw new Error('--loss needs a probability in [0, 1)');
          o.loss = p;
          break;
        }
        case '--pcap':
          o.pcap = value();
          break;
        case '--ping':
          o.ping = parseIp4(value());
          break;
        case '-h':
        case '--help':
          return 'help';
        default:
          return `unknown argument ${JSON.stringify(a)}`;
      }
    }
    if (connect !== undefined) {
      const [ip, port] = connect.split(':');
      const n = port === undefined ? 23 : Number(port);
      if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`--connect: bad port in ${connect}`);
      o.connect = { ip: parseIp4(ip!), port: n };
    }
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  if (o.tap === undefined && o.local === undefined) return 'give --local HOST:PORT (UDP tunnel) or --tap CIDR (TAP link)';
  if (o.tap !== undefined && (o.local !== undefined || o.remote !== undefined)) return '--tap and --local/--remote do not go together';
  if (o.tap === undefined && o.ip === undefined) return '--ip CIDR is needed on a UDP tunnel';
  if (o.role === 'client' && o.connect === undefined && o.tap === undefined) return 'client: --connect IP[:PORT] is needed on a UDP tunnel';
  return o;
}

/** The stack's address on a TAP subnet: .2 of the kernel's network (the kernel has its own). */
function stackAddressFor(kernelCidr: string): string {
  const { address, prefixLength } = parseCidr(kernelCidr);
  const mask = prefixLength === 0 ? 0 : (0xffff_ffff << (32 - prefixLength)) >>> 0;
  let ip = ((address & mask) | 2) >>> 0;
  if (ip === address) ip = ((address & mask) | 3) >>> 0;
  return `${formatIp4(ip)}/${prefixLength}`;
}

export interface RunningTunnelHost {
  host: Host;
  tcp: Tcp;
  server: TelnetServer | null;
  client: TelnetClient | null;
  session: ClientSession | null;
  tap: TapLink | null;
  device: UdpTunnelDevice;
  /** Stop everything and remove what was made. */
  close(): Promise<void>;
}

/** Bring the host up as `o` says. `log` gets the status lines (stderr by default). */
export async function startTunnelHost(o: TunnelHostOptions, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<RunningTunnelHost> {
  const ipText = o.ip ?? stackAddressFor(o.tap!);
  const { address } = parseCidr(ipText);
  const mac = o.mac ?? 0x0200_0000_0000 + (address & 0xff);
  const clock = new RealClock();
  let tap: TapLink | null = null;
  let tunnel: UdpTunnelDevice;
  if (o.tap !== undefined) {
    tap = await TapLink.create({ kernelAddress: o.tap, stackMac: mac });
    tunnel = tap.device;
    log(`TAP link: namespace ${tap.namespace}, device ${tap.tapName} with the kernel at ${o.tap}; the stack is ${ipText} (${formatMac(mac)})`);
  } else {
    tunnel = await UdpTunnelDevice.open({ mac, local: o.local!, ...(o.remote !== undefined ? { remote: o.remote } : {}) });
    const r = tunnel.remoteEndpoint;
    log(`UDP tunnel: ${tunnel.local.host}:${tunnel.local.port} <-> ${r === undefined ? '(learned from the first datagram)' : `${r.host}:${r.port}`}; the stack is ${ipText} (${formatMac(mac)})`);
  }
  let device: Device = tunnel;
  if (o.loss > 0) device = new FaultDevice(device, clock, { loss: o.loss });
  const pcap = o.pcap !== undefined ? new PcapWriter(resolve(process.cwd(), o.pcap)) : null;
  if (pcap !== null) device = new PcapDevice(device, pcap, clock);
  const host = createHost({ name: o.role, device, ip: ipText, clock, tcp: true });
  const tcp = host.tcp!;
  let server: TelnetServer | null = null;
  let client: TelnetClient | null = null;
  let session: ClientSession | null = null;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    server?.stop();
    if (pcap !== null) await pcap.close();
    if (tap !== null) await tap.destroy();
    else await tunnel.close();
  };
  try {
    if (o.ping !== undefined) {
      const r = await host.ping(o.ping, { count: 3, intervalMs: 200, timeoutMs: 1000 });
      log(`ping ${formatIp4(o.ping)}: ${r.received}/${r.sent} answered${r.received > 0 ? `, avg ${r.avgMs.toFixed(3)} ms` : ''}`);
    }
    if (o.role === 'server') {
      const users = await loadUsers(resolve(ROOT, o.users));
      let srv: TelnetServer | undefined;
      srv = new TelnetServer(host.rt, tcp, {
        port: o.port,
        users,
        shellEnv: hostShellEnv({ rt: host.rt, tcp, icmp: host.icmp, hostName: o.role }, () => srv),
      });
      srv.start();
      server = srv;
      log(`Telnet server listening on ${formatIp4(address)}:${o.port}${tap !== null ? ` (try: ip netns exec ${tap.namespace} telnet ${formatIp4(address)})` : ''}`);
    } else {
      const dst = o.connect ?? { ip: parseCidr(o.tap!).address, port: 23 };
      client = new TelnetClient(host.rt, tcp);
      session = client.connect(dst.ip, dst.port, { onText: (t) => process.stdout.write(t) });
      log(`Telnet client connecting to ${formatIp4(dst.ip)}:${dst.port}`);
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { host, tcp, server, client, session, tap, device: tunnel, close };
}

/** The client's keyboard: stdin to the session until it ends. */
function attachKeyboard(client: TelnetClient, session: ClientSession): void {
  const stdin = process.stdin;
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.on('data', (keys: string) => {
    if (session.state === 'closed') return;
    if (keys.includes('\x1d')) {
      client.close(session);
      return;
    }
    // A newline from a pipe is Enter.
    client.input(session, keys.replace(/\r?\n/g, '\r'));
  });
  stdin.on('end', () => {
    if (session.state !== 'closed') client.close(session);
  });
}

/** The command line: one host on a real wire until it ends (client) or a signal (server). */
export async function main(argv: readonly string[]): Promise<number> {
  const o = parseTunnelArgs(argv);
  if (o === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (typeof o === 'string') {
    process.stderr.write(`tunnel-host: ${o}\n${USAGE}\n`);
    return 2;
  }
  const h = await startTunnelHost(o);
  const stop = (): void => {
    void h.close().then(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (h.session !== null && h.client !== null) {
    attachKeyboard(h.client, h.session);
    await h.session.closed();
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
    process.stdin.pause();
    if (h.session.error !== null) process.stderr.write(`tunnel-host: ${h.session.error}\n`);
    await h.close();
    return h.session.error !== null ? 1 : 0;
  }
  // The server: keep the process alive until a signal.
  setInterval(() => {}, 1 << 30);
  return await new Promise<number>(() => {});
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`tunnel-host: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
