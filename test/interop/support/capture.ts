/**
 * What the kernel sees, recorded and judged by tools that are not ours:
 * tcpdump on the TAP inside the namespace, and tshark over the file.
 *
 * The TAP device has no offloads (socat does not ask for a virtio header), so
 * the kernel finishes every checksum before the capture point: a bad checksum
 * in either direction is a real one, not an artefact of offload.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TapLink } from '../../../src/layers/nic/tap.js';

export interface CaptureStats {
  captured: number;
  droppedByKernel: number;
}

export class Capture {
  private stopped: Promise<CaptureStats> | null = null;

  private constructor(
    private readonly proc: ChildProcess,
    readonly file: string,
    private readonly stderr: () => string,
  ) {}

  /** Start tcpdump on the link's TAP; resolves once it is listening. `snaplen` 0: whole frames. */
  static async start(link: TapLink, file: string, snaplen = 0): Promise<Capture> {
    // -Z root: tcpdump would otherwise drop to its own user and fail to write here.
    // A large ring (-B, KiB) and no per-packet flushing (-U) or wakeups
    // (--immediate-mode) keep up with 50 MiB/s on a small machine; the price is
    // that frames sit in a ring block until it fills or its timeout (1 s)
    // passes, so `stop` waits that long before interrupting tcpdump.
    const proc = link.spawn(
      'tcpdump',
      ['-i', link.tapName, '-n', '-B', '65536', '-s', String(snaplen), '-Z', 'root', '-w', file],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const end = Date.now() + 10_000;
    while (!/listening on/.test(err)) {
      if (proc.exitCode !== null || Date.now() > end) {
        proc.kill('SIGKILL');
        throw new Error(`tcpdump did not start: ${err.trim()}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return new Capture(proc, file, () => err);
  }

  /** Stop (SIGINT flushes the file) and return tcpdump's own counts. */
  stop(): Promise<CaptureStats> {
    if (this.stopped !== null) return this.stopped;
    this.stopped = new Promise((resolve) => {
      // Let the ring's last block time out and reach tcpdump (see `start`).
      setTimeout(() => this.interrupt(resolve), 1300);
    });
    return this.stopped;
  }

  private interrupt(resolve: (s: CaptureStats) => void): void {
    const done = (): void => {
      const err = this.stderr();
      resolve({
        captured: Number(/(\d+) packets? captured/.exec(err)?.[1] ?? NaN),
        droppedByKernel: Number(/(\d+) packets? dropped by kernel/.exec(err)?.[1] ?? NaN),
      });
    };
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
      done();
      return;
    }
    const kill = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    this.proc.once('close', () => {
      clearTimeout(kill);
      done();
    });
    this.proc.kill('SIGINT');
  }
}

export interface WireCheck {
  packets: number;
  /** Frames tshark marks `_ws.malformed`. */
  malformed: number;
  badIpChecksums: number;
  badTcpChecksums: number;
  badIcmpChecksums: number;
  /** TCP segments whose checksum tshark could not verify (truncated by the snaplen). */
  unverifiedTcpChecksums: number;
  /**
   * Kernel segments carrying 0xffff where the sum comes to 0x0000: the same
   * value in one's complement (RFC 1624), produced by Linux's incremental
   * checksum updates now and then, and flagged by tshark. Not an error; from
   * the stack the same thing would be counted as a bad checksum.
   */
  kernelFfffChecksums: number;
  /** Expert items of severity "error" other than bad checksums and malformed packets. */
  otherErrors: number;
  /** RST segments, by sender. */
  resetsFromKernel: number;
  resetsFromStack: number;
  /** Segments tshark considers (suspected) retransmissions, by sender. */
  retransmissionsFromKernel: number;
  retransmissionsFromStack: number;
  /** TCP payload bytes, by sender (from the headers, so also right with a small snaplen). */
  tcpBytesFromKernel: number;
  tcpBytesFromStack: number;
  /** The first few offending frames, as tshark describes them. */
  problems: string[];
}

const EXPERT_ERROR = '8388608';

/**
 * Read a capture with tshark, checksum verification on, and count what the
 * suite asserts on. Throws only when tshark itself cannot read the file.
 */
export function checkCapture(file: string, kernelIp: string, stackIp: string, opts: { dataPorts?: readonly number[] } = {}): WireCheck {
  // Random bulk payload looks like some protocol to a heuristic dissector now
  // and then (Thrift, say), which then reports errors about our test data.
  const decodeAs = (opts.dataPorts ?? []).flatMap((p) => ['-d', `tcp.port==${p},data`]);
  const r = spawnSync(
    'tshark',
    [
      '-r', file, '-n', ...decodeAs,
      '-o', 'ip.check_checksum:TRUE',
      '-o', 'tcp.check_checksum:TRUE',
      '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=;',
      '-e', 'frame.number', '-e', 'ip.src', '-e', 'ip.dst',
      '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status', '-e', 'icmp.checksum.status',
      '-e', 'tcp.flags.reset', '-e', 'tcp.len',
      '-e', '_ws.malformed', '-e', '_ws.expert.severity', '-e', '_ws.expert.message',
      '-e', 'tcp.checksum.ffff',
    ],
    { encoding: 'utf8', maxBuffer: 1 << 30 },
  );
  if (r.status !== 0) throw new Error(`tshark could not read ${file}: ${r.stderr}`);
  const c: WireCheck = {
    packets: 0,
    malformed: 0,
    badIpChecksums: 0,
    badTcpChecksums: 0,
    badIcmpChecksums: 0,
    unverifiedTcpChecksums: 0,
    kernelFfffChecksums: 0,
    otherErrors: 0,
    resetsFromKernel: 0,
    resetsFromStack: 0,
    retransmissionsFromKernel: 0,
    retransmissionsFromStack: 0,
    tcpBytesFromKernel: 0,
    tcpBytesFromStack: 0,
    problems: [],
  };
  const problem = (no: string, what: string): void => {
    if (c.problems.length < 10) c.problems.push(`frame ${no}: ${what}`);
  };
  for (const line of r.stdout.split('\n')) {
    if (line === '') continue;
    const [no = '', srcs = '', , ipSum = '', tcpSums = '', icmpSums = '', rsts = '', tcpLens = '', malformed = '', severity = '', messages = '', ffff = ''] =
      line.split('\t');
    // With occurrence=a a quoted header (an ICMP error) adds a second value: the outer one comes first.
    const first = (v: string): string => v.split(';')[0]!;
    const src = first(srcs);
    const rst = first(rsts);
    const tcpLen = first(tcpLens);
    const tcpSum = tcpSums.split(';').includes('0') ? '0' : first(tcpSums);
    c.packets++;
    const fromKernel = src === kernelIp;
    const fromStack = src === stackIp;
    // Status 0 is "Bad" (1 good, 2 unverified, 3 not present).
    if (ipSum.split(';').includes('0')) {
      c.badIpChecksums++;
      problem(no, `bad IP checksum from ${src}`);
    }
    if (icmpSums.split(';').includes('0')) {
      c.badIcmpChecksums++;
      problem(no, `bad ICMP checksum from ${src}`);
    }
    const kernelFfff = fromKernel && ffff !== '';
    if (tcpSum === '0' && kernelFfff) {
      c.kernelFfffChecksums++;
    } else if (tcpSum === '0') {
      c.badTcpChecksums++;
      problem(no, `bad TCP checksum from ${src}`);
    } else if (tcpSum === '2') c.unverifiedTcpChecksums++;
    if (malformed !== '') {
      c.malformed++;
      problem(no, `malformed: ${malformed}`);
    }
    if (rst === '1' || rst === 'True') {
      if (fromKernel) c.resetsFromKernel++;
      else if (fromStack) c.resetsFromStack++;
    }
    if (tcpLen !== '') {
      const n = Number(tcpLen);
      if (fromKernel) c.tcpBytesFromKernel += n;
      else if (fromStack) c.tcpBytesFromStack += n;
    }
    if (messages !== '') {
      const sev = severity.split(';');
      const msgs = messages.split(';');
      for (let i = 0; i < msgs.length; i++) {
        const m = msgs[i]!;
        if (/retransmission/i.test(m)) {
          if (fromKernel) c.retransmissionsFromKernel++;
          else if (fromStack) c.retransmissionsFromStack++;
        }
        if (sev[i] === EXPERT_ERROR && !/^Bad checksum/.test(m) && !/^Malformed/.test(m) && !(kernelFfff && /0xffff instead of 0x0000/.test(m))) {
          c.otherErrors++;
          problem(no, m);
        }
      }
    }
  }
  return c;
}

/** One line for a test's log. */
export function describeCheck(c: WireCheck): string {
  return (
    `${c.packets} frames: malformed ${c.malformed}, bad checksums ip ${c.badIpChecksums} icmp ${c.badIcmpChecksums} tcp ${c.badTcpChecksums} ` +
    `(unverified tcp ${c.unverifiedTcpChecksums}, kernel 0xffff-for-0x0000 ${c.kernelFfffChecksums}), other errors ${c.otherErrors}, ` +
    `RST kernel ${c.resetsFromKernel} stack ${c.resetsFromStack}, ` +
    `retransmissions kernel ${c.retransmissionsFromKernel} stack ${c.retransmissionsFromStack}` +
    (c.problems.length > 0 ? `\n  ${c.problems.join('\n  ')}` : '')
  );
}

/** Fields of the frames matching a display filter, one array per frame. */
export function tsharkRows(file: string, filter: string, fields: readonly string[], extra: readonly string[] = []): string[][] {
  const r = spawnSync(
    'tshark',
    ['-r', file, '-n', ...extra, '-Y', filter, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,', ...fields.flatMap((f) => ['-e', f])],
    { encoding: 'utf8', maxBuffer: 1 << 30 },
  );
  if (r.status !== 0) throw new Error(`tshark could not read ${file}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

/** Any of the things the suite asserts never happen. */
export function wireProblems(c: WireCheck): number {
  return c.malformed + c.badIpChecksums + c.badIcmpChecksums + c.badTcpChecksums + c.otherErrors + c.resetsFromKernel + c.resetsFromStack;
}

/**
 * When the capture shows a problem, move it where it outlives the test's
 * temporary directory and say where; returns the new path, or null.
 */
export function keepIfProblems(file: string, c: WireCheck): string | null {
  if (wireProblems(c) === 0) return null;
  const kept = path.join(tmpdir(), `uit-kept-${process.pid}-${path.basename(file)}`);
  renameSync(file, kept);
  console.warn(`interop: capture with problems kept at ${kept}`);
  return kept;
}
