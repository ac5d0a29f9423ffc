/**
 * One login session end to end over the real stack (NIC, IP, TCP on a simulated
 * link): what a user at the client sees.
 */
import { describe, expect, it } from 'vitest';
import { loginScript, makeNet, SERVER_IP } from './support/net.js';

describe('a login session', () => {
  it('logs in, runs commands and logs out; the password is never echoed', async () => {
    const n = makeNet();
    const s = n.client.connect(SERVER_IP, 23, { script: loginScript(['whoami', 'echo hello upcalls', 'exit']) });
    expect(await n.run(() => s.state === 'closed')).toBe(true);
    expect(s.error).toBeNull();
    expect(s.screen.text).toBe(
      [
        'Telnet login on an upcall-structured stack.',
        '',
        'login: demo',
        'Password:',
        "Welcome, demo. Type 'help' for the commands.",
        'demo@server$ whoami',
        'demo',
        'demo@server$ echo hello upcalls',
        'hello upcalls',
        'demo@server$ exit',
        'logout',
        '',
        'Connection closed by foreign host.',
        '',
      ].join('\n'),
    );
    // Not a byte of the password came back.
    const pw = s.keystrokes.filter((k) => k.label === 'password');
    expect(pw.map((k) => k.key).join('')).toBe('demo\r');
    expect(n.server.counters.loginsOk).toBe(1);
    expect(n.server.sessions()).toEqual([]);
  });

  it('a wrong password is answered after a delay, and three end the connection', async () => {
    const n = makeNet({ server: { login: { baseDelayMs: 1000, maxFailures: 3 } } });
    const bad = (pw: string) => [
      { expect: 'login: ', type: 'demo\r', paceMs: 20 },
      { expect: 'Password: ', type: `${pw}\r`, paceMs: 20, secret: true },
    ];
    const s = n.client.connect(SERVER_IP, 23, { script: [...bad('nope'), ...bad('wrong'), ...bad('guess')] });
    const times: number[] = [];
    const done = await n.run(() => {
      const count = (s.screen.text.match(/Login incorrect/g) ?? []).length;
      if (count > times.length) times.push(n.clock.now());
      return s.state === 'closed';
    });
    expect(done).toBe(true);
    expect(s.screen.text).toContain('Too many failed login attempts.');
    expect(s.screen.text.match(/Login incorrect/g)).toHaveLength(3);
    expect(s.screen.text).not.toMatch(/nope|wrong|guess/);
    // The second attempt waited out the 1 s delay after the first failure.
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(1000);
    expect(n.server.counters).toMatchObject({ loginsFailed: 3, tooManyFailures: 1, loginsOk: 0 });
  });

  it('an unknown user gets the same answer as a wrong password', async () => {
    const n = makeNet();
    const s = n.client.connect(SERVER_IP, 23, {
      script: [
        { expect: 'login: ', type: 'mallory\r', paceMs: 10 },
        { expect: 'Password: ', type: 'x\r', paceMs: 10, secret: true },
        { expect: 'login: ', type: 'alice\r', paceMs: 10 },
        { expect: 'Password: ', type: 'wonderland\r', paceMs: 10, secret: true },
        { expect: /\$ $/, type: 'whoami\r', paceMs: 10 },
        { expect: /\$ $/, type: 'exit\r' },
      ],
    });
    expect(await n.run(() => s.state === 'closed')).toBe(true);
    expect(s.screen.text).toContain('Login incorrect\n\nlogin: alice');
    expect(s.screen.text).toContain('alice@server$ whoami\nalice\n');
  });

  it('editing keys: backspace erases on screen and in the line, Ctrl-C abandons it', async () => {
    const n = makeNet();
    const s = n.client.connect(SERVER_IP, 23, {
      script: [
        ...loginScript([]),
        { expect: /\$ $/, type: 'echo abcx\x7f\x7fd\r', paceMs: 30 },
        { expect: /\$ $/, type: 'whoa\x03', paceMs: 30 },
        { expect: /\$ $/, type: 'exit\r', paceMs: 30 },
      ],
    });
    expect(await n.run(() => s.state === 'closed')).toBe(true);
    expect(s.screen.text).toContain('demo@server$ echo abd\nabd\n');
    expect(s.screen.text).toContain('demo@server$ whoa^C\ndemo@server$ exit\n');
  });

  it('the shell answers from the stack: date and uptime from its clock, netstat, ps, stats, ping', async () => {
    const n = makeNet();
    const s = n.client.connect(SERVER_IP, 23, { script: loginScript(['date', 'uptime', 'netstat', 'ps', 'stats', 'ping client', 'nosuch', 'exit']) });
    expect(await n.run(() => s.state === 'closed')).toBe(true);
    const t = s.screen.text;
    // The virtual clock starts at 2026-01-01T00:00:00Z.
    expect(t).toMatch(/\$ date\n2026-01-01T00:00:0\d\.\d{3}Z\n/);
    expect(t).toMatch(/\$ uptime\nup 00:00:\d\d\n/);
    expect(t).toMatch(/tcp {4}10\.0\.0\.1:23 {2}10\.0\.0\.2:\d+ {2}ESTABLISHED {2}demo/);
    expect(t).toMatch(/tcp {4}0\.0\.0\.0:23 {3}0\.0\.0\.0:\* {7}LISTEN/);
    // ps runs inside the task of the Enter keystroke: it sees itself on the path.
    expect(t).toMatch(/frame +nic +nic>ip>tcp>telnetd +\S+ +\d+\.\dms +running/);
    // TCP's output deferred until its work on a segment unwinds, counted per module.
    expect(t).toMatch(/tcp +\d+ +[1-9]\d* +0 +\d+ +segs in \d+ out \d+, piggybacked ACKs \d+, pure ACKs \d+/);
    expect(t).toContain('telnetd        0          0         0      0  sessions 1, logins 1 ok 0 failed');
    expect(t).toContain('PING client (10.0.0.2): 56 data bytes');
    expect(t.match(/64 bytes from 10\.0\.0\.2: icmp_seq=\d ttl=64 time=\d\.\d{3} ms/g)).toHaveLength(3);
    expect(t).toContain('3 packets transmitted, 3 received, 0% packet loss');
    expect(t).toContain('sh: nosuch: command not found');
  });

  it('Ctrl-C stops a running ping and the prompt comes back', async () => {
    const n = makeNet({ link: { loss: 0 } });
    const s = n.client.connect(SERVER_IP, 23, {
      script: [...loginScript([]), { expect: /\$ $/, type: 'ping client\r', paceMs: 10 }, { expect: 'icmp_seq=0', send: '\x03' }, { expect: /\$ $/, type: 'exit\r' }],
    });
    expect(await n.run(() => s.state === 'closed')).toBe(true);
    const t = s.screen.text;
    expect(t).toContain('icmp_seq=0');
    expect(t).not.toContain('icmp_seq=2');
    expect(t).toMatch(/icmp_seq=0 [^\n]*\n\^C\ndemo@server\$ exit/);
  });

  it('a client that refuses ECHO and SGA gets line mode: it echoes and edits locally, the server adds go-aheads', async () => {
    const n = makeNet({ server: { logNegotiations: true } });
    const s = n.client.connect(SERVER_IP, 23, { mode: 'line', script: loginScript(['echo line mode', 'exit']) });
    const ended: string[] = [];
    n.server.options.onSessionEnd = (x) => ended.push(...(x.endpoint.log ?? []).map((r) => `${r.direction} ${r.text}`));
    expect(await n.run(() => s.state === 'closed')).toBe(true);
    expect(s.screen.text).toContain('demo@server$ echo line mode\nline mode\n');
    expect(ended).toEqual(expect.arrayContaining(['sent WILL ECHO', 'received DONT ECHO', 'sent WILL SGA', 'received DONT SGA']));
    // Whole lines went over the wire: one segment per line, not per key.
    expect(n.server.counters.echoBytes).toBe(0);
    expect(n.cliTcp.counters.dataSegmentsOut).toBeLessThan(12);
  });

  it('logs in quietly when nobody types: the login timer closes the connection', async () => {
    const n = makeNet({ server: { login: { loginTimeoutMs: 5000 } } });
    const s = n.client.connect(SERVER_IP, 23, { script: [{ expect: 'login: ', type: 'demo\r' }] });
    expect(await n.run(() => s.state === 'closed')).toBe(true);
    expect(s.screen.text).toContain('Password:');
    expect(s.screen.text).toContain('Login timed out after 5 seconds.');
    expect(n.clock.now()).toBeGreaterThanOrEqual(5000);
    expect(n.server.counters.loginTimeouts).toBe(1);
  });
});
