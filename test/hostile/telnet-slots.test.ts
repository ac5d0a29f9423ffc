/**
 * Login abuse against the Telnet server: idle connections that hold session
 * slots, and wrong passwords that fill the password-check queue. Another
 * address must still log in, promptly (virtual time).
 */
import { describe, expect, it } from 'vitest';
import type { VirtualClock } from '../../src/core/index.js';
import { createHost } from '../../src/host.js';
import { Tcp } from '../../src/layers/tcp/index.js';
import { FailureBackoff, LoginQueue } from '../../src/layers/telnet/login-queue.js';
import { UserDb } from '../../src/layers/telnet/users.js';
import { makeNet, type Net } from '../layers/telnet/support/net.js';
import { answering, peer, type Peer } from './support/telnet-peer.js';

function thirdHost(n: Net, last: number): Tcp {
  const h = createHost({ name: `host${last}`, link: n.link, ip: `10.0.0.${last}/24`, seed: 1000 + last });
  return new Tcp(h.rt, h.ip);
}

describe('hostile: session slots', () => {
  it('256 idle connections from one address do not keep another address from logging in', async () => {
    const n = makeNet({ link: { mode: 'switch' } });
    const owner = n.cli.rt.app('abuser');
    const idle: Peer[] = [];
    for (let i = 0; i < 256; i++) idle.push(peer(n.cliTcp, owner));
    await n.run(() => false, 2_000);
    expect(n.server.counters.refusedFromSource).toBeGreaterThanOrEqual(256 - 8);
    expect(n.server.sessions().length).toBeLessThanOrEqual(8);
    const tcp = thirdHost(n, 3);
    const t0 = n.clock.now();
    const user = peer(tcp, tcp.rt.app('user'), answering('demo', 'demo'));
    expect(await n.run(() => user.text.includes('demo@server$ '), 5_000)).toBe(true);
    if (process.env['HOSTILE_FIGURES']) console.log(`256 idle from one address: ${n.server.counters.refusedFromSource} refused, another address logged in after ${(n.clock.now() - t0).toFixed(1)} ms (virtual)`);
    expect(n.clock.now() - t0).toBeLessThan(1_000);
  });

  it('when abusers on many addresses fill every slot, a newcomer takes the slot of the longest-idle one', async () => {
    const n = makeNet({ link: { mode: 'switch' }, server: { maxSessions: 32 } });
    const holders: Peer[] = [];
    for (let h = 0; h < 8; h++) {
      const tcp = thirdHost(n, 10 + h);
      for (let i = 0; i < 8; i++) holders.push(peer(tcp, tcp.rt.app('abuser')));
      await n.run(() => false, 50);
    }
    await n.run(() => false, 1_000);
    // 32 slots, 4 kept for sessions that log in: 28 at most are not logged in.
    expect(n.server.sessions().length).toBeLessThanOrEqual(28);
    const tcp = thirdHost(n, 3);
    const user = peer(tcp, tcp.rt.app('user'), answering('demo', 'demo'));
    expect(await n.run(() => user.text.includes('demo@server$ '), 5_000)).toBe(true);
    expect(n.server.counters.evicted).toBeGreaterThan(0);
    expect(holders.filter((p) => p.text.includes('closed to make room')).length).toBe(n.server.counters.evicted);
  });

  it('a connection that sends nothing before logging in is closed after 20 s, well before the 60 s login timeout', async () => {
    const n = makeNet();
    const p = peer(n.cliTcp, n.cli.rt.app('idle'));
    expect(await n.run(() => p.state !== 'open' && p.state !== 'connecting', 60_000)).toBe(true);
    expect(n.clock.now()).toBeLessThan(21_000);
    expect(p.text).toContain('Login timed out after 20 seconds without input.');
    expect(n.server.counters.preAuthIdle).toBe(1);
  });
});

/**
 * Users whose password check costs `costMs` of clock time on a pool of
 * `threads` workers served in arrival order: the shape of scrypt on libuv's
 * thread pool, on the virtual clock.
 */
class SlowUsers extends UserDb {
  private readonly waiting: Array<() => void> = [];
  private busy = 0;
  checks = 0;
  constructor(
    private readonly clock: VirtualClock,
    private readonly costMs: number,
    private readonly threads: number,
  ) {
    super(new Map());
  }
  override authenticate(name: string, password: string): Promise<boolean> {
    const ok = (name === 'demo' && password === 'demo') || (name === 'alice' && password === 'wonderland');
    return new Promise((resolve) => {
      this.waiting.push(() => {
        this.checks++;
        this.clock.schedule(this.clock.now() + this.costMs, () => {
          this.busy--;
          resolve(ok);
          this.pump();
        });
      });
      this.pump();
    });
  }
  private pump(): void {
    while (this.busy < this.threads && this.waiting.length > 0) {
      this.busy++;
      this.waiting.shift()!();
    }
  }
}

describe('hostile: password guessing', () => {
  async function guessingAttack(target: string): Promise<{ loginMs: number; guesses: number; n: Net }> {
    const n = makeNet({ link: { mode: 'switch' }, server: { loginQueue: { workKind: 'clock' } } });
    // 140 ms a check on 4 threads: 200 checks queued in arrival order would hold a login up 7 s.
    (n.server.options as { users: UserDb }).users = new SlowUsers(n.clock, 140, 4);
    const owner = n.cli.rt.app('guesser');
    let guesses = 0;
    const spawn = (): void => {
      if (guesses >= 200) return;
      const p = peer(n.cliTcp, owner, answering(target, 'wrong', () => guesses++));
      const watch = (): void => {
        if (p.state === 'open' || p.state === 'connecting') n.clock.schedule(n.clock.now() + 50, watch);
        else n.clock.schedule(n.clock.now() + 250, spawn);
      };
      watch();
    };
    // 200 wrong passwords, as fast as the server takes them, from as many connections as it allows.
    for (let i = 0; i < 50; i++) spawn();
    await n.run(() => guesses >= 100, 120_000);
    const tcp = thirdHost(n, 3);
    let sentAt = -1;
    const user = peer(tcp, tcp.rt.app('user'), answering('demo', 'demo', () => (sentAt = n.clock.now())));
    expect(await n.run(() => user.text.includes('Welcome, demo'), 60_000)).toBe(true);
    const loginMs = n.clock.now() - sentAt;
    await n.run(() => guesses >= 200, 600_000);
    if (process.env['HOSTILE_FIGURES']) console.log(`guessing ${target}: login took ${loginMs} ms (virtual) during ${guesses} wrong passwords; shed ${n.server.counters.loginsShed}, refused ${n.server.counters.refusedFromSource}`);
    return { loginMs, guesses, n };
  }

  it('200 wrong passwords from one address on another account do not hold up a login from another address', async () => {
    const r = await guessingAttack('alice');
    expect(r.guesses).toBeGreaterThanOrEqual(200);
    // Two checks at most ahead of ours (the queue's concurrency), each 140 ms, and the round trips.
    expect(r.loginMs).toBeLessThan(600);
  });

  it('guessing the same account slows that account by 2 s at most', async () => {
    const r = await guessingAttack('demo');
    expect(r.loginMs).toBeLessThan(2_600);
  });
});

describe('login queue', () => {
  it('serves sources in turn, bounds what waits, and backs off per source and per account', () => {
    const q = new LoginQueue<number>({ concurrency: 1, maxQueuedPerSource: 4, maxQueued: 6 });
    for (let i = 0; i < 4; i++) expect(q.offer('a', 'alice', i).ok).toBe(true);
    expect(q.offer('a', 'alice', 9)).toEqual({ ok: false, reason: 'source-queue-full' });
    expect(q.offer('b', 'demo', 100).ok).toBe(true);
    expect(q.offer('c', 'demo', 200).ok).toBe(true);
    expect(q.offer('d', 'demo', 300)).toEqual({ ok: false, reason: 'queue-full' });
    const order: number[] = [];
    for (let now = 0; q.waitingCount > 0; now++) {
      const t = q.next(now);
      if (t === undefined) continue;
      order.push(t.payload);
      q.finished(t, true, now);
    }
    expect(order).toEqual([0, 100, 200, 1, 2, 3]);
    const b = new FailureBackoff({ free: 2, baseMs: 100, maxMs: 300, forgetMs: 10_000 });
    for (let i = 0; i < 6; i++) b.fail('x', 0);
    expect(b.notBefore('x', 0)).toBe(300);
    expect(b.notBefore('x', 10_000)).toBe(10_000);
  });
});
