/**
 * The stack against the Linux kernel on a real wire, next to Node's own `net`
 * over loopback in the same run (needs root for the TAP device and namespace).
 *
 *   sudo npx tsx apps/bench/interop.ts [--mib N] [--echoes N] [--json]
 *
 * Throughput: N MiB (default 50) each way between the stack (in this process,
 * on a TAP device via the socat relay) and `nc` in the namespace; then the same
 * bytes between Node's `net` (in this process) and `nc` over 127.0.0.1. The
 * stack sends two ways: `send` + `onDrain` (data copied into TCP's send
 * buffer) and `armSend` + `onSendReady` (TCP asks for the bytes while it builds
 * each segment, so they are written straight into the outgoing packet).
 *
 * Latency: a one-byte echo, round trip as seen by the same small Node client
 * process: against the stack's echo service through TAP (the echo is sent
 * inside the receive upcall), against a Node `net` echo server over loopback,
 * and against socat's echo inside the namespace over its loopback (the kernel
 * alone, for scale).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RealClock } from '../../src/core/index.js';
import { createHost, type Host } from '../../src/host.js';
import { TapLink, tapSupport } from '../../src/layers/nic/tap.js';
import { Tcp, type TcpConnection } from '../../src/layers/tcp/index.js';
import { parseIp4 } from '../../src/wire/addr.js';

export interface InteropBenchOptions {
  /** MiB moved per throughput row (default 50). */
  mib?: number;
  /** Round trips per latency row, after 200 unmeasured ones (default 2000). */
  echoes?: number;
  /** First three octets of the namespace's subnet (default 10.77.200). */
  subnet?: string;
}

export interface ThroughputRow {
  /** 'stack via TAP' or 'node net via loopback'. */
  path: string;
  /** Who sends: e.g. 'kernel -> stack'. */
  direction: string;
  /** How the sender is driven. */
  method: string;
  bytes: number;
  ms: number;
  mbitPerSec: number;
  /** sha256 of what arrived equals what was sent. */
  exact: boolean;
  error?: string;
}

export interface LatencyRow {
  path: string;
  echoes: number;
  minUs: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  meanUs: number;
  error?: string;
}

export interface InteropBenchResult {
  node: string;
  kernel: string;
  mib: number;
  /** Why the stack rows are missing (no root, no /dev/net/tun...). */
  skipped?: string;
  throughput: ThroughputRow[];
  latency: LatencyRow[];
}

const MIB = 1024 * 1024;

function mbit(bytes: number, ms: number): number {
  return (bytes * 8) / (ms * 1000);
}

function makeData(size: number, file: string): { bytes: Buffer; sha256: string } {
  const c = createCipheriv('aes-128-ctr', Buffer.alloc(16, 0x5a), Buffer.alloc(16, 0xa5));
  const bytes = Buffer.concat([c.update(Buffer.alloc(size)), c.final()]);
  writeFileSync(file, bytes);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

interface Proc {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Spawn (in the namespace when `link` is given) and collect the output. */
function run(link: TapLink | null, cmd: string, args: string[], timeoutMs: number): Promise<Proc> {
  const child = link !== null ? link.spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.once('close', (status) => {
      clearTimeout(t);
      resolve({ status, stdout, stderr });
    }),
  );
}

async function waitListening(link: TapLink | null, port: number): Promise<void> {
  const end = Date.now() + 10_000;
  const args = ['-Htln', `sport = :${port}`];
  for (;;) {
    const out = link !== null ? link.exec('ss', args).stdout : spawnSync('ss', args, { encoding: 'utf8' }).stdout;
    if (out.trim() !== '') return;
    if (Date.now() > end) throw new Error(`nothing listens on port ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

// ---- the stack through TAP ---------------------------------------------------------

async function stackReceives(link: TapLink, tcp: Tcp, host: Host, file: string, want: string, stackIp: string, port: number): Promise<ThroughputRow> {
  const app = host.rt.app(`bench-sink-${port}`);
  const hash = createHash('sha256');
  let n = 0;
  let t0 = 0;
  let t1 = 0;
  let error: string | undefined;
  const done = new Promise<void>((resolve) => {
    const l = tcp.listen(port, app, {
      onAccept: () => ({
        onConnect: () => (t0 = performance.now()),
        onData: (_c: TcpConnection, d: Uint8Array) => {
          hash.update(d);
          n += d.length;
        },
        onClose: (c: TcpConnection, how: 'peer-fin' | 'closed') => {
          if (how === 'peer-fin') {
            t1 = performance.now();
            c.close();
          } else {
            l.close();
            resolve();
          }
        },
        onError: (_c: TcpConnection, e: Error) => {
          error = e.message;
          resolve();
        },
      }),
    });
  });
  const peer = run(link, 'sh', ['-c', `exec nc -N ${stackIp} ${port} < '${file}'`], 600_000);
  await Promise.race([done, peer.then(() => new Promise((r) => setTimeout(r, 5000)))]);
  await peer;
  const ms = (t1 || performance.now()) - t0;
  return { path: 'stack via TAP', direction: 'kernel -> stack', method: 'onData', bytes: n, ms, mbitPerSec: mbit(n, ms), exact: hash.digest('hex') === want, ...(error ? { error } : {}) };
}

async function stackSends(link: TapLink, tcp: Tcp, host: Host, data: Buffer, want: string, kernelIp: string, port: number, method: 'send' | 'armSend'): Promise<ThroughputRow> {
  const peer = run(link, 'sh', ['-c', `nc -d -l -p ${port} | sha256sum`], 600_000);
  await waitListening(link, port);
  const app = host.rt.app(`bench-source-${port}`);
  let off = 0;
  let t0 = 0;
  let error: string | undefined;
  const pump = (c: TcpConnection): void => {
    while (off < data.length) {
      const n = Math.min(65_536, data.length - off);
      const more = c.send(data.subarray(off, off + n));
      off += n;
      if (!more) return;
    }
    c.close();
  };
  const done = new Promise<void>((resolve) => {
    tcp.connect(parseIp4(kernelIp), port, app, {
      onConnect: (c) => {
        t0 = performance.now();
        if (method === 'send') pump(c);
        else c.armSend();
      },
      onDrain: (c) => {
        if (method === 'send') pump(c);
      },
      // TCP is building a segment and asks for its payload: written in place.
      onSendReady: (c, w) => {
        off += w.write(data.subarray(off, off + w.space));
        if (off < data.length) c.armSend();
        else c.close();
      },
      onClose: (_c, how) => {
        if (how === 'closed') resolve();
      },
      onError: (_c, e) => {
        error = e.message;
        resolve();
      },
    });
  });
  await Promise.race([done, peer.then(() => new Promise((r) => setTimeout(r, 5000)))]);
  const ms = performance.now() - t0;
  const got = (await peer).stdout.trim().split(/\s+/)[0];
  return {
    path: 'stack via TAP',
    direction: 'stack -> kernel',
    method: method === 'send' ? 'send/onDrain' : 'armSend/onSendReady',
    bytes: off,
    ms,
    mbitPerSec: mbit(off, ms),
    exact: got === want,
    ...(error ? { error } : {}),
  };
}

// ---- Node's net over loopback --------------------------------------------------------

async function nodeReceives(file: string, want: string): Promise<ThroughputRow> {
  const hash = createHash('sha256');
  let n = 0;
  let t0 = 0;
  let t1 = 0;
  const server = net.createServer((sock) => {
    t0 = performance.now();
    sock.on('data', (d) => {
      hash.update(d);
      n += d.length;
    });
    sock.on('end', () => {
      t1 = performance.now();
      sock.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await run(null, 'sh', ['-c', `exec nc -N 127.0.0.1 ${port} < '${file}'`], 600_000);
  server.close();
  const ms = t1 - t0;
  return { path: 'node net via loopback', direction: 'kernel -> node', method: "socket 'data'", bytes: n, ms, mbitPerSec: mbit(n, ms), exact: hash.digest('hex') === want };
}

async function nodeSends(data: Buffer, want: string): Promise<ThroughputRow> {
  const port = await freeTcpPort();
  const peer = run(null, 'sh', ['-c', `nc -d -l -s 127.0.0.1 -p ${port} | sha256sum`], 600_000);
  await waitListening(null, port);
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port }, () => {
      let off = 0;
      const pump = (): void => {
        while (off < data.length) {
          const n = Math.min(65_536, data.length - off);
          const more = sock.write(data.subarray(off, off + n));
          off += n;
          if (!more) {
            sock.once('drain', pump);
            return;
          }
        }
        sock.end();
      };
      pump();
    });
    sock.on('error', reject);
    sock.on('close', () => resolve());
    sock.resume();
  });
  const ms = performance.now() - t0;
  const got = (await peer).stdout.trim().split(/\s+/)[0];
  return { path: 'node net via loopback', direction: 'node -> kernel', method: 'socket.write/drain', bytes: data.length, ms, mbitPerSec: mbit(data.length, ms), exact: got === want };
}

// ---- one-byte echo -----------------------------------------------------------------------

/** The measuring client: a separate Node process, so every row pays for the same client. */
const ECHO_CLIENT = `
const net = require('net');
const [host, port, warm, n] = process.argv.slice(1).map((x, i) => (i === 0 ? x : Number(x)));
const samples = [];
let t = 0, i = 0;
const s = net.connect({ host, port }, () => { s.setNoDelay(true); t = process.hrtime.bigint(); s.write('x'); });
s.on('data', (d) => {
  for (let k = 0; k < d.length; k++) {
    const now = process.hrtime.bigint();
    if (i >= warm) samples.push(Number(now - t) / 1000);
    i++;
    if (i >= warm + n) { s.end(); return; }
    t = process.hrtime.bigint();
    s.write('x');
  }
});
s.on('close', () => { process.stdout.write(JSON.stringify(samples)); });
s.on('error', (e) => { process.stderr.write(String(e)); process.exit(1); });
`;

async function echoLatency(link: TapLink | null, label: string, host: string, port: number, echoes: number): Promise<LatencyRow> {
  const r = await run(link, process.execPath, ['-e', ECHO_CLIENT, host, String(port), '200', String(echoes)], 120_000);
  let samples: number[] = [];
  try {
    samples = JSON.parse(r.stdout) as number[];
  } catch {
    // reported below
  }
  if (samples.length === 0) return { path: label, echoes: 0, minUs: NaN, p50Us: NaN, p90Us: NaN, p99Us: NaN, meanUs: NaN, error: r.stderr.trim() || `exit ${r.status}` };
  samples.sort((a, b) => a - b);
  const q = (p: number): number => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!;
  return {
    path: label,
    echoes: samples.length,
    minUs: samples[0]!,
    p50Us: q(0.5),
    p90Us: q(0.9),
    p99Us: q(0.99),
    meanUs: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

// ---- the run ---------------------------------------------------------------------------------

export async function runInteropBench(opts: InteropBenchOptions = {}): Promise<InteropBenchResult> {
  const mib = opts.mib ?? 50;
  const echoes = opts.echoes ?? 2000;
  const subnet = opts.subnet ?? '10.77.200';
  const dir = mkdtempSync(path.join(tmpdir(), 'upcall-bench-'));
  const file = path.join(dir, 'data.bin');
  const { bytes, sha256 } = makeData(mib * MIB, file);
  const result: InteropBenchResult = {
    node: process.version,
    kernel: spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim(),
    mib,
    throughput: [],
    latency: [],
  };
  try {
    const support = tapSupport();
    const tools = ['nc', 'ss', 'sha256sum', 'socat'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
    if (!support.ok || tools.length > 0) {
      result.skipped = support.ok ? `not installed: ${tools.join(', ')}` : support.reason;
    } else {
      const kernelIp = `${subnet}.1`;
      const stackIp = `${subnet}.2`;
      const link = await TapLink.create({ kernelAddress: `${kernelIp}/24`, stackMac: 0x0200_4d77_0b02 });
      try {
        const host = createHost({ name: 'bench', device: link.device, ip: `${stackIp}/24`, clock: new RealClock(), seed: 1, tcp: true });
        const tcp = host.tcp!;
        result.throughput.push(await stackReceives(link, tcp, host, file, sha256, stackIp, 5001));
        result.throughput.push(await stackSends(link, tcp, host, bytes, sha256, kernelIp, 5002, 'send'));
        result.throughput.push(await stackSends(link, tcp, host, bytes, sha256, kernelIp, 5003, 'armSend'));
        // The echo service: the reply is written inside onData, so it leaves with the ACK.
        const echoApp = host.rt.app('bench-echo');
        tcp.listen(7, echoApp, { onAccept: () => ({ onData: (c: TcpConnection, d: Uint8Array) => void c.send(d), onClose: (c: TcpConnection) => c.close() }) }, { noDelay: true });
        result.latency.push(await echoLatency(link, 'stack echo via TAP', stackIp, 7, echoes));
        link.spawn('socat', ['TCP-LISTEN:7,bind=127.0.0.1,reuseaddr,fork', 'PIPE'], { stdio: 'ignore' });
        await waitListening(link, 7);
        result.latency.push(await echoLatency(link, 'socat echo via namespace loopback', '127.0.0.1', 7, echoes));
      } finally {
        await link.destroy();
      }
    }
    result.throughput.push(await nodeReceives(file, sha256));
    result.throughput.push(await nodeSends(bytes, sha256));
    const echo = net.createServer((s) => {
      s.setNoDelay(true);
      s.on('data', (d) => s.write(d));
      s.on('end', () => s.end());
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    result.latency.push(await echoLatency(null, 'node net echo via loopback', '127.0.0.1', (echo.address() as net.AddressInfo).port, echoes));
    echo.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatInteropTable(r: InteropBenchResult): string {
  const out: string[] = [];
  out.push(`Interop benchmark: node ${r.node}, Linux ${r.kernel}, ${r.mib} MiB per transfer`);
  if (r.skipped !== undefined) out.push(`stack rows skipped: ${r.skipped}`);
  out.push('');
  out.push(
    table(
      ['path', 'direction', 'sender driven by', 'MiB', 'seconds', 'Mbit/s', 'MiB/s', 'sha256'],
      r.throughput.map((t) => [
        t.path,
        t.direction,
        t.method,
        (t.bytes / MIB).toFixed(1),
        (t.ms / 1000).toFixed(2),
        t.mbitPerSec.toFixed(0),
        (t.bytes / MIB / (t.ms / 1000)).toFixed(1),
        t.error !== undefined ? `error: ${t.error}` : t.exact ? 'exact' : 'MISMATCH',
      ]),
    ),
  );
  out.push('');
  out.push(
    table(
      ['one-byte echo', 'round trips', '', 'min us', 'p50 us', 'p90 us', 'p99 us', 'mean us'],
      r.latency.map((l) => [
        l.path,
        String(l.echoes),
        l.error ?? '',
        l.minUs.toFixed(0),
        l.p50Us.toFixed(0),
        l.p90Us.toFixed(0),
        l.p99Us.toFixed(0),
        l.meanUs.toFixed(0),
      ]),
    ),
  );
  return out.join('\n');
}

function arg(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
}

async function main(): Promise<void> {
  const r = await runInteropBench({ ...(arg('--mib') !== undefined ? { mib: arg('--mib')! } : {}), ...(arg('--echoes') !== undefined ? { echoes: arg('--echoes')! } : {}) });
  if (process.argv.includes('--json')) console.log(JSON.stringify({ bench: 'interop', ...r }));
  else console.log(formatInteropTable(r));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
