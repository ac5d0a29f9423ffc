/**
 * The checker on the project itself: `src` and `apps`, what `npm run
 * check:loops` (and CI) checks. TCP asks for its output with afterUnwind, so
 * the echo path's cycles through the Telnet server are deferred, and say where.
 * Lines move as the code changes: each hop is asserted by module, function and
 * file, and its line by what the source has there (the call to the next hop).
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkLoops, runCheck, type CheckResult, type Cycle, type Hop } from '../../src/check/index.js';

const root = process.cwd();
const TCP = 'src/layers/tcp/tcp.ts';
const OUTPUT = 'src/layers/tcp/output.ts';
const SERVER = 'src/layers/telnet/server.ts';

let result: CheckResult;
beforeAll(() => {
  result = runCheck({ cwd: root }).result;
}, 120_000);

const names = (c: Cycle): string[] => c.chain.map((h) => `${h.module}.${h.function}`);
const viaTelnetd = (c: Cycle): boolean => c.chain.some((h) => h.module === 'telnetd');
const sourceLine = (h: Hop): string => fs.readFileSync(path.join(root, h.file), 'utf8').split('\n')[h.line - 1] ?? '';
/** src/structures (the threaded proxies) is work in progress: its proxies' methods are not declared entry points yet. */
const wip = (hops: readonly Hop[]): boolean => hops.some((h) => h.file.startsWith('src/structures/'));

describe('checkLoops on the project (src and apps)', () => {
  it('names every module once, with its class and file', () => {
    const mods = result.moduleList.map((m) => `${m.name}:${m.className}:${m.file}`);
    expect(mods).toEqual(expect.arrayContaining([`tcp:Tcp:${TCP}`, `telnetd:TelnetServer:${SERVER}`, 'ip:Ip:src/layers/ip.ts']));
    const tcp = result.moduleList.find((m) => m.className === 'Tcp')!;
    expect(tcp.entries.map((e) => e.name)).toEqual(expect.arrayContaining(['send', 'armSend']));
  });

  it('finds no unsafe cycle, no undeclared cross-module call, no callback registry, no upcall under a lock', () => {
    const show = (c: Cycle): string => `${names(c).join(' -> ')}: ${c.reason}`;
    expect(result.cycles.filter((c) => c.kind === 'unsafe' && !wip(c.chain)).map(show)).toEqual([]);
    expect(result.bypasses.filter((b) => !wip([b.from, b.to]))).toEqual([]);
    expect(result.registries).toEqual([]);
    expect(result.lockedUpcalls).toEqual([]);
  });

  it("classifies the echo path's cycles through the Telnet server as deferred by TCP's afterUnwind", () => {
    const telnet = result.cycles.filter((c) => viaTelnetd(c) && c.chain.some((h) => h.function === 'upSendReady'));
    // Arming again, and sending through the writer TCP lent (when its segment has gone).
    expect(telnet.length).toBeGreaterThanOrEqual(2);
    for (const c of telnet) {
      expect(c.kind).toBe('deferred');
      const u = c.links.findIndex((l) => l.kind === 'afterUnwind');
      expect(u).toBeGreaterThanOrEqual(0);
      expect(c.links[u]!.key).toBe('output');
      expect(c.links[u]!.at).toMatch(/^src\/layers\/tcp\/tcp\.ts:\d+$/);
      expect(c.reason).toContain(`afterUnwind (key 'output', ${c.links[u]!.at})`);
      expect(c.chain.some((h) => h.module === 'tcp' && h.function === 'output' && h.file === OUTPUT)).toBe(true);
    }
    const arm = telnet.find((c) => c.chain[0]!.function === 'connArm')!;
    expect(names(arm)).toEqual([
      'tcp.connArm',
      'tcp.requestOutput',
      'tcp.requestOutput.afterUnwind(cb)',
      'tcp.output',
      'tcp.outputOnce',
      'tcp.armedSegment',
      'tcp.upSendReady',
      'telnetd.onSendReady',
      'telnetd.sendReady',
      'telnetd.TcpConnection.armSend',
    ]);
    expect(arm.chain[0]).toMatchObject({ module: 'tcp', class: 'Tcp', file: TCP });
    expect(arm.chain[arm.chain.length - 1]).toMatchObject({ module: 'telnetd', class: 'TcpConnection', file: 'src/layers/tcp/connection.ts' });
  });

  it('points each hop at the line that makes the call to the next one', () => {
    for (const c of result.cycles.filter(viaTelnetd)) {
      c.chain.forEach((h, i) => {
        const next = c.chain[(i + 1) % c.chain.length]!;
        const link = c.links[i]!;
        if (link.kind === 'onPath') return;
        const fn = next.function;
        const callee = link.kind === 'upcall' ? 'upcall' : link.kind === 'afterUnwind' ? 'afterUnwind' : fn.slice(fn.lastIndexOf('.') + 1);
        expect(sourceLine(h), `${h.module}.${h.function} (${h.file}:${h.line}) -> ${next.module}.${fn}`).toContain(callee);
      });
    }
  });
});

describe('src alone: the layers nobody assembles there are a guessed hand-over, not a cycle', () => {
  it('reports TCP as a guessed StreamTransport for Telnet, and invents no cycle through it', () => {
    const r = checkLoops({ paths: ['src'], cwd: root });
    expect(r.guessedHandOvers).toEqual(expect.arrayContaining([expect.objectContaining({ class: 'Tcp', module: 'tcp', interface: 'StreamTransport' })]));
    expect(r.cycles.filter((c) => c.chain.some((h) => h.module === 'telnetd') && c.chain.some((h) => h.function === 'upSendReady'))).toEqual([]);
  }, 120_000);

  it('finds the echo fixture\'s cycle only with the code that assembles its two layers', () => {
    const echo = 'test/fixtures/check/echo';
    const withHost = checkLoops({ paths: [echo], cwd: root });
    const withoutHost = checkLoops({ paths: ['login.ts', 'stream.ts', 'transport.ts', 'output.ts'].map((f) => `${echo}/${f}`), cwd: root });
    expect(withHost.cycles.map(names)[0]).toEqual(['tcp.connSend', 'tcp.requestOutput', 'tcp.output', 'tcp.upClose', 'telnetd.onClose', 'telnetd.goodbye', 'telnetd.Conn.send']);
    expect(withoutHost.cycles).toEqual([]);
    expect(withoutHost.guessedHandOvers.map((g) => `${g.class} as ${g.interface}`)).toEqual(['Transport as StreamTransport']);
  });
});
