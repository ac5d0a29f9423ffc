/**
 * Service queues over a lossy link: a key-value service offered by two
 * servers, called by three clients that only know its name; one server fails
 * in the middle of the run.
 *
 *     npm run demo:services -- [--seed N] [--loss P] [--calls N] [--fail-after N] [--ipv6] [--json]
 *     npm run demo -- services [same options]
 *
 * Every line is computed from the run: which server did each call, how many
 * transmissions it took, where a call moved to another server. The last line
 * is the exactly-once check: every call has one result, every change the
 * servers kept was made once, and each client's counter equals the number of
 * its increments that succeeded.
 *
 * The two servers keep their data in one store (think of a disk both mount):
 * the demo is about the calls, not about replication. The failing server
 * makes its change, then faults; its module's cleanup undoes the change, the
 * client hears "retryable" and the call is done by the other server, once.
 *
 * With --ipv6 the same run happens between IPv6-only hosts (fd00::1...):
 * lookups go to the all-nodes group instead of the broadcast address.
 */
import { Module, VirtualClock, type Runtime } from '../src/core/index.js';
import { createHost, type Host } from '../src/host.js';
import { SimLink } from '../src/layers/nic/sim-link.js';
import type { CallOutcome, CallRecord } from '../src/layers/service/client.js';
import { Services } from '../src/layers/service/service.js';
import type { ServiceOffer } from '../src/layers/service/server.js';
import { s } from '../src/layers/service/shape.js';
import { defineService } from '../src/layers/service/spec.js';
import { formatIp4 } from '../src/wire/addr.js';
import { formatIp6 } from '../src/wire/addr6.js';
import { formatHelp, integer, isEntryPoint, options, parseCommand, runCommand, SHARED, UsageError, usageLine, type CommandSpec, type OptionTable } from './args.js';

export const kvSpec = defineService({
  /** Add `by` to the counter `key`; `op` names the operation so the demo can count how often it was applied. */
  incr: { args: s.object({ key: s.string(), by: s.integer(), op: s.string() }), result: s.integer() },
  get: { args: s.object({ key: s.string() }), result: s.union(s.integer(), s.null()) },
});

/** The store both servers use, with a journal of the operations applied (and not undone). */
class Store {
  readonly values = new Map<string, number>();
  readonly applied = new Map<string, number>();
}

interface Change {
  readonly key: string;
  readonly before: number | undefined;
  readonly op: string;
}

/** One server: a module whose cleanup undoes the change of a call whose task was expended. */
class KvServer extends Module<undefined, Change> {
  done = 0;
  crashed = false;
  undone = 0;
  offer: ServiceOffer | null = null;

  constructor(
    rt: Runtime,
    readonly label: string,
    private readonly store: Store,
    /** Fault after this many calls (Infinity: never). */
    private readonly failAfter: number,
    private readonly onCrash: (s: KvServer) => void,
  ) {
    super(rt, 'kv-server');
  }

  readonly handlers = {
    incr: ({ key, by, op }: { key: string; by: number; op: string }): number => {
      const st = this.store;
      this.claim({ key, before: st.values.get(key), op });
      const v = (st.values.get(key) ?? 0) + by;
      st.values.set(key, v);
      st.applied.set(op, (st.applied.get(op) ?? 0) + 1);
      if (!this.crashed && this.done >= this.failAfter) {
        this.crashed = true;
        this.onCrash(this);
        throw new Error(`${this.label} fails in the middle of ${op}`);
      }
      this.done++;
      return v;
    },
    get: ({ key }: { key: string }): number | null => this.store.values.get(key) ?? null,
  };

  protected override cleanup(c: Change | undefined): void {
    if (c === undefined) return;
    const st = this.store;
    if (c.before === undefined) st.values.delete(c.key);
    else st.values.set(c.key, c.before);
    st.applied.set(c.op, (st.applied.get(c.op) ?? 1) - 1);
    this.undone++;
  }
}

export interface ServicesDemoOptions {
  seed?: number;
  loss?: number;
  /** Increments per client. */
  calls?: number;
  /** Server a faults after this many calls. */
  failAfter?: number;
  /** IPv6-only hosts (fd00::…) instead of IPv4 ones. */
  ipv6?: boolean;
  print?: (line: string) => void;
}

export interface ServicesDemoSummary {
  seed: number;
  loss: number;
  calls: number;
  ok: number;
  failed: number;
  byServer: Record<string, number>;
  transmissions: number;
  retransmissions: number;
  failovers: number;
  lookups: number;
  duplicatesSuppressed: number;
  staleDropped: number;
  cleanups: number;
  virtualMs: number;
  exactlyOnce: boolean;
  problems: string[];
}

const SERVERS = [
  { name: 'a', ip: '10.0.0.1', ip6: 'fd00::1' },
  { name: 'b', ip: '10.0.0.2', ip6: 'fd00::2' },
];
const CLIENTS = [
  { name: 'c1', ip: '10.0.0.11', ip6: 'fd00::11' },
  { name: 'c2', ip: '10.0.0.12', ip6: 'fd00::12' },
  { name: 'c3', ip: '10.0.0.13', ip6: 'fd00::13' },
];

export async function runServicesDemo(o: ServicesDemoOptions = {}): Promise<ServicesDemoSummary> {
  const print = o.print ?? ((l: string) => console.log(l));
  const seed = o.seed ?? 1;
  const loss = o.loss ?? 0.2;
  const callsPerClient = o.calls ?? 8;
  const failAfter = o.failAfter ?? 5;
  const clock = new VirtualClock();
  const link = new SimLink(clock, { seed, loss, duplicate: 0.05, reorder: 0.05, corrupt: 0.01, jitterMs: 1 });
  const v6 = o.ipv6 === true;
  const ipOf = (x: { ip: string; ip6: string }): string => (v6 ? x.ip6 : x.ip);
  const host = (name: string, ip: string, i: number): Host =>
    createHost({ name, link, ip: v6 ? `${ip}/64` : `${ip}/24`, seed: seed * 16 + i, ...(v6 ? { ipv6: { dad: false } } : {}) });
  const servers = SERVERS.map((x, i) => host(x.name, ipOf(x), i));
  const clients = CLIENTS.map((x, i) => host(x.name, ipOf(x), 8 + i));
  const all = [...servers, ...clients];
  // ARP carries no checksum: a corrupted reply would poison a cache, a fault below the
  // service layer that this demo is not about. Neighbours are configured. (NDP's messages have a checksum.)
  if (!v6) for (const a of all) for (const b of all) if (a !== b) a.arp.addStatic(b.address, b.mac);
  const store = new Store();
  // By the address as outcomes show it (text: IPv6 addresses are bytes).
  const nameOf = new Map(all.map((h) => [v6 ? formatIp6(h.address6!) : formatIp4(h.address), h.name] as const));
  const at = (): string => `${clock.now().toFixed(1).padStart(8)} ms`;

  const serverSvcs: Services[] = [];
  const kvServers = servers.map((h, i) => {
    const svcs = new Services(h.rt, { udp: h.udp! });
    serverSvcs.push(svcs);
    const srv = new KvServer(h.rt, `server ${h.name}`, store, i === 0 ? failAfter : Infinity, (me) => {
      print(`${at()}  server ${h.name} FAILS during a call: its task is expended, cleanup undoes the change; offer withdrawn`);
      // Withdrawn once the failing task is over, in a task of its own.
      clock.schedule(clock.now(), () => me.offer?.withdraw());
    });
    srv.offer = svcs.offer('kv', kvSpec, srv.handlers, { owner: srv });
    return srv;
  });

  print(`Key-value service 'kv' offered by servers a (${ipOf(SERVERS[0]!)}) and b (${ipOf(SERVERS[1]!)}); clients ${CLIENTS.map((c) => c.name).join(', ')} name the service only.`);
  print(`Link: loss ${loss}, duplication 0.05, reordering 0.05, corruption 0.01 (seed ${seed}). Server a fails after ${failAfter} calls.`);
  print('');

  interface Call {
    client: string;
    op: string;
    outcomes: CallOutcome<number>[];
  }
  const calls: Call[] = [];
  const clientSvcs = clients.map((h) => new Services(h.rt, { udp: h.udp! }));
  const okIncrements = new Map<string, number>();

  const report = (c: Call, o: CallOutcome<number>, r: CallRecord): void => {
    c.outcomes.push(o);
    const path = r.servers.map((x) => nameOf.get(x.split('#')[0]!) ?? x).join(' -> ');
    const extra = [`${r.transmissions} tx`, r.retransmissions > 0 ? `${r.retransmissions} retx` : '', r.failovers > 0 ? `FAILOVER ${path}` : ''].filter((x) => x !== '').join(', ');
    if (o.ok) {
      okIncrements.set(c.client, (okIncrements.get(c.client) ?? 0) + 1);
      print(`${at()}  ${c.client.padEnd(3)} incr ${c.op.padEnd(6)} -> server ${nameOf.get(o.server.address) ?? o.server.address} = ${String(o.value).padStart(2)}   (${extra})`);
    } else print(`${at()}  ${c.client.padEnd(3)} incr ${c.op.padEnd(6)} FAILED ${o.reason}: ${o.detail}   (${extra})`);
  };

  // c1 and c2 chain asynchronous sends through callbacks; c3 awaits each call.
  const running: Promise<void>[] = [];
  clients.forEach((h, i) => {
    const kv = clientSvcs[i]!.use('kv', kvSpec, { owner: h.rt.app('kv-client') });
    const name = h.name;
    if (i < 2) {
      const next = (k: number): void => {
        if (k >= callsPerClient) return;
        const c: Call = { client: name, op: `${name}.${k + 1}`, outcomes: [] };
        calls.push(c);
        const handle = kv.send('incr', { key: name, by: 1, op: c.op });
        handle.onDone((out) => {
          report(c, out, handle.record);
          next(k + 1);
        });
      };
      next(0);
    } else {
      running.push(
        (async () => {
          for (let k = 0; k < callsPerClient; k++) {
            const c: Call = { client: name, op: `${name}.${k + 1}`, outcomes: [] };
            calls.push(c);
            const handle = kv.send('incr', { key: name, by: 1, op: c.op });
            const out = await handle.result().then(
              (value): CallOutcome<number> => handle.outcome as CallOutcome<number> & { value: typeof value },
              () => handle.outcome as CallOutcome<number>,
            );
            report(c, out, handle.record);
          }
        })(),
      );
    }
  });

  // Virtual time, with the promise callbacks of c3 run between steps.
  const total = callsPerClient * clients.length;
  const limit = 600_000;
  while (calls.filter((c) => c.outcomes.length > 0).length < total && clock.now() < limit) {
    clock.advance(1);
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(running);
  // Let retransmitted copies and late duplicates arrive: nothing may run twice afterwards either.
  clock.advance(5_000);
  const virtualMs = clock.now();

  // ---- the exactly-once check, computed -----------------------------------------
  const problems: string[] = [];
  for (const c of calls) {
    if (c.outcomes.length !== 1) problems.push(`${c.op}: ${c.outcomes.length} results`);
    const applied = store.applied.get(c.op) ?? 0;
    const ok = c.outcomes[0]?.ok === true;
    if (ok && applied !== 1) problems.push(`${c.op}: applied ${applied} times`);
    if (!ok && applied !== 0) problems.push(`${c.op}: failed, yet applied ${applied} times`);
  }
  if (calls.length !== total) problems.push(`${calls.length} calls made, ${total} expected`);
  for (const c of CLIENTS) {
    const v = store.values.get(c.name) ?? 0;
    const n = okIncrements.get(c.name) ?? 0;
    if (v !== n) problems.push(`counter ${c.name} = ${v}, but ${n} increments succeeded`);
  }
  const byServer: Record<string, number> = { a: 0, b: 0 };
  for (const c of calls) {
    const o = c.outcomes[0];
    if (o?.ok === true) {
      const n = nameOf.get(o.server.address) ?? o.server.address;
      byServer[n] = (byServer[n] ?? 0) + 1;
    }
  }
  const sum = (xs: Services[], f: (x: Services) => number): number => xs.reduce((a, x) => a + f(x), 0);
  const summary: ServicesDemoSummary = {
    seed,
    loss,
    calls: calls.length,
    ok: calls.filter((c) => c.outcomes[0]?.ok === true).length,
    failed: calls.filter((c) => c.outcomes[0]?.ok === false).length,
    byServer,
    transmissions: sum(clientSvcs, (x) => x.counters.requestsSent),
    retransmissions: sum(clientSvcs, (x) => x.counters.retransmissions),
    failovers: sum(clientSvcs, (x) => x.counters.failovers),
    lookups: sum(clientSvcs, (x) => x.counters.lookupsSent),
    duplicatesSuppressed: sum(serverSvcs, (x) => x.counters.duplicatesSuppressed),
    staleDropped: sum(serverSvcs, (x) => x.counters.staleDropped),
    cleanups: kvServers.reduce((a, x) => a + x.undone, 0),
    virtualMs,
    exactlyOnce: problems.length === 0,
    problems,
  };
  print('');
  print(`calls: ${summary.calls} (${summary.ok} ok, ${summary.failed} failed); done by server a: ${byServer['a']}, server b: ${byServer['b']}`);
  print(`requests sent: ${summary.transmissions}, of which retransmissions: ${summary.retransmissions}; lookups: ${summary.lookups}`);
  print(`duplicates suppressed by the servers: ${summary.duplicatesSuppressed} (old copies dropped: ${summary.staleDropped})`);
  print(`failovers: ${summary.failovers}; changes undone by cleanup: ${summary.cleanups}`);
  print(
    summary.exactlyOnce
      ? `exactly once: OK — ${summary.calls} calls, ${summary.calls} results, each change kept once; counters ${CLIENTS.map((c) => `${c.name}=${store.values.get(c.name) ?? 0}`).join(' ')}`
      : `exactly once: VIOLATED — ${problems.join('; ')}`,
  );
  return summary;
}

export const SERVICES_DEMO_COMMAND = {
  prog: 'demo:services',
  summary:
    'A key-value service offered by two servers, three clients on a lossy simulated link (virtual clock, seeded), one server failing mid-run; ends with the exactly-once check.',
  options: options({
    seed: SHARED.seed(1),
    loss: SHARED.loss(0.2),
    calls: integer('increments per client', { min: 1, max: 10_000, default: 8 }),
    'fail-after': integer('server a fails during its call after this many', { min: 0, max: 1_000_000, default: 5 }),
    ipv6: { kind: 'flag', help: 'IPv6-only hosts (fd00::1...): lookups go to all nodes (ff02::1)' },
    json: SHARED.json('print only the summary, as one JSON object'),
  }),
  epilog: 'Exit status: 0 the exactly-once check held, 1 it did not, 2 bad arguments.',
} satisfies CommandSpec<OptionTable>;

export async function main(argv: readonly string[]): Promise<number> {
  let p;
  try {
    p = parseCommand(SERVICES_DEMO_COMMAND, argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(usageLine(SERVICES_DEMO_COMMAND.prog, e));
    return 2;
  }
  if (p === 'help') {
    process.stdout.write(formatHelp(SERVICES_DEMO_COMMAND));
    return 0;
  }
  const v = p.values;
  const lines: string[] = [];
  const r = await runServicesDemo({
    seed: v.seed,
    loss: v.loss,
    calls: v.calls ?? 8,
    failAfter: v['fail-after'] ?? 5,
    ipv6: v.ipv6 === true,
    print: v.json ? (l) => lines.push(l) : (l) => process.stdout.write(l + '\n'),
  });
  if (v.json) process.stdout.write(JSON.stringify(r) + '\n');
  return r.exactlyOnce ? 0 : 1;
}

if (isEntryPoint(import.meta.url)) runCommand('demo:services', main);
