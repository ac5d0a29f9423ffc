/**
 * The checker against the runtime, fixture by fixture (test/fixtures/check/<name>/,
 * small stacks on the real runtime). Each fixture has its expected verdict; each
 * one with a cycle is also RUN, and what the runtime does (RecursionRejected, a
 * deferral, a re-entry it allows, a query refusing to call up, a module's code
 * running in another's activation or overflowing the stack) is turned into the
 * same signals the reported cycles predict. The two sets must be equal: every
 * cycle reported is one the runtime hits, and every one it hits is reported.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chainText, checkLoops, type CheckResult, type Cycle } from '../../src/check/index.js';
import { currentFrame, RecursionRejected, Runtime, TaskExpended, type Frame } from '../../src/core/index.js';
import { Bottom } from '../fixtures/check/indirect/bottom.js';
import { Middle } from '../fixtures/check/indirect/middle.js';
import { Top } from '../fixtures/check/indirect/top.js';
import { wire } from '../fixtures/check/bindings/app.js';
import { Lower as BypassLower } from '../fixtures/check/bypass/lower.js';
import { Upper as BypassUpper } from '../fixtures/check/bypass/upper.js';
import { Lower as ClosureLower } from '../fixtures/check/closure/lower.js';
import { Upper as ClosureUpper } from '../fixtures/check/closure/upper.js';
import { Lower as DeferredLower } from '../fixtures/check/deferred/lower.js';
import { Upper as DeferredUpper } from '../fixtures/check/deferred/upper.js';
import { Lower as DirectLower } from '../fixtures/check/direct/lower.js';
import { Upper as DirectUpper } from '../fixtures/check/direct/upper.js';
import { createHost } from '../fixtures/check/echo/host.js';
import { Conn } from '../fixtures/check/echo/transport.js';
import { startEcho } from '../fixtures/check/implements/echo.js';
import { Client } from '../fixtures/check/mixed/client.js';
import { Link } from '../fixtures/check/mixed/link.js';
import { Shell } from '../fixtures/check/reentrant/shell.js';
import { Transport } from '../fixtures/check/reentrant/transport.js';

const root = process.cwd();
const dir = (c: string): string => `test/fixtures/check/${c}`;

/** What the runtime shows at the place a cycle closes. */
type SignalKind = 'rejected' | 'deferred' | 'reentered' | 'unguarded' | 'query-upcall';
const sig = (kind: SignalKind, module: string, entry = ''): string => `${kind} ${module}${entry !== '' ? `.${entry}` : ''}`;

interface Verdict {
  modules: number;
  /** `kind: a.f -> b.g -> a.f` */
  cycles: string[];
  bypasses?: string[];
  registries?: string[];
  guesses?: string[];
}

interface Fixture {
  verdict: Verdict;
  /** Ways to drive the stack into its loops (each on a fresh runtime). */
  probes?: ((rt: Runtime) => unknown)[];
}

async function runModule(name: string, file = 'upper.ts'): Promise<(rt: Runtime) => unknown> {
  const m = (await import(`../fixtures/check/${name}/${file.replace(/\.ts$/, '.js')}`)) as { run: (rt: Runtime) => unknown };
  return m.run;
}

const bytes = (n: number): Uint8Array => new Uint8Array(n);

const SUITE: Record<string, Fixture> = {
  // ---- from the first suite --------------------------------------------------------------
  direct: {
    verdict: { modules: 2, cycles: ['unsafe: lower.send -> upper.onData -> lower.send'] },
    probes: [(rt) => { const l = new DirectLower(rt); new DirectUpper(rt, l); l.send(bytes(2)); }],
  },
  indirect: {
    verdict: { modules: 3, cycles: ['unsafe: bottom.transmit -> middle.onPacket -> middle.input -> top.onMessage -> top.reply -> middle.send -> bottom.transmit'] },
    probes: [(rt) => { const b = new Bottom(rt); const m = new Middle(rt, b); new Top(rt, m); m.send(bytes(3)); }],
  },
  closure: {
    verdict: { modules: 2, cycles: ['unsafe: lower.send -> upper.onSendReady -> upper.pending -> lower.send'] },
    probes: [(rt) => { const l = new ClosureLower(rt); new ClosureUpper(rt, l); l.input(bytes(2)); }],
  },
  implements: {
    verdict: { modules: 1, cycles: ['unsafe: lower.send -> echo.EchoHandlers.onData -> lower.send'] },
    probes: [(rt) => startEcho(rt).send(bytes(2))],
  },
  deferred: {
    verdict: { modules: 2, cycles: ['deferred: lower.send -> upper.onData -> lower.send'] },
    probes: [(rt) => { const l = new DeferredLower(rt); new DeferredUpper(rt, l); l.send(bytes(3)); }],
  },
  reentrant: {
    verdict: { modules: 2, cycles: ['reentrant: transport.send -> transport.output -> shell.onSendReady -> shell.flush -> transport.send'] },
    probes: [(rt) => { const t = new Transport(rt); new Shell(rt, t); t.receive(bytes(2)); }],
  },
  nocycle: { verdict: { modules: 2, cycles: [] } },
  bypass: {
    verdict: { modules: 2, cycles: ['unsafe: lower.flush -> upper.handle -> lower.flush'], bypasses: ['upper.handle -> lower.flush'] },
    probes: [(rt) => { const l = new BypassLower(rt); new BypassUpper(rt, l); l.flush(bytes(4)); }],
  },
  mixed: {
    verdict: {
      modules: 2,
      cycles: [
        'unsafe: link.reset -> link.loop -> client.constructor.onFrame -> client.onFrame -> link.reset',
        'deferred: link.flush -> link.loop -> client.constructor.onFrame -> client.onFrame -> link.flush',
        'reentrant: link.send -> link.loop -> client.constructor.onFrame -> client.onFrame -> link.send',
      ],
    },
    probes: [200, 50, 5].map((n) => (rt: Runtime) => { const l = new Link(rt); new Client(rt, l); l.send(bytes(n)); }),
  },
  echo: {
    verdict: {
      modules: 2,
      cycles: [
        'reentrant: tcp.connSend -> tcp.requestOutput -> tcp.output -> tcp.upClose -> telnetd.onClose -> telnetd.goodbye -> telnetd.Conn.send -> tcp.connSend',
        // Not a cycle of functions: TCP is still on the path (accept) when the handler binds.
        'reentrant: tcp.connBind -> tcp.accept -> telnetd.onAccept -> telnetd.accept -> telnetd.Conn.bind -> tcp.connBind',
      ],
    },
    probes: [
      (rt) => {
        const { tcp } = createHost(rt);
        const c = new Conn(tcp);
        tcp.accept(c);
        c.finAcked = true;
        tcp.startTask('frame', () => tcp.requestOutput(c));
      },
    ],
  },
  bindings: {
    verdict: {
      modules: 1,
      cycles: [
        'unsafe: low.poke -> low.doPush -> acceptor.onData -> low.poke',
        'deferred: low.end -> spready.onEnd -> low.end',
        'reentrant: low.push -> low.doPush -> shorty.onData -> low.push',
      ],
    },
    probes: [(rt) => wire(rt).push(2), (rt) => wire(rt).end(), (rt) => wire(rt).poke(1)],
  },
  locked: { verdict: { modules: 1, cycles: [] } },

  // ---- handlers kept in containers and fields ---------------------------------------------
  'map-handler': { verdict: { modules: 2, cycles: ['unsafe: lower.send -> upper.onData -> upper.react -> upper.constructor.set(cb) -> lower.send'] } },
  'array-handlers': { verdict: { modules: 2, cycles: ['unsafe: lower.send -> upper.onData -> upper.constructor.push(cb) -> lower.send'] } },
  'set-handlers': {
    verdict: { modules: 2, cycles: ['deferred: lower.send -> upper.onData -> upper.onData.forEach(cb) -> upper.constructor.add(cb) -> lower.send'] },
  },
  'field-handler': { verdict: { modules: 2, cycles: ['reentrant: lower.send -> upper.onData -> upper.deliver -> lower.send'] } },
  // ---- closures, helpers, generics ----------------------------------------------------------
  'callback-param': { verdict: { modules: 2, cycles: ['unsafe: lower.send -> upper.onData -> upper.attempt -> upper.onData.attempt(cb) -> lower.send'] } },
  generics: { verdict: { modules: 2, cycles: ['unsafe: lower.send -> upper.onData -> upper.Relay.push -> upper.constructor.Relay(cb) -> lower.send'] } },
  'bound-method': { verdict: { modules: 2, cycles: ['unsafe: lower.send -> upper.handle -> lower.send'] } },
  // ---- async: the runtime's path unwinds at an await ----------------------------------------
  'async-before': { verdict: { modules: 2, cycles: ['unsafe: lower.send -> upper.onData -> lower.send'] } },
  'async-after': { verdict: { modules: 2, cycles: [] } },
  'conditional-await': { verdict: { modules: 2, cycles: ['unsafe: lower.send -> upper.onData -> lower.send'] } },
  // ---- types: several implementations, inheritance, re-exports ------------------------------
  'multi-impl': { verdict: { modules: 4, cycles: ['unsafe: lower.send -> upper.onData -> echo.put -> lower.send'] } },
  inheritance: { verdict: { modules: 3, cycles: ['unsafe: lower.send -> relay.onData -> relay.handle -> lower.send'] } },
  reexport: { verdict: { modules: 2, cycles: ['unsafe: lower.send -> upper.onData -> lower.send'] } },
  // ---- what the runtime is, and what it cannot see -------------------------------------------
  confusable: { verdict: { modules: 2, cycles: ['unsafe: lower.send -> upper.onData -> lower.send'] } },
  registry: {
    verdict: {
      modules: 2,
      cycles: ['unsafe: lower.send -> upper.constructor.subscribe(cb) -> lower.send'],
      bypasses: ['lower.send -> upper.constructor.subscribe(cb)'],
      registries: ['lower.subscribers'],
    },
  },
  'union-policy': { verdict: { modules: 2, cycles: ['unsafe: lower.send -> upper.onData -> lower.send'] } },
  guessed: { verdict: { modules: 2, cycles: [], guesses: ['Loopback as Transport'] } },
  // ---- deferral and queries -----------------------------------------------------------------
  'after-unwind': { verdict: { modules: 2, cycles: ['deferred: lower.send -> lower.send.afterUnwind(cb) -> lower.output -> upper.onData -> lower.send'] } },
  // The hop is named after the field that keeps the function.
  'cached-callback': { verdict: { modules: 2, cycles: ['deferred: lower.send -> lower.send.run -> lower.output -> upper.onData -> lower.send'] } },
  query: { verdict: { modules: 2, cycles: [] } },
  'query-upcall': { verdict: { modules: 2, cycles: ['unsafe: lower.peek -> upper.onData -> lower.peek'] } },
};

/** Fixtures whose upper.ts (or the file named) exports run(rt). */
const RUNNABLE: Record<string, string> = {
  'map-handler': 'upper.ts',
  'array-handlers': 'upper.ts',
  'set-handlers': 'upper.ts',
  'field-handler': 'upper.ts',
  'callback-param': 'upper.ts',
  generics: 'upper.ts',
  'bound-method': 'upper.ts',
  'async-before': 'upper.ts',
  'async-after': 'upper.ts',
  'conditional-await': 'upper.ts',
  'multi-impl': 'upper.ts',
  inheritance: 'upper.ts',
  reexport: 'upper.ts',
  confusable: 'upper.ts',
  registry: 'upper.ts',
  'union-policy': 'upper.ts',
  'after-unwind': 'upper.ts',
  'cached-callback': 'upper.ts',
  'query-upcall': 'upper.ts',
};

const results = new Map<string, CheckResult>();
function check(c: string): CheckResult {
  let r = results.get(c);
  if (r === undefined) results.set(c, (r = checkLoops({ paths: [dir(c)], cwd: root })));
  return r;
}

/**
 * The runtime signals each reported cycle predicts, at the place it closes: the
 * one that decides its kind, and for a cycle deferred by afterUnwind, the
 * re-entries its 'reentrant' entries allow before the deferral.
 */
function predicted(c: Cycle): string[] {
  const main = decisive(c);
  if (c.kind !== 'deferred' || !c.links.some((l) => l.kind === 'afterUnwind')) return [main];
  const more = c.links.flatMap((l, i) => (l.policy === 'reentrant' ? [sig('reentered', c.chain[(i + 1) % c.chain.length]!.module, l.entry)] : []));
  return [main, ...more];
}

function decisive(c: Cycle): string {
  const next = (i: number) => c.chain[(i + 1) % c.chain.length]!;
  const find = (p: (l: Cycle['links'][number]) => boolean): number => c.links.findIndex(p);
  if (c.kind === 'deferred') {
    const u = find((l) => l.kind === 'afterUnwind');
    if (u >= 0) return sig('deferred', c.chain[u]!.module, c.links[u]!.key);
    const d = find((l) => l.policy === 'defer');
    return sig('deferred', next(d).module, c.links[d]!.entry);
  }
  if (c.kind === 'reentrant') {
    const r = find((l) => l.policy === 'reentrant');
    return sig('reentered', next(r).module, c.links[r]!.entry);
  }
  const q = find((l) => l.policy === 'query');
  if (q >= 0) return sig('query-upcall', next(q).module);
  const b = find((l) => l.kind === 'bypass');
  if (b >= 0) return sig('unguarded', '*');
  const r = find((l) => l.policy === 'reject');
  return sig('rejected', next(r).module, c.links[r]!.entry);
}

/** The module has an activation still running on the path (what the runtime's guard looks at). */
function onPath(top: Frame | undefined, module: string): boolean {
  for (let f = top?.parent ?? null; f !== null; f = f.parent) if (f.active && f.module.name === module) return true;
  return false;
}

/** Signals from one run: events as they are emitted (the path is the caller's then), and the failure. */
async function observe(drive: (rt: Runtime) => unknown): Promise<Set<string>> {
  const rt = new Runtime({ name: 'fixture' });
  const seen = new Set<string>();
  const failure = (text: string): void => {
    const rej = /recursion rejected: '([^.']+)\.([^']+)'/.exec(text);
    if (rej !== null) seen.add(sig('rejected', rej[1]!, rej[2]!));
    if (text.includes('Maximum call stack')) seen.add(sig('unguarded', '*'));
    const q = /'([^']+)': upcall '[^']+' inside a query/.exec(text);
    if (q !== null) seen.add(sig('query-upcall', q[1]!));
  };
  const sub = rt.events.subscribe((e) => {
    const here = currentFrame();
    if (e.kind === 'deferral') seen.add(sig('deferred', e.module, e.entry));
    else if (e.kind === 'enter' && e.query !== true && onPath(here, e.module)) seen.add(sig('reentered', e.module, e.entry));
    // A module's code making an upcall from inside another module's activation: no boundary was crossed on the way in.
    else if (e.kind === 'upcall' && here !== undefined && here.module.name !== e.from) seen.add(sig('unguarded', '*'));
    else if (e.kind === 'task-end' && e.outcome === 'expended' && e.reason !== undefined) failure(e.reason);
  });
  try {
    await drive(rt);
  } catch (err) {
    const cause = err instanceof TaskExpended ? err.cause : err;
    if (cause instanceof RecursionRejected) seen.add(sig('rejected', cause.module, cause.entry));
    else if (cause instanceof Error) failure(cause.message);
    else throw err;
  }
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  (rt.clock as { runAll?: () => void }).runAll?.();
  sub.unsubscribe();
  return seen;
}

describe('the fixture suite: each stack and its verdict', () => {
  it('has at least 25 fixtures, every directory with a verdict', () => {
    const dirs = fs.readdirSync(path.join(root, 'test/fixtures/check')).filter((d) => fs.statSync(path.join(root, dir(d))).isDirectory());
    expect(dirs.length).toBeGreaterThanOrEqual(25);
    expect(dirs.sort()).toEqual(Object.keys(SUITE).sort());
  });

  for (const [name, fx] of Object.entries(SUITE)) {
    it(`${name}: ${fx.verdict.cycles.length === 0 ? 'no cycle' : fx.verdict.cycles.map((c) => c.slice(0, c.indexOf(':'))).join(', ')}`, () => {
      const r = check(name);
      expect(r.modules).toBe(fx.verdict.modules);
      expect(r.cycles.map((c) => `${c.kind}: ${chainText(c)}`)).toEqual(fx.verdict.cycles);
      expect(r.bypasses.map((b) => `${b.from.module}.${b.from.function} -> ${b.to.module}.${b.to.function}`)).toEqual(fx.verdict.bypasses ?? []);
      expect(r.registries.map((g) => `${g.module}.${g.field}`)).toEqual(fx.verdict.registries ?? []);
      expect(r.guessedHandOvers.map((g) => `${g.class} as ${g.interface}`)).toEqual(fx.verdict.guesses ?? []);
      expect(r.notes).toEqual([]);
      // Each hop points at the line that makes the upcall, the downcall or the afterUnwind to the next hop.
      for (const c of r.cycles) {
        c.chain.forEach((h, i) => {
          const next = c.chain[(i + 1) % c.chain.length]!;
          const link = c.links[i]!;
          const text = fs.readFileSync(path.join(root, h.file), 'utf8').split('\n')[h.line - 1] ?? '';
          const where = `${h.module}.${h.function} (${h.file}:${h.line}) -> ${next.module}.${next.function}`;
          if (link.kind === 'upcall') expect(text, where).toMatch(/upcall/);
          if (link.kind === 'afterUnwind') expect(text, where).toContain('afterUnwind(');
          if (link.kind === 'downcall') expect(text, where).toContain(next.function.slice(next.function.lastIndexOf('.') + 1));
        });
      }
    });
  }
});

describe('every cycle reported is one the runtime hits, and every one it hits is reported', () => {
  for (const [name, fx] of Object.entries(SUITE)) {
    const runnable = RUNNABLE[name];
    if (fx.probes === undefined && runnable === undefined) continue;
    it(`${name}: ${fx.verdict.cycles.length === 0 ? 'runs without a guard firing' : 'the runtime fires where the checker says'}`, async () => {
      const probes = fx.probes ?? [await runModule(name, runnable)];
      const observed = new Set<string>();
      for (const p of probes) for (const s of await observe(p)) observed.add(s);
      const expected = new Set(check(name).cycles.flatMap(predicted));
      expect([...observed].sort()).toEqual([...expected].sort());
    });
  }
});

describe('what the findings say', () => {
  it("a union-typed policy is taken as its strictest member, and the reason says so", () => {
    const r = check('union-policy');
    expect(r.cycles[0]!.reason).toContain("'reentrant' | 'reject' (taken as 'reject', the strictest)");
    expect(r.moduleList.find((m) => m.name === 'lower')!.entries).toContainEqual({ name: 'send', policy: 'reject', declared: "'reentrant' | 'reject'" });
  });

  it('a cycle through afterUnwind is deferred, and the reason names the afterUnwind site', () => {
    const c = check('after-unwind').cycles[0]!;
    const file = `${dir('after-unwind')}/lower.ts`;
    const line = fs.readFileSync(path.join(root, file), 'utf8').split('\n').findIndex((l) => l.includes('this.afterUnwind(')) + 1;
    expect(c.reason).toContain(`afterUnwind (key 'output', ${file}:${line})`);
    expect(c.links[0]).toEqual({ kind: 'afterUnwind', key: 'output', at: `${file}:${line}` });
  });

  it('a registry of callbacks is reported where a client callback is stored, and its cycle is unsafe', () => {
    const r = check('registry');
    const file = `${dir('registry')}/lower.ts`;
    const line = fs.readFileSync(path.join(root, file), 'utf8').split('\n').findIndex((l) => l.includes('// registry:subscribers')) + 1;
    expect(r.registries).toEqual([{ module: 'lower', class: 'Lower', file, line, field: 'subscribers', function: 'subscribe' }]);
    expect(r.cycles[0]!.reason).toContain('directly instead of through an upcall');
  });

  it('a user class named Module, with entry and upcall methods, is not the runtime and its file is analysed', () => {
    const r = check('confusable');
    expect(r.moduleList.map((m) => `${m.name}:${m.className}`).sort()).toEqual(['lower:Lower', 'upper:Upper']);
    expect(r.files).toBe(2);
  });

  it('a guessed hand-over is a finding of its own, never a cycle', () => {
    const r = check('guessed');
    expect(r.cycles).toEqual([]);
    expect(r.guessedHandOvers).toEqual([
      expect.objectContaining({ interface: 'Transport', class: 'Loopback', classFile: `${dir('guessed')}/upper.ts` }),
    ]);
  });

  it('hops name the module and the class', () => {
    const c = check('inheritance').cycles[0]!;
    expect(c.chain.map((h) => `${h.module}/${h.class ?? '-'}`)).toEqual(['lower/Lower', 'relay/Relay', 'relay/EchoRelay']);
    const g = check('generics').cycles[0]!;
    expect(g.chain.map((h) => `${h.module}/${h.class ?? '-'}`)).toEqual(['lower/Lower', 'upper/Upper', 'upper/Relay', 'upper/Upper']);
  });
});
