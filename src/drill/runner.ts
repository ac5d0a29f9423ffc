/**
 * Runs a packetdrill script against the stack in virtual time.
 *
 * The stack is one host (192.168.0.2/16 behind gateway 192.168.0.1, like
 * packetdrill's tun setup) whose wire is a PeerDevice; the script plays the
 * remote peer 192.0.2.1. `<` lines are injected as frames, `>` lines are
 * compared with the segments the host sent, system calls go to the Kernel.
 *
 * What is compared follows packetdrill's conventions:
 *  - sequence and acknowledgement numbers of SYN segments are absolute,
 *    all others relative to the ISNs (tcpdump's style); SACK blocks too;
 *  - flags, seq, payload length and ack are always checked; the window only
 *    when the line has `win`; options kind by kind in order, unless `<...>`;
 *    TS val only with --tcp_ts_tick_usecs, TS ecr never (an inbound `ecr`
 *    names one of our TS vals by its script value and is mapped back);
 *  - a `>` line whose length exceeds what one segment carried gathers the
 *    following contiguous segments (packetdrill's TSO/GSO allowance), unless
 *    --strict_segments;
 *  - timing: within max(--tolerance_usecs, --tolerance_percent of the gap
 *    since the previous event); `+t` counts from the previous event (from its
 *    script time between two inbound packets, else from now); `*` is any time;
 *    `a~b` a range; `start...end call()` a blocking call returning at end.
 *
 * Extensions (not packetdrill's): `--tcp_config=key=value` sets a TcpConfig
 * field; `// expected-failure: why` marks a script that documents a known
 * bug; a `sysctl` shell line with known keys sets the matching TcpConfig.
 */
import { VirtualClock } from '../core/clock.js';
import { DEFAULT_TCP_CONFIG, type TcpConfig } from '../layers/tcp/config.js';
import type { TcpConnection } from '../layers/tcp/connection.js';
import { parseIp4, tryParseIp4 } from '../wire/addr.js';
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_NS, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, type TcpHeader, type TcpOption } from '../wire/tcp.js';
import type { EventTime, PacketAction, Script, ScriptEvent, SyscallAction, TcpOptionSpec } from './ast.js';
import { ERRNO } from './constants.js';
import { isBlocked, Kernel, Unsupported, type Blocked, type CallResult } from './kernel.js';
import { exprText, ParseError, parseScript } from './parser.js';
import type { WireSegment } from './peer.js';

export interface DrillOptions {
  /** Timing tolerance (packetdrill default 4000 µs). */
  toleranceUsecs?: number;
  /** Tolerance as a share of the gap since the previous event (packetdrill default 12.5). */
  tolerancePercent?: number;
  localIp?: string;
  remoteIp?: string;
  gatewayIp?: string;
  prefixLength?: number;
  bindPort?: number;
  connectPort?: number;
  mtu?: number;
  /** TCP configuration of the stack under test (the script's sysctls and --tcp_config override it). */
  tcp?: Partial<TcpConfig>;
  /** What a shell command other than a known sysctl does: 'unsupported' (default) stops the script; 'ignore' skips it with a note. */
  shell?: 'unsupported' | 'ignore';
  /** Fail on segments the stack sent that no `>` line consumed by the end of the script. Default false (packetdrill's behaviour). */
  strict?: boolean;
}

export type DrillStatus = 'passed' | 'failed' | 'unsupported' | 'xfail' | 'xpass';

export interface DrillResult {
  readonly status: DrillStatus;
  /** The line that failed or is unsupported. */
  readonly line?: number;
  readonly source?: string;
  readonly message?: string;
  /** For packet and call mismatches: what the script expected and what happened, one line each. */
  readonly expected?: string;
  readonly actual?: string;
  /** Events executed. */
  readonly events: number;
  readonly expectedFailure?: string;
  /** Things the runner did not check or skipped (ignored shell commands...). */
  readonly notes: readonly string[];
}

class Fail extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly expected?: string,
    readonly actual?: string,
  ) {
    super(message);
  }
}

class LineUnsupported extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

/** The connection under test, as packetdrill tracks it: ports and the ISN mapping between script and wire. */
interface Flow {
  readonly passive: boolean;
  localPort: number;
  remotePort: number;
  /** passive: waiting for the first SYN; after it, the child connection is the flow. */
  listening: boolean;
  remoteIsn: number;
  remoteIsnKnown: boolean;
  scriptLocalIsn: number;
  liveLocalIsn: number;
  localIsnKnown: boolean;
  /** script TS val -> TS val on the wire */
  readonly tsMap: Map<number, number>;
  firstScriptTs: number | undefined;
  firstActualTs: number | undefined;
}

interface PendingCall {
  readonly ev: ScriptEvent;
  readonly call: SyscallAction;
  outcome: Blocked;
  readonly end: number;
  readonly tol: number;
  readonly any: boolean;
}

const FLAG_LETTERS: readonly [string, number][] = [
  ['F', TCP_FIN],
  ['S', TCP_SYN],
  ['R', TCP_RST],
  ['P', TCP_PSH],
  ['U', TCP_URG],
  ['E', TCP_ECE],
  ['W', TCP_CWR],
  ['A', TCP_NS],
];

function flagBits(text: string): number {
  let f = 0;
  for (const ch of text) {
    if (ch === '.') f |= TCP_ACK;
    else f |= FLAG_LETTERS.find(([l]) => l === ch)![1];
  }
  return f;
}

export function flagText(bits: number): string {
  let s = '';
  for (const [l, b] of FLAG_LETTERS) if (bits & b) s += l;
  if (bits & TCP_ACK) s += '.';
  return s === '' ? '-' : s;
}

const SYSCTL_KEYS: Readonly<Record<string, (v: string, c: Partial<TcpConfig>) => void>> = {
  'net.ipv4.tcp_timestamps': (v, c) => (c.timestamps = v !== '0'),
  'net.ipv4.tcp_sack': (v, c) => (c.sack = v !== '0'),
  'net.ipv4.tcp_window_scaling': (v, c) => (c.windowScaling = v !== '0'),
  'net.ipv4.tcp_syn_retries': (v, c) => (c.synRetries = Number(v)),
  'net.ipv4.tcp_synack_retries': (v, c) => (c.synAckRetries = Number(v)),
  'net.ipv4.tcp_retries2': (v, c) => (c.maxRetries = Number(v)),
  'net.ipv4.tcp_fin_timeout': (v, c) => (c.finWait2TimeoutMs = Number(v) * 1000),
  'net.ipv4.tcp_challenge_ack_limit': (v, c) => (c.challengeAckLimit = Number(v)),
  'net.ipv4.tcp_max_syn_backlog': (v, c) => (c.synBacklog = Number(v)),
  // Linux derives its window scale from the largest receive buffer (the third field).
  'net.ipv4.tcp_rmem': (v, c) => (c.receiveBufferSize = Number(v.trim().split(/\s+/)[2])),
  'net.ipv4.tcp_wmem': (v, c) => (c.sendBufferSize = Number(v.trim().split(/\s+/)[1])),
};

/** `sysctl [-q] [-w] k=v ...` lines, each assignment one the stack can honour; else null. */
export function parseSysctls(cmd: string): [string, string][] | null {
  const out: [string, string][] = [];
  for (const part of cmd.replace(/\\\n/g, ' ').split(/\n|;|&&/).map((s) => s.trim()).filter((s) => s.length > 0)) {
    // `sysctl -q a.b=v` or packetdrill's helper `set_sysctls.py /proc/sys/a/b=v`.
    const m = /^(?:sysctl((?:\s+-[qwe]+)*)|\S*set_sysctls\.py())\s+(.*)$/.exec(part);
    if (m === null) return null;
    const args = m[3]!;
    const re = /([\w./]+)=("([^"]*)"|'([^']*)'|\S+)/g;
    let a: RegExpExecArray | null;
    let any = false;
    let rest = args;
    while ((a = re.exec(args)) !== null) {
      const key = a[1]!.replace(/^\/proc\/sys\//, '').replace(/\//g, '.');
      if (SYSCTL_KEYS[key] === undefined) return null;
      out.push([key, a[3] ?? a[4] ?? a[2]!]);
      rest = rest.replace(a[0], '');
      any = true;
    }
    if (!any || rest.trim() !== '') return null;
  }
  return out.length > 0 ? out : null;
}

/** Sets one TcpConfig field from `key=value` text (--tcp_config). Throws on an unknown key or a bad value. */
export function applyTcpConfig(v: string, into: Partial<TcpConfig>): void {
  const m = /^(\w+)=(.*)$/.exec(v);
  if (m === null) throw new Error(`wants key=value, got ${v}`);
  const key = m[1]! as keyof TcpConfig;
  const def = DEFAULT_TCP_CONFIG[key];
  if (!(key in DEFAULT_TCP_CONFIG) || key === 'isnSecret') throw new Error(`unknown TcpConfig key ${key}`);
  const raw = m[2]!;
  const value = typeof def === 'boolean' ? raw === 'true' || raw === '1' : Number(raw);
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`${key} needs a number`);
  (into as Record<string, unknown>)[key] = value;
}

/** Options this runner accepts and ignores (they steer packetdrill's own machinery). */
const IGNORED_OPTIONS = new Set(['verbose', 'debug', 'speed', 'non_fatal', 'tcp_ts_ecr_scaled', 'send_omit_free', 'code_command', 'code_format', 'code_sockopt', 'dry_run']);

class Run {
  readonly clock = new VirtualClock();
  readonly kernel: Kernel;
  readonly notes: string[] = [];
  private flow: Flow | null = null;
  private lastT = 0;
  private lastInbound = false;
  private pending: PendingCall | null = null;
  private readonly codeLines: number[] = [];
  private nextEphemeral = 40_000;
  events = 0;
  private readonly tolUs: number;
  private readonly tolPct: number;
  private readonly tsTickUs: number;
  private readonly strictSegments: boolean;
  private readonly localIp: number;
  private readonly remoteIp: number;
  private readonly bindPort: number;
  private line = 0;

  constructor(
    private readonly script: Script,
    private readonly opts: DrillOptions,
  ) {
    let tolUs = opts.toleranceUsecs ?? 4000;
    let tolPct = opts.tolerancePercent ?? 12.5;
    let tsTick = 0;
    let strictSegments = false;
    const o = {
      localIp: opts.localIp ?? '192.168.0.2',
      remoteIp: opts.remoteIp ?? '192.0.2.1',
      gatewayIp: opts.gatewayIp ?? '192.168.0.1',
      prefixLength: opts.prefixLength ?? 16,
      bindPort: opts.bindPort ?? 8080,
      connectPort: opts.connectPort ?? 8080,
      mtu: opts.mtu ?? 1500,
    };
    const tcp: Partial<TcpConfig> = { ...opts.tcp };
    for (const op of script.options) {
      const v = op.value ?? '';
      const num = (): number => {
        const n = Number(v);
        if (!Number.isFinite(n)) throw new LineUnsupported(`--${op.name}=${v}: not a number`, op.line);
        return n;
      };
      switch (op.name) {
        case 'tolerance_usecs':
          tolUs = num();
          break;
        case 'tolerance_percent':
          tolPct = num();
          break;
        case 'tcp_ts_tick_usecs':
          tsTick = num();
          break;
        case 'strict_segments':
          strictSegments = true;
          break;
        case 'local_ip':
        case 'remote_ip':
        case 'gateway_ip': {
          const ip = v.replace(/\/\d+$/, '');
          if (tryParseIp4(ip) === undefined) throw new LineUnsupported(`--${op.name}=${v} (IPv4 only)`, op.line);
          const prefix = /\/(\d+)$/.exec(v);
          if (op.name === 'local_ip' && prefix !== null) o.prefixLength = Number(prefix[1]);
          if (op.name === 'local_ip') o.localIp = ip;
          else if (op.name === 'remote_ip') o.remoteIp = ip;
          else o.gatewayIp = ip;
          break;
        }
        case 'netmask_ip': {
          const m = tryParseIp4(v);
          if (m === undefined) throw new LineUnsupported(`--netmask_ip=${v} (IPv4 only)`, op.line);
          let bits = 0;
          for (let x = m >>> 0; x & 0x8000_0000; x = (x << 1) >>> 0) bits++;
          o.prefixLength = bits;
          break;
        }
        case 'bind_port':
          o.bindPort = num();
          break;
        case 'connect_port':
          o.connectPort = num();
          break;
        case 'mtu':
          o.mtu = num();
          break;
        case 'ip_version':
          if (v !== 'ipv4') throw new LineUnsupported(`--ip_version=${v} (the stack is IPv4 only)`, op.line);
          break;
        case 'tcp_config':
          try {
            applyTcpConfig(v, tcp);
          } catch (e) {
            throw new LineUnsupported((e as Error).message, op.line);
          }
          break;
        default:
          if (!IGNORED_OPTIONS.has(op.name)) throw new LineUnsupported(`option --${op.name}`, op.line);
      }
    }
    this.tolUs = tolUs;
    this.tolPct = tolPct;
    this.tsTickUs = tsTick;
    this.strictSegments = strictSegments;
    this.localIp = parseIp4(o.localIp);
    this.remoteIp = parseIp4(o.remoteIp);
    this.bindPort = o.bindPort;
    this.kernel = new Kernel(
      {
        clock: this.clock,
        localIp: this.localIp,
        remoteIp: this.remoteIp,
        gatewayIp: parseIp4(o.gatewayIp),
        prefixLength: o.prefixLength,
        bindPort: o.bindPort,
        connectPort: o.connectPort,
        mtu: o.mtu,
        tcp,
      },
      {
        onListen: (port) => {
          this.flow = this.newFlow(true, port, this.nextEphemeral++);
        },
        onConnect: (c: TcpConnection) => {
          this.flow = this.newFlow(false, c.localPort, c.remotePort);
        },
      },
    );
  }

  private newFlow(passive: boolean, localPort: number, remotePort: number): Flow {
    return {
      passive,
      localPort,
      remotePort,
      listening: passive,
      remoteIsn: 0,
      remoteIsnKnown: false,
      scriptLocalIsn: 0,
      liveLocalIsn: 0,
      localIsnKnown: false,
      tsMap: new Map(),
      firstScriptTs: undefined,
      firstActualTs: undefined,
    };
  }

  currentLine(): number {
    return this.line;
  }

  text(line: number): string {
    return (this.script.lines[line - 1] ?? '').trim();
  }

  // ---- time ----------------------------------------------------------------------

  /** Runs the stack's timers up to `t` (ms), completing a blocked call as soon as it can. */
  private advanceTo(t: number): void {
    for (;;) {
      const at = this.clock.nextAt();
      if (at === undefined || at > t) break;
      this.clock.step();
      this.service();
    }
    if (this.clock.now() < t) this.clock.advanceTo(t);
    this.service();
  }

  /** Steps the clock until `done()` or `deadline` (ms). */
  private runUntil(done: () => boolean, deadline: number): boolean {
    while (!done()) {
      const at = this.clock.nextAt();
      if (at === undefined || at > deadline) return done();
      this.clock.step();
      this.service();
    }
    return true;
  }

  private tolerance(t: number): number {
    return Math.max(this.tolUs / 1000, (this.tolPct / 100) * (t - this.lastT));
  }

  // ---- blocked calls ------------------------------------------------------------

  private service(): void {
    const p = this.pending;
    if (p === null) return;
    const r = p.outcome.retry();
    if (isBlocked(r)) {
      p.outcome = r;
      return;
    }
    this.pending = null;
    this.checkResult(p.ev, p.call, r);
    const now = this.clock.now();
    if (!p.any && (now < p.end - p.tol || now > p.end + p.tol)) {
      throw new Fail(
        `timing error: ${p.call.name}() expected to return at ${secs(p.end)} s but returned at ${secs(now)} s (tolerance ${secs(p.tol)} s)`,
        p.ev.line,
        this.text(p.ev.line),
        `${secs(now)} ${p.call.name}(...) = ${resultText(r)}`,
      );
    }
  }

  private finishPending(limit: number): void {
    const p = this.pending;
    if (p === null) return;
    this.runUntil(() => this.pending === null, Math.max(limit, p.end + p.tol));
    if (this.pending !== null) {
      throw new Fail(`${p.call.name}() blocked and never returned (nothing was left to happen after ${secs(this.clock.now())} s)`, p.ev.line, this.text(p.ev.line), '(still blocked)');
    }
  }

  // ---- events ------------------------------------------------------------------------

  run(): void {
    if (this.script.init !== undefined) this.command(this.script.init.command, this.script.init.line);
    for (const ev of this.script.events) {
      this.line = ev.line;
      this.event(ev);
      this.events++;
    }
    this.finishPending(this.clock.now() + 600_000);
    if (this.script.cleanup !== undefined) this.command(this.script.cleanup.command, this.script.cleanup.line);
    this.checkLeftovers();
    if (this.codeLines.length > 0) {
      const n = this.codeLines.length;
      throw new LineUnsupported(`inline code %{ ... }% (no Python interpreter in this runner; every other line passed, ${n} code block${n > 1 ? 's' : ''} not run)`, this.codeLines[0]!);
    }
  }

  private checkLeftovers(): void {
    if (this.opts.strict === true) {
      const left = this.drainRelevant().filter((s) => s.at <= this.lastT + this.tolerance(this.lastT));
      if (left.length > 0) {
        const last = this.script.events[this.script.events.length - 1];
        throw new Fail(
          `the stack sent ${left.length} segment(s) no line expects`,
          last?.line ?? 0,
          '(nothing more)',
          left.map((s) => this.formatActual(this.toScript(s), s.at)).join('\n'),
        );
      }
    }
  }

  private eventTimes(time: EventTime, inbound: boolean): { t: number; end: number; any: boolean; offset: number } {
    const offset = this.lastInbound && inbound ? this.lastT : this.clock.now();
    switch (time.kind) {
      case 'absolute':
        return { t: time.t * 1000, end: time.t * 1000, any: false, offset: 0 };
      case 'absolute-range':
        return { t: time.t * 1000, end: time.end * 1000, any: false, offset: 0 };
      case 'relative':
        return { t: offset + time.t * 1000, end: offset + time.t * 1000, any: false, offset };
      case 'relative-range':
        return { t: offset + time.t * 1000, end: offset + time.end * 1000, any: false, offset };
      case 'any':
        return { t: this.clock.now(), end: this.clock.now(), any: true, offset };
    }
  }

  private event(ev: ScriptEvent): void {
    const a = ev.action;
    const inbound = a.type === 'packet' && a.direction === '<';
    const { t, end, any, offset } = this.eventTimes(ev.time, inbound);
    const tol = this.tolerance(t);
    if (a.type === 'packet' && a.direction === '>') {
      this.outbound(ev, a, t, end, tol, any);
    } else {
      if (!any) {
        if (this.clock.now() > end + tol) {
          throw new Fail(`timing error: line expected at ${secs(t)} s but the script got there at ${secs(this.clock.now())} s`, ev.line);
        }
        this.advanceTo(t);
      }
      // Back-to-back blocking calls: the second starts when the first returns (packetdrill waits for its syscall thread).
      if (a.type === 'syscall' && this.pending !== null) this.finishPending(this.clock.now() + 600_000);
      switch (a.type) {
        case 'packet':
          this.inbound(ev, a);
          break;
        case 'syscall':
          this.syscall(ev, a, t, ev.time.kind === 'relative' || ev.time.kind === 'relative-range' ? offset : 0, tol, any);
          break;
        case 'command':
          this.command(a.command, ev.line);
          break;
        case 'code':
          // packetdrill runs code blocks after the script, on what it recorded: run the rest first.
          this.codeLines.push(ev.line);
          break;
        case 'unsupported-packet':
          throw new LineUnsupported(a.why, ev.line);
      }
    }
    this.lastT = any ? this.clock.now() : t;
    this.lastInbound = inbound;
  }

  private command(cmd: string, line: number): void {
    const cfg = this.kernel.host?.tcp?.config ?? this.kernel.tcpConfig;
    const sysctls = parseSysctls(cmd);
    if (sysctls !== null) {
      for (const [k, v] of sysctls) SYSCTL_KEYS[k]!(v, cfg);
      return;
    }
    if (this.opts.shell === 'ignore') {
      // The known sysctls among the command's lines still take effect.
      const known = cmd.replace(/\\\n/g, ' ').split(/\n|;|&&/).map((x) => parseSysctls(x.trim())).filter((x) => x !== null);
      for (const list of known) for (const [k, v] of list) SYSCTL_KEYS[k]!(v, cfg);
      this.notes.push(`line ${line}: shell command ignored${known.length > 0 ? ' (its known sysctls applied)' : ''}: \`${cmd.replace(/\s+/g, ' ')}\``);
      return;
    }
    throw new LineUnsupported(`shell command \`${cmd.replace(/\s+/g, ' ')}\``, line);
  }

  private syscall(ev: ScriptEvent, a: SyscallAction, t: number, offset: number, tol: number, any: boolean): void {
    let out;
    try {
      out = this.kernel.call(a.name, a.args, this.kernel.evalInt(a.result));
    } catch (e) {
      if (e instanceof Unsupported) throw new LineUnsupported(e.message, ev.line);
      throw e;
    }
    const end = a.endTime === undefined ? t : offset + a.endTime * 1000;
    if (isBlocked(out)) {
      if (out.wakeAt !== undefined) this.clock.schedule(out.wakeAt, () => undefined);
      this.pending = { ev, call: a, outcome: out, end, tol: Math.max(tol, this.tolerance(end)), any };
      return;
    }
    this.checkResult(ev, a, out);
    if (a.endTime !== undefined && !any && Math.abs(this.clock.now() - end) > tol) {
      throw new Fail(`timing error: ${a.name}() expected to return at ${secs(end)} s but returned at once (${secs(this.clock.now())} s)`, ev.line);
    }
  }

  private checkResult(ev: ScriptEvent, a: SyscallAction, r: CallResult): void {
    let want: number | undefined;
    try {
      want = this.kernel.evalInt(a.result);
    } catch (e) {
      if (e instanceof Unsupported) throw new LineUnsupported(e.message, ev.line);
      throw e;
    }
    const wantText = `${exprText(a.result)}${a.errno !== undefined ? ` ${a.errno}` : ''}`;
    const bad = (want !== undefined && r.ret !== want) || (a.errno !== undefined && r.errno !== a.errno && !(ERRNO[a.errno] === ERRNO[r.errno ?? '']));
    if (bad) {
      throw new Fail(`${a.name}() returned ${resultText(r)}, expected ${wantText}`, ev.line, this.text(ev.line), `${secs(this.clock.now())} ${a.name}(...) = ${resultText(r)}`);
    }
    if (r.mismatch !== undefined) {
      throw new Fail(`${a.name}(): ${r.mismatch}`, ev.line, this.text(ev.line), `${secs(this.clock.now())} ${a.name}(...) = ${resultText(r)}`);
    }
  }

  // ---- packets -----------------------------------------------------------------------

  private ensureFlow(): Flow {
    if (this.flow === null) this.flow = this.newFlow(true, this.bindPort, this.nextEphemeral++);
    return this.flow;
  }

  private inbound(ev: ScriptEvent, p: PacketAction): void {
    const f = this.ensureFlow();
    if (p.win === undefined) throw new Fail('window must be specified for inbound packets', ev.line);
    if (p.options === 'any') throw new Fail('<...> options are for outbound packets only', ev.line);
    const flags = flagBits(p.flags);
    const syn = (flags & TCP_SYN) !== 0;
    const ackFlag = (flags & TCP_ACK) !== 0;
    // A new SYN may start a new connection (after a reset) with a new ISS:
    // the next SYN-ACK line teaches it again (a retransmitted SYN-ACK keeps it).
    if (syn && !ackFlag && f.passive) f.localIsnKnown = false;
    if (syn && !ackFlag && (f.listening || !f.remoteIsnKnown)) {
      f.listening = false;
      f.remoteIsn = p.seq;
      f.remoteIsnKnown = true;
    } else if (syn && ackFlag && !f.passive && !f.remoteIsnKnown) {
      f.remoteIsn = p.seq;
      f.remoteIsnKnown = true;
    }
    const seq = (syn ? p.seq : p.seq + f.remoteIsn) >>> 0;
    const ackOff = syn ? f.liveLocalIsn - f.scriptLocalIsn : f.liveLocalIsn;
    const ack = ackFlag ? ((p.ack ?? 0) + ackOff) >>> 0 : (p.ack ?? 0) >>> 0;
    const options: TcpOption[] = [];
    for (const o of p.options) options.push(this.inboundOption(ev, o, ackOff, ackFlag, f));
    const header: TcpHeader = {
      srcPort: f.remotePort,
      dstPort: f.localPort,
      seq,
      ack,
      flags,
      reserved: 0,
      window: p.win,
      checksum: 0,
      urgentPointer: p.urg ?? 0,
      options,
    };
    this.kernel.wire().inject(this.remoteIp, header, new Uint8Array(p.len));
    this.service();
  }

  private inboundOption(ev: ScriptEvent, o: TcpOptionSpec, ackOff: number, ackFlag: boolean, f: Flow): TcpOption {
    switch (o.kind) {
      case 'nop':
        return { kind: 'nop' };
      case 'eol':
        return { kind: 'eol' };
      case 'mss':
        return { kind: 'mss', mss: o.mss };
      case 'wscale':
        return { kind: 'wscale', shift: o.shift };
      case 'sackOK':
        return { kind: 'sack-permitted' };
      case 'sack':
        return { kind: 'sack', blocks: o.blocks.map(([l, r]) => ({ left: (l + ackOff) >>> 0, right: (r + ackOff) >>> 0 })) };
      case 'TS': {
        let ecr = o.ecr;
        if (ackFlag) {
          const m = f.tsMap.get(o.ecr);
          if (m !== undefined) ecr = m;
          else if (f.firstScriptTs !== undefined && f.firstActualTs !== undefined) ecr = (o.ecr - f.firstScriptTs + f.firstActualTs) >>> 0;
          else if (o.ecr !== 0) throw new Fail(`unable to infer the TS ecr for script value ${o.ecr}: no outbound TS val seen yet`, ev.line);
        }
        return { kind: 'timestamps', tsVal: o.val >>> 0, tsEcr: ecr >>> 0 };
      }
    }
  }

  /** Segments of the flow under test sent so far and not yet taken; others are dropped (not for the socket under test). */
  private nextRelevant(): WireSegment | undefined {
    const dev = this.kernel.host === null ? null : this.kernel.wire();
    if (dev === null) return undefined;
    const q = dev.captured;
    while (q.length > 0) {
      const s = q[0]!;
      const f = this.flow;
      if (s.src === this.localIp && s.dst === this.remoteIp && (f === null || (s.header.srcPort === f.localPort && s.header.dstPort === f.remotePort))) return s;
      q.shift();
    }
    return undefined;
  }

  private drainRelevant(): WireSegment[] {
    const out: WireSegment[] = [];
    for (let s = this.nextRelevant(); s !== undefined; s = this.nextRelevant()) {
      out.push(s);
      this.kernel.wire().captured.shift();
    }
    return out;
  }

  private takeSegment(deadline: number): WireSegment | undefined {
    this.runUntil(() => this.nextRelevant() !== undefined, deadline);
    const s = this.nextRelevant();
    if (s !== undefined) this.kernel.wire().captured.shift();
    return s;
  }

  /** A wire segment in script space. */
  private toScript(s: WireSegment): ScriptSegment {
    const f = this.ensureFlow();
    const h = s.header;
    const syn = (h.flags & TCP_SYN) !== 0;
    const seq = (h.seq - (syn ? f.liveLocalIsn - f.scriptLocalIsn : f.liveLocalIsn)) >>> 0;
    const ackOff = syn ? 0 : f.remoteIsn;
    const ack = (h.ack - ackOff) >>> 0;
    const options = h.options.map((o): TcpOption => {
      if (o.kind === 'sack') return { kind: 'sack', blocks: o.blocks.map((b) => ({ left: (b.left - ackOff) >>> 0, right: (b.right - ackOff) >>> 0 })) };
      if (o.kind === 'timestamps' && f.firstScriptTs !== undefined && f.firstActualTs !== undefined) {
        return { kind: 'timestamps', tsVal: (f.firstScriptTs + (o.tsVal - f.firstActualTs)) >>> 0, tsEcr: o.tsEcr };
      }
      return o;
    });
    return { flags: h.flags, seq, len: s.payload.length, ack, win: h.window, urg: h.urgentPointer, options };
  }

  formatActual(s: ScriptSegment, at: number): string {
    const ack = s.flags & TCP_ACK ? ` ack ${s.ack}` : '';
    const opts = s.options.length > 0 ? ` <${s.options.map(optionText).join(',')}>` : '';
    return `${secs(at)} > ${flagText(s.flags)} ${s.seq}:${(s.seq + s.len) >>> 0}(${s.len})${ack} win ${s.win}${opts}`;
  }

  private outbound(ev: ScriptEvent, p: PacketAction, t: number, end: number, tol: number, any: boolean): void {
    const f = this.ensureFlow();
    const deadline = any ? this.clock.now() + 600_000 : end + tol;
    const expected = this.text(ev.line);
    // Like packetdrill, keep listening 2 s past the deadline, so a late segment is shown as late.
    const first = this.takeSegment(any ? deadline : deadline + 2000);
    if (first === undefined) {
      throw new Fail(`expected a segment by ${secs(deadline)} s; the stack sent nothing`, ev.line, expected, `(nothing sent by ${secs(any ? deadline : deadline + 2000)} s)`);
    }
    const scriptSyn = p.flags.includes('S');
    if (scriptSyn && (first.header.flags & TCP_SYN) !== 0 && !f.localIsnKnown) {
      f.scriptLocalIsn = p.seq;
      f.liveLocalIsn = first.header.seq;
      f.localIsnKnown = true;
    }
    // packetdrill's TSO/GSO allowance: one line may stand for several contiguous segments.
    const frags = [first];
    let total = first.payload.length;
    while (total < p.len && total > 0 && !this.strictSegments) {
      const prev = frags[frags.length - 1]!;
      const next = this.takeSegment(deadline);
      if (next === undefined) break;
      const ph = prev.header;
      const nh = next.header;
      const same = nh.seq === ((ph.seq + prev.payload.length) >>> 0) && nh.ack === ph.ack && ((nh.flags ^ ph.flags) & ~(TCP_PSH | TCP_FIN)) === 0;
      if (!same) {
        throw new Fail(
          `segment does not continue the ${total} bytes before it (the line expects ${p.len} bytes in one or more contiguous segments)`,
          ev.line,
          expected,
          [...frags, next].map((s) => this.formatActual(this.toScript(s), s.at)).join('\n'),
        );
      }
      frags.push(next);
      total += next.payload.length;
    }
    // Remember which wire TS val the script calls by which number (inbound ecr refers to it).
    const sTs = p.options === 'any' ? undefined : p.options.find((o) => o.kind === 'TS');
    const aTs = first.header.options.find((o) => o.kind === 'timestamps');
    if (sTs !== undefined && sTs.kind === 'TS' && aTs !== undefined && aTs.kind === 'timestamps') {
      f.tsMap.set(sTs.val, aTs.tsVal);
      if (f.firstScriptTs === undefined) {
        f.firstScriptTs = sTs.val;
        f.firstActualTs = aTs.tsVal;
      }
    }
    const actual = this.toScript(first);
    if (frags.length > 1) {
      const last = frags[frags.length - 1]!;
      actual.flags = (actual.flags & ~(TCP_PSH | TCP_FIN)) | (last.header.flags & (TCP_PSH | TCP_FIN));
      actual.len = total;
    }
    const actualText = frags.length > 1 ? `${this.formatActual(this.toScript(first), first.at)}  (+${frags.length - 1} more: ${this.formatActual(actual, first.at).replace(/^\S+ > /, '')})` : this.formatActual(this.toScript(first), first.at);
    const problems = this.compare(p, actual, tol);
    const at = first.at;
    if (!any && (at < t - tol || at > end + tol)) {
      problems.push(`sent at ${secs(at)} s, expected ${t === end ? secs(t) : `${secs(t)}~${secs(end)}`} s (tolerance ${secs(tol)} s)`);
    }
    if (problems.length > 0) throw new Fail(problems.join('; '), ev.line, expected, actualText);
  }

  private compare(p: PacketAction, a: ScriptSegment, tol: number): string[] {
    const out: string[] = [];
    const want = flagBits(p.flags);
    if ((want & 0x1ff) !== (a.flags & 0x1ff)) out.push(`flags ${flagText(a.flags)}, expected ${flagText(want)}`);
    if (a.seq !== p.seq >>> 0) out.push(`seq ${a.seq}, expected ${p.seq}`);
    if (a.len !== p.len) out.push(`payload ${a.len} bytes, expected ${p.len}`);
    const wantAck = p.ack ?? 0;
    if (((want | a.flags) & TCP_ACK) !== 0 && a.ack !== wantAck >>> 0) out.push(`ack ${a.ack}, expected ${wantAck}`);
    if (p.win !== undefined && a.win !== p.win) out.push(`win ${a.win}, expected ${p.win}`);
    if (p.urg !== undefined && a.urg !== p.urg) out.push(`urg ${a.urg}, expected ${p.urg}`);
    if (p.options !== 'any') {
      const o = this.compareOptions(p.options, a.options, tol);
      if (o !== null) out.push(o);
    }
    return out;
  }

  private compareOptions(want: readonly TcpOptionSpec[], have: readonly TcpOption[], tol: number): string | null {
    const wText = `<${want.map(specText).join(',')}>`;
    const hText = `<${have.map(optionText).join(',')}>`;
    const bad = `options ${hText === '<>' ? '(none)' : hText}, expected ${wText === '<>' ? '(none)' : wText}`;
    if (want.length !== have.length) return bad;
    for (let i = 0; i < want.length; i++) {
      const w = want[i]!;
      const h = have[i]!;
      switch (w.kind) {
        case 'nop':
        case 'eol':
          if (h.kind !== w.kind) return bad;
          break;
        case 'mss':
          if (h.kind !== 'mss' || h.mss !== w.mss) return bad;
          break;
        case 'wscale':
          if (h.kind !== 'wscale' || h.shift !== w.shift) return bad;
          break;
        case 'sackOK':
          if (h.kind !== 'sack-permitted') return bad;
          break;
        case 'sack':
          if (h.kind !== 'sack' || h.blocks.length !== w.blocks.length || h.blocks.some((b, k) => b.left !== w.blocks[k]![0] >>> 0 || b.right !== w.blocks[k]![1] >>> 0)) return bad;
          break;
        case 'TS':
          if (h.kind !== 'timestamps') return bad;
          if (this.tsTickUs > 0 && Math.abs((h.tsVal - w.val) | 0) * this.tsTickUs > tol * 1000) return `${bad} (TS val beyond the tolerance)`;
          break;
      }
    }
    return null;
  }
}

interface ScriptSegment {
  flags: number;
  seq: number;
  len: number;
  ack: number;
  win: number;
  urg: number;
  options: readonly TcpOption[];
}

function secs(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function resultText(r: CallResult): string {
  return r.errno !== undefined ? `${r.ret} ${r.errno}` : String(r.ret);
}

export function optionText(o: TcpOption): string {
  switch (o.kind) {
    case 'mss':
      return `mss ${o.mss}`;
    case 'wscale':
      return `wscale ${o.shift}`;
    case 'sack-permitted':
      return 'sackOK';
    case 'timestamps':
      return `TS val ${o.tsVal} ecr ${o.tsEcr}`;
    case 'sack':
      return `sack ${o.blocks.map((b) => `${b.left}:${b.right}`).join(' ')}`;
    case 'nop':
    case 'eol':
      return o.kind;
    case 'unknown':
      return `kind ${o.code}`;
    default:
      return o.kind;
  }
}

function specText(o: TcpOptionSpec): string {
  switch (o.kind) {
    case 'mss':
      return `mss ${o.mss}`;
    case 'wscale':
      return `wscale ${o.shift}`;
    case 'TS':
      return `TS val ${o.val} ecr ${o.ecr}`;
    case 'sack':
      return `sack ${o.blocks.map(([l, r]) => `${l}:${r}`).join(' ')}`;
    default:
      return o.kind;
  }
}

/** Parses and runs one script. Never throws for a bad script: that is a failed result. */
export function runDrill(source: string, opts: DrillOptions = {}): DrillResult {
  let script: Script;
  try {
    script = parseScript(source);
  } catch (e) {
    if (e instanceof ParseError) return { status: 'failed', line: e.line, message: `syntax error: ${e.message}`, events: 0, notes: [] };
    throw e;
  }
  const xf = script.expectedFailure;
  const finish = (r: Omit<DrillResult, 'expectedFailure'>): DrillResult => {
    const withXf = xf === undefined ? r : { ...r, expectedFailure: xf };
    if (xf === undefined) return withXf;
    if (r.status === 'failed') return { ...withXf, status: 'xfail' };
    if (r.status === 'passed') return { ...withXf, status: 'xpass', message: `passed although marked expected-failure (${xf})` };
    return withXf;
  };
  let run: Run;
  try {
    run = new Run(script, opts);
  } catch (e) {
    if (e instanceof LineUnsupported) return finish({ status: 'unsupported', line: e.line, source: (script.lines[e.line - 1] ?? '').trim(), message: e.message, events: 0, notes: [] });
    return finish({ status: 'failed', message: `bad setup: ${(e as Error).message}`, events: 0, notes: [] });
  }
  try {
    run.run();
    return finish({ status: 'passed', events: run.events, notes: run.notes });
  } catch (e) {
    if (e instanceof LineUnsupported) {
      return finish({ status: 'unsupported', line: e.line, source: run.text(e.line), message: e.message, events: run.events, notes: run.notes });
    }
    if (e instanceof Fail) {
      return finish({
        status: 'failed',
        line: e.line,
        source: run.text(e.line),
        message: e.message,
        ...(e.expected !== undefined ? { expected: e.expected } : {}),
        ...(e.actual !== undefined ? { actual: e.actual } : {}),
        events: run.events,
        notes: run.notes,
      });
    }
    // A throw from inside the stack is a failure of the script's line, not of the runner.
    const line = run.currentLine();
    return finish({ status: 'failed', line, source: run.text(line), message: `the stack threw: ${(e as Error).stack ?? String(e)}`, events: run.events, notes: run.notes });
  }
}

