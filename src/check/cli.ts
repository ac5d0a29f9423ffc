/**
 * Running the checker as a command: what `check-loops` does once its command
 * line is parsed (apps/check-loops.ts parses it with the one parser every CLI
 * of the project uses).
 *
 * Exit status: 0 when no unsafe cycle, no undeclared cross-module call and no
 * hand-made callback registry; 1 when there is one; 2 for unreadable input
 * (one line on stderr saying why); 3 if the checker itself failed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runCheck } from './check.js';
import { CheckInputError } from './model.js';
import { ResultCache } from './cache.js';
import { failureCount, formatText, toJson } from './report.js';
import { toSarif } from './sarif.js';

export interface CliIo {
  cwd: string;
  out(text: string): void;
  err(text: string): void;
}

/** What the command line asked for. */
export interface CliOptions {
  /** Files or directories (default: src apps). */
  paths: readonly string[];
  json: boolean;
  sarif?: string | undefined;
  verbose: boolean;
  /** undefined: the default place; false: no cache. */
  cacheDir?: string | false | undefined;
}

const defaultIo = (): CliIo => ({
  cwd: process.cwd(),
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
});

export function runCli(args: CliOptions, io: CliIo = defaultIo()): number {
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
