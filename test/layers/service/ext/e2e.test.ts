/**
 * The extensions end to end: a client host and a server host on a SimLink,
 * each with a Services module, calls going over UDP.
 */
import { threadId } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { currentTask, Module, VirtualClock, type Runtime } from '../../../../src/core/index.js';
import { createHost } from '../../../../src/host.js';
import { SimLink } from '../../../../src/layers/nic/sim-link.js';
import type { CallContext } from '../../../../src/layers/service/ext/context.js';
import { TcpDatagrams } from '../../../../src/layers/service/ext/tcp-datagrams.js';
import { readToken, TokenAuthority } from '../../../../src/layers/service/ext/token.js';
import { Services, type ServicesOptions } from '../../../../src/layers/service/service.js';
import { s } from '../../../../src/layers/service/shape.js';
import { defineService, type ServiceSpec } from '../../../../src/layers/service/spec.js';
import type { CallHandle } from '../../../../src/layers/service/client.js';

function net(seed = 1, transport: 'udp' | 'tcp' = 'udp') {
  const clock = new VirtualClock();
  const link = new SimLink(clock, { delayMs: 1, seed });
  const tcp = transport === 'tcp';
  const sh = createHost({ name: 'server', link, ip: '10.0.0.2/24', seed: seed + 1, tcp });
  const ch = createHost({ name: 'client', link, ip: '10.0.0.1/24', seed: seed + 2, tcp });
  // Over TCP alone a lookup cannot be broadcast: the server host is the directory.
  const over = (h: typeof sh): ServicesOptions => (tcp ? { tcp: new TcpDatagrams(h.rt, h.tcp!, h.address), directory: sh.address } : { udp: h.udp! });
  const server = new Services(sh.rt, over(sh));
  const client = new Services(ch.rt, over(ch));
  return { clock, server, client, srt: sh.rt, crt: ch.rt };
}

function sleep(clock: VirtualClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.schedule(clock.now() + ms, resolve));
}

/** Run virtual time until every handle is done, letting handlers resume between steps. */
async function settle(clock: VirtualClock, handles: ReadonlyArray<CallHandle<unknown>>, limitMs = 20_000): Promise<void> {
  const end = clock.now() + limitMs;
  while (handles.some((h) => !h.done) && clock.now() < end) {
    clock.advance(1);
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

/** A key-value server whose writes are undone by its cleanup when their task is expended. */
class KvServer extends Module {
  readonly data = new Map<string, string>();
  /** Writes not yet committed, per task: what the cleanup rolls back. */
  private readonly uncommitted = new Map<number, Array<[string, string | undefined]>>();
  readonly cleanups: string[] = [];
  constructor(rt: Runtime) {
    super(rt, 'kv-server');
  }
  write(key: string, value: string): void {
    const t = currentTask()!.id;
    const log = this.uncommitted.get(t) ?? [];
    log.push([key, this.data.get(key)]);
    this.uncommitted.set(t, log);
    this.data.set(key, value);
  }
  commit(): void {
    this.uncommitted.delete(currentTask()!.id);
  }
  protected override cleanup(_client: unknown, reason: string): void {
    const t = currentTask()!.id;
    this.cleanups.push(reason);
    for (const [k, old] of (this.uncommitted.get(t) ?? []).reverse()) {
      if (old === undefined) this.data.delete(k);
      else this.data.set(k, old);
    }
    this.uncommitted.delete(t);
  }
}

const kvSpec = defineService({
  /** Writes, then takes `ms` to "sync to disk". */
  slowPut: { args: s.object({ key: s.string(), value: s.string(), ms: s.integer() }), result: s.boolean(), ext: { deadlineMs: 100 } },
  get: { args: s.object({ key: s.string() }), result: s.union(s.string(), s.null()) },
});

describe('deadline, end to end', () => {
  function serve(clock: VirtualClock, server: Services, srt: Runtime) {
    const kv = new KvServer(srt);
    server.offer('kv', kvSpec, {
      slowPut: async (a, _ctx: CallContext) => {
        kv.write(a.key, a.value);
        await sleep(clock, a.ms);
        kv.commit();
        return true;
      },
      get: (a) => kv.data.get(a.key) ?? null,
    }, { owner: kv });
    return kv;
  }

  it.each(['udp', 'tcp'] as const)("a call overrunning its deadline: the server's task is expended, its cleanup undoes the write, the caller hears 'deadline' (%s)", async (transport) => {
    const { clock, server, client, srt } = net(1, transport);
    const kv = serve(clock, server, srt);
    const c = client.use('kv', kvSpec);
    const h = c.send('slowPut', { key: 'a', value: 'new', ms: 500 });
    let told: string | undefined;
    h.onDone((o) => (told = o.ok ? 'ok' : `${o.reason}`));
    await settle(clock, [h as CallHandle<unknown>]);
    expect(h.outcome).toMatchObject({ ok: false, reason: 'deadline' });
    expect(told).toBe('deadline');
    expect(kv.cleanups).toEqual([expect.stringContaining('deadline')]);
    expect(kv.data.has('a')).toBe(false);
    // The server says so too: the next call sees no trace of the write.
    const g = c.send('get', { key: 'a' });
    await settle(clock, [g as CallHandle<unknown>]);
    expect(g.outcome).toMatchObject({ ok: true, value: null });
  });

  it('a call within its deadline completes and keeps its write', async () => {
    const { clock, server, client, srt } = net();
    const kv = serve(clock, server, srt);
    const c = client.use('kv', kvSpec);
    const h = c.send('slowPut', { key: 'a', value: 'new', ms: 20 });
    await settle(clock, [h as CallHandle<unknown>]);
    expect(h.outcome).toMatchObject({ ok: true, value: true });
    expect(kv.cleanups).toEqual([]);
    expect(kv.data.get('a')).toBe('new');
  });
});

describe('cooldown, end to end', () => {
  const notifySpec = defineService({
    changed: { args: s.object({ version: s.integer() }), result: s.null(), notify: true, ext: { cooldownMs: 200 } },
    plain: { args: s.object({ version: s.integer() }), result: s.null(), notify: true },
  });

  it('a burst of 10 notifications runs the handler twice: the first, and the latest at the end of the window', async () => {
    const { clock, server, client } = net();
    const ran: Array<[string, number, number]> = [];
    server.offer('ui', notifySpec, {
      changed: (a) => (ran.push(['changed', a.version, clock.now()]), null),
      plain: (a) => (ran.push(['plain', a.version, clock.now()]), null),
    });
    const c = client.use('ui', notifySpec);
    const hs: Array<CallHandle<unknown>> = [];
    // Make sure the server is known, then burst.
    await settle(clock, [c.send('plain', { version: 0 }) as CallHandle<unknown>]);
    ran.length = 0;
    for (let v = 1; v <= 10; v++) {
      hs.push(c.send('changed', { version: v }) as CallHandle<unknown>);
      hs.push(c.send('plain', { version: v }) as CallHandle<unknown>);
      clock.advance(2);
    }
    await settle(clock, hs);
    const changed = ran.filter((r) => r[0] === 'changed');
    expect(changed.map((r) => r[1])).toEqual([1, 10]);
    expect(changed[1]![2] - changed[0]![2]).toBe(200);
    // Without cooldown every notification runs.
    expect(ran.filter((r) => r[0] === 'plain').map((r) => r[1])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Every caller got exactly one answer; the dropped ones say why.
    const outcomes = hs.filter((_, i) => i % 2 === 0).map((h) => (h.outcome!.ok ? 'ran' : h.outcome!.reason));
    expect(outcomes.filter((o) => o === 'ran')).toHaveLength(2);
    expect(outcomes.filter((o) => o === 'cooldown')).toHaveLength(8);
    const cd = server.shared.offers.get('ui')![0]!.cooldown;
    expect(cd.stats).toMatchObject({ ran: 1, ranHeld: 1, dropped: 8 });
  });
});

describe('ordering, end to end', () => {
  const spec = defineService({
    put: { args: s.object({ v: s.string() }), result: s.null() },
    get: { args: s.null(), result: s.string() },
    read: { args: s.integer(), result: s.integer(), ext: { order: 'any' } },
  }) satisfies ServiceSpec;

  it("one client's calls run in arrival order even when a later one is quicker", async () => {
    const { clock, server, client } = net();
    let value = 'old';
    server.offer('reg', spec, {
      put: async (a) => { await sleep(clock, 50); value = a.v; return null; },
      get: async () => { await sleep(clock, 1); return value; },
      read: (b) => b,
    });
    const c = client.use('reg', spec);
    const p = c.send('put', { v: 'new' });
    const g = c.send('get', null);
    await settle(clock, [p, g] as Array<CallHandle<unknown>>);
    expect(g.outcome).toMatchObject({ ok: true, value: 'new' });
  });

  it('out-of-order calls on an asynchronous server: the handler reorders its pending queue (nearest block first)', async () => {
    const { clock, server, client } = net();
    const served: number[] = [];
    let head = 0;
    server.offer('disk', spec, {
      put: () => null,
      get: () => '',
      read: async (block: number, ctx: CallContext) => {
        await sleep(clock, Math.abs(block - head));
        head = block;
        served.push(block);
        const waiting = ctx.pending().map((x) => x.args as number);
        if (waiting.length > 0) {
          const nearest = waiting.reduce((a, b) => (Math.abs(b - head) < Math.abs(a - head) ? b : a));
          ctx.takeNext((x) => x.args === nearest);
        }
        return block;
      },
    }, { structure: 'async' });
    const c = client.use('disk', spec);
    const hs = [90, 10, 85, 15, 80].map((b) => c.send('read', b) as CallHandle<unknown>);
    await settle(clock, hs);
    expect(hs.map((h) => h.outcome?.ok && h.outcome.value)).toEqual([90, 10, 85, 15, 80]);
    expect(served).toEqual([90, 85, 80, 15, 10]);
  });
});

describe('security tokens, end to end', () => {
  const spec = defineService({
    get: { args: s.object({ key: s.string() }), result: s.union(s.string(), s.null()), ext: { token: { rights: ['read'], asArgument: true } } },
    open: { args: s.null(), result: s.string() },
  });

  function setup() {
    const n = net();
    const authority = new TokenAuthority({ secret: new Uint8Array(32).fill(3) });
    const data = new Map([['users/ann', 'a'], ['admin/root', 'r']]);
    n.server.offer('kv', spec, {
      // Finer rights: the token's scope says which keys.
      get: (a, ctx: CallContext) => (ctx.token!.scope.some((p) => a.key.startsWith(p)) ? (data.get(a.key) ?? null) : 'denied'),
      open: () => 'open',
    }, { authority });
    return { ...n, authority };
  }

  it('a granted token works, checked once per binding then on the fast path; its scope limits the keys', async () => {
    const { clock, server, client, authority } = setup();
    const token = authority.grant({ service: 'kv', rights: ['read'], expiresAt: 60_000, scope: ['users/'] });
    const c = client.use('kv', spec, { token });
    const hs = [c.send('get', { key: 'users/ann' }), c.send('get', { key: 'admin/root' }), ...Array.from({ length: 8 }, () => c.send('get', { key: 'users/ann' }))] as Array<CallHandle<unknown>>;
    await settle(clock, hs);
    expect(hs.map((h) => h.outcome?.ok && h.outcome.value)).toEqual(['a', 'denied', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a']);
    const guard = server.shared.offers.get('kv')![0]!.guard!;
    expect(guard.stats).toMatchObject({ verified: 1, fastPath: 9, rejected: 0 });
  });

  it('forged, expired, wrong-service, revoked and missing tokens are refused with their reason and counted', async () => {
    const { clock, server, client, authority } = setup();
    const good = authority.grant({ service: 'kv', rights: ['read'], expiresAt: 60_000, scope: ['users/'] });
    const forged = good.slice();
    forged[forged.length - 1]! ^= 1;
    const other = new TokenAuthority({ secret: new Uint8Array(32).fill(9) }).grant({ service: 'kv', rights: ['read'], expiresAt: 60_000 });
    const expired = authority.grant({ service: 'kv', rights: ['read'], expiresAt: 0 });
    const wrongService = authority.grant({ service: 'files', rights: ['read'], expiresAt: 60_000 });
    const noRights = authority.grant({ service: 'kv', rights: ['list'], expiresAt: 60_000 });
    const revoked = authority.grant({ service: 'kv', rights: ['read'], expiresAt: 60_000 });
    authority.revoke(readToken(revoked)!.binding);
    clock.advance(10);
    const tokens = [forged, other, expired, wrongService, noRights, revoked, undefined];
    const hs = tokens.map((t) => client.use('kv', spec, t !== undefined ? { token: t } : {}).send('get', { key: 'users/ann' }) as CallHandle<unknown>);
    const open = client.use('kv', spec).send('open', null) as CallHandle<unknown>;
    await settle(clock, [...hs, open]);
    expect(hs.map((h) => (h.outcome!.ok ? 'ok' : h.outcome!.reason))).toEqual([
      'token-forged', 'token-forged', 'token-expired', 'token-service', 'token-rights', 'token-revoked', 'token-missing',
    ]);
    // A call that requires nothing needs no token.
    expect(open.outcome).toMatchObject({ ok: true, value: 'open' });
    const guard = server.shared.offers.get('kv')![0]!.guard!;
    expect(guard.stats.rejected).toBe(7);
  });
});

describe('threaded server, end to end', () => {
  const spec = defineService({ where: { args: s.null(), result: s.integer() }, square: { args: s.integer(), result: s.integer() } });
  const stop: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(stop.splice(0).map((f) => f()));
  });

  it("runs the handlers in a worker thread: the answer comes from another thread", async () => {
    const { clock, server, client } = net();
    server.offer('math', spec, { where: () => threadId, square: (x) => x * x }, {
      structure: 'threaded',
      worker: { url: new URL('./worker-handlers.ts', import.meta.url).href, export: 'handlers' },
      workers: 1,
    });
    const ex = server.shared.offers.get('math')![0]!.executor;
    stop.push(() => ex.close());
    await ex.pool!.ready;
    const c = client.use('math', spec);
    const hs = [c.send('where', null), c.send('square', 12)] as Array<CallHandle<unknown>>;
    for (let i = 0; i < 2000 && hs.some((h) => !h.done); i++) {
      clock.advance(1);
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(hs[1]!.outcome).toMatchObject({ ok: true, value: 144 });
    const where = hs[0]!.outcome!;
    expect(where.ok).toBe(true);
    expect(where.ok && where.value).not.toBe(threadId);
    expect(ex.pool!.stats.calls).toBe(2);
  });
});
