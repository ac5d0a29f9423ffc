/**
 * Human and JSON renderings of a check. The JSON keeps the documented shape:
 * `{"modules":N,"edges":N,"cycles":[{"kind","reason","chain":[{module,class,function,file,line}]}],
 * "lockedUpcalls":[...],"bypasses":[{from,to}],"registries":[...],"guessedHandOvers":[...]}`
 * (`class` is absent for a plain function).
 */
import { chainText } from './classify.js';
import type { BypassCall, CallbackRegistry, CheckResult, Cycle, CycleKind, GuessedHandOver, Hop, Link, LockedUpcall } from './model.js';

export interface JsonReport {
  modules: number;
  edges: number;
  cycles: { kind: CycleKind; reason: string; chain: Hop[] }[];
  lockedUpcalls: { module: string; function: string; file: string; line: number; slot: string; upcall: Hop }[];
  bypasses: BypassCall[];
  registries: CallbackRegistry[];
  guessedHandOvers: GuessedHandOver[];
}

const hop = (h: Hop): Hop =>
  h.class !== undefined
    ? { module: h.module, class: h.class, function: h.function, file: h.file, line: h.line }
    : { module: h.module, function: h.function, file: h.file, line: h.line };

export function toJson(r: CheckResult): JsonReport {
  return {
    modules: r.modules,
    edges: r.edges,
    cycles: r.cycles.map((c) => ({ kind: c.kind, reason: c.reason, chain: c.chain.map(hop) })),
    lockedUpcalls: r.lockedUpcalls.map((l) => ({ module: l.module, function: l.function, file: l.file, line: l.line, slot: l.slot, upcall: hop(l.upcall) })),
    bypasses: r.bypasses.map((b) => ({ from: hop(b.from), to: hop(b.to) })),
    registries: r.registries,
    guessedHandOvers: r.guessedHandOvers,
  };
}

export function unsafeCount(r: CheckResult): number {
  return r.cycles.filter((c) => c.kind === 'unsafe').length;
}

/** What makes the check fail (exit 1): unsafe cycles, undeclared cross-module calls, hand-made callback registries. */
export function failureCount(r: CheckResult): number {
  return unsafeCount(r) + r.bypasses.length + r.registries.length;
}

/** `tcp.connArm (Tcp)`: the module, and the class when it is not the module's own name. */
function who(h: Hop): string {
  return `${h.module}.${h.function}`;
}

function place(h: Hop): string {
  return `${h.class !== undefined ? `${h.class}, ` : ''}${h.file}:${h.line}`;
}

function describeLink(l: Link, next: Hop): string {
  const target = `${next.module}.${next.function}`;
  switch (l.kind) {
    case 'upcall':
      return `upcall ${l.slot} -> ${target}`;
    case 'downcall':
      return `calls ${target} (entry '${l.entry}', ${l.policy})`;
    case 'bypass':
      return `calls ${target} (not an entry point)`;
    case 'onPath':
      return `re-entered while ${target} is on the task's path`;
    case 'afterUnwind':
      return `afterUnwind '${l.key}' -> ${target} (runs when the activation unwinds)`;
    default:
      return `calls ${target}`;
  }
}

function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

function cycleLines(c: Cycle, index: number): string[] {
  const names = c.chain.map(who);
  const places = c.chain.map(place);
  const w1 = Math.max(...names.map((s) => s.length));
  const w2 = Math.max(...places.map((s) => s.length));
  const out = [`  ${index}. ${chainText(c)}`];
  for (let i = 0; i < c.chain.length; i++) {
    const next = c.chain[(i + 1) % c.chain.length]!;
    out.push(`     ${names[i]!.padEnd(w1)}  ${places[i]!.padEnd(w2)}  ${describeLink(c.links[i]!, next)}`);
  }
  out.push(`     why: ${c.reason}`);
  return out;
}

function lockedLines(l: LockedUpcall, index: number): string[] {
  const out = [`  ${index}. ${l.module}.${l.function} (${l.file}:${l.line}) upcalls ${l.slot} while holding its lock`];
  for (const h of l.path) out.push(`     ${who(h)}  ${place(h)}`);
  return out;
}

function bypassLines(b: BypassCall, index: number): string[] {
  return [`  ${index}. ${who(b.from)} (${place(b.from)}) calls ${who(b.to)} (${place(b.to)}), which is not a declared entry point or query`];
}

function registryLines(g: CallbackRegistry, index: number): string[] {
  return [
    `  ${index}. ${g.module} (${g.class}, ${g.file}:${g.line}) keeps its clients' callbacks in '${g.field}' (stored by ${g.function}): ` +
      `calling them is not an upcall, so the runtime never sees the client's module; bind them through a SlotTable`,
  ];
}

function guessLines(g: GuessedHandOver, index: number): string[] {
  return [`  ${index}. ${g.class}${g.module !== undefined ? ` (module ${g.module})` : ''} (${g.classFile}:${g.classLine}) as ${g.interface} (${g.file}:${g.line}): ${g.why}`];
}

const HEADINGS: Record<CycleKind, string> = {
  unsafe: 'unsafe cycles (errors: nothing allows the re-entry)',
  deferred: 'deferred cycles (allowed: a deferral cuts the recursion)',
  reentrant: 'reentrant cycles (allowed: the re-entered entry points are declared re-entrant)',
};

export function formatText(r: CheckResult, opts: { verbose?: boolean } = {}): string {
  const lines: string[] = [];
  const ec = r.edgeCounts;
  lines.push(
    `check-loops: ${plural(r.files, 'file')}, ${plural(r.modules, 'module')}, ${plural(r.edges, 'edge')} ` +
      `(${plural(ec.call, 'call')}, ${plural(ec.downcall, 'downcall')}, ${plural(ec.upcall, 'upcall')}, ${plural(ec.bypass, 'bypass', 'bypasses')}, ` +
      `${plural(ec.afterUnwind, 'afterUnwind')})`,
  );
  const byKind = (k: CycleKind): Cycle[] => r.cycles.filter((c) => c.kind === k);
  const u = byKind('unsafe');
  const d = byKind('deferred');
  const re = byKind('reentrant');
  lines.push(
    `cycles crossing a module boundary: ${r.cycles.length} (${u.length} unsafe, ${d.length} deferred, ${re.length} reentrant); ` +
      `upcalls under a lock: ${r.lockedUpcalls.length}; undeclared cross-module calls: ${r.bypasses.length}; ` +
      `callback registries: ${r.registries.length}; guessed hand-overs: ${r.guessedHandOvers.length}`,
  );
  if (opts.verbose === true) {
    lines.push('', 'modules:');
    for (const m of r.moduleList) {
      const entries = m.entries.map((e) => `${e.name} (${e.policy})`).join(', ');
      lines.push(`  ${m.name} (class ${m.className}, ${m.file}:${m.line})${entries !== '' ? `: ${entries}` : ''}`);
      for (const e of m.entries) if (e.declared !== undefined) lines.push(`    ${e.name}: policy ${e.declared}, taken as '${e.policy}' (the strictest)`);
    }
  }
  let n = 0;
  for (const [kind, list] of [
    ['unsafe', u],
    ['deferred', d],
    ['reentrant', re],
  ] as const) {
    if (list.length === 0) continue;
    lines.push('', `${HEADINGS[kind]}: ${list.length}`);
    for (const c of list) lines.push(...cycleLines(c, ++n));
  }
  if (r.lockedUpcalls.length > 0) {
    lines.push('', `upcalls made while holding the module's lock (rule 2; the runtime throws LayerViolation): ${r.lockedUpcalls.length}`);
    r.lockedUpcalls.forEach((l, i) => lines.push(...lockedLines(l, i + 1)));
  }
  if (r.bypasses.length > 0) {
    lines.push('', `undeclared cross-module calls (errors: the runtime does not see the boundary): ${r.bypasses.length}`);
    r.bypasses.forEach((b, i) => lines.push(...bypassLines(b, i + 1)));
  }
  if (r.registries.length > 0) {
    lines.push('', `hand-made callback registries (errors: invisible to the recursion guard): ${r.registries.length}`);
    r.registries.forEach((g, i) => lines.push(...registryLines(g, i + 1)));
  }
  if (r.guessedHandOvers.length > 0) {
    lines.push('', `guessed hand-overs (not followed: nothing analysed hands the class over as the interface): ${r.guessedHandOvers.length}`);
    r.guessedHandOvers.forEach((g, i) => lines.push(...guessLines(g, i + 1)));
  }
  if (r.notes.length > 0) {
    lines.push('', 'notes:');
    for (const note of r.notes) lines.push(`  ${note}`);
  }
  const failures = [
    u.length > 0 ? plural(u.length, 'unsafe cycle') : '',
    r.bypasses.length > 0 ? plural(r.bypasses.length, 'undeclared cross-module call') : '',
    r.registries.length > 0 ? plural(r.registries.length, 'callback registry', 'callback registries') : '',
  ].filter((x) => x !== '');
  lines.push('', failures.length > 0 ? `FAIL: ${failures.join(', ')}` : 'OK: no unsafe cycle, no undeclared cross-module call');
  return lines.join('\n') + '\n';
}
