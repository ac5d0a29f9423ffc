import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  LoginLimiter, UsersFileError, hashPassword, hashPasswordSync, loadUsers, parseStoredHash, parseUsers,
  verifyPassword, verifyPasswordSync,
} from '../../../src/layers/telnet/users.js';

// Cheap but real scrypt for everything except the shipped demo file.
const FAST = { N: 16, r: 1, p: 1 };

describe('password hashing', () => {
  it('hashes into the documented format and verifies only the right password', async () => {
    const stored = await hashPassword('s3cret', FAST);
    expect(stored).toMatch(/^[0-9a-f]{32}:16:1:1:[0-9a-f]{64}$/);
    expect(await verifyPassword('s3cret', stored)).toBe(true);
    expect(await verifyPassword('s3cret ', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('salts every hash', () => {
    const a = hashPasswordSync('same', FAST);
    const b = hashPasswordSync('same', FAST);
    expect(a).not.toBe(b);
    expect(verifyPasswordSync('same', a) && verifyPasswordSync('same', b)).toBe(true);
  });

  it('agrees between the async and sync variants, and treats Unicode forms alike', async () => {
    const stored = hashPasswordSync('caf\u00e9', FAST);
    expect(await verifyPassword('cafe\u0301', stored)).toBe(true); // NFD spelling of the same word
    const stored2 = await hashPassword('pässwörd', { ...FAST, saltBytes: 8, keyBytes: 16 });
    expect(verifyPasswordSync('pässwörd', stored2)).toBe(true);
  });

  it('rejects unsafe or nonsensical parameters', () => {
    expect(() => hashPasswordSync('x', { N: 1000 })).toThrow(/power of two/);
    expect(() => hashPasswordSync('x', { N: 1 << 21 })).toThrow(RangeError);
    expect(() => hashPasswordSync('x', { r: 0 })).toThrow(RangeError);
    expect(() => hashPasswordSync('x', { N: 1 << 20, r: 32 })).toThrow(/MiB/);
    expect(() => hashPasswordSync('x', { ...FAST, saltBytes: 4 })).toThrow(RangeError);
  });

  it('parses stored hashes strictly, with reasons', () => {
    const good = hashPasswordSync('x', FAST);
    expect(parseStoredHash(good).ok).toBe(true);
    const [salt, , , , hash] = good.split(':');
    const cases: [string, RegExp][] = [
      ['', /must be/],
      [`${salt}:16:1:1`, /must be/],
      [`zz${salt!.slice(2)}:16:1:1:${hash}`, /salt/],
      [`abcd:16:1:1:${hash}`, /salt/],
      [`${salt}:16:1:1:abc`, /hash/],
      [`${salt}:16.0:1:1:${hash}`, /decimal/],
      [`${salt}:0x10:1:1:${hash}`, /decimal/],
      [`${salt}:17:1:1:${hash}`, /power of two/],
      [`${salt}:16:1:99:${hash}`, /p must/],
    ];
    for (const [text, reason] of cases) {
      const r = parseStoredHash(text);
      expect(r.ok, text).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(reason);
    }
    expect(() => verifyPasswordSync('x', 'nonsense')).toThrow(/malformed stored password hash/);
  });
});

describe('users file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'users-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ships a demo account demo/demo with real scrypt parameters', async () => {
    const db = await loadUsers(path.resolve(process.cwd(), 'apps/data/users.json'));
    expect(db.names).toEqual(['demo']);
    expect(await db.authenticate('demo', 'demo')).toBe(true);
    expect(await db.authenticate('demo', 'Demo')).toBe(false);
  });

  it('loads a valid file and authenticates, spending scrypt work on unknown names too', async () => {
    const file = path.join(dir, 'ok.json');
    writeFileSync(file, JSON.stringify({ users: [
      { name: 'alice', scrypt: hashPasswordSync('wonderland', FAST), comment: 'ignored' },
      { name: 'bob_2', scrypt: hashPasswordSync('builder', FAST) },
    ] }));
    const db = await loadUsers(file);
    expect(db.has('alice') && db.has('bob_2')).toBe(true);
    expect(await db.authenticate('alice', 'wonderland')).toBe(true);
    expect(await db.authenticate('alice', 'builder')).toBe(false);
    expect(await db.authenticate('mallory', 'wonderland')).toBe(false);
    expect(await db.authenticate('', '')).toBe(false);
  });

  it('rejects malformed files with an error naming the entry and the problem', async () => {
    const h = hashPasswordSync('x', FAST);
    const bad: [string, RegExp][] = [
      ['{', /not valid JSON/],
      ['[]', /"users" array/],
      ['{"users": {}}', /"users" array/],
      ['{"users": [42]}', /users\[0\]: expected an object/],
      [JSON.stringify({ users: [{ scrypt: h }] }), /users\[0\]: "name"/],
      [JSON.stringify({ users: [{ name: 'a b', scrypt: h }] }), /"name"/],
      [JSON.stringify({ users: [{ name: '-x', scrypt: h }] }), /"name"/],
      [JSON.stringify({ users: [{ name: 'a', scrypt: h }, { name: 'a', scrypt: h }] }), /users\[1\]: duplicate user "a"/],
      [JSON.stringify({ users: [{ name: 'a' }] }), /"scrypt" must be a string/],
      [JSON.stringify({ users: [{ name: 'a', scrypt: 'plaintext' }] }), /users\[0\] \("a"\): scrypt hash must be/],
    ];
    for (const [text, message] of bad) {
      expect(() => parseUsers(text, 'test.json'), text).toThrow(message);
      expect(() => parseUsers(text), text).toThrow(UsersFileError);
    }
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, bad[7]![0]);
    await expect(loadUsers(file)).rejects.toThrow(/bad\.json: users\[1\]: duplicate/);
    await expect(loadUsers(path.join(dir, 'missing.json'))).rejects.toThrow(/cannot read \(ENOENT\)/);
  });

  it('accepts an empty users list (nobody can log in)', async () => {
    const db = parseUsers('{"users": []}');
    expect(db.names).toEqual([]);
    expect(await db.authenticate('demo', 'demo')).toBe(false);
  });
});

describe('LoginLimiter', () => {
  it('delays each retry longer and closes after the third failure', () => {
    const t0 = 5_000;
    const l = new LoginLimiter(t0);
    expect(l.check(t0)).toEqual({ kind: 'allow' });
    expect(l.fail(t0 + 100)).toEqual({ kind: 'retry', notBeforeMs: t0 + 1100 });
    expect(l.check(t0 + 1099)).toEqual({ kind: 'wait', untilMs: t0 + 1100 });
    expect(l.check(t0 + 1100)).toEqual({ kind: 'allow' });
    expect(l.fail(t0 + 2000)).toEqual({ kind: 'retry', notBeforeMs: t0 + 4000 });
    expect(l.failures).toBe(2);
    expect(l.fail(t0 + 5000)).toEqual({ kind: 'close', reason: 'too-many-failures' });
    expect(l.check(t0 + 100_000_000)).toEqual({ kind: 'close', reason: 'too-many-failures' });
  });

  it('caps the delay and honours a custom failure count', () => {
    const l = new LoginLimiter(0, { maxFailures: 10, baseDelayMs: 500, factor: 3, maxDelayMs: 4000, loginTimeoutMs: Infinity });
    const delays: number[] = [];
    let now = 0;
    for (let i = 0; i < 9; i++) {
      const d = l.fail(now);
      expect(d.kind).toBe('retry');
      if (d.kind === 'retry') {
        delays.push(d.notBeforeMs - now);
        now = d.notBeforeMs;
      }
    }
    expect(delays).toEqual([500, 1500, 4000, 4000, 4000, 4000, 4000, 4000, 4000]);
    expect(l.fail(now).kind).toBe('close');
  });

  it('closes a connection that takes too long to log in', () => {
    const l = new LoginLimiter(1000, { loginTimeoutMs: 30_000 });
    expect(l.check(30_999)).toEqual({ kind: 'allow' });
    expect(l.check(31_000)).toEqual({ kind: 'close', reason: 'timeout' });
  });

  it('rejects nonsensical settings', () => {
    expect(() => new LoginLimiter(0, { maxFailures: 0 })).toThrow(RangeError);
    expect(() => new LoginLimiter(0, { factor: 0.5 })).toThrow(RangeError);
    expect(() => new LoginLimiter(0, { baseDelayMs: 10_000, maxDelayMs: 1000 })).toThrow(RangeError);
  });
});
