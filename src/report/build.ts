/**
 * Turns what a ReportCollector gathered into the page's data (model.ts): lanes
 * in stack order, tasks and their paths (the first ones and every marked one in
 * detail, all of them in the aggregates), frames, and per TCP connection the
 * series of the time-sequence graph and of the sender's state.
 */
import type { Runtime } from '../core/runtime.js';
import type { Tcp } from '../layers/tcp/tcp.js';
import { formatIp4 } from '../wire/addr.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../wire/tcp.js';
import type { RawFrame, RawSample, RawTask, ReportCollector } from './collector.js';
import type { TcpFields } from './decode.js';
import { REPORT_FORMAT, SEG_FLAG, STEP, TASK_FLAG, type Aggregates, type ConnData, type DirData, type HostCounters, type ReportData, type StateSeries } from './model.js';

export interface BuildInfo {
  title: string;
  /** 'demo', 'replay', 'bench'... */
  kind?: string;
  /** The command line that made the run. */
  command?: string;
  /** Rows of the run's summary table. */
  summary?: Array<[string, string]> | Record<string, unknown>;
  /** The Telnet session(s) as text. */
  transcript?: string;
}

/** A summary object (a DemoSummary, a ReplaySummary) as table rows. */
export function summaryRows(o: Record<string, unknown>): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    rows.push([k, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)]);
  }
  return rows;
}

class Strings {
  readonly list: string[] = [];
  private readonly index = new Map<string, number>();
  id(s: string | null): number {
    if (s === null) return -1;
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(s);
      this.index.set(s, i);
    }
    return i;
  }
}

/** Levels of a host's modules: an upcall goes one level up at least, the caller of a call down sits above its callee. */
function moduleLevels(mods: Map<string, { up: Set<string>; down: Set<string> }>): Map<string, number> {
  const level = new Map<string, number>();
  for (const m of mods.keys()) level.set(m, 0);
  const upcalled = new Set<string>();
  for (const m of mods.values()) for (const u of m.up) upcalled.add(u);
  // A call into a module that upcalls lead to from here is a callback (memory
  // handed back to a layer above, as a threaded host's IP export takes it): not a level below.
  const above = new Map<string, Set<string>>();
  const reach = (name: string): Set<string> => {
    let r = above.get(name);
    if (r !== undefined) return r;
    r = new Set();
    above.set(name, r);
    const todo = [...(mods.get(name)?.up ?? [])];
    while (todo.length > 0) {
      const u = todo.pop()!;
      if (r.has(u)) continue;
      r.add(u);
      for (const v of mods.get(u)?.up ?? []) todo.push(v);
    }
    return r;
  };
  for (let round = 0; round < mods.size + 1; round++) {
    let changed = false;
    for (const [name, m] of mods) {
      const l = level.get(name)!;
      for (const u of m.up) {
        if ((level.get(u) ?? 0) < l + 1 && l + 1 <= mods.size) {
          level.set(u, l + 1);
          changed = true;
        }
      }
      if (!upcalled.has(name)) {
        for (const d of m.down) {
          if (reach(name).has(d)) continue;
          const want = (level.get(d) ?? 0) + 1;
          if (l < want && want <= mods.size) {
            level.set(name, want);
            changed = true;
          }
        }
      }
    }
    if (!changed) break;
  }
  return level;
}

/** Times to the microsecond: enough for any clock here, and short in JSON. */
function r3(t: number): number {
  return Math.round(t * 1000) / 1000;
}

/** Distinct strings (slots, reasons, notes) kept; notes beyond it lose their text. */
const MAX_STRINGS = 5000;
/** Characters of transcript kept. */
const MAX_TRANSCRIPT = 200_000;

function rel(v: number, base: number): number {
  return (v - base) | 0;
}

const ENDLESS = 0x7fff_ffff;

function connKey(t: { src: number; srcPort: number; dst: number; dstPort: number }): { key: string; from: string; to: string } {
  const a = `${formatIp4(t.src)}:${t.srcPort}`;
  const b = `${formatIp4(t.dst)}:${t.dstPort}`;
  return { key: a < b ? `${a} ${b}` : `${b} ${a}`, from: a, to: b };
}

/** The series of one direction (from -> to) of a connection, from the frames both ends sent. */
function direction(
  frames: readonly RawFrame[],
  from: string,
  to: string,
  samples: RawSample[] | null,
  stateHost: string | null,
  maxPoints: number,
  rows: ReadonlyMap<RawTask, number>,
): DirData {
  const fromOf = (f: RawFrame): string => `${formatIp4(f.tcp!.src)}:${f.tcp!.srcPort}`;
  // Where the sender was tapped its own transmissions are the truth (the link may lose them); else what the capture saw.
  const pick = (who: string): RawFrame[] => {
    const mine = frames.filter((f) => fromOf(f) === who);
    const sent = mine.filter((f) => f.dir === 1);
    return sent.length > 0 ? sent : mine;
  };
  const out = pick(from);
  // Both ends tapped: a segment sent that the other end never received was lost on the link.
  const received = new Map<string, number>();
  const segKey = (t: TcpFields): string => `${t.seq}/${t.ack}/${t.len}/${t.flags}/${t.window}`;
  const rx = frames.filter((f) => f.dir === 0 && fromOf(f) === from);
  const judgeLoss = out.length > 0 && out[0]!.dir === 1 && rx.length > 0;
  if (judgeLoss) for (const f of rx) received.set(segKey(f.tcp!), (received.get(segKey(f.tcp!)) ?? 0) + 1);
  const lost = (f: RawFrame): boolean => {
    if (!judgeLoss) return false;
    const k = segKey(f.tcp!);
    const n = received.get(k) ?? 0;
    if (n > 0) {
      received.set(k, n - 1);
      return false;
    }
    return true;
  };
  const back = pick(to);
  const syn = out.find((f) => (f.tcp!.flags & TCP_SYN) !== 0);
  const base = syn?.tcp!.seq ?? out[0]?.tcp!.seq ?? back.find((f) => (f.tcp!.flags & TCP_ACK) !== 0)?.tcp!.ack ?? 0;
  const synBack = back.find((f) => (f.tcp!.flags & TCP_SYN) !== 0);
  // The window field is scaled only when both SYNs carried the option (RFC 7323 2.2).
  const scale = syn?.tcp!.wscale !== undefined && synBack?.tcp!.wscale !== undefined ? synBack.tcp!.wscale : 0;
  const d: DirData = {
    from,
    to,
    base,
    bytes: 0,
    segments: out.length,
    seg: { t: [], seq: [], len: [], kind: [], task: [] },
    ack: { t: [], ack: [], win: [] },
    sack: [],
    state: null,
    truncated: false,
  };
  let maxEnd: number | null = null;
  let lastAck: number | null = null;
  const sent: Array<[number, number, boolean]> = [];
  for (const f of out) {
    const t = f.tcp!;
    const isLost = lost(f);
    const ctl = (t.flags & (TCP_SYN | TCP_FIN)) !== 0;
    if ((t.flags & TCP_ACK) !== 0) {
      if (t.len > 0 && lastAck !== null && rel(t.ack, lastAck) > 0) f.piggyback = true;
      lastAck = t.ack;
    }
    if (t.len === 0 && !ctl && (t.flags & TCP_RST) === 0) continue;
    const s = rel(t.seq, base);
    const span = t.len + ((t.flags & TCP_SYN) !== 0 ? 1 : 0) + ((t.flags & TCP_FIN) !== 0 ? 1 : 0);
    const end = s + span;
    let kind = 0;
    if (maxEnd !== null && span > 0 && s < maxEnd) kind |= SEG_FLAG.retransmission;
    if (f.piggyback) kind |= SEG_FLAG.piggyback;
    if ((t.flags & TCP_SYN) !== 0) kind |= SEG_FLAG.syn;
    if ((t.flags & TCP_FIN) !== 0) kind |= SEG_FLAG.fin;
    if ((t.flags & TCP_RST) !== 0) kind |= SEG_FLAG.rst;
    if (isLost) kind |= SEG_FLAG.lost;
    if (maxEnd === null || end > maxEnd) maxEnd = end;
    if ((kind & SEG_FLAG.retransmission) === 0) d.bytes += t.len;
    sent.push([f.t, end, (kind & SEG_FLAG.retransmission) !== 0]);
    if (d.seg.t.length >= maxPoints) {
      d.truncated = true;
      continue;
    }
    d.seg.t.push(r3(f.t));
    d.seg.seq.push(s);
    d.seg.len.push(t.len);
    d.seg.kind.push(kind);
    d.seg.task.push(f.task === null ? -1 : (rows.get(f.task) ?? -1));
  }
  for (const f of back) {
    const t = f.tcp!;
    if ((t.flags & TCP_ACK) === 0) continue;
    if (d.ack.t.length >= maxPoints) {
      d.truncated = true;
      break;
    }
    const a = rel(t.ack, base);
    d.ack.t.push(r3(f.t));
    d.ack.ack.push(a);
    d.ack.win.push(a + t.window * 2 ** ((t.flags & TCP_SYN) !== 0 ? 0 : scale));
    for (let i = 0; i + 1 < t.sack.length; i += 2) d.sack.push(r3(f.t), rel(t.sack[i]!, base), rel(t.sack[i + 1]!, base));
  }
  if (samples !== null && samples.length > 0) {
    const s: StateSeries = { source: 'stack', host: stateHost, t: [], cwnd: [], ssthresh: [], flight: [], srtt: [], rto: [] };
    const step = Math.max(1, Math.ceil(samples.length / maxPoints));
    for (let i = 0; i < samples.length; i += step) {
      const x = samples[i]!;
      s.t.push(r3(x.t));
      s.cwnd.push(x.cwnd);
      s.ssthresh.push(x.ssthresh >= ENDLESS ? null : x.ssthresh);
      s.flight.push(x.flight);
      s.srtt.push(x.srtt > 0 ? r3(x.srtt) : null);
      s.rto.push(r3(x.rto));
    }
    d.state = s;
  } else if (sent.length > 0) {
    d.state = infer(sent, back, base, maxPoints);
  }
  return d;
}

/**
 * What a capture tells of the sender without its state: bytes in flight (highest
 * sequence sent minus highest ACK seen) and RTT samples (a segment sent once to
 * the first ACK covering it, Karn's rule), smoothed as RFC 6298 does. Measured
 * where the capture was taken, so it is the sender's view only near the sender.
 */
function infer(sent: Array<[number, number, boolean]>, back: readonly RawFrame[], base: number, maxPoints: number): StateSeries {
  const s: StateSeries = { source: 'inferred', host: null, t: [], cwnd: [], ssthresh: [], flight: [], srtt: [], rto: [], rttT: [], rtt: [] };
  const acks = back.filter((f) => (f.tcp!.flags & TCP_ACK) !== 0);
  let i = 0;
  let j = 0;
  let maxSent = 0;
  let maxAck = 0;
  let srtt: number | null = null;
  let rttvar = 0;
  let timed = 0;
  const push = (t: number): void => {
    if (s.t.length >= maxPoints) return;
    if (s.t.length > 0 && s.t[s.t.length - 1] === r3(t)) {
      s.flight[s.flight.length - 1] = Math.max(0, maxSent - maxAck);
      s.srtt[s.srtt.length - 1] = srtt === null ? null : r3(srtt);
      return;
    }
    s.t.push(r3(t));
    s.flight.push(Math.max(0, maxSent - maxAck));
    s.cwnd.push(null);
    s.ssthresh.push(null);
    s.srtt.push(srtt === null ? null : r3(srtt));
    s.rto.push(null);
  };
  while (i < sent.length || j < acks.length) {
    const ts = i < sent.length ? sent[i]![0] : Infinity;
    const ta = j < acks.length ? acks[j]!.t : Infinity;
    if (ts <= ta) {
      const [t, end] = sent[i++]!;
      if (end > maxSent) maxSent = end;
      push(t);
    } else {
      const f = acks[j++]!;
      const a = rel(f.tcp!.ack, base);
      if (a > maxAck) {
        maxAck = a;
        // The first segment this ACK covers that was sent only once gives a sample.
        while (timed < sent.length && sent[timed]![1] <= a) {
          const [st, , again] = sent[timed++]!;
          const covered = timed >= sent.length || sent[timed]![1] > a;
          if (covered && !again && st <= f.t) {
            const r = f.t - st;
            if (srtt === null) {
              srtt = r;
              rttvar = r / 2;
            } else {
              rttvar = 0.75 * rttvar + 0.25 * Math.abs(srtt - r);
              srtt = 0.875 * srtt + 0.125 * r;
            }
            if (s.rttT!.length < maxPoints) {
              s.rttT!.push(r3(f.t));
              s.rtt!.push(r3(r));
            }
          }
        }
      }
      push(f.t);
    }
  }
  void rttvar;
  return s;
}

/** @internal a runtime's counters as the page shows them (also made in a worker thread, see ThreadRecorder) */
export function counters(rt: Runtime, tcp: Tcp | null, before: number): HostCounters {
  return {
    host: rt.name,
    tasksBeforeReport: before,
    runtime: { ...rt.stats },
    modules: rt.allModules().map((m) => ({
      module: m.name,
      entries: m.stats.entries,
      upcalls: m.stats.upcalls,
      upcallsFailed: m.stats.upcallsFailed,
      deferrals: m.stats.deferrals,
      cleanups: m.stats.cleanups,
      drops: m.stats.drops,
      dropReasons: Object.fromEntries(m.stats.dropReasons),
    })),
    tcp: tcp !== null ? { ...(tcp.counters as unknown as Record<string, number>) } : null,
  };
}

/** @internal used by ReportCollector.build */
export function buildReport(c: ReportCollector, info: BuildInfo, t0: number, t1: number): ReportData {
  const L = c.limits;
  const strings = new Strings();
  const limits: string[] = [];

  // Lanes in display order: hosts as first seen, the highest layer on top.
  const order: Array<{ host: number; module: string }> = [];
  c.hosts.forEach((_, h) => {
    const mods = c.modules[h]!;
    const level = moduleLevels(mods);
    const names = [...mods.keys()].filter((m) => c.laneKeys.some((k) => k.host === h && k.module === m));
    // Within a level the busier module sits higher: the main path (IP) next to the layer above it.
    const visits = new Map<string, number>();
    for (const t of c.tasks) if (t.host === h) for (const s of t.steps) {
      const k = c.laneKeys[s[0]]!.module;
      visits.set(k, (visits.get(k) ?? 0) + 1);
    }
    names.sort((a, b) => level.get(b)! - level.get(a)! || (visits.get(b) ?? 0) - (visits.get(a) ?? 0) || a.localeCompare(b));
    for (const m of names) order.push({ host: h, module: m });
  });
  const laneOf = new Map<string, number>();
  order.forEach((l, i) => laneOf.set(`${l.host}\u0000${l.module}`, i));
  const remap = c.laneKeys.map((k) => laneOf.get(`${k.host}\u0000${k.module}`) ?? -1);

  // Tasks in detail: the first ones, and every marked one (up to a quarter more).
  const detail: RawTask[] = [];
  let extra = 0;
  for (let i = 0; i < c.tasks.length; i++) {
    const t = c.tasks[i]!;
    if (i < L.detailTasks) detail.push(t);
    else if (t.lanes === null && t.steps.length > 0) {
      detail.push(t);
      extra++;
    }
  }
  if (detail.length < c.tasks.length) {
    limits.push(`paths of ${detail.length} of ${c.tasks.length} tasks kept (the first ${Math.min(L.detailTasks, c.tasks.length)} and ${extra} marked ones); the rest are in the aggregates`);
  }
  // Rows in the page's task table, in this order (segments point at the task that sent them).
  const row = new Map<RawTask, number>();
  detail.forEach((t, i) => row.set(t, i));

  // TCP: connections, directions, piggybacked ACKs (marked on the frames and their tasks).
  const byConn = new Map<string, { frames: RawFrame[]; ends: [string, string] }>();
  for (const f of c.frames) {
    if (f.tcp === null) continue;
    const k = connKey(f.tcp);
    let e = byConn.get(k.key);
    if (e === undefined) {
      e = { frames: [], ends: [k.from, k.to] };
      byConn.set(k.key, e);
    }
    e.frames.push(f);
  }
  const ranked = [...byConn.values()].sort((a, b) => b.frames.length - a.frames.length);
  if (ranked.length > L.conns) limits.push(`TCP graphs for the ${L.conns} busiest of ${ranked.length} connections`);
  const kept = ranked.slice(0, L.conns).sort((a, b) => a.frames[0]!.t - b.frames[0]!.t);
  const connIndex = new Map<RawFrame, number>();
  const conns: ConnData[] = kept.map((e, ci) => {
    for (const f of e.frames) connIndex.set(f, ci);
    const [a, b] = e.ends;
    const state = (from: string, to: string): { samples: RawSample[] | null; host: string | null } => {
      const tx = e.frames.find((f) => f.dir === 1 && `${formatIp4(f.tcp!.src)}:${f.tcp!.srcPort}` === from);
      if (tx === undefined) return { samples: null, host: null };
      return { samples: c.samples[tx.host]!.get(`${from}>${to}`) ?? null, host: c.hosts[tx.host]! };
    };
    const sa = state(a, b);
    const sb = state(b, a);
    const dirs: [DirData, DirData] = [
      direction(e.frames, a, b, sa.samples, sa.host, L.pointsPerDirection, row),
      direction(e.frames, b, a, sb.samples, sb.host, L.pointsPerDirection, row),
    ];
    if (dirs[0].truncated || dirs[1].truncated) limits.push(`connection ${a} ${b}: the first ${L.pointsPerDirection} points per direction`);
    return { name: `${a} ⇄ ${b}`, dirs };
  });
  for (const f of c.frames) if (f.task !== null && f.piggyback) f.task.flags |= TASK_FLAG.piggyback;

  // Aggregates over every task.
  const bins = L.bins;
  const span = t1 > t0 ? t1 - t0 : 1;
  const agg: Aggregates = {
    bins,
    t0,
    t1,
    lane: new Array<number>(order.length * bins).fill(0),
    tasks: new Array<number>(bins).fill(0),
    deferral: new Array<number>(bins).fill(0),
    cleanup: new Array<number>(bins).fill(0),
    drop: new Array<number>(bins).fill(0),
    expended: new Array<number>(bins).fill(0),
    piggyback: new Array<number>(bins).fill(0),
  };
  const seenLane = new Int32Array(order.length).fill(-1);
  c.tasks.forEach((t, ti) => {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(((t.start - t0) / span) * bins)));
    agg.tasks[b]!++;
    const visit = (lane: number): void => {
      const l = remap[lane]!;
      if (l >= 0 && seenLane[l] !== ti) {
        seenLane[l] = ti;
        agg.lane[l * bins + b]!++;
      }
    };
    if (t.lanes !== null) for (const lane of t.lanes) visit(lane);
    else for (const s of t.steps) visit(s[0]);
    if (t.flags & TASK_FLAG.deferral) agg.deferral[b]!++;
    if (t.flags & TASK_FLAG.cleanup) agg.cleanup[b]!++;
    if (t.flags & TASK_FLAG.drop) agg.drop[b]!++;
    if (t.flags & TASK_FLAG.expended) agg.expended[b]!++;
    if (t.flags & TASK_FLAG.piggyback) agg.piggyback[b]!++;
  });

  const tasks: ReportData['tasks'] = { total: c.tasks.length, id: [], host: [], start: [], end: [], source: [], flags: [], reason: [], stepStart: [] };
  const steps: ReportData['steps'] = { lane: [], kind: [], text: [], from: [], at: [] };
  for (const t of detail) {
    tasks.id.push(t.id);
    tasks.host.push(t.host);
    tasks.start.push(r3(t.start));
    tasks.end.push(r3(t.end));
    tasks.source.push(strings.id(t.source));
    tasks.flags.push(t.flags);
    tasks.reason.push(strings.id(t.reason));
    tasks.stepStart.push(steps.lane.length);
    for (const [lane, kind, text, from, at] of t.steps) {
      steps.lane.push(remap[lane]!);
      steps.kind.push(kind);
      steps.text.push((kind === STEP.note || kind === STEP.drop || kind === STEP.cleanup) && strings.list.length >= MAX_STRINGS ? -1 : strings.id(text));
      steps.from.push(from < 0 ? -1 : remap[from]!);
      // Relative to the task's start: mostly 0 on a simulated clock, and short.
      steps.at.push(r3(at - t.start));
    }
  }
  tasks.stepStart.push(steps.lane.length);

  // Frames: those whose text was kept (the first ones).
  const frames: ReportData['frames'] = { total: c.frames.length, t: [], host: [], dir: [], task: [], size: [], flags: [], conn: [], text: [] };
  for (const f of c.frames) {
    if (f.lines === null) continue;
    frames.t.push(r3(f.t));
    frames.host.push(f.host);
    frames.dir.push(f.dir);
    frames.task.push(f.task === null ? -1 : (row.get(f.task) ?? -1));
    frames.size.push(f.size);
    frames.flags.push(f.piggyback ? SEG_FLAG.piggyback : 0);
    frames.conn.push(connIndex.get(f) ?? -1);
    frames.text.push(f.lines.join('\n'));
  }
  if (frames.t.length < c.frames.length) limits.push(`decoded text of the first ${frames.t.length} of ${c.frames.length} frames`);

  const transcript = info.transcript ?? '';
  if (transcript.length > MAX_TRANSCRIPT) limits.push(`the first ${MAX_TRANSCRIPT} characters of the transcripts`);
  if (strings.list.length >= MAX_STRINGS) limits.push(`the text of the first ${MAX_STRINGS} distinct notes`);
  const summary = info.summary === undefined ? [] : Array.isArray(info.summary) ? info.summary : summaryRows(info.summary);
  return {
    format: REPORT_FORMAT,
    title: info.title,
    kind: info.kind ?? 'run',
    command: info.command ?? '',
    t0,
    t1,
    hosts: [...c.hosts],
    lanes: order,
    strings: strings.list,
    tasks,
    steps,
    frames,
    agg,
    conns,
    counters: [...c.observed.map((o) => counters(o.rt, o.tcp, o.before)), ...c.threadCounters],
    summary,
    transcript: transcript.length > MAX_TRANSCRIPT ? `${transcript.slice(0, MAX_TRANSCRIPT)}\n… (${transcript.length - MAX_TRANSCRIPT} more characters not kept)` : transcript,
    limits,
    caps:
      `paths of ${L.detailTasks} tasks (+${Math.floor(L.detailTasks / 4)} marked), decoded text of ${L.frameText} frames, ` +
      `TCP graphs of ${L.conns} connections × ${L.pointsPerDirection} points per direction, ${MAX_STRINGS} distinct notes, ` +
      `${MAX_TRANSCRIPT / 1000} k characters of transcript; every task counted in ${L.bins} time bins`,
  };
}
