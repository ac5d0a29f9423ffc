/**
 * The static call-graph loop checker: `npm run check:loops -- [PATH...] [--json] [--sarif FILE]`.
 * The command line is parsed here with the parser every CLI of the project uses;
 * the run and its exit status are src/check/cli.ts's.
 */
import { runCli, type CliIo } from '../src/check/cli.js';
import { checkOutputFile, formatHelp, isEntryPoint, options, parseCommand, runCommand, SHARED, UsageError, usageLine, type CommandSpec, type OptionTable } from './args.js';

export const CHECK_COMMAND = {
  prog: 'check-loops',
  synopsis: '[PATH...] [--json] [--sarif FILE] [--verbose] [--cache-dir DIR | --no-cache]',
  summary:
    "Finds call cycles that cross module boundaries (upcall -> downcall -> upcall ...), upcalls made under a module's lock, calls into another module that bypass its entry points, and modules keeping their clients' callbacks themselves. PATHs are files or directories (default: src apps).",
  positionals: { max: 10_000, name: 'PATH' },
  options: options({
    json: SHARED.json(
      'print {"modules","edges","cycles":[{"kind","reason","chain":[...]}],"lockedUpcalls","bypasses","registries","guessedHandOvers"} on stdout',
    ),
    sarif: { kind: 'string', placeholder: 'FILE', help: 'also write the cycles as SARIF 2.1.0 to FILE (its folder must exist)', parse: (f: string) => checkOutputFile('--sarif', f) },
    verbose: { kind: 'flag', short: 'v', help: 'list the modules and their entry points' },
    'cache-dir': { kind: 'string', placeholder: 'DIR', help: 'keep results in DIR, keyed by the content of the files checked (default: node_modules/.cache/upcall-stack-check)', parse: (d: string) => d },
    'no-cache': { kind: 'flag', help: 'neither read nor write the cache' },
  }),
  epilog:
    'Exit status: 0 none of those errors, 1 an unsafe cycle, an undeclared cross-module call or a callback registry found, 2 bad arguments or input, 3 the checker failed.',
} satisfies CommandSpec<OptionTable>;

const processIo = (): CliIo => ({ cwd: process.cwd(), out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });

/** The command, synchronously: its exit status. */
export function checkLoopsCommand(argv: readonly string[], io: CliIo = processIo()): number {
  try {
    const p = parseCommand(CHECK_COMMAND, argv);
    if (p === 'help') {
      io.out(formatHelp(CHECK_COMMAND, import.meta.url.endsWith('.js') ? 'upcall-stack check-loops' : 'npm run check:loops --'));
      return 0;
    }
    const v = p.values;
    if (v['no-cache'] && v['cache-dir'] !== undefined) throw new UsageError('--cache-dir and --no-cache exclude each other');
    return runCli({ paths: p.positionals, json: v.json, sarif: v.sarif, verbose: v.verbose, cacheDir: v['no-cache'] ? false : v['cache-dir'] }, io);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(usageLine('check-loops', e));
    return 2;
  }
}

export function main(argv: readonly string[]): Promise<number> {
  return Promise.resolve(checkLoopsCommand(argv));
}

if (isEntryPoint(import.meta.url)) runCommand('check-loops', main);
