/**
 * Before and after the interop suite: remove namespaces an earlier run left
 * behind when its process was killed before it could clean up (SIGKILL, a
 * crashed worker). Only namespaces named by this suite (uit-<tag>-<pid>-<n>)
 * or by TapLink for a demo or tool (upcall-<pid>-<n>) whose process is gone
 * are touched; a run in progress keeps its own. The same for throwaway login
 * users (support/users.ts).
 */
import { spawnSync } from 'node:child_process';
import { processAlive, sweepStaleNamespaces, TAP_NAMESPACE } from '../../../src/layers/nic/netns-sweep.js';
import { sweepUsers } from './users.js';

/** The suite's own namespaces (support/lab.ts); the pid is the first group. */
const SUITE_NAMESPACE = /^uit-[a-z0-9]+-(\d+)-\d+$/;

function sweep(): void {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return;
  for (const ns of sweepStaleNamespaces([SUITE_NAMESPACE, TAP_NAMESPACE])) console.warn(`interop: removed namespace ${ns} left by an earlier run`);
  sweepUsers(processAlive);
}

/**
 * The machine's own interfaces and addresses (root namespace), without the TAP
 * devices that exist there for a moment before a link moves them into its
 * namespace (uptap*).
 */
function hostInterfaces(): string | null {
  const r = spawnSync('ip', ['-o', 'addr', 'show'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^\d+:\s+uptap/.test(l))
    // Drop the lifetimes, which count down.
    .map((l) => l.replace(/\s+valid_lft.*$/, '').replace(/^\d+:\s+/, ''))
    .sort()
    .join('\n');
}

let before: string | null = null;

export function setup(): void {
  sweep();
  before = hostInterfaces();
}

export function teardown(): void {
  sweep();
  const after = hostInterfaces();
  // The suite promises to work only inside namespaces of its own.
  if (before !== null && after !== null && after !== before) {
    throw new Error(`interop: the machine's own interfaces changed during the run\nbefore:\n${before}\nafter:\n${after}`);
  }
}
