/**
 * The service layer over IPv6 and over both families: lookups to the all-nodes
 * group, calls and failover between IPv6-only hosts, an IPv6-only client and a
 * dual-stack server, a directory host reached over IPv6, and an IPv6 address a
 * directory relays in its offers.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock, type Runtime } from '../../../src/core/index.js';
import { createHost, type Host } from '../../../src/host.js';
import { SimLink } from '../../../src/layers/nic/sim-link.js';
import { TcpDatagrams } from '../../../src/layers/service/ext/tcp-datagrams.js';
import { Services, type ServicesOptions } from '../../../src/layers/service/service.js';
import { formatIp6 } from '../../../src/wire/addr6.js';
import { KvServer, kv } from './support.js';

/** Hosts on one SimLink, each given its addresses ('fd00::1/64', '10.0.0.1/24' or both), DAD off. */
function net(addrs: ReadonlyArray<string | string[]>, opts: Partial<Omit<ServicesOptions, 'udp'>> = {}, seed = 1, loss = 0) {
  const clock = new VirtualClock();
  const link = new SimLink(clock, { seed, loss });
  const hosts: Host[] = addrs.map((ip, i) => createHost({ name: `h${i + 1}`, link, ip, seed: seed * 100 + i + 1, ipv6: { dad: false } }));
  const svcs = hosts.map((h) => new Services(h.rt, { udp: h.udp!, ...opts }));
  return { clock, link, hosts, svcs };
}

function serve(svc: Services, rt: Runtime): KvServer {
  const m = new KvServer(rt);
  svc.offer('kv', kv, m.handlers, { owner: m });
  return m;
}

describe('services over IPv6', () => {
  it('an IPv6-only client finds an IPv6-only server through the all-nodes group and calls it', () => {
    const n = net(['fd00::1/64', 'fd00::2/64']);
    const srv = serve(n.svcs[1]!, n.hosts[1]!.rt);
    const c = n.svcs[0]!.use('kv', kv);
    const put = c.send('put', { key: 'a', value: '1' });
    n.clock.runUntil(() => put.done, 10_000);
    const get = c.send('get', { key: 'a' });
    n.clock.runUntil(() => get.done, 10_000);
    expect(put.outcome?.ok).toBe(true);
    expect(get.outcome).toMatchObject({ ok: true, value: '1' });
    expect(srv.store.get('a')).toBe('1');
    // Found by a lookup on the link (no directory), known by the address its answers come from.
    expect(n.svcs[0]!.counters.lookupsSent).toBeGreaterThan(0);
    expect(get.outcome).toMatchObject({ server: { address: 'fd00::2' } });
    expect(n.svcs[0]!.servers('kv').map((x) => x.address)).toEqual(['fd00::2']);
    expect(n.svcs[1]!.counters.duplicatesSuppressed).toBe(0);
  });

  it('fails over between IPv6-only servers: the failed one undid its change, the other did the call once', () => {
    const n = net(['fd00::1/64', 'fd00::2/64', 'fd00::3/64']);
    const a = serve(n.svcs[1]!, n.hosts[1]!.rt);
    const b = serve(n.svcs[2]!, n.hosts[2]!.rt);
    a.failing = true;
    const c = n.svcs[0]!.use('kv', kv);
    const hs = Array.from({ length: 4 }, (_, i) => c.send('put', { key: `k${i}`, value: 'v' }));
    n.clock.runUntil(() => hs.every((h) => h.done), 30_000);
    expect(hs.map((h) => h.outcome?.ok)).toEqual([true, true, true, true]);
    expect(a.store.size).toBe(0);
    expect(b.store.size).toBe(4);
    expect(hs.some((h) => h.record.failovers === 1)).toBe(true);
    expect(hs.every((h) => h.outcome?.ok && h.outcome.server.address === 'fd00::3')).toBe(true);
    // The failed server was tried, then left: the call went to h3 with the same id, no second run.
    expect(hs.filter((h) => h.record.servers.length === 2).every((h) => h.record.servers[0]!.startsWith('fd00::2#'))).toBe(true);
  });

  it('fails, never hangs, when no IPv6 server is left', () => {
    const n = net(['fd00::1/64', 'fd00::2/64']);
    serve(n.svcs[1]!, n.hosts[1]!.rt).failing = true;
    const h = n.svcs[0]!.use('kv', kv).send('put', { key: 'k', value: 'v' });
    n.clock.runUntil(() => h.done, 60_000);
    expect(h.outcome).toMatchObject({ ok: false, reason: 'no-server' });
  });

  it('exactly once over a lossy IPv6 link', () => {
    const n = net(['fd00::1/64', 'fd00::2/64'], {}, 5, 0.2);
    const srv = serve(n.svcs[1]!, n.hosts[1]!.rt);
    let runs = 0;
    const put = srv.handlers.put;
    srv.handlers.put = (a) => (runs++, put(a));
    const c = n.svcs[0]!.use('kv', kv);
    const hs = Array.from({ length: 10 }, (_, i) => c.send('put', { key: `k${i}`, value: 'v' }));
    n.clock.runUntil(() => hs.every((h) => h.done), 120_000);
    expect(hs.every((h) => h.outcome?.ok)).toBe(true);
    expect(runs).toBe(10);
    expect(n.svcs[0]!.counters.retransmissions).toBeGreaterThan(0);
  });
});

describe('services on one IPv6 host', () => {
  it('a client on the server\'s own host finds its offer without the network and calls it over IPv6', () => {
    const n = net(['fd00::1/64']);
    const srv = serve(n.svcs[0]!, n.hosts[0]!.rt);
    const h = n.svcs[0]!.use('kv', kv).send('put', { key: 'self', value: '1' });
    n.clock.runUntil(() => h.done, 10_000);
    expect(h.outcome).toMatchObject({ ok: true, value: true, server: { address: 'fd00::1' } });
    expect(srv.store.get('self')).toBe('1');
    expect(n.svcs[0]!.counters.lookupsSent).toBe(0);
  });
});

describe('services on a mixed link', () => {
  it('an IPv6-only client finds a dual-stack server, and an IPv4-only client finds it too', () => {
    const n = net(['fd00::1/64', ['10.0.0.2/24', 'fd00::2/64'], '10.0.0.3/24']);
    const srv = serve(n.svcs[1]!, n.hosts[1]!.rt);
    const c6 = n.svcs[0]!.use('kv', kv).send('put', { key: 'six', value: '6' });
    const c4 = n.svcs[2]!.use('kv', kv).send('put', { key: 'four', value: '4' });
    n.clock.runUntil(() => c6.done && c4.done, 10_000);
    expect(c6.outcome).toMatchObject({ ok: true, value: true, server: { address: 'fd00::2' } });
    expect(c4.outcome).toMatchObject({ ok: true, value: true, server: { address: '10.0.0.2' } });
    expect([...srv.store.keys()].sort()).toEqual(['four', 'six']);
  });

  it('a dual-stack client keeps a dual-stack server once, though it hears it in both families', () => {
    const n = net([['10.0.0.1/24', 'fd00::1/64'], ['10.0.0.2/24', 'fd00::2/64']]);
    serve(n.svcs[1]!, n.hosts[1]!.rt);
    n.clock.advance(10);
    // The announcement went to the IPv4 broadcast and to all nodes; the IPv4 one is heard first.
    expect(n.svcs[0]!.counters.offersHeard).toBe(2);
    expect(n.svcs[0]!.servers('kv').map((x) => x.address)).toEqual(['10.0.0.2']);
    const h = n.svcs[0]!.use('kv', kv).send('get', { key: 'x' });
    n.clock.runUntil(() => h.done, 10_000);
    expect(h.outcome).toMatchObject({ ok: true, value: null, server: { address: '10.0.0.2' } });
  });

  it('finds servers at a directory host reached over IPv6, which relays their IPv6 addresses', () => {
    const clock = new VirtualClock();
    const link = new SimLink(clock, { seed: 2 });
    const hosts = [1, 2, 3].map((i) => createHost({ name: `h${i}`, link, ip: `fd00::${i}/64`, seed: i, ipv6: { dad: false } }));
    const dir = hosts[2]!.address6!;
    const svcs = hosts.map((h) => new Services(h.rt, { udp: h.udp!, directory: dir }));
    serve(svcs[1]!, hosts[1]!.rt);
    clock.advance(10);
    // The directory heard the server's offer; the client asks the directory, not the link.
    expect(svcs[2]!.servers('kv').map((x) => x.address)).toEqual([formatIp6(hosts[1]!.address6!)]);
    const h = svcs[0]!.use('kv', kv).send('put', { key: 'k', value: 'v' });
    clock.runUntil(() => h.done, 10_000);
    expect(h.outcome).toMatchObject({ ok: true, value: true, server: { address: formatIp6(hosts[1]!.address6!) } });
    expect(svcs[0]!.servers('kv').map((x) => x.address)).toEqual([formatIp6(hosts[1]!.address6!)]);
  });

  it('runs over TCP alone between IPv6 hosts, finding servers at a directory host', () => {
    const clock = new VirtualClock();
    const link = new SimLink(clock, { seed: 4, loss: 0.1 });
    const hosts = [1, 2].map((i) => createHost({ name: `t${i}`, link, ip: `fd00::${i}/64`, seed: i, tcp: true, ipv6: { dad: false } }));
    const tcps = hosts.map((h) => new TcpDatagrams(h.rt, h.tcp!, h.address6!));
    const svcs = hosts.map((h, i) => new Services(h.rt, { tcp: tcps[i]!, directory: hosts[1]!.address6! }));
    const srv = serve(svcs[1]!, hosts[1]!.rt);
    const c = svcs[0]!.use('kv', kv);
    const hs = Array.from({ length: 5 }, (_, i) => c.send('put', { key: `k${i}`, value: 'v' }));
    clock.runUntil(() => hs.every((h) => h.done), 60_000);
    expect(hs.every((h) => h.outcome?.ok && h.outcome.server.address === 'fd00::2')).toBe(true);
    expect(srv.store.size).toBe(5);
    // Everything went by the TCP connection; the announcements to all nodes had none to ride and were dropped.
    expect(hosts[0]!.udp!.counters.sent).toBe(0);
    expect(tcps[0]!.counters.connections).toBeGreaterThan(0);
    expect(tcps[1]!.stats.dropReasons.get('broadcast')).toBeGreaterThan(0);
  });
});
