/**
 * Two hosts on one SimLink, assembled under one structure, each running one
 * application (AppMain) loaded by URL, driven through its control line.
 *
 *  - 'direct':   createHost as everywhere else; upcalls are procedure calls.
 *  - 'queued':   the same, with every module of both hosts taking its upcalls
 *                through a mailbox (asynchronous daemons on one thread).
 *  - 'threaded': per host, three layer groups: [NIC, ARP, IP, ICMP] in this
 *                thread (beside the link), [TCP, UDP] in one worker and the
 *                application in another; proxy module pairs at the two
 *                boundaries turn upcalls and downcalls into messages. Real
 *                time only: a virtual clock cannot be shared across threads.
 *
 * The protocol modules are the same classes in all three; only this assembly
 * differs.
 */
import { MessageChannel } from 'node:worker_threads';
import { mailboxTotals } from '../core/mailbox.js';
import { RealClock, Runtime, VirtualClock, type Clock } from '../core/index.js';
import { createHost, type Host } from '../host.js';
import type { Device } from '../layers/nic/device.js';
import type { TcpConfig } from '../layers/tcp/config.js';
import { SimLink, type SimLinkOptions } from '../layers/nic/sim-link.js';
import { clockZero, type ReportCollector } from '../report/collector.js';
import { runVirtual, type AsyncWork } from '../layers/telnet/async-work.js';
import type { Ip4 } from '../wire/addr.js';
import { controlPair, type AppControl, type AppMain, type StackStructure } from './app.js';
import { channelTotals } from './threaded/channel.js';
import { IpExport, ipConfigOf } from './threaded/ip-proxy.js';
import { GroupWorker } from './threaded/spawn.js';
import { TransportExport } from './threaded/transport-proxy.js';

export interface AppSpec {
  /** Module URL (import.meta.url of the file that exports it, or a file URL). */
  readonly url: string;
  readonly export: string;
  readonly options?: Record<string, unknown>;
}

export interface TestbedOptions {
  readonly structure: StackStructure;
  /** 'virtual' (direct and queued only) or 'real'. */
  readonly clock: 'virtual' | 'real';
  readonly link?: SimLinkOptions;
  readonly tcp?: Partial<TcpConfig>;
  readonly seed?: number;
  /**
   * Threaded only: how each host's layers are grouped into threads.
   * 'network|transport|app' (default): three groups, two boundaries;
   * 'stack|app': the whole stack beside the link, the application alone in a worker.
   */
  readonly groups?: ThreadGroups;
  readonly client: AppSpec;
  readonly server: AppSpec;
  /**
   * Gather a visual report of the run: each host's frames (tapped at its
   * device), its events and TCP state. Threaded: the worker threads record
   * their own and hand it over in `gatherReport()`.
   */
  readonly report?: ReportCollector;
}

/** Work counted over both hosts (every thread of them). */
export interface WorkCounts {
  tasks: number;
  upcalls: number;
  /** Mailbox messages (queued) or messages between threads (threaded). */
  messages: number;
  /** Batches those messages travelled in (drains, or postMessage calls). */
  batches: number;
  /** Bytes copied to make messages (detached arguments, data lent or kept). */
  bytesCopied: number;
  /** Bytes moved between threads without a copy. */
  bytesTransferred: number;
}

export type ThreadGroups = 'network|transport|app' | 'stack|app';

/** Boundaries between layer groups, [module below, module above]: where a threaded host's messages cross. */
const CROSSINGS: ReadonlyArray<readonly [string, string]> = [
  ['ip-export', 'ip-import'],
  ['transport-export', 'transport-import'],
];

export const CLIENT_IP = '10.0.0.1';
export const SERVER_IP = '10.0.0.2';

interface Side {
  readonly host: Host;
  readonly work: AsyncWork[];
  control: AppControl;
  readonly workers: GroupWorker[];
  /** Proxy modules of this thread, closed with the testbed. */
  readonly exports: Array<{ close(): void }>;
}

export class Testbed {
  private nextRid = 1;
  private readonly waiting = new Map<number, (m: Record<string, unknown>) => void>();

  private constructor(
    readonly structure: StackStructure,
    readonly clock: Clock,
    readonly link: SimLink,
    private readonly sides: { client: Side; server: Side },
    private readonly report: ReportCollector | undefined,
  ) {
    for (const s of [sides.client, sides.server]) {
      s.control.onMessage((m) => {
        const r = m as Record<string, unknown>;
        const w = this.waiting.get(r.rid as number);
        if (w !== undefined) {
          this.waiting.delete(r.rid as number);
          w(r);
        }
      });
    }
  }

  get clientHost(): Host {
    return this.sides.client.host;
  }

  get serverHost(): Host {
    return this.sides.server.host;
  }

  static async create(o: TestbedOptions): Promise<Testbed> {
    if (o.structure === 'threaded' && o.clock === 'virtual') throw new Error('threaded runs in real time: a virtual clock cannot be shared across threads');
    const clock: Clock = o.clock === 'virtual' ? new VirtualClock() : new RealClock(true);
    const link = new SimLink(clock, { delayMs: 0, bandwidthBps: Infinity, queueLimit: 1 << 16, ...o.link });
    const seed = o.seed ?? 1;
    const build = o.structure === 'threaded' ? threadedSide : inThreadSide;
    const [client, server] = await Promise.all([
      build(o, clock, link, 'client', CLIENT_IP, seed, o.client),
      build(o, clock, link, 'server', SERVER_IP, seed + 1, o.server),
    ]);
    return new Testbed(o.structure, clock, link, { client, server }, o.report);
  }

  /**
   * Send `msg` to one host's application and wait for the answer carrying
   * the same `rid`. On a virtual clock the clock runs until it comes (or
   * `limitMs` of virtual time passed); in real time, up to `limitMs` of wall time.
   */
  async request(side: 'client' | 'server', msg: Record<string, unknown>, limitMs = 60_000): Promise<Record<string, unknown>> {
    const rid = this.nextRid++;
    let answer: Record<string, unknown> | undefined;
    const p = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = this.clock.virtual ? undefined : setTimeout(() => {
        this.waiting.delete(rid);
        reject(new Error(`${side} did not answer ${JSON.stringify(msg).slice(0, 120)} within ${limitMs} ms`));
      }, limitMs);
      this.waiting.set(rid, (m) => {
        if (timer !== undefined) clearTimeout(timer);
        answer = m;
        resolve(m);
      });
    });
    this.sides[side].control.send({ ...msg, rid });
    if (this.clock.virtual) {
      const work = [...this.sides.client.work, ...this.sides.server.work];
      await runVirtual(this.clock as VirtualClock, () => answer !== undefined, { limitMs, work });
      if (answer === undefined) {
        this.waiting.delete(rid);
        return Promise.reject(new Error(`${side} did not answer ${JSON.stringify(msg).slice(0, 120)} within ${limitMs} virtual ms`));
      }
    }
    return p;
  }

  /** Work done so far by both hosts, every thread included. */
  async counts(): Promise<WorkCounts> {
    const c: WorkCounts = { tasks: 0, upcalls: 0, messages: 0, batches: 0, bytesCopied: 0, bytesTransferred: 0 };
    for (const s of [this.sides.client, this.sides.server]) {
      c.tasks += s.host.rt.stats.tasksStarted;
      c.upcalls += s.host.rt.stats.upcalls;
      for (const w of s.workers) {
        const g = await w.stats();
        c.tasks += g.tasks;
        c.upcalls += g.upcalls;
        c.messages += g.messages;
        c.batches += g.batches;
        c.bytesCopied += g.bytesCopied;
        c.bytesTransferred += g.bytesTransferred;
      }
    }
    if (this.structure === 'threaded') {
      c.messages += channelTotals.messages;
      c.batches += channelTotals.batches;
      c.bytesCopied += channelTotals.bytesCopied;
      c.bytesTransferred += channelTotals.bytesTransferred;
    } else {
      c.messages += mailboxTotals.messages;
      c.batches += mailboxTotals.batches;
      c.bytesCopied += mailboxTotals.bytesCopied;
    }
    return c;
  }

  /**
   * Bring what the worker threads recorded into the report (threaded; nothing
   * to do otherwise): once, after the run, before close().
   */
  async gatherReport(): Promise<void> {
    const r = this.report;
    if (r === undefined) return;
    const zero = clockZero(this.clock);
    for (const s of [this.sides.client, this.sides.server]) {
      for (const w of s.workers) r.absorb(await w.report(), zero, CROSSINGS);
    }
  }

  async close(): Promise<void> {
    for (const s of [this.sides.client, this.sides.server]) {
      for (const e of s.exports) e.close();
      await Promise.all(s.workers.map((w) => w.terminate()));
    }
  }
}

/** Differences of two snapshots of `counts()`. */
export function countsDelta(after: WorkCounts, before: WorkCounts): WorkCounts {
  return {
    tasks: after.tasks - before.tasks,
    upcalls: after.upcalls - before.upcalls,
    messages: after.messages - before.messages,
    batches: after.batches - before.batches,
    bytesCopied: after.bytesCopied - before.bytesCopied,
    bytesTransferred: after.bytesTransferred - before.bytesTransferred,
  };
}

async function inThreadSide(
  o: TestbedOptions,
  clock: Clock,
  link: SimLink,
  name: string,
  ip: string,
  seed: number,
  app: AppSpec,
): Promise<Side> {
  const rt = new Runtime({ name, clock, seed, dispatch: o.structure === 'queued' ? 'queued' : 'direct' });
  const host = createHost({ runtime: rt, device: device(o, link, name, clock), ip: `${ip}/24`, tcp: o.tcp ?? true });
  o.report?.observe(rt, { tcp: host.tcp });
  const [mine, theirs] = controlPair();
  const main = await loadApp(app);
  const work: AsyncWork[] = [];
  main({ rt, tcp: host.tcp!, udp: host.udp!, address: host.address, control: theirs, options: app.options ?? {}, asyncWork: (w) => void work.push(w) });
  return { host, work, control: mine, workers: [], exports: [] };
}

async function threadedSide(
  o: TestbedOptions,
  clock: Clock,
  link: SimLink,
  name: string,
  ip: string,
  seed: number,
  app: AppSpec,
): Promise<Side> {
  const rt = new Runtime({ name, clock, seed });
  const whole = o.groups === 'stack|app';
  const host = createHost({ runtime: rt, device: device(o, link, name, clock), ip: `${ip}/24`, udp: whole, ...(whole ? { tcp: o.tcp ?? true } : {}) });
  o.report?.observe(rt, { tcp: host.tcp });
  const report = o.report !== undefined;
  const toTransport = new MessageChannel();
  const toApp = new MessageChannel();
  const control = new MessageChannel();
  const protocols = [6, 17];
  const workers: GroupWorker[] = [];
  const exports: Array<{ close(): void }> = [];
  if (whole) {
    // TCP and UDP stay beside IP: the application's boundary is the only one.
    exports.push(new TransportExport(rt, host.tcp, host.udp, toApp.port1));
  } else {
    exports.push(new IpExport(rt, host.ip, toTransport.port1, protocols));
    workers.push(
      new GroupWorker(
        `${name}/transport`,
        {
          role: 'transport', name, seed, ip: ipConfigOf(host.ip, protocols), tcp: o.tcp ?? {}, udp: true,
          ipPort: toTransport.port2, appPort: toApp.port1, report,
        },
        [toTransport.port2, toApp.port1],
      ),
    );
  }
  const appWorker = new GroupWorker(
    `${name}/app`,
    {
      role: 'app', name, seed: seed + 100, address: host.address as Ip4, url: app.url, export: app.export, options: app.options ?? {},
      transportPort: toApp.port2, controlPort: control.port2, report,
    },
    [toApp.port2, control.port2],
  );
  workers.push(appWorker);
  await Promise.all(workers.map((w) => w.ready));
  const port = control.port1;
  const ctl: AppControl = { send: (m) => port.postMessage(m), onMessage: (h) => void port.on('message', h) };
  return { host, work: [], control: ctl, workers, exports };
}

/** The host's port on the link, tapped for the report if one is gathered. */
function device(o: TestbedOptions, link: SimLink, name: string, clock: Clock): Device {
  const port = link.attach(name);
  return o.report === undefined ? port : o.report.tap(port, name, clock);
}

async function loadApp(app: AppSpec): Promise<AppMain> {
  const mod = (await import(app.url)) as Record<string, unknown>;
  const f = mod[app.export];
  if (typeof f !== 'function') throw new Error(`${app.url} has no application '${app.export}'`);
  return f as AppMain;
}
