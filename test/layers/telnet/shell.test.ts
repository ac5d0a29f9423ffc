import { describe, expect, it } from 'vitest';
import { createShell, formatUptime, tokenize } from '../../../src/layers/telnet/shell.js';
import type { ShellEnv } from '../../../src/layers/telnet/shell.js';

const START = Date.UTC(2024, 2, 1, 12, 0, 0);

function fakeEnv(overrides: Partial<ShellEnv> = {}): ShellEnv & { clock: number } {
  const env: ShellEnv & { clock: number } = {
    user: 'demo',
    hostName: 'upcall',
    clock: START + 3_723_000,
    startedAt: START,
    now: (): number => env.clock,
    netstat: () => ({
      columns: ['Proto', 'Local', 'Remote', 'State'],
      rows: [['tcp', '10.0.0.1:23', '10.0.0.2:40000', 'ESTABLISHED'], ['tcp', '10.0.0.1:23', '*:*', 'LISTEN']],
    }),
    ps: () => ({ columns: ['TASK', 'MODULE', 'STATE'], rows: [[1, 'tcp', 'running'], [12, 'telnet', 'waiting']] }),
    stats: () => ({ columns: ['COUNTER', 'VALUE'], rows: [['ip.rx', 120], ['tcp.rx', 7]] }),
    ping: async (host: string, write: (line: string) => void) => {
      if (host === 'nowhere') throw new Error('unknown host nowhere');
      write(`PING ${host}: 56 data bytes`);
      write(`64 bytes from ${host}: icmp_seq=0 ttl=64 time=1.0 ms`);
    },
    ...overrides,
  };
  return env;
}

describe('shell', () => {
  it('prompts with user and host', () => {
    expect(createShell(fakeEnv()).prompt()).toBe('demo@upcall$ ');
  });

  it('runs the simple commands with NVT line endings', async () => {
    const sh = createShell(fakeEnv());
    expect(await sh.execute('echo  hello   "big world" \'a  b\'')).toEqual({ output: 'hello big world a  b\r\n' });
    expect(await sh.execute('whoami')).toEqual({ output: 'demo\r\n' });
    expect(await sh.execute('date')).toEqual({ output: '2024-03-01T13:02:03.000Z\r\n' });
    expect(await sh.execute('uptime')).toEqual({ output: 'up 01:02:03\r\n' });
    expect(await sh.execute('')).toEqual({ output: '' });
    expect(await sh.execute('   ')).toEqual({ output: '' });
  });

  it('uses the stack clock, not the machine clock', async () => {
    const env = fakeEnv();
    const sh = createShell(env);
    env.clock = START + 2 * 86_400_000 + 5_000;
    expect(await sh.execute('date')).toEqual({ output: '2024-03-03T12:00:05.000Z\r\n' });
    expect(await sh.execute('uptime')).toEqual({ output: 'up 2 days, 00:00:05\r\n' });
  });

  it('prints netstat, ps and stats as aligned tables', async () => {
    const sh = createShell(fakeEnv());
    expect((await sh.execute('netstat')).output).toBe(
      'Proto  Local        Remote          State\r\n' +
      'tcp    10.0.0.1:23  10.0.0.2:40000  ESTABLISHED\r\n' +
      'tcp    10.0.0.1:23  *:*             LISTEN\r\n',
    );
    expect((await sh.execute('ps')).output).toBe('TASK  MODULE  STATE\r\n   1  tcp     running\r\n  12  telnet  waiting\r\n');
    expect((await sh.execute('stats')).output).toBe('COUNTER  VALUE\r\nip.rx      120\r\ntcp.rx       7\r\n');
  });

  it('reports an unknown command the way sh does', async () => {
    const sh = createShell(fakeEnv());
    expect(await sh.execute('rm -rf /')).toEqual({ output: 'sh: rm: command not found\r\n' });
    expect(await sh.execute('constructor')).toEqual({ output: 'sh: constructor: command not found\r\n' });
    expect(await sh.execute('echo "oops')).toEqual({ output: 'sh: unterminated quote\r\n' });
  });

  it('lists and describes commands', async () => {
    const sh = createShell(fakeEnv());
    const help = (await sh.execute('help')).output;
    for (const c of ['help', 'echo', 'whoami', 'date', 'uptime', 'netstat', 'ps', 'stats', 'ping', 'exit']) {
      expect(help).toMatch(new RegExp(`^${c}\\b`, 'm'));
    }
    expect(help.endsWith('\r\n') && !/[^\r]\n/.test(help)).toBe(true);
    expect(await sh.execute('help ping')).toEqual({ output: 'ping HOST: send ICMP echo requests through the stack\r\n' });
    expect(await sh.execute('help nope')).toEqual({ output: 'help: no such command: nope\r\n' });
    expect(sh.commands).toContain('exit');
  });

  it('asks the session to end on exit and logout', async () => {
    const sh = createShell(fakeEnv());
    expect(await sh.execute('exit')).toEqual({ output: '', exit: true });
    expect(await sh.execute('logout')).toEqual({ output: '', exit: true });
  });

  it('pings through the environment, collecting or streaming the lines', async () => {
    const sh = createShell(fakeEnv());
    expect(await sh.execute('ping 10.0.0.2')).toEqual({
      output: 'PING 10.0.0.2: 56 data bytes\r\n64 bytes from 10.0.0.2: icmp_seq=0 ttl=64 time=1.0 ms\r\n',
    });
    const streamed: string[] = [];
    expect(await sh.execute('ping 10.0.0.2', { write: (t) => streamed.push(t) })).toEqual({ output: '' });
    expect(streamed).toEqual(['PING 10.0.0.2: 56 data bytes\r\n', '64 bytes from 10.0.0.2: icmp_seq=0 ttl=64 time=1.0 ms\r\n']);
    expect(await sh.execute('ping')).toEqual({ output: 'usage: ping HOST\r\n' });
    expect(await sh.execute('ping a b')).toEqual({ output: 'usage: ping HOST\r\n' });
    expect(await sh.execute('ping nowhere')).toEqual({ output: 'ping: unknown host nowhere\r\n' });
  });

  it('stops a ping when interrupted, printing what it had', async () => {
    const env = fakeEnv({
      ping: (host, write, signal) =>
        new Promise<void>((_, reject) => {
          write(`PING ${host}`);
          signal.addEventListener('abort', () => reject(new Error('aborted')));
        }),
    });
    const sh = createShell(env);
    const ac = new AbortController();
    const running = sh.execute('ping 10.0.0.9', { signal: ac.signal });
    ac.abort();
    expect(await running).toEqual({ output: 'PING 10.0.0.9\r\n' });
  });

  it('turns failures of the environment into output, never rejections', async () => {
    const sh = createShell(fakeEnv({
      netstat: () => { throw new Error('tcp module unavailable'); },
      now: () => Number.NaN,
    }));
    expect(await sh.execute('netstat')).toEqual({ output: 'netstat: tcp module unavailable\r\n' });
    expect(await sh.execute('date')).toEqual({ output: 'date: clock out of range\r\n' });
  });

  it('keeps control characters from the environment off the terminal', async () => {
    const sh = createShell(fakeEnv({
      user: 'x\x1b[31m',
      ping: async (_h, write) => write('evil\x1b]0;title\x07'),
    }));
    expect(sh.prompt()).toBe('x?[31m@upcall$ ');
    expect(await sh.execute('ping h')).toEqual({ output: 'evil?]0;title?\r\n' });
  });
});

describe('tokenize and formatUptime', () => {
  it('splits words with quotes and escapes', () => {
    expect(tokenize(`a "b c" 'd "e"' f\\ g "h\\"i" ""`)).toEqual({ ok: true, words: ['a', 'b c', 'd "e"', 'f g', 'h"i', ''] });
    expect(tokenize("it's")).toEqual({ ok: false, reason: 'unterminated quote' });
  });

  it('formats durations', () => {
    expect(formatUptime(0)).toBe('up 00:00:00');
    expect(formatUptime(86_399_999)).toBe('up 23:59:59');
    expect(formatUptime(86_400_000)).toBe('up 1 day, 00:00:00');
    expect(formatUptime(-5)).toBe('up 00:00:00');
  });
});
