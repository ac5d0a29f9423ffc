/**
 * One argument parser for every CLI (apps/args.ts): declared options, --help
 * made from the declarations, one-line errors with exit 2, and the shared
 * flags (--seed, --loss, --delay, --json, --pcap) meaning the same everywhere.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runMain } from '../support/output.js';
import { checkOutputDir, checkOutputFile, formatHelp, options, parseCommand, SHARED, UsageError, type CommandSpec, type OptionTable } from '../../apps/args.js';
import { main as benchMain, parseBenchArgs } from '../../apps/bench/index.js';
import { generateCapture } from '../../apps/bench/replay.js';
import { main as checkLoopsMain } from '../../apps/check-loops.js';
import { main as demoMain, parseArgs as parseDemo } from '../../apps/demo.js';
import { main as pingMain, parsePingArgs } from '../../apps/ping.js';
import { main as replayMain } from '../../apps/replay.js';
import { main as tunnelMain, parseTunnelArgs } from '../../apps/tunnel-host.js';
import { main as soakMain, parseSoakArgs } from '../soak/tcp-soak.js';

const dir = mkdtempSync(join(tmpdir(), 'cli-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SPEC = {
  prog: 'toy',
  synopsis: '[options] FILE...',
  positionals: { min: 1, max: 2, name: 'FILE' },
  options: options({
    seed: SHARED.seed(7),
    loss: SHARED.loss(),
    name: { kind: 'string', placeholder: 'NAME', help: 'a name', short: 'n' },
    port: { kind: 'string', placeholder: 'N', multiple: true, parse: (v: string) => Number(v), help: 'a port' },
    upper: { kind: 'string', placeholder: 'X', parse: (v: string) => {
      if (v !== v.toUpperCase()) throw new Error(`not upper case: ${v}`);
      return v;
    }, help: 'an upper-case word' },
    json: SHARED.json(),
  }),
} satisfies CommandSpec<OptionTable>;

const fails = (argv: string[]): string => {
  try {
    parseCommand(SPEC, argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`accepted ${argv.join(' ')}`);
};

describe('apps/args.ts', () => {
  it('parses declared options: types, defaults, inline values, short names, repeats, positionals', () => {
    const p = parseCommand(SPEC, ['a.pcap', '--seed=3', '-n', 'x', '--port', '1', '--port=2', '--json', '--upper', 'OK', 'b']);
    expect(p).not.toBe('help');
    if (p === 'help') return;
    expect(p.values).toEqual({ seed: 3, loss: 0, name: 'x', port: [1, 2], upper: 'OK', json: true });
    expect(p.positionals).toEqual(['a.pcap', 'b']);
    expect([...p.given].sort()).toEqual(['json', 'name', 'port', 'seed', 'upper']);
    const d = parseCommand(SPEC, ['f']);
    expect(d !== 'help' && d.values).toEqual({ seed: 7, loss: 0, port: [], json: false });
    expect(parseCommand(SPEC, ['--bogus', '-h'])).toBe('help');
  });

  it('says in one line what is wrong', () => {
    expect(fails(['f', '--bogus'])).toBe('unknown option --bogus');
    expect(fails(['f', '--seed'])).toBe('--seed needs a value (N)');
    expect(fails(['f', '--name', '--json'])).toBe('--name needs a value (NAME)');
    expect(fails(['f', '--seed', '1.5'])).toBe('--seed: "1.5" is not an integer in 0..4294967295');
    expect(fails(['f', '--seed', ''])).toBe('--seed: "" is not an integer in 0..4294967295');
    expect(fails(['f', '--loss', '-0.1'])).toBe('--loss: "-0.1" is not a probability in 0..1');
    expect(fails(['f', '--loss', '30'])).toBe('--loss: "30" is not a probability in 0..1 (a probability, not a percent: for 30% write 0.3)');
    expect(fails(['f', '--json=no'])).toBe('--json takes no value');
    expect(fails(['f', '--upper', 'no'])).toBe('--upper: not upper case: no');
    expect(fails([])).toBe('missing FILE');
    expect(fails(['a', 'b', 'c'])).toBe('too many arguments: "c"');
  });

  it('--help is made from the declarations', () => {
    const help = formatHelp(SPEC);
    expect(help).toMatch(/^usage: npm run toy -- \[options\] FILE\.\.\.\n/);
    expect(help).toMatch(/\n {2}--seed N +seed of every random choice \(same seed, same run\) \(default 7\)\n/);
    expect(help).toMatch(/\n {2}-n, --name NAME +a name\n/);
    expect(help).toMatch(/\n {2}--port N +a port \(repeatable\)\n/);
    expect(help).toMatch(/\n {2}-h, --help +print this help and exit\n$/);
  });

  it('checks a file or folder to be written before the run', () => {
    const missing = join(dir, 'missing', 'x.pcap');
    expect(() => checkOutputFile('--pcap', missing)).toThrow(`--pcap ${missing}: folder ${join(dir, 'missing')} does not exist (create it first)`);
    expect(() => checkOutputFile('--pcap', dir)).toThrow('is a folder; give a file name');
    expect(checkOutputFile('--pcap', join(dir, 'ok.pcap'))).toBe(join(dir, 'ok.pcap'));
    writeFileSync(join(dir, 'plain'), '');
    expect(() => checkOutputFile('--pcap', join(dir, 'plain', 'x.pcap'))).toThrow('is not a folder');
    expect(checkOutputDir('--dump-streams', join(dir, 'new'))).toBe(join(dir, 'new'));
    expect(() => checkOutputDir('--dump-streams', join(dir, 'a', 'b'))).toThrow('does not exist (create it first)');
    expect(() => checkOutputDir('--dump-streams', join(dir, 'plain'))).toThrow('exists and is not a folder');
    mkdirSync(join(dir, 'existing'));
    expect(checkOutputDir('--dump-streams', join(dir, 'existing'))).toBe(join(dir, 'existing'));
  });
});

describe('the shared flags mean the same in every CLI', () => {
  const tunnel = ['client', '--local', '127.0.0.1:0', '--ip', '10.88.0.2/24', '--connect', '10.88.0.1'];
  const parsers: Array<[string, (extra: string[]) => unknown]> = [
    ['demo', (x) => parseDemo(x)],
    ['ping', (x) => {
      try {
        return parsePingArgs(x);
      } catch (e) {
        return (e as Error).message;
      }
    }],
    ['tunnel-host', (x) => parseTunnelArgs([...tunnel, ...x])],
  ];

  it('--loss is a probability 0..1 everywhere; a percent is refused with the same words', () => {
    for (const [name, parse] of parsers) {
      expect(parse(['--loss', '2']), name).toBe('--loss: "2" is not a probability in 0..1 (a probability, not a percent: for 2% write 0.02)');
      expect(parse(['--loss', '0.25']), name).toMatchObject({ loss: 0.25 });
    }
  });

  it('--pcap in a missing folder is refused before anything runs, everywhere', () => {
    const file = join(dir, 'nope', 'cap.pcap');
    for (const [name, parse] of parsers) expect(parse(['--pcap', file]), name).toBe(`--pcap ${file}: folder ${join(dir, 'nope')} does not exist (create it first)`);
  });

  it('--seed and --delay: the same ranges in demo and ping', () => {
    for (const [name, parse] of parsers.slice(0, 2)) {
      expect(parse(['--seed', '1.5']), name).toBe('--seed: "1.5" is not an integer in 0..4294967295');
      expect(parse(['--delay', '-1']), name).toBe('--delay: "-1" is not a delay in ms (0..10000)');
      expect(parse(['--seed', '9', '--delay', '2.5']), name).toMatchObject({ seed: 9, delayMs: 2.5 });
    }
  });

  it('the other CLIs check their own arguments the same way', () => {
    expect(parseBenchArgs(['tcp-bulk', '--json'])).toMatchObject({ names: ['tcp-bulk'], json: true });
    expect(() => parseBenchArgs(['nope'])).toThrow(/^unknown benchmark "nope" \(have: runtime, /);
    expect(parseSoakArgs(['20', '5000'], {})).toEqual({ count: 20, maxBytes: 5000, seed: 1 });
    expect(parseSoakArgs(['--count', '3', '--seed', '4'], { SOAK_SEED: '9' })).toEqual({ count: 3, maxBytes: 400_000, seed: 4 });
    expect(parseSoakArgs([], { SOAK_SEED: '9' })).toMatchObject({ seed: 9 });
    expect(() => parseSoakArgs(['abc'], {})).toThrow('COUNT: "abc" is not an integer in 1..10000000');
    expect(parseTunnelArgs([...tunnel, '--connect-timeout', '0'])).toBe('--connect-timeout: "0" is not a number in 0.1..3600');
    expect(parseTunnelArgs(['server', '--local', ':0', '--ip', '10.0.0.1/24', '--wait-for-peer', '5'])).toBe('--wait-for-peer is for the client');
    expect(parseTunnelArgs([...tunnel, '--wait-for-peer', '5'])).toMatchObject({ waitForPeerMs: 5000, connectTimeoutMs: 10_000 });
  });
});

describe('every CLI: --help exits 0, a bad argument is one line and exit 2', () => {
  const cases: Array<[string, (argv: readonly string[]) => Promise<number>, string[]]> = [
    ['demo', demoMain, ['--pace', 'fast']],
    ['tunnel-host', (a) => demoMain(['client', ...a]), ['--local', 'nowhere']],
    ['tunnel-host', tunnelMain, ['--port', '70000']],
    ['ping', pingMain, ['--count', 'x']],
    ['replay', replayMain, ['--speed', '-1']],
    ['bench', benchMain, ['no-such-bench']],
    ['soak:tcp', soakMain, ['12abc']],
    ['check-loops', checkLoopsMain, ['--bogus']],
  ];
  for (const [prog, main, bad] of cases) {
    it(`${prog} ${bad.join(' ')}`, async () => {
      const help = await runMain(main, ['--help']);
      expect(help.code).toBe(0);
      expect(help.out).toMatch(/^usage: /);
      expect(help.err).toBe('');
      const r = await runMain(main, bad);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toMatch(new RegExp(`^${prog}: [^\\n]+ \\(try --help\\)\\n$`));
    });
  }
});

describe('as processes', () => {
  const proc = (args: string[]): Promise<{ code: number | null; out: string; err: string }> =>
    new Promise((done) => {
      const c = spawn(process.execPath, ['--import', 'tsx', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      c.on('close', (code) => done({ code, out, err }));
    });

  it('print one line and exit 2 (no stack trace) for bad arguments; bench --help runs no benchmark', async () => {
    const [ping, soak, bench] = await Promise.all([
      proc(['apps/ping.ts', '--loss', '2']),
      proc(['test/soak/tcp-soak.ts', 'abc']),
      proc(['apps/bench/index.ts', '--help']),
    ]);
    expect([ping.code, ping.out, ping.err]).toEqual([2, '', 'ping: --loss: "2" is not a probability in 0..1 (a probability, not a percent: for 2% write 0.02) (try --help)\n']);
    expect([soak.code, soak.out, soak.err]).toEqual([2, '', 'soak:tcp: COUNT: "abc" is not an integer in 1..10000000 (try --help)\n']);
    expect(bench.code).toBe(0);
    expect(bench.err).toBe('');
    expect(bench.out).toMatch(/^usage: npm run bench -- \[NAME\.\.\.\] \[--json\]/);
    expect(bench.out).not.toContain('machine:');
  }, 60_000);

  it.each([
    // the demo prints line by line, so its later writes meet the closed pipe
    ['services-demo', () => ['apps/services-demo.ts']],
    // a record a frame: far more than the first chunk the reader takes
    ['replay', () => ['apps/replay.ts', join(dir, 'slow-reader.pcap'), '--json', '--trace', '--jobs', '1']],
  ] as const)('%s stops quietly with exit 0 when the reader closes the pipe early (`| head`)', async (name, args) => {
    if (name === 'replay') await generateCapture(join(dir, 'slow-reader.pcap'), 5000, 16, 1);
    const r = await new Promise<{ code: number | null; err: string; lines: number }>((done) => {
      const c = spawn(process.execPath, ['--import', 'tsx', ...args()], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      let lines = 0;
      c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      // read one chunk, then close our end as `head` does
      c.stdout.once('data', (d: Buffer) => {
        lines = String(d).split('\n').length;
        c.stdout.destroy();
      });
      c.on('close', (code) => done({ code, err, lines }));
    });
    expect(r.lines).toBeGreaterThan(0);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  }, 60_000);

  it('write all their output to a reader that is slow to take it (`| jq`), summary last', async () => {
    // Far more than a pipe and the reader's buffer hold: most of it still waits when the replay is done.
    const file = join(dir, 'slow-reader.pcap');
    await generateCapture(file, 5000, 16, 1);
    const r = await new Promise<{ code: number | null; out: string }>((done) => {
      const c = spawn(process.execPath, ['--import', 'tsx', 'apps/replay.ts', file, '--json', '--trace', '--jobs', '1'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      c.stdout.pause();
      setTimeout(() => c.stdout.resume(), 4000);
      c.on('close', (code) => done({ code, out }));
    });
    expect(r.code).toBe(0);
    expect(r.out.length).toBeGreaterThan(1024 * 1024);
    const lines = r.out.trimEnd().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]!) as { type: string; frames: number };
    expect(summary.type).toBe('summary');
    expect(lines.filter((l) => l.startsWith('{"type":"frame"')).length).toBe(summary.frames);
  }, 60_000);
});
