/**
 * Runs the benchmarks, one process each so none inherits another's heap or JIT
 * state, and prints their tables (or, with --json, their JSON lines).
 *
 *   npm run bench                      # every benchmark that can run here
 *   npm run bench -- tcp-bulk replay   # just these
 *   npm run bench -- --json
 *   npm run bench -- --help            # the list; runs nothing
 *   npm run bench -- --against HEAD~1 runtime checksum   # here and at HEAD~1, interleaved, with ratios
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatHelp, integer, isEntryPoint, options, parseCommand, runCommand, SHARED, UsageError, usageLine, type CommandSpec, type OptionTable, type StringSpec } from '../args.js';
import { resolveRef, runAgainst } from './against.js';

interface Bench {
  readonly name: string;
  readonly what: string;
  /** Needs root and network namespaces. */
  readonly root?: boolean;
}

const KNOWN: readonly Bench[] = [
  { name: 'runtime', what: 'cost of a task crossing three modules, observed and not' },
  { name: 'reassembly', what: 'TCP out-of-order queue: cost per segment as pieces pile up around a hole' },
  { name: 'checksum', what: 'Internet checksum per byte on 20..9000-byte payloads' },
  { name: 'tcp-bulk', what: 'bulk TCP between two in-process stacks over the sim link (MTU 1500 and 9000)' },
  { name: 'tcp-rr', what: '64-byte TCP request/response round trips between two in-process stacks' },
  { name: 'tcp-connect', what: 'opening 10,000 TCP connections between two in-process stacks; idle heap bytes per connection' },
  { name: 'replay', what: 'replaying a million-frame capture, next to tshark' },
  { name: 'check-loops', what: 'the static loop checker on the project and on 200 generated modules' },
  { name: 'structures', what: 'the same stack as upcalls, as mailboxes (asynchronous daemons) and as threads: echo, request/response, bulk, remote login' },
  { name: 'services', what: 'service calls between two hosts on the sim link: calls/s, CPU per call, latency p50/p99 (virtual time), synchronous and asynchronous' },
  { name: 'interop', what: 'throughput and echo latency against the Linux kernel through TAP', root: true },
];

const here = path.dirname(fileURLToPath(import.meta.url));
// Run from source (tsx) the benchmarks are .ts; compiled, .js.
const ext = path.extname(fileURLToPath(import.meta.url)) === '.js' ? '.js' : '.ts';

/** The known benchmarks, then any other script in this folder (added since), in name order. */
export function benchmarks(): Bench[] {
  const files = existsSync(here) ? readdirSync(here).filter((f) => f.endsWith(ext) && !f.endsWith(`.d${ext}`)) : [];
  const names = new Set(files.map((f) => f.slice(0, -ext.length)));
  // Not benchmarks: the runner and its helpers.
  for (const n of ['index', 'measure', 'against']) names.delete(n);
  const list: Bench[] = [...KNOWN];
  for (const n of [...names].sort()) if (!KNOWN.some((b) => b.name === n)) list.push({ name: n, what: `apps/bench/${n}${ext}` });
  return list;
}

function command(list: readonly Bench[]) {
  const width = Math.max(...list.map((b) => b.name.length));
  return {
    prog: 'bench',
    synopsis: '[NAME...] [--json] [--quick] [--against REF [--rounds N]]',
    summary: 'Runs the benchmarks named (default: every one that can run here), each in a process of its own.',
    positionals: { max: 100, name: 'NAME' },
    options: options({
      json: SHARED.json('each benchmark prints its results as JSON lines, and nothing else'),
      quick: { kind: 'flag', help: 'shorter runs, fewer repetitions (structures: under a minute)' },
      against: <StringSpec<string>>{
        kind: 'string', placeholder: 'REF', parse: (t: string): string => t,
        help: 'also run the benchmarks at REF (commit, tag, branch) in a temporary git worktree, interleaved with here, and print there/here ratios (default names: runtime checksum reassembly tcp-bulk tcp-rr tcp-connect; one REF lacks runs there from this checkout\'s script)',
      },
      rounds: integer('with --against: processes per side (default 3, --quick 2)', { min: 1, max: 100 }),
    }),
    epilog: `benchmarks:\n${list.map((b) => `  ${b.name.padEnd(width)}  ${b.what}${b.root === true ? ' (root)' : ''}`).join('\n')}\n\nEach benchmark repeats its measurement and prints min and median of wall and CPU time (process.cpuUsage).\nExit status: 0 all ran, 1 one failed, 2 bad arguments (an unknown REF too).`,
  } satisfies CommandSpec<OptionTable>;
}

/** Checks the command line: the benchmarks to run and --json, 'help', or throws UsageError. */
export function parseBenchArgs(argv: readonly string[]): { names: string[]; json: boolean; quick: boolean; against?: string; rounds?: number } | 'help' {
  const list = benchmarks();
  const p = parseCommand(command(list), argv);
  if (p === 'help') return p;
  for (const w of p.positionals) {
    if (!list.some((b) => b.name === w)) throw new UsageError(`unknown benchmark ${JSON.stringify(w)} (have: ${list.map((b) => b.name).join(', ')})`);
  }
  const { against, rounds } = p.values;
  if (rounds !== undefined && against === undefined) throw new UsageError('--rounds is for --against');
  return { names: p.positionals, json: p.values.json, quick: p.values.quick, ...(against !== undefined ? { against } : {}), ...(rounds !== undefined ? { rounds } : {}) };
}

/** Benchmarks compared by --against when none are named: the quick, in-process ones. */
const AGAINST_DEFAULT = ['runtime', 'checksum', 'reassembly', 'tcp-bulk', 'tcp-rr', 'tcp-connect'];

export async function main(argv: readonly string[]): Promise<number> {
  let o: ReturnType<typeof parseBenchArgs>;
  try {
    o = parseBenchArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(usageLine('bench', e));
    return 2;
  }
  const list = benchmarks();
  if (o === 'help') {
    process.stdout.write(formatHelp(command(list)));
    return 0;
  }
  const { names, json, quick } = o;
  if (o.against !== undefined) {
    const root = path.resolve(here, '..', '..');
    const commit = ext === '.ts' ? resolveRef(root, o.against) : undefined;
    if (commit === undefined) {
      const why = ext === '.ts' ? `--against: ${JSON.stringify(o.against)} is not a commit, tag or branch here` : '--against runs from source only (npm run bench)';
      process.stderr.write(usageLine('bench', new UsageError(why)));
      return 2;
    }
    if (!json) console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
    return runAgainst({ root, ref: o.against, commit, names: names.length > 0 ? names : AGAINST_DEFAULT, rounds: o.rounds ?? (quick ? 2 : 3), quick, json });
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const selected = list.filter((b) => (names.length === 0 ? !b.root || isRoot : names.includes(b.name)));
  if (!json) console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}\n`);
  let failed = 0;
  for (const b of selected) {
    const script = path.join(here, `${b.name}${ext}`);
    if (!existsSync(script)) {
      console.error(`${b.name}: not built yet`);
      failed++;
      continue;
    }
    if (!json) console.log(`== ${b.name}: ${b.what}`);
    const node = ext === '.ts' ? ['--import', 'tsx', script] : [script];
    const r = spawnSync(process.execPath, [...node, ...(json ? ['--json'] : []), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' });
    if (r.status !== 0) failed++;
    if (!json) console.log('');
  }
  return failed === 0 ? 0 : 1;
}

if (isEntryPoint(import.meta.url)) runCommand('bench', main);
