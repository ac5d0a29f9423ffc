import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/core/index.js';
import { createHost } from '../../../src/host.js';
import { SimLink, type SimPort } from '../../../src/layers/nic/sim-link.js';
import { TcpDatagrams } from '../../../src/layers/service/ext/tcp-datagrams.js';
import { ServiceError, type CallOutcome } from '../../../src/layers/service/client.js';
import { Services } from '../../../src/layers/service/service.js';
import { parseIp4 } from '../../../src/wire/addr.js';
import { KvServer, kv, net, type Net } from './support.js';

function kvServer(n: Net, i: number): KvServer {
  const m = new KvServer(n.hosts[i]!.rt, 'kv-server');
  n.svcs[i]!.offer('kv', kv, m.handlers, { owner: m });
  return m;
}

/** Run the clock until `cond`, letting promise callbacks (async handlers, awaits) run between steps. */
async function until(n: Net, cond: () => boolean, limitMs = 60_000): Promise<void> {
  const end = n.clock.now() + limitMs;
  while (!cond() && n.clock.now() < end) {
    n.clock.advance(5);
    await new Promise((r) => setImmediate(r));
  }
}

describe('calls', () => {
  it('a client names the service and gets the result from a server on another host', async () => {
    const n = net(2);
    const srv = kvServer(n, 1);
    const c = n.svcs[0]!.use('kv', kv);
    const put = c.call('put', { key: 'a', value: '1' });
    await until(n, () => srv.store.size > 0);
    await until(n, () => n.svcs[0]!.inFlight() === 0);
    expect(await put).toBe(true);
    const get = c.send('get', { key: 'a' });
    n.clock.runUntil(() => get.done, 5_000);
    expect(get.outcome).toMatchObject({ ok: true, value: '1', server: { address: '10.0.0.2', port: 7300 } });
    expect(n.svcs[0]!.servers('kv')).toHaveLength(1);
  });

  it("holds a send's completion until the client asks for it, then delivers it once", async () => {
    const n = net(2);
    kvServer(n, 1);
    const c = n.svcs[0]!.use('kv', kv);
    const h = c.send('put', { key: 'k', value: 'v' });
    n.clock.runUntil(() => h.done, 5_000);
    n.clock.advance(1_000);
    // Done long ago, nobody asked: the outcome waited in the handle.
    expect(h.outcome?.ok).toBe(true);
    const seen: CallOutcome<boolean>[] = [];
    h.onDone((o) => seen.push(o));
    h.onDone((o) => seen.push(o));
    expect(seen.map((o) => o.ok)).toEqual([true, true]);
    expect(await h.result()).toBe(true);
  });

  it('runs a callback bound before the result as an upcall into the client owner, in a task', () => {
    const n = net(2);
    kvServer(n, 1);
    const owner = n.hosts[0]!.rt.app('kv-user');
    const c = n.svcs[0]!.use('kv', kv, { owner });
    let got: unknown;
    c.send('get', { key: 'none' }).onDone((o) => {
      got = o.ok ? o.value : o.reason;
      throw new Error('callback fault');
    });
    const before = n.hosts[0]!.rt.stats.tasksExpended;
    n.clock.runUntil(() => got !== undefined, 5_000);
    expect(got).toBeNull();
    // The callback's fault expended its own task, not the module's.
    expect(n.hosts[0]!.rt.stats.tasksExpended).toBe(before + 1);
    expect(n.svcs[0]!.inFlight()).toBe(0);
  });

  it('checks argument shapes before sending and on arrival, and result shapes before replying', async () => {
    const n = net(2);
    n.svcs[1]!.offer('kv', kv, { get: () => 42 as unknown as string, put: () => true });
    const typed = n.svcs[0]!.use('kv', kv);
    const bad = typed.send('put', { key: 'a', value: 7 as unknown as string });
    expect(bad.outcome).toMatchObject({ ok: false, reason: 'bad-args', detail: 'args.value: expected string, got number' });
    // A client without the spec is checked by the server.
    const loose = n.svcs[0]!.use('kv');
    const h1 = loose.send('put', { key: 'a' });
    const h2 = loose.send('nope', {});
    const h3 = typed.send('get', { key: 'a' });
    n.clock.runUntil(() => h1.done && h2.done && h3.done, 5_000);
    expect(h1.outcome).toMatchObject({ ok: false, reason: 'bad-args', detail: 'args.value: expected string, got undefined' });
    expect(h2.outcome).toMatchObject({ ok: false, reason: 'no-such-call' });
    expect(h3.outcome).toMatchObject({ ok: false, reason: 'bad-result', detail: 'result: expected string | null, got number' });
    await expect(h3.result()).rejects.toBeInstanceOf(ServiceError);
  });
});

describe('the server side of exactly once', () => {
  it('keeps each reply until the client acknowledges it, then only the fact that it ran', () => {
    const n = net(2);
    kvServer(n, 1);
    const c = n.svcs[0]!.use('kv', kv);
    const hs = Array.from({ length: 5 }, (_, i) => c.send('put', { key: `k${i}`, value: 'v' }));
    n.clock.runUntil(() => hs.every((h) => h.done), 5_000);
    n.clock.advance(100);
    expect(n.svcs[1]!.counters.repliesSent).toBe(5);
    expect(n.svcs[1]!.counters.acksReceived).toBe(5);
    expect(n.svcs[1]!.unacknowledged()).toBe(0);
  });

  it('drops bad datagrams on its port with a counted reason, and goes on serving', () => {
    const n = net(2);
    kvServer(n, 1);
    const sock = n.hosts[0]!.udp!.bind(0, n.hosts[0]!.rt.app('prober'), {});
    sock.send(n.hosts[1]!.address, 7300, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
    sock.send(n.hosts[1]!.address, 7300, new Uint8Array([0x53, 0x56, 9, 1, 0, 0, 0, 0, 0, 10]));
    n.clock.advance(10);
    expect(Object.fromEntries(n.svcs[1]!.stats.dropReasons)).toEqual({ 'bad-magic': 1, 'bad-version': 1 });
    const h = n.svcs[0]!.use('kv', kv).send('get', { key: 'a' });
    n.clock.runUntil(() => h.done, 5_000);
    expect(h.outcome?.ok).toBe(true);
  });
});

describe('several servers', () => {
  it('sends each call to the least busy server (outstanding calls), so equal servers share the work', async () => {
    const n = net(3);
    const byServer = [0, 0];
    for (const i of [1, 2]) {
      n.svcs[i]!.offer('kv', kv, {
        get: async () => {
          byServer[i - 1]!++;
          await new Promise<void>((r) => n.clock.schedule(n.clock.now() + 50, r));
          return 'x';
        },
        put: () => true,
      });
    }
    const c = n.svcs[0]!.use('kv', kv);
    // Find both servers first (the first answer to a lookup would otherwise take the first calls alone).
    n.clock.runUntil(() => n.svcs[0]!.servers('kv').length === 2, 1_000);
    c.send('get', { key: 'warm' });
    await until(n, () => n.svcs[0]!.servers('kv').length === 2 && n.svcs[0]!.inFlight() === 0);
    const hs = Array.from({ length: 10 }, (_, i) => c.send('get', { key: String(i) }));
    await until(n, () => hs.every((h) => h.done));
    expect(hs.every((h) => h.outcome?.ok)).toBe(true);
    expect(byServer[0]! + byServer[1]!).toBe(11);
    expect(Math.min(...byServer)).toBeGreaterThanOrEqual(5);
  });

  it('serves one service from two offers on the same host, each found and used', async () => {
    const n = net(2);
    const done = [0, 0];
    for (const i of [0, 1]) {
      n.svcs[1]!.offer(
        'kv',
        kv,
        {
          get: async () => {
            done[i]!++;
            await new Promise<void>((r) => n.clock.schedule(n.clock.now() + 20, r));
            return null;
          },
          put: () => true,
        },
        { owner: n.hosts[1]!.rt.app(`kv-${i}`) },
      );
    }
    const c = n.svcs[0]!.use('kv', kv);
    n.clock.runUntil(() => n.svcs[0]!.servers('kv').length === 2, 1_000);
    const hs = Array.from({ length: 6 }, (_, i) => c.send('get', { key: String(i) }));
    await until(n, () => hs.every((h) => h.done));
    expect(hs.every((h) => h.outcome?.ok)).toBe(true);
    expect(done).toEqual([3, 3]);
    expect(new Set(hs.map((h) => (h.outcome?.ok ? h.outcome.server.serverId : 0))).size).toBe(2);
  });

  it("offers a call to another server when the first one's task is expended; its cleanup undid the change", () => {
    const n = net(3);
    const a = kvServer(n, 1);
    const b = kvServer(n, 2);
    a.failing = true;
    const c = n.svcs[0]!.use('kv', kv);
    const hs = Array.from({ length: 4 }, (_, i) => c.send('put', { key: `k${i}`, value: 'v' }));
    n.clock.runUntil(() => hs.every((h) => h.done), 30_000);
    expect(hs.map((h) => h.outcome?.ok)).toEqual([true, true, true, true]);
    expect(hs.every((h) => h.outcome?.ok && h.outcome.server.address === '10.0.0.3')).toBe(true);
    expect(a.store.size).toBe(0);
    expect(b.store.size).toBe(4);
    expect(a.cleanups).toBeGreaterThan(0);
    expect(hs.some((h) => h.record.failovers === 1)).toBe(true);
  });

  it('fails the call, never hangs, when no server is left', () => {
    const n = net(3);
    kvServer(n, 1).failing = true;
    kvServer(n, 2).failing = true;
    const c = n.svcs[0]!.use('kv', kv);
    const h = c.send('put', { key: 'k', value: 'v' });
    n.clock.runUntil(() => h.done, 60_000);
    expect(h.outcome).toMatchObject({ ok: false, reason: 'no-server', detail: "no server of 'kv' left (2 failed the call; last: threw: server fault)" });
    expect(h.record.failovers).toBe(2);
  });

  it('fails a call for a service nobody offers', () => {
    const n = net(2);
    const h = n.svcs[0]!.use('nothing').send('x', {});
    n.clock.runUntil(() => h.done, 60_000);
    expect(h.outcome).toMatchObject({ ok: false, reason: 'no-server', detail: "nobody offers 'nothing'" });
  });

  it('moves to the remaining server when one withdraws its offer', () => {
    const n = net(3);
    const a = kvServer(n, 1);
    const b = kvServer(n, 2);
    const c = n.svcs[0]!.use('kv', kv);
    n.clock.runUntil(() => n.svcs[0]!.servers('kv').length === 2, 1_000);
    const hs1 = Array.from({ length: 4 }, (_, i) => c.send('put', { key: `x${i}`, value: '1' }));
    n.clock.runUntil(() => hs1.every((h) => h.done), 10_000);
    expect(a.store.size).toBeGreaterThan(0);
    withdrawAll(n.svcs[1]!);
    n.clock.advance(100);
    expect(n.svcs[0]!.servers('kv').map((x) => x.address)).toEqual(['10.0.0.3']);
    const hs2 = Array.from({ length: 4 }, (_, i) => c.send('put', { key: `y${i}`, value: '1' }));
    n.clock.runUntil(() => hs2.every((h) => h.done), 10_000);
    expect(hs2.every((h) => h.outcome?.ok && h.outcome.server.address === '10.0.0.3')).toBe(true);
    expect([...b.store.keys()].filter((k) => k.startsWith('y'))).toHaveLength(4);
  });

  it('fails a call whose server falls silent as unreachable, and does not run it elsewhere', () => {
    const n = net(3, {}, { maxAttempts: 4 });
    kvServer(n, 1);
    const c = n.svcs[0]!.use('kv', kv);
    const first = c.send('get', { key: 'a' });
    n.clock.runUntil(() => first.done, 5_000);
    (n.hosts[1]!.device as SimPort).setConditions({ loss: 1 });
    const h = c.send('put', { key: 'k', value: 'v' });
    // Another server appears while the call waits: the silent one may have done it, so it is not asked.
    const b = kvServer(n, 2);
    n.clock.runUntil(() => h.done, 60_000);
    n.clock.advance(10_000);
    expect(h.outcome).toMatchObject({ ok: false, reason: 'unreachable' });
    expect(h.record.transmissions).toBe(4);
    expect(b.store.size).toBe(0);
  });
});

describe('finding servers', () => {
  it('looks servers up at a configured directory host instead of broadcasting', () => {
    const dir = parseIp4('10.0.0.3');
    // Broadcasts go nowhere useful: lookups must reach the directory (the host whose address it is).
    const n = net(3, {}, { directory: dir, broadcast: parseIp4('10.0.0.250') });
    kvServer(n, 1);
    const c = n.svcs[0]!.use('kv', kv);
    const h = c.send('put', { key: 'a', value: '1' });
    n.clock.runUntil(() => h.done, 10_000);
    expect(h.outcome).toMatchObject({ ok: true, server: { address: '10.0.0.2' } });
    expect(n.svcs[2]!.servers('kv').map((x) => x.address)).toEqual(['10.0.0.2']);
  });

  it('refreshes its cache of offers before they expire, while the service is in use', () => {
    const n = net(2, {}, { offerTtlMs: 1_000 });
    kvServer(n, 1);
    const c = n.svcs[0]!.use('kv', kv);
    for (let t = 0; t < 10; t++) {
      const h = c.send('get', { key: 'a' });
      n.clock.runUntil(() => h.done, 5_000);
      expect(h.outcome?.ok).toBe(true);
      n.clock.advance(400);
    }
    expect(n.svcs[0]!.counters.lookupsSent).toBeGreaterThan(2);
    expect(n.svcs[0]!.counters.failovers).toBe(0);
  });
});

function withdrawAll(svc: Services): void {
  for (const o of svc.offers()) o.withdraw();
}

describe('transports', () => {
  it('sends large messages over TCP and small ones over UDP, on the same port', () => {
    const clock = new VirtualClock();
    const link = new SimLink(clock, { seed: 3 });
    const hosts = [1, 2].map((i) => createHost({ name: `t${i}`, link, ip: `10.0.0.${i}/24`, seed: i, tcp: true }));
    const tcps = hosts.map((h) => new TcpDatagrams(h.rt, h.tcp!, h.address));
    const svcs = hosts.map((h, i) => new Services(h.rt, { udp: h.udp!, tcp: tcps[i]! }));
    const store = new Map<string, string>();
    svcs[1]!.offer('kv', kv, { get: ({ key }) => store.get(key) ?? null, put: ({ key, value }) => (store.set(key, value), true) });
    const c = svcs[0]!.use('kv', kv);
    const big = 'x'.repeat(20_000);
    const put = c.send('put', { key: 'big', value: big });
    clock.runUntil(() => put.done, 10_000);
    const get = c.send('get', { key: 'big' });
    const small = c.send('get', { key: 'none' });
    clock.runUntil(() => get.done && small.done, 10_000);
    expect(put.outcome?.ok).toBe(true);
    expect(get.outcome).toMatchObject({ ok: true, value: big });
    expect(small.outcome).toMatchObject({ ok: true, value: null });
    // The big request and the big reply went by TCP; the lookup, the small calls and the acks by UDP.
    expect(tcps[0]!.counters.framesSent).toBe(1);
    expect(tcps[1]!.counters.framesSent).toBe(1);
    expect(hosts[0]!.udp!.counters.sent).toBeGreaterThanOrEqual(2);
  });

  it('runs over TCP alone, finding servers at a directory host', () => {
    const clock = new VirtualClock();
    const link = new SimLink(clock, { seed: 4, loss: 0.1 });
    const hosts = [1, 2].map((i) => createHost({ name: `t${i}`, link, ip: `10.0.0.${i}/24`, seed: i, tcp: true }));
    for (const a of hosts) for (const b of hosts) if (a !== b) a.arp.addStatic(b.address, b.mac);
    const svcs = hosts.map((h) => new Services(h.rt, { tcp: new TcpDatagrams(h.rt, h.tcp!, h.address), directory: hosts[1]!.address }));
    const srv = kvServer({ clock, link, hosts, svcs }, 1);
    const c = svcs[0]!.use('kv', kv);
    const hs = Array.from({ length: 5 }, (_, i) => c.send('put', { key: `k${i}`, value: 'v' }));
    clock.runUntil(() => hs.every((h) => h.done), 60_000);
    expect(hs.every((h) => h.outcome?.ok)).toBe(true);
    expect(srv.store.size).toBe(5);
    expect(hosts[0]!.udp!.counters.sent).toBe(0);
  });
});
