/**
 * Two hosts on a simulated link; one pings the other.
 *
 *     npm run ping -- [--seed N] [--loss P] [--count N] [--interval MS] [--size BYTES]
 *                     [--delay MS] [--jitter MS] [--timeout MS] [--pcap FILE]
 *
 * Everything runs on a virtual clock from the seed, so the same arguments print
 * the same lines, times included.
 */
import { pathToFileURL } from 'node:url';
import { VirtualClock } from '../src/core/index.js';
import { createHost } from '../src/host.js';
import { SimLink } from '../src/layers/nic/sim-link.js';
import { PcapDevice } from '../src/layers/nic/wrappers.js';
import { PcapWriter } from '../src/trace/pcap.js';
import { formatIp4 } from '../src/wire/addr.js';
import type { PingResult } from '../src/layers/icmp.js';

export interface PingRunOptions {
  seed?: number;
  /** Loss probability per frame on the link, both directions (0..1). */
  loss?: number;
  count?: number;
  intervalMs?: number;
  timeoutMs?: number;
  size?: number;
  delayMs?: number;
  jitterMs?: number;
  /** Write every frame host A sends and receives to this pcap file. */
  pcap?: string;
  /** Where lines go (default console.log). */
  print?: (line: string) => void;
}

export async function runPing(opts: PingRunOptions = {}): Promise<PingResult> {
  const print = opts.print ?? ((l: string) => console.log(l));
  const seed = opts.seed ?? 1;
  const loss = opts.loss ?? 0;
  const size = opts.size ?? 56;
  const clock = new VirtualClock();
  const link = new SimLink(clock, { seed, loss, delayMs: opts.delayMs ?? 1, jitterMs: opts.jitterMs ?? 0 });
  const writer = opts.pcap !== undefined ? new PcapWriter(opts.pcap) : null;
  const portA = link.attach('a');
  const a = createHost({
    name: 'a',
    device: writer !== null ? new PcapDevice(portA, writer, clock) : portA,
    ip: '10.0.0.1/24',
    seed,
  });
  const b = createHost({ name: 'b', link, ip: '10.0.0.2/24', seed: seed + 1 });
  const dst = b.address;
  print(
    `PING ${formatIp4(dst)} from ${formatIp4(a.address)}: ${size} data bytes ` +
      `(sim link: seed ${seed}, loss ${(loss * 100).toFixed(1)}%, delay ${opts.delayMs ?? 1} ms)`,
  );
  const done = a.icmp.ping(dst, {
    count: opts.count ?? 5,
    intervalMs: opts.intervalMs ?? 1000,
    timeoutMs: opts.timeoutMs ?? 1000,
    size,
    onReply: (r) =>
      print(`${r.bytes} bytes from ${formatIp4(r.from)}: icmp_seq=${r.seq} ttl=${r.ttl} time=${r.rttMs.toFixed(3)} ms${r.duplicate ? ' (DUP!)' : ''}`),
    onTimeout: (seq) => print(`Request timeout for icmp_seq ${seq}`),
    onError: (e) => print(`From ${formatIp4(e.from)}: ICMP type ${e.type} code ${e.code}`),
  });
  // Sessions end inside the clock's callbacks; the promise then settles on a microtask.
  clock.runUntil(() => a.icmp.activePings === 0);
  const r = await done;
  print(`--- ${formatIp4(dst)} ping statistics ---`);
  print(
    `${r.sent} packets transmitted, ${r.received} packets received, ` +
      `${r.duplicates > 0 ? `+${r.duplicates} duplicates, ` : ''}${((r.lost / r.sent) * 100).toFixed(1)}% packet loss`,
  );
  if (r.received > 0) print(`round-trip min/avg/max = ${r.minMs.toFixed(3)}/${r.avgMs.toFixed(3)}/${r.maxMs.toFixed(3)} ms`);
  if (writer !== null) {
    await writer.close();
    print(`wrote ${writer.recordsWritten} frames to ${opts.pcap}`);
  }
  return r;
}

function parseArgs(argv: string[]): PingRunOptions {
  const o: PingRunOptions = {};
  const num = (i: number, flag: string): number => {
    const v = Number(argv[i]);
    if (argv[i] === undefined || !Number.isFinite(v)) throw new Error(`${flag} needs a number`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '--seed': o.seed = num(++i, a); break;
      case '--loss': o.loss = num(++i, a); break;
      case '--count': o.count = num(++i, a); break;
      case '--interval': o.intervalMs = num(++i, a); break;
      case '--timeout': o.timeoutMs = num(++i, a); break;
      case '--size': o.size = num(++i, a); break;
      case '--delay': o.delayMs = num(++i, a); break;
      case '--jitter': o.jitterMs = num(++i, a); break;
      case '--pcap': o.pcap = argv[++i]; break;
      case '-h':
      case '--help':
        console.log('usage: npm run ping -- [--seed N] [--loss P] [--count N] [--interval MS] [--timeout MS] [--size B] [--delay MS] [--jitter MS] [--pcap FILE]');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${a}`);
    }
  }
  if (o.loss !== undefined && o.loss > 1) o.loss /= 100; // accept percent as well
  return o;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runPing(parseArgs(process.argv.slice(2))).then(
    (r) => process.exit(r.received > 0 ? 0 : 1),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(2);
    },
  );
}
