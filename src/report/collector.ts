/**
 * Gathers what a report shows while a run goes on: the runtime's events of one
 * or more hosts (tasks, their paths, deferrals, cleanups, drops), the frames the
 * hosts sent and received, and TCP's own state after each task of a host that
 * runs TCP. Nothing is built unless a collector subscribed: an unobserved stack
 * pays its one `rt.observed` test per site and no more.
 *
 *     const c = new ReportCollector();
 *     const dev = c.tap(link.attach('a'), 'a', clock);   // before the host is built on it
 *     const host = createHost({ name: 'a', device: dev, ... });
 *     c.observe(host.rt, { tcp: host.tcp });
 *     ... run ...
 *     writeFileSync('run.html', renderReport(c.build({ title: 'my run' })));
 */
import type { Subscription } from 'rxjs';
import type { Clock } from '../core/clock.js';
import type { StackEvent } from '../core/events.js';
import type { Runtime } from '../core/runtime.js';
import { currentTask } from '../core/task.js';
import { DeviceWrapper, type Device } from '../layers/nic/device.js';
import type { Tcp } from '../layers/tcp/tcp.js';
import { formatIp } from '../layers/net.js';
import { decodeFrame, LINK_ETHERNET, type TcpFields } from './decode.js';
import { buildReport, type BuildInfo } from './build.js';
import type { HostCounters, ReportData } from './model.js';
import { STEP } from './model.js';

export interface ReportLimits {
  /** Tasks whose path is kept step by step (all tasks are counted in the aggregates). Default 10,000. */
  detailTasks?: number;
  /** Frames whose decoded text is kept. Default 10,000. */
  frameText?: number;
  /** TCP connections drawn (the busiest). Default 32. */
  conns?: number;
  /** Points per connection direction in the TCP graphs. Default 20,000. */
  pointsPerDirection?: number;
  /** Time bins of the aggregate timeline. Default 4,096. */
  bins?: number;
}

/** @internal one task as recorded */
export interface RawTask {
  host: number;
  id: number;
  start: number;
  end: number;
  source: string;
  flags: number;
  reason: string | null;
  /** [lane, kind, text, from, at] per step. */
  steps: Array<[number, number, string | null, number, number]>;
  /** The module the task is in now (for marks without a module of their own). */
  at: number;
  /** Position in the run's tasks. */
  index: number;
  /** Lanes visited, once the steps were let go (a task beyond the detail cap): enough for the aggregates. */
  lanes: number[] | null;
}

const NO_STEPS: RawTask['steps'] = [];

/** An entry with the client it works for, when the event names one. */
function withClient(entry: string, e: object): string {
  const client = (e as { client?: string | null }).client;
  return typeof client === 'string' ? `${entry} [${client}]` : entry;
}
/** Tasks with any of these flags are kept in detail beyond the cap (up to a quarter more). */
export const MARKED_FLAGS = 1 | 2 | 4 | 8;

/** @internal one frame as recorded */
export interface RawFrame {
  t: number;
  host: number;
  dir: 0 | 1;
  task: RawTask | null;
  size: number;
  lines: string[] | null;
  tcp: TcpFields | null;
  /** A data segment whose ACK field acknowledged new data (set by build). */
  piggyback: boolean;
}

/** @internal one sample of a connection's state at its host */
export interface RawSample {
  t: number;
  cwnd: number;
  ssthresh: number;
  flight: number;
  srtt: number;
  rto: number;
}

/** @internal */
export interface Observed {
  rt: Runtime;
  host: number;
  tcp: Tcp | null;
  sub: Subscription;
  /** Tasks the host had started before it was observed (assembling its modules). */
  before: number;
  /** Tasks of this runtime under way, by id (a thread's tasks number from 1 like the host's). */
  live: Map<number, RawTask>;
}

/** Where events come from: an observed runtime, or a thread's record being absorbed. */
type Source = Pick<Observed, 'host' | 'tcp' | 'live'>;

/**
 * What one thread of a host recorded (a layer group in a worker, see
 * ThreadRecorder): structured-clonable, sent to the thread that builds the
 * report and taken in there with `absorb`.
 */
export interface ThreadRecord {
  /** The host the thread's modules belong to: their lanes join that host's. */
  readonly host: string;
  /** The thread's name in task sources ('transport thread'). */
  readonly thread: string;
  /** performance.timeOrigin + the recording clock's zero, ms: aligns the thread's times with the reader's. */
  readonly zero: number;
  readonly events: StackEvent[];
  /** TCP state samples by connection "a:p>b:q". */
  readonly samples: Array<[string, RawSample[]]>;
  readonly counters: HostCounters;
}

/** performance.timeOrigin + `clock`'s zero, ms: the same instant reads alike in every thread. */
export function clockZero(clock: Clock): number {
  return performance.timeOrigin + performance.now() - clock.now();
}

/** Wraps a device: every frame out and in is recorded, with the task that sent or received it. */
class ReportTap extends DeviceWrapper {
  constructor(
    inner: Device,
    private readonly collector: ReportCollector,
    private readonly host: string,
    private readonly clock: Clock,
  ) {
    super(inner);
  }

  override send(frame: Uint8Array): void {
    this.collector.frame(this.host, 'tx', this.clock.now(), frame);
    this.inner.send(frame);
  }

  protected override receive(frame: Uint8Array): void {
    this.collector.frame(this.host, 'rx', this.clock.now(), frame);
    try {
      super.receive(frame);
    } finally {
      this.collector.rxDone(this.host);
    }
  }
}

export class ReportCollector {
  readonly limits: Required<ReportLimits>;
  /** @internal */ readonly hosts: string[] = [];
  /** @internal modules per host, by name, with the edges seen (for lane order) */
  readonly modules: Array<Map<string, { up: Set<string>; down: Set<string> }>> = [];
  /** @internal */ readonly tasks: RawTask[] = [];
  /** @internal */ readonly frames: RawFrame[] = [];
  /** @internal state samples by host index, then connection "a:p>b:q" */
  readonly samples: Array<Map<string, RawSample[]>> = [];
  /** @internal */ readonly observed: Observed[] = [];
  /** @internal counters of threads absorbed (their runtimes live elsewhere) */
  readonly threadCounters: HostCounters[] = [];
  private readonly live: Array<Map<number, RawTask>> = [];
  /** Per host: a received frame waiting for the task it starts. */
  private readonly pendingRx: Array<RawFrame | null> = [];
  private framesWithText = 0;
  private t0 = Infinity;
  private t1 = -Infinity;

  constructor(opts: { limits?: ReportLimits } = {}) {
    const l = opts.limits ?? {};
    this.limits = {
      detailTasks: l.detailTasks ?? 10_000,
      frameText: l.frameText ?? 10_000,
      conns: l.conns ?? 32,
      pointsPerDirection: l.pointsPerDirection ?? 20_000,
      bins: l.bins ?? 4096,
    };
  }

  /** @internal index of a host, added on first sight */
  hostIndex(name: string): number {
    let i = this.hosts.indexOf(name);
    if (i < 0) {
      i = this.hosts.length;
      this.hosts.push(name);
      this.modules.push(new Map());
      this.samples.push(new Map());
      this.live.push(new Map());
      this.pendingRx.push(null);
    }
    return i;
  }

  /** Subscribe to a host's events; with its TCP module, sample each connection's state after every task. */
  observe(rt: Runtime, opts: { tcp?: Tcp | null } = {}): this {
    // Observing again only adds the TCP module (a host assembled after its runtime was observed).
    const already = this.observed.find((x) => x.rt === rt);
    if (already !== undefined) {
      if (opts.tcp !== undefined && opts.tcp !== null) already.tcp = opts.tcp;
      return this;
    }
    const host = this.hostIndex(rt.name);
    const o: Observed = { rt, host, tcp: opts.tcp ?? null, sub: null as unknown as Subscription, before: rt.stats.tasksStarted, live: this.live[host]! };
    o.sub = rt.events.subscribe((e) => this.event(o, e));
    this.observed.push(o);
    return this;
  }

  /**
   * A device that records every frame through it for the report (wrap before
   * building the host on it). `host` is the name of the host's runtime: a sent
   * frame is matched to that runtime's current task.
   */
  tap(device: Device, host: string, clock: Clock): Device {
    this.hostIndex(host);
    return new ReportTap(device, this, host, clock);
  }

  /**
   * Record a frame. A sent frame belongs to the task sending it; a received one
   * to the next frame task the host starts (call `rxDone` after delivering it).
   * The bytes are decoded now and not kept.
   */
  frame(host: string, dir: 'rx' | 'tx', at: number, bytes: Uint8Array, linkType = LINK_ETHERNET): void {
    const h = this.hostIndex(host);
    const keepText = this.framesWithText < this.limits.frameText;
    const d = decodeFrame(bytes, linkType, keepText);
    if (keepText) this.framesWithText++;
    const f: RawFrame = { t: at, host: h, dir: dir === 'tx' ? 1 : 0, task: null, size: d.size, lines: keepText ? d.lines : null, tcp: d.tcp, piggyback: false };
    if (dir === 'tx') {
      const cur = currentTask();
      if (cur !== undefined && cur.host === host) f.task = this.live[h]!.get(cur.id) ?? null;
    } else {
      this.pendingRx[h] = f;
    }
    this.frames.push(f);
    this.seen(at);
  }

  /**
   * Take in what a thread of a host recorded (ThreadRecord), its times moved
   * onto this thread's clock (`zero`: clockZero of that clock). `crossings`
   * name the boundaries messages crossed, [module below, module above], so the
   * thread's lanes sit above or below the host's in their place.
   */
  absorb(rec: ThreadRecord, zero: number, crossings: ReadonlyArray<readonly [string, string]> = []): this {
    const h = this.hostIndex(rec.host);
    const shift = rec.zero - zero;
    const o: Source = { host: h, tcp: null, live: new Map<number, RawTask>() };
    for (const e of rec.events) {
      const moved = { ...e, at: e.at + shift } as StackEvent;
      // The thread's tasks say where they ran (their ids restart in every thread).
      this.event(o, moved.kind === 'task-start' ? { ...moved, source: `${moved.source}, ${rec.thread}` } : moved);
    }
    const byConn = this.samples[h]!;
    for (const [conn, list] of rec.samples) {
      const mine = byConn.get(conn) ?? [];
      for (const x of list) mine.push({ ...x, t: x.t + shift });
      mine.sort((a, b) => a.t - b.t);
      byConn.set(conn, mine);
    }
    for (const [below, above] of crossings) this.module(h, below).up.add(above);
    this.threadCounters.push(rec.counters);
    return this;
  }

  /** The received frame of `host` was handed up; a frame that started no task stays without one. */
  rxDone(host: string): void {
    this.pendingRx[this.hostIndex(host)] = null;
  }

  /** Stop listening to every runtime. */
  stop(): void {
    for (const o of this.observed) o.sub.unsubscribe();
  }

  /** Stop and turn what was gathered into the page's data. */
  build(info: BuildInfo): ReportData {
    this.stop();
    for (const o of this.observed) if (o.tcp !== null) this.sampleTcp(o, this.t1 === -Infinity ? 0 : this.t1);
    return buildReport(this, info, this.t0 === Infinity ? 0 : this.t0, this.t1 === -Infinity ? 0 : this.t1);
  }

  private seen(at: number): void {
    if (at < this.t0) this.t0 = at;
    if (at > this.t1) this.t1 = at;
  }

  private module(host: number, name: string): { up: Set<string>; down: Set<string> } {
    const mods = this.modules[host]!;
    let m = mods.get(name);
    if (m === undefined) {
      m = { up: new Set(), down: new Set() };
      mods.set(name, m);
    }
    return m;
  }

  private event(o: Source, e: StackEvent): void {
    const h = o.host;
    this.seen(e.at);
    if (e.task === null) return;
    const live = o.live;
    if (e.kind === 'task-start') {
      this.module(h, e.module);
      const t: RawTask = { host: h, id: e.task, start: e.at, end: e.at, source: e.source, flags: 0, reason: null, steps: [], at: 0, index: this.tasks.length, lanes: null };
      t.steps.push([this.laneKey(h, e.module), STEP.start, e.source, -1, e.at]);
      t.at = t.steps[0]![0];
      live.set(e.task, t);
      this.tasks.push(t);
      const rx = this.pendingRx[h];
      if (rx !== null && rx !== undefined && (e.source === 'frame' || e.source === 'replay')) {
        rx.task = t;
        rx.t = e.at;
        this.pendingRx[h] = null;
      }
      return;
    }
    const t = live.get(e.task);
    if (t === undefined) return;
    switch (e.kind) {
      case 'upcall': {
        this.module(h, e.from).up.add(e.module);
        const lane = this.laneKey(h, e.module);
        t.steps.push([lane, STEP.up, e.slot, this.laneKey(h, e.from), e.at]);
        t.at = lane;
        if (e.queued) t.flags |= 32;
        break;
      }
      case 'enter': {
        const lane = this.laneKey(h, e.module);
        if ((e as { query?: boolean }).query === true) {
          t.steps.push([lane, STEP.query, e.entry, e.from === null ? -1 : this.laneKey(h, e.from), e.at]);
          break;
        }
        if (e.from !== null) this.module(h, e.from).down.add(e.module);
        t.steps.push([lane, STEP.down, e.entry, e.from === null ? -1 : this.laneKey(h, e.from), e.at]);
        t.at = lane;
        break;
      }
      case 'deferral':
        t.steps.push([this.laneKey(h, e.module), STEP.deferral, withClient(e.entry, e), this.laneKey(h, e.from), e.at]);
        t.flags |= 1;
        break;
      case 'deferred-run': {
        const lane = this.laneKey(h, e.module);
        t.steps.push([lane, STEP.deferredRun, withClient(e.entry, e), -1, e.at]);
        t.at = lane;
        break;
      }
      case 'cleanup':
        t.steps.push([this.laneKey(h, e.module), STEP.cleanup, `${e.client ?? ''}${e.client !== null ? ': ' : ''}${e.reason}`, -1, e.at]);
        t.flags |= 2;
        break;
      case 'drop':
        t.steps.push([this.laneKey(h, e.module), STEP.drop, e.detail !== undefined ? `${e.reason} (${e.detail})` : e.reason, -1, e.at]);
        t.flags |= 4;
        break;
      case 'note':
        t.steps.push([this.laneKey(h, e.module), STEP.note, e.text, -1, e.at]);
        break;
      case 'task-end':
        t.end = e.at;
        if (e.outcome === 'expended') {
          t.flags |= 8;
          t.reason = e.reason ?? 'expended';
        }
        live.delete(e.task);
        if (t.index >= this.limits.detailTasks) this.release(t);
        if (o.tcp !== null) this.sampleTcp(o, e.at);
        break;
    }
  }

  private markedKept = 0;

  /** Beyond the detail cap a task keeps only the lanes it visited, unless it is marked (and marked ones are still few). */
  private release(t: RawTask): void {
    if ((t.flags & MARKED_FLAGS) !== 0 && this.markedKept < this.limits.detailTasks / 4) {
      this.markedKept++;
      return;
    }
    const lanes: number[] = [];
    for (const s of t.steps) if (!lanes.includes(s[0])) lanes.push(s[0]);
    t.lanes = lanes;
    t.steps = NO_STEPS;
  }

  /**
   * Lanes are numbered per (host, module) in order of first sight while
   * recording; build() renumbers them into display order.
   * @internal
   */
  readonly laneKeys: Array<{ host: number; module: string }> = [];
  /** Per host: module name to lane (no string built per event). */
  private readonly laneIndex: Array<Map<string, number>> = [];

  private laneKey(host: number, module: string): number {
    const byModule = (this.laneIndex[host] ??= new Map());
    let i = byModule.get(module);
    if (i === undefined) {
      i = this.laneKeys.length;
      this.laneKeys.push({ host, module });
      byModule.set(module, i);
      this.module(host, module);
    }
    return i;
  }

  private sampleTcp(o: Source, at: number): void {
    sampleConnections(o.tcp!, this.samples[o.host]!, at);
  }
}

/** @internal Each connection's cwnd, ssthresh, bytes in flight, SRTT and RTO, kept when one of them changed. */
export function sampleConnections(tcp: Tcp, byConn: Map<string, RawSample[]>, at: number): void {
  for (const c of tcp.allConnections()) {
    const key = `${formatIp(c.localIp)}:${c.localPort}>${formatIp(c.remoteIp)}:${c.remotePort}`;
    let list = byConn.get(key);
    if (list === undefined) {
      list = [];
      byConn.set(key, list);
    }
    const tm = c.timing;
    const flight = (c.sndMax - c.sndUna) >>> 0;
    const last = list[list.length - 1];
    if (
      last !== undefined &&
      last.cwnd === tm.cwnd &&
      last.ssthresh === tm.ssthresh &&
      last.flight === flight &&
      last.srtt === tm.srtt &&
      last.rto === tm.rto
    ) {
      continue;
    }
    if (last !== undefined && last.t === at) list.pop();
    list.push({ t: at, cwnd: tm.cwnd, ssthresh: tm.ssthresh, flight, srtt: tm.srtt, rto: tm.rto });
  }
}
