/**
 * The visual report's two options, the same for every CLI that draws one
 * (demo, replay): `--report FILE` and `--compare EARLIER.html`.
 */
import { loadReportData } from '../src/report/writer.js';
import { checkInputFile, checkOutputFile, UsageError, type StringSpec } from './args.js';

/** An earlier report page, read now so that a wrong file is a usage error before the run. */
function reportFile(flag: string, f: string): string {
  checkInputFile(flag, f);
  try {
    loadReportData(f);
  } catch (e) {
    throw new UsageError(`${flag} ${f}: ${(e as Error).message}`);
  }
  return f;
}

/** `--report` (what the report shows, for the help) and `--compare`. */
export function reportOptions(shows: string): { report: StringSpec<string>; compare: StringSpec<string> } {
  return {
    report: { kind: 'string', placeholder: 'FILE', parse: (f: string) => checkOutputFile('--report', f), help: `write a visual report${shows}` },
    compare: { kind: 'string', placeholder: 'FILE', parse: (f: string) => reportFile('--compare', f), help: 'with --report: draw the run of this earlier report beside this one, on one time axis' },
  };
}

/** --compare needs --report. */
export function checkReportOptions(v: { report: string | undefined; compare: string | undefined }): void {
  if (v.compare !== undefined && v.report === undefined) throw new UsageError('--compare goes with --report FILE');
}
