/**
 * `npm run demo -- --interactive`, driven as a person would: every way of
 * quitting (Ctrl-], `exit`, end of input, SIGINT, SIGTERM, and Ctrl-] on a real
 * terminal) ends the process with its documented status, no stack trace, and a
 * capture that is whole (every record complete; tshark reads it when installed).
 * Real time; in this process where it can be, as a process for a real
 * signal and a real terminal.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, interactive } from '../../apps/demo.js';
import { parsePcapHeader, PCAP_FILE_HEADER_LENGTH, PCAP_RECORD_HEADER_LENGTH } from '../../src/trace/pcap.js';
import { PipeTerminal } from '../interop/support/terminal.js';
import { installed, itNeeds } from '../support/needs.js';

const dir = mkdtempSync(join(tmpdir(), 'demo-interactive-'));
const running: PipeTerminal[] = [];
afterAll(() => {
  for (const t of running.splice(0)) if (t.child.exitCode === null && t.child.signalCode === null) t.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function demo(name: string): { term: PipeTerminal; pcap: string } {
  const pcap = join(dir, `${name}.pcap`);
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/demo.ts', '--interactive', '--pcap', pcap], { stdio: ['pipe', 'pipe', 'pipe'] });
  const term = new PipeTerminal(child);
  running.push(term);
  return { term, pcap };
}

/** Frames in a classic pcap file, after checking that every record is whole and nothing trails. */
function pcapFrames(file: string): number {
  const bytes = new Uint8Array(readFileSync(file));
  const h = parsePcapHeader(bytes);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = PCAP_FILE_HEADER_LENGTH;
  let n = 0;
  while (at < bytes.length) {
    expect(bytes.length - at).toBeGreaterThanOrEqual(PCAP_RECORD_HEADER_LENGTH);
    at += PCAP_RECORD_HEADER_LENGTH + dv.getUint32(at + 8, h.byteOrder === 'le');
    n++;
  }
  expect(at).toBe(bytes.length);
  if (installed('tshark')) {
    const t = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
    expect(t.status).toBe(0);
    expect(t.stderr).not.toMatch(/cut short|malformed|error/i);
    expect(t.stdout.trim().split('\n')).toHaveLength(n);
  }
  return n;
}

const noStack = (out: string): void => {
  expect(out).not.toMatch(/\n\s+at .+:\d+:\d+/);
  expect(out).not.toContain('write after close');
};

/** The interactive demo in this process: keys through a pipe, signals from an emitter. */
function inProcess(name: string) {
  const pcap = join(dir, `${name}.pcap`);
  const stdin = new PassThrough();
  const signals = new EventEmitter();
  let output = '';
  const code = interactive({ ...DEFAULT_OPTIONS, pcap }, { stdin, write: (t) => void (output += t), signals });
  const waitFor = async (re: RegExp): Promise<void> => {
    const end = Date.now() + 20_000;
    while (!re.test(output)) {
      if (Date.now() > end) throw new Error(`${name}: no ${re} in:\n${output}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { pcap, stdin, signals, code, waitFor, output: () => output };
}

describe('npm run demo -- --interactive: quitting', () => {
  it('every way out (Ctrl-], exit, end of input, SIGINT, SIGTERM) closes cleanly and leaves a whole capture', async () => {
    const ways = {
      ctrlBracket: inProcess('ctrl-bracket'),
      exit: inProcess('exit'),
      endOfInput: inProcess('eof'),
      sigint: inProcess('sigint'),
      sigterm: inProcess('sigterm'),
    };
    await Promise.all(
      Object.values(ways).map(async (w) => {
        await w.waitFor(/login: /);
        // All at once: the command waits (typeahead) while the password is checked.
        w.stdin.write('demo\ndemo\nwhoami\n');
        await w.waitFor(/demo@server\$ whoami\r?\ndemo\r?\ndemo@server\$ /);
      }),
    );
    ways.ctrlBracket.stdin.write('\x1d');
    ways.exit.stdin.write('exit\n');
    ways.endOfInput.stdin.end();
    ways.sigint.signals.emit('SIGINT');
    ways.sigterm.signals.emit('SIGTERM');
    const expected = { ctrlBracket: 0, exit: 0, endOfInput: 0, sigint: 130, sigterm: 143 };
    for (const [way, w] of Object.entries(ways)) {
      expect([way, await w.code]).toEqual([way, expected[way as keyof typeof expected]]);
      const frames = pcapFrames(w.pcap);
      expect(frames).toBeGreaterThan(10);
      expect(w.output()).toContain(`(${frames} frames)`);
      // Nothing is left listening: a signal after the end is not caught by the demo.
      expect(w.signals.listenerCount('SIGINT') + w.signals.listenerCount('SIGTERM')).toBe(0);
    }
    expect(ways.ctrlBracket.output()).toContain('telnet> quit');
    expect(ways.exit.output()).toContain('Connection closed by foreign host.');
    expect(ways.sigint.output()).toContain('SIGINT: session closed.');
  }, 60_000);

  it.concurrent('as a process: SIGTERM ends it with 143, no stack trace, the capture whole', async () => {
    const { term, pcap } = demo('sigterm-process');
    await term.waitFor(/login: /, 30_000);
    term.type('demo\n');
    await term.waitFor(/Password: /, 30_000);
    term.child.kill('SIGTERM');
    expect((await term.exited(30_000)).code).toBe(143);
    noStack(term.output);
    expect(term.output).toMatch(/SIGTERM: session closed\./);
    expect(pcapFrames(pcap)).toBeGreaterThan(5);
  }, 60_000);

  itNeeds(['script'], 'on a real terminal (a pty, via script(1)) Ctrl-] quits with status 0', async () => {
    const pcap = join(dir, 'pty.pcap');
    const cmd = `${process.execPath} --import tsx ${resolve('apps/demo.ts')} --interactive --pcap ${pcap}`;
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const term = new PipeTerminal(child);
    running.push(term);
    await term.waitFor(/login: /, 30_000);
    // Raw mode: each key goes as typed, Enter is CR.
    term.type('demo\r');
    await term.waitFor(/Password: /);
    term.type('demo\r');
    await term.waitFor(/demo@server\$ /);
    term.type('\x1d');
    const r = await term.exited(30_000);
    expect(r.code).toBe(0);
    expect(term.output).toContain('telnet> quit');
    noStack(term.output);
    expect(pcapFrames(pcap)).toBeGreaterThan(10);
  }, 60_000);
});
