/**
 * The same stack under three structures, side by side (issue #13):
 *
 *   direct    upcalls: one task climbs NIC -> IP -> TCP -> application as calls;
 *   queued    asynchronous daemons: every module takes its upcalls from a
 *             mailbox on the one thread, drained in batches, arguments copied;
 *   threaded  layers as processes: per host [NIC, ARP, IP] beside the link,
 *             [TCP, UDP] in a worker, the application in another; upcalls and
 *             downcalls are MessagePort messages, batched per turn, payloads
 *             transferred where ownership passes, copied where both keep them.
 *
 *   npx tsx apps/bench/structures.ts [--quick] [--json]
 *   npx tsx apps/bench/structures.ts --report FILE.html [--structure S] [--compare OTHER.html]
 *
 * Two hosts on a simulated link with no delay and no loss, in real time (a
 * virtual clock cannot be shared across threads, so all three run on the real
 * one, with the same link). Each structure runs in a process of its own.
 * CPU is process.cpuUsage(), which counts every thread of the process (the
 * workers included); wall is performance.now(). Each workload is repeated;
 * min and median are over the repeats.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { formatBytes, loadReportData, writeReport } from '../../src/report/index.js';
import { STRUCTURES, type StackStructure } from '../../src/structures/app.js';
import { typeAndMeasure } from '../../src/structures/login-costs.js';
import { loginReport } from '../../src/structures/login-report.js';
import { formatHelp, isEntryPoint, options, parseCommand, runCommand, SHARED, UsageError, type CommandSpec, type OptionTable, type StringSpec } from '../args.js';
import { checkReportOptions, reportOptions } from '../report-options.js';
import { countsDelta, Testbed, type WorkCounts } from '../../src/structures/testbed.js';

const WORKLOADS_URL = new URL('../../src/structures/workloads.ts', import.meta.url).href;
/** Payload bytes per full-sized data segment at MTU 1500 (20 IP + 20 TCP + 12 timestamps). */
const MSS_PAYLOAD = 1448;

export interface WorkloadResult {
  /** CPU microseconds per operation: median and min over the repeats. */
  cpuUsPerOp: number;
  cpuUsPerOpMin: number;
  /** Wall microseconds per operation: median and min over the repeats. */
  wallUsPerOp: number;
  wallUsPerOpMin: number;
  /** Latency percentiles over every sample of every repeat (round trips, or keystroke echoes), microseconds. */
  p50Us: number | null;
  p99Us: number | null;
  /** Bulk only (null otherwise): payload bits per second of wall time, and per second of CPU time. */
  gbps: number | null;
  gbpsCpu: number | null;
  /** Per operation (last repeat). */
  tasksPerOp: number;
  upcallsPerOp: number;
  messagesPerOp: number;
  batchesPerOp: number;
  bytesCopiedPerOp: number;
  bytesTransferredPerOp: number;
  /** Login only (null otherwise): frames on the wire per keystroke. */
  packetsPerOp: number | null;
  /** Login only (null otherwise): CPU per keystroke of an equally long window with nobody typing (timers, idle threads). */
  idleCpuUsPerOp: number | null;
  ops: number;
  repeats: number;
}

export type Workload = 'udpEcho' | 'tcpRequest' | 'tcpBulk' | 'login';
const WORKLOADS: readonly Workload[] = ['udpEcho', 'tcpRequest', 'tcpBulk', 'login'];
const OP_NAME: Record<Workload, string> = { udpEcho: 'round trip', tcpRequest: 'round trip', tcpBulk: 'data segment', login: 'keystroke' };

interface Plan {
  repeats: number;
  roundTrips: number;
  bulkBytes: number;
  keys: number;
  paceMs: number;
}

const QUICK: Plan = { repeats: 3, roundTrips: 2000, bulkBytes: 8e6, keys: 8, paceMs: 150 };
const FULL: Plan = { repeats: 5, roundTrips: 10_000, bulkBytes: 64e6, keys: 30, paceMs: 150 };

function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function r2(x: number): number {
  return Math.round(x * 100) / 100;
}

interface Sample {
  cpuUs: number;
  wallUs: number;
  ops: number;
  counts: WorkCounts;
  latencies: number[];
  packets?: number;
}

async function measure(tb: Testbed, body: () => Promise<{ ops: number; latencies: number[] }>): Promise<Sample> {
  const c0 = await tb.counts();
  const f0 = tb.link.stats.sent;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const { ops, latencies } = await body();
  const wallUs = (performance.now() - t0) * 1000;
  const cpu = process.cpuUsage(cpu0);
  const counts = countsDelta(await tb.counts(), c0);
  return { cpuUs: cpu.user + cpu.system, wallUs, ops, counts, latencies, packets: tb.link.stats.sent - f0 };
}

function summarize(samples: readonly Sample[], extra: Partial<WorkloadResult> = {}): WorkloadResult {
  const cpu = samples.map((s) => s.cpuUs / s.ops);
  const wall = samples.map((s) => s.wallUs / s.ops);
  const lat = samples.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const last = samples[samples.length - 1]!;
  const per = (x: number): number => r2(x / last.ops);
  return {
    cpuUsPerOp: r2(median(cpu)),
    cpuUsPerOpMin: r2(Math.min(...cpu)),
    wallUsPerOp: r2(median(wall)),
    wallUsPerOpMin: r2(Math.min(...wall)),
    p50Us: lat.length > 0 ? r2(pct(lat, 0.5)) : null,
    p99Us: lat.length > 0 ? r2(pct(lat, 0.99)) : null,
    gbps: null,
    gbpsCpu: null,
    packetsPerOp: null,
    idleCpuUsPerOp: null,
    tasksPerOp: per(last.counts.tasks),
    upcallsPerOp: per(last.counts.upcalls),
    messagesPerOp: per(last.counts.messages),
    batchesPerOp: per(last.counts.batches),
    bytesCopiedPerOp: per(last.counts.bytesCopied),
    bytesTransferredPerOp: per(last.counts.bytesTransferred),
    ops: last.ops,
    repeats: samples.length,
    ...extra,
  };
}

/** Runs every workload under one structure (in this process). */
export async function runStructure(structure: StackStructure, plan: Plan): Promise<Record<Workload, WorkloadResult>> {
  const tb = await Testbed.create({
    structure,
    clock: 'real',
    client: { url: WORKLOADS_URL, export: 'allClients' },
    server: { url: WORKLOADS_URL, export: 'allServers' },
    tcp: { sendBufferSize: 1 << 20, receiveBufferSize: 1 << 20 },
  });
  try {
    const rtt = async (cmd: string): Promise<{ ops: number; latencies: number[] }> => {
      const r = await tb.request('client', { cmd, n: plan.roundTrips, size: 64 }, 120_000);
      return { ops: plan.roundTrips, latencies: r.rttsUs as number[] };
    };
    // Warm-up: ARP, the connection, the JIT of every path.
    await tb.request('client', { cmd: 'udp-run', n: 300 });
    await tb.request('client', { cmd: 'tcp-connect' });
    await tb.request('client', { cmd: 'tcp-run', n: 300 });
    // The login first: the idle floor is then not the other workloads' garbage being collected.
    const login = await tb.request('client', { cmd: 'login', paceMs: 20 }, 120_000);
    if (login.ok !== true) throw new Error(`login failed: ${String(login.error)}`);
    const text = 'echo hello upcalls, world'.repeat(4).slice(0, plan.keys);
    const k = await typeAndMeasure(tb, text, plan.paceMs, 300);
    const keys: Sample[] = [{ cpuUs: k.cpuUs, wallUs: k.wallUs, ops: k.keys, counts: k.counts, latencies: [...k.echoUs], packets: k.packetsPerKey * k.keys }];
    const exit = await tb.request('client', { cmd: 'login-exit' }, 60_000);
    if (exit.ok !== true) throw new Error('logout failed');

    await tb.request('client', { cmd: 'bulk-run', bytes: 4e6 }, 120_000);

    const udp: Sample[] = [];
    const tcp: Sample[] = [];
    const bulk: Sample[] = [];
    for (let i = 0; i < plan.repeats; i++) udp.push(await measure(tb, () => rtt('udp-run')));
    for (let i = 0; i < plan.repeats; i++) tcp.push(await measure(tb, () => rtt('tcp-run')));
    for (let i = 0; i < plan.repeats; i++) {
      bulk.push(
        await measure(tb, async () => {
          const r = await tb.request('client', { cmd: 'bulk-run', bytes: plan.bulkBytes }, 300_000);
          if (typeof r.error === 'string') throw new Error(`bulk: ${r.error}`);
          return { ops: Math.ceil(plan.bulkBytes / MSS_PAYLOAD), latencies: [] };
        }),
      );
    }
    const bulkWallS = median(bulk.map((s) => s.wallUs)) / 1e6;
    const bulkCpuS = median(bulk.map((s) => s.cpuUs)) / 1e6;

    return {
      udpEcho: summarize(udp),
      tcpRequest: summarize(tcp),
      tcpBulk: summarize(bulk, { gbps: r2((plan.bulkBytes * 8) / bulkWallS / 1e9), gbpsCpu: r2((plan.bulkBytes * 8) / bulkCpuS / 1e9) }),
      login: summarize(keys, { packetsPerOp: r2(k.packetsPerKey), idleCpuUsPerOp: r2(k.idleCpuUsPerKey) }),
    };
  } finally {
    await tb.close();
  }
}

export interface StructuresReport {
  machine: string;
  quick: boolean;
  structures: Record<Workload, Record<StackStructure, WorkloadResult>> & {
    /** Marginal CPU of one crossing (udpEcho): per mailbox message, per batch between threads. */
    crossing: { queuedUsPerMessage: number; threadedUsPerMessage: number };
    /** CPU per operation over direct's: medians (the keys), and the minima (less touched by other load on the machine). */
    ratio: Record<
      Workload,
      { queuedOverDirect: number; threadedOverDirect: number; queuedOverDirectMin: number; threadedOverDirectMin: number; queuedOverDirectP50?: number; threadedOverDirectP50?: number }
    >;
  };
}

/** The marginal CPU of one message at a boundary, from the echo (one message in flight, so no batching hides it). */
export function crossing(s: Pick<StructuresReport['structures'], 'udpEcho'>): { queuedUsPerMessage: number; threadedUsPerMessage: number } {
  const d = s.udpEcho.direct;
  const q = s.udpEcho.queued;
  const t = s.udpEcho.threaded;
  return {
    queuedUsPerMessage: q.messagesPerOp > 0 ? r2((q.cpuUsPerOp - d.cpuUsPerOp) / q.messagesPerOp) : 0,
    threadedUsPerMessage: t.batchesPerOp > 0 ? r2((t.cpuUsPerOp - d.cpuUsPerOp) / t.batchesPerOp) : 0,
  };
}

function ratios(by: Record<StackStructure, Record<Workload, WorkloadResult>>): StructuresReport['structures']['ratio'] {
  const out = {} as StructuresReport['structures']['ratio'];
  for (const w of WORKLOADS) {
    const d = by.direct[w];
    const q = by.queued[w];
    const t = by.threaded[w];
    out[w] = {
      queuedOverDirect: r2(q.cpuUsPerOp / d.cpuUsPerOp),
      threadedOverDirect: r2(t.cpuUsPerOp / d.cpuUsPerOp),
      queuedOverDirectMin: r2(q.cpuUsPerOpMin / d.cpuUsPerOpMin),
      threadedOverDirectMin: r2(t.cpuUsPerOpMin / d.cpuUsPerOpMin),
      ...(d.p50Us !== null && d.p50Us > 0 ? { queuedOverDirectP50: r2(q.p50Us! / d.p50Us), threadedOverDirectP50: r2(t.p50Us! / d.p50Us) } : {}),
    };
  }
  return out;
}

export function formatReport(rep: StructuresReport): string {
  const s = rep.structures;
  const lines: string[] = [];
  const head = ['workload', 'structure', 'cpu us/op', '(min)', 'wall us/op', 'p50 us', 'p99 us', 'Gbps', 'tasks/op', 'upcalls/op', 'msgs/op', 'batches/op', 'B copied/op', 'B moved/op', 'pkts/op'];
  const rows: string[][] = [];
  for (const w of WORKLOADS) {
    for (const st of STRUCTURES) {
      const r = s[w][st];
      rows.push([
        `${w} (per ${OP_NAME[w]})`, st, r.cpuUsPerOp.toFixed(1), r.cpuUsPerOpMin.toFixed(1), r.wallUsPerOp.toFixed(1),
        r.p50Us?.toFixed(0) ?? '-', r.p99Us?.toFixed(0) ?? '-', r.gbps?.toFixed(3) ?? '-',
        r.tasksPerOp.toFixed(1), r.upcallsPerOp.toFixed(1), r.messagesPerOp.toFixed(1), r.batchesPerOp.toFixed(1),
        r.bytesCopiedPerOp.toFixed(0), r.bytesTransferredPerOp.toFixed(0), r.packetsPerOp?.toFixed(2) ?? '-',
      ]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => (i < 2 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  lines.push(line(head), ...rows.map(line), '');
  const x = crossing(s);
  lines.push(`what one crossing costs (udpEcho: CPU over direct's, per message): queued ${x.queuedUsPerMessage} us, threaded ${x.threadedUsPerMessage} us`, '');
  lines.push('CPU per operation relative to direct, median (min) over the repeats; the anchor: LRPC ~3x over conventional RPC');
  for (const w of WORKLOADS) {
    const r = s.ratio[w];
    const lat = r.queuedOverDirectP50 !== undefined ? `   p50 latency: queued ${r.queuedOverDirectP50}x, threaded ${r.threadedOverDirectP50}x` : '';
    lines.push(
      `  ${w.padEnd(10)}  queued/direct ${r.queuedOverDirect.toFixed(2)}x (${r.queuedOverDirectMin.toFixed(2)}x)   ` +
        `threaded/direct ${r.threadedOverDirect.toFixed(2)}x (${r.threadedOverDirectMin.toFixed(2)}x)${lat}`,
    );
  }
  const idle = STRUCTURES.map((st) => `${st} ${s.login[st].idleCpuUsPerOp?.toFixed(0) ?? '-'}`).join(', ');
  lines.push(`login: CPU per keystroke of an equally long window with nobody typing (the floor): ${idle} us`);
  lines.push('', `machine: ${rep.machine}${rep.quick ? '   (--quick: fewer and shorter repeats)' : ''}`);
  lines.push('cpu = process.cpuUsage() over all threads of the process (workers included); wall = elapsed real time.');
  lines.push('B copied / B moved: bytes copied / transferred without a copy to cross a boundary (the copies every structure makes, into the');
  lines.push('send buffer, into segments, onto the wire, are not counted); msgs: mailbox messages or messages between threads; batches: drains or postMessage calls.');
  lines.push('threaded: 3 threads per host (network beside the link, transport, application) on this machine\'s cores; real time only.');
  return lines.join('\n');
}

function machine(): string {
  return `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`;
}

function structure(t: string): StackStructure {
  if (!(STRUCTURES as readonly string[]).includes(t)) throw new UsageError(`${JSON.stringify(t)} is not a structure (have: ${STRUCTURES.join(', ')})`);
  return t as StackStructure;
}

const COMMAND = {
  prog: 'structures',
  synopsis: '[--quick] [--json] | --report FILE [--structure S] [--compare FILE]',
  summary:
    'The same stack as upcalls (direct), as mailboxes (queued) and as threads (threaded): echo, request/response, bulk and remote login, ' +
    'each structure in a process of its own. With --report: one remote login session under one structure, drawn as a visual report (not timed).',
  options: options({
    quick: { kind: 'flag', help: 'fewer and shorter repeats (under a minute)' },
    json: SHARED.json('print the results as one JSON line, and nothing else'),
    only: <StringSpec<StackStructure>>{ kind: 'string', placeholder: 'S', parse: structure, help: 'run one structure in this process and print its JSON line (what each child process runs)' },
    structure: <StringSpec<StackStructure>>{ kind: 'string', placeholder: 'S', parse: structure, help: `with --report: the structure of the login drawn (${STRUCTURES.join(', ')}; default direct)` },
    ...reportOptions(' of a remote login session under --structure: one self-contained HTML file (every module\'s lane per host, threads included, the tasks, the TCP graphs)'),
  }),
  epilog: 'Exit status: 0 done, 1 a structure failed, 2 bad arguments.',
} satisfies CommandSpec<OptionTable>;

export async function main(argv: readonly string[]): Promise<number> {
  const p = parseCommand(COMMAND, argv);
  if (p === 'help') {
    process.stdout.write(formatHelp(COMMAND, 'npx tsx apps/bench/structures.ts'));
    return 0;
  }
  const v = p.values;
  checkReportOptions(v);
  if (v.structure !== undefined && v.report === undefined) throw new UsageError('--structure goes with --report FILE');
  if (v.report !== undefined) {
    if (v.only !== undefined || v.quick || v.json) throw new UsageError('--report runs one login session: not with --only, --quick or --json');
    const st = v.structure ?? 'direct';
    // Real time for every structure, as the benchmark runs (threads cannot share a virtual clock).
    const r = await loginReport({ structure: st, clock: 'real', command: `npx tsx apps/bench/structures.ts ${argv.join(' ')}` });
    const size = writeReport(v.report, r.data, { compare: v.compare !== undefined ? loadReportData(v.compare) : null });
    const echo = [...r.echoMs].sort((a, b) => a - b);
    process.stdout.write(`structures: remote login, ${st}: ${r.keys} keystrokes, echo median ${(echo[Math.floor(echo.length / 2)] ?? 0).toFixed(3)} ms, ${r.data.tasks.total} tasks\n`);
    process.stderr.write(`report: ${v.report} (${formatBytes(size)})\n`);
    return 0;
  }
  const quick = v.quick;
  const plan = quick ? QUICK : FULL;
  if (v.only !== undefined) {
    // Child mode: one structure, one JSON line.
    const res = await runStructure(v.only, plan);
    process.stdout.write(`${JSON.stringify(res)}\n`);
    return 0;
  }
  const by = {} as Record<StackStructure, Record<Workload, WorkloadResult>>;
  const self = fileURLToPath(import.meta.url);
  for (const st of STRUCTURES) {
    if (!v.json) process.stderr.write(`structures: ${st}...\n`);
    // A process per structure: none inherits another's heap or JIT state.
    const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--only', st, ...(quick ? ['--quick'] : [])], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 << 20,
    });
    const out = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !out.startsWith('{')) {
      console.error(`structures: ${st} failed (exit ${r.status})`);
      return 1;
    }
    by[st] = JSON.parse(out) as Record<Workload, WorkloadResult>;
  }
  const structures = {} as StructuresReport['structures'];
  for (const w of WORKLOADS) structures[w] = { direct: by.direct[w], queued: by.queued[w], threaded: by.threaded[w] };
  structures.ratio = ratios(by);
  structures.crossing = crossing(structures);
  const rep: StructuresReport = { machine: machine(), quick, structures };
  if (v.json) console.log(JSON.stringify({ bench: 'structures', ...rep }));
  else console.log(formatReport(rep));
  return 0;
}

if (isEntryPoint(import.meta.url)) runCommand('structures', main);
