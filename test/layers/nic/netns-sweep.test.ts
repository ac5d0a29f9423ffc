/**
 * Sweeping the namespaces a killed process left: which are stale is decided by
 * name and by whether the pid in it still runs; a live process's namespace and
 * any namespace not named by this project are never touched. The real sweep
 * (root, `ip netns`) runs in the interop suite's global setup.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  isStaleNamespace,
  namespaceOwner,
  processAlive,
  sweepStaleNamespaces,
  TAP_NAMESPACE,
  type NamespaceOps,
} from '../../../src/layers/nic/netns-sweep.js';

const SUITE = /^uit-[a-z0-9]+-(\d+)-\d+$/;

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('stale namespaces', () => {
  it('tells a running process from one that has exited', () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(deadPid())).toBe(false);
  });

  it('reads the owner pid only from the names TapLink and the interop suite give', () => {
    expect(namespaceOwner('upcall-4242-0', [TAP_NAMESPACE])).toBe(4242);
    expect(namespaceOwner('uit-ping6-4242-3', [SUITE, TAP_NAMESPACE])).toBe(4242);
    for (const other of ['upcall-4242', 'upcall-x-0', 'my-upcall-4242-0', 'upcall-4242-0-extra', 'docker0', 'uit-ping-4242-0']) {
      expect(namespaceOwner(other, [TAP_NAMESPACE])).toBeUndefined();
    }
  });

  it('calls a namespace stale only when its process no longer runs', () => {
    const gone = deadPid();
    expect(isStaleNamespace(`upcall-${gone}-0`, [TAP_NAMESPACE])).toBe(true);
    expect(isStaleNamespace(`upcall-${process.pid}-0`, [TAP_NAMESPACE])).toBe(false);
    expect(isStaleNamespace(`upcall-${gone}-0`, [SUITE])).toBe(false);
    expect(isStaleNamespace('someone-elses', [TAP_NAMESPACE], () => false)).toBe(false);
  });

  it('removes the stale ones after killing what runs inside, and leaves every other namespace as it was', () => {
    const running = new Set([100, 200]);
    const inside = new Map<string, number[]>([['upcall-300-0', [301, 302]], ['upcall-100-0', [101]]]);
    const killed: number[] = [];
    const removed: string[] = [];
    const ops: NamespaceOps = {
      list: () => ['upcall-100-0', 'upcall-300-0', 'upcall-300-1', 'uit-bulk-400-0', 'uit-bulk-200-2', 'vpn', 'upcall-500-x'],
      pids: (name) => inside.get(name) ?? [],
      kill: (pid) => killed.push(pid),
      remove: (name) => removed.push(name),
    };
    const swept = sweepStaleNamespaces([SUITE, TAP_NAMESPACE], ops, (pid) => running.has(pid));
    expect(swept).toEqual(['upcall-300-0', 'upcall-300-1', 'uit-bulk-400-0']);
    expect(removed).toEqual(swept);
    expect(killed).toEqual([301, 302]);
  });

  it('does nothing when the namespaces cannot be listed', () => {
    const ops: NamespaceOps = { list: () => null, pids: () => [], kill: () => {}, remove: () => expect.unreachable() };
    expect(sweepStaleNamespaces([TAP_NAMESPACE], ops, () => false)).toEqual([]);
  });
});
