/**
 * Before and after the interop suite: remove namespaces an earlier run left
 * behind when its process was killed before it could clean up (SIGKILL, a
 * crashed worker). Only namespaces named by this suite (uit-<tag>-<pid>-<n>)
 * whose process is gone are touched; a run in progress keeps its own. The
 * same for throwaway login users (support/users.ts).
 */
import { spawnSync } from 'node:child_process';
import { sweepUsers } from './users.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sweep(): void {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return;
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (list.status !== 0) return;
  for (const line of list.stdout.split('\n')) {
    const m = /^(uit-[a-z0-9]+-(\d+)-\d+)\b/.exec(line.trim());
    if (m === null || alive(Number(m[2]))) continue;
    const pids = spawnSync('ip', ['netns', 'pids', m[1]!], { encoding: 'utf8' }).stdout ?? '';
    for (const p of pids.split(/\s+/).filter((x) => x !== '')) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        // gone already
      }
    }
    spawnSync('ip', ['netns', 'del', m[1]!]);
    console.warn(`interop: removed namespace ${m[1]} left by an earlier run`);
  }
  sweepUsers(alive);
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
