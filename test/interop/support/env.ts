/**
 * Whether this machine can run an interop test, and what to do when it cannot.
 *
 * A developer without root or /dev/net/tun sees the tests skipped with the
 * reason in their name. In CI (CI or UPCALL_INTEROP=require in the environment)
 * a missing prerequisite is a failure: the suite exists to run there.
 */
import { spawnSync } from 'node:child_process';
import { describe, it } from 'vitest';
import { tapSupport } from '../../../src/layers/nic/tap.js';

export const REQUIRED = process.env.UPCALL_INTEROP === 'require' || (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false');

function hasTool(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

/** Why the tests needing `tools` cannot run here, or undefined when they can. */
export function missing(tools: readonly string[]): string | undefined {
  const tap = tapSupport();
  if (!tap.ok) return tap.reason;
  const absent = tools.filter((t) => !hasTool(t));
  if (absent.length > 0) return `not installed: ${absent.join(', ')}`;
  return undefined;
}

/**
 * `describe(title, body)` when the tools and TAP support are there; otherwise one
 * skipped test whose name is the reason (or, in CI, one failing test).
 */
export function interopDescribe(title: string, tools: readonly string[], body: () => void): void {
  const why = missing(tools);
  if (why === undefined) {
    describe(title, body);
    return;
  }
  describe(title, () => {
    if (REQUIRED) {
      it('has what it needs to run (required in CI)', () => {
        throw new Error(`interop test cannot run: ${why}`);
      });
    } else {
      it.skip(`skipped: ${why}`, () => {});
    }
  });
}
