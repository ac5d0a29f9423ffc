/**
 * Two hosts on a simulated link; one pings the other.
 *
 *     npm run ping -- [-6] [--seed N] [--loss P] [--count N] [--interval MS] [--size BYTES]
 *                     [--delay MS] [--jitter MS] [--timeout MS] [--pcap FILE] [--json]
 *
 * -6 pings over IPv6 (fd00::1 -> fd00::2): the hosts first run duplicate
 * address detection, then resolve each other by neighbor discovery.
 *
 * --loss is a probability (0..1) as in every CLI of the project; `--loss 2` is refused.
 *
 * Everything runs on a virtual clock from the seed, so the same arguments print
 * the same lines, times included.
 */
import { VirtualClock } from '../src/core/index.js';
import { createHost } from '../src/host.js';
import { SimLink } from '../src/layers/nic/sim-link.js';
import { PcapDevice } from '../src/layers/nic/wrappers.js';
import { PcapWriter } from '../src/trace/pcap.js';
import type { PingResult } from '../src/layers/icmp.js';
import { attachIpv6, type Ping6Result } from '../src/layers/ipv6/index.js';
import { formatIp } from '../src/layers/net.js';
import { parseIp6 } from '../src/wire/addr6.js';
import { formatHelp, integer, isEntryPoint, options, parseCommand, runCommand, SHARED, UsageError, usageLine, type CommandSpec, type OptionTable } from './args.js';

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
  /** Ping over IPv6 (fd00::1 -> fd00::2). */
  ipv6?: boolean;
  /** Where lines go (default console.log). */
  print?: (line: string) => void;
}

export async function runPing(opts: PingRunOptions = {}): Promise<PingResult | Ping6Result> {
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
  const session = {
    count: opts.count ?? 5,
    intervalMs: opts.intervalMs ?? 1000,
    timeoutMs: opts.timeoutMs ?? 1000,
    size,
    onReply: (r: { bytes: number; from: Uint8Array | number; seq: number; ttl: number; rttMs: number; duplicate: boolean }) =>
      print(`${r.bytes} bytes from ${formatIp(r.from)}: icmp_seq=${r.seq} ttl=${r.ttl} time=${r.rttMs.toFixed(3)} ms${r.duplicate ? ' (DUP!)' : ''}`),
    onTimeout: (seq: number) => print(`Request timeout for icmp_seq ${seq}`),
    onError: (e: { from: Uint8Array | number; type: number; code: number }) => print(`From ${formatIp(e.from)}: ICMP type ${e.type} code ${e.code}`),
  };
  const header = (src: string, dst: string): void =>
    print(`PING ${dst} from ${src}: ${size} data bytes (sim link: seed ${seed}, loss ${(loss * 100).toFixed(1)}%, delay ${opts.delayMs ?? 1} ms)`);
  let done: Promise<PingResult | Ping6Result>;
  let active: () => number;
  let dst: string;
  if (opts.ipv6 === true) {
    const a6 = attachIpv6(a.rt, a.link, a.pool, a.mac, { addresses: [{ address: parseIp6('fd00::1'), prefixLength: 64 }], slaac: false });
    const b6 = attachIpv6(b.rt, b.link, b.pool, b.mac, { addresses: [{ address: parseIp6('fd00::2'), prefixLength: 64 }], slaac: false });
    // Addresses are tentative until duplicate address detection has heard no objection.
    clock.runUntil(() => a6.ipv6.address[0] === 0xfd && b6.ipv6.address[0] === 0xfd);
    dst = formatIp(b6.ipv6.address);
    header(formatIp(a6.ipv6.address), dst);
    done = a6.icmpv6.ping(b6.ipv6.address, session);
    active = () => a6.icmpv6.activePings;
  } else {
    dst = formatIp(b.address);
    header(formatIp(a.address), dst);
    done = a.icmp.ping(b.address, session);
    active = () => a.icmp.activePings;
  }
  // Sessions end inside the clock's callbacks; the promise then settles on a microtask.
  clock.runUntil(() => active() === 0);
  const r = await done;
  print(`--- ${dst} ping statistics ---`);
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

export const PING_COMMAND = {
  prog: 'ping',
  summary: 'Two hosts on a simulated link (virtual clock, seeded); host a pings host b and prints what ping(8) would.',
  options: options({
    ipv6: { kind: 'flag', short: '6', help: 'ping over IPv6 (fd00::1 -> fd00::2; DAD, then neighbor discovery)' },
    seed: SHARED.seed(1),
    loss: SHARED.loss(0),
    count: integer('echo requests to send', { min: 1, max: 1_000_000, default: 5 }),
    interval: { kind: 'number', placeholder: 'MS', min: 0, max: 3_600_000, default: 1000, help: 'time between requests, ms' },
    timeout: { kind: 'number', placeholder: 'MS', min: 1, max: 3_600_000, default: 1000, help: 'how long to wait for each reply, ms' },
    size: integer('data bytes in each request', { placeholder: 'BYTES', min: 0, max: 65_507, default: 56 }),
    delay: SHARED.delay(1),
    jitter: { kind: 'number', placeholder: 'MS', min: 0, max: 10_000, default: 0, help: 'extra delay drawn from [0, MS), each frame' },
    pcap: SHARED.pcap("write host a's frames to this pcap file (its folder must exist)"),
    json: SHARED.json('print only the statistics, as one JSON object'),
  }),
  epilog: 'Exit status: 0 some reply came back, 1 none did, 2 bad arguments.',
} satisfies CommandSpec<OptionTable>;

/** Parses the command line: the run's options, 'help', or throws UsageError. */
export function parsePingArgs(argv: readonly string[]): (PingRunOptions & { json: boolean }) | 'help' {
  const p = parseCommand(PING_COMMAND, argv);
  if (p === 'help') return p;
  const v = p.values;
  return {
    seed: v.seed,
    loss: v.loss,
    count: v.count ?? 5,
    intervalMs: v.interval,
    timeoutMs: v.timeout,
    size: v.size ?? 56,
    delayMs: v.delay,
    jitterMs: v.jitter,
    ...(v.pcap !== undefined ? { pcap: v.pcap } : {}),
    json: v.json,
    ...(v.ipv6 ? { ipv6: true } : {}),
  };
}

/** The command: exit 0 when a reply came back, 1 when none did, 2 for bad arguments. */
export async function main(argv: readonly string[]): Promise<number> {
  let o: ReturnType<typeof parsePingArgs>;
  try {
    o = parsePingArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(usageLine('ping', e));
    return 2;
  }
  if (o === 'help') {
    process.stdout.write(formatHelp(PING_COMMAND));
    return 0;
  }
  const { json, ...run } = o;
  const r = await runPing({ ...run, ...(json ? { print: () => {} } : {}) });
  if (json) process.stdout.write(`${JSON.stringify({ ...r, dst: formatIp(r.dst), replies: r.replies.map((x) => ({ ...x, from: formatIp(x.from) })) })}\n`);
  return r.received > 0 ? 0 : 1;
}

if (isEntryPoint(import.meta.url)) runCommand('ping', main);
