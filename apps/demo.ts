/**
 * The remote-login demo (`npm run demo`): Clark's own example, made real.
 *
 * Two hosts on a simulated Ethernet, each a full stack (NIC, ARP, IP, ICMP,
 * TCP) built on the upcall runtime; a Telnet server on one, a Telnet client on
 * the other. The client logs in as demo/demo and types a few commands one
 * keystroke every 150 ms, then logs out. The virtual clock runs as fast as the
 * CPU allows (real time only with --interactive). It prints the session as the
 * user saw it, the task of one keystroke climbing NIC -> IP -> TCP -> Telnet with
 * the echo going down in the same task, and a summary.
 *
 * The echo is Swift's "arm for send": in the onData upcall the Telnet server
 * only arms the connection (telnetd -> tcp.armSend); once that upcall has
 * returned, TCP builds the segment acknowledging the keystroke and calls up
 * onSendReady, where the server writes the echo straight into its payload.
 * The trace shows both upcalls, and the segment leaving, in the one task.
 * --no-piggyback holds the echo 1 ms for a timer task, which then arms.
 *
 *   npm run demo -- [--seed N] [--loss P] [--delay MS] [--pace MS] [--pcap FILE | --no-pcap]
 *                   [--no-piggyback] [--delayed-ack MS] [--json] [--interactive] [--users FILE]
 *                   [--dispatch direct|queued|threaded]
 *
 * After the summary it logs in once more in real time under the --dispatch
 * structure and prints what a keystroke cost there (echo latency, CPU of every
 * thread, tasks, upcalls, messages): the counts above are virtual time.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { RealClock, VirtualClock, type Clock, type StackEvent } from '../src/core/index.js';
import { createHost, type Host } from '../src/host.js';
import type { StackStructure } from '../src/structures/app.js';
import { formatKeystrokeCosts, measureLogin } from '../src/structures/login-costs.js';
import { DeviceWrapper, type Device } from '../src/layers/nic/device.js';
import { SimLink } from '../src/layers/nic/sim-link.js';
import { PcapDevice } from '../src/layers/nic/wrappers.js';
import { Tcp } from '../src/layers/tcp/index.js';
import { runVirtual } from '../src/layers/telnet/async-work.js';
import type { ClientSession, ScriptStep } from '../src/layers/telnet/client-session.js';
import { TelnetClient } from '../src/layers/telnet/client.js';
import type { NegotiationRecord } from '../src/layers/telnet/endpoint.js';
import { hostShellEnv } from '../src/layers/telnet/host-env.js';
import type { ServerSession } from '../src/layers/telnet/server-session.js';
import { TelnetServer } from '../src/layers/telnet/server.js';
import { loadUsers } from '../src/layers/telnet/users.js';
import { PcapWriter } from '../src/trace/pcap.js';
import { parseIp4 } from '../src/wire/addr.js';
import { parseIp6 } from '../src/wire/addr6.js';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../src/wire/ethernet.js';
import { IPV6_HEADER_LENGTH, parseIpv6 } from '../src/wire/ipv6.js';
import type { IpAddress } from '../src/layers/net.js';
import { IP_PROTO_TCP, parseIpv4 } from '../src/wire/ipv4.js';
import { formatTcpFlags, parseTcp, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../src/wire/tcp.js';
import { checkInputFile, isEntryPoint, options, packageFile, parseCommand, runCommand, SHARED, UsageError, usageLine, formatHelp, type CommandSpec, type OptionTable } from './args.js';
import { StoppableClock } from './stoppable-clock.js';
import { formatBytes, loadReportData, ReportCollector, summaryRows, writeReport, type ReportData } from '../src/report/index.js';
import { checkReportOptions, reportOptions } from './report-options.js';
import { main as tunnelHostMain } from './tunnel-host.js';

export interface DemoOptions {
  seed: number;
  /** Probability a frame is lost, each direction. */
  loss: number;
  /** One-way link delay, ms. */
  delayMs: number;
  /** Time between keystrokes, ms. */
  paceMs: number;
  /** Where to write the capture; null for none. */
  pcap: string | null;
  piggyback: boolean;
  /** The server TCP's delayed-ACK timeout; default 200 with piggybacking, 0 without. */
  delayedAckMs: number | null;
  /**
   * The structure of both stacks: upcalls ('direct'), every module behind a
   * mailbox ('queued'), or layer groups in threads ('threaded': real time only,
   * so the virtual-time session runs direct and the real-time figures threaded).
   */
  dispatch: StackStructure;
  json: boolean;
  interactive: boolean;
  users: string;
  /** Write the visual report (one HTML file) here. */
  report?: string;
  /** With `report`: an earlier report whose run is drawn beside this one. */
  compare?: string;
  /** Both hosts dual-stack; the login goes over IPv6. */
  ipv6?: boolean;
}

export const DEFAULT_OPTIONS: Readonly<DemoOptions> = Object.freeze({
  seed: 1,
  loss: 0,
  delayMs: 1,
  paceMs: 150,
  pcap: 'traces/remote-login.pcap',
  piggyback: true,
  delayedAckMs: null,
  dispatch: 'direct',
  json: false,
  interactive: false,
  users: 'apps/data/users.json',
});

/** With --ipv6 (a unique local prefix of the simulated link). */
export const SERVER_ADDRESS6 = 'fd00::1';
export const CLIENT_ADDRESS6 = 'fd00::2';

export const DEMO_COMMAND = {
  prog: 'demo',
  synopsis: "[options]\n   or: the same with server|client ...: one host on a real wire (a UDP tunnel or TAP, -6 for IPv6; 'server --help' tells more)",
  summary:
    'Two hosts on a simulated link (virtual clock, seeded); a Telnet client logs in to the server, types a few\n' +
    'commands and logs out. Prints the session, one keystroke\'s task through the layers, and a summary.',
  options: options({
    seed: SHARED.seed(DEFAULT_OPTIONS.seed),
    loss: SHARED.loss(DEFAULT_OPTIONS.loss),
    delay: SHARED.delay(DEFAULT_OPTIONS.delayMs),
    pace: { kind: 'number', placeholder: 'MS', min: 1, max: 10_000, default: DEFAULT_OPTIONS.paceMs, rule: 'a pace in ms (1..10000)', help: 'time between keystrokes, ms' },
    pcap: SHARED.pcap(`write the client's frames to this pcap file (default ${DEFAULT_OPTIONS.pcap}; an explicit FILE's folder must exist)`),
    'no-pcap': { kind: 'flag', help: 'write no capture' },
    'no-piggyback': { kind: 'flag', help: 'the server holds its echo 1 ms and sends it after the ACK, for comparison' },
    dispatch: {
      kind: 'string', placeholder: 'direct|queued|threaded', default: DEFAULT_OPTIONS.dispatch as StackStructure,
      parse: (v: string): StackStructure => {
        if (v !== 'direct' && v !== 'queued' && v !== 'threaded') throw new UsageError(`--dispatch needs 'direct', 'queued' or 'threaded', not ${JSON.stringify(v)}`);
        return v;
      },
      help: 'the structure of both stacks: upcalls, every module behind a mailbox, or layer groups in threads (real time only: the session runs direct, the real-time figures threaded)',
    },
    'delayed-ack': { kind: 'number', placeholder: 'MS', min: 0, max: 500, rule: 'a timeout in ms (0..500)', help: "the server TCP's delayed-ACK timeout (default 200; 0 with --no-piggyback)" },
    json: SHARED.json('print only the summary, as one JSON object'),
    interactive: {
      kind: 'flag',
      help: 'real time: you type into the remote shell; Ctrl-] quits, Ctrl-C goes to the shell (it stops ping), as in telnet; stdin may be a pipe (a line a command)',
    },
    users: { kind: 'string', placeholder: 'FILE', parse: (f: string) => checkInputFile('--users', f), help: `the accounts (default ${DEFAULT_OPTIONS.users})` },
    ipv6: { kind: 'flag', short: '6', help: `both hosts dual-stack (${SERVER_ADDRESS6}, ${CLIENT_ADDRESS6}); the login goes over IPv6` },
    ...reportOptions(' of the run: one self-contained HTML file (timeline of tasks, TCP graphs, counters)'),
  }),
  epilog:
    'Exit status: 0 the session completed, 1 it did not, 2 bad arguments; --interactive: 0 on Ctrl-], exit or end of\n' +
    'input, 130 on SIGINT, 143 on SIGTERM (the capture is closed and valid in every case).',
} satisfies CommandSpec<OptionTable>;

/** Whether the command line asks for one host on a real wire (UDP tunnel or TAP) instead of the simulation. */
export function wantsRealWire(argv: readonly string[]): boolean {
  return argv[0] === 'server' || argv[0] === 'client' || argv.some((a) => /^--(local|remote|tap)(=|$)/.test(a));
}

/** Parses the command line: the options, 'help', or throws UsageError. */
export function parseDemoArgs(argv: readonly string[]): DemoOptions | 'help' {
  const p = parseCommand(DEMO_COMMAND, argv);
  if (p === 'help') return p;
  const v = p.values;
  if (v.pcap !== undefined && v['no-pcap']) throw new UsageError('--pcap and --no-pcap do not go together');
  if (v.interactive && v.json) throw new UsageError('--interactive and --json do not go together');
  checkReportOptions(v);
  if (v.report !== undefined && v.interactive) throw new UsageError('--report goes with the simulated run, not --interactive');
  return {
    seed: v.seed,
    loss: v.loss,
    delayMs: v.delay,
    paceMs: v.pace,
    pcap: v['no-pcap'] ? null : (v.pcap ?? DEFAULT_OPTIONS.pcap),
    piggyback: !v['no-piggyback'],
    delayedAckMs: v['delayed-ack'] ?? null,
    dispatch: v.dispatch,
    json: v.json,
    interactive: v.interactive,
    users: v.users ?? DEFAULT_OPTIONS.users,
    ...(v.ipv6 ? { ipv6: true } : {}),
    ...(v.report !== undefined ? { report: v.report } : {}),
    ...(v.compare !== undefined ? { compare: v.compare } : {}),
  };
}

/** Parses the command line; a string is the one-line error ('help' for --help). */
export function parseArgs(argv: readonly string[]): DemoOptions | string {
  try {
    return parseDemoArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) return e.message;
    throw e;
  }
}

// ---------------------------------------------------------------------------
// What went over the wire

/** One TCP segment a host put on the link. */
export interface WireSegment {
  readonly at: number;
  readonly from: 'client' | 'server';
  readonly flags: number;
  readonly payload: number;
  readonly seq: number;
  readonly ack: number;
  readonly srcPort: number;
  readonly dstPort: number;
}

/** Records every TCP segment a device transmits (before the link may lose it). */
class WireLog extends DeviceWrapper {
  constructor(
    inner: Device,
    private readonly clock: Clock,
    private readonly who: 'client' | 'server',
    private readonly into: WireSegment[],
  ) {
    super(inner);
  }

  override send(frame: Uint8Array): void {
    const seg = readSegment(frame);
    if (seg !== null) this.into.push({ at: this.clock.now(), from: this.who, ...seg });
    this.inner.send(frame);
  }
}

function readSegment(frame: Uint8Array): Omit<WireSegment, 'at' | 'from'> | null {
  if (frame.length < 34) return null;
  const ethertype = (frame[12]! << 8) | frame[13]!;
  let off: number;
  let len: number;
  if (ethertype === ETHERTYPE_IPV4) {
    const ip = parseIpv4(frame, 14, frame.length - 14);
    if (!ip.ok || ip.header.protocol !== IP_PROTO_TCP) return null;
    off = 14 + ip.headerLength;
    len = ip.header.totalLength - ip.headerLength;
  } else if (ethertype === ETHERTYPE_IPV6) {
    // The stack puts no extension header in front of TCP.
    const ip = parseIpv6(frame, 14, frame.length - 14);
    if (!ip.ok || ip.header.nextHeader !== IP_PROTO_TCP) return null;
    off = 14 + IPV6_HEADER_LENGTH;
    len = ip.header.payloadLength;
  } else {
    return null;
  }
  const tcp = parseTcp(frame, off, len);
  if (!tcp.ok) return null;
  const h = tcp.header;
  return { flags: h.flags, payload: len - tcp.headerLength, seq: h.seq, ack: h.ack, srcPort: h.srcPort, dstPort: h.dstPort };
}

// ---------------------------------------------------------------------------
// The lab: two hosts, the server and the client

export interface Lab {
  clock: Clock;
  link: SimLink;
  srv: Host;
  cli: Host;
  srvTcp: Tcp;
  cliTcp: Tcp;
  server: TelnetServer;
  client: TelnetClient;
  wire: WireSegment[];
  pcap: PcapWriter | null;
  /** Server sessions that have ended, in order. */
  endedSessions: ServerSession[];
}

export const SERVER_ADDRESS = '10.0.0.1';
export const CLIENT_ADDRESS = '10.0.0.2';

/** The server's address the client logs in to, and its text. */
function serverAddress(o: DemoOptions): { address: IpAddress; text: string } {
  return o.ipv6 ? { address: parseIp6(SERVER_ADDRESS6), text: SERVER_ADDRESS6 } : { address: parseIp4(SERVER_ADDRESS), text: SERVER_ADDRESS };
}

/** A host's addresses: IPv4, and IPv6 too with --ipv6. */
function hostIp(o: DemoOptions, v4: string, v6: string): string | string[] {
  return o.ipv6 ? [`${v4}/24`, `${v6}/64`] : `${v4}/24`;
}

/** Duplicate address detection would hold the addresses for a second or two of the session: the link is the demo's own. */
const DEMO_IPV6 = { dad: false };

export async function buildLab(o: DemoOptions, clock: Clock, report: ReportCollector | null = null): Promise<Lab> {
  const users = await loadUsers(o.users === DEFAULT_OPTIONS.users ? packageFile(o.users) : resolve(o.users));
  const link = new SimLink(clock, { seed: o.seed, delayMs: o.delayMs, loss: o.loss });
  const wire: WireSegment[] = [];
  let pcap: PcapWriter | null = null;
  if (o.pcap !== null) {
    // Relative to the current directory, as every CLI reads a path. Only the
    // default's folder is made here; a folder the user named must exist (checked when parsing).
    const path = resolve(o.pcap);
    if (o.pcap === DEFAULT_OPTIONS.pcap) mkdirSync(dirname(path), { recursive: true });
    pcap = new PcapWriter(path);
  }
  const srvPort = new WireLog(link.attach('server'), clock, 'server', wire);
  const cliLog = new WireLog(link.attach('client'), clock, 'client', wire);
  // Captured at the client: what it sent and what reached it.
  const cliPort: Device = pcap === null ? cliLog : new PcapDevice(cliLog, pcap, clock);
  // Without piggybacking the server's TCP acknowledges at once, as a transport
  // must that cannot see whether the application is about to answer.
  const srvTcpConfig = { delayedAckMs: o.delayedAckMs ?? (o.piggyback ? 200 : 0) };
  const srv = createHost({ name: 'server', device: report === null ? srvPort : report.tap(srvPort, 'server', clock), ip: hostIp(o, SERVER_ADDRESS, SERVER_ADDRESS6), ipv6: DEMO_IPV6, clock, seed: o.seed, tcp: srvTcpConfig });
  const cli = createHost({ name: 'client', device: report === null ? cliPort : report.tap(cliPort, 'client', clock), ip: hostIp(o, CLIENT_ADDRESS, CLIENT_ADDRESS6), ipv6: DEMO_IPV6, clock, seed: o.seed + 1, tcp: true });
  const srvTcp = srv.tcp!;
  report?.observe(srv.rt, { tcp: srv.tcp }).observe(cli.rt, { tcp: cli.tcp });
  const cliTcp = cli.tcp!;
  let server: TelnetServer | undefined;
  const endedSessions: ServerSession[] = [];
  const names: Record<string, IpAddress> = o.ipv6
    ? { client: parseIp6(CLIENT_ADDRESS6), server: parseIp6(SERVER_ADDRESS6) }
    : { client: parseIp4(CLIENT_ADDRESS), server: parseIp4(SERVER_ADDRESS) };
  server = new TelnetServer(srv.rt, srvTcp, {
    users,
    shellEnv: hostShellEnv({ rt: srv.rt, tcp: srvTcp, icmp: srv.icmp, ...(srv.icmpv6 !== undefined ? { icmpv6: srv.icmpv6 } : {}), hostName: 'server', names }, () => server),
    piggyback: o.piggyback,
    logNegotiations: true,
    onSessionEnd: (s) => endedSessions.push(s),
  });
  // 'queued': every module of both stacks behind a mailbox (asynchronous daemons). Threads cannot
  // share this virtual clock: with 'threaded' the session runs direct, and main measures threads in real time.
  srv.rt.dispatch = cli.rt.dispatch = o.dispatch === 'queued' ? 'queued' : 'direct';
  server.start();
  const client = new TelnetClient(cli.rt, cliTcp);
  return { clock, link, srv, cli, srvTcp, cliTcp, server, client, wire, pcap, endedSessions };
}

/** What the demo's user types. Labels: 'login', 'password', 'command', 'exit'. */
export function demoScript(paceMs: number): ScriptStep[] {
  const at = (expect: string, type: string, label: string, secret = false): ScriptStep => ({
    expect,
    delayMs: paceMs,
    type,
    paceMs,
    label,
    ...(secret ? { secret } : {}),
    timeoutMs: 120_000,
  });
  return [
    at('login: ', 'demo\r', 'login'),
    at('Password: ', 'demo\r', 'password', true),
    at('$ ', 'whoami\r', 'command'),
    at('$ ', 'echo hello upcalls\r', 'command'),
    at('$ ', 'netstat\r', 'command'),
    at('$ ', 'stats\r', 'command'),
    at('$ ', 'exit\r', 'exit'),
  ];
}

// ---------------------------------------------------------------------------
// Running it

export interface DemoSummary {
  /** Present (true) when the login went over IPv6 (--ipv6). */
  ipv6?: boolean;
  seed: number;
  loss: number;
  delayMs: number;
  paceMs: number;
  piggyback: boolean;
  serverDelayedAckMs: number;
  /** Keystrokes typed at the shell prompt (the typing phase). */
  keystrokes: number;
  echoedKeystrokes: number;
  /** TCP segments on the wire, both directions, during the typing phase. */
  segments: number;
  packetsPerKeystroke: number;
  packetsPerKeystrokeDefinition: string;
  /** Data segments that also acknowledged received data, whole session, both hosts. */
  piggybackedAcks: number;
  piggybackedAcksServer: number;
  pureAcks: number;
  retransmissions: number;
  upcalls: number;
  tasks: number;
  tasksExpended: number;
  echoLatencyMs: { p50: number; p99: number };
  /** Payload bytes TCP delivered in order to the applications, both hosts. */
  bytesDelivered: number;
  sessionOk: boolean;
  error: string | null;
  pcap: string | null;
}

export interface DemoResult {
  summary: DemoSummary;
  /** The session as the user saw it. */
  transcript: string;
  /** The traced keystroke's task, rendered. */
  trace: string[];
  /** Option negotiation as the server logged it. */
  negotiation: readonly NegotiationRecord[];
  lab: Lab;
}

export const PACKETS_PER_KEYSTROKE =
  'TCP segments on the wire in both directions (retransmissions included) from the first keystroke of the first ' +
  'shell command to the first keystroke of `exit`, divided by the keystrokes typed in that time whose echo came back';

/** Runs the session; with `report`, everything the visual report needs is gathered into it. */
export async function runDemo(o: DemoOptions, report: ReportCollector | null = null): Promise<DemoResult> {
  const clock = new VirtualClock();
  const lab = await buildLab(o, clock, report);
  const events: StackEvent[] = [];
  const sub = lab.srv.rt.events.subscribe((e) => {
    if (events.length < 500_000) events.push(e);
  });
  const session = lab.client.connect(serverAddress(o).address, 23, { script: demoScript(o.paceMs) });
  await runVirtual(clock, () => session.state === 'closed', { limitMs: 3_600_000, work: [lab.server.work] });
  // Let the last FIN and ACKs go (TIME_WAIT is left to run out unobserved).
  await runVirtual(clock, () => false, { limitMs: 1_000, work: [lab.server.work] });
  sub.unsubscribe();
  await lab.pcap?.close();
  const summary = summarize(o, lab, session);
  const negotiation = lab.endedSessions[0]?.endpoint.log ?? [];
  return { summary, transcript: session.screen.text, trace: traceKeystroke(session, events, lab), negotiation, lab };
}

function summarize(o: DemoOptions, lab: Lab, s: ClientSession): DemoSummary {
  const typed = s.keystrokes.filter((k) => k.label === 'command');
  const exit = s.keystrokes.find((k) => k.label === 'exit');
  const start = typed[0]?.at ?? 0;
  const end = exit?.at ?? lab.clock.now();
  const inWindow = (t: number): boolean => t >= start && t < end;
  const echoed = typed.filter((k) => k.echoAt !== null && inWindow(k.at));
  const segments = lab.wire.filter((w) => inWindow(w.at)).length;
  const latencies = echoed.map((k) => k.echoAt! - k.at).sort((a, b) => a - b);
  const sc = lab.srvTcp.counters;
  const cc = lab.cliTcp.counters;
  const rs = [lab.srv.rt.stats, lab.cli.rt.stats];
  return {
    seed: o.seed,
    ...(o.ipv6 ? { ipv6: true } : {}),
    loss: o.loss,
    delayMs: o.delayMs,
    paceMs: o.paceMs,
    piggyback: o.piggyback,
    serverDelayedAckMs: lab.srvTcp.config.delayedAckMs,
    keystrokes: typed.length,
    echoedKeystrokes: echoed.length,
    segments,
    packetsPerKeystroke: echoed.length === 0 ? 0 : round(segments / echoed.length, 3),
    packetsPerKeystrokeDefinition: PACKETS_PER_KEYSTROKE,
    piggybackedAcks: sc.piggybackedAcks + cc.piggybackedAcks,
    piggybackedAcksServer: sc.piggybackedAcks,
    pureAcks: sc.pureAcksOut + cc.pureAcksOut,
    retransmissions: sc.retransmissions + cc.retransmissions,
    upcalls: rs[0]!.upcalls + rs[1]!.upcalls,
    tasks: rs[0]!.tasksStarted + rs[1]!.tasksStarted,
    tasksExpended: rs[0]!.tasksExpended + rs[1]!.tasksExpended,
    echoLatencyMs: { p50: round(percentile(latencies, 0.5), 3), p99: round(percentile(latencies, 0.99), 3) },
    bytesDelivered: sc.bytesIn + cc.bytesIn,
    sessionOk: s.error === null && s.screen.text.includes('logout'),
    error: s.error,
    pcap: o.pcap,
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// ---------------------------------------------------------------------------
// One keystroke's task

/**
 * The server-side task of one keystroke (the first key of the second command):
 * the first task after the key was sent in which TCP called up into the Telnet
 * server's onData. Rendered with one indent per module on the path: the
 * onSendReady upcall that takes the echo comes after onData has returned, so
 * it appears at TCP's depth, not under the armSend call.
 */
function traceKeystroke(s: ClientSession, events: readonly StackEvent[], lab: Lab): string[] {
  const commands = s.keystrokes.filter((k) => k.label === 'command');
  const firstOfSecond = commands.findIndex((k, i) => i > 0 && commands[i - 1]!.key === '\r');
  const k = commands[firstOfSecond] ?? commands[0];
  if (k === undefined) return ['(no keystroke to trace)'];
  const up = events.find((e) => e.kind === 'upcall' && e.at >= k.at && e.module === lab.server.name && e.slot === 'onData');
  if (up === undefined || up.task === null) return ['(the keystroke never reached the server)'];
  const id = up.task;
  let mine = events.filter((e) => e.task === id);
  // Without piggybacking the echo leaves from a timer task of the server's own: show it too.
  const held = events.find((e) => e.kind === 'task-start' && e.task !== null && e.task > id && e.source === 'timer' && e.module === lab.server.name);
  if (held !== undefined && !lab.server.piggyback) mine = mine.concat(events.filter((e) => e.task === held.task));
  const lines: string[] = [`keystroke ${JSON.stringify(k.key)} typed at ${k.at.toFixed(3)} ms; echo back at ${k.echoAt === null ? 'never' : `${k.echoAt.toFixed(3)} ms`}`];
  // Events carry no returns: a frame is taken to have returned once an event
  // comes from a module further out on the path.
  const path: string[] = [];
  const at = (module: string): number => {
    const i = path.lastIndexOf(module);
    if (i >= 0) path.length = i + 1;
    return path.length;
  };
  const pad = (n: number): string => '  '.repeat(Math.max(1, n));
  for (const e of mine) {
    const t = `${e.at.toFixed(3).padStart(10)} ms`;
    switch (e.kind) {
      case 'task-start':
        path.length = 0;
        path.push(e.module);
        lines.push(`${t}  task #${e.task} starts: ${e.source} at ${e.module}`);
        break;
      case 'upcall':
      case 'enter': {
        const from = e.from ?? '(outside)';
        const d = at(from);
        lines.push(`${t}${pad(d)}${from} ${e.kind === 'upcall' ? `=> ${e.module}.${e.slot}   (upcall)` : `-> ${e.module}.${e.entry}   (call down)`}`);
        path.push(e.module);
        break;
      }
      case 'deferral':
        lines.push(`${t}${pad(at(e.from))}${e.from} -> ${e.module}.${e.entry} deferred`);
        break;
      case 'deferred-run':
        lines.push(`${t}${pad(at(e.module))}${e.module}.${e.entry} runs (deferred)`);
        break;
      case 'note':
        lines.push(`${t}${pad(at(e.module))}${e.module}: ${e.text}`);
        break;
      case 'drop':
        lines.push(`${t}${pad(at(e.module))}${e.module} drops: ${e.reason}`);
        break;
      case 'cleanup':
        lines.push(`${t}  cleanup ${e.module}: ${e.reason}`);
        break;
      case 'task-end':
        lines.push(`${t}  task #${e.task} ends: ${e.outcome}`);
        break;
    }
  }
  const start = mine[0]?.at ?? up.at;
  const end = mine[mine.length - 1]?.at ?? up.at;
  const fromServer = lab.wire.filter((w) => w.from === 'server');
  for (let i = 0; i < fromServer.length; i++) {
    const w = fromServer[i]!;
    if (w.at < start || w.at > end) continue;
    const acks = (w.flags & TCP_ACK) !== 0 && i > 0 && w.ack !== fromServer[i - 1]!.ack;
    const what =
      w.payload > 0 ? (acks ? 'the echo and the ACK of the keystroke in one segment' : 'the echo alone (the keystroke was acknowledged already)')
      : acks ? 'the ACK of the keystroke, alone' : 'a segment without data';
    lines.push(`  on the wire: server:${w.srcPort} > client:${w.dstPort} [${formatTcpFlags(w.flags)}] len ${w.payload}: ${what}`);
  }
  return lines;
}

// ---------------------------------------------------------------------------
// Printing

function describeWire(lab: Lab): { c2s: number; s2c: number; pure: number; data: number; ctrl: number } {
  let c2s = 0;
  let s2c = 0;
  let pure = 0;
  let data = 0;
  let ctrl = 0;
  for (const w of lab.wire) {
    if (w.from === 'client') c2s++;
    else s2c++;
    if ((w.flags & (TCP_SYN | TCP_FIN | TCP_RST)) !== 0) ctrl++;
    else if (w.payload > 0) data++;
    else pure++;
  }
  return { c2s, s2c, pure, data, ctrl };
}

export function report(r: DemoResult): string[] {
  const s = r.summary;
  const out: string[] = [];
  out.push(
    s.ipv6
      ? `Remote login over the upcall stack: client ${CLIENT_ADDRESS6} -> server [${SERVER_ADDRESS6}]:23 over IPv6 on a simulated link`
      : `Remote login over the upcall stack: client ${CLIENT_ADDRESS} -> server ${SERVER_ADDRESS}:23 on a simulated link`,
  );
  out.push(
    `(seed ${s.seed}, loss ${s.loss}, one-way delay ${s.delayMs} ms, a keystroke every ${s.paceMs} ms, ` +
      (s.piggyback
        ? `echo armed in the receive upcall and written by onSendReady into the segment carrying the ACK; server delayed ACK ${s.serverDelayedAckMs} ms)`
        : `--no-piggyback: echo held 1 ms by a timer, then armed; server delayed ACK ${s.serverDelayedAckMs} ms)`),
  );
  out.push('');
  out.push('== The session, as the user saw it ==');
  for (const line of r.transcript.split('\n')) out.push(`  | ${line}`);
  out.push('');
  const sent = r.negotiation.filter((n) => n.direction === 'sent').map((n) => n.text);
  const got = r.negotiation.filter((n) => n.direction === 'received').map((n) => n.text);
  out.push('== Option negotiation, as the server logged it (RFC 1143) ==');
  out.push(`  server sent:     ${sent.join(', ')}`);
  out.push(`  server received: ${got.join(', ')}`);
  out.push('');
  out.push('== One keystroke\'s task on the server: up through the layers, the echo back down ==');
  for (const line of r.trace) out.push(`  ${line}`);
  out.push('');
  const w = describeWire(r.lab);
  const rows: [string, string][] = [
    ['keystrokes typed at the shell', `${s.keystrokes} (echoed: ${s.echoedKeystrokes})`],
    ['TCP segments while typing', String(s.segments)],
    ['packets per echoed keystroke', s.packetsPerKeystroke.toFixed(2)],
    ['echo latency p50 / p99', `${s.echoLatencyMs.p50.toFixed(3)} / ${s.echoLatencyMs.p99.toFixed(3)} ms`],
    ['piggybacked ACKs (server / both)', `${s.piggybackedAcksServer} / ${s.piggybackedAcks}`],
    ['pure ACKs (both)', String(s.pureAcks)],
    ['whole session on the wire', `${w.c2s + w.s2c} segments (${w.c2s} client->server, ${w.s2c} server->client; ${w.data} data, ${w.pure} pure ACK, ${w.ctrl} SYN/FIN/RST)`],
    ['retransmissions', String(s.retransmissions)],
    ['upcalls (both hosts)', String(s.upcalls)],
    ['tasks started / expended', `${s.tasks} / ${s.tasksExpended}`],
    ['bytes delivered by TCP', String(s.bytesDelivered)],
    ['capture', s.pcap === null ? '(none)' : `${s.pcap} (frames sent and received by the client)`],
  ];
  out.push('== Summary ==');
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) out.push(`  ${k.padEnd(width)}  ${v}`);
  out.push(`  packets per keystroke = ${PACKETS_PER_KEYSTROKE}.`);
  const clientDelack = r.lab.cliTcp.config.delayedAckMs;
  if (s.paceMs < clientDelack) {
    out.push(`  The client's ACK of each echo rides on its next keystroke: its delayed ACK (${clientDelack} ms) outlasts the ${s.paceMs} ms between keys.`);
  } else {
    out.push(`  At this pace the client's delayed ACK (${clientDelack} ms) fires before the next key: each echo costs the client a pure ACK.`);
  }
  out.push(
    '  For reference: a Linux telnet/telnetd pair sends 3 per keystroke at this pace; the OpenBSD session in ' +
      'test/fixtures/traces/telnet-raw.pcap sends 4.',
  );
  if (!s.sessionOk) out.push(`  THE SESSION DID NOT COMPLETE: ${s.error ?? 'no logout seen'}`);
  return out;
}

// ---------------------------------------------------------------------------
// Interactive: a person types into the remote shell, in real time

/** How long a quitting session is given for its last FIN and ACKs before the link stops. */
const QUIT_GRACE_MS = 200;

/**
 * Real time; stdin is a terminal (raw: each key goes as typed, Ctrl-C goes to
 * the remote shell as in telnet) or a pipe (a line per command, end of input
 * hangs up). Every way out ends the same: input detached, the session closed,
 * a moment for its last segments, then the link and the clock stopped (no
 * frame in flight can reach the capture after that), then the capture flushed
 * and closed.
 */
/** Where the interactive demo reads keys, writes the screen and hears signals (the process by default; tests give their own). */
export interface InteractiveIo {
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(raw: boolean): unknown };
  write(text: string): void;
  readonly signals: { on(signal: 'SIGINT' | 'SIGTERM', fn: () => void): unknown; off(signal: 'SIGINT' | 'SIGTERM', fn: () => void): unknown };
}

const processIo = (): InteractiveIo => ({ stdin: process.stdin, write: (t) => void process.stdout.write(t), signals: process });

export async function interactive(o: DemoOptions, io: InteractiveIo = processIo()): Promise<number> {
  const stdin = io.stdin;
  const tty = stdin.isTTY === true && stdin.setRawMode !== undefined;
  const clock = new StoppableClock(new RealClock(true));
  const lab = await buildLab(o, clock);
  const nl = (t: string): string => (tty ? t.replace(/\n/g, '\r\n') : t);
  io.write(nl(`Connected to ${serverAddress(o).text} over the simulated link. Log in as demo/demo. Ctrl-] quits.\n`));
  const session = lab.client.connect(serverAddress(o).address, 23, { onText: (t) => io.write(nl(t)) });
  type Why = 'closed' | 'SIGINT' | 'SIGTERM';
  let settle!: (why: Why) => void;
  const ended = new Promise<Why>((r) => (settle = r));
  void session.closed().then(() => settle('closed'));
  const onSigint = (): void => settle('SIGINT');
  const onSigterm = (): void => settle('SIGTERM');
  io.signals.on('SIGINT', onSigint);
  io.signals.on('SIGTERM', onSigterm);
  const hangUp = (): void => {
    if (session.state !== 'closed') lab.client.close(session);
  };
  const onData = (text: string): void => {
    if (session.state === 'closed') return;
    const quit = text.indexOf('\x1d');
    const keys = quit >= 0 ? text.slice(0, quit) : text;
    // From a pipe a newline is Enter.
    if (keys.length > 0) lab.client.input(session, tty ? keys : keys.replace(/\r?\n/g, '\r'));
    if (quit >= 0) {
      io.write(nl('\ntelnet> quit\n'));
      hangUp();
    }
  };
  if (tty) stdin.setRawMode!(true);
  stdin.setEncoding('utf8');
  stdin.on('data', onData);
  stdin.on('end', hangUp);
  stdin.resume();

  const why = await ended;
  stdin.off('data', onData);
  stdin.off('end', hangUp);
  if (tty) stdin.setRawMode!(false);
  stdin.pause();
  hangUp();
  await new Promise((r) => setTimeout(r, QUIT_GRACE_MS));
  clock.stop();
  io.signals.off('SIGINT', onSigint);
  io.signals.off('SIGTERM', onSigterm);
  await lab.pcap?.close();
  const c = lab.srvTcp.counters;
  io.write(
    nl(`\n${why === 'closed' ? 'Session over' : `${why}: session closed`}. Server TCP: ${c.segmentsOut} segments out, ${c.piggybackedAcks} piggybacked ACKs, ${c.pureAcksOut} pure ACKs.\n`),
  );
  if (o.pcap !== null) io.write(nl(`Capture: ${o.pcap} (${lab.pcap?.recordsWritten ?? 0} frames)\n`));
  return why === 'closed' ? 0 : why === 'SIGINT' ? 130 : 143;
}

// ---------------------------------------------------------------------------

/** The visual report's data of a run made with a collector (runDemo(o, collector)). */
export function demoReportData(r: DemoResult, c: ReportCollector, command = 'npm run demo'): ReportData {
  const s = r.summary;
  return c.build({
    title: `Remote login over the upcall stack (${s.piggyback ? 'piggybacked echo' : '--no-piggyback'}, seed ${s.seed}, loss ${s.loss})`,
    kind: 'demo',
    command,
    summary: summaryRows({ ...s }),
    transcript: r.transcript,
  });
}

/** The command: the simulated demo, or (server|client ...) one host on a real wire. */
export async function main(argv: readonly string[]): Promise<number> {
  // `npm run demo -- services ...`: the service-layer demo (apps/services-demo.ts), loaded only when asked for.
  if (argv[0] === 'services') return (await import('./services-demo.js')).main(argv.slice(1));
  // On a real wire each host is a process of its own: the tunnel host runs it.
  if (wantsRealWire(argv)) return tunnelHostMain(argv);
  let o: DemoOptions | 'help';
  try {
    o = parseDemoArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(usageLine('demo', e));
    return 2;
  }
  if (o === 'help') {
    process.stdout.write(formatHelp(DEMO_COMMAND));
    return 0;
  }
  if (o.interactive) return interactive(o);
  const collector = o.report !== undefined ? new ReportCollector() : null;
  const r = await runDemo(o, collector);
  if (collector !== null) {
    const size = writeReport(o.report!, demoReportData(r, collector, `npm run demo -- ${argv.join(' ')}`), { compare: o.compare !== undefined ? loadReportData(o.compare) : null });
    process.stderr.write(`report: ${o.report} (${formatBytes(size)})\n`);
  }
  if (o.json) process.stdout.write(JSON.stringify(r.summary) + '\n');
  else {
    // The same login once more in real time, under the structure asked for: what the counts cost.
    // (Not in --json: the summary is the seeded, virtual-time run alone.)
    const costs = await measureLogin(o.dispatch, { paceMs: o.paceMs, delayMs: o.delayMs });
    process.stdout.write([...report(r), '', ...formatKeystrokeCosts(costs)].join('\n') + '\n');
  }
  return r.summary.sessionOk ? 0 : 1;
}

if (isEntryPoint(import.meta.url)) runCommand('demo', main);
