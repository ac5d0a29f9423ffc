/**
 * Human and JSON renderings of a check. The JSON keeps the documented shape:
 * `{"modules":N,"edges":N,"cycles":[{"kind","chain":[{module,function,file,line}]}],"lockedUpcalls":[...]}`.
 */
import { chainText } from './classify.js';
import type { CheckResult, Cycle, CycleKind, Hop, Link, LockedUpcall } from './model.js';

export interface JsonReport {
  modules: number;
  edges: number;
  cycles: { kind: CycleKind; chain: Hop[] }[];
  lockedUpcalls: { module: string; function: string; file: string; line: number; slot: string; upcall: Hop }[];
}

const hop = (h: Hop): Hop => ({ module: h.module, function: h.function, file: h.file, line: h.line });

export function toJson(r: CheckResult): JsonReport {
  return {
    modules: r.modules,
    edges: r.edges,
    cycles: r.cycles.map((c) => ({ kind: c.kind, chain: c.chain.map(hop) })),
    lockedUpcalls: r.lockedUpcalls.map((l) => ({ module: l.module, function: l.function, file: l.file, line: l.line, slot: l.slot, upcall: hop(l.upcall) })),
  };
}

export function unsafeCount(r: CheckResult): number {
  return r.cycles.filter((c) => c.kind === 'unsafe').length;
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
    default:
      return `calls ${target}`;
  }
}

function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

function cycleLines(c: Cycle, index: number): string[] {
  const names = c.chain.map((h) => `${h.module}.${h.function}`);
  const places = c.chain.map((h) => `${h.file}:${h.line}`);
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
  for (const h of l.path) out.push(`     ${h.module}.${h.function}  ${h.file}:${h.line}`);
  return out;
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
      `(${plural(ec.call, 'call')}, ${plural(ec.downcall, 'downcall')}, ${plural(ec.upcall, 'upcall')}, ${plural(ec.bypass, 'bypass', 'bypasses')})`,
  );
  const byKind = (k: CycleKind): Cycle[] => r.cycles.filter((c) => c.kind === k);
  const u = byKind('unsafe');
  const d = byKind('deferred');
  const re = byKind('reentrant');
  lines.push(
    `cycles crossing a module boundary: ${r.cycles.length} (${u.length} unsafe, ${d.length} deferred, ${re.length} reentrant); ` +
      `upcalls under a lock: ${r.lockedUpcalls.length}`,
  );
  if (opts.verbose === true) {
    lines.push('', 'modules:');
    for (const m of r.moduleList) {
      const entries = m.entries.map((e) => `${e.name} (${e.policy})`).join(', ');
      lines.push(`  ${m.name} (class ${m.className}, ${m.file}:${m.line})${entries !== '' ? `: ${entries}` : ''}`);
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
  if (r.notes.length > 0) {
    lines.push('', 'notes:');
    for (const note of r.notes) lines.push(`  ${note}`);
  }
  lines.push('', u.length > 0 ? `FAIL: ${plural(u.length, 'unsafe cycle')}` : 'OK: no unsafe cycle');
  return lines.join('\n') + '\n';
}
