/**
 * `replay --jobs N`: one capture replayed by N threads, with the results of
 * one.
 *
 * Each share (shard.ts) runs the ordinary replay stack on the whole file: it
 * reads and times every frame, so its clock and timers are the single
 * stack's, and follows only the flows of its share. Shares 1..N-1 run in
 * worker threads; share 0 runs in this thread, started after the workers (they
 * boot while it loads the stack), so N shares cost N-1 thread start-ups, not N,
 * and share 0's records cross no thread. What a thread start-up saves is small
 * (a worker's bootstrap, some 50 ms of CPU): loading the stack and its optimising
 * compilation are paid by every thread that runs a share, this one included,
 * as is reading and passing over the whole file (about 0.5 s of CPU per share
 * for 1M frames). Share 0 reports through the same messages as a worker. What
 * the shares report is put back together here once all are done:
 *
 *  - stream numbers: each share numbers its flows in order of appearance;
 *    every flow's first frame is reported too, and the global number of a
 *    flow is its rank among all flows' first frames, which is how one stack
 *    (and tshark) numbers them;
 *  - the summary: frame and link counts from share 0 (every share reads every
 *    frame), the rest summed (every datagram is followed by one share), and the
 *    most flows live at once from the shares' flow starts and ends merged in
 *    frame order (a flow counts while open: the number of closed flows
 *    waiting out their linger is a per-stack memory bound, not a property of
 *    the capture);
 *  - flow records and Telnet transcripts, with their numbers rewritten, in
 *    stream order once every share is done (a single stack emits them as
 *    flows end: the order differs, the records do not). With `render`, the
 *    shares write the records' text themselves (in parallel, and a string
 *    crosses from a worker far cheaper than a record's structured clone);
 *    here only the stream number is put in (see RenderedRecord).
 *
 * The worker side lives in this module too (it runs when the module is loaded
 * as a worker with `workerData.replayShard`), so the built package needs no
 * second entry point.
 */
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { currentTask } from '../core/task.js';
import type { CaptureLink } from '../layers/nic/capture-link.js';
import type { TelnetTranscript } from '../layers/telnet/transcript.js';
import { CaptureFormatError } from './capture.js';
import { CaptureOpenError } from './open.js';
// The stack is loaded when a share runs (runShard): this thread starts the workers before it loads it.
import type { ReplayOptions, ReplayResult } from './replay.js';
import type { DropCounts, FlowReport, ReplaySummary } from './report.js';

/** What a parallel replay takes: the options that make sense per share (no tracing, pacing or stream dumps). */
export interface ParallelReplayOptions {
  readonly jobs?: number;
  readonly telnetPorts?: readonly number[];
  readonly transcripts?: boolean;
  readonly transcriptChunkEntries?: number;
  readonly observer?: ReplayOptions['observer'];
  readonly onFlow?: (r: FlowReport) => void;
  readonly onTranscript?: (t: TelnetTranscript) => void;
  /**
   * The records as text instead: each flow record and transcript rendered as
   * `replay` prints them (`jsonLine` of the record or of `transcriptRecord`;
   * `formatFlow`, `formatTranscript`), in the same order, to `onText`;
   * onFlow and onTranscript are then not called.
   */
  readonly render?: RenderFormat;
  readonly onText?: (text: string, kind: 'flow' | 'telnet') => void;
}

export type RenderFormat = 'json' | 'text';

/**
 * A record rendered by a share, without its stream number (only the merge
 * knows the global one): the text is `HEADS[format][kind]`, the number, then
 * `tail`. Every rendering starts with its stream number after a fixed head;
 * the share checks that it does.
 */
interface RenderedRecord {
  readonly kind: 'flow' | 'telnet';
  /** The share's stream number, its part, and (a transcript) its chunk: the order. */
  readonly id: number;
  readonly part: number;
  readonly chunk: number;
  readonly tail: string;
}

const HEADS: Record<RenderFormat, Record<RenderedRecord['kind'], string>> = {
  json: { flow: '{"type":"flow","stream":', telnet: '{"type":"telnet","stream":' },
  text: { flow: 'TCP stream ', telnet: 'Telnet session, stream ' },
};

function renderRecord(format: RenderFormat, kind: RenderedRecord['kind'], id: number, part: number, chunk: number, text: string): RenderedRecord {
  const head = HEADS[format][kind] + String(id);
  if (!text.startsWith(head)) throw new Error(`replay worker: a ${kind} record does not start with its stream number: ${text.slice(0, 60)}`);
  return { kind, id, part, chunk, tail: text.slice(head.length) };
}

/** Workers by default: the cores there are. */
export function defaultJobs(): number {
  return Math.max(1, availableParallelism());
}

interface ShardTask {
  readonly replayShard: true;
  readonly file: string;
  readonly index: number;
  readonly count: number;
  readonly telnetPorts: readonly number[];
  readonly transcripts: boolean;
  readonly transcriptChunkEntries: number | undefined;
  readonly observer: ReplayOptions['observer'];
  readonly render: RenderFormat | undefined;
}

type WorkerMessage =
  /** Records in batches: one structured clone per message costs more than the record. */
  | { readonly t: 'records'; readonly flows: readonly FlowReport[]; readonly transcripts: readonly TelnetTranscript[]; readonly rendered: readonly RenderedRecord[] }
  | {
      readonly t: 'done';
      readonly summary: ReplaySummary;
      readonly error: { message: string; offset: number } | undefined;
      /** Local stream id, first frame index, pairs. */
      readonly firsts: Float64Array;
      /** (position, +1 | -1) pairs: the open-flow count changing; position = frame index, + 0.5 between frames. */
      readonly events: Float64Array;
    }
  | { readonly t: 'fail'; readonly kind: 'format' | 'open' | 'other'; readonly message: string; readonly offset: number; readonly path: string };

/** Replays `file` in `jobs` shares (this thread and jobs - 1 workers); the same result as replayCapture. */
export async function replayParallel(file: string, opts: ParallelReplayOptions = {}): Promise<ReplayResult> {
  const count = Math.max(1, Math.floor(opts.jobs ?? defaultJobs()));
  const started = performance.now();
  const url = new URL(import.meta.url);
  const ts = url.pathname.endsWith('.ts');
  // From source (tsx, vitest) a worker needs TypeScript loading of its own: the main thread's hooks do not reach it.
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  const flows: Array<{ w: number; r: FlowReport }> = [];
  const transcripts: Array<{ w: number; tr: TelnetTranscript }> = [];
  const rendered: Array<{ w: number; r: RenderedRecord }> = [];
  const done: Array<Extract<WorkerMessage, { t: 'done' }>> = [];
  const taskFor = (w: number): ShardTask => ({
    replayShard: true,
    file,
    index: w,
    count,
    telnetPorts: [...(opts.telnetPorts ?? [])],
    transcripts: opts.transcripts ?? true,
    transcriptChunkEntries: opts.transcriptChunkEntries,
    observer: opts.observer,
    render: opts.render,
  });
  /** Takes share w's messages; settles its run with 'done' or 'fail'. */
  const receiver = (w: number, resolve: () => void, fail: (err: Error) => void) => (m: WorkerMessage): void => {
    if (m.t === 'records') {
      for (const r of m.flows) flows.push({ w, r });
      for (const tr of m.transcripts) transcripts.push({ w, tr });
      for (const r of m.rendered) rendered.push({ w, r });
    } else if (m.t === 'done') {
      // Its last message: the results are in; a worker's teardown goes on while they are put together.
      done[w] = m;
      resolve();
    } else if (m.kind === 'format') fail(new CaptureFormatError(m.message, m.offset));
    else if (m.kind === 'open') fail(new CaptureOpenError(m.message, m.path));
    else fail(new Error(m.message));
  };
  const runs: Array<Promise<void>> = [];
  // Shares 1.. in workers, started first: they boot while this thread loads the stack for share 0.
  for (let w = 1; w < count; w++) {
    const task = taskFor(w);
    runs.push(
      new Promise<void>((resolve, reject) => {
        const worker = ts ? new Worker(boot, { eval: true, workerData: task }) : new Worker(url, { workerData: task });
        let failed: Error | undefined;
        worker.on('message', receiver(w, resolve, (err) => (failed = err)));
        worker.on('error', reject);
        worker.on('exit', (code) => {
          if (failed !== undefined) reject(failed);
          else if (code !== 0 || done[w] === undefined) reject(new Error(`replay worker ${w} exited with ${code}`));
          else resolve();
        });
      }),
    );
  }
  // Share 0 here, through the same messages (and their errors) as a worker's, handed over without a clone.
  runs.unshift(new Promise<void>((resolve, reject) => void runShard(taskFor(0), receiver(0, resolve, reject)).catch(reject)));
  const settled = await Promise.allSettled(runs);
  // Share 0's failure is the one to report (every share reads the same file and fails alike).
  for (const s of settled) if (s.status === 'rejected') throw stripFormatOffset(s.reason);

  // Global stream numbers: rank of each flow's first frame.
  const firsts: Array<{ w: number; id: number; frame: number }> = [];
  done.forEach((d, w) => {
    for (let i = 0; i < d.firsts.length; i += 2) firsts.push({ w, id: d.firsts[i]!, frame: d.firsts[i + 1]! });
  });
  firsts.sort((x, y) => x.frame - y.frame);
  const global = new Map<string, number>();
  firsts.forEach((f, rank) => global.set(`${f.w}/${f.id}`, rank));
  const renumber = (w: number, id: number): number => global.get(`${w}/${id}`) ?? id;

  if (opts.render !== undefined) emitRendered(rendered, renumber, opts.render, opts.onText);

  const byStream = new Map<number, TelnetTranscript[]>();
  for (const { w, tr } of transcripts) {
    const t = { ...tr, stream: renumber(w, tr.stream) };
    let list = byStream.get(t.stream);
    if (list === undefined) byStream.set(t.stream, (list = []));
    list.push(t);
  }
  const out = flows.map(({ w, r }) => ({ ...r, stream: renumber(w, r.stream) }));
  out.sort((x, y) => x.stream - y.stream || (x.part ?? 1) - (y.part ?? 1));
  const emittedTranscripts = new Set<number>();
  for (const r of out) {
    opts.onFlow?.(r);
    if ((r.part ?? 1) > 1 || emittedTranscripts.has(r.stream)) continue;
    emittedTranscripts.add(r.stream);
    const ts = byStream.get(r.stream);
    if (ts !== undefined && opts.onTranscript !== undefined) {
      ts.sort((x, y) => x.part - y.part || x.chunk - y.chunk);
      for (const t of ts) opts.onTranscript(t);
    }
  }

  const summary = mergeSummaries(done, performance.now() - started);
  const e = done[0]!.error;
  return e !== undefined ? { summary, error: new CaptureFormatError(e.message, e.offset) } : { summary };
}

/**
 * The rendered records in the order of the objects' path below: flows by
 * stream and part, each stream's transcripts (by part and chunk) after its
 * first flow record.
 */
function emitRendered(
  rendered: ReadonlyArray<{ w: number; r: RenderedRecord }>,
  renumber: (w: number, id: number) => number,
  format: RenderFormat,
  onText: ParallelReplayOptions['onText'],
): void {
  const flows: Array<{ stream: number; r: RenderedRecord }> = [];
  const byStream = new Map<number, RenderedRecord[]>();
  for (const { w, r } of rendered) {
    const stream = renumber(w, r.id);
    if (r.kind === 'flow') flows.push({ stream, r });
    else {
      let list = byStream.get(stream);
      if (list === undefined) byStream.set(stream, (list = []));
      list.push(r);
    }
  }
  flows.sort((x, y) => x.stream - y.stream || x.r.part - y.r.part);
  const heads = HEADS[format];
  const emitted = new Set<number>();
  for (const { stream, r } of flows) {
    onText?.(heads.flow + String(stream) + r.tail, 'flow');
    if (r.part > 1 || emitted.has(stream)) continue;
    emitted.add(stream);
    const ts = byStream.get(stream);
    if (ts === undefined) continue;
    ts.sort((x, y) => x.part - y.part || x.chunk - y.chunk);
    for (const t of ts) onText?.(heads.telnet + String(stream) + t.tail, 'telnet');
  }
}

/** The error a share sent has its offset in the message already; rebuild it without a second one. */
function stripFormatOffset(err: unknown): unknown {
  if (err instanceof CaptureFormatError) {
    const m = / \(at byte offset \d+\)$/.exec(err.message);
    return m !== null ? new CaptureFormatError(err.message.slice(0, m.index), err.offset) : err;
  }
  return err;
}

function mergeSummaries(done: ReadonlyArray<Extract<WorkerMessage, { t: 'done' }>>, elapsedMs: number): ReplaySummary {
  const first = done[0]!.summary;
  const sum = (f: (s: ReplaySummary) => number): number => done.reduce((n, d) => n + f(d.summary), 0);
  const drops: Record<string, Record<string, number>> = {};
  done.forEach((d, w) => {
    for (const [mod, reasons] of Object.entries(d.summary.drops)) {
      // Every share's capture link sees every frame: its drops once.
      if (mod === 'capture' && w !== 0) continue;
      const into = (drops[mod] ??= {});
      for (const [reason, n] of Object.entries(reasons)) into[reason] = (into[reason] ?? 0) + n;
    }
  });
  let dropTotal = 0;
  for (const reasons of Object.values(drops)) for (const n of Object.values(reasons)) dropTotal += n;
  const seconds = elapsedMs / 1000;
  return {
    ...first,
    elapsedMs: Math.round(elapsedMs * 1000) / 1000,
    framesPerSecond: seconds > 0 ? first.frames / seconds : 0,
    megabytesPerSecond: seconds > 0 ? first.fileBytes / 1e6 / seconds : 0,
    flows: sum((s) => s.flows),
    telnetSessions: sum((s) => s.telnetSessions),
    segments: sum((s) => s.segments),
    drops: drops as DropCounts,
    dropTotal,
    maxLiveFlows: maxLive(done.map((d) => d.events)),
    repaired: {
      snaplenCut: sum((s) => s.repaired.snaplenCut),
      shortFrames: sum((s) => s.repaired.shortFrames),
      offloadLength: sum((s) => s.repaired.offloadLength),
      bigTcp: sum((s) => s.repaired.bigTcp),
      jumbograms: sum((s) => s.repaired.jumbograms),
    },
    afterFlowEnd: sum((s) => s.afterFlowEnd),
    heapUsedMb: process.memoryUsage().heapUsed / 1024 / 1024,
  };
}

/**
 * The most flows live at once over all shares. A frame's events come from the
 * one share that followed it, in that share's order; between frames only
 * timers end flows. A stable sort by position keeps both orders.
 */
function maxLive(perShare: readonly Float64Array[]): number {
  const all: Array<{ at: number; d: number }> = [];
  for (const ev of perShare) for (let i = 0; i < ev.length; i += 2) all.push({ at: ev[i]!, d: ev[i + 1]! });
  all.sort((x, y) => x.at - y.at);
  let live = 0;
  let max = 0;
  for (const e of all) {
    live += e.d;
    if (live > max) max = live;
  }
  return max;
}

// ---------------------------------------------------------------------------
// A share's side (a worker's, or share 0's in the main thread)

/** Replays one share, its results and failure as messages to `post`. */
async function runShard(task: ShardTask, post: (m: WorkerMessage) => void): Promise<void> {
  const [{ replayCapture }, { formatFlow, formatTranscript, jsonLine, transcriptRecord }] = await Promise.all([import('./replay.js'), import('./report.js')]);
  const firsts: number[] = [];
  const events: number[] = [];
  let link: CaptureLink | undefined;
  let flows: FlowReport[] = [];
  let transcripts: TelnetTranscript[] = [];
  let rendered: RenderedRecord[] = [];
  const send = (): void => {
    if (flows.length === 0 && transcripts.length === 0 && rendered.length === 0) return;
    post({ t: 'records', flows, transcripts, rendered } satisfies WorkerMessage);
    flows = [];
    transcripts = [];
    rendered = [];
  };
  const format = task.render;
  const onFlow =
    format === undefined
      ? (r: FlowReport): void => {
          if (flows.push(r) >= 1024) send();
        }
      : (r: FlowReport): void => {
          const text = format === 'json' ? jsonLine(r) : formatFlow(r);
          if (rendered.push(renderRecord(format, 'flow', r.stream, r.part ?? 1, 0, text)) >= 1024) send();
        };
  const onTranscript =
    format === undefined
      ? (tr: TelnetTranscript): void => {
          if (transcripts.push(tr) >= 1024) send();
        }
      : (tr: TelnetTranscript): void => {
          const text = format === 'json' ? jsonLine(transcriptRecord(tr)) : formatTranscript(tr);
          if (rendered.push(renderRecord(format, 'telnet', tr.stream, tr.part, tr.chunk, text)) >= 1024) send();
        };
  try {
    const result = await replayCapture(task.file, {
      share: { index: task.index, count: task.count },
      telnetPorts: task.telnetPorts,
      transcripts: task.transcripts,
      ...(task.transcriptChunkEntries !== undefined ? { transcriptChunkEntries: task.transcriptChunkEntries } : {}),
      observer: {
        ...task.observer,
        // Where in the capture the open-flow count changes: at a frame, or between frames (a timer).
        onOpenFlows: (d) => events.push(currentTask()?.source === 'replay' ? link!.current.index : link!.current.index + 0.5, d),
      },
      onFlow,
      onTranscript,
      onStack: (stack) => {
        link = stack.link;
        const l = link;
        stack.tcp.observe(stack.rt.app('shard-ledger'), {
          onFlowStart: (f) => {
            if (f.part === 1) firsts.push(f.id, l.current.index);
          },
        });
      },
    });
    send();
    post({
      t: 'done',
      summary: result.summary,
      error: result.error !== undefined ? { message: result.error.message.replace(/ \(at byte offset \d+\)$/, ''), offset: result.error.offset } : undefined,
      firsts: Float64Array.from(firsts),
      events: Float64Array.from(events),
    } satisfies WorkerMessage);
  } catch (err) {
    const kind = err instanceof CaptureFormatError ? 'format' : err instanceof CaptureOpenError ? 'open' : 'other';
    post({
      t: 'fail',
      kind,
      message: err instanceof CaptureFormatError ? err.message : (err as Error).message,
      offset: err instanceof CaptureFormatError ? err.offset : 0,
      path: err instanceof CaptureOpenError ? err.path : '',
    } satisfies WorkerMessage);
  }
}

if (!isMainThread && (workerData as Partial<ShardTask> | null)?.replayShard === true) {
  const port = parentPort!;
  await runShard(workerData as ShardTask, (m) => port.postMessage(m));
}
