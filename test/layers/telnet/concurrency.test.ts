/**
 * Many sessions at once on one server, one of which fails: the failing one is
 * cleaned up alone and the 99 others finish as if nothing had happened.
 */
import { describe, expect, it } from 'vitest';
import { createHost } from '../../../src/host.js';
import { Tcp } from '../../../src/layers/tcp/index.js';
import type { ClientSession } from '../../../src/layers/telnet/client-session.js';
import { TelnetClient } from '../../../src/layers/telnet/client.js';
import type { ServerSession } from '../../../src/layers/telnet/server-session.js';
import { TelnetServer } from '../../../src/layers/telnet/server.js';
import { loginScript, makeNet, SERVER_IP } from './support/net.js';

class FaultyServer extends TelnetServer {
  protected override runLine(s: ServerSession, line: string): void {
    if (line === 'boom') throw new Error('injected fault');
    super.runLine(s, line);
  }
}

describe('100 concurrent sessions', () => {
  it('all log in and work; the one whose handler fails is reset alone', async () => {
    // 25 logins at once from each client host: above the default per-address limit of sessions not logged in.
    const n = makeNet({ seed: 11, link: { mode: 'switch' }, serverClass: FaultyServer, server: { maxPreAuthPerSource: 32 } });
    // Four client hosts, 25 sessions each, starting a few ms apart.
    const clients: TelnetClient[] = [];
    for (let h = 0; h < 4; h++) {
      const host = createHost({ name: `client${h}`, link: n.link, ip: `10.0.0.${10 + h}/24`, seed: 100 + h });
      clients.push(new TelnetClient(host.rt, new Tcp(host.rt, host.ip)));
    }
    const FAULTY = 42;
    const sessions: ClientSession[] = [];
    for (let i = 0; i < 100; i++) {
      n.clock.schedule(i * 7, () => {
        const user = i % 2 === 0 ? { user: 'demo', password: 'demo' } : { user: 'alice', password: 'wonderland' };
        const commands = i === FAULTY ? ['echo before', 'boom'] : [`echo session-${i}`, 'whoami', 'exit'];
        sessions[i] = clients[i % 4]!.connect(SERVER_IP, 23, { script: loginScript(commands, { ...user, paceMs: 40 }) });
      });
    }
    let most = 0;
    const ok = await n.run(() => {
      most = Math.max(most, n.server.sessions().length);
      return sessions.length === 100 && sessions.every((s) => s !== undefined && s.state === 'closed');
    }, 120_000);
    expect(ok).toBe(true);
    expect(most).toBeGreaterThanOrEqual(50);

    for (let i = 0; i < 100; i++) {
      const s = sessions[i]!;
      if (i === FAULTY) continue;
      const user = i % 2 === 0 ? 'demo' : 'alice';
      expect(s.error, `session ${i}`).toBeNull();
      expect(s.screen.text, `session ${i}`).toContain(`${user}@server$ echo session-${i}\nsession-${i}\n${user}@server$ whoami\n${user}\n${user}@server$ exit\nlogout\n`);
    }
    const bad = sessions[FAULTY]!;
    expect(bad.screen.text).toContain('demo@server$ echo before\nbefore\ndemo@server$ boom');
    expect(bad.error).toMatch(/reset/i);

    expect(n.server.counters).toMatchObject({ accepted: 100, loginsOk: 100, sessionsFailed: 1, sessionsEnded: 100 });
    expect(n.srv.rt.stats.tasksExpended).toBe(1);
    expect(n.server.sessions()).toEqual([]);
    expect(n.server.liveTimers()).toBe(0);
    // Once TIME-WAIT has run out, nothing is left but the listener.
    await n.run(() => false, 70_000);
    expect(n.srvTcp.connections().map((c) => c.state)).toEqual(['LISTEN']);
    expect(n.srv.rt.tasks()).toEqual([]);
  });
});
