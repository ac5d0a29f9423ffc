/**
 * The loop checker on small fixture stacks (test/fixtures/check/<case>/), each
 * importing the real runtime. Expected lines are found from `// hop:<name>`
 * markers in the fixtures, so the assertions stay exact when a fixture is edited.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLoops, type CheckResult, type Hop } from '../../src/check/index.js';

const root = process.cwd();
const dir = (c: string): string => `test/fixtures/check/${c}`;

function lineOf(file: string, marker: string): number {
  const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
  const i = lines.findIndex((l) => l.trimEnd().endsWith(`// ${marker}`));
  if (i < 0) throw new Error(`no '// ${marker}' in ${file}`);
  return i + 1;
}

/** A hop whose line is the one marked `// hop:<marker>` (default: the function name). */
function hop(c: string, file: string, module: string, fn: string, marker = fn): Hop {
  const f = `${dir(c)}/${file}`;
  return { module, function: fn, file: f, line: lineOf(f, `hop:${marker}`) };
}

const results = new Map<string, CheckResult>();
function check(c: string): CheckResult {
  let r = results.get(c);
  if (r === undefined) results.set(c, (r = checkLoops({ paths: [dir(c)], cwd: root })));
  return r;
}

/** Cycles as kind and chain; the class of each hop is checked in fixtures.test.ts. */
const found = (r: CheckResult) => r.cycles.map((c) => ({ kind: c.kind, chain: c.chain.map(({ class: _class, ...h }) => h) }));

describe('checkLoops on fixture stacks', () => {
  it('direct: a handler calls back down into the entry that upcalled it (reject: unsafe)', () => {
    const r = check('direct');
    expect(r.modules).toBe(2);
    expect(found(r)).toEqual([
      { kind: 'unsafe', chain: [hop('direct', 'lower.ts', 'lower', 'send'), hop('direct', 'upper.ts', 'upper', 'onData')] },
    ]);
    expect(r.cycles[0]!.links).toEqual([
      { kind: 'upcall', slot: 'onData' },
      { kind: 'downcall', entry: 'send', policy: 'reject' },
    ]);
    expect(r.cycles[0]!.reason).toContain("lower.send is declared 'reject'");
    expect(r.lockedUpcalls).toEqual([]);
  });

  it('indirect: through two modules below the handler, a rejecting entry on the way (unsafe)', () => {
    const c = 'indirect';
    expect(found(check(c))).toEqual([
      {
        kind: 'unsafe',
        chain: [
          hop(c, 'bottom.ts', 'bottom', 'transmit'),
          hop(c, 'middle.ts', 'middle', 'onPacket'),
          hop(c, 'middle.ts', 'middle', 'input'),
          hop(c, 'top.ts', 'top', 'onMessage'),
          hop(c, 'top.ts', 'top', 'reply'),
          hop(c, 'middle.ts', 'middle', 'send'),
        ],
      },
    ]);
    expect(check(c).cycles[0]!.links.map((l) => l.kind)).toEqual(['upcall', 'call', 'upcall', 'call', 'downcall', 'downcall']);
  });

  it('closure: a closure stored by one handler and called by another in the same task', () => {
    const c = 'closure';
    expect(found(check(c))).toEqual([
      {
        kind: 'unsafe',
        chain: [hop(c, 'lower.ts', 'lower', 'send'), hop(c, 'upper.ts', 'upper', 'onSendReady'), hop(c, 'upper.ts', 'upper', 'pending')],
      },
    ]);
  });

  it('implements: the handler is a method of a class implementing the slot type, bound for an app module', () => {
    const c = 'implements';
    expect(found(check(c))).toEqual([
      { kind: 'unsafe', chain: [hop(c, 'lower.ts', 'lower', 'send'), hop(c, 'echo.ts', 'echo', 'EchoHandlers.onData', 'onData')] },
    ]);
    // The application module comes from rt.app('echo'); only the layer is a module class.
    expect(check(c).modules).toBe(1);
  });

  it("deferred: the same loop through an entry declared 'defer'", () => {
    const c = 'deferred';
    expect(found(check(c))).toEqual([
      { kind: 'deferred', chain: [hop(c, 'lower.ts', 'lower', 'send'), hop(c, 'upper.ts', 'upper', 'onData')] },
    ]);
  });

  it("reentrant: handler -> send -> private output -> upcall onSendReady -> handler, send declared 'reentrant'", () => {
    const c = 'reentrant';
    expect(found(check(c))).toEqual([
      {
        kind: 'reentrant',
        chain: [
          hop(c, 'transport.ts', 'transport', 'send'),
          hop(c, 'transport.ts', 'transport', 'output'),
          hop(c, 'shell.ts', 'shell', 'onSendReady'),
          hop(c, 'shell.ts', 'shell', 'flush'),
        ],
      },
    ]);
  });

  it('nocycle: downcalls from handlers, a timer and code after an await are not loops', () => {
    const r = check('nocycle');
    expect(r.modules).toBe(2);
    expect(r.edgeCounts.upcall).toBe(1);
    expect(r.edgeCounts.downcall).toBeGreaterThanOrEqual(2);
    expect(r.cycles).toEqual([]);
    expect(r.lockedUpcalls).toEqual([]);
    expect(r.notes).toEqual([]);
  });

  it('bypass: calling a public method that is not an entry point is unsafe whatever the policies', () => {
    const c = 'bypass';
    const r = check(c);
    expect(found(r)).toEqual([{ kind: 'unsafe', chain: [hop(c, 'lower.ts', 'lower', 'flush'), hop(c, 'upper.ts', 'upper', 'handle')] }]);
    expect(r.cycles[0]!.links[1]).toEqual({ kind: 'bypass' });
    expect(r.cycles[0]!.reason).toContain('not an entry point');
  });

  it('mixed: one handler, three entries: sorted unsafe, deferred, reentrant', () => {
    const c = 'mixed';
    const handler = hop(c, 'client.ts', 'client', 'constructor.onFrame', 'handler');
    const loop = hop(c, 'link.ts', 'link', 'loop');
    const r = check(c);
    expect(found(r)).toEqual([
      { kind: 'unsafe', chain: [hop(c, 'link.ts', 'link', 'reset'), loop, handler, hop(c, 'client.ts', 'client', 'onFrame', 'reset')] },
      { kind: 'deferred', chain: [hop(c, 'link.ts', 'link', 'flush'), loop, handler, hop(c, 'client.ts', 'client', 'onFrame', 'flush')] },
      { kind: 'reentrant', chain: [hop(c, 'link.ts', 'link', 'send'), loop, handler, hop(c, 'client.ts', 'client', 'onFrame', 'send')] },
    ]);
    expect(r.moduleList.find((m) => m.name === 'link')!.entries).toEqual([
      { name: 'attach', policy: 'reject' },
      { name: 'send', policy: 'reentrant' },
      { name: 'flush', policy: 'defer' },
      { name: 'reset', policy: 'reject' },
    ]);
  });

  it('echo: slot interfaces of the layer above reach the transport through structural typing', () => {
    // Login binds StreamSlots on a StreamConnection; the transport upcalls TransportSlots on Conn.
    // The only link is `new Login(rt, tcp)` in host.ts, Transport passed as a StreamTransport.
    const c = 'echo';
    const cycles = found(check(c));
    // The second: TCP still on the path (accept) when the handler binds; fixtures.test.ts checks it.
    expect(cycles.map((x) => x.chain[0]!.function)).toEqual(['connSend', 'connBind']);
    expect(cycles.slice(0, 1)).toEqual([
      {
        kind: 'reentrant',
        chain: [
          hop(c, 'transport.ts', 'tcp', 'connSend'),
          hop(c, 'transport.ts', 'tcp', 'requestOutput'),
          hop(c, 'output.ts', 'tcp', 'output'),
          hop(c, 'transport.ts', 'tcp', 'upClose'),
          hop(c, 'login.ts', 'telnetd', 'onClose'),
          hop(c, 'login.ts', 'telnetd', 'goodbye'),
          // The connection's method runs in the caller's activation: telnetd's, until it enters tcp.
          hop(c, 'transport.ts', 'telnetd', 'Conn.send'),
        ],
      },
    ]);
  });

  it('bindings: upcallAll, a typed slot constant, a wrapped method, shorthand and spread handlers, handlers returned by a handler', () => {
    const c = 'bindings';
    const doPush = hop(c, 'low.ts', 'low', 'doPush');
    expect(found(check(c))).toEqual([
      { kind: 'unsafe', chain: [hop(c, 'low.ts', 'low', 'poke'), doPush, hop(c, 'app.ts', 'acceptor', 'onData', 'accepted')] },
      { kind: 'deferred', chain: [hop(c, 'low.ts', 'low', 'end'), hop(c, 'app.ts', 'spready', 'onEnd')] },
      { kind: 'reentrant', chain: [hop(c, 'low.ts', 'low', 'push'), doPush, hop(c, 'app.ts', 'shorty', 'onData')] },
    ]);
  });

  it('locked: upcalls inside locked() (directly or through a method) and between acquire and release', () => {
    const c = 'locked';
    const file = `${dir(c)}/lower.ts`;
    const r = check(c);
    expect(r.cycles).toEqual([]);
    expect(r.lockedUpcalls).toEqual([
      {
        module: 'lower',
        function: 'input',
        file,
        line: lineOf(file, 'lock:input'),
        slot: 'onData',
        upcall: { module: 'lower', function: 'deliver', file, line: lineOf(file, 'upcall:deliver') },
        path: [
          { module: 'lower', function: 'input', file, line: lineOf(file, 'lock:input') },
          { module: 'lower', function: 'input.locked(cb)', file, line: lineOf(file, 'hop:input') },
          { module: 'lower', function: 'deliver', file, line: lineOf(file, 'upcall:deliver') },
        ],
      },
      {
        module: 'lower',
        function: 'close',
        file,
        line: lineOf(file, 'lock:close'),
        slot: 'onClose',
        upcall: { module: 'lower', function: 'close', file, line: lineOf(file, 'upcall:close') },
        path: [{ module: 'lower', function: 'close', file, line: lineOf(file, 'upcall:close') }],
      },
    ]);
  });

  it('stops at the cycle cap with a note', () => {
    const r = checkLoops({ paths: [dir('mixed')], cwd: root, limits: { maxCycles: 1 } });
    expect(r.truncated).toBe(true);
    expect(r.cycles).toHaveLength(1);
    expect(r.notes.join('\n')).toContain('cycle enumeration stopped');
  });
});
