/**
 * `check-loops [PATH...] [--json] [--sarif FILE] [--verbose] [--cache-dir DIR | --no-cache]`
 *
 * Exit status: 0 when no unsafe cycle, no undeclared cross-module call and no
 * hand-made callback registry; 1 when there is one; 2 for bad arguments or
 * unreadable input (one line on stderr saying why); 3 if the checker itself failed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runCheck } from './check.js';
import { CheckInputError } from './model.js';
import { ResultCache } from './cache.js';
import { failureCount, formatText, toJson } from './report.js';
import { toSarif } from './sarif.js';

export const USAGE = `usage: check-loops [PATH...] [--json] [--sarif FILE] [--verbose] [--cache-dir DIR | --no-cache]
  Finds call cycles that cross module boundaries (upcall -> downcall -> upcall ...), upcalls
  made under a module's lock, calls into another module that bypass its entry points, and
  modules keeping their clients' callbacks themselves. PATHs are files or directories
  (default: src apps).
  --json          print {"modules","edges","cycles":[{"kind","reason","chain":[...]}],"lockedUpcalls",
                  "bypasses","registries","guessedHandOvers"} on stdout
  --sarif FILE    also write the cycles as SARIF 2.1.0 to FILE
  --verbose       list the modules and their entry points
  --cache-dir DIR keep results in DIR, keyed by the content of the files checked
                  (default: node_modules/.cache/upcall-stack-check)
  --no-cache      neither read nor write the cache
Exit: 0 none of those errors, 1 an unsafe cycle, an undeclared cross-module call or a
callback registry found, 2 bad arguments or input.`;

export interface CliIo {
  cwd: string;
  out(text: string): void;
  err(text: string): void;
}

interface Args {
  paths: string[];
  json: boolean;
  sarif: string | undefined;
  verbose: boolean;
  help: boolean;
  /** undefined: the default place; false: --no-cache. */
  cacheDir: string | false | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { paths: [], json: false, sarif: undefined, verbose: false, help: false, cacheDir: undefined };
  let onlyPaths = false;
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (onlyPaths || !x.startsWith('-') || x === '-') {
      a.paths.push(x);
    } else if (x === '--') {
      onlyPaths = true;
    } else if (x === '--json') {
      a.json = true;
    } else if (x === '--verbose' || x === '-v') {
      a.verbose = true;
    } else if (x === '--help' || x === '-h') {
      a.help = true;
    } else if (x === '--no-cache') {
      a.cacheDir = false;
    } else if (x === '--cache-dir' || x.startsWith('--cache-dir=')) {
      const dir = x === '--cache-dir' ? argv[++i] : x.slice('--cache-dir='.length);
      if (dir === undefined || dir === '' || (x === '--cache-dir' && dir.startsWith('-'))) throw new CheckInputError('--cache-dir needs a DIR');
      a.cacheDir = dir;
    } else if (x === '--sarif' || x.startsWith('--sarif=')) {
      const file = x === '--sarif' ? argv[++i] : x.slice('--sarif='.length);
      if (file === undefined || file === '' || (x === '--sarif' && file.startsWith('-'))) throw new CheckInputError('--sarif needs a FILE');
      a.sarif = file;
    } else {
      throw new CheckInputError(`unknown option '${x}' (try --help)`);
    }
  }
  return a;
}

const defaultIo = (): CliIo => ({
  cwd: process.cwd(),
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
});

export function runCli(argv: readonly string[], io: CliIo = defaultIo()): number {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    io.err(`check-loops: ${(e as Error).message}\n`);
    return 2;
  }
  if (args.help) {
    io.out(USAGE + '\n');
    return 0;
  }
  try {
    const cacheDir = args.cacheDir ?? ResultCache.defaultDir(io.cwd);
    const { result } = runCheck({ cwd: io.cwd, cacheDir, ...(args.paths.length > 0 ? { paths: args.paths } : {}) });
    if (args.sarif !== undefined) {
      const file = path.resolve(io.cwd, args.sarif);
      try {
        fs.writeFileSync(file, JSON.stringify(toSarif(result, { cwd: io.cwd }), null, 2) + '\n');
      } catch (e) {
        throw new CheckInputError(`cannot write SARIF to '${args.sarif}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
    }
    if (args.json) {
      io.out(JSON.stringify(toJson(result)) + '\n');
      for (const n of result.notes) io.err(`check-loops: note: ${n}\n`);
    } else {
      io.out(formatText(result, { verbose: args.verbose }));
    }
    return failureCount(result) > 0 ? 1 : 0;
  } catch (e) {
    if (e instanceof CheckInputError) {
      io.err(`check-loops: ${e.message}\n`);
      return 2;
    }
    io.err(`check-loops: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 3;
  }
}
