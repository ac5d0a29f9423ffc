/**
 * Runs packetdrill scripts against the stack in virtual time:
 *
 *     npx tsx apps/drill.ts test/drill/*.pkt
 *     npx tsx apps/drill.ts --shell ignore --by-dir /tmp/packetdrill/gtests/net/tcp
 *
 * Prints, per script, passed / failed (the line, expected and actual side by
 * side) / unsupported (why). A folder argument runs every .pkt under it.
 * Exit status: 0 all passed (expected failures and unsupported scripts do
 * not count against it), 1 a script failed or an expected failure passed,
 * 2 a bad command line.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { TcpConfig } from '../src/layers/tcp/config.js';
import { applyTcpConfig, runDrill, type DrillResult, type DrillStatus } from '../src/drill/runner.js';
import { formatHelp, isEntryPoint, options, parseCommand, runCommand, SHARED, UsageError, usageLine, type CommandSpec } from './args.js';

const DRILL_OPTIONS = options({
  json: SHARED.json('print one JSON object per script, then a summary object, one a line'),
  shell: {
    kind: 'string',
    placeholder: 'MODE',
    default: 'unsupported' as 'unsupported' | 'ignore',
    help: "what a shell line (other than a known sysctl) does: 'unsupported' stops the script, 'ignore' skips it with a note",
    parse: (t: string): 'unsupported' | 'ignore' => {
      if (t !== 'unsupported' && t !== 'ignore') throw new UsageError(`--shell: ${JSON.stringify(t)} is not 'unsupported' or 'ignore'`);
      return t;
    },
  },
  tcp: {
    kind: 'string',
    placeholder: 'KEY=VALUE',
    multiple: true,
    help: 'a TcpConfig field for every script, e.g. receiveBufferSize=15728640 (scripts may override it)',
    parse: (t: string): [string, string] => {
      const m = /^(\w+)=(.+)$/.exec(t);
      if (m === null) throw new UsageError(`--tcp: ${JSON.stringify(t)} is not KEY=VALUE`);
      return [m[1]!, m[2]!];
    },
  },
  strict: { kind: 'flag', help: 'fail on segments the stack sent that no line expects by the end of a script (packetdrill does not check)' },
  'by-dir': { kind: 'flag', help: 'end with a table of counts per folder (packetdrill suite categories)' },
  quiet: { kind: 'flag', short: 'q', help: 'print only scripts that did not pass, and the summary' },
});

export const DRILL_COMMAND: CommandSpec<typeof DRILL_OPTIONS> = {
  prog: 'drill',
  synopsis: 'FILE.pkt|FOLDER... [options]',
  summary: 'Runs packetdrill scripts against this stack in virtual time: the script plays the remote peer, the stack is the host under test.',
  options: DRILL_OPTIONS,
  positionals: { min: 1, max: 100_000, name: 'script file or folder' },
  epilog: 'exit status: 0 all passed, 1 a script failed, 2 bad arguments',
};

/** The .pkt files named by the arguments (folders searched recursively, sorted). */
export function collectScripts(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (name.endsWith('.pkt')) out.push(p);
    }
  };
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new UsageError(`${p}: no such file or folder`);
    }
    if (st.isDirectory()) walk(p);
    else out.push(p);
  }
  return out;
}

const LABEL: Readonly<Record<DrillStatus, string>> = {
  passed: 'PASS ',
  failed: 'FAIL ',
  unsupported: 'UNSUP',
  xfail: 'XFAIL',
  xpass: 'XPASS',
};

export function formatResult(file: string, r: DrillResult): string {
  const where = r.line !== undefined ? `${file}:${r.line}` : file;
  const lines = [`${LABEL[r.status]} ${where}${r.status === 'passed' ? ` (${r.events} events)` : ''}`];
  if (r.status !== 'passed' && r.message !== undefined) lines.push(`      ${r.message.split('\n')[0]}`);
  if (r.expectedFailure !== undefined && r.status === 'xfail') lines.push(`      known: ${r.expectedFailure}`);
  if (r.expected !== undefined || r.actual !== undefined) {
    lines.push(`      expected: ${r.expected ?? r.source ?? ''}`);
    const actual = (r.actual ?? '').split('\n');
    lines.push(`      actual:   ${actual[0]}`);
    for (const a of actual.slice(1)) lines.push(`                ${a}`);
  } else if (r.status !== 'passed' && r.source !== undefined && r.source !== '') lines.push(`      line:     ${r.source}`);
  for (const n of r.notes) lines.push(`      note: ${n}`);
  return lines.join('\n');
}

type Counts = Record<DrillStatus, number>;
const zero = (): Counts => ({ passed: 0, failed: 0, unsupported: 0, xfail: 0, xpass: 0 });

function countsText(c: Counts, total: number): string {
  const parts = [`${c.passed} passed`, `${c.failed} failed`, `${c.unsupported} unsupported`];
  if (c.xfail > 0) parts.push(`${c.xfail} expected failures`);
  if (c.xpass > 0) parts.push(`${c.xpass} unexpected passes`);
  return `${total} scripts: ${parts.join(', ')}`;
}

export async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommand(DRILL_COMMAND, argv);
    if (parsed === 'help') {
      process.stdout.write(formatHelp(DRILL_COMMAND));
      return 0;
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(usageLine('drill', e));
    return 2;
  }
  const o = parsed.values;
  let files: string[];
  try {
    files = collectScripts(parsed.positionals);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(usageLine('drill', e));
    return 2;
  }
  if (files.length === 0) {
    process.stderr.write(usageLine('drill', new UsageError('no .pkt scripts found')));
    return 2;
  }
  const tcp: Partial<TcpConfig> = {};
  try {
    for (const [k, v] of o.tcp) applyTcpConfig(`${k}=${v}`, tcp);
  } catch (e) {
    process.stderr.write(usageLine('drill', new UsageError(`--tcp: ${(e as Error).message}`)));
    return 2;
  }
  const total = zero();
  const byDir = new Map<string, Counts>();
  const roots = parsed.positionals.map((p) => resolve(p));
  for (const file of files) {
    const r = runDrill(readFileSync(file, 'utf8'), { shell: o.shell, strict: o.strict, tcp });
    total[r.status]++;
    const root = roots.find((x) => resolve(file).startsWith(x + '/')) ?? dirname(resolve(file));
    const dir = relative(root, dirname(resolve(file))) || '.';
    const c = byDir.get(dir) ?? zero();
    c[r.status]++;
    byDir.set(dir, c);
    if (o.json) {
      process.stdout.write(JSON.stringify({ file, ...r }) + '\n');
    } else if (!o.quiet || r.status === 'failed' || r.status === 'xpass') {
      process.stdout.write(formatResult(file, r) + '\n');
    }
  }
  if (o.json) {
    process.stdout.write(JSON.stringify({ summary: { scripts: files.length, ...total, ...(o['by-dir'] ? { byDir: Object.fromEntries(byDir) } : {}) } }) + '\n');
  } else {
    if (o['by-dir']) {
      const rows = [...byDir.entries()].sort(([a], [b]) => a.localeCompare(b));
      const w = Math.max(8, ...rows.map(([d]) => d.length));
      process.stdout.write(`\n${'folder'.padEnd(w)}  scripts  passed  failed  unsupported\n`);
      for (const [d, c] of rows) {
        const n = c.passed + c.failed + c.unsupported + c.xfail + c.xpass;
        process.stdout.write(`${d.padEnd(w)}  ${String(n).padStart(7)}  ${String(c.passed).padStart(6)}  ${String(c.failed + c.xfail + c.xpass).padStart(6)}  ${String(c.unsupported).padStart(11)}\n`);
      }
    }
    process.stdout.write(`\n${countsText(total, files.length)}\n`);
  }
  return total.failed > 0 || total.xpass > 0 ? 1 : 0;
}

if (isEntryPoint(import.meta.url)) runCommand('drill', main);
