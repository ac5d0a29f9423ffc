/**
 * The checker on the project's own `src`: the cycles the TCP/Telnet echo path
 * really has, found and classified. Only `src` is given, so nothing in the
 * analysed code builds a Telnet server on TCP (apps/ do): the link from
 * Telnet's StreamSlots to TCP's TcpSlots comes from TCP satisfying Telnet's
 * StreamTransport. Lines move as the code changes, so each hop is asserted by
 * module, function and file, and its line only by what the source has there:
 * the call to the next hop.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkLoops, runCheck, type CheckResult, type CheckRun, type Cycle, type Hop } from '../../src/check/index.js';

const root = process.cwd();
const TCP = 'src/layers/tcp/tcp.ts';
const OUTPUT = 'src/layers/tcp/output.ts';
const CONN = 'src/layers/tcp/connection.ts';
const WRITER = 'src/layers/tcp/writer.ts';
const SERVER = 'src/layers/telnet/server.ts';
const ENDPOINT = 'src/layers/telnet/endpoint.ts';

type Place = Omit<Hop, 'line'>;
const at = (module: string, fn: string, file: string): Place => ({ module, function: fn, file });

/** TCP's part of every echo-path cycle: from the entry it re-enters down to the onSendReady upcall. */
const tcpOutputTo = (entry: Place, ...between: Place[]): Place[] => [
  entry,
  ...between,
  at('tcp', 'requestOutput', TCP),
  at('tcp', 'output', OUTPUT),
  at('tcp', 'outputOnce', OUTPUT),
  at('tcp', 'armedSegment', OUTPUT),
  at('tcp', 'upSendReady', TCP),
];

let run: CheckRun;
let result: CheckResult;
beforeAll(() => {
  run = runCheck({ paths: ['src'], cwd: root });
  result = run.result;
}, 60_000);

const places = (c: Cycle): Place[] => c.chain.map(({ module, function: fn, file }) => ({ module, function: fn, file }));
const involvesTelnet = (c: Cycle): boolean => c.chain.some((h) => h.module === 'telnetd' || h.module === 'telnet');
const sourceLine = (h: Hop): string => fs.readFileSync(path.join(root, h.file), 'utf8').split('\n')[h.line - 1] ?? '';

describe('checkLoops on the project source (src)', () => {
  it('sees the stack as modules: Tcp and TcpObserver are both tcp, TelnetClient and TelnetTranscriber both telnet', () => {
    const r = result;
    expect(r.truncated).toBe(false);
    const mods = r.moduleList.map((m) => `${m.name}:${m.className}:${m.file}`);
    expect(mods).toEqual(
      expect.arrayContaining([
        `tcp:Tcp:${TCP}`,
        'tcp:TcpObserver:src/layers/tcp/observer.ts',
        `telnetd:TelnetServer:${SERVER}`,
        'telnet:TelnetClient:src/layers/telnet/client.ts',
        'telnet:TelnetTranscriber:src/layers/telnet/transcript.ts',
        'ip:Ip:src/layers/ip.ts',
      ]),
    );
    const tcp = r.moduleList.find((m) => m.className === 'Tcp')!;
    expect(tcp.entries).toEqual(expect.arrayContaining([{ name: 'send', policy: 'reentrant' }, { name: 'armSend', policy: 'reentrant' }]));
  });

  it('finds no unsafe cycle and no upcall under a lock', () => {
    expect(result.cycles.filter((c) => c.kind === 'unsafe')).toEqual([]);
    expect(result.lockedUpcalls).toEqual([]);
  });

  it('reports exactly the echo-path cycles through the Telnet server, each re-entering TCP through a re-entrant entry', () => {
    const telnet = result.cycles.filter(involvesTelnet);
    expect(telnet.map((c) => ({ kind: c.kind, chain: places(c) }))).toEqual([
      // The queued-dispatch fallback: onSendReady came by mailbox, the pending bytes go with send.
      // (At run time that handler runs in a task of its own, so this loop never closes in one task.)
      {
        kind: 'reentrant',
        chain: [
          ...tcpOutputTo(at('tcp', 'connSend', TCP)),
          at('telnetd', 'onSendReady', SERVER),
          at('telnetd', 'sendReady', SERVER),
          at('telnetd', 'sendPending', SERVER),
          at('telnetd', 'TcpConnection.send', CONN),
        ],
      },
      // The writer's own fallback: a write after its segment has gone is queued with send.
      {
        kind: 'reentrant',
        chain: [
          ...tcpOutputTo(at('tcp', 'connSend', TCP)),
          at('telnetd', 'onSendReady', SERVER),
          at('telnetd', 'sendReady', SERVER),
          at('telnetd', 'TelnetEndpoint.writeTo', ENDPOINT),
          at('telnetd', 'PayloadWriter.write', WRITER),
          at('telnetd', 'TcpConnection.send', CONN),
        ],
      },
      // Arm for send, and arm again when more is pending than the segment holds.
      {
        kind: 'reentrant',
        chain: [
          ...tcpOutputTo(at('tcp', 'connArm', TCP)),
          at('telnetd', 'onSendReady', SERVER),
          at('telnetd', 'sendReady', SERVER),
          at('telnetd', 'TcpConnection.armSend', CONN),
        ],
      },
    ]);
    const arm = telnet[2]!;
    expect(arm.links.map((l) => l.kind)).toEqual(['call', 'call', 'call', 'call', 'call', 'upcall', 'call', 'call', 'downcall']);
    expect(arm.links[5]).toEqual({ kind: 'upcall', slot: 'onSendReady' });
    expect(arm.links[8]).toEqual({ kind: 'downcall', entry: 'armSend', policy: 'reentrant' });
    expect(arm.reason).toBe("tcp.connArm is declared 'reentrant'");
    for (const c of telnet.slice(0, 2)) {
      expect(c.links[c.links.length - 1]).toEqual({ kind: 'downcall', entry: 'send', policy: 'reentrant' });
      expect(c.reason).toBe("tcp.connSend is declared 'reentrant'");
    }
  });

  it('points each hop at the line that makes the call to the next one', () => {
    const telnet = result.cycles.filter(involvesTelnet);
    expect(telnet).toHaveLength(3);
    for (const c of telnet) {
      c.chain.forEach((h, i) => {
        expect(Number.isInteger(h.line) && h.line > 0).toBe(true);
        const next = c.chain[(i + 1) % c.chain.length]!;
        const link = c.links[i]!;
        // The called name: the slot for an upcall, else the last part of the next hop's name.
        const callee = link.kind === 'upcall' ? link.slot! : next.function.slice(next.function.lastIndexOf('.') + 1);
        expect(sourceLine(h), `${h.module}.${h.function} (${h.file}:${h.line}) -> ${next.module}.${next.function}`).toContain(callee);
      });
    }
  });

  it('has no cycle through the receive upcall: the echo is armed in onData, not written there', () => {
    // TCP's onData upcall does reach the server's and the client's handlers...
    const onData = run.graph.edges.filter((e) => e.kind === 'upcall' && e.slot === 'onData' && e.from.module === 'tcp');
    expect([...new Set(onData.map((e) => e.to.module))]).toEqual(expect.arrayContaining(['telnetd', 'telnet']));
    // ...but nothing they call leads back to it in the same task.
    const throughOnData = result.cycles.filter((c) => c.links.some((l) => l.kind === 'upcall' && l.slot === 'onData') && involvesTelnet(c));
    expect(throughOnData).toEqual([]);
    expect(result.cycles.flatMap((c) => c.chain).some((h) => h.module === 'telnet')).toBe(false);
  });
});

describe('why src alone is enough: a module satisfying a layer\'s interface is taken as handed over', () => {
  // The echo fixture without host.ts, the only place it builds its Telnet on its transport.
  const echo = 'test/fixtures/check/echo';
  const files = ['login.ts', 'stream.ts', 'transport.ts', 'output.ts'].map((f) => `${echo}/${f}`);

  it('finds the same cycle with or without the code that assembles the two layers', () => {
    const withHost = checkLoops({ paths: [echo], cwd: root });
    const withoutHost = checkLoops({ paths: files, cwd: root });
    expect(withoutHost.cycles).toHaveLength(1);
    expect(withoutHost.cycles.map((c) => ({ kind: c.kind, chain: c.chain }))).toEqual(withHost.cycles.map((c) => ({ kind: c.kind, chain: c.chain })));
    expect(withoutHost.cycles[0]!.chain.map((h) => `${h.module}.${h.function}`)).toEqual([
      'tcp.connSend',
      'tcp.requestOutput',
      'tcp.output',
      'tcp.upClose',
      'telnetd.onClose',
      'telnetd.goodbye',
      'telnetd.Conn.send',
    ]);
  });
});
