/**
 * Replaying a capture through the stack's own layers.
 *
 * The replay stack is the live stack's receive path in passive mode:
 *
 *     CaptureLink --frame--> Ip   (promiscuous) --packet--> TcpObserver --bytes--> TelnetTranscriber
 *       (task per record) \-> Ipv6 (promiscuous) --packet-/  (both ends of        (port 23, --telnet-port)
 *                             (no checksum check)             every flow)    \--> FlowRecorder (digests)
 *
 * IPv4 and IPv6 flows go through one observer, so their stream numbers come
 * from one sequence, as tshark's tcp.stream does.
 *
 * Each captured frame is one task that starts at the capture link and climbs
 * by upcalls, exactly as a frame from a NIC does. The runtime's virtual clock
 * follows the frames' timestamps (ms since the first frame), so timers (IP
 * reassembly, the observer's sweep of closed flows) run on capture time; pacing
 * (`speed`) only decides how fast frames are fed, never what the stack decides.
 *
 * Memory: records are streamed from the file and not kept; flows are freed when
 * they end (see TcpObserver), transcripts and digests are emitted then.
 */
import type { Subscription } from 'rxjs';
import { Runtime, VirtualClock, type StackEvent } from '../core/index.js';
import { BufferPool } from '../wire/buffer.js';
import { Ip } from '../layers/ip.js';
import { attachIpv6 } from '../layers/ipv6/index.js';
import type { Ipv6 } from '../layers/ipv6/ipv6.js';
import { describeLinkType } from '../layers/nic/capture-link.js';
import { frameShare, shareOf, type Share } from './shard.js';
import { CaptureLink, type CapturedFrame } from '../layers/nic/capture-link.js';
import { TcpObserver, type TcpObserverOptions } from '../layers/tcp/observer.js';
import { TelnetTranscriber, type TelnetTranscript } from '../layers/telnet/transcript.js';
import { CaptureFormatError, RecordColumns } from './capture.js';
import { openCaptureBatches, type CaptureFormat, type CaptureSource } from './open.js';
import { captureTimeNs, formatCaptureNs } from './time.js';
import { FlowRecorder, type DropCounts, type FlowReport, type FrameTrace, type ReplaySummary } from './report.js';

export interface ReplayStackOptions {
  /** Ports decoded as Telnet besides 23. */
  readonly telnetPorts?: Iterable<number>;
  /** Decode Telnet flows into transcripts (default true). */
  readonly transcripts?: boolean;
  /** Lines per transcript chunk (default 2000; a long session comes in several). */
  readonly transcriptChunkEntries?: number;
  readonly observer?: TcpObserverOptions;
  /** Runtime name (events, logs). Default 'replay'. */
  readonly name?: string;
  /** Each flow's record, when it ends. */
  readonly onFlow?: (r: FlowReport) => void;
  /** Write each direction's reassembled bytes to a file in this directory. */
  readonly dumpStreams?: string;
  /** Follow only this share of the flows (a worker of `replay --jobs`; see shard.ts). */
  readonly share?: Share;
}

/**
 * Capture time: the runtime's clock reads ms since the first frame; this maps
 * it back to wall time.
 */
export class CaptureTime {
  /** Capture time of the first frame, in ns since the Unix epoch (set by the first record). */
  epochNs: bigint | undefined = undefined;
  /** The same in ms, as a double (sub-microsecond precision is plenty for the clock). */
  epochMs = 0;

  /** Wall-clock time (ms since the Unix epoch) of a time on the runtime's clock; NaN before the first frame. */
  wallTime(clockMs: number): number {
    const e = this.epochNs;
    return e === undefined ? NaN : Number(e / 1_000_000n) + Number(e % 1_000_000n) / 1e6 + clockMs;
  }
}

/** The modules of a replay, assembled. Feed it records; finish it at the end. */
export class ReplayStack {
  /** Capture time of the latest frame, ms since the first. */
  lastMs = 0;
  private finished = false;

  constructor(
    readonly rt: Runtime,
    readonly clock: VirtualClock,
    readonly time: CaptureTime,
    readonly pool: BufferPool,
    readonly link: CaptureLink,
    readonly ip: Ip,
    readonly ipv6: Ipv6,
    readonly tcp: TcpObserver,
    /** The digest sink, bound to the observer before anything else so it sees every byte first. */
    readonly recorder: FlowRecorder,
    readonly telnet: TelnetTranscriber | null,
    /** The share of flows this stack follows (replay --jobs), if only one. */
    readonly share?: Share,
  ) {}

  /** Capture time of the first frame, in ns since the Unix epoch. */
  get epochNs(): bigint | undefined {
    return this.time.epochNs;
  }

  /** Flows reported so far. */
  get flows(): number {
    return this.recorder.flowsReported;
  }

  /** Wall-clock time (ms since the Unix epoch) of a time on the runtime's clock. */
  wallTime(clockMs: number): number {
    return this.time.wallTime(clockMs);
  }

  /** Replays one record: the clock moves to its time (running what fell due), then its task climbs the stack. */
  feed(rec: CapturedFrame & { readonly timeNs?: number }): void {
    if (this.finished) throw new Error('ReplayStack.feed() after finish()');
    // The record's double when its reader gives one (the same value, without converting a BigInt).
    const ns = rec.timeNs ?? Number(rec.timestampNs);
    if (this.time.epochNs === undefined) this.startAt(rec.timestampNs, ns);
    this.advance(ns);
    if (this.othersFrame(rec.linkType, rec.data, 0, rec.data.length)) this.link.pass(rec);
    else this.link.input(rec);
  }

  /**
   * `feed` for a record known by its numbers (a reader's RecordColumns): its
   * bytes at `bytes[start, start + capturedLength)`, its time as seconds and
   * ns within the second. The same clock, the same share, the same task.
   */
  feedAt(bytes: Uint8Array, index: number, sec: number, fracNs: number, linkType: number, start: number, capturedLength: number, originalLength: number): void {
    if (this.finished) throw new Error('ReplayStack.feedAt() after finish()');
    // As a pcap reader's timeNs: sec * 1e9 is exact, the sum correctly rounded.
    const ns = sec * 1e9 + fracNs;
    if (this.time.epochNs === undefined) this.startAt(captureTimeNs(sec, fracNs), ns);
    this.advance(ns);
    if (this.othersFrame(linkType, bytes, start, start + capturedLength)) this.link.passOver(index, sec, fracNs, linkType, capturedLength, originalLength);
    else this.link.inputAt(bytes, start, index, sec, fracNs, linkType, capturedLength, originalLength);
  }

  /** The first frame's time is the epoch: the clock's 0. */
  private startAt(exactNs: bigint, ns: number): void {
    this.time.epochNs = exactNs;
    this.time.epochMs = ns / 1e6;
  }

  /** The clock to a frame's time (ns since the Unix epoch, a double), running what fell due. */
  private advance(ns: number): void {
    // A double subtraction, not a BigInt one: no allocation per frame.
    const ms = ns / 1e6 - this.time.epochMs;
    const clock = this.clock;
    // Frames out of time order (several interfaces, a clock step) do not move the clock back.
    if (ms > clock.now()) clock.advanceTo(ms);
    this.lastMs = ms;
  }

  /**
   * Whether the frame at `bytes[start, end)` is another share's: no task for it
   * here (the capture link's `accept` decides the frames this look cannot).
   */
  private othersFrame(linkType: number, bytes: Uint8Array, start: number, end: number): boolean {
    const share = this.share;
    if (share === undefined) return false;
    const s = frameShare(linkType, bytes, start, end, share.count);
    return s >= 0 && s !== share.index;
  }

  /** End of the capture: every live flow ends and is reported. Idempotent. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.tcp.finishAll();
    this.link.close();
  }

  /** Drops by module and reason, only modules that dropped something. */
  drops(): DropCounts {
    const out: Record<string, Record<string, number>> = {};
    for (const m of this.rt.allModules()) {
      if (m.stats.drops === 0) continue;
      out[m.name] = Object.fromEntries(m.stats.dropReasons);
    }
    return out;
  }

  dropTotal(): number {
    let n = 0;
    for (const m of this.rt.allModules()) n += m.stats.drops;
    return n;
  }
}

/** Builds the replay stack: capture link, promiscuous IP, TCP observer, Telnet transcriber. */
export function createReplayStack(opts: ReplayStackOptions = {}): ReplayStack {
  const clock = new VirtualClock(0);
  const rt = new Runtime({ name: opts.name ?? 'replay', clock });
  const pool = new BufferPool();
  const share = opts.share;
  const link = new CaptureLink(rt, pool, share !== undefined ? { accept: (b, start, end) => shareOf(b, start, end, share.count) === share.index } : {});
  const ip = new Ip(rt, link, null, pool, {
    address: 0,
    prefixLength: 0,
    promiscuous: true,
    // Captures are full of checksums left to offload; Wireshark does not check them by default either.
    verifyChecksum: false,
    // Reassembly for every host at once, not one host's share.
    reassemblyMaxBytes: 16 * 1024 * 1024,
    reassemblyMaxDatagrams: 4096,
  });
  const { ipv6 } = attachIpv6(rt, link, pool, link.mac, {
    promiscuous: true,
    reassemblyMaxBytes: 16 * 1024 * 1024,
    reassemblyMaxDatagrams: 4096,
  });
  const tcp = new TcpObserver(rt, [ip, ipv6], opts.observer ?? {});
  const time = new CaptureTime();
  const onFlow = opts.onFlow;
  const recorder = new FlowRecorder(tcp, rt.app('report'), {
    ...(opts.dumpStreams !== undefined ? { dumpDir: opts.dumpStreams } : {}),
    wallTime: (ms) => time.wallTime(ms),
    onReport: (r) => onFlow?.(r),
  });
  const telnet =
    opts.transcripts === false
      ? null
      : new TelnetTranscriber(rt, tcp, {
          ...(opts.telnetPorts !== undefined ? { ports: opts.telnetPorts } : {}),
          ...(opts.transcriptChunkEntries !== undefined ? { chunkEntries: opts.transcriptChunkEntries } : {}),
        });
  return new ReplayStack(rt, clock, time, pool, link, ip, ipv6, tcp, recorder, telnet, opts.share);
}

// ---------------------------------------------------------------------------
// --trace: each task's path and decisions, from the runtime's events.

interface TaskTrace {
  frame: number | undefined;
  source: string;
  atMs: number;
  readonly path: string[];
  readonly steps: Array<{ module: string; text: string }>;
}

/** Subscribes to a stack's events and emits one FrameTrace per task when it ends. */
export class FrameTracer {
  private readonly live = new Map<number, TaskTrace>();
  private readonly sub: Subscription;

  constructor(
    private readonly stack: ReplayStack,
    private readonly emit: (t: FrameTrace) => void,
    /** Report tasks other than frames (timers) only when they decided something. Default true. */
    private readonly quietTimers = true,
  ) {
    this.sub = stack.rt.events.subscribe((e) => this.event(e));
  }

  stop(): void {
    this.sub.unsubscribe();
  }

  private event(e: StackEvent): void {
    if (e.task === null) return;
    if (e.kind === 'task-start') {
      const isFrame = e.source === 'replay' && e.module === this.stack.link.name;
      this.live.set(e.task, {
        frame: isFrame ? this.stack.link.current.index : undefined,
        source: e.source,
        atMs: e.at,
        path: [e.module],
        steps: [],
      });
      return;
    }
    const t = this.live.get(e.task);
    if (t === undefined) return;
    switch (e.kind) {
      case 'upcall':
      case 'enter':
        if (!t.path.includes(e.module)) t.path.push(e.module);
        break;
      case 'note':
        t.steps.push({ module: e.module, text: e.text });
        break;
      case 'drop':
        t.steps.push({ module: e.module, text: `dropped: ${e.reason}${e.detail !== undefined ? ` (${e.detail})` : ''}` });
        break;
      case 'cleanup':
        t.steps.push({ module: e.module, text: `cleanup${e.client !== null ? ` [${e.client}]` : ''}: ${e.reason}` });
        break;
      case 'deferral':
        t.steps.push({ module: e.module, text: `${e.entry} deferred (called from ${e.from})` });
        break;
      case 'task-end': {
        this.live.delete(e.task);
        if (t.frame === undefined && this.quietTimers && t.steps.length === 0 && e.outcome === 'ok') return;
        this.emit({
          type: t.frame !== undefined ? 'frame' : 'task',
          ...(t.frame !== undefined ? { frame: t.frame } : {}),
          task: e.task,
          source: t.source,
          atMs: t.atMs,
          path: t.path,
          steps: t.steps,
          outcome: e.outcome,
          ...(e.reason !== undefined ? { reason: e.reason } : {}),
        });
        break;
      }
      default:
        break;
    }
  }
}

// ---------------------------------------------------------------------------
// Running a whole capture

export interface ReplayProgress {
  readonly bytesRead: number;
  readonly totalBytes: number | undefined;
  readonly frames: number;
}

export interface ReplayOptions extends ReplayStackOptions {
  /** Each Telnet flow's transcript, when it ends (a long one also in chunks before). */
  readonly onTranscript?: (t: TelnetTranscript) => void;
  /** Each frame's task path and decisions; setting it turns tracing on. */
  readonly onTrace?: (t: FrameTrace) => void;
  /** Pace on the frames' timestamps: 1 = as captured, 2 = twice as fast. Default: as fast as possible. */
  readonly speed?: number;
  /** Called per chunk read (about every 256 KiB). */
  readonly onProgress?: (p: ReplayProgress) => void;
  readonly signal?: AbortSignal;
  /** Name for the summary (default: the path when the source is one). */
  readonly fileName?: string;
  /** The stack, once built (a report observes its runtime). */
  readonly onStack?: (stack: ReplayStack) => void;
  /** Each record just before it is replayed (its bytes are valid during the call only). */
  readonly onRecord?: (rec: CapturedFrame) => void;
}

export interface ReplayResult {
  readonly summary: ReplaySummary;
  /** Set when the capture turned out damaged after some frames were replayed; what came before was reported. */
  readonly error?: CaptureFormatError;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Replays a pcap or pcapng capture from a path, a stream or an async iterable
 * of chunks. Throws CaptureOpenError (no such file) and CaptureFormatError when
 * the source is no capture at all (nothing replayed); damage found later ends
 * the replay with what was read so far reported, and the error in the result.
 */
export async function replayCapture(source: CaptureSource, opts: ReplayOptions = {}): Promise<ReplayResult> {
  const stack = createReplayStack(opts);
  opts.onStack?.(stack);
  const onRecord = opts.onRecord;
  if (stack.telnet !== null && opts.onTranscript !== undefined) {
    const onTranscript = opts.onTranscript;
    stack.telnet.bindTranscripts(stack.rt.app('report'), { onTranscript: (t) => onTranscript(t) });
  }
  const tracer = opts.onTrace !== undefined ? new FrameTracer(stack, opts.onTrace) : undefined;

  let format: CaptureFormat | null = null;
  let frames = 0;
  let bytesRead = 0;
  let lastTs: bigint | undefined;
  let error: CaptureFormatError | undefined;
  const speed = opts.speed;
  if (speed !== undefined && !(speed > 0 && Number.isFinite(speed))) throw new RangeError(`speed must be a positive number, got ${speed}`);
  const onProgress = opts.onProgress;
  const started = performance.now();
  // Records need not be made into objects when each is fed at once: the reader notes them as numbers (no record
  // object, no BigInt, no view per record). Not when each record is paced or shown.
  const columns = speed === undefined && onRecord === undefined ? new RecordColumns() : undefined;
  const batches = openCaptureBatches(source, {
    onFormat: (f) => (format = f),
    onProgress: (read, total) => {
      bytesRead = read;
      onProgress?.({ bytesRead: read, totalBytes: total, frames });
    },
    ...(columns !== undefined ? { pcap: { columns } } : {}),
  });
  /** The last record when it came as numbers: its time as seconds and ns (lastTs is then stale). */
  let lastSec = -1;
  let lastNs = 0;
  const F = RecordColumns.FIELDS;
  try {
    // By the chunk: records are fed synchronously, one promise per chunk rather than per record.
    const signal = opts.signal;
    read: for await (const batch of batches) {
      // A reader that notes records as numbers notes every one (its batches come empty).
      if (columns !== undefined && columns.count > 0) {
        const at = columns.at;
        for (let c = 0, k = 0; c < columns.count; c++, k += F) {
          stack.feedAt(columns.bytes[c]!, at[k]!, at[k + 1]!, at[k + 2]!, at[k + 3]!, at[k + 4]!, at[k + 5]!, at[k + 6]!);
          lastSec = at[k + 1]!;
          lastNs = at[k + 2]!;
          frames++;
          if (signal?.aborted === true) break read;
        }
        columns.count = 0;
      }
      for (let i = 0; i < batch.length; i++) {
        const rec = batch[i]!;
        if (speed !== undefined) {
          const epoch = stack.epochNs ?? rec.timestampNs;
          const due = Number(rec.timestampNs - epoch) / 1e6 / speed;
          const wait = due - (performance.now() - started);
          if (wait > 1) await sleep(wait);
        }
        if (onRecord !== undefined) onRecord(rec);
        stack.feed(rec);
        lastTs = rec.timestampNs;
        lastSec = -1;
        frames++;
        if (signal?.aborted === true) break read;
      }
    }
  } catch (err) {
    if (!(err instanceof CaptureFormatError) || frames === 0) {
      tracer?.stop();
      throw err;
    }
    error = err;
  }
  if (lastSec >= 0) lastTs = captureTimeNs(lastSec, lastNs);
  stack.finish();
  tracer?.stop();
  const unreadable = unreadableCapture(stack, frames);
  if (unreadable !== undefined) throw unreadable;
  const elapsedMs = performance.now() - started;
  const c = stack.link.counters;
  const ipc = stack.ip.counters;
  const firstNs = stack.epochNs;
  const iso = (ns: bigint | undefined): string | null => (ns === undefined ? null : formatCaptureNs(ns));
  const seconds = elapsedMs / 1000;
  const summary: ReplaySummary = {
    type: 'summary',
    file: opts.fileName ?? (typeof source === 'string' ? source : null),
    format,
    frames,
    bytes: c.bytes,
    fileBytes: bytesRead,
    firstFrame: iso(firstNs),
    lastFrame: iso(lastTs),
    captureSpanMs: Math.round(stack.lastMs * 1000) / 1000,
    elapsedMs: Math.round(elapsedMs * 1000) / 1000,
    framesPerSecond: seconds > 0 ? frames / seconds : 0,
    megabytesPerSecond: seconds > 0 ? bytesRead / 1e6 / seconds : 0,
    flows: stack.flows,
    telnetSessions: stack.telnet?.counters.sessions ?? 0,
    segments: stack.tcp.counters.segments,
    drops: stack.drops(),
    dropTotal: stack.dropTotal(),
    maxLiveFlows: stack.tcp.counters.maxLiveFlows,
    repaired: { snaplenCut: ipc.snaplenCut, shortFrames: ipc.shortFrames, offloadLength: ipc.offloadLength, bigTcp: ipc.bigTcp, jumbograms: stack.ipv6.counters.jumbograms },
    afterFlowEnd: stack.tcp.counters.afterEnd,
    heapUsedMb: process.memoryUsage().heapUsed / 1024 / 1024,
    ...(error !== undefined ? { error: error.message } : {}),
  };
  return error !== undefined ? { summary, error } : { summary };
}

/**
 * A capture none of whose frames the link could decode (every one of a link
 * type it does not read: NFLOG, PKTAP...) is not a replay that found nothing:
 * it is a file this tool cannot read, said in one line naming the link type.
 */
function unreadableCapture(stack: ReplayStack, frames: number): CaptureFormatError | undefined {
  const u = stack.link.counters.unreadable;
  let n = 0;
  for (const k of u.values()) n += k;
  if (frames === 0 || n < frames) return undefined;
  const types = [...u.keys()].map((t) => describeLinkType(t)).join(', ');
  return new CaptureFormatError(`cannot replay ${types}: no frame of this capture could be read (${frames} frames)`, 0);
}
