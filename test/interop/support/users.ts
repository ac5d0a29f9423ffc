/**
 * Throwaway login users made by the telnetd test are recorded here (one file
 * per user, holding the pid of the process that made it), so a run killed
 * before its cleanup does not leave an account behind: the global teardown
 * removes the users whose maker is gone.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const USER_MARKERS = path.join(tmpdir(), 'upcall-interop-users');

export function sweepUsers(alive: (pid: number) => boolean): void {
  if (!existsSync(USER_MARKERS)) return;
  for (const name of readdirSync(USER_MARKERS)) {
    if (!/^uit[0-9a-f]{8}$/.test(name)) continue;
    const file = path.join(USER_MARKERS, name);
    const pid = Number(readFileSync(file, 'utf8'));
    if (Number.isInteger(pid) && alive(pid)) continue;
    if (spawnSync('id', [name]).status === 0) {
      spawnSync('userdel', ['-f', name]);
      console.warn(`interop: removed user ${name} left by an earlier run`);
    }
    rmSync(file, { force: true });
  }
}
