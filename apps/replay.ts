/**
 * Replay a packet capture through the stack's own layers.
 *
 *   npm run replay -- FILE [options]
 *
 * Each captured frame becomes a task that climbs the same modules the live stack
 * uses (capture link, IP, TCP, Telnet) in passive, promiscuous mode. Prints a
 * summary per TCP flow (endpoints, packets and bytes each way, digests of the
 * reassembled streams, anomalies) and the transcript of every Telnet session.
 * Exit status: 0 done, 2 bad arguments or a capture that cannot be read (after
 * reporting what could be replayed before the damage).
 */
import { mkdirSync, statSync } from 'node:fs';
import { CaptureFormatError } from '../src/trace/capture.js';
import { CaptureOpenError } from '../src/trace/open.js';
import type { ReplayProgress, ReplayResult } from '../src/trace/replay.js';
import { defaultJobs, replayParallel } from '../src/trace/parallel.js';
import { checkOutputDir, formatHelp, integer, isEntryPoint, options, parseCommand, runCommand, SHARED, UsageError, usageLine, type CommandSpec, type OptionTable } from './args.js';
import { formatFlow, formatFrameTrace, formatSummary, jsonLine, transcriptRecord } from '../src/trace/format.js';
import type { ReportCollector } from '../src/report/index.js';
import { checkReportOptions, reportOptions } from './report-options.js';
// The stack (replay.js, report.js) and the report's modules are imported when a
// run needs them: under --jobs the main thread starts the workers first, then
// loads the stack for its own share while they boot.

const port = (v: string): number => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 65535) throw new UsageError(`--telnet-port: not a port number: ${JSON.stringify(v)}`);
  return n;
};

export const REPLAY_COMMAND = {
  prog: 'replay',
  synopsis: 'FILE [options]',
  summary:
    'Replays a pcap or pcapng capture (Ethernet, raw IP, Linux cooked) through the\n' +
    "stack's own layers and reports every TCP flow and every Telnet session.",
  positionals: { min: 1, max: 1, name: 'capture FILE' },
  options: options({
    json: SHARED.json('one JSON object per line: flow, telnet, frame (--trace) and summary records'),
    'dump-streams': {
      kind: 'string', placeholder: 'DIR', parse: (d: string) => checkOutputDir('--dump-streams', d),
      help: 'write each direction of each TCP flow to DIR/tcp-N-A_port-to-B_port.bin (DIR or its parent must exist)',
    },
    trace: { kind: 'flag', help: 'per frame: the modules its task entered and what each decided' },
    'telnet-port': { kind: 'string', placeholder: 'N', parse: port, multiple: true, help: 'decode port N as Telnet too (23 always is)' },
    speed: {
      kind: 'number', placeholder: 'X', min: Number.MIN_VALUE, rule: 'a positive number',
      help: "pace on the capture's timestamps, X times as fast (default: as fast as possible)",
    },
    realtime: { kind: 'flag', help: 'same as --speed 1' },
    'no-transcripts': { kind: 'flag', help: 'do not decode Telnet sessions' },
    jobs: integer(
      'follow flows in N shares (this thread and N-1 worker threads), results identical to one (default: the cores there are, for files of 16 MB and more; 1 with --trace, --dump-streams, --report, --speed)',
      { min: 1, max: 256, rule: 'an integer from 1 to 256' },
    ),
    'max-flows': integer('TCP flows tracked at once before the quietest is finished early (default 100000)', { min: 1, rule: 'a positive integer' }),
    progress: { kind: 'flag', help: 'show a progress bar on stderr even for small files' },
    ...reportOptions(': one self-contained HTML file (timeline of tasks, TCP graphs inferred from the capture, counters)'),
  }),
  epilog: 'Exit status: 0 done, 2 bad arguments or a capture that cannot be read (after reporting what could be replayed).',
} satisfies CommandSpec<OptionTable>;

export const USAGE = formatHelp(REPLAY_COMMAND).trimEnd();

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Whether stderr is a terminal (progress bar). */
  readonly errIsTty: boolean;
}

interface CliOptions {
  file: string;
  json: boolean;
  dumpStreams: string | undefined;
  trace: boolean;
  telnetPorts: number[];
  speed: number | undefined;
  transcripts: boolean;
  maxFlows: number | undefined;
  progress: boolean;
  report: string | undefined;
  compare: string | undefined;
  /** Workers asked for; undefined: chosen by the file's size. */
  jobs: number | undefined;
}

/** Parses the command line: the options, 'help', or throws UsageError. */
export function parseReplayArgs(argv: readonly string[]): CliOptions | 'help' {
  const p = parseCommand(REPLAY_COMMAND, argv);
  if (p === 'help') return p;
  const v = p.values;
  if (v.realtime && v.speed !== undefined) throw new UsageError('--realtime and --speed do not go together');
  checkReportOptions(v);
  const jobs = v.jobs;
  if (jobs !== undefined && jobs > 1) {
    const single = v.trace ? '--trace' : v['dump-streams'] !== undefined ? '--dump-streams' : v.report !== undefined ? '--report' : v.realtime || v.speed !== undefined ? '--speed' : undefined;
    if (single !== undefined) throw new UsageError(`--jobs ${jobs} does not go with ${single} (one thread follows the capture in order)`);
  }
  return {
    file: p.positionals[0]!,
    json: v.json,
    dumpStreams: v['dump-streams'],
    trace: v.trace,
    telnetPorts: v['telnet-port'] as number[],
    speed: v.realtime ? 1 : v.speed,
    transcripts: !v['no-transcripts'],
    maxFlows: v['max-flows'],
    progress: v.progress,
    report: v.report,
    compare: v.compare,
    jobs,
  };
}

/** Below this size a replay is over before worker threads would have started. */
const JOBS_MIN_BYTES = 16 * 1024 * 1024;

/** A one-line progress bar, redrawn at most ten times a second. */
class ProgressBar {
  private last = 0;
  private shown = false;
  private readonly started = performance.now();

  constructor(private readonly write: (s: string) => void) {}

  update(p: ReplayProgress): void {
    const now = performance.now();
    if (now - this.last < 100) return;
    this.last = now;
    const total = p.totalBytes ?? 0;
    const frac = total > 0 ? Math.min(1, p.bytesRead / total) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const secs = (now - this.started) / 1000;
    const rate = secs > 0 ? p.frames / secs : 0;
    const eta = frac > 0 && frac < 1 ? ` eta ${Math.ceil((secs / frac) * (1 - frac))} s` : '';
    const size = (n: number): string => (total >= 10e6 ? `${(n / 1e6).toFixed(0)} MB` : `${(n / 1e3).toFixed(0)} kB`);
    this.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ` +
        `${size(p.bytesRead)} of ${size(total)}  ${p.frames} frames  ${Math.round(rate)} frames/s${eta}\x1b[K`,
    );
    this.shown = true;
  }

  clear(): void {
    if (this.shown) this.write('\r\x1b[K');
    this.shown = false;
  }
}

const PROGRESS_MIN_BYTES = 16 * 1024 * 1024;

/** Runs the command; returns the exit status. */
export async function runReplayCli(argv: readonly string[], io: CliIo): Promise<number> {
  let o: CliOptions;
  try {
    const parsed = parseReplayArgs(argv);
    if (parsed === 'help') {
      io.out(`${USAGE}\n`);
      return 0;
    }
    o = parsed;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(usageLine('replay', err));
      return 2;
    }
    throw err;
  }
  if (o.dumpStreams !== undefined) {
    try {
      mkdirSync(o.dumpStreams, { recursive: true }); // its parent exists: checked when parsing
    } catch (err) {
      io.err(`replay: cannot create --dump-streams directory ${o.dumpStreams}: ${(err as Error).message}\n`);
      return 2;
    }
  }
  let size = 0;
  try {
    size = statSync(o.file).size;
  } catch {
    // openCapture reports a missing file in its own words.
  }
  const bar = io.errIsTty && (o.progress || size >= PROGRESS_MIN_BYTES) ? new ProgressBar(io.err) : undefined;

  // Output is gathered and written in blocks: per-line writes would dominate a traced replay.
  let pending: string[] = [];
  let pendingLength = 0;
  const emit = (text: string): void => {
    pending.push(text);
    pendingLength += text.length;
    if (pendingLength > 64 * 1024) flush();
  };
  const flush = (): void => {
    if (pending.length === 0) return;
    bar?.clear();
    io.out(pending.join(''));
    pending = [];
    pendingLength = 0;
  };

  // The report's collector and the transcripts it shows (the first 256 kB; the page keeps less).
  const reports = o.report !== undefined ? await import('../src/report/index.js') : null;
  const collector: ReportCollector | null = reports !== null ? new reports.ReportCollector() : null;
  const transcripts: string[] = [];
  let transcriptChars = 0;
  const single = o.trace || o.dumpStreams !== undefined || o.report !== undefined || o.speed !== undefined;
  const jobs = o.jobs ?? (single || size < JOBS_MIN_BYTES ? 1 : defaultJobs());
  try {
    const result: ReplayResult = jobs > 1 ? await replayParallel(o.file, {
      jobs,
      telnetPorts: o.telnetPorts,
      transcripts: o.transcripts,
      ...(o.maxFlows !== undefined ? { observer: { maxFlows: o.maxFlows } } : {}),
      // Each share writes its records' text (the same functions as below).
      render: o.json ? 'json' : 'text',
      onText: (text) => emit(o.json ? `${text}\n` : `${text}\n\n`),
    }) : await withStack(async ({ replayCapture }, { formatTranscript }) => replayCapture(o.file, {
      ...(collector !== null ? reports!.replayReportHooks(collector) : {}),
      telnetPorts: o.telnetPorts,
      transcripts: o.transcripts,
      ...(o.maxFlows !== undefined ? { observer: { maxFlows: o.maxFlows } } : {}),
      ...(o.dumpStreams !== undefined ? { dumpStreams: o.dumpStreams } : {}),
      ...(o.speed !== undefined ? { speed: o.speed } : {}),
      onFlow: (r) => emit(o.json ? `${jsonLine(r)}\n` : `${formatFlow(r)}\n\n`),
      onTranscript: (t) => {
        if (collector !== null && transcriptChars < 256 * 1024) {
          const text = formatTranscript(t);
          transcripts.push(text);
          transcriptChars += text.length;
        }
        emit(o.json ? `${jsonLine(transcriptRecord(t))}\n` : `${formatTranscript(t)}\n\n`);
      },
      ...(o.trace ? { onTrace: (t) => emit(o.json ? `${jsonLine(t)}\n` : `${formatFrameTrace(t)}\n`) } : {}),
      ...(bar !== undefined ? { onProgress: (p: ReplayProgress) => bar.update(p) } : {}),
    }));
    emit(o.json ? `${jsonLine(result.summary)}\n` : `${formatSummary(result.summary)}\n`);
    flush();
    bar?.clear();
    if (collector !== null && reports !== null) {
      const { summaryRows, writeReport, loadReportData, formatBytes } = reports;
      const data = collector.build({
        title: `Replay of ${o.file}`,
        kind: 'replay',
        command: `npm run replay -- ${argv.join(' ')}`,
        summary: summaryRows({ ...result.summary }),
        transcript: transcripts.join('\n\n'),
      });
      const size = writeReport(o.report!, data, { compare: o.compare !== undefined ? loadReportData(o.compare) : null });
      io.err(`report: ${o.report} (${formatBytes(size)})\n`);
    }
    if (result.error !== undefined) {
      io.err(`replay: ${o.file}: ${result.error.message}\n`);
      return 2;
    }
    return 0;
  } catch (err) {
    flush();
    bar?.clear();
    if (err instanceof CaptureFormatError || err instanceof CaptureOpenError) {
      io.err(`replay: ${err instanceof CaptureOpenError ? '' : `${o.file}: `}${err.message}\n`);
      return 2;
    }
    if (err instanceof RangeError) {
      io.err(`replay: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

/** Runs `run` with the stack's modules loaded. */
async function withStack<T>(
  run: (replay: typeof import('../src/trace/replay.js'), report: typeof import('../src/trace/report.js')) => Promise<T>,
): Promise<T> {
  const [replay, report] = await Promise.all([import('../src/trace/replay.js'), import('../src/trace/report.js')]);
  return run(replay, report);
}

/** The command, with the process's stdout and stderr. */
export function main(argv: readonly string[]): Promise<number> {
  return runReplayCli(argv, {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    errIsTty: process.stderr.isTTY === true,
  });
}

if (isEntryPoint(import.meta.url)) runCommand('replay', main);
