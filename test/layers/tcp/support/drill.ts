/**
 * A packetdrill-like harness: one TCP (10.0.0.1) under test, a scripted peer
 * (10.0.0.2) that injects segments at given times and checks every segment the
 * TCP sends: flags, sequence and acknowledgement numbers, window, options, time.
 *
 * Script lines (times in seconds, absolute, or "+d" after the previous line):
 *
 *     0.000 < S 0:0(0) win 65535 <mss 1460,nop,wscale 7>      inject (seq relative to the peer's ISN)
 *     0.000 > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 2> expect (seq relative to our ISS)
 *     0.100 < . 1:11(10) ack 1 win 257                          10 payload bytes
 *     0.300 > . 1:1(0) ack 11                                   at 0.300 exactly (a delayed ACK)
 *     0.400 call send 5                                         run an action (see `actions`)
 *     0.500 state ESTABLISHED                                   the connection's state
 *     0.500 event peer-fin                                      an upcall happened (substring of the event log)
 *     1.000 none                                                nothing was sent up to this time
 *
 * Flags as tcpdump prints them: S SYN, F FIN, R RST, P PSH, '.' ACK ("S." = SYN+ACK).
 * In expectations, omitted fields are not checked; `*` matches any value, and
 * an options list `<...>` is compared token by token (`*` matches one token).
 * An outbound segment that no line expects fails the script.
 */
import { expect } from 'vitest';
import type { TcpConfig } from '../../../../src/layers/tcp/config.js';
import type { TcpConnection, TcpListener, TcpSlots } from '../../../../src/layers/tcp/index.js';
import { parseIp4 } from '../../../../src/wire/addr.js';
import {
  emitTcp,
  formatTcpFlags,
  parseTcp,
  setTcpChecksum,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
  type TcpOption,
} from '../../../../src/wire/tcp.js';
import { FakeNet, makeHost, type Datagram, type FakeHost } from './fake-ip.js';
import { VirtualClock } from '../../../../src/core/index.js';

export interface DrillOptions {
  config?: Partial<TcpConfig>;
  mtu?: number;
  /** Peer's initial sequence number (absolute). */
  peerIsn?: number;
  /** Tolerance when matching outbound times, ms. */
  toleranceMs?: number;
}

export interface Captured {
  readonly at: number;
  readonly flags: number;
  readonly seq: number;
  readonly ack: number;
  readonly win: number;
  readonly len: number;
  readonly options: readonly TcpOption[];
  readonly payload: Uint8Array;
  readonly text: string;
}

const LOCAL = parseIp4('10.0.0.1');
const PEER = parseIp4('10.0.0.2');
export const PEER_PORT = 40000;

function flagsFromText(t: string): number {
  let f = 0;
  for (const ch of t) {
    if (ch === 'S') f |= TCP_SYN;
    else if (ch === 'F') f |= TCP_FIN;
    else if (ch === 'R') f |= TCP_RST;
    else if (ch === 'P') f |= TCP_PSH;
    else if (ch === 'U') f |= TCP_URG;
    else if (ch === '.') f |= TCP_ACK;
    else throw new Error(`bad flag ${ch} in ${t}`);
  }
  return f;
}

function flagsToText(f: number): string {
  let s = '';
  if (f & TCP_SYN) s += 'S';
  if (f & TCP_FIN) s += 'F';
  if (f & TCP_RST) s += 'R';
  if (f & TCP_PSH) s += 'P';
  if (f & TCP_URG) s += 'U';
  if (f & TCP_ACK) s += '.';
  return s;
}

/** Renders options the way scripts write them. */
export function formatOptions(opts: readonly TcpOption[]): string {
  return opts
    .map((o) => {
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
          return 'nop';
        case 'eol':
          return 'eol';
        default:
          return o.kind;
      }
    })
    .join(',');
}

function parseOptions(text: string, rel: (n: number) => number): TcpOption[] {
  const out: TcpOption[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    const w = part.split(/\s+/);
    switch (w[0]) {
      case 'mss':
        out.push({ kind: 'mss', mss: Number(w[1]) });
        break;
      case 'wscale':
        out.push({ kind: 'wscale', shift: Number(w[1]) });
        break;
      case 'sackOK':
        out.push({ kind: 'sack-permitted' });
        break;
      case 'nop':
        out.push({ kind: 'nop' });
        break;
      case 'eol':
        out.push({ kind: 'eol' });
        break;
      case 'TS':
        out.push({ kind: 'timestamps', tsVal: Number(w[2]) >>> 0, tsEcr: Number(w[4]) >>> 0 });
        break;
      case 'sack': {
        const blocks = w.slice(1).map((b) => {
          const [l, r] = b.split(':').map(Number);
          return { left: rel(l!), right: rel(r!) };
        });
        out.push({ kind: 'sack', blocks });
        break;
      }
      default:
        throw new Error(`unknown option ${part}`);
    }
  }
  return out;
}

interface SegLine {
  flags: string;
  seq?: [number, number, number];
  ack?: string;
  win?: string;
  options?: string;
}

function parseSegLine(rest: string): SegLine {
  const m = /^(\S+)\s+(\d+):(\d+)\((\d+)\)(.*)$/.exec(rest.trim());
  let flags: string;
  let tail: string;
  let seq: [number, number, number] | undefined;
  if (m === null) {
    const m2 = /^(\S+)(.*)$/.exec(rest.trim())!;
    flags = m2[1]!;
    tail = m2[2]!;
  } else {
    flags = m[1]!;
    seq = [Number(m[2]), Number(m[3]), Number(m[4])];
    tail = m[5]!;
  }
  const line: SegLine = { flags };
  if (seq !== undefined) line.seq = seq;
  const opt = /<([^>]*)>/.exec(tail);
  if (opt !== null) {
    line.options = opt[1]!;
    tail = tail.replace(opt[0], '');
  }
  const ack = /\back\s+(\S+)/.exec(tail);
  if (ack !== null) line.ack = ack[1]!;
  const win = /\bwin\s+(\S+)/.exec(tail);
  if (win !== null) line.win = win[1]!;
  return line;
}

export class Drill {
  readonly clock = new VirtualClock();
  readonly net: FakeNet;
  readonly host: FakeHost;
  readonly peerIsn: number;
  /** Our ISS, learned from the first SYN we send. */
  iss = -1;
  conn: TcpConnection | null = null;
  listener: TcpListener | null = null;
  readonly events: string[] = [];
  readonly received: Uint8Array[] = [];
  readonly captured: Captured[] = [];
  private consumed = 0;
  private lastT = 0;
  private readonly tol: number;
  /** Actions a script can `call` (by name, with space-separated arguments). */
  readonly actions = new Map<string, (d: Drill, args: string[]) => void>();
  /** Extra handlers merged into the connection's (for custom behaviour in a test). */
  extra: Partial<TcpSlots> = {};

  constructor(opts: DrillOptions = {}) {
    this.net = new FakeNet(this.clock, 1);
    this.host = makeHost(this.clock, this.net, 'local', '10.0.0.1', 5, { isnSecret: new Uint8Array(16).fill(7), ...opts.config }, opts.mtu ?? 1500);
    this.peerIsn = opts.peerIsn ?? 1_000_000;
    this.tol = opts.toleranceMs ?? 0.5;
    this.net.intercept = (d: Datagram) => {
      if (d.src === LOCAL) {
        this.capture(d);
        return true;
      }
      return false;
    };
    this.actions.set('send', (d, a) => d.conn!.send(new Uint8Array(Number(a[0])).fill(0x61)));
    this.actions.set('shutdown', (d) => d.conn!.shutdown());
    this.actions.set('close', (d) => d.conn!.close());
    this.actions.set('abort', (d) => d.conn!.abort());
    this.actions.set('pause', (d) => d.conn!.pause());
    this.actions.set('resume', (d) => d.conn!.resume());
    this.actions.set('nodelay', (d) => d.conn!.setNoDelay(true));
  }

  handlers(): Partial<TcpSlots> {
    const ev = this.events;
    return {
      onConnect: (c) => {
        this.conn = c;
        ev.push('connect');
        this.extra.onConnect?.(c);
      },
      onData: (c, d) => {
        this.received.push(d.slice());
        ev.push(`data ${d.length}`);
        this.extra.onData?.(c, d);
      },
      onClose: (c, how) => {
        ev.push(how);
        this.extra.onClose?.(c, how);
      },
      onError: (c, e) => {
        ev.push(`error ${e.code}`);
        this.extra.onError?.(c, e);
      },
      onDrain: (c) => {
        ev.push('drain');
        this.extra.onDrain?.(c);
      },
      onSendReady: (c, w) => this.extra.onSendReady?.(c, w),
    };
  }

  listen(port = 8080, opts: { backlog?: number; synBacklog?: number } = {}): this {
    this.listener = this.host.tcp.listen(port, this.host.rt.app('drill'), {
      onAccept: (c) => {
        this.conn = c;
        this.events.push('accept');
        return this.handlers();
      },
    }, opts);
    return this;
  }

  connect(port = PEER_PORT, localPort = 50000): this {
    this.localPort = localPort;
    this.conn = this.host.tcp.connect(PEER, port, this.host.rt.app('drill'), this.handlers(), { localPort });
    return this;
  }

  /** Our port in the connection under test (listener port or the connect's local port). */
  localPort = 8080;

  private capture(d: Datagram): void {
    const p = parseTcp(d.bytes, 0, d.bytes.length);
    if (!p.ok) throw new Error('TCP sent an unparsable segment');
    const h = p.header;
    if (this.iss < 0 && h.flags & TCP_SYN) this.iss = h.seq;
    const base = this.iss < 0 ? 0 : this.iss;
    const seq = (h.seq - base) >>> 0;
    const ack = (h.ack - this.peerIsn) >>> 0;
    const len = d.bytes.length - p.headerLength;
    // SACK blocks name the peer's sequence numbers: show them relative to its ISN.
    const options = h.options.map((o) =>
      o.kind === 'sack'
        ? { kind: 'sack' as const, blocks: o.blocks.map((b) => ({ left: (b.left - this.peerIsn) >>> 0, right: (b.right - this.peerIsn) >>> 0 })) }
        : o,
    );
    const text = `${(d.at / 1000).toFixed(3)} > ${flagsToText(h.flags)} ${seq}:${seq + len}(${len})${h.flags & TCP_ACK ? ` ack ${ack}` : ''} win ${h.window}${options.length ? ` <${formatOptions(options)}>` : ''}`;
    this.captured.push({ at: d.at, flags: h.flags, seq, ack, win: h.window, len, options, payload: d.bytes.slice(p.headerLength), text });
  }

  /** Inject a segment from the peer now. Sequence numbers relative to the peer's ISN, ack to our ISS. */
  inject(flagsText: string, seq: number, len: number, ack: number | undefined, win: number, optionsText = '', payload?: Uint8Array, dstPort?: number): void {
    const flags = flagsFromText(flagsText);
    const options = parseOptions(optionsText, (n) => (n + (this.iss < 0 ? 0 : this.iss)) >>> 0);
    const data = payload ?? new Uint8Array(len).map((_, i) => 0x30 + ((seq + i) % 10));
    const bytes = emitTcp(
      {
        srcPort: PEER_PORT,
        dstPort: dstPort ?? this.localPort,
        seq: (this.peerIsn + seq) >>> 0,
        ack: ack === undefined ? 0 : (ack + (this.iss < 0 ? 0 : this.iss)) >>> 0,
        flags,
        reserved: 0,
        window: win,
        checksum: 0,
        urgentPointer: 0,
        options,
      },
      data,
    );
    setTcpChecksum(bytes, 0, bytes.length, PEER, LOCAL);
    this.net.deliver(PEER, LOCAL, 6, bytes);
  }

  /** Captured segments not yet matched by a script line. */
  pending(): Captured[] {
    return this.captured.slice(this.consumed);
  }

  /** Take the next captured segment (for tests that inspect it directly). */
  next(): Captured | undefined {
    const c = this.captured[this.consumed];
    if (c !== undefined) this.consumed++;
    return c;
  }

  run(script: string): this {
    const lines = script
      .split('\n')
      .map((l) => l.replace(/\/\/.*$/, '').trim())
      .filter((l) => l.length > 0);
    for (const line of lines) this.step(line);
    return this;
  }

  /** Runs the clock to `ms`, failing on any segment sent before it that no line expects. */
  private runTo(ms: number, line: string): void {
    this.clock.advanceTo(ms);
    const extra = this.pending().filter((c) => c.at < ms - this.tol);
    if (extra.length > 0) {
      throw new Error(`unexpected segment(s) before "${line}":\n${extra.map((c) => c.text).join('\n')}`);
    }
  }

  private step(line: string): void {
    const m = /^(\+?)([\d.]+|\*)\s+(.*)$/.exec(line);
    if (m === null) throw new Error(`bad script line: ${line}`);
    const any = m[2] === '*';
    const t = any ? this.lastT : (m[1] === '+' ? this.lastT : 0) + Number(m[2]) * 1000;
    const rest = m[3]!;
    if (!any) this.lastT = t;
    if (rest.startsWith('<')) {
      this.runTo(t, line);
      const s = parseSegLine(rest.slice(1));
      const [a, b, n] = s.seq ?? [0, 0, 0];
      if (b - a !== n) throw new Error(`inconsistent ${a}:${b}(${n}) in ${line}`);
      this.inject(s.flags, a, n, s.ack === undefined ? undefined : Number(s.ack), s.win === undefined ? 65535 : Number(s.win), s.options ?? '');
      return;
    }
    if (rest.startsWith('>')) {
      const s = parseSegLine(rest.slice(1));
      if (any) {
        this.clock.runUntil(() => this.pending().length > 0, 600_000);
      } else {
        this.clock.runUntil(() => this.pending().length > 0 && this.pending()[0]!.at >= t - this.tol, t + this.tol - this.clock.now());
        if (this.clock.now() < t) this.clock.advanceTo(t);
      }
      const c = this.next();
      if (c === undefined) throw new Error(`expected "${line}" but nothing was sent (now ${(this.clock.now() / 1000).toFixed(3)})`);
      const where = `\n  expected: ${line}\n  actual:   ${c.text}`;
      if (!any && Math.abs(c.at - t) > this.tol) throw new Error(`wrong time${where}`);
      if (flagsToText(c.flags) !== s.flags && formatTcpFlags(c.flags) !== s.flags) throw new Error(`wrong flags${where}`);
      if (s.seq !== undefined) {
        const [a, , n] = s.seq;
        if (c.seq !== a >>> 0 || c.len !== n) throw new Error(`wrong seq/len${where}`);
      }
      if (s.ack !== undefined && s.ack !== '*' && c.ack !== Number(s.ack) >>> 0) throw new Error(`wrong ack${where}`);
      if (s.win !== undefined && s.win !== '*' && c.win !== Number(s.win)) throw new Error(`wrong window${where}`);
      if (s.options !== undefined) {
        const want = s.options.split(',').map((x) => x.trim());
        const have = formatOptions(c.options).split(',').map((x) => x.trim()).filter((x) => x.length > 0);
        const ok = want.length === have.length && want.every((w, i) => w === '*' || matchTokens(w, have[i]!));
        if (!ok) throw new Error(`wrong options${where}`);
      }
      return;
    }
    this.runTo(t, line);
    const words = rest.split(/\s+/);
    switch (words[0]) {
      case 'call': {
        const fn = this.actions.get(words[1]!);
        if (fn === undefined) throw new Error(`no action ${words[1]}`);
        fn(this, words.slice(2));
        return;
      }
      case 'state':
        expect(this.conn?.state, line).toBe(words[1]);
        return;
      case 'event':
        expect(this.events.some((e) => e.includes(words.slice(1).join(' '))), `${line}; events: ${this.events.join(', ')}`).toBe(true);
        return;
      case 'noevent':
        expect(this.events.some((e) => e.includes(words.slice(1).join(' '))), `${line}; events: ${this.events.join(', ')}`).toBe(false);
        return;
      case 'none':
        if (this.pending().length > 0) throw new Error(`expected nothing by ${line}, got:\n${this.pending().map((c) => c.text).join('\n')}`);
        return;
      case 'gone':
        expect(this.host.tcp.connectionCount, line).toBe(0);
        return;
      default:
        throw new Error(`unknown command in ${line}`);
    }
  }
}

function matchTokens(want: string, have: string): boolean {
  const w = want.split(/\s+/);
  const h = have.split(/\s+/);
  return w.length === h.length && w.every((x, i) => x === '*' || x === h[i]);
}
