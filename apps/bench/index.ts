/**
 * Runs the benchmarks, one process each so none inherits another's heap or JIT
 * state, and prints their tables (or, with --json, their JSON lines).
 *
 *   npm run bench                      # every benchmark that can run here
 *   npm run bench -- tcp-bulk replay   # just these
 *   npm run bench -- --json
 *   npm run bench -- --help            # the list; runs nothing
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatHelp, isEntryPoint, options, parseCommand, runCommand, SHARED, UsageError, usageLine, type CommandSpec, type OptionTable } from '../args.js';

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
  { name: 'replay', what: 'replaying a million-frame capture, next to tshark' },
  { name: 'check-loops', what: 'the static loop checker on the project and on 200 generated modules' },
  { name: 'structures', what: 'the same stack as upcalls, as mailboxes (asynchronous daemons) and as threads: echo, request/response, bulk, remote login' },
  { name: 'interop', what: 'throughput and echo latency against the Linux kernel through TAP', root: true },
];

const here = path.dirname(fileURLToPath(import.meta.url));
// Run from source (tsx) the benchmarks are .ts; compiled, .js.
const ext = path.extname(fileURLToPath(import.meta.url)) === '.js' ? '.js' : '.ts';

/** The known benchmarks, then any other script in this folder (added since), in name order. */
export function benchmarks(): Bench[] {
  const files = existsSync(here) ? readdirSync(here).filter((f) => f.endsWith(ext) && !f.endsWith(`.d${ext}`)) : [];
  const names = new Set(files.map((f) => f.slice(0, -ext.length)));
  names.delete('index');
  const list: Bench[] = [...KNOWN];
  for (const n of [...names].sort()) if (!KNOWN.some((b) => b.name === n)) list.push({ name: n, what: `apps/bench/${n}${ext}` });
  return list;
}

function command(list: readonly Bench[]) {
  const width = Math.max(...list.map((b) => b.name.length));
  return {
    prog: 'bench',
    synopsis: '[NAME...] [--json] [--quick]',
    summary: 'Runs the benchmarks named (default: every one that can run here), each in a process of its own.',
    positionals: { max: 100, name: 'NAME' },
    options: options({
      json: SHARED.json('each benchmark prints its results as JSON lines, and nothing else'),
      quick: { kind: 'flag', help: 'shorter runs, for the benchmarks that have them (structures: under a minute)' },
    }),
    epilog: `benchmarks:\n${list.map((b) => `  ${b.name.padEnd(width)}  ${b.what}${b.root === true ? ' (root)' : ''}`).join('\n')}\n\nExit status: 0 all ran, 1 one failed, 2 bad arguments.`,
  } satisfies CommandSpec<OptionTable>;
}

/** Checks the command line: the benchmarks to run and --json, 'help', or throws UsageError. */
export function parseBenchArgs(argv: readonly string[]): { names: string[]; json: boolean; quick: boolean } | 'help' {
  const list = benchmarks();
  const p = parseCommand(command(list), argv);
  if (p === 'help') return p;
  for (const w of p.positionals) {
    if (!list.some((b) => b.name === w)) throw new UsageError(`unknown benchmark ${JSON.stringify(w)} (have: ${list.map((b) => b.name).join(', ')})`);
  }
  return { names: p.positionals, json: p.values.json, quick: p.values.quick };
}

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
