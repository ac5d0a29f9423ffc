/**
 * Bulk TCP transfer between two in-process stacks.
 *
 *   npx tsx apps/bench/tcp-bulk.ts            # table
 *   npx tsx apps/bench/tcp-bulk.ts --json     # one JSON line
 *   npx tsx apps/bench/tcp-bulk.ts --mb 200   # bytes per run (default 400 MB at 1500, 800 at 9000)
 *   npx tsx apps/bench/tcp-bulk.ts --quick    # 50 MB a run, 2 runs (--runs N: that many; default 3)
 *   npx tsx apps/bench/tcp-bulk.ts --only 'stack 1500'   # one case (for a profile)
 *
 * 'stack' rows: two hosts built by createHost (NIC, ARP, IPv4) on a SimLink
 * with no faults and no bandwidth limit, a sender pumping 64 KiB writes
 * through send/onDrain and a receiver counting onData bytes.
 * 'tcp only' row: the same TCP pair over a minimal in-memory IP (no Ethernet,
 * ARP, IP header or link copy), to show what TCP and the runtime cost alone.
 *
 * Columns: Gbps by wall clock and by CPU time (process.cpuUsage: what the
 * stack would do with a core to itself), data segments per second, CPU
 * microseconds per segment (data and ACKs, both hosts) and per data segment.
 */
import { pathToFileURL } from 'node:url';
import { Module, Runtime, SlotTable, VirtualClock, type Binding } from '../../src/core/index.js';
import { createHost } from '../../src/host.js';
import type { IpPacket, IpSlots, SendResult } from '../../src/layers/ip.js';
import { SimLink } from '../../src/layers/nic/sim-link.js';
import { Tcp, type TcpConnection, type TcpConfig } from '../../src/layers/tcp/index.js';
import { BufferPool, type PacketBuffer } from '../../src/wire/buffer.js';
import type { Ipv4Header } from '../../src/wire/ipv4.js';
import { formatMetrics, roundMetric, runsFrom, summarise, type Metric, type Stat } from './measure.js';

export interface TcpBulkRow {
  substrate: 'stack' | 'tcp only';
  mtu: number;
  mb: number;
  seconds: number;
  gbpsWall: number;
  gbpsCpu: number;
  dataSegmentsPerSec: number;
  cpuUsPerSegment: number;
  cpuUsPerDataSegment: number;
  pureAcks: number;
  retransmissions: number;
  /** The row's other fields come from the run with the median CPU time; these from all runs. */
  runs: number;
  /** µs per data segment by each clock, min and median of the runs. */
  wall: Stat;
  cpu: Stat;
}

const CONFIG: Partial<TcpConfig> = { sendBufferSize: 1 << 20, receiveBufferSize: 1 << 20 };
const CHUNK = new Uint8Array(64 * 1024);

interface Pair {
  clock: VirtualClock;
  sender: Tcp;
  receiver: Tcp;
  dst: number;
  senderApp: Module;
  receiverApp: Module;
  /** Deliver what is in flight; returns false when idle. */
  step(): boolean;
}

function stackPair(mtu: number): Pair {
  const clock = new VirtualClock();
  const link = new SimLink(clock, { mtu, bandwidthBps: Infinity, delayMs: 0.02, queueLimit: 1 << 20 });
  const pool = (): BufferPool => new BufferPool({ bufferSize: 128 + mtu + 64, maxFree: 4096 });
  const a = createHost({ name: 'a', link, ip: '10.0.0.1/24', pool: pool(), seed: 1 });
  const b = createHost({ name: 'b', link, ip: '10.0.0.2/24', pool: pool(), seed: 2 });
  return {
    clock,
    sender: new Tcp(a.rt, a.ip, CONFIG),
    receiver: new Tcp(b.rt, b.ip, CONFIG),
    dst: b.address,
    senderApp: a.rt.app('bulk-sender'),
    receiverApp: b.rt.app('bulk-receiver'),
    step: () => {
      const next = clock.nextAt();
      if (next === undefined) return false;
      clock.advanceTo(next);
      return true;
    },
  };
}

const HEADER: Ipv4Header = {
  dscp: 0, ecn: 0, totalLength: 0, identification: 0, flags: 0, fragmentOffset: 0,
  ttl: 64, protocol: 6, checksum: 0, src: 0, dst: 0, options: new Uint8Array(0),
};

/** The smallest IP that TCP can sit on: hands the very buffer to the peer, on a queue. */
class DirectIp extends Module {
  readonly pool = new BufferPool({ maxFree: 4096, bufferSize: 128 + 9100 });
  peer!: DirectIp;
  private binding: Binding<IpSlots> | null = null;
  constructor(rt: Runtime, readonly address: number, private readonly queue: Array<[DirectIp, number, PacketBuffer]>, private readonly mtu: number) {
    super(rt, 'ip');
  }
  readonly bindProtocol = this.entry('bindProtocol', 'reject', (_protocol: number, owner: Module, h: Partial<IpSlots>): Binding<IpSlots> => {
    return (this.binding = new SlotTable<IpSlots>(this, 'protocols', { onPacket: 'one' }).bind(owner, h));
  });
  readonly send = this.entry('send', 'reentrant', (_dst: number, _protocol: number, buf: PacketBuffer): SendResult => {
    this.queue.push([this.peer, this.address, buf]);
    return 'sent';
  });
  readonly alloc = this.entry('alloc', 'reentrant', (n: number): PacketBuffer => this.pool.alloc(n));
  readonly sourceFor = this.query('sourceFor', (): number => this.address);
  readonly pathMtu = this.query('pathMtu', (): number => this.mtu);
  receive(src: number, buf: PacketBuffer): void {
    this.startTask('frame', () => {
      const pkt: IpPacket = { src, dst: this.address, protocol: 6, ttl: 64, header: HEADER, buf };
      this.upcall(this.binding!, 'onPacket', pkt);
    });
    buf.release();
  }
}

function directPair(mtu: number): Pair {
  const clock = new VirtualClock();
  const queue: Array<[DirectIp, number, PacketBuffer]> = [];
  const ra = new Runtime({ name: 'a', clock, seed: 1 });
  const rb = new Runtime({ name: 'b', clock, seed: 2 });
  const ia = new DirectIp(ra, 0x0a000001, queue, mtu);
  const ib = new DirectIp(rb, 0x0a000002, queue, mtu);
  ia.peer = ib;
  ib.peer = ia;
  return {
    clock,
    sender: new Tcp(ra, ia, CONFIG),
    receiver: new Tcp(rb, ib, CONFIG),
    dst: ib.address,
    senderApp: ra.app('bulk-sender'),
    receiverApp: rb.app('bulk-receiver'),
    step: () => {
      if (queue.length === 0) {
        const next = clock.nextAt();
        if (next === undefined) return false;
        clock.advanceTo(next);
        return true;
      }
      // Deliver a round, then let a little virtual time pass (timers stay honest).
      for (let n = queue.length; n > 0; n--) {
        const [to, src, buf] = queue.shift()!;
        to.receive(src, buf);
      }
      clock.advance(0.001);
      return true;
    },
  };
}

type Run = Omit<TcpBulkRow, 'runs' | 'wall' | 'cpu'>;

function measure(substrate: TcpBulkRow['substrate'], mtu: number, bytes: number): Run {
  const p = substrate === 'stack' ? stackPair(mtu) : directPair(mtu);
  let received = 0;
  p.receiver.listen(5001, p.receiverApp, {
    onAccept: () => ({
      onData: (_c, d) => {
        received += d.length;
      },
    }),
  });
  const warm = Math.min(64e6, bytes / 4);
  const total = warm + bytes;
  let queued = 0;
  const pump = (c: TcpConnection): void => {
    while (queued < total) {
      queued += CHUNK.length;
      if (!c.send(CHUNK)) return;
    }
    c.shutdown();
  };
  p.sender.connect(p.dst, 5001, p.senderApp, { onConnect: pump, onDrain: pump });
  while (received < warm && p.step());
  const s = p.sender.counters;
  const r = p.receiver.counters;
  const seg0 = s.segmentsOut + r.segmentsOut;
  const data0 = s.dataSegmentsOut;
  const acks0 = r.pureAcksOut;
  const rtx0 = s.retransmissions;
  const got0 = received;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (received < total && p.step());
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  const moved = received - got0;
  const segs = s.segmentsOut + r.segmentsOut - seg0;
  const dataSegs = s.dataSegmentsOut - data0;
  return {
    substrate,
    mtu,
    mb: Math.round(moved / 1e6),
    seconds: round(seconds, 3),
    gbpsWall: round((moved * 8) / seconds / 1e9, 3),
    gbpsCpu: round((moved * 8) / cpuSec / 1e9, 3),
    dataSegmentsPerSec: Math.round(dataSegs / seconds),
    cpuUsPerSegment: round((cpuSec * 1e6) / segs, 2),
    cpuUsPerDataSegment: round((cpuSec * 1e6) / dataSegs, 2),
    pureAcks: r.pureAcksOut - acks0,
    retransmissions: s.retransmissions - rtx0,
  };
}

function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** Runs one case `runs` times (a fresh pair each run). */
function repeated(substrate: TcpBulkRow['substrate'], mtu: number, bytes: number, runs: number): { row: TcpBulkRow; metric: Metric } {
  const all: Run[] = [];
  for (let i = 0; i < Math.max(1, runs); i++) all.push(measure(substrate, mtu, bytes));
  // µs per data segment by the wall clock, from the run's seconds and segment rate.
  const wallUs = all.map((r) => 1e6 / r.dataSegmentsPerSec);
  const cpuUs = all.map((r) => r.cpuUsPerDataSegment);
  const m = roundMetric({ name: `${substrate} ${mtu} usPerDataSegment`, unit: 'us/data seg', runs: all.length, wall: summarise(wallUs), cpu: summarise(cpuUs) }, 2);
  const mid = [...all].sort((a, b) => a.cpuUsPerDataSegment - b.cpuUsPerDataSegment)[all.length >> 1]!;
  return { row: { ...mid, runs: all.length, wall: m.wall, cpu: m.cpu! }, metric: m };
}

export function runTcpBulkBench(opts: { mb?: number; runs?: number; only?: string } = {}): { rows: TcpBulkRow[]; metrics: Metric[] } {
  const mb = opts.mb;
  const runs = opts.runs ?? 3;
  const cases: Array<[TcpBulkRow['substrate'], number, number]> = [['stack', 1500, 400], ['stack', 9000, 800], ['tcp only', 1500, 400]];
  const all = cases
    .filter(([s, mtu]) => opts.only === undefined || opts.only === `${s} ${mtu}`)
    .map(([s, mtu, defMb]) => repeated(s, mtu, (mb ?? defMb) * 1e6, runs));
  return { rows: all.map((x) => x.row), metrics: all.map((x) => x.metric) };
}

export function formatTcpBulkTable(rows: readonly TcpBulkRow[]): string {
  const head = ['substrate', 'MTU', 'MB', 's', 'Gbps wall', 'Gbps cpu', 'data seg/s', 'cpu us/seg', 'cpu us/data seg', 'pure ACKs', 'rtx'];
  const body = rows.map((r) => [
    r.substrate,
    String(r.mtu),
    String(r.mb),
    r.seconds.toFixed(2),
    r.gbpsWall.toFixed(2),
    r.gbpsCpu.toFixed(2),
    String(r.dataSegmentsPerSec),
    r.cpuUsPerSegment.toFixed(2),
    r.cpuUsPerDataSegment.toFixed(2),
    String(r.pureAcks),
    String(r.retransmissions),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}

function main(): void {
  const args = process.argv.slice(2);
  const i = args.indexOf('--mb');
  const mb = i >= 0 ? Number(args[i + 1]) : args.includes('--quick') ? 50 : undefined;
  const o = args.indexOf('--only');
  const only = o >= 0 ? args[o + 1] : undefined;
  const { rows, metrics } = runTcpBulkBench({ ...(mb !== undefined ? { mb } : {}), ...(only !== undefined ? { only } : {}), runs: runsFrom(args, 3, 2) });
  if (args.includes('--json')) console.log(JSON.stringify({ bench: 'tcp-bulk', rows, metrics }));
  else {
    console.log(formatTcpBulkTable(rows));
    console.log('(the row: the run with the median CPU time; below: µs per data segment over all runs, wall and cpu = process.cpuUsage, user + system)');
    console.log(formatMetrics(metrics));
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main();
}
