/**
 * The Telnet server as a module on TCP's upcall slots: where its echo goes,
 * how its async work is attributed to tasks, how it negotiates against a peer
 * that answers every way RFC 1143 allows, and how a failing session is cleaned up.
 */
import { describe, expect, it } from 'vitest';
import type { StackEvent } from '../../../src/core/index.js';
import { DO, DONT, IAC, SB, SE, WILL, WONT, TelnetOption } from '../../../src/wire/telnet.js';
import { TelnetServer } from '../../../src/layers/telnet/server.js';
import type { ServerSession } from '../../../src/layers/telnet/server-session.js';
import { loginScript, makeNet, rawPeer, SERVER_IP, type Net } from './support/net.js';

const { ECHO, SGA, TERMINAL_TYPE, NAWS } = TelnetOption;

/** Keystrokes at the shell, one every 150 ms: segments each way per keystroke. */
async function typingCost(n: Net) {
  const s = n.client.connect(SERVER_IP, 23, { script: loginScript(['echo abcdefghij', 'exit']) });
  // Counted from just after the first keystroke of the command to just after the first of `exit`.
  const count = () => ({ cli: n.cliTcp.counters.segmentsOut, srv: n.srvTcp.counters.segmentsOut, pure: n.srvTcp.counters.pureAcksOut });
  const at: { before?: ReturnType<typeof count>; after?: ReturnType<typeof count> } = {};
  await n.run(() => {
    if (at.before === undefined && s.keystrokes.some((k) => k.label === 'command')) at.before = count();
    if (at.after === undefined && s.keystrokes.some((k) => k.label === 'exit')) at.after = count();
    return s.state === 'closed';
  });
  const { before, after } = at;
  if (before === undefined || after === undefined) throw new Error('typing not seen');
  const keys = s.keystrokes.filter((k) => k.label === 'command');
  return { keys: keys.length, echoed: keys.filter((k) => k.echoAt !== null).length, cli: after.cli - before.cli, srv: after.srv - before.srv, srvPure: after.pure - before.pure, s };
}

describe('echo and piggybacking', () => {
  it('arms for send inside the receive upcall: one segment from the server per keystroke, the echo written into it with the ACK', async () => {
    const n = makeNet();
    const r = await typingCost(n);
    expect(r.keys).toBe(16);
    expect(r.echoed).toBe(16);
    // keystroke -> echo+ACK; the client's ACK of the echo rides on the next keystroke
    expect(r.cli).toBe(16);
    expect(r.srv).toBe(16);
    expect(r.srvPure).toBe(0);
    expect(n.server.counters.repliesInUpcall).toBeGreaterThanOrEqual(16);
    expect(n.server.counters.repliesDeferred).toBe(0);
    // Every echo went into a segment through onSendReady; only the goodbye before the FIN used send.
    expect(n.server.counters.segmentWrites).toBeGreaterThanOrEqual(16);
    expect(n.server.counters.rearms).toBe(0);
    expect(n.server.counters.sends).toBe(1);
  });

  it('without piggybacking (and an ACK at once) each keystroke costs the server two segments', async () => {
    const n = makeNet({ server: { piggyback: false }, tcp: { delayedAckMs: 0 } });
    const r = await typingCost(n);
    expect(r.echoed).toBe(16);
    expect(r.srv).toBe(32);
    expect(r.srvPure).toBe(16);
    expect(n.server.counters.repliesDeferred).toBeGreaterThanOrEqual(16);
    expect(r.s.screen.text).toContain('demo@server$ echo abcdefghij\nabcdefghij\n');
    // The held echo is armed from the timer's task and written into the segment all the same.
    expect(n.server.counters.segmentWrites).toBeGreaterThanOrEqual(16);
  });

  it('works the same when its upcalls arrive through a mailbox (queued dispatch), in tasks of their own', async () => {
    const n = makeNet();
    n.server.dispatch = 'queued';
    const events: StackEvent[] = [];
    n.srv.rt.events.subscribe((e) => events.push(e));
    const r = await typingCost(n);
    expect(r.echoed).toBe(16);
    expect(r.s.screen.text).toContain('demo@server$ echo abcdefghij\nabcdefghij\n');
    // Every keystroke went up as a message in a task of its own: no echo was written inside TCP's upcall.
    expect(n.server.counters.repliesInUpcall).toBe(0);
    expect(n.srv.rt.stats.tasksStarted).toBeGreaterThan(2 * 16);
    // An onSendReady would come by mailbox after its segment had gone: the server never arms, it sends.
    expect(events.filter((e) => e.kind === 'enter' && e.entry === 'armSend')).toEqual([]);
    expect(events.filter((e) => e.kind === 'upcall' && e.slot === 'onSendReady')).toEqual([]);
    expect(n.server.counters.segmentWrites).toBe(0);
    expect(n.server.counters.sends).toBeGreaterThanOrEqual(16);
    expect(n.srv.rt.stats.tasksExpended).toBe(0);
  });

  it("the keystroke's task carries the echo down: nic => ip => tcp => telnetd.onData -> tcp.armSend, then tcp => telnetd.onSendReady, TCP -> IP -> NIC", async () => {
    const n = makeNet();
    const events: StackEvent[] = [];
    n.srv.rt.events.subscribe((e) => events.push(e));
    const s = n.client.connect(SERVER_IP, 23, { script: loginScript(['whoami', 'exit']) });
    await n.run(() => s.state === 'closed');
    const w = s.keystrokes.find((k) => k.label === 'command')!;
    const up = events.find((e) => e.kind === 'upcall' && e.slot === 'onData' && e.at >= w.at)!;
    const path = events.flatMap((e) => {
      if (e.task !== up.task) return [];
      if (e.kind === 'upcall') return [`${e.from}=>${e.module}.${e.slot}`];
      if (e.kind === 'enter') return [`${e.from}->${e.module}.${e.entry}`];
      if (e.kind === 'deferral') return [`${e.module}.${e.entry} deferred`];
      if (e.kind === 'deferred-run') return [`${e.module}.${e.entry} runs`];
      return [];
    });
    expect(path).toEqual([
      'nic=>ip.onFrame',
      'ip=>tcp.onPacket',
      // the keystroke acknowledges the previous echo: forward progress tells ARP the neighbour is reachable
      'tcp->ip.confirmReachable',
      'ip->arp.confirm',
      'tcp=>telnetd.onData',
      'telnetd->tcp.armSend',
      // TCP's output waits for its work on the connection (the segment's arrival) to unwind.
      'tcp.output deferred',
      'tcp.output runs',
      'tcp->ip.alloc',
      'tcp=>telnetd.onSendReady',
      'tcp->ip.send',
      'ip->arp.output',
      'arp->nic.send',
    ]);
    // The echo went straight into the segment that acknowledges the keystroke.
    const notes = events.filter((e) => e.task === up.task && e.kind === 'note' && e.module === 'telnetd').map((e) => (e.kind === 'note' ? e.text : ''));
    expect(notes).toContain('session #1 writes 1 byte "w" into the segment TCP is building (the echo rides on the ACK)');
  });

  it('re-arms when more is pending than the segment holds: TCP asks again as the window opens', async () => {
    // A 40-byte receive window: the greeting (negotiation, banner, prompt) needs several segments.
    const n = makeNet({ tcp: { receiveBufferSize: 40 } });
    const peer = rawPeer(n);
    expect(await n.run(() => peer.text().endsWith('login: '), 10_000)).toBe(true);
    const text = peer.text();
    expect(text).toBe('\xff\xfb\x01\xff\xfb\x03\xff\xfd\x18\xff\xfd\x1fTelnet login on an upcall-structured stack.\r\n\r\nlogin: ');
    expect(n.server.counters.rearms).toBeGreaterThanOrEqual(1);
    expect(n.server.counters.segmentWrites).toBe(n.server.counters.rearms + 1);
    expect(n.server.counters.sends).toBe(0);
    expect(n.srv.rt.stats.tasksExpended).toBe(0);
  });

  it('an arming served after the server went to queued dispatch writes through the writer TCP lends, which has no packet behind it and sends', async () => {
    const n = makeNet({ tcp: { receiveBufferSize: 40 } });
    const events: StackEvent[] = [];
    n.srv.rt.events.subscribe((e) => events.push(e));
    const peer = rawPeer(n);
    // The peer reads nothing: its window shuts after the first 40 bytes, and the server stays armed for the rest.
    peer.conn.pause();
    await n.run(() => peer.conn.heldAmount >= 40 && n.server.sessions().length === 1, 10_000);
    await n.run(() => false, 100);
    const live = n.server.sessions()[0]!;
    expect(live.endpoint.pending).toBeGreaterThan(0);
    expect(n.server.counters.rearms).toBe(1);
    n.server.dispatch = 'queued';
    peer.conn.resume();
    expect(await n.run(() => peer.text().endsWith('login: '), 10_000)).toBe(true);
    expect(peer.text()).toBe('\xff\xfb\x01\xff\xfb\x03\xff\xfd\x18\xff\xfd\x1fTelnet login on an upcall-structured stack.\r\n\r\nlogin: ');
    // TCP's onSendReady went by mailbox, after its segment: the writer it lent then sends what the session writes.
    expect(events.some((e) => e.kind === 'upcall' && e.slot === 'onSendReady' && e.queued)).toBe(true);
    expect(n.server.counters.sends).toBe(0);
    expect(n.server.counters.segmentWrites).toBe(2);
    expect(events.some((e) => e.kind === 'note' && e.text.includes('the segment had gone, so the writer sends them'))).toBe(true);
    expect(n.srv.rt.stats.tasksExpended).toBe(0);
  });
});

describe('password checks off the stack', () => {
  it('the task that received the password ends at once; the result arrives as a mailbox task, its child', async () => {
    const n = makeNet();
    const starts: Extract<StackEvent, { kind: 'task-start' }>[] = [];
    const ends = new Map<number, number>();
    n.srv.rt.events.subscribe((e) => {
      if (e.kind === 'task-start') starts.push(e);
      if (e.kind === 'task-end' && e.task !== null) ends.set(e.task, e.at);
    });
    const s = n.client.connect(SERVER_IP, 23, { script: loginScript(['exit']) });
    await n.run(() => s.state === 'closed');
    const verified = starts.filter((e) => e.source === 'mailbox' && e.module === 'telnetd');
    expect(verified).toHaveLength(1);
    const parent = starts.find((e) => e.task === verified[0]!.parent)!;
    expect(parent.source).toBe('frame');
    // The frame's task had ended before the result came (no task waited for scrypt).
    expect(ends.get(parent.task!)).toBeDefined();
    expect(ends.get(parent.task!)!).toBeLessThanOrEqual(verified[0]!.at);
    expect(n.srv.rt.stats.tasksExpended).toBe(0);
  });

  it('input typed while the password is checked is typeahead: it runs at the first prompt, never as the password', async () => {
    const n = makeNet();
    const s = n.client.connect(SERVER_IP, 23, {
      script: [
        { expect: 'login: ', type: 'demo\r' },
        { expect: 'Password: ', send: 'demo\r\nwhoami\r\n' },
        { expect: /\ndemo\ndemo@server\$ $/, type: 'exit\r' },
      ],
    });
    expect(await n.run(() => s.state === 'closed')).toBe(true);
    expect(s.screen.text).toContain("Welcome, demo. Type 'help' for the commands.\ndemo@server$ whoami\ndemo\ndemo@server$ exit\n");
    expect(n.server.counters.loginsOk).toBe(1);
  });
});

describe('option negotiation against a scripted peer (RFC 1143)', () => {
  type Answer = 'agree' | 'refuse' | 'ignore';
  const answers: Answer[] = ['agree', 'refuse', 'ignore'];
  const reply = (cmd: number, opt: number, a: Answer): number[] => {
    if (a === 'ignore') return [];
    if (cmd === WILL) return [IAC, a === 'agree' ? DO : DONT, opt];
    return [IAC, a === 'agree' ? WILL : WONT, opt];
  };

  async function negotiate(echo: Answer, sga: Answer, ttype: Answer, naws: Answer) {
    const n = makeNet({ server: { logNegotiations: true } });
    const policy = new Map<number, Answer>([[ECHO, echo], [SGA, sga], [TERMINAL_TYPE, ttype], [NAWS, naws]]);
    let session: ServerSession | undefined;
    n.server.options.onSessionEnd = (s) => (session = s);
    const peer = rawPeer(n, (p, d) => {
      for (let i = 0; i + 2 < d.length; i++) {
        if (d[i] !== IAC) continue;
        const cmd = d[i + 1]!;
        if (cmd >= WILL && cmd <= DONT) {
          const a = policy.get(d[i + 2]!);
          if (a !== undefined) p.send(reply(cmd, d[i + 2]!, a));
          i += 2;
        } else if (cmd === SB && d[i + 2] === TERMINAL_TYPE) {
          p.send([IAC, SB, TERMINAL_TYPE, 0, ...Buffer.from('VT100'), IAC, SE]);
        }
      }
    });
    await n.run(() => peer.state === 'open' && peer.text().includes('login: '), 5_000);
    await n.run(() => false, 50);
    const live = n.server.sessions()[0]!;
    const o = live.endpoint.options;
    const state = { echo: o.stateOf('local', ECHO), sga: o.stateOf('local', SGA), ttype: o.stateOf('remote', TERMINAL_TYPE), naws: o.stateOf('remote', NAWS) };
    const echoMode = live.editor.echo;
    // Type a character: echoed only if the peer agreed that we echo.
    const mark = peer.received.length;
    peer.send('x');
    await n.run(() => false, 50);
    const echoed = String.fromCharCode(...peer.received.slice(mark)).includes('x');
    // Enter: the next prompt, followed by a go-ahead only if the peer refused to suppress them.
    const mark2 = peer.received.length;
    peer.send('\r\n');
    await n.run(() => false, 50);
    const again = String.fromCharCode(...peer.received.slice(mark2));
    const goAhead = again.includes(': \xff\xf9');
    peer.conn.close();
    await n.run(() => session !== undefined, 10_000);
    const sent = session!.endpoint.log!.filter((r) => r.direction === 'sent').map((r) => r.text);
    return { state, echoMode, echoed, goAhead, sent, terminalType: live.terminalType };
  }

  const expected = (a: Answer) => (a === 'agree' ? 'yes' : a === 'refuse' ? 'no' : 'wantyes');

  it('reaches the state each answer calls for, sends each request once and never answers an answer', async () => {
    for (const echo of answers) {
      for (const sga of answers) {
        for (const ttype of answers) {
          const naws = answers[(answers.indexOf(echo) + answers.indexOf(sga) + answers.indexOf(ttype)) % 3]!;
          const r = await negotiate(echo, sga, ttype, naws);
          const label = `echo=${echo} sga=${sga} ttype=${ttype} naws=${naws}`;
          expect(r.state, label).toEqual({ echo: expected(echo), sga: expected(sga), ttype: expected(ttype), naws: expected(naws) });
          // Exactly the four requests went out: a reply to our request is never answered.
          expect(r.sent, label).toEqual(['WILL ECHO', 'WILL SGA', 'DO TERMINAL-TYPE', 'DO NAWS']);
          expect(r.echoed, label).toBe(echo === 'agree');
          expect(r.echoMode, label).toBe(echo === 'agree' ? 'on' : 'off');
          expect(r.terminalType, label).toBe(ttype === 'agree' ? 'VT100' : null);
          expect(r.goAhead, label).toBe(sga === 'refuse');
        }
      }
    }
  });

  it('refuses options it does not do, accepts a change of mind, and does not loop on repeats', async () => {
    const n = makeNet({ server: { logNegotiations: true } });
    let session: ServerSession | undefined;
    n.server.options.onSessionEnd = (s) => (session = s);
    const peer = rawPeer(n);
    await n.run(() => peer.text().includes('login: '), 5_000);
    peer.send([IAC, DO, ECHO, IAC, DO, SGA]); // agree
    peer.send([IAC, DO, ECHO, IAC, DO, ECHO]); // repeats: no answer
    peer.send([IAC, DO, 0 /* BINARY */, IAC, WILL, 0, IAC, WILL, ECHO, IAC, DO, 200]); // refused
    peer.send([IAC, WONT, 36, IAC, DONT, 37]); // refusals of what was never on: no answer
    peer.send([IAC, DONT, ECHO]); // change of mind: WONT ECHO, no more echo
    await n.run(() => false, 300);
    const live = n.server.sessions()[0]!;
    expect(live.editor.echo).toBe('off');
    peer.send([IAC, DO, ECHO]); // and back
    await n.run(() => false, 300);
    expect(live.editor.echo).toBe('on');
    peer.conn.close();
    await n.run(() => session !== undefined, 10_000);
    const log = session!.endpoint.log!.map((r) => `${r.direction === 'sent' ? '>' : '<'} ${r.text}`);
    expect(log.filter((l) => l.startsWith('>'))).toEqual([
      '> WILL ECHO',
      '> WILL SGA',
      '> DO TERMINAL-TYPE',
      '> DO NAWS',
      '> WONT BINARY',
      '> DONT BINARY',
      '> DONT ECHO',
      '> WONT OPTION-200',
      '> WONT ECHO',
      '> WILL ECHO',
    ]);
  });
});

describe('sessions are client state', () => {
  class FaultyServer extends TelnetServer {
    protected override runLine(s: ServerSession, line: string): void {
      if (line === 'boom') throw new Error('injected fault');
      super.runLine(s, line);
    }
  }

  it('a session whose handler throws is reset and cleaned up alone; the server goes on', async () => {
    const n = makeNet({ serverClass: FaultyServer });
    const cleanups: string[] = [];
    n.srv.rt.events.subscribe((e) => {
      if (e.kind === 'cleanup') cleanups.push(`${e.module}: ${e.client}`);
    });
    const bad = n.client.connect(SERVER_IP, 23, { script: loginScript(['boom']) });
    expect(await n.run(() => bad.state === 'closed')).toBe(true);
    expect(bad.screen.text).toContain('demo@server$ boom');
    expect(bad.endReason).toMatch(/connection failed: .*reset/i);
    expect(n.srv.rt.stats.tasksExpended).toBe(1);
    // Each module on the task's path cleaned up what the task held there: this session, this connection.
    expect(cleanups).toEqual([expect.stringMatching(/^telnetd: telnet #1 10\.0\.0\.2:\d+ demo shell$/), expect.stringMatching(/^tcp: tcp 10\.0\.0\.1:23 -> 10\.0\.0\.2:\d+ CLOSED$/), 'ip: null', 'nic: null']);
    expect(n.server.counters.sessionsFailed).toBe(1);
    expect(n.server.sessions()).toEqual([]);
    expect(n.server.liveTimers()).toBe(0);
    // The next user is served as if nothing happened.
    const good = n.client.connect(SERVER_IP, 23, { script: loginScript(['whoami', 'exit']) });
    expect(await n.run(() => good.state === 'closed')).toBe(true);
    expect(good.screen.text).toContain('demo@server$ whoami\ndemo\n');
  });

  it('beyond maxSessions, all logged in, a connection is told so and closed', async () => {
    const n = makeNet({ server: { maxSessions: 1 } });
    // (A session not logged in would give its slot up to the newcomer: test/hostile/telnet-slots.test.ts.)
    const first = n.client.connect(SERVER_IP, 23, { script: loginScript([]) });
    await n.run(() => /\$ $/.test(first.screen.text));
    const second = n.client.connect(SERVER_IP, 23, {});
    expect(await n.run(() => second.state === 'closed')).toBe(true);
    expect(second.screen.text).toContain('Too many sessions; try again later.');
    expect(n.server.counters.refused).toBe(1);
    expect(first.state).toBe('open');
  });
});
