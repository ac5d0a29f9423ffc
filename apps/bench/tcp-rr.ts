/**
 * TCP request/response: one connection between two in-process stacks, the
 * client sends a 64-byte request, the server answers 64 bytes, the client
 * sends the next request when the whole answer is in. The cost of a small
 * exchange: two segments (each carrying the ACK of the other), four tasks,
 * the upcalls to both applications, and the link.
 *
 *   npx tsx apps/bench/tcp-rr.ts            # table
 *   npx tsx apps/bench/tcp-rr.ts --json     # one JSON line
 *   npx tsx apps/bench/tcp-rr.ts --quick    # fewer exchanges, 2 runs (--runs N: that many; default 5)
 *
 * Two hosts by createHost on a SimLink (MTU 1500, no faults, no bandwidth
 * limit, 20 µs one way), Nagle off at both ends. Figures are per round trip,
 * CPU time of both hosts (process.cpuUsage) and wall time.
 */
import { pathToFileURL } from 'node:url';
import { VirtualClock } from '../../src/core/index.js';
import { createHost } from '../../src/host.js';
import { SimLink } from '../../src/layers/nic/sim-link.js';
import { Tcp, type TcpConnection } from '../../src/layers/tcp/index.js';
import { BufferPool } from '../../src/wire/buffer.js';
import { formatMetrics, metric, roundMetric, runsFrom, type Metric, type Sample } from './measure.js';

const SIZE = 64;
const PORT = 7;

/** One run on a fresh pair: `warm` exchanges, then `n` timed ones. */
function run(n: number, warm: number): Sample<number> {
  const clock = new VirtualClock();
  const link = new SimLink(clock, { bandwidthBps: Infinity, delayMs: 0.02 });
  const pool = (): BufferPool => new BufferPool({ maxFree: 1024 });
  const a = createHost({ name: 'client', link, ip: '10.0.0.1/24', pool: pool(), seed: 1 });
  const b = createHost({ name: 'server', link, ip: '10.0.0.2/24', pool: pool(), seed: 2 });
  const client = new Tcp(a.rt, a.ip);
  const server = new Tcp(b.rt, b.ip);
  const request = new Uint8Array(SIZE).fill(0x71);
  server.listen(PORT, b.rt.app('responder'), {
    onAccept: () => ({
      // An echo: the answer is the request's bytes (TCP copies them into its send buffer).
      onData: (c: TcpConnection, d: Uint8Array) => void c.send(d),
    }),
  }, { noDelay: true });
  let done = 0;
  let got = 0;
  let conn: TcpConnection | undefined;
  client.connect(b.address, PORT, a.rt.app('requester'), {
    onConnect: (c) => {
      conn = c;
      c.send(request);
    },
    onData: (c, d) => {
      got += d.length;
      if (got < SIZE) return;
      if (got > SIZE || d[d.length - 1] !== 0x71) throw new Error('answer garbled');
      got = 0;
      done++;
      c.send(request);
    },
  }, { noDelay: true });
  const step = (): boolean => {
    const next = clock.nextAt();
    if (next === undefined) return false;
    clock.advanceTo(next);
    return true;
  };
  while (done < warm && step());
  const start = done;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  while (done < start + n && step());
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  if (done < start + n || conn === undefined) throw new Error(`only ${done - start} of ${n} exchanges`);
  return { wallMs, cpuMs: (c.user + c.system) / 1000, value: n };
}

export function runTcpRrBench(n = 50_000, runs = 5): { metrics: Metric[] } {
  const samples: Array<Sample<number>> = [];
  for (let i = 0; i < Math.max(1, runs); i++) samples.push(run(n, Math.min(5000, n)));
  return { metrics: [roundMetric(metric(`${SIZE}B round trip usPerExchange`, 'us/rt', samples, (ms, s) => (ms * 1000) / s.value), 2)] };
}

function main(): void {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const r = runTcpRrBench(quick ? 10_000 : 50_000, runsFrom(args, 5, 2));
  if (args.includes('--json')) console.log(JSON.stringify({ bench: 'tcp-rr', metrics: r.metrics }));
  else {
    console.log(`${SIZE}-byte request, ${SIZE}-byte answer, one connection, Nagle off; per exchange, both hosts`);
    console.log(formatMetrics(r.metrics));
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
