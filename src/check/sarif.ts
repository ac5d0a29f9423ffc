/**
 * SARIF 2.1.0 for editors and code scanning: one result per cycle (its chain
 * as related locations and as a code flow) and per upcall under a lock.
 * Locations are relative to the working directory (uriBaseId SRCROOT).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chainText } from './classify.js';
import type { CheckResult, CycleKind, Hop } from './model.js';

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

type Level = 'error' | 'warning' | 'note';

interface Rule {
  id: string;
  name: string;
  level: Level;
  short: string;
  full: string;
}

const RULES: readonly Rule[] = [
  {
    id: 'unsafe-cycle',
    name: 'UnsafeUpcallCycle',
    level: 'error',
    short: 'A call cycle re-enters a module that does not allow it.',
    full:
      'A cycle of calls and upcalls crosses a module boundary and comes back into a module through a rejecting entry point, ' +
      'through code that is not an entry point, or through upcalls alone. At run time the task is rejected or the module ' +
      'runs in the middle of its own update. Declare the entry point re-entrant if it is safe, defer it, or break the cycle.',
  },
  {
    id: 'deferred-cycle',
    name: 'DeferredUpcallCycle',
    level: 'note',
    short: 'A call cycle is cut by a deferred entry point.',
    full: "The cycle passes through an entry point declared 'defer': the call is queued until the upcall returns (Swift's arm).",
  },
  {
    id: 'reentrant-cycle',
    name: 'ReentrantUpcallCycle',
    level: 'note',
    short: 'A call cycle re-enters modules through entry points declared re-entrant.',
    full: "Every entry point the cycle re-enters is declared 'reentrant': the module has promised it can run in the middle of its own work.",
  },
  {
    id: 'locked-upcall',
    name: 'UpcallUnderLock',
    level: 'warning',
    short: 'An upcall is made while the module holds its lock.',
    full: "Rule 2: a module finishes its update and releases its lock before it calls up. The runtime throws LayerViolation on this path.",
  },
];

const RULE_OF_KIND: Record<CycleKind, string> = { unsafe: 'unsafe-cycle', deferred: 'deferred-cycle', reentrant: 'reentrant-cycle' };

export interface SarifOptions {
  cwd: string;
  toolVersion?: string;
}

export function toSarif(r: CheckResult, opts: SarifOptions): Record<string, unknown> {
  const cwd = opts.cwd;
  const artifact = (file: string): Record<string, unknown> => {
    if (file.startsWith('../') || path.isAbsolute(file)) return { uri: pathToFileURL(path.resolve(cwd, file)).href };
    return { uri: file.split('/').map(encodeURIComponent).join('/'), uriBaseId: 'SRCROOT' };
  };
  const physical = (h: { file: string; line: number }): Record<string, unknown> => ({
    physicalLocation: { artifactLocation: artifact(h.file), region: { startLine: h.line } },
  });
  const hopText = (h: Hop): string => `${h.module}.${h.function}`;
  const results: Record<string, unknown>[] = [];
  for (const c of r.cycles) {
    const ruleId = RULE_OF_KIND[c.kind];
    const ruleIndex = RULES.findIndex((x) => x.id === ruleId);
    const first = c.chain[0]!;
    results.push({
      ruleId,
      ruleIndex,
      level: RULES[ruleIndex]!.level,
      message: { text: `${c.kind} cycle: ${chainText(c)}. ${c.reason}.` },
      locations: [physical(first)],
      relatedLocations: c.chain.map((h, i) => ({ id: i, ...physical(h), message: { text: `${i + 1}. ${hopText(h)}` } })),
      codeFlows: [
        {
          message: { text: chainText(c) },
          threadFlows: [
            {
              locations: c.chain.map((h, i) => {
                const l = c.links[i]!;
                const next = c.chain[(i + 1) % c.chain.length]!;
                const how = l.kind === 'upcall' ? `upcall ${l.slot}` : l.kind === 'downcall' ? `calls entry ${l.entry} (${l.policy})` : l.kind === 'bypass' ? 'calls a non-entry member' : 'calls';
                return { location: { ...physical(h), message: { text: `${hopText(h)} ${how} -> ${hopText(next)}` } }, nestingLevel: 0, executionOrder: i };
              }),
            },
          ],
        },
      ],
      partialFingerprints: { cycleChain: chainText(c) },
    });
  }
  const lockedIndex = RULES.findIndex((x) => x.id === 'locked-upcall');
  for (const l of r.lockedUpcalls) {
    results.push({
      ruleId: 'locked-upcall',
      ruleIndex: lockedIndex,
      level: RULES[lockedIndex]!.level,
      message: { text: `${l.module}.${l.function} upcalls ${l.slot} while holding its lock (taken at line ${l.line}).` },
      locations: [physical(l.upcall)],
      relatedLocations: l.path.map((h, i) => ({ id: i, ...physical(h), message: { text: hopText(h) } })),
      partialFingerprints: { lockedUpcall: `${l.module}.${l.function}:${l.slot}:${hopText(l.upcall)}` },
    });
  }
  const root = pathToFileURL(cwd.endsWith(path.sep) ? cwd : cwd + path.sep).href;
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'check-loops',
            fullName: 'upcall-stack static call-graph loop checker',
            version: opts.toolVersion ?? '0.1.0',
            rules: RULES.map((x) => ({
              id: x.id,
              name: x.name,
              shortDescription: { text: x.short },
              fullDescription: { text: x.full },
              defaultConfiguration: { level: x.level },
              help: { text: x.full },
            })),
          },
        },
        originalUriBaseIds: { SRCROOT: { uri: root } },
        results,
        columnKind: 'utf16CodeUnits',
      },
    ],
  };
}
