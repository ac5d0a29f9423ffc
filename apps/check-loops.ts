/**
 * The static call-graph loop checker (issue 7): `npm run check:loops -- [PATH...] [--json] [--sarif FILE]`.
 * The options, their parsing and the exit status live in src/check/cli.ts (one-line errors, exit 2,
 * `--help`, as every CLI of the project).
 */
import { runCli } from '../src/check/cli.js';
import { isEntryPoint } from './args.js';

export function main(argv: readonly string[]): Promise<number> {
  return Promise.resolve(runCli(argv));
}

if (isEntryPoint(import.meta.url)) process.exitCode = runCli(process.argv.slice(2));
