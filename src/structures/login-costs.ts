/**
 * What a keystroke of a remote login session costs under one structure, in
 * real time: frames on the wire, echo latency, CPU (every thread of the
 * process), tasks and upcalls. The demo prints it next to its virtual-time
 * counts; the structures benchmark uses the same measurement.
 */
import type { StackStructure } from './app.js';
import { countsDelta, Testbed, type WorkCounts } from './testbed.js';

export interface KeystrokeCosts {
  readonly structure: StackStructure;
  readonly keys: number;
  readonly echoed: number;
  /** Echo latency over the keystrokes, microseconds. */
  readonly echoP50Us: number;
  readonly echoP99Us: number;
  /** Every echo latency, microseconds, in typing order. */
  readonly echoUs: readonly number[];
  readonly packetsPerKey: number;
  readonly cpuUsPerKey: number;
  /** CPU of the same stacks over an equally long window with nobody typing, per key of the typed window (the floor under cpuUsPerKey). */
  readonly idleCpuUsPerKey: number;
  readonly wallUs: number;
  readonly cpuUs: number;
  readonly counts: WorkCounts;
}

const WORKLOADS_URL = new URL(import.meta.url.endsWith('.ts') ? './workloads.ts' : './workloads.js', import.meta.url).href;

function pct(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Types `text` at `paceMs` per key into a session already logged in on `tb`; waits `settleMs` after the last echo. */
export async function typeAndMeasure(tb: Testbed, text: string, paceMs: number, settleMs = 300): Promise<KeystrokeCosts> {
  const c0 = await tb.counts();
  const f0 = tb.link.stats.sent;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await tb.request('client', { cmd: 'login-type', text, paceMs, settleMs }, 60_000 + text.length * paceMs * 4);
  const wallUs = (performance.now() - t0) * 1000;
  const cpu = process.cpuUsage(cpu0);
  const counts = countsDelta(await tb.counts(), c0);
  const keys = r.keys as number;
  const echoUs = (r.echoMs as number[]).map((ms) => ms * 1000);
  const sorted = [...echoUs].sort((a, b) => a - b);
  const cpuUs = cpu.user + cpu.system;
  const idle0 = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, wallUs / 1000));
  const idle = process.cpuUsage(idle0);
  return {
    structure: tb.structure,
    keys,
    echoed: echoUs.length,
    echoP50Us: pct(sorted, 0.5),
    echoP99Us: pct(sorted, 0.99),
    echoUs,
    packetsPerKey: (tb.link.stats.sent - f0) / keys,
    cpuUsPerKey: cpuUs / keys,
    idleCpuUsPerKey: (idle.user + idle.system) / keys,
    wallUs,
    cpuUs,
    counts,
  };
}

export interface LoginCostOptions {
  readonly text?: string;
  readonly paceMs?: number;
  readonly delayMs?: number;
}

/** A fresh pair of hosts under `structure` in real time: log in, type `text`, log out. */
export async function measureLogin(structure: StackStructure, o: LoginCostOptions = {}): Promise<KeystrokeCosts> {
  const tb = await Testbed.create({
    structure,
    clock: 'real',
    link: { delayMs: o.delayMs ?? 0 },
    client: { url: WORKLOADS_URL, export: 'loginClient' },
    server: { url: WORKLOADS_URL, export: 'loginServer' },
  });
  try {
    const login = await tb.request('client', { cmd: 'login', paceMs: 20 }, 60_000);
    if (login.ok !== true) throw new Error(`login failed: ${String(login.error)}`);
    const costs = await typeAndMeasure(tb, o.text ?? 'echo hello upcalls', o.paceMs ?? 150);
    await tb.request('client', { cmd: 'login-exit' }, 60_000);
    return costs;
  } finally {
    await tb.close();
  }
}

/** The lines the demo prints under its summary. */
export function formatKeystrokeCosts(c: KeystrokeCosts): string[] {
  const per = (n: number): string => (n / c.keys).toFixed(1);
  return [
    `real time, ${c.structure} structure (${c.keys} keystrokes, every thread's CPU counted):`,
    `  echo latency p50 / p99      ${(c.echoP50Us / 1000).toFixed(3)} / ${(c.echoP99Us / 1000).toFixed(3)} ms`,
    `  CPU per keystroke           ${c.cpuUsPerKey.toFixed(0)} us (${c.idleCpuUsPerKey.toFixed(0)} us of it with nobody typing)`,
    `  packets per keystroke       ${c.packetsPerKey.toFixed(2)}`,
    `  tasks / upcalls per key     ${per(c.counts.tasks)} / ${per(c.counts.upcalls)}`,
    `  messages / bytes copied     ${per(c.counts.messages)} / ${per(c.counts.bytesCopied)} per keystroke`,
  ];
}

/** The same, as the demo's JSON summary carries it. */
export function keystrokeCostsJson(c: KeystrokeCosts): Record<string, number | string> {
  return {
    structure: c.structure,
    keystrokes: c.keys,
    echoP50Ms: Math.round(c.echoP50Us) / 1000,
    echoP99Ms: Math.round(c.echoP99Us) / 1000,
    cpuUsPerKeystroke: Math.round(c.cpuUsPerKey),
    idleCpuUsPerKeystroke: Math.round(c.idleCpuUsPerKey),
    packetsPerKeystroke: Math.round(c.packetsPerKey * 100) / 100,
    tasksPerKeystroke: Math.round((c.counts.tasks / c.keys) * 10) / 10,
    upcallsPerKeystroke: Math.round((c.counts.upcalls / c.keys) * 10) / 10,
    messagesPerKeystroke: Math.round((c.counts.messages / c.keys) * 10) / 10,
  };
}
