/**
 * The shell's view of the host it runs on (ShellEnv), built from the stack
 * itself: the runtime's clock and live tasks, every module's counters, TCP's
 * connection table, and ICMP for ping. Nothing of the real machine.
 */
import type { Module, Runtime } from '../../core/index.js';
import type { Ip6 } from '../../wire/addr6.js';
import type { Icmp, PingOptions } from '../icmp.js';
import type { Ping6Options, Ping6Result } from '../ipv6/icmpv6.js';
import { formatIp, tryParseIp, type IpAddress } from '../net.js';
import type { Tcp } from '../tcp/index.js';
import type { TelnetServer } from './server.js';
import type { ShellEnv } from './shell.js';
import type { Cell, Table } from './table.js';

export interface HostEnvOptions {
  rt: Runtime;
  tcp: Tcp;
  icmp: Icmp;
  /** ICMPv6, for `ping` to IPv6 addresses (a dual-stack host's `host.icmpv6`). */
  icmpv6?: { ping(dst: Ip6, opts?: Ping6Options): Promise<Ping6Result> };
  /** Shown in the prompt. Default: the runtime's name. */
  hostName?: string;
  /** Names `ping` knows besides IPv4 and IPv6 addresses. */
  names?: Readonly<Record<string, IpAddress>>;
  /** Echo requests per `ping`. Default 3. */
  pingCount?: number;
}

/** A ShellEnv factory for a Telnet server on this host (`shellEnv` option). */
export function hostShellEnv(opts: HostEnvOptions, server?: () => TelnetServer | undefined): (user: string) => ShellEnv {
  const { rt, tcp } = opts;
  const clock = rt.clock;
  // The stack started when its clock read 0.
  const startedAt = clock.wallTime() - clock.now();
  return (user: string): ShellEnv => ({
    user,
    hostName: opts.hostName ?? rt.name,
    startedAt,
    now: () => clock.wallTime(),
    netstat: () => netstatTable(tcp, server?.()),
    ps: () => psTable(rt),
    stats: () => statsTable(rt, tcp, server?.()),
    ping: (host, write, signal) => ping(opts, host, write, signal),
  });
}

export function netstatTable(tcp: Tcp, server?: TelnetServer): Table {
  const users = new Map<string, string>();
  if (server !== undefined) {
    for (const s of server.sessions()) users.set(endpoint(s.conn.remoteAddress, s.conn.remotePort), s.user !== null && s.loggedIn ? s.user : '');
  }
  return {
    columns: ['PROTO', 'LOCAL', 'REMOTE', 'STATE', 'USER'],
    rows: tcp.connections().map((r) => ['tcp', r.local, r.remote, r.state, users.get(r.remote) ?? '']),
  };
}

export function psTable(rt: Runtime): Table {
  const now = rt.clock.now();
  return {
    columns: ['TASK', 'SOURCE', 'ORIGIN', 'PATH', 'DEFERRED', 'AGE', 'STATE'],
    rows: rt.tasks().map((t) => {
      // What waits for an activation on the path to unwind (TCP's output waiting for its segment's work).
      const deferred = t.deferred;
      return [
        t.id,
        t.source,
        t.origin,
        t.top !== null ? t.path.join('>') : t.pending > 0 ? '(async)' : '-',
        deferred.length > 0 ? deferred.join(',') : '-',
        `${(now - t.startedAt).toFixed(1)}ms`,
        t.state,
      ];
    }),
    align: ['right', 'left', 'left', 'left', 'left', 'right', 'left'],
  };
}

export function statsTable(rt: Runtime, tcp: Tcp, server?: TelnetServer): Table {
  const rows: Cell[][] = rt.allModules().map((m: Module) => [m.name, m.stats.upcalls, m.stats.deferrals, m.stats.cleanups, m.stats.drops, detail(m, tcp, server)]);
  const s = rt.stats;
  rows.push(['(tasks)', '', '', '', '', `started ${s.tasksStarted}, expended ${s.tasksExpended}, live ${rt.tasks().length}`]);
  return {
    columns: ['MODULE', 'UPCALLS', 'DEFERRALS', 'CLEANUPS', 'DROPS', 'NOTES'],
    rows,
    align: ['left', 'right', 'right', 'right', 'right', 'left'],
  };
}

function detail(m: Module, tcp: Tcp, server: TelnetServer | undefined): string {
  if (m === tcp) {
    const c = tcp.counters;
    return `segs in ${c.segmentsIn} out ${c.segmentsOut}, piggybacked ACKs ${c.piggybackedAcks}, pure ACKs ${c.pureAcksOut}`;
  }
  if (server !== undefined && m === server) {
    const c = server.counters;
    return `sessions ${server.sessions().length}, logins ${c.loginsOk} ok ${c.loginsFailed} failed`;
  }
  return '';
}

/** As TCP's rows write an endpoint (IPv6 addresses in brackets). */
function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

async function ping(opts: HostEnvOptions, host: string, write: (line: string) => void, signal: AbortSignal): Promise<void> {
  const dst = opts.names?.[host] ?? tryParseIp(host);
  if (dst === undefined) throw new Error(`unknown host ${host}`);
  if (typeof dst !== 'number' && opts.icmpv6 === undefined) throw new Error(`no IPv6 here to reach ${host}`);
  const ip = formatIp(dst);
  const count = opts.pingCount ?? 3;
  write(`PING ${host === ip ? ip : `${host} (${ip})`}: 56 data bytes`);
  const aborted = new Promise<null>((resolve) => {
    if (signal.aborted) resolve(null);
    else signal.addEventListener('abort', () => resolve(null), { once: true });
  });
  // One set of callbacks for both families: a reply's `from` is either kind of address.
  const pingOpts: PingOptions & Ping6Options = {
    count,
    onReply: (r: { bytes: number; from: IpAddress; seq: number; ttl: number; rttMs: number; duplicate: boolean }) => {
      if (!signal.aborted) write(`${r.bytes} bytes from ${formatIp(r.from)}: icmp_seq=${r.seq} ttl=${r.ttl} time=${r.rttMs.toFixed(3)} ms${r.duplicate ? ' (DUP!)' : ''}`);
    },
    onTimeout: (seq) => {
      if (!signal.aborted) write(`Request timeout for icmp_seq ${seq}`);
    },
  };
  const result = await Promise.race([
    typeof dst === 'number' ? opts.icmp.ping(dst, pingOpts) : opts.icmpv6!.ping(dst, pingOpts),
    aborted,
  ]);
  if (result === null) return;
  const loss = result.sent === 0 ? 0 : Math.round((100 * result.lost) / result.sent);
  write(`--- ${host} ping statistics ---`);
  write(`${result.sent} packets transmitted, ${result.received} received, ${loss}% packet loss`);
  if (result.received > 0) write(`round-trip min/avg/max = ${result.minMs.toFixed(3)}/${result.avgMs.toFixed(3)}/${result.maxMs.toFixed(3)} ms`);
}
