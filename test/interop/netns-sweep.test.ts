/**
 * A tool killed with SIGKILL leaves its `upcall-<pid>-<n>` namespace behind:
 * the next TapLink made sweeps it, and leaves the namespace of a process that
 * still runs where it is. Subnet 10.77.11.0/24.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { TapLink } from '../../src/layers/nic/tap.js';
import { interopDescribe } from './support/env.js';

const made: string[] = [];
let sleeper: ChildProcess | null = null;

afterAll(() => {
  for (const ns of made) spawnSync('ip', ['netns', 'del', ns]);
  sleeper?.kill('SIGKILL');
});

function namespaces(): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '');
}

function addNamespace(name: string): void {
  expect(spawnSync('ip', ['netns', 'add', name]).status).toBe(0);
  made.push(name);
}

interopDescribe('interop: namespaces a killed tool left', [], () => {
  it('the first TapLink of a process removes those whose process is gone, never a live one', async () => {
    // A tool killed before it could clean up: its pid no longer runs.
    const killed = spawn('sleep', ['60']);
    const gone = killed.pid!;
    killed.kill('SIGKILL');
    await new Promise((r) => killed.once('exit', r));
    addNamespace(`upcall-${gone}-0`);
    // A tool still running.
    sleeper = spawn('sleep', ['60']);
    addNamespace(`upcall-${sleeper.pid!}-0`);

    const link = await TapLink.create({ kernelAddress: '10.77.11.1/24', stackMac: 0x0200_4d77_1102 });
    try {
      const now = namespaces();
      expect(now).not.toContain(`upcall-${gone}-0`);
      expect(now).toContain(`upcall-${sleeper.pid!}-0`);
      expect(now).toContain(link.namespace);
    } finally {
      await link.destroy();
    }
  });
});
