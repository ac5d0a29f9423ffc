/**
 * The static call-graph loop checker (issue 7): `npm run check:loops -- [PATH...] [--json] [--sarif FILE]`.
 * See src/check/cli.ts for the options and exit status.
 */
import { runCli } from '../src/check/cli.js';

process.exitCode = runCli(process.argv.slice(2));
