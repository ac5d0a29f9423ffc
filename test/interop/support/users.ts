/**
 * Throwaway login users made by the telnetd test are recorded here (one file
 * per user, holding the pid of the process that made it), so a run killed
 * before its cleanup does not leave an account behind: the global teardown
 * removes the users whose maker is gone.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * A user with no home directory and a random password; `remove` deletes it
 * (and its group). A marker file names the process that made it, so the
 * suite's global teardown removes it should this process die first.
 */
export function throwawayUser(): { name: string; password: string; remove(): void } {
  const name = `uit${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('base64url');
  mkdirSync(USER_MARKERS, { recursive: true });
  const marker = path.join(USER_MARKERS, name);
  writeFileSync(marker, String(process.pid));
  const add = spawnSync('useradd', ['-M', '-s', '/bin/sh', name], { encoding: 'utf8' });
  if (add.status !== 0) {
    rmSync(marker, { force: true });
    throw new Error(`useradd failed: ${add.stderr}`);
  }
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    // The login session is gone with the namespace's processes; -f in case one lingers.
    const del = spawnSync('userdel', ['-f', name], { encoding: 'utf8' });
    if (del.status !== 0) throw new Error(`userdel ${name} failed: ${del.stderr}`);
    rmSync(marker, { force: true });
  };
  const pw = spawnSync('chpasswd', [], { input: `${name}:${password}\n`, encoding: 'utf8' });
  if (pw.status !== 0) {
    remove();
    throw new Error(`chpasswd failed: ${pw.stderr}`);
  }
  return { name, password, remove };
}

export function userExists(name: string): boolean {
  return spawnSync('id', [name]).status === 0;
}
