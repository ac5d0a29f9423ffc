/**
 * Service calls between two hosts on a SimLink: calls per second, CPU per
 * call, and latency in virtual time.
 *
 *   npx tsx apps/bench/services.ts            # table
 *   npx tsx apps/bench/services.ts --json     # one JSON line
 *   npx tsx apps/bench/services.ts --quick    # fewer calls, 2 runs (--runs N: that many; default 5)
 *   npx tsx apps/bench/services.ts --ipv6     # the same between IPv6-only hosts (fd00::1, fd00::2)
 *
 * Client and server are each a host built by createHost (NIC, ARP, IPv4, UDP,
 * TCP) with a Services module; the server offers an echo service. 'udp': the
 * service messages are UDP datagrams; 'tcp': the same messages framed on one
 * TCP connection between the hosts (ext/tcp-datagrams.ts). The link has a
 * 100 us one-way delay, 1 Gb/s, no loss: what is measured is the stack's and
 * the service layer's own cost, not retransmissions.
 *
 *  - sync:  `send` one call and run the clock until its outcome is in, then the
 *           next (what `await svc.call()` does, without the promise machinery);
 *  - async: keep 64 calls outstanding (`send`, a callback bound to each), one
 *           more sent as each completes.
 *
 * Columns: calls per second by wall clock and by CPU time (process.cpuUsage:
 * what one core would do), CPU and wall microseconds per call (min and median
 * of the runs), and each call's latency from send to outcome in virtual time
 * (p50 and p99 over every call of every run): the link's round trip plus what
 * the protocol adds (the server's queueing behind other calls, for async).
 */
import { pathToFileURL } from 'node:url';
import { VirtualClock } from '../../src/core/index.js';
import { createHost } from '../../src/host.js';
import { SimLink } from '../../src/layers/nic/sim-link.js';
import { TcpDatagrams } from '../../src/layers/service/ext/tcp-datagrams.js';
import { Services, type ServicesOptions } from '../../src/layers/service/service.js';
import { s } from '../../src/layers/service/shape.js';
import { defineService } from '../../src/layers/service/spec.js';
import { fmt, formatTable, metric, roundMetric, roundStat, runsFrom, summarise, type Metric, type Sample } from './measure.js';

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export type Transport = 'udp' | 'tcp';
export type Mode = 'sync' | 'async';
const TRANSPORTS: readonly Transport[] = ['udp', 'tcp'];
const WINDOW = 64;

const echoSpec = defineService({
  echo: { args: s.object({ n: s.integer(), text: s.string() }), result: s.object({ n: s.integer(), text: s.string() }) },
});

export interface ServicesBenchRow {
  transport: Transport;
  mode: Mode;
  calls: number;
  runs: number;
  /** Median of the runs. */
  callsPerSecWall: number;
  callsPerSecCpu: number;
  /** µs per call by each clock, min and median of the runs. */
  wallUs: { min: number; median: number };
  cpuUs: { min: number; median: number };
  /** Send to outcome, virtual ms, over every call of every run. */
  latencyP50Ms: number;
  latencyP99Ms: number;
  failed: number;
  retransmissions: number;
}

interface Pair {
  clock: VirtualClock;
  server: Services;
  client: Services;
  echo: ReturnType<Services['use']>;
}

function pair(transport: Transport, ipv6: boolean): Pair {
  const clock = new VirtualClock();
  const link = new SimLink(clock, { delayMs: 0.1, bandwidthBps: 1e9, queueLimit: 100_000 });
  const tcp = transport === 'tcp';
  const v6 = ipv6 ? { ipv6: { dad: false } } : {};
  const a = createHost({ name: 'client', link, ip: ipv6 ? 'fd00::1/64' : '10.0.0.1/24', seed: 1, tcp, ...v6 });
  const b = createHost({ name: 'server', link, ip: ipv6 ? 'fd00::2/64' : '10.0.0.2/24', seed: 2, tcp, ...v6 });
  const addr = (h: typeof a) => (ipv6 ? h.address6! : h.address);
  // Over TCP the service messages ride TcpDatagrams (one connection per peer); a
  // connection carries no broadcast, so the server is the directory.
  const over = (h: typeof a): ServicesOptions => (tcp ? { tcp: new TcpDatagrams(h.rt, h.tcp!, addr(h)), directory: addr(b) } : { udp: h.udp! });
  const server = new Services(b.rt, over(b));
  const client = new Services(a.rt, over(a));
  server.offer('echo', echoSpec, { echo: (args) => args });
  const echo = client.use('echo', echoSpec);
  return { clock, server, client, echo };
}

interface RunResult {
  latencies: number[];
  failed: number;
}

const ARGS = { n: 0, text: 'twelve bytes' };

/** One call at a time: send, run the clock until its outcome is in. */
function driveSync(p: Pair, n: number, lat: number[]): number {
  let failed = 0;
  for (let i = 0; i < n; i++) {
    const t0 = p.clock.now();
    const h = p.echo.send('echo', { n: i, text: ARGS.text });
    p.clock.runUntil(() => h.done, 60_000);
    lat.push(p.clock.now() - t0);
    if (h.outcome?.ok !== true) failed++;
  }
  return failed;
}

/** WINDOW calls outstanding; each completion sends the next. */
function driveAsync(p: Pair, n: number, lat: number[]): number {
  let sent = 0;
  let done = 0;
  let failed = 0;
  const sendOne = (): void => {
    const t0 = p.clock.now();
    sent++;
    p.echo.send('echo', { n: sent, text: ARGS.text }).onDone((o) => {
      done++;
      lat.push(p.clock.now() - t0);
      if (!o.ok) failed++;
      if (sent < n) sendOne();
    });
  };
  for (let i = 0; i < Math.min(WINDOW, n); i++) sendOne();
  p.clock.runUntil(() => done >= n, 3_600_000);
  return failed;
}

function measure(transport: Transport, mode: Mode, calls: number, runs: number, ipv6: boolean): { row: ServicesBenchRow; metrics: Metric[] } {
  const samples: Array<Sample<RunResult>> = [];
  let retransmissions = 0;
  for (let r = 0; r < runs; r++) {
    const p = pair(transport, ipv6);
    // Warm-up, unmeasured: the lookup, ARP, the JIT.
    driveSync(p, 50, []);
    const base = p.client.counters.retransmissions;
    const latencies: number[] = [];
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const failed = mode === 'sync' ? driveSync(p, calls, latencies) : driveAsync(p, calls, latencies);
    const wallMs = performance.now() - t0;
    const c = process.cpuUsage(c0);
    samples.push({ wallMs, cpuMs: (c.user + c.system) / 1000, value: { latencies, failed } });
    retransmissions += p.client.counters.retransmissions - base;
  }
  const lat = samples.flatMap((x) => x.value.latencies).sort((a, b) => a - b);
  const pct = (q: number): number => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]!;
  const perCall = (ms: number): number => (ms * 1000) / calls;
  const wall = summarise(samples.map((x) => perCall(x.wallMs)));
  const cpu = summarise(samples.map((x) => perCall(x.cpuMs)));
  const label = `${transport}${ipv6 ? '6' : ''} ${mode}`;
  const row: ServicesBenchRow = {
    transport,
    mode,
    calls,
    runs,
    callsPerSecWall: Math.round(1e6 / wall.median),
    callsPerSecCpu: Math.round(1e6 / cpu.median),
    wallUs: roundStat(wall),
    cpuUs: roundStat(cpu),
    latencyP50Ms: round3(pct(0.5)),
    latencyP99Ms: round3(pct(0.99)),
    failed: samples.reduce((a, x) => a + x.value.failed, 0),
    retransmissions,
  };
  return { row, metrics: [roundMetric(metric(`${label} usPerCall`, 'µs/call', samples, perCall))] };
}

export function runServicesBench(quick: boolean, runs: number, ipv6 = false): { rows: ServicesBenchRow[]; metrics: Metric[] } {
  const rows: ServicesBenchRow[] = [];
  const metrics: Metric[] = [];
  for (const t of TRANSPORTS) {
    // Discarded: the first rows would otherwise pay for the JIT's warm-up.
    measure(t, 'sync', 300, 1, ipv6);
    measure(t, 'async', 1000, 1, ipv6);
    for (const mode of ['sync', 'async'] as const) {
      const calls = mode === 'sync' ? (quick ? 500 : 5000) : quick ? 2000 : 20_000;
      const m = measure(t, mode, calls, runs, ipv6);
      rows.push(m.row);
      metrics.push(...m.metrics);
    }
  }
  return { rows, metrics };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick');
  const ipv6 = process.argv.includes('--ipv6');
  const { rows, metrics } = runServicesBench(quick, runsFrom(process.argv, 5, 2), ipv6);
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ bench: 'services', rows, metrics }));
  } else {
    console.log(`echo service, client and server ${ipv6 ? 'IPv6-only ' : ''}hosts on a SimLink (100 us one-way, 1 Gb/s, no loss); async keeps ${WINDOW} calls outstanding; tcp = service messages framed on one TCP connection`);
    console.log(
      formatTable(
        ['transport/mode', 'calls', 'calls/s wall', 'calls/s cpu', 'cpu us/call min', 'med', 'wall us/call min', 'med', 'p50 ms (virtual)', 'p99 ms', 'failed', 'retx', 'runs'],
        rows.map((r) => [
          `${r.transport} ${r.mode}`,
          String(r.calls),
          fmt(r.callsPerSecWall),
          fmt(r.callsPerSecCpu),
          fmt(r.cpuUs.min),
          fmt(r.cpuUs.median),
          fmt(r.wallUs.min),
          fmt(r.wallUs.median),
          fmt(r.latencyP50Ms),
          fmt(r.latencyP99Ms),
          String(r.failed),
          String(r.retransmissions),
          String(r.runs),
        ]),
      ),
    );
    console.log('(calls/s: medians of the runs; cpu: process.cpuUsage, user + system, both hosts; latency: send to outcome on the virtual clock)');
    void metrics;
  }
}
