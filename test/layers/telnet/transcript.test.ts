import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeSubnegotiation, renderTranscript, type TelnetTranscript, type TranscriptEntry } from '../../../src/layers/telnet/transcript.js';
import { createReplayStack, replayCapture, type ReplayStackOptions } from '../../../src/trace/replay.js';
import { TelnetOption } from '../../../src/wire/telnet.js';
import { tcpFrame, type TcpEndpoint } from '../../trace/fixtures/frames.js';

const traces = (name: string): string => path.resolve(process.cwd(), 'test/fixtures/traces', name);

async function transcriptOf(file: string): Promise<TelnetTranscript> {
  const ts: TelnetTranscript[] = [];
  await replayCapture(traces(file), { onTranscript: (t) => ts.push(t) });
  expect(ts).toHaveLength(1);
  return ts[0]!;
}

const screen = (t: TelnetTranscript): string[] => t.entries.filter((e) => e.kind === 'screen').map((e) => e.text);
const options = (t: TelnetTranscript): string[] =>
  t.entries.filter((e): e is Extract<TranscriptEntry, { kind: 'option' }> => e.kind === 'option').map((e) => `${e.from} ${e.text}`);
const typed = (t: TelnetTranscript): Array<[string, boolean]> =>
  t.entries.filter((e): e is Extract<TranscriptEntry, { kind: 'typed' }> => e.kind === 'typed').map((e) => [e.text, e.echoed]);

describe('transcripts of the real captures', () => {
  it('character mode (telnet-raw.pcap): keystrokes and their echo collapse into the lines the user saw', async () => {
    const t = await transcriptOf('telnet-raw.pcap');
    expect([t.client, t.server]).toEqual(['192.168.0.2:1254', '192.168.0.1:23']);
    expect(t.terminalType).toBe('xterm-color');
    expect(t.windowSize).toEqual({ width: 80, height: 32 });
    const lines = screen(t);
    expect(lines.slice(0, 5)).toEqual(['', 'OpenBSD/i386 (oof) (ttyp1)', '', 'login: fake', 'Password: (not echoed)']);
    expect(lines).toContain('Last login: Thu Dec  2 21:32:59 on ttyp1 from bam.zing.org');
    expect(lines).toContain('Welcome to OpenBSD: The proactively secure Unix-like operating system.');
    expect(lines).toContain('$ ls -a');
    expect(lines).toContain('.         ..        .cshrc    .login    .mailrc   .profile  .rhosts');
    expect(lines).toContain('$ /sbin/ping www.yahoo.com');
    expect(lines).toContain('13 packets transmitted, 11 packets received, 15% packet loss');
    expect(lines.at(-1)).toBe('$ exit');
    // The password is in the capture: the typed lines keep it, marked as not shown to the user.
    expect(typed(t)).toEqual([
      ['fake', true],
      ['user', false],
      ['ls', true],
      ['ls -a', true],
      ['/sbin/ping www.yahoo.com', true],
      ['^C', true],
      ['exit', true],
    ]);
    expect([t.typedLines, t.notEchoed, t.decodeErrors]).toEqual([7, 1, 0]);
    const opts = options(t);
    expect(opts.slice(0, 3)).toEqual(['client DO SGA', 'client WILL TERMINAL-TYPE', 'client WILL NAWS']);
    expect(opts).toContain('server DO TERMINAL-TYPE');
    expect(opts).toContain('server WILL ECHO');
    expect(opts).toContain('client SB TERMINAL-TYPE IS xterm-color');
    expect(opts).toContain('client SB NAWS 80x32');
    expect(opts).toContain('client SB TSPEED IS 9600,9600');
    expect(opts).toContain('client SB NEW-ENVIRON IS VAR DISPLAY=bam.zing.org:0.0');
    expect(opts).toContain('server SB LINEMODE MODE EDIT|TRAPSIG|SOFT_TAB');
    expect([t.chunk, t.final]).toEqual([0, true]);
  });

  it("line mode (telnet-cooked.pcap): the client's local echo is on the screen, the password is not", async () => {
    const t = await transcriptOf('telnet-cooked.pcap');
    const lines = screen(t);
    expect(lines.slice(0, 5)).toEqual(['', 'OpenBSD/i386 (oof) (ttyp2)', '', 'login: fake', 'Password: (not echoed)']);
    expect(lines).toContain('Last login: Sat Nov 27 20:11:43 on ttyp2 from bam.zing.org');
    expect(lines).toContain('$ /sbin/ping www.yahoo.com');
    expect(lines).toContain('6 packets transmitted, 6 packets received, 0% packet loss');
    expect(lines.at(-1)).toBe('$ exit');
    expect(typed(t)).toEqual([
      ['fake', true],
      ['user', false],
      ['/sbin/ping www.yahoo.com', true],
      ['^C', true],
      ['ls', true],
      ['ls -a', true],
      ['exit', true],
    ]);
    // The server turns echo on just for the password, and off again after it.
    const seq = t.entries.map((e) => (e.kind === 'screen' ? `| ${e.text}` : e.kind === 'option' ? `~ ${e.from} ${e.text}` : e.kind));
    const at = seq.indexOf('| login: fake');
    expect(seq.slice(at, at + 7)).toEqual(['| login: fake', 'typed', '~ server WILL ECHO', '~ client DO ECHO', '| Password: (not echoed)', 'typed', '~ server WONT ECHO']);
    expect(t.entries).toContainEqual({ kind: 'command', from: 'client', text: 'IP (interrupt process)' });
    expect(t.entries).toContainEqual({ kind: 'command', from: 'server', text: 'DM (data mark)' });
  });

  it('renders for a terminal: screen, negotiation, commands, then what was typed', async () => {
    const text = renderTranscript(await transcriptOf('telnet-cooked.pcap'));
    const lines = text.split('\n');
    expect(lines[0]).toBe('Telnet session, stream 0: client 192.168.0.2:1550 -> server 192.168.0.1:23');
    expect(lines[1]).toBe('  terminal xterm-color, window 80x32');
    expect(lines).toContain('  ~ client WILL TERMINAL-TYPE');
    expect(lines).toContain('  ~ server WILL ECHO');
    expect(lines).toContain('  | login: fake');
    expect(lines).toContain('  | Password: (not echoed)');
    expect(lines).toContain('  ! client IP (interrupt process)');
    expect(lines).toContain('  typed by the client (7 lines, 1 not echoed):');
    expect(lines).toContain('  > user   [not echoed: password entry?]');
    expect(lines.at(-1)).toBe('  > exit');
  });
});

// ---------------------------------------------------------------------------
// Synthetic sessions

const enc = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0));

type Step = readonly ['c' | 's', string | number[]];

/** Frames of a Telnet session: handshake, then each step as one segment from the client ('c') or server ('s'). */
function sessionFrames(steps: readonly Step[], client: TcpEndpoint, server: TcpEndpoint, opts: { handshake?: boolean; skip?: number } = {}): Uint8Array[] {
  let cs = 1000;
  let ss = 5000;
  const out: Uint8Array[] = [];
  if (opts.handshake !== false) {
    out.push(tcpFrame({ src: client, dst: server, seq: cs, syn: true }));
    out.push(tcpFrame({ src: server, dst: client, seq: ss, ack: cs + 1, syn: true }));
    cs++;
    ss++;
    out.push(tcpFrame({ src: client, dst: server, seq: cs, ack: ss }));
  }
  steps.forEach(([who, data], i) => {
    const payload = typeof data === 'string' ? enc(data) : Uint8Array.from(data);
    if (who === 'c') {
      if (i !== opts.skip) out.push(tcpFrame({ src: client, dst: server, seq: cs, ack: ss, payload }));
      cs += payload.length;
    } else {
      if (i !== opts.skip) out.push(tcpFrame({ src: server, dst: client, seq: ss, ack: cs, payload }));
      ss += payload.length;
      // The client acknowledges: a hole left by `skip` is then known to the follower.
      out.push(tcpFrame({ src: client, dst: server, seq: cs, ack: ss }));
    }
  });
  return out;
}

const CLIENT: TcpEndpoint = { ip: [10, 0, 0, 5], port: 50123 };
const SERVER: TcpEndpoint = { ip: [10, 0, 0, 1], port: 23 };

function transcripts(frames: readonly Uint8Array[], opts: ReplayStackOptions = {}): TelnetTranscript[] {
  const stack = createReplayStack(opts);
  const out: TelnetTranscript[] = [];
  stack.telnet!.bindTranscripts(stack.rt.app('test'), { onTranscript: (t) => out.push(t) });
  frames.forEach((data, i) => stack.feed({ index: i, timestampNs: BigInt(i) * 1_000_000n, linkType: 1, data, originalLength: data.length }));
  stack.finish();
  return out;
}

const IAC = 255;
const WILL = 251;
const DO = 253;
const SB = 250;
const SE = 240;
const ECHO = 1;

describe('transcripts of synthetic sessions', () => {
  it('collapses remote-echoed keystrokes with erasures into the line the user saw', () => {
    const steps: Step[] = [
      ['s', [IAC, WILL, ECHO]],
      ['c', [IAC, DO, ECHO]],
      ['s', '$ '],
      ['c', 'l'],
      ['s', 'l'],
      ['c', 'x'],
      ['s', 'x'],
      ['c', [0x7f]],
      ['s', '\b \b'],
      ['c', 's'],
      ['s', 's'],
      ['c', '\r\0'],
      ['s', '\r\nfile1  file2\r\n$ '],
    ];
    const [t] = transcripts(sessionFrames(steps, CLIENT, SERVER));
    expect(screen(t!)).toEqual(['$ ls', 'file1  file2', '$']);
    expect(typed(t!)).toEqual([['ls', true]]);
    expect(options(t!)).toEqual(['server WILL ECHO', 'client DO ECHO']);
  });

  it('shows a line typed while the server echoes but did not as "(not echoed)"', () => {
    const steps: Step[] = [
      ['s', [IAC, WILL, ECHO]],
      ['s', 'Password:'],
      ['c', 's3cr3t\r\n'],
      ['s', '\r\nWelcome\r\n'],
    ];
    const [t] = transcripts(sessionFrames(steps, CLIENT, SERVER));
    expect(screen(t!)).toEqual(['Password: (not echoed)', 'Welcome']);
    expect(typed(t!)).toEqual([['s3cr3t', false]]);
  });

  it('decodes other ports named with telnetPorts, and only those', () => {
    const steps: Step[] = [['s', 'hello\r\n']];
    const alt: TcpEndpoint = { ip: [10, 0, 0, 1], port: 2323 };
    expect(transcripts(sessionFrames(steps, CLIENT, alt))).toEqual([]);
    const [t] = transcripts(sessionFrames(steps, CLIENT, alt), { telnetPorts: [2323] });
    expect(screen(t!)).toEqual(['hello']);
    expect(t!.server).toBe('10.0.0.1:2323');
  });

  it('knows the server by its port when the capture begins with a server packet', () => {
    const frames = sessionFrames([['s', 'banner\r\nlogin: '], ['c', 'root\r\n']], CLIENT, SERVER, { handshake: false });
    const [t] = transcripts(frames);
    expect([t!.client, t!.server]).toEqual(['10.0.0.5:50123', '10.0.0.1:23']);
    expect(screen(t!)).toEqual(['banner', 'login: root']);
  });

  it('marks a hole in the server output and goes on', () => {
    const steps: Step[] = [['s', 'one\r\n'], ['s', 'lost\r\n'], ['s', 'three\r\n']];
    const [t] = transcripts(sessionFrames(steps, CLIENT, SERVER, { skip: 1 }));
    expect(screen(t!)).toEqual(['one', 'three']);
    expect(t!.entries).toContainEqual({ kind: 'gap', from: 'server', text: '6 bytes missing from the capture (acked-unseen)' });
  });

  it('hands a long session up in chunks that add up to the whole transcript', () => {
    const steps: Step[] = Array.from({ length: 10 }, (_, i): Step => ['s', `line ${i}\r\n`]);
    const whole = transcripts(sessionFrames(steps, CLIENT, SERVER));
    const parts = transcripts(sessionFrames(steps, CLIENT, SERVER), { transcriptChunkEntries: 3 });
    expect(whole).toHaveLength(1);
    expect(parts.map((p) => [p.chunk, p.final, p.entries.length])).toEqual([
      [0, false, 3],
      [1, false, 3],
      [2, false, 3],
      [3, true, 1],
    ]);
    expect(parts.flatMap((p) => p.entries)).toEqual(whole[0]!.entries);
    expect(renderTranscript(parts[1]!)).toMatch(/\(continued, chunk 2\)[\s\S]*\(the session goes on in the next chunk\)$/);
  });

  it('reports Telnet protocol errors in place and resynchronises', () => {
    const steps: Step[] = [['s', [IAC, SE]], ['s', 'still here\r\n'], ['c', [IAC, SB, TelnetOption.NAWS, 0, 100, 0, 40, IAC, SE]]];
    const [t] = transcripts(sessionFrames(steps, CLIENT, SERVER));
    expect(t!.entries[0]).toEqual({ kind: 'command', from: 'server', text: '(telnet decode error: stray-se)' });
    expect(screen(t!)).toEqual(['still here']);
    expect(t!.windowSize).toEqual({ width: 100, height: 40 });
    expect(t!.decodeErrors).toBe(1);
  });

  it('skips terminal escape sequences and honours carriage returns', () => {
    const [t] = transcripts(sessionFrames([['s', '\x1b[2J\x1b[1;1Hprogress 10%\rprogress 100%\r\n\ttabbed\r\n']], CLIENT, SERVER));
    expect(screen(t!)).toEqual(['progress 100%', '        tabbed']);
  });
});

describe('describeSubnegotiation', () => {
  it('names the common option values', () => {
    expect(describeSubnegotiation(TelnetOption.TERMINAL_TYPE, Uint8Array.of(1))).toBe('TERMINAL-TYPE SEND');
    expect(describeSubnegotiation(TelnetOption.TERMINAL_TYPE, Uint8Array.of(0, ...enc('VT100')))).toBe('TERMINAL-TYPE IS VT100');
    expect(describeSubnegotiation(TelnetOption.NAWS, Uint8Array.of(0, 80, 0, 24))).toBe('NAWS 80x24');
    expect(describeSubnegotiation(TelnetOption.LINEMODE, Uint8Array.of(1, 3))).toBe('LINEMODE MODE EDIT|TRAPSIG');
    expect(describeSubnegotiation(TelnetOption.LFLOW, Uint8Array.of(1))).toBe('LFLOW ON');
    expect(describeSubnegotiation(TelnetOption.NEW_ENVIRON, Uint8Array.of(0, 0, ...enc('USER'), 1, ...enc('bob'), 3, ...enc('X')))).toBe(
      'NEW-ENVIRON IS VAR USER=bob USERVAR X',
    );
    expect(describeSubnegotiation(200, Uint8Array.of(1, 2, 255))).toBe('OPTION-200 01 02 ff');
  });
});
