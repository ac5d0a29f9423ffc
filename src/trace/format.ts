/**
 * The replay's records as text and JSON lines: what needs no stack (a
 * transcript's rendering is in report.ts, beside the Telnet module it needs).
 * Loaded alone by the CLI's main thread under `--jobs`, whose workers do the rest.
 */
import type { TelnetTranscript, TranscriptEntry } from '../layers/telnet/transcript.js';
import type { FlowReport, FrameTrace, ReplaySummary, DirectionReport } from './report.js';

/** "3 packets", "1 packet" */
export function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

function fmtMs(ms: number): string {
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 3 : 1)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

function keep(d: DirectionReport): string {
  return d.keepAlives > 0 ? `  (${plural(d.keepAlives, 'keep-alive')})` : '';
}

/** A few lines per flow: endpoints, packets and bytes each way, digests, anomalies. */
export function formatFlow(r: FlowReport): string {
  const out: string[] = [];
  const part = r.part !== undefined ? ` (part ${r.part})` : '';
  out.push(`TCP stream ${r.stream}${part}: ${r.a} -> ${r.b}   ${plural(r.packets, 'packet')}, ${fmtMs(r.durationMs)}, ${r.ended}`);
  for (const [name, d] of [['a->b', r.aToB], ['b->a', r.bToA]] as const) {
    const extra = d.tshark !== undefined ? `  (tshark with gap markers: ${d.tshark.bytes} bytes, sha256 ${d.tshark.sha256})` : '';
    out.push(
      `  ${name}  ${String(d.packets).padStart(6)} packets  ${String(d.bytes).padStart(9)} bytes  sha256 ${d.sha256}${keep(d)}${extra}`,
    );
    if (d.file !== undefined) out.push(`        written to ${d.file}`);
  }
  if (r.anomalies.length === 0) out.push('  no anomalies');
  else for (const a of r.anomalies) out.push(`  ! ${a}`);
  return out.join('\n');
}

export function formatSummary(s: ReplaySummary): string {
  const out: string[] = [];
  const span = s.firstFrame !== null ? `, ${s.firstFrame} .. ${s.lastFrame} (${fmtMs(s.captureSpanMs)})` : '';
  out.push(`capture: ${s.file ?? '(stream)'}${s.format !== null ? ` (${s.format})` : ''}: ${s.frames} frames, ${fmtBytes(s.bytes)}${span}`);
  out.push(
    `replay: ${fmtMs(s.elapsedMs)}, ${Math.round(s.framesPerSecond)} frames/s, ${s.megabytesPerSecond.toFixed(1)} MB/s, heap ${s.heapUsedMb.toFixed(0)} MB`,
  );
  out.push(`flows: ${s.flows} TCP (${s.telnetSessions} Telnet), ${s.segments} segments, at most ${s.maxLiveFlows} live at once`);
  const drops: string[] = [];
  for (const [mod, reasons] of Object.entries(s.drops)) {
    for (const [reason, n] of Object.entries(reasons)) drops.push(`${mod} ${reason} ${n}`);
  }
  out.push(`drops: ${drops.length === 0 ? 'none' : drops.join(', ')}`);
  const rep = s.repaired;
  const fixes: string[] = [];
  if (rep.snaplenCut > 0) fixes.push(`${rep.snaplenCut} cut by the snaplen`);
  if (rep.shortFrames > 0) fixes.push(`${rep.shortFrames} claiming more than their frame holds`);
  if (rep.offloadLength > 0) fixes.push(`${rep.offloadLength} with IP length 0 (offload)`);
  if (rep.bigTcp > 0) fixes.push(`${rep.bigTcp} with IP length 0 and more than 65535 bytes (BIG TCP)`);
  if (fixes.length > 0) out.push(`IPv4 datagrams taken at their captured length: ${fixes.join(', ')}`);
  if (rep.jumbograms > 0) out.push(`IPv6 jumbograms (payload length 0, RFC 2675) taken at their frame's length: ${rep.jumbograms}`);
  if (s.error !== undefined) out.push(`error: ${s.error}`);
  return out.join('\n');
}

/** "frame 12 (task #13) capture > ip > tcp > report | tcp: stream 0 a->b [ACK] seq=1 len=1: delivered" */
export function formatFrameTrace(t: FrameTrace): string {
  const head = t.type === 'frame' ? `frame ${t.frame}` : `${t.source} task`;
  const steps = t.steps.map((s) => `${s.module}: ${s.text}`);
  const end = t.outcome === 'expended' ? [`task expended: ${t.reason ?? ''}`] : [];
  return [`${head} (task #${t.task}, ${t.atMs.toFixed(3)} ms) ${t.path.join(' > ')}`, ...steps, ...end].join(' | ');
}

/** One JSON object per line. */
export function jsonLine(record: object): string {
  return JSON.stringify(record);
}

/** The transcript as a JSON record. */
export function transcriptRecord(t: TelnetTranscript): {
  type: 'telnet';
  stream: number;
  part?: number;
  client: string;
  server: string;
  terminalType?: string;
  windowSize?: { width: number; height: number };
  typedLines: number;
  notEchoed: number;
  chunk: number;
  final: boolean;
  decodeErrors: number;
  entries: readonly TranscriptEntry[];
} {
  return {
    type: 'telnet',
    stream: t.stream,
    ...(t.part > 1 ? { part: t.part } : {}),
    client: t.client,
    server: t.server,
    ...(t.terminalType !== undefined ? { terminalType: t.terminalType } : {}),
    ...(t.windowSize !== undefined ? { windowSize: { width: t.windowSize.width, height: t.windowSize.height } } : {}),
    typedLines: t.typedLines,
    notEchoed: t.notEchoed,
    chunk: t.chunk,
    final: t.final,
    decodeErrors: t.decodeErrors,
    entries: t.entries,
  };
}
