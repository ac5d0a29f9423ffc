/**
 * Ends `npm test` with the number of skipped tests and why each was skipped
 * (the reason is in the test's name; see test/support/needs.ts).
 */
import type { Reporter, TestModule } from 'vitest/node';

export default class SkipReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const skipped: string[] = [];
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        if (t.result().state === 'skipped') skipped.push(`  ${m.moduleId.replace(process.cwd() + '/', '')} > ${t.fullName}`);
      }
    }
    const lines = [`skipped tests: ${skipped.length}`, ...skipped.slice(0, 50)];
    if (skipped.length > 50) lines.push(`  ... and ${skipped.length - 50} more`);
    process.stdout.write(lines.join('\n') + '\n');
  }
}
