/**
 * Trace replay throughput, side by side with tshark, both as a user runs them.
 *
 *   npx tsx apps/bench/replay.ts                 # table
 *   npx tsx apps/bench/replay.ts --json          # one JSON line
 *   npx tsx apps/bench/replay.ts --quick         # 100,000 frames, 2 rounds
 *   npx tsx apps/bench/replay.ts --frames 200000 --runs 5 --keep /tmp/bench.pcap   # generated once, reused after
 *   npx tsx apps/bench/replay.ts --source        # time the sources through tsx, not the build
 *
 * Generates a capture of at least a million frames (many interleaved TCP flows:
 * handshakes, data both ways in segments from 1 byte to a full MSS, pure ACKs,
 * retransmissions, reordering, FIN teardown) with PcapWriter. Builds the CLI
 * as the package ships it (tsc with tsconfig.build.json into a temporary
 * folder; `--source` times `node --import tsx apps/replay.ts` instead). Then, in
 * rounds, in turn: the replay CLI in a process of its own (`node
 * dist/apps/replay.js FILE --json`, start-up included; it reassembles and hashes
 * every flow, both ways, and decodes port-23 flows into transcripts), once with
 * its default worker threads (`--jobs` = the cores there are) and once with
 * `--jobs 1`, and, when installed,
 * `tshark -q -z follow,tcp,raw,0 -r FILE` (which dissects every frame through
 * all its protocol layers, then prints stream 0). Each child's wall time and
 * CPU time (user + system, from GNU time's rusage of the child; without
 * /usr/bin/time from bash's `time`) are kept; min and median are printed.
 * Stream 0 from both tools is checked to be identical.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatTable, fmt, roundMetric, runsFrom, summarise, type Metric, type Stat } from './measure.js';
import { Rng } from '../../src/core/random.js';
import { PcapWriter } from '../../src/trace/pcap.js';
import { setIpv4Checksum } from '../../src/wire/ipv4.js';
import { setTcpChecksum, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from '../../src/wire/tcp.js';
import type { FlowReport } from '../../src/trace/report.js';

export interface ReplayBenchOptions {
  /** Frames to generate at least (default 1,000,000). */
  readonly frames?: number;
  /** Flows open at once (default 256). */
  readonly concurrency?: number;
  readonly seed?: number;
  /** Keep the capture at this path instead of a temporary file (and reuse it when generated with the same parameters). */
  readonly keep?: string;
  /** Skip tshark even when installed. */
  readonly noTshark?: boolean;
  /** Rounds (each: replay once, tshark once; default 3). */
  readonly runs?: number;
  /** Progress lines on stderr. */
  readonly verbose?: boolean;
  /** Time the TypeScript sources through tsx instead of the built CLI. */
  readonly source?: boolean;
}

export interface ReplayBenchRow {
  readonly tool: string;
  /** What the tool does with the capture. */
  readonly does: string;
  readonly command: string;
  /** Wall seconds, median of the runs (frames/s and MB/s from it). */
  readonly seconds: number;
  readonly framesPerSecond: number;
  readonly megabytesPerSecond: number;
  /** Seconds of the child process by each clock (cpu: user + system), min and median. */
  readonly wall: Stat;
  readonly cpu: Stat;
  readonly runs: number;
  /** Largest resident set of the runs (null when unknown). */
  readonly peakRssMb: number | null;
}

export interface ReplayBenchResult {
  readonly bench: 'replay';
  readonly node: string;
  readonly frames: number;
  readonly flows: number;
  readonly fileBytes: number;
  /** Seconds generating the capture (or checking a kept one). */
  readonly generateSeconds: number;
  readonly rows: readonly ReplayBenchRow[];
  /** tshark time / replay time (default jobs), wall medians (above 1: the replay is faster). */
  readonly speedup: number | null;
  /** The same by CPU time medians. */
  readonly speedupCpu: number | null;
  /** tshark time / replay time with --jobs 1: wall, CPU medians. */
  readonly speedupOneJob: number | null;
  readonly speedupOneJobCpu: number | null;
  /** Worker threads the default replay used. */
  readonly jobs: number;
  /** How the CLI was run: the build or the sources. */
  readonly cli: string;
  /** How the children's CPU time was taken. */
  readonly cpuFrom: string;
  readonly metrics: readonly Metric[];
  /** Whether stream 0's bytes, both ways, were identical from both tools (null without tshark). */
  readonly stream0Agrees: boolean | null;
  /** The replay CLI's peak RSS (null when unknown). */
  readonly peakRssMb: number | null;
}

const TSHARK = ['/usr/bin/tshark', '/usr/local/bin/tshark'].find((p) => existsSync(p));

// ---------------------------------------------------------------------------
// Capture generation

interface GenFlow {
  readonly client: number;
  readonly server: number;
  readonly cport: number;
  readonly sport: number;
  cseq: number;
  sseq: number;
  /** Data exchanges left before teardown. */
  left: number;
  /** A Telnet flow carries text (login, commands, their output), the others arbitrary bytes. */
  readonly telnet: boolean;
  stage: number;
  /** A segment to send again later (retransmission) or after the next one (reordering). */
  later: Array<{ fromClient: boolean; seq: number; ack: number; len: number; off: number; flags: number; reordered: boolean }>;
}

const ETH = 14;
const IPH = 20;
const TCPH = 20;
const SYN = TCP_SYN;
const ACK = TCP_ACK;
const PSH = TCP_PSH;
const FIN = TCP_FIN;

class CaptureGenerator {
  private readonly frame = new Uint8Array(ETH + IPH + TCPH + 1460);
  private readonly noise: Uint8Array;
  private readonly text: Uint8Array;
  private readonly rng: Rng;
  private timeUs = 1_700_000_000_000_000n;
  private ipId = 0;
  written = 0;
  flows = 0;

  constructor(
    private readonly writer: PcapWriter,
    seed: number,
  ) {
    this.rng = new Rng(seed);
    this.noise = this.rng.bytes(64 * 1024 + 1460);
    this.text = terminalText(this.rng, 64 * 1024 + 1460);
  }

  /** One Ethernet/IPv4/TCP frame, written straight into the pcap (the writer copies it). */
  emit(f: GenFlow, fromClient: boolean, seq: number, ack: number, flags: number, len: number, off: number): void {
    const b = this.frame;
    const src = fromClient ? f.client : f.server;
    const dst = fromClient ? f.server : f.client;
    // Ethernet: locally administered MACs from the addresses.
    b[0] = 2; b[1] = 0; b[2] = dst >>> 24; b[3] = dst >>> 16; b[4] = dst >>> 8; b[5] = dst;
    b[6] = 2; b[7] = 0; b[8] = src >>> 24; b[9] = src >>> 16; b[10] = src >>> 8; b[11] = src;
    b[12] = 0x08; b[13] = 0x00;
    const ip = ETH;
    const total = IPH + TCPH + len;
    b[ip] = 0x45; b[ip + 1] = 0; b[ip + 2] = total >>> 8; b[ip + 3] = total;
    const id = (this.ipId = (this.ipId + 1) & 0xffff);
    b[ip + 4] = id >>> 8; b[ip + 5] = id; b[ip + 6] = 0x40; b[ip + 7] = 0; b[ip + 8] = 64; b[ip + 9] = 6;
    b[ip + 12] = src >>> 24; b[ip + 13] = src >>> 16; b[ip + 14] = src >>> 8; b[ip + 15] = src;
    b[ip + 16] = dst >>> 24; b[ip + 17] = dst >>> 16; b[ip + 18] = dst >>> 8; b[ip + 19] = dst;
    setIpv4Checksum(b, ip);
    const t = ip + IPH;
    const sp = fromClient ? f.cport : f.sport;
    const dp = fromClient ? f.sport : f.cport;
    b[t] = sp >>> 8; b[t + 1] = sp; b[t + 2] = dp >>> 8; b[t + 3] = dp;
    b[t + 4] = seq >>> 24; b[t + 5] = seq >>> 16; b[t + 6] = seq >>> 8; b[t + 7] = seq;
    b[t + 8] = ack >>> 24; b[t + 9] = ack >>> 16; b[t + 10] = ack >>> 8; b[t + 11] = ack;
    b[t + 12] = 5 << 4; b[t + 13] = flags; b[t + 14] = 0xff; b[t + 15] = 0xff;
    b[t + 18] = 0; b[t + 19] = 0;
    if (len > 0) b.set((f.telnet ? this.text : this.noise).subarray(off, off + len), t + TCPH);
    setTcpChecksum(b, t, TCPH + len, src, dst);
    this.timeUs += BigInt(5 + this.rng.int(30));
    this.writer.write({ timestampNs: this.timeUs * 1000n, data: b.subarray(0, ETH + total) });
    this.written++;
  }

  newFlow(i: number): GenFlow {
    const rng = this.rng;
    this.flows++;
    return {
      client: (0x0a000000 | (1 + (i % 250)) << 8 | (1 + rng.int(250))) >>> 0,
      server: (0x0a640000 | rng.int(4)) >>> 0,
      // One flow in ten is Telnet, so the transcriber is in the measured path too.
      cport: 1024 + rng.int(60000),
      sport: i % 10 === 0 ? 23 : 80,
      telnet: i % 10 === 0,
      cseq: rng.u32(),
      sseq: rng.u32(),
      left: 8 + rng.int(32),
      stage: 0,
      later: [],
    };
  }

  private payloadLength(f: GenFlow, fromClient: boolean): number {
    const rng = this.rng;
    // Telnet: keystrokes one at a time or short lines from the client, lines of output from the server.
    if (f.telnet) return fromClient ? (rng.chance(0.7) ? 1 : 2 + rng.int(30)) : 20 + rng.int(400);
    return rng.chance(0.7) ? 1 + rng.int(64) : 512 + rng.int(949);
  }

  /** Advances a flow by one step (one to three frames); false once it is over. */
  step(f: GenFlow): boolean {
    const rng = this.rng;
    switch (f.stage) {
      case 0:
        this.emit(f, true, f.cseq, 0, SYN, 0, 0);
        this.emit(f, false, f.sseq, (f.cseq + 1) >>> 0, SYN | ACK, 0, 0);
        f.cseq = (f.cseq + 1) >>> 0;
        f.sseq = (f.sseq + 1) >>> 0;
        this.emit(f, true, f.cseq, f.sseq, ACK, 0, 0);
        f.stage = 1;
        return true;
      case 1: {
        if (f.later.length > 0 && rng.chance(0.5)) {
          const l = f.later.shift()!;
          this.emit(f, l.fromClient, l.seq, l.ack, l.flags, l.len, l.off);
          if (l.reordered) this.emit(f, !l.fromClient, l.fromClient ? f.sseq : f.cseq, acked(f, l.fromClient), ACK, 0, 0);
          return true;
        }
        if (f.left-- <= 0) {
          f.stage = 2;
          return true;
        }
        const fromClient = rng.chance(0.6);
        const len = this.payloadLength(f, fromClient);
        const off = rng.int(64 * 1024);
        const seq = fromClient ? f.cseq : f.sseq;
        const ack = acked(f, !fromClient);
        const r = rng.float();
        const seg = { fromClient, seq, ack, len, off, flags: ACK | PSH, reordered: r < 0.01 };
        if (fromClient) f.cseq = (f.cseq + len) >>> 0;
        else f.sseq = (f.sseq + len) >>> 0;
        if (seg.reordered) {
          // Reordered: this segment comes later, after the next ones.
          f.later.push(seg);
        } else {
          this.emit(f, fromClient, seq, ack, seg.flags, len, off);
          // Retransmitted later (the first copy was seen: a duplicate on the wire).
          if (r < 0.03) f.later.push(seg);
        }
        // The receiver acknowledges what it has: not beyond a segment still on its way.
        this.emit(f, !fromClient, fromClient ? f.sseq : f.cseq, acked(f, fromClient), ACK, 0, 0);
        return true;
      }
      case 2:
        while (f.later.length > 0) {
          const l = f.later.shift()!;
          this.emit(f, l.fromClient, l.seq, l.ack, l.flags, l.len, l.off);
        }
        this.emit(f, true, f.cseq, f.sseq, FIN | ACK, 0, 0);
        this.emit(f, false, f.sseq, (f.cseq + 1) >>> 0, FIN | ACK, 0, 0);
        this.emit(f, true, (f.cseq + 1) >>> 0, (f.sseq + 1) >>> 0, ACK, 0, 0);
        f.stage = 3;
        return false;
      default:
        return false;
    }
  }
}

/** What the receiver of `client`'s (or the server's) bytes can acknowledge: up to the first segment still delayed. */
function acked(f: GenFlow, client: boolean): number {
  let a = client ? f.cseq : f.sseq;
  for (const l of f.later) if (l.reordered && l.fromClient === client && ((l.seq - a) | 0) < 0) a = l.seq;
  return a;
}

/** Lines like a shell session's output, CR LF ended. */
function terminalText(rng: Rng, size: number): Uint8Array {
  const words = ['ls', '-la', 'drwxr-xr-x', 'user', 'staff', '4096', 'Nov', '21', 'README.md', 'src', '$', 'login:', 'Password:', 'cat', 'make', 'ok', 'error:', 'total', '1.2.3', 'exit'];
  const out = new Uint8Array(size);
  let n = 0;
  while (n < size) {
    const line = Array.from({ length: 1 + rng.int(10) }, () => words[rng.int(words.length)]!).join(' ') + '\r\n';
    for (let i = 0; i < line.length && n < size; i++) out[n++] = line.charCodeAt(i);
  }
  return out;
}

/** Writes the capture; resolves with frames and flows written. */
export async function generateCapture(
  file: string,
  frames: number,
  concurrency: number,
  seed: number,
): Promise<{ frames: number; flows: number }> {
  const stream = createWriteStream(file, { highWaterMark: 1 << 20 });
  const writer = new PcapWriter(stream, { snaplen: 65535 });
  const gen = new CaptureGenerator(writer, seed);
  const rng = new Rng(seed ^ 0x5eed);
  const live: GenFlow[] = [];
  let next = 0;
  while (gen.written < frames || live.length > 0) {
    while (live.length < concurrency && gen.written < frames) live.push(gen.newFlow(next++));
    if (live.length === 0) break;
    const k = rng.int(live.length);
    if (!gen.step(live[k]!)) {
      live[k] = live[live.length - 1]!;
      live.pop();
    }
    // The writer does not wait for the file: keep what is queued bounded.
    if (stream.writableLength > 32 * 1024 * 1024) await new Promise((resolve) => stream.once('drain', resolve));
  }
  await writer.close();
  return { frames: gen.written, flows: gen.flows };
}

/**
 * A kept capture is generated once: next to it, FILE.json names what it was
 * generated from (frames, concurrency, seed, its size); a later run with the
 * same parameters and an unchanged file reuses it instead of writing it again.
 */
async function keptOrGenerated(
  file: string,
  kept: boolean,
  frames: number,
  concurrency: number,
  seed: number,
  log: (s: string) => void,
): Promise<{ frames: number; flows: number; reused: boolean }> {
  const sidecar = `${file}.json`;
  const params = { frames, concurrency, seed };
  if (kept && existsSync(file) && existsSync(sidecar)) {
    try {
      const m = JSON.parse(readFileSync(sidecar, 'utf8')) as typeof params & { written: number; flows: number; bytes: number };
      if (m.frames === frames && m.concurrency === concurrency && m.seed === seed && m.bytes === statSync(file).size) {
        return { frames: m.written, flows: m.flows, reused: true };
      }
      log(`${file}: generated with other parameters or changed since: generating it again`);
    } catch {
      // An unreadable note: generate the capture again.
    }
  }
  const gen = await generateCapture(file, frames, concurrency, seed);
  if (kept) writeFileSync(sidecar, `${JSON.stringify({ ...params, written: gen.frames, flows: gen.flows, bytes: statSync(file).size })}\n`);
  return { ...gen, reused: false };
}

// ---------------------------------------------------------------------------
// Measuring

const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface ChildRun {
  wallS: number;
  cpuS: number;
  maxRssMb: number | null;
  stdout: string;
}

/**
 * Runs a command as a child and measures it from outside: GNU time writes the
 * child's rusage to a file (exact, and not racing the child's exit); without
 * it, bash's `time` with TIMEFORMAT. stdout is captured when `keep` is set,
 * else read and dropped (the same pipe cost for both tools).
 */
function timed(cmd: string, args: readonly string[], timeFile: string, keep: (chunk: string) => void): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const quote = (x: string): string => `'${x.replace(/'/g, "'\\''")}'`;
    const [prog, argv] =
      GNU_TIME !== undefined
        ? [GNU_TIME, ['-f', '%e %U %S %M', '-o', timeFile, cmd, ...args]]
        : ['bash', ['-c', `TIMEFORMAT='%R %U %S'; { time ${[cmd, ...args].map(quote).join(' ')} 2>/dev/null ; } 2> ${quote(timeFile)}`]];
    const c = spawn(prog, argv, { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    c.stdout.setEncoding('utf8').on('data', keep);
    c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d.slice(0, 4000)));
    c.on('error', reject);
    c.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${cmd} exited with ${code}: ${err.trim().split('\n').pop() ?? ''}`));
      const f = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.trim().split(/\s+/).map(Number);
      resolve({ wallS: f[0]!, cpuS: f[1]! + f[2]!, maxRssMb: f[3] !== undefined ? f[3] / 1024 : null, stdout: '' });
    });
  });
}

/** tshark's follow,tcp,raw output: node 0's bytes, node 1's bytes (indented lines). */
function parseFollowRaw(text: string): [Buffer, Buffer] {
  const a: Buffer[] = [];
  const b: Buffer[] = [];
  let body = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('=====')) {
      if (body) break;
      continue;
    }
    if (!body) {
      if (line.startsWith('Node 1: ')) body = true;
      continue;
    }
    if (line.length === 0) continue;
    (line.startsWith('\t') ? b : a).push(Buffer.from(line.trim(), 'hex'));
  }
  return [Buffer.concat(a), Buffer.concat(b)];
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const DOES = {
  replay: 'reassembles and hashes every flow, both ways; decodes Telnet flows into transcripts; worker threads share the flows',
  replay1: 'the same in one thread',
  tshark: 'dissects every frame through all its protocol layers, then prints TCP stream 0',
};

type Tool = keyof typeof DOES;

/**
 * The CLI as `npm pack` ships it: tsc into `dir/dist` with the build's config
 * and data files; `dir/node_modules` points at the project's so its imports
 * resolve. Returns the path of the compiled replay app.
 */
function buildCli(dir: string): string {
  const tsc = path.join(projectRoot, 'node_modules/typescript/bin/tsc');
  const out = path.join(dir, 'dist');
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(projectRoot, 'tsconfig.build.json'), '--outDir', out], { cwd: projectRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the CLI failed: ${(r.stdout + r.stderr).trim().split('\n').slice(0, 3).join(' ')}`);
  for (const rel of ['apps/data/users.json', 'src/report/assets/report.js', 'src/report/assets/report.css']) {
    mkdirSync(path.dirname(path.join(out, rel)), { recursive: true });
    copyFileSync(path.join(projectRoot, rel), path.join(out, rel));
  }
  symlinkSync(path.join(projectRoot, 'node_modules'), path.join(dir, 'node_modules'));
  return path.join(out, 'apps/replay.js');
}

export async function runReplayBench(opts: ReplayBenchOptions = {}): Promise<ReplayBenchResult> {
  const frames = opts.frames ?? 1_000_000;
  const runs = Math.max(1, opts.runs ?? 3);
  const dir = mkdtempSync(path.join(tmpdir(), 'replay-bench-'));
  const file = opts.keep ?? path.join(dir, 'bench.pcap');
  const timeFile = path.join(dir, 'time.txt');
  const log = (s: string): void => {
    if (opts.verbose === true) process.stderr.write(`${s}\n`);
  };
  try {
    const g0 = performance.now();
    const gen = await keptOrGenerated(file, opts.keep !== undefined, frames, opts.concurrency ?? 256, opts.seed ?? 1, log);
    const generateSeconds = (performance.now() - g0) / 1000;
    const fileBytes = statSync(file).size;
    log(`${gen.reused ? 'reused' : 'generated'} ${gen.frames} frames, ${gen.flows} flows, ${(fileBytes / 1e6).toFixed(1)} MB in ${generateSeconds.toFixed(1)} s: ${file}`);

    const b0 = performance.now();
    const cli = opts.source === true ? path.join(projectRoot, 'apps/replay.ts') : buildCli(dir);
    const node = opts.source === true ? ['--import', 'tsx', cli] : [cli];
    log(`${opts.source === true ? 'sources' : `built the CLI in ${((performance.now() - b0) / 1000).toFixed(1)} s`}: ${cli}`);
    const jobs = availableParallelism();
    const tshark = TSHARK !== undefined && opts.noTshark !== true;
    const marker = '{"type":"flow","stream":0,';
    let stream0: FlowReport | undefined;
    let tsharkOut = '';
    const samples: Record<Tool, ChildRun[]> = { replay: [], replay1: [], tshark: [] };
    const tools: Tool[] = tshark ? ['replay', 'replay1', 'tshark'] : ['replay', 'replay1'];
    for (let k = 0; k < runs; k++) {
      // Rotate who goes first, so none always meets a warmer page cache or a quieter machine.
      const order = tools.map((_, i) => tools[(i + k) % tools.length]!);
      for (const tool of order) {
        if (tool !== 'tshark') {
          // Stream 0's record is kept from the first run, for the comparison; a small tail bridges chunk edges.
          let tail = '';
          const keep = stream0 === undefined && tool === 'replay';
          const r = await timed(process.execPath, [...node, file, '--json', ...(tool === 'replay1' ? ['--jobs', '1'] : [])], timeFile, (d) => {
            if (!keep || stream0 !== undefined) return;
            const text = tail + d;
            const at = text.indexOf(marker);
            const end = at >= 0 ? text.indexOf('\n', at) : -1;
            if (end >= 0) stream0 = JSON.parse(text.slice(at, end)) as FlowReport;
            tail = at >= 0 ? text.slice(at) : text.slice(-marker.length);
          });
          samples[tool].push(r);
          log(`${tool === 'replay' ? `replay (--jobs ${jobs})` : 'replay --jobs 1'}: ${r.wallS.toFixed(2)} s wall, ${r.cpuS.toFixed(2)} s cpu`);
        } else {
          const first = samples.tshark.length === 0;
          const r = await timed(TSHARK!, ['-q', '-z', 'follow,tcp,raw,0', '-r', file], timeFile, (d) => {
            if (first) tsharkOut += d;
          });
          samples.tshark.push(r);
          log(`tshark: ${r.wallS.toFixed(2)} s wall, ${r.cpuS.toFixed(2)} s cpu`);
        }
      }
    }
    const row = (tool: Tool, name: string, command: string): ReplayBenchRow => {
      const xs = samples[tool];
      const wall = summarise(xs.map((x) => x.wallS));
      const cpu = summarise(xs.map((x) => x.cpuS));
      const rss = xs.map((x) => x.maxRssMb).filter((x): x is number => x !== null);
      return {
        tool: name,
        does: DOES[tool],
        command,
        seconds: wall.median,
        framesPerSecond: gen.frames / wall.median,
        megabytesPerSecond: fileBytes / 1e6 / wall.median,
        wall,
        cpu,
        runs: xs.length,
        peakRssMb: rss.length > 0 ? Math.max(...rss) : null,
      };
    };
    const shown = opts.source === true ? 'node --import tsx apps/replay.ts' : 'node dist/apps/replay.js';
    const rows: ReplayBenchRow[] = [
      row('replay', `replay CLI (--jobs ${jobs})`, `${shown} ${file} --json`),
      row('replay1', 'replay CLI --jobs 1', `${shown} ${file} --json --jobs 1`),
    ];
    let speedup: number | null = null;
    let speedupCpu: number | null = null;
    let speedupOneJob: number | null = null;
    let speedupOneJobCpu: number | null = null;
    let agrees: boolean | null = null;
    if (tshark) {
      const t = row('tshark', 'tshark', `tshark -q -z follow,tcp,raw,0 -r ${file}`);
      rows.push(t);
      speedup = t.wall.median / rows[0]!.wall.median;
      speedupCpu = t.cpu.median / rows[0]!.cpu.median;
      speedupOneJob = t.wall.median / rows[1]!.wall.median;
      speedupOneJobCpu = t.cpu.median / rows[1]!.cpu.median;
      const [c, s] = parseFollowRaw(tsharkOut);
      agrees =
        stream0 !== undefined &&
        c.length === stream0.aToB.bytes &&
        sha256(c) === stream0.aToB.sha256 &&
        s.length === stream0.bToA.bytes &&
        sha256(s) === stream0.bToA.sha256;
    }
    const metrics = rows.map((r) =>
      roundMetric({ name: `${r.tool} ms`, unit: 'ms', runs: r.runs, wall: { min: r.wall.min * 1000, median: r.wall.median * 1000 }, cpu: { min: r.cpu.min * 1000, median: r.cpu.median * 1000 } }, 0),
    );
    return {
      bench: 'replay',
      node: process.version,
      frames: gen.frames,
      flows: gen.flows,
      fileBytes,
      generateSeconds,
      rows,
      speedup,
      speedupCpu,
      speedupOneJob,
      speedupOneJobCpu,
      jobs,
      cli: shown,
      cpuFrom: GNU_TIME !== undefined ? 'GNU time (rusage of the child)' : "bash's time",
      metrics,
      stream0Agrees: agrees,
      peakRssMb: rows[0]!.peakRssMb,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatReplayTable(r: ReplayBenchResult): string {
  const out = [
    `capture: ${r.frames} frames, ${r.flows} TCP flows, ${(r.fileBytes / 1e6).toFixed(1)} MB (generated or reused in ${r.generateSeconds.toFixed(1)} s), node ${r.node}`,
    formatTable(
      ['tool', 'wall min s', 'wall med s', 'cpu min s', 'cpu med s', 'frames/s', 'MB/s', 'peak RSS MB', 'runs'],
      r.rows.map((x) => [x.tool, fmt(x.wall.min), fmt(x.wall.median), fmt(x.cpu.min), fmt(x.cpu.median), Math.round(x.framesPerSecond).toString(), x.megabytesPerSecond.toFixed(1), fmt(x.peakRssMb ?? undefined), String(x.runs)]),
    ),
  ];
  if (r.speedup !== null) {
    out.push(`replay (--jobs ${r.jobs}) is ${r.speedup.toFixed(2)}x tshark's speed by wall time, ${r.speedupCpu!.toFixed(2)}x by CPU time (medians); stream 0 identical in both: ${r.stream0Agrees ? 'yes' : 'NO'}`);
    out.push(`replay --jobs 1 is ${r.speedupOneJob!.toFixed(2)}x tshark's speed by wall time, ${r.speedupOneJobCpu!.toFixed(2)}x by CPU time (medians)`);
  }
  else out.push(TSHARK === undefined ? 'tshark not installed: no comparison' : 'tshark skipped (--no-tshark)');
  out.push(`each a child process, start-up included, interleaved; cpu = user + system from ${r.cpuFrom}; frames/s and MB/s from the wall median`);
  for (const x of r.rows) out.push(`  ${x.tool}: ${x.does}\n    ${x.command}`);
  return out.join('\n');
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const frames = argValue('--frames');
  const keep = argValue('--keep');
  const quick = process.argv.includes('--quick');
  const r = await runReplayBench({
    ...(frames !== undefined ? { frames: Number(frames) } : quick ? { frames: 100_000 } : {}),
    runs: runsFrom(process.argv, 3, 2),
    ...(keep !== undefined ? { keep } : {}),
    noTshark: process.argv.includes('--no-tshark'),
    verbose: !process.argv.includes('--json'),
    source: process.argv.includes('--source'),
  });
  if (process.argv.includes('--json')) console.log(JSON.stringify(r));
  else console.log(formatReplayTable(r));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
