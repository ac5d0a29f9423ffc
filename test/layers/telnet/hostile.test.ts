/**
 * Peers that do not play by the rules. The server must bound what it keeps,
 * count what it drops, never let an exception escape, close the connections
 * that abuse it, and go on serving everybody else.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/index.js';
import { DM, DO, IAC, NOP, SB, TelnetOption } from '../../../src/wire/telnet.js';
import type { ServerSession } from '../../../src/layers/telnet/server-session.js';
import { loginScript, makeNet, rawPeer, SERVER_IP, type Net, type RawPeer } from './support/net.js';

const FAST_TIMEOUT = { login: { loginTimeoutMs: 5_000 } };

/** Sends `chunks` one every `gapMs` from the peer (each a task of the peer's own). */
async function feed(n: Net, peer: RawPeer, chunks: Iterable<Uint8Array>, gapMs = 1): Promise<void> {
  for (const c of chunks) {
    if (peer.state !== 'open') return;
    peer.send(c);
    await n.run(() => false, gapMs);
  }
}

function* repeat(bytes: number[], times: number, perChunk: number): Generator<Uint8Array> {
  const unit = Uint8Array.from(bytes);
  let left = times;
  while (left > 0) {
    const k = Math.min(left, perChunk);
    const chunk = new Uint8Array(unit.length * k);
    for (let i = 0; i < k; i++) chunk.set(unit, i * unit.length);
    left -= k;
    yield chunk;
  }
}

function ended(n: Net): ServerSession[] {
  const list: ServerSession[] = [];
  n.server.options.onSessionEnd = (s) => list.push(s);
  return list;
}

describe('hostile peers', () => {
  it('an endless subnegotiation is bounded and discarded; the login timer ends the connection', async () => {
    const n = makeNet({ server: FAST_TIMEOUT });
    const done = ended(n);
    const peer = rawPeer(n);
    await n.run(() => peer.text().includes('login: '));
    const before = peer.received.length;
    peer.send([IAC, SB, TelnetOption.TERMINAL_TYPE, 0]);
    // 200 KB of subnegotiation payload, never terminated.
    await feed(n, peer, repeat([0x41], 200_000, 4_000), 20);
    const s = n.server.sessions()[0]!;
    expect(s.endpoint.decoder.errors['sb-overlong']).toBe(1);
    expect(s.terminalType).toBeNull();
    // Nothing was answered to any of it.
    expect(peer.received.length).toBe(before);
    expect(await n.run(() => done.length === 1)).toBe(true);
    expect(done[0]!.endReason).toBe('login timeout');
    expect(await n.run(() => peer.text().includes('Login timed out after 5 seconds.'))).toBe(true);
    expect(n.srv.rt.stats.tasksExpended).toBe(0);
  });

  it('a flood of IAC NOP and IAC DM is read and ignored; the login still works after it', async () => {
    const n = makeNet();
    const peer = rawPeer(n);
    await n.run(() => peer.text().includes('login: '));
    await feed(n, peer, repeat([IAC, NOP, IAC, DM], 50_000, 2_000), 5);
    peer.send('demo\r\n');
    await n.run(() => peer.text().includes('Password: '), 5_000);
    expect(peer.text()).toContain('Password: ');
    expect(n.server.sessions()).toHaveLength(1);
  });

  it('a negotiation flood is answered a bounded number of times, then the connection is closed', async () => {
    const n = makeNet();
    const done = ended(n);
    const peer = rawPeer(n);
    await n.run(() => peer.text().includes('login: '));
    const before = peer.received.length;
    await feed(n, peer, repeat([IAC, DO, 200], 10_000, 500), 5);
    expect(await n.run(() => done.length === 1, 10_000)).toBe(true);
    expect(done[0]!.endReason).toBe('negotiation flood');
    // Each refusal is 3 bytes; no more than the limit (256) went out.
    expect(peer.received.length - before).toBeLessThanOrEqual(256 * 3);
    expect(n.server.counters.negotiationFloods).toBe(1);
    expect(n.server.stats.dropReasons.get('negotiation-flood')).toBe(1);
  });

  it('a client that never answers negotiation and never logs in is closed by the login timer', async () => {
    const n = makeNet({ server: FAST_TIMEOUT });
    const done = ended(n);
    const peer = rawPeer(n);
    expect(await n.run(() => done.length === 1)).toBe(true);
    expect(done[0]!.endReason).toBe('login timeout');
    // It never agreed to anything: the offers are still pending and nothing was echoed.
    expect(done[0]!.endpoint.options.stateOf('local', TelnetOption.ECHO)).toBe('wantyes');
    expect(await n.run(() => peer.text().includes('Login timed out after 5 seconds.'))).toBe(true);
    expect(await n.run(() => peer.state === 'closed')).toBe(true);
    expect(n.srvTcp.connections().filter((c) => c.state !== 'LISTEN' && c.state !== 'TIME-WAIT')).toEqual([]);
  });

  it('binary garbage from one peer costs it its connection at most; another user logs in meanwhile', async () => {
    const n = makeNet({ server: FAST_TIMEOUT });
    const rng = new Rng(7);
    const peer = rawPeer(n);
    await n.run(() => peer.text().includes('login: '));
    const user = n.client.connect(SERVER_IP, 23, { script: loginScript(['whoami', 'exit'], { paceMs: 40 }) });
    const chunks = function* () {
      for (let i = 0; i < 200; i++) yield rng.bytes(1 + rng.int(600));
    };
    await feed(n, peer, chunks(), 10);
    expect(await n.run(() => user.state === 'closed')).toBe(true);
    expect(user.screen.text).toContain('demo@server$ whoami\ndemo\n');
    expect(user.error).toBeNull();
    expect(n.srv.rt.stats.tasksExpended).toBe(0);
    expect(n.server.stats.drops).toBeGreaterThan(0);
    expect(await n.run(() => n.server.sessions().length === 0)).toBe(true);
  });

  it('an overlong line is cut at the limit (the rest rings the bell) and the session goes on', async () => {
    const n = makeNet();
    const s = n.client.connect(SERVER_IP, 23, {
      script: [
        { expect: 'login: ', send: 'x'.repeat(5000) },
        { expect: '\x07', send: '\r\n' },
        { expect: 'Password: ', close: true },
      ],
    });
    expect(await n.run(() => s.state === 'closed')).toBe(true);
    const line = s.screen.text.split('\n').find((l) => l.startsWith('login: x'))!;
    expect(line.length).toBe('login: '.length + 1024);
  });
});
