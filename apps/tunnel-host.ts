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
 *   # the same over IPv6 (the kernel fd00:77::1, the stack fd00:77::2): `ip netns exec <ns> telnet -6 fd00:77::2`
 *   sudo npx tsx apps/tunnel-host.ts server --tap 10.77.0.1/24 -6
 *
 * Options:
 *   server | client          the role (default server)
 *   --local HOST:PORT        UDP tunnel: where this host listens (port 0: any)
 *   --remote HOST:PORT       UDP tunnel: the other end (omitted: learned from the first datagram)
 *   --tap CIDR               TAP link instead; CIDR is the KERNEL's address in the namespace
 *   --ip CIDR                the stack's address (default .2 of the TAP subnet; required with --local)
 *   --mac MAC                the stack's MAC (default 02:00:00:00:00:<last octet of --ip>)
 *   -6, --ipv6               dual-stack: IPv6 on the wire too; the client logs in (and pings) over IPv6
 *   --tap6 CIDR              the KERNEL's IPv6 address on the TAP (with -6; default fd00:77::1/64)
 *   --ip6 CIDR               the stack's IPv6 address (default ::2 of the --tap6 prefix; required with -6 on a tunnel)
 *   --connect IP[:PORT]      client: where to connect (default the TAP's kernel address, port 23);
 *                            an IPv6 address is written fd00::1 or [fd00::1]:23
 *   --port N                 server: port to listen on (default 23)
 *   --users FILE             server: the accounts (default apps/data/users.json)
 *   --loss P                 drop this fraction of frames each way on this host's side
 *   --pcap FILE              write every frame this host sends and receives
 *   --ping IP                ping IP (IPv4 or IPv6) three times once the link is up, then go on
 *   --connect-timeout S      client: a peer that answers neither ARP (or NDP) nor the SYN in S seconds
 *                            (default 10) is reported, with the time waited, and the exit is 1
 *   --wait-for-peer S        client: keep trying for S seconds (start the peer's telnetd after us)
 *
 * The client reads keystrokes from stdin (raw when it is a terminal; Ctrl-]
 * hangs up) and writes what the server sends to stdout; it exits when the
 * connection ends. The server runs until Ctrl-C. Everything made for a TAP
 * link (namespace, device, relay) is removed on exit, Ctrl-C and failure.
 */
import { resolve } from 'node:path';
import { RealClock } from '../src/core/index.js';
import { createHost, parseCidr, parseCidrAny, type Host } from '../src/host.js';
import { familyOf, formatEndpoint, formatIp, tryParseIp, type IpAddress } from '../src/layers/net.js';
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
import { formatIp4, formatMac, parseMac, tryParseIp4, type Mac } from '../src/wire/addr.js';
import { formatIp6, tryParseIp6, type Ip6 } from '../src/wire/addr6.js';
import { checkInputFile, formatHelp, integer, isEntryPoint, options, packageFile, parseCommand, runCommand, SHARED, UsageError, usageLine, type CommandSpec, type OptionTable } from './args.js';
import { StoppableClock } from './stoppable-clock.js';

const DEFAULT_USERS = 'apps/data/users.json';

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
  /** Dual-stack (IPv6 too); the client's default peer is then the kernel's IPv6 address. */
  ipv6?: boolean;
  /** TAP link with IPv6: the kernel's IPv6 address with prefix (default DEFAULT_TAP6). */
  tap6?: string;
  /** The stack's IPv6 address with prefix. */
  ip6?: string;
  /** false: no duplicate address detection (the IPv6 address is usable at once); for tests on a link known to be free. */
  dad?: boolean;
  /** Client: where to connect. */
  connect?: { ip: IpAddress; port: number };
  /** Server: port. */
  port: number;
  users: string;
  loss: number;
  pcap?: string;
  ping?: IpAddress;
  /** Client: how long the peer has to answer (ARP, then the SYN) before the client gives up. Default 10 s. */
  connectTimeoutMs?: number;
  /** Client: keep trying to connect this long (the peer may not be up yet). */
  waitForPeerMs?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_S = 10;

/** The kernel's IPv6 address on a TAP link with -6 (a unique local prefix: the namespace is private). */
export const DEFAULT_TAP6 = 'fd00:77::1/64';

const ipText = (flag: string) => (v: string): string => {
  parseCidr(v);
  return v;
};

const ip6Text = (v: string): string => {
  const a = parseCidrAny(v);
  if (typeof a.address === 'number') throw new RangeError(`not an IPv6 address/prefix: ${JSON.stringify(v)}`);
  return v;
};

function parseAnyIp(text: string): IpAddress {
  const a = tryParseIp(text);
  if (a === undefined) throw new RangeError(`not an IPv4 or IPv6 address: ${JSON.stringify(text)}`);
  return a;
}

export const TUNNEL_HOST_COMMAND = {
  prog: 'tunnel-host',
  synopsis: '[server|client] (--local HOST:PORT [--remote HOST:PORT] --ip CIDR | --tap CIDR [--ip CIDR]) [-6 [--ip6 CIDR] [--tap6 CIDR]] [options]',
  summary:
    'One stack host on a real wire, in a process of its own: a Telnet server (runs until Ctrl-C) or a Telnet client\n' +
    '(stdin to the session; Ctrl-] hangs up), on a UDP tunnel or a Linux TAP link (root).',
  positionals: { max: 1, name: 'server|client' },
  options: options({
    local: { kind: 'string', placeholder: 'HOST:PORT', parse: parseEndpoint, help: 'UDP tunnel: where this host listens (port 0: any)' },
    remote: { kind: 'string', placeholder: 'HOST:PORT', parse: parseEndpoint, help: 'UDP tunnel: the other end (omitted: learned from the first datagram)' },
    tap: { kind: 'string', placeholder: 'CIDR', parse: ipText('--tap'), help: "TAP link instead; CIDR is the KERNEL's address in the namespace" },
    ip: { kind: 'string', placeholder: 'CIDR', parse: ipText('--ip'), help: "the stack's address (default .2 of the TAP subnet; required with --local)" },
    mac: { kind: 'string', placeholder: 'MAC', parse: parseMac, help: "the stack's MAC (default 02:00:00:00:00:<last octet of --ip>)" },
    ipv6: { kind: 'flag', short: '6', help: 'dual-stack: IPv6 on the wire too; the client logs in (and pings) over IPv6' },
    tap6: { kind: 'string', placeholder: 'CIDR', parse: ip6Text, help: `the KERNEL's IPv6 address on the TAP (with -6; default ${DEFAULT_TAP6})` },
    ip6: { kind: 'string', placeholder: 'CIDR', parse: ip6Text, help: "the stack's IPv6 address (default ::2 of the --tap6 prefix; required with -6 on a UDP tunnel)" },
    connect: { kind: 'string', placeholder: 'IP[:PORT]', parse: parseConnect, help: "client: where to connect (default the TAP's kernel address, port 23; IPv6: fd00::1 or [fd00::1]:23)" },
    port: integer('server: port to listen on', { placeholder: 'PORT', min: 1, max: 65535, default: 23, rule: 'a port number (1..65535)' }),
    users: { kind: 'string', placeholder: 'FILE', parse: (f: string) => checkInputFile('--users', f), help: 'server: the accounts (default apps/data/users.json)' },
    loss: SHARED.loss(0),
    pcap: SHARED.pcap('write every frame this host sends and receives to this pcap file (its folder must exist)'),
    ping: { kind: 'string', placeholder: 'IP', parse: parseAnyIp, help: 'ping IP (IPv4 or IPv6) three times once the link is up, then go on' },
    'connect-timeout': {
      kind: 'number', placeholder: 'SECONDS', min: 0.1, max: 3600, default: DEFAULT_CONNECT_TIMEOUT_S,
      help: 'client: give up (exit 1) when the peer has not answered ARP (IPv6: neighbor discovery) or the SYN in this time',
    },
    'wait-for-peer': {
      kind: 'number', placeholder: 'SECONDS', min: 0, max: 86_400,
      help: 'client: keep trying to connect for this long (a peer that is not up yet, or refuses), then give up',
    },
  }),
  epilog: 'Exit status: 0 the session ended, 1 the peer never answered or the session failed, 2 bad arguments, 130/143 SIGINT/SIGTERM.',
} satisfies CommandSpec<OptionTable>;

/** @deprecated the --help text; kept for callers of the old export. */
export const USAGE = formatHelp(TUNNEL_HOST_COMMAND).trimEnd();

/** 'a.b.c.d', 'a.b.c.d:port', an IPv6 address alone ('fd00::1') or bracketed with a port ('[fd00::1]:23'). */
function parseConnect(text: string): { ip: IpAddress; port: number } {
  let host: string;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed !== null) {
    host = bracketed[1]!;
    port = bracketed[2];
    if (tryParseIp6(host) === undefined) throw new UsageError(`--connect: not an IPv6 address in ${text}`);
  } else if (text.split(':').length > 2) {
    host = text;
  } else {
    [host = '', port] = text.split(':');
    if (tryParseIp4(host) === undefined) throw new UsageError(`--connect: not an address in ${text}`);
  }
  const n = port === undefined ? 23 : Number(port);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--connect: bad port in ${text}`);
  return { ip: parseAnyIp(host), port: n };
}

/** Parses the command line: the options, 'help', or throws UsageError. */
export function parseTunnelHostArgs(argv: readonly string[]): TunnelHostOptions | 'help' {
  const p = parseCommand(TUNNEL_HOST_COMMAND, argv);
  if (p === 'help') return p;
  const v = p.values;
  const role = p.positionals[0] ?? 'server';
  if (role !== 'server' && role !== 'client') throw new UsageError(`the role is server or client, not ${JSON.stringify(role)}`);
  const o: TunnelHostOptions = { role, port: v.port ?? 23, users: v.users ?? DEFAULT_USERS, loss: v.loss, connectTimeoutMs: v['connect-timeout'] * 1000 };
  if (v.local !== undefined) o.local = v.local;
  if (v.remote !== undefined) o.remote = v.remote;
  if (v.tap !== undefined) o.tap = v.tap;
  if (v.ip !== undefined) o.ip = v.ip;
  if (v.mac !== undefined) o.mac = v.mac;
  if (v.ipv6) o.ipv6 = true;
  if (v.tap6 !== undefined) o.tap6 = v.tap6;
  if (v.ip6 !== undefined) o.ip6 = v.ip6;
  if (v.connect !== undefined) o.connect = v.connect;
  if (v.pcap !== undefined) o.pcap = v.pcap;
  if (v.ping !== undefined) o.ping = v.ping;
  if (v['wait-for-peer'] !== undefined) {
    if (role !== 'client') throw new UsageError('--wait-for-peer is for the client');
    o.waitForPeerMs = v['wait-for-peer'] * 1000;
  }
  if (o.tap === undefined && o.local === undefined) throw new UsageError('give --local HOST:PORT (UDP tunnel) or --tap CIDR (TAP link)');
  if (o.tap !== undefined && (o.local !== undefined || o.remote !== undefined)) throw new UsageError('--tap and --local/--remote do not go together');
  if (o.tap === undefined && o.ip === undefined) throw new UsageError('--ip CIDR is needed on a UDP tunnel');
  if (o.role === 'client' && o.connect === undefined && o.tap === undefined) throw new UsageError('client: --connect IP[:PORT] is needed on a UDP tunnel');
  if ((o.tap6 !== undefined || o.ip6 !== undefined) && o.ipv6 !== true) throw new UsageError('--tap6 and --ip6 go with -6 (--ipv6)');
  if (o.tap6 !== undefined && o.tap === undefined) throw new UsageError('--tap6 goes with --tap');
  if (o.ipv6 === true && o.tap === undefined && o.ip6 === undefined) throw new UsageError('--ip6 CIDR is needed with -6 on a UDP tunnel');
  const needs6 = [o.connect?.ip, o.ping].some((a) => a !== undefined && familyOf(a) === 6);
  if (needs6 && o.ipv6 !== true) throw new UsageError('an IPv6 address for --connect or --ping needs -6 (--ipv6)');
  return o;
}

/** Parses the command line; a string is the one-line error to print ('help' for --help). */
export function parseTunnelArgs(argv: readonly string[]): TunnelHostOptions | string {
  try {
    return parseTunnelHostArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) return e.message;
    throw e;
  }
}

/** The stack's address on a TAP subnet: .2 of the kernel's network (the kernel has its own). */
function stackAddressFor(kernelCidr: string): string {
  const { address, prefixLength } = parseCidr(kernelCidr);
  const mask = prefixLength === 0 ? 0 : (0xffff_ffff << (32 - prefixLength)) >>> 0;
  let ip = ((address & mask) | 2) >>> 0;
  if (ip === address) ip = ((address & mask) | 3) >>> 0;
  return `${formatIp4(ip)}/${prefixLength}`;
}

/** The stack's IPv6 address on a TAP prefix: ::2 of the kernel's prefix (::3 when the kernel is ::2). */
function stackAddress6For(kernelCidr: string): string {
  const { address, prefixLength } = parseCidrAny(kernelCidr) as { address: Ip6; prefixLength: number };
  const a = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, prefixLength - i * 8));
    a[i] = address[i]! & ((0xff00 >> bits) & 0xff);
  }
  a[15] = a[15]! | 2;
  if (formatIp6(a) === formatIp6(address)) a[15] = a[15]! | 3;
  return `${formatIp6(a)}/${prefixLength}`;
}

/** The address without its prefix, as text. */
const bare = (cidr: string): string => formatIp(parseCidrAny(cidr).address);

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

/** The client's peer never answered (or kept refusing) within the time allowed. */
export class PeerTimeoutError extends Error {
  override readonly name = 'PeerTimeoutError';
}

/** Bring the host up as `o` says. `log` gets the status lines (stderr by default). */
export async function startTunnelHost(
  o: TunnelHostOptions,
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  signal?: AbortSignal,
): Promise<RunningTunnelHost> {
  const ipText = o.ip ?? stackAddressFor(o.tap!);
  const { address } = parseCidr(ipText);
  const kernel6 = o.ipv6 === true && o.tap !== undefined ? (o.tap6 ?? DEFAULT_TAP6) : undefined;
  const ip6Text = o.ipv6 !== true ? undefined : (o.ip6 ?? stackAddress6For(kernel6!));
  const stackText = ip6Text === undefined ? ipText : `${ipText} and ${ip6Text}`;
  const mac = o.mac ?? 0x0200_0000_0000 + (address & 0xff);
  // Stopped on close before the capture is: no timer can then write a frame to a closed file.
  const clock = new StoppableClock(new RealClock());
  let tap: TapLink | null = null;
  let tunnel: UdpTunnelDevice;
  if (o.tap !== undefined) {
    tap = await TapLink.create({ kernelAddress: o.tap, ...(kernel6 !== undefined ? { kernelAddress6: kernel6 } : {}), stackMac: mac });
    tunnel = tap.device;
    const kernelText = kernel6 === undefined ? o.tap : `${o.tap} and ${kernel6}`;
    log(`TAP link: namespace ${tap.namespace}, device ${tap.tapName} with the kernel at ${kernelText}; the stack is ${stackText} (${formatMac(mac)})`);
  } else {
    tunnel = await UdpTunnelDevice.open({ mac, local: o.local!, ...(o.remote !== undefined ? { remote: o.remote } : {}) });
    const r = tunnel.remoteEndpoint;
    log(`UDP tunnel: ${tunnel.local.host}:${tunnel.local.port} <-> ${r === undefined ? '(learned from the first datagram)' : `${r.host}:${r.port}`}; the stack is ${stackText} (${formatMac(mac)})`);
  }
  let device: Device = tunnel;
  if (o.loss > 0) device = new FaultDevice(device, clock, { loss: o.loss });
  const pcap = o.pcap !== undefined ? new PcapWriter(resolve(o.pcap)) : null;
  if (pcap !== null) device = new PcapDevice(device, pcap, clock);
  const host = createHost({ name: o.role, device, ip: ip6Text === undefined ? ipText : [ipText, ip6Text], ...(o.dad === false ? { ipv6: { dad: false } } : {}), clock, tcp: true });
  const tcp = host.tcp!;
  let server: TelnetServer | null = null;
  let client: TelnetClient | null = null;
  let session: ClientSession | null = null;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    server?.stop();
    // Frames stop coming in, timers stop firing, then the capture is finished.
    if (tap !== null) await tap.destroy();
    else await tunnel.close();
    clock.stop();
    if (pcap !== null) await pcap.close();
  };
  try {
    if (ip6Text !== undefined && o.dad !== false) await addressUsable(host, ip6Text, log, signal);
    if (o.ping !== undefined) {
      const opts = { count: 3, intervalMs: 200, timeoutMs: 1000 };
      const r = typeof o.ping === 'number' ? await host.ping(o.ping, opts) : await host.ping(o.ping, opts);
      log(`ping ${formatIp(o.ping)}: ${r.received}/${r.sent} answered${r.received > 0 ? `, avg ${r.avgMs.toFixed(3)} ms` : ''}`);
    }
    if (o.role === 'server') {
      const users = await loadUsers(o.users === DEFAULT_USERS ? packageFile(o.users) : resolve(o.users));
      let srv: TelnetServer | undefined;
      srv = new TelnetServer(host.rt, tcp, {
        port: o.port,
        users,
        shellEnv: hostShellEnv({ rt: host.rt, tcp, icmp: host.icmp, ...(host.icmpv6 !== undefined ? { icmpv6: host.icmpv6 } : {}), hostName: o.role }, () => srv),
      });
      srv.start();
      server = srv;
      const six = ip6Text === undefined ? '' : ` and [${bare(ip6Text)}]:${o.port}`;
      const tryLine = ip6Text === undefined ? `telnet ${formatIp4(address)}` : `telnet -6 ${bare(ip6Text)}`;
      log(`Telnet server listening on ${formatIp4(address)}:${o.port}${six}${tap !== null ? ` (try: ip netns exec ${tap.namespace} ${tryLine})` : ''}`);
    } else {
      const dst = o.connect ?? { ip: kernel6 !== undefined ? parseCidrAny(kernel6).address : parseCidr(o.tap!).address, port: 23 };
      client = new TelnetClient(host.rt, tcp);
      log(`Telnet client connecting to ${formatEndpoint(dst.ip, dst.port)}`);
      session = await connectClient(host, client, dst, o, log, signal);
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { host, tcp, server, client, session, tap, device: tunnel, close };
}

/**
 * Waits (real time, at most 5 s) until duplicate address detection has made the
 * stack's IPv6 address its own: before that it may not be a source (RFC 4862).
 */
async function addressUsable(host: Host, cidr: string, log: (line: string) => void, signal: AbortSignal | undefined): Promise<void> {
  const a = parseCidrAny(cidr).address as Ip6;
  const ipv6 = host.ipv6!;
  const end = performance.now() + 5000;
  while (ipv6.findAddress(a)?.state === 'tentative' && performance.now() < end && signal?.aborted !== true) await sleep(20);
  const state = ipv6.findAddress(a)?.state;
  if (state !== 'preferred') throw new Error(`${formatIp6(a)} is ${state ?? 'gone'} after duplicate address detection (another node has it?)`);
  log(`${formatIp6(a)}: duplicate address detection done`);
}

/**
 * Connects, and waits until the connection is up. A peer that does not answer
 * within the connect timeout is named with what was missing (no ARP reply, or
 * no answer to the SYN) and how long was waited. With `waitForPeerMs` the
 * client tries again (a fresh connection every attempt, so a refusal or a
 * timeout does not grow TCP's backoff) until the peer is up or the time is over.
 */
async function connectClient(
  host: Host,
  client: TelnetClient,
  dst: { ip: IpAddress; port: number },
  o: TunnelHostOptions,
  log: (line: string) => void,
  signal: AbortSignal | undefined,
): Promise<ClientSession> {
  const started = performance.now();
  const waitMs = o.waitForPeerMs;
  const timeoutMs = o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_S * 1000;
  const peer = formatEndpoint(dst.ip, dst.port);
  // Who must answer first: ARP for IPv4, neighbor discovery for IPv6.
  const resolver = familyOf(dst.ip) === 4 ? 'ARP' : 'neighbor discovery';
  const resolved = (): boolean =>
    typeof dst.ip === 'number'
      ? host.arp.entries().some((e) => e.ip === dst.ip && e.state !== 'pending')
      : (host.ndp?.neighbor(dst.ip)?.state ?? 'incomplete') !== 'incomplete';
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  let announced = false;
  let lastWhy: string | undefined;
  for (let attempt = 1; ; attempt++) {
    let up = false;
    // Said before the server's first words, which may come before this loop looks again.
    let said = false;
    const sayConnected = (): void => {
      if (said || attempt === 1) return;
      said = true;
      log(`connected to ${peer} after ${seconds(performance.now() - started)}`);
    };
    // What a failed attempt says about itself is not shown; the server's first words are.
    const s: ClientSession = client.connect(dst.ip, dst.port, {
      onText: (t) => {
        if (!up && s.state !== 'open') return;
        sayConnected();
        process.stdout.write(t);
      },
    });
    const attemptStart = performance.now();
    const deadline = waitMs !== undefined ? started + waitMs : attemptStart + timeoutMs;
    // A retried attempt gets a few seconds, so a peer that comes up is found soon.
    const attemptEnd = waitMs !== undefined ? Math.min(deadline, attemptStart + Math.min(timeoutMs, 3000)) : deadline;
    while (s.state === 'connecting' && performance.now() < attemptEnd && signal?.aborted !== true) await sleep(20);
    // Up, or was: a peer that says its piece and hangs up at once has answered too.
    if (s.state === 'open' || (s.state !== 'connecting' && s.error === null)) {
      up = true;
      sayConnected();
      return s;
    }
    if (signal?.aborted === true) {
      client.close(s);
      throw signal.reason instanceof Error ? signal.reason : new Error('interrupted');
    }
    let why: string;
    if (s.state === 'connecting') {
      client.close(s);
      const arpOk = resolved();
      // An attempt the deadline cut short says less than the one before it (a refusal, say).
      const cutShort = performance.now() - attemptStart < Math.min(timeoutMs, 3000) - 1;
      why = cutShort && lastWhy !== undefined
        ? lastWhy
        : arpOk
          ? `${formatIp(dst.ip)} answered ${resolver} but not the SYN to port ${dst.port} (SYN timeout)`
          : `no ${resolver === 'ARP' ? 'ARP reply' : 'neighbor advertisement'} from ${formatIp(dst.ip)} (${resolver === 'ARP' ? 'ARP' : 'neighbor discovery'} timeout)`;
    } else {
      why = `${peer}: ${s.error ?? s.endReason ?? 'connection closed'}`;
    }
    lastWhy = why;
    const now = performance.now();
    if (waitMs === undefined) throw new PeerTimeoutError(`${why}; waited ${seconds(now - attemptStart)}`);
    if (now >= deadline) throw new PeerTimeoutError(`${why}; waited ${seconds(now - started)} for the peer (--wait-for-peer)`);
    if (!announced) {
      log(`waiting for ${peer} (up to ${seconds(waitMs)}): ${why}`);
      announced = true;
    }
    await sleep(Math.min(500, deadline - now));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

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
  let o: TunnelHostOptions | 'help';
  try {
    o = parseTunnelHostArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(usageLine('tunnel-host', e));
    return 2;
  }
  if (o === 'help') {
    process.stdout.write(formatHelp(TUNNEL_HOST_COMMAND));
    return 0;
  }
  // Signals are caught from the start: a TAP link's namespace is removed even while connecting.
  const interrupted = new AbortController();
  let h: RunningTunnelHost | null = null;
  let code: number | null = null;
  const stop = (sig: NodeJS.Signals): void => {
    code ??= sig === 'SIGINT' ? 130 : 143;
    interrupted.abort(new Error(sig));
    if (h !== null) void h.close().then(() => process.exit(code!));
  };
  const onInt = (): void => stop('SIGINT');
  const onTerm = (): void => stop('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    try {
      h = await startTunnelHost(o, undefined, interrupted.signal);
    } catch (e) {
      if (code !== null) return code;
      if (e instanceof PeerTimeoutError) {
        process.stderr.write(`tunnel-host: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
    if (code !== null) {
      await h.close();
      return code;
    }
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
  } finally {
    if (code === null) {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
  }
}

if (isEntryPoint(import.meta.url)) runCommand('tunnel-host', main);
