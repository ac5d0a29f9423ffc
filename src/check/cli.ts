/**
 * `check-loops [PATH...] [--json] [--sarif FILE] [--verbose]`
 *
 * Exit status: 0 when no unsafe cycle, 1 when there is one, 2 for bad
 * arguments or unreadable input (one line on stderr saying why), 3 if the
 * checker itself failed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runCheck } from './check.js';
import { CheckInputError } from './model.js';
import { formatText, toJson, unsafeCount } from './report.js';
import { toSarif } from './sarif.js';

export const USAGE = `usage: check-loops [PATH...] [--json] [--sarif FILE] [--verbose]
  Finds call cycles that cross module boundaries (upcall -> downcall -> upcall ...) and
  upcalls made under a module's lock. PATHs are files or directories (default: src apps).
  --json          print {"modules","edges","cycles":[{"kind","chain":[...]}],"lockedUpcalls"} on stdout
  --sarif FILE    also write the findings as SARIF 2.1.0 to FILE
  --verbose       list the modules and their entry points
Exit: 0 no unsafe cycle, 1 unsafe cycle found, 2 bad arguments or input.`;

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
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { paths: [], json: false, sarif: undefined, verbose: false, help: false };
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
    const { result } = runCheck({ cwd: io.cwd, ...(args.paths.length > 0 ? { paths: args.paths } : {}) });
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
    return unsafeCount(result) > 0 ? 1 : 0;
  } catch (e) {
    if (e instanceof CheckInputError) {
      io.err(`check-loops: ${e.message}\n`);
      return 2;
    }
    io.err(`check-loops: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 3;
  }
}
