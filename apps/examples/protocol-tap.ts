/**
 * A tap that counts IP traffic per protocol through an RxJS observable.
 *
 *     npx tsx apps/examples/protocol-tap.ts
 *
 * The tap is a module bound to IP's fan-out tap slot (it sees every datagram
 * delivered to the host and every datagram the host sends, beside whatever
 * handler the protocol has). It turns them into events on a Subject, but only
 * while somebody subscribes: unobserved, the tap costs one boolean test per
 * packet and allocates nothing. Counting is ordinary RxJS (`scan`).
 */
import { pathToFileURL } from 'node:url';
import { Subject, scan, type Observable } from 'rxjs';
import { Module, VirtualClock, type Runtime } from '../../src/core/index.js';
import { createHost } from '../../src/host.js';
import type { Ip, IpPacket } from '../../src/layers/ip.js';
import { SimLink } from '../../src/layers/nic/sim-link.js';

export interface TapEvent {
  readonly direction: 'in' | 'out';
  readonly protocol: number;
  /** IP payload bytes. */
  readonly bytes: number;
  readonly at: number;
}

export interface ProtocolCount {
  packets: number;
  bytes: number;
}

const NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 253: 'experimental-253' };

export function protocolName(p: number): string {
  return NAMES[p] ?? `proto-${p}`;
}

export class ProtocolTap extends Module {
  private readonly subject = new Subject<TapEvent>();
  readonly events: Observable<TapEvent> = this.subject.asObservable();
  /** Running totals per protocol name and direction ('icmp in', 'udp out'...), one emission per packet. */
  readonly counts: Observable<ReadonlyMap<string, ProtocolCount>> = this.events.pipe(
    scan((acc, e) => {
      const key = `${protocolName(e.protocol)} ${e.direction}`;
      const c = acc.get(key) ?? { packets: 0, bytes: 0 };
      c.packets++;
      c.bytes += e.bytes;
      acc.set(key, c);
      return acc;
    }, new Map<string, ProtocolCount>()),
  );

  constructor(rt: Runtime, ip: Ip) {
    super(rt, 'tap');
    ip.tap(this, {
      onPacket: (pkt) => this.emit('in', pkt),
      onSend: (pkt) => this.emit('out', pkt),
    });
  }

  private emit(direction: 'in' | 'out', pkt: IpPacket): void {
    if (!this.subject.observed) return;
    this.subject.next({ direction, protocol: pkt.protocol, bytes: pkt.buf.length, at: this.rt.clock.now() });
  }

  close(): void {
    this.subject.complete();
  }
}

export interface ProtocolTapRun {
  counts: Record<string, ProtocolCount>;
  lines: string[];
}

export async function runProtocolTap(print: (line: string) => void = (l) => console.log(l)): Promise<ProtocolTapRun> {
  const lines: string[] = [];
  const say = (l: string): void => {
    lines.push(l);
    print(l);
  };
  const clock = new VirtualClock();
  const link = new SimLink(clock, { seed: 1 });
  const a = createHost({ name: 'a', link, ip: '10.0.0.1/24' });
  const b = createHost({ name: 'b', link, ip: '10.0.0.2/24' });
  const tap = new ProtocolTap(a.rt, a.ip);

  let latest: ReadonlyMap<string, ProtocolCount> = new Map();
  const sub = tap.counts.subscribe((m) => (latest = m));

  // Some traffic: pings, UDP both ways, a datagram of an unknown protocol.
  const pinged = a.ping(b.address, { count: 4, intervalMs: 10 });
  b.udp!.bind(5000, b.rt.app('sink'), {
    onDatagram: (d) => void b.udp!.send(5000, d.src, d.srcPort, d.payload),
  });
  const s = a.udp!.bind(0, a.rt.app('src'), {});
  for (let i = 0; i < 3; i++) s.send(b.address, 5000, new Uint8Array(100 * (i + 1)));
  const raw = a.ip.alloc(20, 'raw');
  raw.bytes.fill(0x42, raw.start, raw.end);
  a.ip.send(b.address, 253, raw);
  clock.runAll();
  await pinged;
  sub.unsubscribe();
  tap.close();

  say('traffic seen at host a, per protocol:');
  const counts: Record<string, ProtocolCount> = {};
  for (const [k, v] of [...latest].sort(([x], [y]) => x.localeCompare(y))) {
    counts[k] = { ...v };
    say(`  ${k.padEnd(24)} ${String(v.packets).padStart(4)} packets ${String(v.bytes).padStart(6)} bytes`);
  }
  return { counts, lines };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void runProtocolTap();
}
