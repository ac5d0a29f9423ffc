/**
 * The Telnet client: scripts on the virtual clock, keystroke timing and echo
 * measurement, terminal type and window size, line mode, interactive input.
 */
import { describe, expect, it } from 'vitest';
import { loginScript, makeNet, SERVER_IP } from './support/net.js';

describe('the scripted client', () => {
  it('types one key every paceMs, starting delayMs after the expected text, and times each echo', async () => {
    const n = makeNet({ link: { delayMs: 5 } });
    const s = n.client.connect(SERVER_IP, 23, { script: [...loginScript([]), { expect: /\$ $/, delayMs: 300, type: 'whoami\r', paceMs: 100, label: 'cmd' }, { expect: /\$ $/, type: 'exit\r' }] });
    let promptAt = -1;
    expect(
      await n.run(() => {
        if (promptAt < 0 && s.screen.search(/\$ $/, 0) >= 0) promptAt = n.clock.now();
        return s.state === 'closed';
      }),
    ).toBe(true);
    const keys = s.keystrokes.filter((k) => k.label === 'cmd');
    expect(keys.map((k) => k.key).join('')).toBe('whoami\r');
    expect(keys[0]!.at - promptAt).toBeCloseTo(300, 0);
    for (let i = 1; i < keys.length; i++) expect(keys[i]!.at - keys[i - 1]!.at).toBeCloseTo(100, 6);
    // Every key came back after one round trip (5 ms each way, plus serialization).
    for (const k of keys) {
      expect(k.echoAt).not.toBeNull();
      expect(k.echoAt! - k.at).toBeGreaterThanOrEqual(10);
      expect(k.echoAt! - k.at).toBeLessThan(11);
    }
    // Secret keys expect no echo.
    expect(s.keystrokes.filter((k) => k.label === 'password').every((k) => !k.expectsEcho && k.echoAt === null)).toBe(true);
  });

  it('fails the script when an expected text does not come in time, and hangs up', async () => {
    const n = makeNet();
    const s = n.client.connect(SERVER_IP, 23, { script: [{ expect: 'Welcome to Mars', timeoutMs: 2_000 }] });
    expect(await n.run(() => s.state === 'closed')).toBe(true);
    expect(s.error).toBe('script step 1: did not see "Welcome to Mars" within 2000 ms');
    expect(n.client.counters.scriptFailures).toBe(1);
  });

  it('answers TERMINAL-TYPE and NAWS with its own values, or refuses NAWS', async () => {
    for (const windowSize of [{ width: 132, height: 43 }, null]) {
      const n = makeNet();
      const s = n.client.connect(SERVER_IP, 23, { terminalType: 'VT220', windowSize, script: [{ expect: 'login: ' }] });
      await n.run(() => s.scriptDone);
      await n.run(() => false, 50);
      const srv = n.server.sessions()[0]!;
      expect(srv.terminalType).toBe('VT220');
      expect(srv.windowSize).toEqual(windowSize);
      expect(srv.endpoint.options.stateOf('remote', 31)).toBe(windowSize === null ? 'no' : 'yes');
    }
  });

  it('in line mode it edits the line locally and sends it whole on Enter', async () => {
    const n = makeNet();
    const s = n.client.connect(SERVER_IP, 23, {
      mode: 'line',
      script: [...loginScript([]), { expect: /\$ $/, type: 'echo abx\x7fc\r', paceMs: 20 }, { expect: /\$ $/, type: 'exit\r' }],
    });
    let segmentsBefore = 0;
    await n.run(() => {
      if (segmentsBefore === 0 && s.keystrokes.some((k) => k.key === 'x')) segmentsBefore = n.cliTcp.counters.dataSegmentsOut;
      return s.state === 'closed';
    });
    expect(s.screen.text).toContain('demo@server$ echo abc\nabc\n');
    // Typing "echo abx<DEL>c" sent nothing until Enter.
    expect(s.keystrokes.every((k) => !k.expectsEcho)).toBe(true);
    expect(n.server.counters.echoBytes).toBe(0);
    expect(segmentsBefore).toBeGreaterThan(0);
  });

  it('takes keys from a person (interactive input), each call a task at the client module', async () => {
    const n = makeNet();
    const seen: string[] = [];
    const s = n.client.connect(SERVER_IP, 23, { onText: (t) => seen.push(t) });
    await n.run(() => s.screen.text.includes('login:'));
    const tasksBefore = n.cli.rt.stats.tasksStarted;
    n.client.input(s, 'demo\r');
    await n.run(() => s.screen.text.includes('Password:'));
    n.client.input(s, 'demo\r');
    await n.run(() => /\$ ?$/.test(s.screen.text));
    n.client.input(s, 'whoami\r');
    await n.run(() => s.screen.text.endsWith('demo\ndemo@server$'));
    expect(n.cli.rt.stats.tasksStarted).toBeGreaterThan(tasksBefore + 3);
    n.client.close(s);
    expect(await n.run(() => s.state === 'closed')).toBe(true);
    expect(seen.join('')).toContain('demo@server$ whoami\ndemo\n');
  });
});
