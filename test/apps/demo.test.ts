/**
 * The remote-login demo end to end: the session the user sees, the numbers it
 * reports, its determinism, its command line, and the capture it writes
 * (checked with tshark when it is installed).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, main, parseArgs, runDemo, wantsRealWire, type DemoOptions, type DemoResult } from '../../apps/demo.js';
import { negotiationName } from '../../src/wire/telnet.js';
import { itNeeds } from '../support/needs.js';

const dir = mkdtempSync(join(tmpdir(), 'demo-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const options = (o: Partial<DemoOptions> = {}): DemoOptions => ({ ...DEFAULT_OPTIONS, pcap: null, ...o });
const TSX = resolve('node_modules/.bin/tsx');

function cli(args: string[]) {
  return spawnSync(TSX, ['apps/demo.ts', ...args], { encoding: 'utf8', timeout: 60_000 });
}

let piggy: DemoResult | undefined;
const pcapFile = join(dir, 'remote-login.pcap');
async function piggybacked(): Promise<DemoResult> {
  piggy ??= await runDemo(options({ pcap: pcapFile }));
  return piggy;
}

describe('npm run demo', () => {
  it('shows the session as the user saw it', async () => {
    const r = await piggybacked();
    const lines = r.transcript.split('\n');
    expect(lines.slice(0, 8)).toEqual([
      'Telnet login on an upcall-structured stack.',
      '',
      'login: demo',
      'Password:',
      "Welcome, demo. Type 'help' for the commands.",
      'demo@server$ whoami',
      'demo',
      'demo@server$ echo hello upcalls',
    ]);
    expect(r.transcript).toContain('demo@server$ echo hello upcalls\nhello upcalls\ndemo@server$ netstat\nPROTO  LOCAL');
    expect(r.transcript).toMatch(/tcp {4}10\.0\.0\.1:23 {2}10\.0\.0\.2:\d+ {2}ESTABLISHED {2}demo\n/);
    expect(r.transcript).toMatch(/demo@server\$ stats\nMODULE +UPCALLS +DEFERRALS +CLEANUPS +DROPS +NOTES\n/);
    expect(r.transcript).toMatch(/demo@server\$ exit\nlogout\n\nConnection closed by foreign host\.\n$/);
  });

  it('echoes every keystroke in the segment that acknowledges it: at most 2 packets per keystroke', async () => {
    const s = (await piggybacked()).summary;
    expect(s.sessionOk).toBe(true);
    expect(s.keystrokes).toBe('whoami\recho hello upcalls\rnetstat\rstats\r'.length);
    expect(s.echoedKeystrokes).toBe(s.keystrokes);
    expect(s.packetsPerKeystroke).toBeLessThanOrEqual(2.0);
    expect(s.piggybackedAcksServer).toBeGreaterThanOrEqual(s.keystrokes);
    expect(s.echoLatencyMs.p50).toBeGreaterThanOrEqual(2); // one round trip on a 1 ms link
    expect(s.echoLatencyMs.p99).toBeLessThan(3);
    expect(s.tasksExpended).toBe(0);
    expect(s.bytesDelivered).toBeGreaterThan(500);
  });

  it('traces one keystroke up through NIC, IP, TCP and Telnet and its echo down in the same task', async () => {
    const trace = (await piggybacked()).trace.join('\n');
    expect(trace).toMatch(/task #\d+ starts: frame at nic/);
    expect(trace).toMatch(/nic => ip\.onFrame[\s\S]*ip => tcp\.onPacket[\s\S]*tcp => telnetd\.onData[\s\S]*telnetd -> tcp\.armSend[\s\S]*tcp => telnetd\.onSendReady[\s\S]*tcp -> ip\.send[\s\S]*-> nic\.send[\s\S]*task #\d+ ends: ok/);
    expect(trace).toContain('the echo and the ACK of the keystroke in one segment');
    // Arm for send: the echo is not handed to TCP in onData (no send); TCP asks for it
    // once onData has returned, at its own depth, and it goes into the segment.
    expect(trace).not.toMatch(/-> tcp\.send/);
    const lines = (await piggybacked()).trace;
    const depth = (re: RegExp): number => {
      const l = lines.find((x) => re.test(x));
      if (l === undefined) throw new Error(`no ${re} in the trace`);
      return l.replace(/^ *[\d.]+ ms/, '').search(/\S/);
    };
    expect(depth(/tcp => telnetd\.onSendReady/)).toBe(depth(/tcp => telnetd\.onData/));
    expect(depth(/tcp -> ip\.send/)).toBe(depth(/tcp => telnetd\.onData/));
    expect(trace).toMatch(/onSendReady[^\n]*\n[^\n]*telnetd: session #1 writes 1 byte "\w" into the segment TCP is building \(the echo rides on the ACK\)/);
  });

  it('without piggybacking the same session costs visibly more packets', async () => {
    const r = await runDemo(options({ piggyback: false }));
    const s = r.summary;
    expect(s.sessionOk).toBe(true);
    expect(s.packetsPerKeystroke).toBeGreaterThanOrEqual(2.9);
    expect(s.piggybackedAcksServer).toBe(0);
    // The ACK leaves alone from the keystroke's task; the echo is armed from a timer task,
    // where TCP builds the segment at once, inside armSend.
    const trace = r.trace.join('\n');
    expect(trace).toMatch(/tcp => telnetd\.onData[\s\S]*holds 1 byte[\s\S]*task #\d+ starts: timer at telnetd[\s\S]*telnetd -> tcp\.armSend[\s\S]*tcp => telnetd\.onSendReady[\s\S]*tcp -> ip\.send/);
    expect(trace).toContain('the echo alone (the keystroke was acknowledged already)');
  });

  it('with the server behind a mailbox (queued dispatch) the same code runs as messages: more tasks, and no piggybacking unless TCP delays its ACK', async () => {
    const direct = (await piggybacked()).summary;
    const queued = (await runDemo(options({ dispatch: 'queued' }))).summary;
    expect(queued.sessionOk).toBe(true);
    expect(queued.tasks).toBeGreaterThan(direct.tasks);
    const eager = (await runDemo(options({ dispatch: 'queued', delayedAckMs: 0 }))).summary;
    expect(eager.sessionOk).toBe(true);
    expect(eager.packetsPerKeystroke).toBeGreaterThanOrEqual(2.9);
  });

  it('is a function of its seed: the same seed gives the same summary, with loss too', async () => {
    const a = await runDemo(options({ seed: 3, loss: 0.05 }));
    const b = await runDemo(options({ seed: 3, loss: 0.05 }));
    expect(a.summary.sessionOk).toBe(true);
    expect(a.summary.retransmissions).toBeGreaterThan(0);
    expect(JSON.stringify(b.summary)).toBe(JSON.stringify(a.summary));
    expect(b.transcript).toBe(a.transcript);
  });

  it('parses its options and refuses bad ones', () => {
    expect(parseArgs(['--seed', '7', '--loss=0.1', '--delay', '20', '--no-piggyback', '--json', '--pcap', 'x.pcap'])).toMatchObject({
      seed: 7,
      loss: 0.1,
      delayMs: 20,
      piggyback: false,
      json: true,
      pcap: 'x.pcap',
    });
    expect(parseArgs(['--loss', '1.5'])).toBe('--loss: "1.5" is not a probability in 0..1 (a probability, not a percent: for 1.5% write 0.015)');
    expect(parseArgs(['--loss', '5'])).toBe('--loss: "5" is not a probability in 0..1 (a probability, not a percent: for 5% write 0.05)');
    expect(parseArgs(['--seed', '-1'])).toMatch(/^--seed: /);
    expect(parseArgs(['--delay'])).toBe('--delay needs a value (MS)');
    expect(parseArgs(['--frobnicate'])).toBe('unknown option --frobnicate');
    expect(parseArgs(['--pcap', join(dir, 'no-such-folder', 'x.pcap')])).toMatch(/^--pcap .*x\.pcap: folder .*no-such-folder does not exist \(create it first\)$/);
    expect(parseArgs(['--pcap', dir])).toMatch(/is a folder; give a file name$/);
    expect(parseArgs(['--users', join(dir, 'nobody.json')])).toMatch(/^--users .*nobody\.json: no such file$/);
    expect(parseArgs(['--dispatch', 'sideways'])).toBe(`--dispatch needs 'direct', 'queued' or 'threaded', not "sideways"`);
    expect(parseArgs(['--help'])).toBe('help');
    expect(parseArgs(['--json=yes'])).toBe('--json takes no value');
  });

  it('on the command line: a bad argument is one line on stderr and exit 2; --json prints the summary alone (the same as in-process)', () => {
    const bad = cli(['--loss', 'lots']);
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toBe('demo: --loss: "lots" is not a probability in 0..1 (try --help)\n');
    const ok = cli(['--json', '--no-pcap', '--seed', '5']);
    expect(ok.status).toBe(0);
    const lines = ok.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const json = JSON.parse(lines[0]!) as Record<string, unknown>;
    for (const key of ['keystrokes', 'packetsPerKeystroke', 'piggybackedAcks', 'upcalls', 'tasks', 'tasksExpended', 'echoLatencyMs', 'bytesDelivered']) {
      expect(json).toHaveProperty(key);
    }
    expect(json['seed']).toBe(5);
    return runDemo(options({ seed: 5 })).then((r) => expect(json).toEqual(JSON.parse(JSON.stringify(r.summary))));
  });

  itNeeds(['tshark'], 'writes a capture tshark reads without complaint, with the negotiation the stack logged', async () => {
    const r = await piggybacked();
    const run = (args: string[]) => spawnSync('/usr/bin/tshark', ['-r', pcapFile, ...args], { encoding: 'utf8' });
    expect(run(['-Y', '_ws.malformed || _ws.expert.severity >= error']).stdout.trim()).toBe('');
    const fields = run(['-Y', 'telnet', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'ip.src', '-e', 'telnet.cmd', '-e', 'telnet.subcmd']).stdout;
    const seen: Record<string, string[]> = { sent: [], received: [] };
    for (const line of fields.trim().split('\n')) {
      const [src, cmds, subs] = line.split('\t');
      if (!cmds) continue;
      const opts = (subs ?? '').split(',').filter((x) => x !== '').map(Number);
      let o = 0;
      for (const c of cmds.split(',').map(Number)) {
        if (c < 250 || c > 254) continue;
        const opt = opts[o++]!;
        if (c !== 250) seen[src === '10.0.0.1' ? 'sent' : 'received']!.push(negotiationName(c, opt));
      }
    }
    const logged = (d: 'sent' | 'received') => r.negotiation.filter((n) => n.direction === d).map((n) => n.text);
    expect(seen['sent']).toEqual(logged('sent'));
    expect(seen['received']).toEqual(logged('received'));
    expect(seen['sent']).toEqual(['WILL ECHO', 'WILL SGA', 'DO TERMINAL-TYPE', 'DO NAWS']);
  });
});

describe('npm run demo on a real wire', () => {
  it('hands server/client and tunnel or TAP options to the tunnel host, which checks them', async () => {
    expect(wantsRealWire(['server', '--local', '127.0.0.1:7001'])).toBe(true);
    expect(wantsRealWire(['--tap=10.77.9.1/24'])).toBe(true);
    expect(wantsRealWire(['--seed', '3', '--json'])).toBe(false);
    const err: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      expect(await main(['client', '--local', 'nonsense'])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(err.join('')).toMatch(/^tunnel-host: /);
  });
});
