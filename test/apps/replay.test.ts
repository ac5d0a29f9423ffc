import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runReplayCli, USAGE } from '../../apps/replay.js';
import { classicPcap, tcpFrame, type TcpEndpoint } from '../trace/fixtures/frames.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const RAW = path.resolve(process.cwd(), 'test/fixtures/traces/telnet-raw.pcap');
const COOKED = path.resolve(process.cwd(), 'test/fixtures/traces/telnet-cooked.pcap');

const tmp = mkdtempSync(path.join(tmpdir(), 'replay-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runReplayCli(argv, { out: (s) => (out += s), err: (s) => (err += s), errIsTty: false });
  return { code, out, err };
}

const json = (out: string): Array<Record<string, unknown>> =>
  out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('npm run replay -- FILE', () => {
  it('prints each flow with its digests, the Telnet transcript and a summary', async () => {
    const { code, out, err } = await cli(RAW);
    expect(code).toBe(0);
    expect(err).toBe('');
    const lines = out.split('\n');
    expect(lines[0]).toBe('TCP stream 0: 192.168.0.2:1254 -> 192.168.0.1:23   272 packets, 54.41 s, closed');
    expect(lines[1]).toMatch(/^ {2}a->b +159 packets +259 bytes +sha256 d377bc56f926943eedc2c8b30ca983d47f8389bbbb0c88cd6519ab6519fc2fca  \(22 keep-alives\)$/);
    expect(lines[2]).toMatch(/^ {2}b->a +113 packets +1742 bytes +sha256 1e57217203e5da839f1f66f51658741991bed3887962ab9f3c73f59fa1e848a0$/);
    expect(lines).toContain('Telnet session, stream 0: client 192.168.0.2:1254 -> server 192.168.0.1:23');
    expect(lines).toContain('  | login: fake');
    expect(lines).toContain('  | Password: (not echoed)');
    expect(lines).toContain('  | $ ls');
    expect(lines).toContain('  ~ client SB TERMINAL-TYPE IS xterm-color');
    expect(out).toMatch(/^capture: .*telnet-raw\.pcap \(pcap\): 272 frames/m);
    expect(out).toMatch(/^flows: 1 TCP \(1 Telnet\), 272 segments/m);
    expect(out).toMatch(/^drops: none$/m);
  });

  it('--json: one object per line; the flow digests are tshark\'s', async () => {
    for (const [file, aToB, bToA] of [
      [COOKED, [263, 'fd08ed4e6a21e2baeb6840b90ef3fa41f43cfd48974fff663ad959a8e5407307'], [1371, '116b34c396c000749320f5f0d476c88e9b957bde93727683a7effcadfefc198c']],
      [RAW, [259, 'd377bc56f926943eedc2c8b30ca983d47f8389bbbb0c88cd6519ab6519fc2fca'], [1742, '1e57217203e5da839f1f66f51658741991bed3887962ab9f3c73f59fa1e848a0']],
    ] as const) {
      const { code, out } = await cli(file, '--json');
      expect(code).toBe(0);
      const recs = json(out);
      expect(recs.map((r) => r['type'])).toEqual(['flow', 'telnet', 'summary']);
      const flow = recs[0] as { a: string; b: string; aToB: { bytes: number; sha256: string }; bToA: { bytes: number; sha256: string } };
      expect(flow.b).toBe('192.168.0.1:23');
      expect([flow.aToB.bytes, flow.aToB.sha256]).toEqual(aToB);
      expect([flow.bToA.bytes, flow.bToA.sha256]).toEqual(bToA);
      const telnet = recs[1] as { entries: Array<{ kind: string; text: string; echoed?: boolean }> };
      expect(telnet.entries).toContainEqual({ kind: 'screen', text: 'Password: (not echoed)' });
      expect(telnet.entries).toContainEqual({ kind: 'typed', text: 'user', echoed: false });
    }
  });

  it('--dump-streams writes each direction to a file named by the flow, equal to the digests', async () => {
    const dir = path.join(tmp, 'streams');
    const { code, out } = await cli(COOKED, '--dump-streams', dir, '--json');
    expect(code).toBe(0);
    const flow = json(out)[0] as { aToB: { sha256: string; file: string }; bToA: { sha256: string; file: string } };
    expect(readdirSync(dir).sort()).toEqual([
      'tcp-0-192.168.0.1_23-to-192.168.0.2_1550.bin',
      'tcp-0-192.168.0.2_1550-to-192.168.0.1_23.bin',
    ]);
    expect(path.basename(flow.aToB.file)).toBe('tcp-0-192.168.0.2_1550-to-192.168.0.1_23.bin');
    expect(sha256(readFileSync(flow.aToB.file))).toBe(flow.aToB.sha256);
    expect(sha256(readFileSync(flow.bToA.file))).toBe('116b34c396c000749320f5f0d476c88e9b957bde93727683a7effcadfefc198c');
  });

  it('--trace: one line per frame with its path and decisions', async () => {
    const { code, out } = await cli(COOKED, '--trace');
    expect(code).toBe(0);
    const frames = out.split('\n').filter((l) => l.startsWith('frame '));
    expect(frames).toHaveLength(92);
    expect(frames[0]).toMatch(/^frame 0 \(task #\d+, 0\.000 ms\) capture > ip > tcp-observer > report > telnet-transcriber \| tcp-observer: stream 0 .* new flow \| tcp-observer: .* a->b \[SYN\] seq=0 len=0: empty$/);
    expect(frames.filter((l) => l.endsWith(': retransmission'))).toHaveLength(1);
    const { out: jsonOut } = await cli(COOKED, '--trace', '--json');
    const traced = json(jsonOut).filter((r) => r['type'] === 'frame');
    expect(traced).toHaveLength(92);
    expect(traced[3]).toMatchObject({ frame: 3, path: ['capture', 'ip', 'tcp-observer', 'report', 'telnet-transcriber'], outcome: 'ok' });
  });

  it('--telnet-port decodes another port as Telnet', async () => {
    const c: TcpEndpoint = { ip: [10, 0, 0, 2], port: 4000 };
    const s: TcpEndpoint = { ip: [10, 0, 0, 1], port: 2323 };
    const hello = Uint8Array.from('hello there\r\n', (ch) => ch.charCodeAt(0));
    const file = path.join(tmp, 'alt-port.pcap');
    writeFileSync(
      file,
      classicPcap(
        [
          tcpFrame({ src: c, dst: s, seq: 1, syn: true }),
          tcpFrame({ src: s, dst: c, seq: 9, ack: 2, syn: true }),
          tcpFrame({ src: s, dst: c, seq: 10, ack: 2, payload: hello }),
        ].map((data) => ({ data })),
      ),
    );
    expect((await cli(file)).out).not.toMatch(/Telnet session/);
    const { out } = await cli(file, '--telnet-port', '2323', '--telnet-port=8023');
    expect(out).toMatch(/Telnet session, stream 0: client 10\.0\.0\.2:4000 -> server 10\.0\.0\.1:2323\n {2}\| hello there/);
  });

  it('bad arguments: one line on stderr, exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /^replay: missing capture FILE \(try --help\)\n$/],
      [[RAW, '--bogus'], /^replay: unknown option --bogus \(try --help\)\n$/],
      [[RAW, '--speed', 'fast'], /^replay: --speed: "fast" is not a positive number \(try --help\)\n$/],
      [[RAW, '--speed', '0'], /^replay: --speed: "0" is not a positive number/],
      [[RAW, '--telnet-port', '70000'], /^replay: --telnet-port: not a port number: "70000"/],
      [[RAW, '--dump-streams'], /^replay: --dump-streams needs a value/],
      [[RAW, '--dump-streams', path.join(tmp, 'no', 'such', 'dir')], /^replay: --dump-streams .*dir: folder .*such does not exist \(create it first\) \(try --help\)\n$/],
      [[RAW, '--dump-streams', RAW], /^replay: --dump-streams .*: exists and is not a folder/],
      [[RAW, COOKED], /^replay: too many arguments: /],
      [[RAW, '--json=yes'], /^replay: --json takes no value/],
      [[RAW, '--max-flows', '0'], /^replay: --max-flows: "0" is not a positive integer/],
    ];
    for (const [argv, msg] of cases) {
      const { code, out, err } = await cli(...argv);
      expect(code).toBe(2);
      expect(out).toBe('');
      expect(err).toMatch(msg);
      expect(err.trim().split('\n')).toHaveLength(1);
    }
    const help = await cli('--help');
    expect([help.code, help.out]).toEqual([0, `${USAGE}\n`]);
  });

  it('a missing, foreign or damaged file: one line with the reason (and byte offset), exit 2', async () => {
    const missing = await cli(path.join(tmp, 'nope.pcap'));
    expect([missing.code, missing.out]).toEqual([2, '']);
    expect(missing.err).toMatch(/^replay: capture file not found: .*nope\.pcap\n$/);

    const foreign = path.join(tmp, 'foreign.pcap');
    writeFileSync(foreign, 'GIF89a and so on');
    const f = await cli(foreign);
    expect([f.code, f.out]).toEqual([2, '']);
    expect(f.err).toBe(`replay: ${foreign}: not a pcap or pcapng file (starts with 47 49 46 38) (at byte offset 0)\n`);

    const cut = path.join(tmp, 'cut.pcap');
    const raw = readFileSync(RAW);
    writeFileSync(cut, raw.subarray(0, 10_000));
    const t = await cli(cut, '--json');
    expect(t.code).toBe(2);
    expect(t.err).toMatch(/^replay: .*cut\.pcap: truncated record \d+: \d+ of \d+ captured bytes present \(at byte offset \d+\)\n$/);
    // What could be read was replayed and reported, the summary says where it stopped.
    const recs = json(t.out);
    expect(recs.map((r) => r['type'])).toEqual(['flow', 'telnet', 'summary']);
    expect(recs[2]!['error']).toMatch(/truncated record/);
  });
});

describe('the command as a process', () => {
  it('exits 0 on a capture and 2 on a missing file', async () => {
    const run = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        execFile(process.execPath, ['--import', 'tsx', 'apps/replay.ts', ...args], { encoding: 'utf8' }, (error, stdout, stderr) => {
          resolve({ code: error === null ? 0 : ((error as { code?: number }).code ?? -1), stdout, stderr });
        });
      });
    const ok = await run(COOKED, '--json');
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim().split('\n')).toHaveLength(3);
    const bad = await run('/nonexistent/capture.pcap');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('replay: capture file not found: /nonexistent/capture.pcap\n');
  });
});
