/**
 * Tests that need an outside program (tshark, socat...): run where the program is
 * installed; elsewhere they are skipped with the reason in their name, so the
 * skip count at the end of `npm test` says what did not run and why. In CI
 * (`CI` set) a missing program fails the test instead: `.ci/run` installs every
 * program the suite uses, so nothing may be skipped there.
 */
import { spawnSync } from 'node:child_process';
import { describe, it } from 'vitest';

const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
const seen = new Map<string, boolean>();

/** Whether `tool` is on the PATH (looked up once per process). */
export function installed(tool: string): boolean {
  let ok = seen.get(tool);
  if (ok === undefined) {
    ok = spawnSync('sh', ['-c', `command -v '${tool}'`], { stdio: 'ignore' }).status === 0;
    seen.set(tool, ok);
  }
  return ok;
}

function why(tools: readonly string[]): string | undefined {
  const absent = tools.filter((t) => !installed(t));
  return absent.length === 0 ? undefined : `needs ${absent.join(', ')} (not installed; Debian package of that name)`;
}

type Body = () => unknown;

/** `it(title, body)` when every tool is installed; otherwise a skipped test saying which is missing. */
export function itNeeds(tools: readonly string[], title: string, body: Body, timeout?: number): void {
  const w = why(tools);
  if (w === undefined) it(title, body, timeout);
  else if (inCi) it(title, () => { throw new Error(`cannot run in CI: ${w}`); });
  else it.skip(`${title} [skipped: ${w}]`, () => {});
}

/** `describe(title, body)` when every tool is installed; otherwise one skipped test saying which is missing. */
export function describeNeeds(tools: readonly string[], title: string, body: () => void): void {
  const w = why(tools);
  if (w === undefined) describe(title, body);
  else describe(title, () => itNeeds(tools, 'has what it needs', () => {}));
}

/**
 * For a test whose extra check uses an outside oracle: true when `tool` is
 * installed; false elsewhere (the rest of the test still runs); throws in CI.
 */
export function oracle(tool: string): boolean {
  if (installed(tool)) return true;
  if (inCi) throw new Error(`cannot run in CI: needs ${tool} (not installed)`);
  return false;
}
