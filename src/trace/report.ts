/**
 * What a replay reports: per-flow records (digests of the reassembled streams,
 * counters, anomalies), the run's summary, per-frame traces, and their text
 * and JSON-lines renderings.
 *
 * `FlowRecorder` is the sink that turns the TCP observer's upcalls into flow
 * records: it hashes each direction as bytes arrive (nothing is kept) and, on
 * request, writes each direction to a file.
 *
 * Digests. `sha256` covers the bytes the capture holds, in stream order, the
 * way tshark's `-z follow,tcp,raw` reassembles them; holes are never filled
 * with invented bytes. Where the peer acknowledged data the capture lacks,
 * tshark's own output carries a "[N bytes missing in capture file]" marker;
 * for those flows the direction also gets `tshark: {bytes, sha256}` with the
 * markers spliced in, which is what to compare with tshark's output.
 */
import { createHash, type Hash } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Binding, Module } from '../core/index.js';
import { wiresharkGapMarker, type FollowDirection, type FollowGap } from '../layers/tcp/follow.js';
import type { ObservedFlow, TcpObserver, TcpObserverSlots } from '../layers/tcp/observer.js';
import { renderTranscript, type TelnetTranscript } from '../layers/telnet/transcript.js';
import { plural } from './format.js';
import { formatCaptureMs } from './time.js';

export interface GapReport {
  /** Offset in this direction's reassembled bytes where the hole is. */
  readonly at: number;
  readonly seq: number;
  readonly length: number;
  readonly reason: FollowGap['reason'];
}

export interface DirectionReport {
  /** Reassembled bytes (captured bytes only). */
  readonly bytes: number;
  readonly sha256: string;
  readonly packets: number;
  /** TCP payload bytes on the wire, repeats included. */
  readonly wireBytes: number;
  /** Segments whose bytes had all been seen already (keep-alives not included). */
  readonly retransmissions: number;
  /** Keep-alive probes (at most one byte, just behind the next expected byte). */
  readonly keepAlives: number;
  readonly outOfOrder: number;
  readonly duplicates: number;
  readonly overlaps: number;
  /** Segments entirely before where following began (capture started mid-flow). */
  readonly beforeStart: number;
  /** Bytes held out of order behind a hole that never filled, dropped at the end as tshark does. */
  readonly discardedBytes: number;
  readonly gaps: readonly GapReport[];
  /** Gaps in total (only the first ones are listed). */
  readonly gapCount: number;
  readonly fin: boolean;
  readonly rst: boolean;
  /** When tshark's follow output differs (gap markers): its length and digest. */
  readonly tshark?: { readonly bytes: number; readonly sha256: string };
  /** File the bytes were written to (--dump-streams). */
  readonly file?: string;
}

export interface FlowReport {
  readonly type: 'flow';
  /** tshark's tcp.stream number when no flow was finished early. */
  readonly stream: number;
  /** Present from 2 on: the flow came back after being finished early (memory bound). */
  readonly part?: number;
  /** Sender of the flow's first captured packet, "ip:port". */
  readonly a: string;
  readonly b: string;
  readonly aToB: DirectionReport;
  readonly bToA: DirectionReport;
  readonly packets: number;
  /** Capture time of the first and last packet (ISO 8601). */
  readonly start: string;
  readonly end: string;
  readonly durationMs: number;
  /** Why the flow record was closed. */
  readonly ended: string;
  /** Whether a handshake was seen (a SYN from a). */
  readonly handshake: boolean;
  readonly anomalies: readonly string[];
}

export interface DropCounts {
  readonly [module: string]: { readonly [reason: string]: number };
}

export interface ReplaySummary {
  readonly type: 'summary';
  readonly file: string | null;
  readonly format: string | null;
  readonly frames: number;
  /** Captured bytes of all frames. */
  readonly bytes: number;
  /** Capture bytes read from the source (file size when read to the end). */
  readonly fileBytes: number;
  readonly firstFrame: string | null;
  readonly lastFrame: string | null;
  readonly captureSpanMs: number;
  readonly elapsedMs: number;
  readonly framesPerSecond: number;
  readonly megabytesPerSecond: number;
  readonly flows: number;
  readonly telnetSessions: number;
  readonly segments: number;
  readonly drops: DropCounts;
  readonly dropTotal: number;
  readonly maxLiveFlows: number;
  /** IPv4 datagrams promiscuous IP took at their captured length (see Ip): cut by the snaplen, longer than their frame, length 0 (offload). */
  readonly repaired: { readonly snaplenCut: number; readonly shortFrames: number; readonly offloadLength: number; readonly bigTcp: number; readonly jumbograms: number };
  /** Packets of flows already finished (stragglers after a close), counted and not followed. */
  readonly afterFlowEnd: number;
  readonly heapUsedMb: number;
  readonly error?: string;
}

/** One frame's (or timer's) task through the stack, for --trace. */
export interface FrameTrace {
  readonly type: 'frame' | 'task';
  /** Position in the capture, for a frame. */
  readonly frame?: number;
  readonly task: number;
  readonly source: string;
  /** Capture time, ms since the first frame. */
  readonly atMs: number;
  /** Modules the task entered, in order of first entry. */
  readonly path: readonly string[];
  /** Decisions: each module's notes and drops, in order. */
  readonly steps: ReadonlyArray<{ readonly module: string; readonly text: string }>;
  readonly outcome: 'ok' | 'expended';
  readonly reason?: string;
}

const MAX_LISTED_GAPS = 64;
const DUMP_CHUNK = 64 * 1024;

class DirectionSink {
  readonly hash: Hash = createHash('sha256');
  /** Forked at the first gap that tshark marks: from then on also hashes the markers. */
  tshark: Hash | null = null;
  tsharkBytes = 0;
  bytes = 0;
  readonly gaps: GapReport[] = [];
  gapCount = 0;
  private pending: Uint8Array | null = null;
  private used = 0;

  constructor(readonly file: string | undefined) {
    if (file !== undefined) writeFileSync(file, '');
  }

  data(d: Uint8Array): void {
    this.hash.update(d);
    this.bytes += d.length;
    if (this.tshark !== null) {
      this.tshark.update(d);
      this.tsharkBytes += d.length;
    }
    if (this.file !== undefined) this.dump(d);
  }

  gap(g: FollowGap): void {
    this.gapCount++;
    if (this.gaps.length < MAX_LISTED_GAPS) this.gaps.push({ at: g.at, seq: g.seq, length: g.length, reason: g.reason });
    const marker = wiresharkGapMarker(g);
    if (marker.length > 0) {
      if (this.tshark === null) {
        this.tshark = this.hash.copy();
        this.tsharkBytes = this.bytes;
      }
      this.tshark.update(marker);
      this.tsharkBytes += marker.length;
    }
  }

  private dump(d: Uint8Array): void {
    if (this.used + d.length > DUMP_CHUNK) this.flush();
    if (d.length >= DUMP_CHUNK) {
      appendFileSync(this.file!, d);
      return;
    }
    const buf = (this.pending ??= new Uint8Array(DUMP_CHUNK));
    buf.set(d, this.used);
    this.used += d.length;
  }

  flush(): void {
    if (this.pending !== null && this.used > 0) appendFileSync(this.file!, this.pending.subarray(0, this.used));
    this.used = 0;
  }
}

interface FlowSinks {
  readonly dirs: [DirectionSink, DirectionSink];
}

export interface FlowRecorderOptions {
  /** Write each direction's bytes to a file in this directory. */
  readonly dumpDir?: string;
  /** Capture time (ms since the Unix epoch) for a time of the runtime's clock. */
  readonly wallTime: (clockMs: number) => number;
  readonly onReport: (r: FlowReport) => void;
}

/** File name of one direction of a flow: "tcp-0-192.168.0.2_1254-to-192.168.0.1_23.bin". */
export function streamFileName(flow: { id: number; part: number; a: string; b: string }, dir: FollowDirection): string {
  const ep = (s: string): string => s.replace(/:(\d+)$/, '_$1');
  const [from, to] = dir === 0 ? [flow.a, flow.b] : [flow.b, flow.a];
  return `tcp-${flow.id}${flow.part > 1 ? `.${flow.part}` : ''}-${ep(from)}-to-${ep(to)}.bin`;
}

/** The digest sink: binds every flow of the observer and reports each one when it ends. */
export class FlowRecorder {
  readonly binding: Binding<TcpObserverSlots>;
  private readonly sinks = new Map<ObservedFlow, FlowSinks>();
  /** The flow of the latest bytes: consecutive upcalls are mostly for the same flow. */
  private lastFlow: ObservedFlow | null = null;
  private lastSinks: FlowSinks | undefined = undefined;
  flowsReported = 0;

  constructor(
    observer: TcpObserver,
    owner: Module,
    private readonly opts: FlowRecorderOptions,
  ) {
    this.binding = observer.observe(owner, {
      onFlowStart: (flow) => this.start(flow),
      onBytes: (flow, dir, data) => this.sinksOf(flow)?.dirs[dir].data(data),
      onGap: (flow, dir, gap) => this.sinksOf(flow)?.dirs[dir].gap(gap),
      onFlowEnd: (flow) => this.end(flow),
    });
  }

  private sinksOf(flow: ObservedFlow): FlowSinks | undefined {
    if (flow !== this.lastFlow) {
      this.lastFlow = flow;
      this.lastSinks = this.sinks.get(flow);
    }
    return this.lastSinks;
  }

  private start(flow: ObservedFlow): void {
    const dir = this.opts.dumpDir;
    const file = (d: FollowDirection): string | undefined => (dir === undefined ? undefined : path.join(dir, streamFileName(flow, d)));
    this.sinks.set(flow, { dirs: [new DirectionSink(file(0)), new DirectionSink(file(1))] });
  }

  private end(flow: ObservedFlow): void {
    const s = this.sinks.get(flow);
    if (s === undefined) return;
    this.sinks.delete(flow);
    if (this.lastFlow === flow) {
      this.lastFlow = null;
      this.lastSinks = undefined;
    }
    s.dirs[0].flush();
    s.dirs[1].flush();
    this.flowsReported++;
    this.opts.onReport(flowReport(flow, s.dirs, this.opts.wallTime));
  }
}

function directionReport(flow: ObservedFlow, dir: FollowDirection, sink: DirectionSink): DirectionReport {
  const st = flow.stats(dir);
  return {
    bytes: sink.bytes,
    sha256: sink.hash.digest('hex'),
    packets: flow.packets[dir],
    wireBytes: flow.wireBytes[dir],
    retransmissions: st.retransmissions - flow.keepAliveRetransmissions[dir],
    keepAlives: flow.keepAlives[dir],
    outOfOrder: st.outOfOrder,
    duplicates: st.duplicates,
    overlaps: st.overlaps,
    beforeStart: st.beforeStart,
    discardedBytes: st.discardedBytes,
    gaps: sink.gaps,
    gapCount: sink.gapCount,
    fin: st.fin,
    rst: st.rst,
    ...(sink.tshark !== null ? { tshark: { bytes: sink.tsharkBytes, sha256: sink.tshark.digest('hex') } } : {}),
    ...(sink.file !== undefined ? { file: sink.file } : {}),
  };
}

function flowReport(flow: ObservedFlow, sinks: [DirectionSink, DirectionSink], wallTime: (ms: number) => number): FlowReport {
  const aToB = directionReport(flow, 0, sinks[0]);
  const bToA = directionReport(flow, 1, sinks[1]);
  const anomalies: string[] = [];
  if (!flow.syn[0] && !flow.syn[1]) anomalies.push('no handshake seen: the capture began mid-flow');
  else if (!flow.syn[0]) anomalies.push('no SYN from a: the capture missed the start of the flow');
  for (const [name, d] of [['a->b', aToB], ['b->a', bToA]] as const) {
    if (d.retransmissions > 0) anomalies.push(`${name}: ${plural(d.retransmissions, 'retransmitted segment')}`);
    if (d.overlaps > 0) anomalies.push(`${name}: ${plural(d.overlaps, 'segment')} overlapping bytes already seen`);
    if (d.outOfOrder > 0) anomalies.push(`${name}: ${plural(d.outOfOrder, 'segment')} out of order`);
    if (d.duplicates > 0) anomalies.push(`${name}: ${plural(d.duplicates, 'duplicate segment')}`);
    if (d.beforeStart > 0) anomalies.push(`${name}: ${plural(d.beforeStart, 'segment')} from before the capture began`);
    for (const g of d.gaps) anomalies.push(`${name}: ${g.length} bytes missing at offset ${g.at} (${g.reason})`);
    if (d.gapCount > d.gaps.length) anomalies.push(`${name}: ${plural(d.gapCount - d.gaps.length, 'more gap')}`);
    if (d.discardedBytes > 0) anomalies.push(`${name}: ${d.discardedBytes} bytes behind a hole that never filled, not in the stream`);
    if (d.rst) anomalies.push(`${name}: reset (RST)`);
  }
  if (flow.damaged !== undefined) anomalies.push(`observer failure: ${flow.damaged}`);
  if (flow.endReason === 'flow-limit' || flow.endReason === 'memory-limit' || flow.endReason === 'idle') {
    anomalies.push(`finished early (${flow.endReason}): later packets form a further part of this stream`);
  }
  const iso = (ms: number): string => formatCaptureMs(wallTime(ms));
  return {
    type: 'flow',
    stream: flow.id,
    ...(flow.part > 1 ? { part: flow.part } : {}),
    a: flow.a,
    b: flow.b,
    aToB,
    bToA,
    packets: flow.packets[0] + flow.packets[1],
    start: iso(flow.firstAt),
    end: iso(flow.lastAt),
    durationMs: round3(flow.lastAt - flow.firstAt),
    ended: endedText(flow),
    handshake: flow.syn[0],
    anomalies,
  };
}

function endedText(flow: ObservedFlow): string {
  const s0 = flow.stats(0);
  const s1 = flow.stats(1);
  const how = s0.rst || s1.rst ? 'reset' : s0.fin && s1.fin ? 'closed' : s0.fin || s1.fin ? 'half-closed' : 'open';
  // A flow that closed is reported as such, whether its linger ran out or the capture did first.
  return flow.endReason === 'closed' ? how : `${how} (${flow.endReason ?? 'live'})`;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

// ---------------------------------------------------------------------------
// Renderings: the ones that need no stack live in format.ts (the CLI's main
// thread under --jobs loads only those).

export { formatFlow, formatFrameTrace, formatSummary, jsonLine, transcriptRecord } from './format.js';

export function formatTranscript(t: TelnetTranscript): string {
  return renderTranscript(t);
}
