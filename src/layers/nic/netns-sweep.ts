/**
 * Network namespaces left behind by a process that was killed before it could
 * remove them (SIGKILL, a crash): found by name, the owner's pid in it, and
 * removed only once that process no longer runs. TapLink sweeps its own kind
 * (`upcall-<pid>-<n>`) before it makes its first; the interop suite sweeps its
 * own (`uit-<tag>-<pid>-<n>`) and TapLink's around each run. A namespace is
 * removed one way, swept or destroyed by its TapLink (removeNamespace).
 */
import { spawnSync } from 'node:child_process';

/** Names TapLink gives its namespaces by default; the pid is the first group. */
export const TAP_NAMESPACE = /^upcall-(\d+)-\d+$/;

/** Whether process `pid` runs (one of another user's counts: signalling it is only refused). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The pid that made namespace `name`, when one of `patterns` (the pid its first
 * group) names it; undefined for any other namespace, which is never ours to touch.
 */
export function namespaceOwner(name: string, patterns: readonly RegExp[]): number | undefined {
  for (const p of patterns) {
    const m = p.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (Number.isSafeInteger(pid) && pid > 0) return pid;
  }
  return undefined;
}

/** Whether namespace `name` is one of ours whose owner no longer runs. */
export function isStaleNamespace(name: string, patterns: readonly RegExp[], alive: (pid: number) => boolean = processAlive): boolean {
  const pid = namespaceOwner(name, patterns);
  return pid !== undefined && !alive(pid);
}

/** What sweeping asks of the machine; `ip netns` by default. */
export interface NamespaceOps {
  /** The namespaces' names; null when they cannot be listed. */
  list(): string[] | null;
  /** Pids of the processes inside `name`. */
  pids(name: string): number[];
  kill(pid: number): void;
  remove(name: string): void;
}

export const IP_NETNS: NamespaceOps = {
  list() {
    const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    if (r.status !== 0) return null;
    // Lines read `name` or `name (id: 3)`.
    return r.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((n) => n !== '');
  },
  pids(name) {
    const out = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout ?? '';
    return out.split(/\s+/).filter((x) => x !== '').map(Number).filter((p) => Number.isInteger(p) && p > 1);
  },
  kill(pid) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  },
  remove(name) {
    spawnSync('ip', ['netns', 'del', name]);
  },
};

/**
 * Removes namespace `name` after killing what runs inside it (but this
 * process): processes forked inside (a kernel peer, a telnetd's login shell)
 * would keep it alive after its name is gone.
 */
export function removeNamespace(name: string, ops: NamespaceOps = IP_NETNS): void {
  for (const pid of ops.pids(name)) if (pid !== process.pid) ops.kill(pid);
  ops.remove(name);
}

/**
 * Removes every namespace one of `patterns` names whose owner no longer runs,
 * with what still runs inside it. Only root on Linux can; elsewhere nothing
 * happens.
 * Returns the names removed.
 */
export function sweepStaleNamespaces(
  patterns: readonly RegExp[],
  ops: NamespaceOps = IP_NETNS,
  alive: (pid: number) => boolean = processAlive,
): string[] {
  if (ops === IP_NETNS && (process.platform !== 'linux' || process.getuid?.() !== 0)) return [];
  const removed: string[] = [];
  for (const name of ops.list() ?? []) {
    if (!isStaleNamespace(name, patterns, alive)) continue;
    removeNamespace(name, ops);
    removed.push(name);
  }
  return removed;
}
