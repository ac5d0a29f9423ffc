/**
 * The structures benchmark's remote login, recorded for the visual report:
 * a fresh pair of hosts under one structure, log in, type, log out, and every
 * host's lanes, tasks, frames and TCP state gathered (from the worker threads
 * too, when the structure has them).
 */
import { ReportCollector, type ReportData } from '../report/index.js';
import type { StackStructure } from './app.js';
import { Testbed, type ThreadGroups } from './testbed.js';

const WORKLOADS_URL = new URL(import.meta.url.endsWith('.ts') ? './workloads.ts' : './workloads.js', import.meta.url).href;

export interface LoginReportOptions {
  readonly structure: StackStructure;
  /** 'virtual' (direct and queued only) or 'real'. */
  readonly clock: 'virtual' | 'real';
  readonly groups?: ThreadGroups;
  /** Typed after the login (default 'echo hello upcalls'). */
  readonly text?: string;
  /** ms between keystrokes (default 150). */
  readonly paceMs?: number;
  /** One-way link delay, ms (default 0). */
  readonly delayMs?: number;
  readonly seed?: number;
  /** The command line, shown in the report. */
  readonly command?: string;
  /** Wall-time limit of each step in real time (virtual time: of virtual time). Default 60 s. */
  readonly limitMs?: number;
}

export interface LoginReport {
  readonly data: ReportData;
  readonly keys: number;
  /** Echo latency per keystroke, ms on the run's clock. */
  readonly echoMs: readonly number[];
}

function pct(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export async function loginReport(o: LoginReportOptions): Promise<LoginReport> {
  const collector = new ReportCollector();
  const limit = o.limitMs ?? 60_000;
  const tb = await Testbed.create({
    structure: o.structure,
    clock: o.clock,
    link: { delayMs: o.delayMs ?? 0 },
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.groups !== undefined ? { groups: o.groups } : {}),
    client: { url: WORKLOADS_URL, export: 'loginClient' },
    server: { url: WORKLOADS_URL, export: 'loginServer' },
    report: collector,
  });
  try {
    const login = await tb.request('client', { cmd: 'login', paceMs: 20 }, limit);
    if (login.ok !== true) throw new Error(`login failed: ${String(login.error)}`);
    const text = o.text ?? 'echo hello upcalls';
    const typed = await tb.request('client', { cmd: 'login-type', text, paceMs: o.paceMs ?? 150, settleMs: 300 }, limit + text.length * (o.paceMs ?? 150) * 4);
    const exit = await tb.request('client', { cmd: 'login-exit' }, limit);
    if (exit.ok !== true) throw new Error('logout failed');
    const counts = await tb.counts();
    await tb.gatherReport();
    const echoMs = typed.echoMs as number[];
    const keys = typed.keys as number;
    const sorted = [...echoMs].sort((a, b) => a - b);
    const r3 = (x: number): number => Math.round(x * 1000) / 1000;
    const threads = o.structure !== 'threaded' ? 'one' : o.groups === 'stack|app' ? 'per host: stack beside the link, application in a worker' : 'per host: network beside the link, transport and application in workers';
    const data = collector.build({
      title: `structures: remote login, ${o.structure}${o.groups !== undefined ? ` [${o.groups}]` : ''}`,
      kind: 'bench',
      command: o.command ?? '',
      summary: {
        structure: o.structure,
        threads,
        clock: o.clock === 'virtual' ? 'virtual (ms of simulated time)' : 'real (wall ms)',
        keystrokes: keys,
        'echo p50 ms': r3(pct(sorted, 0.5)),
        'echo p99 ms': r3(pct(sorted, 0.99)),
        'frames on the link': tb.link.stats.sent,
        tasks: counts.tasks,
        upcalls: counts.upcalls,
        'messages (mailbox or between threads)': counts.messages,
        'bytes copied to cross': counts.bytesCopied,
      },
      transcript: String(exit.transcript ?? ''),
    });
    return { data, keys, echoMs };
  } finally {
    await tb.close();
  }
}
