/**
 * Accounts for the Telnet login, and the policy that slows down guessing.
 *
 * Users file (JSON, UTF-8):
 *
 *     { "users": [ { "name": "demo", "scrypt": "<salt-hex>:<N>:<r>:<p>:<hash-hex>" } ] }
 *
 * - `name`: 1..32 characters from [A-Za-z0-9_.-], not starting with '-' or '.';
 *   names are unique.
 * - `scrypt`: the output of `hashPassword`: salt (8..64 bytes, hex), the scrypt
 *   cost N (a power of two, 2..2^20), block size r (1..32), parallelism p (1..16),
 *   and the derived key (16..64 bytes, hex). The password is hashed as UTF-8 of
 *   its NFC form. Other members of a user object are ignored.
 *
 * Hashing runs on libuv's thread pool (`crypto.scrypt`), never on the event
 * loop; the `Sync` variants are for tools and tests.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export interface HashOptions extends Partial<ScryptParams> {
  /** Salt length in bytes (default 16). */
  saltBytes?: number;
  /** Derived key length in bytes (default 32). */
  keyBytes?: number;
}

/** What a stored hash says, once parsed. */
export interface StoredHash extends ScryptParams {
  salt: Buffer;
  hash: Buffer;
}

export const DEFAULT_SCRYPT: Readonly<ScryptParams> = { N: 16384, r: 8, p: 1 };

const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_MEMORY = 256 * 1024 * 1024;

type Check<T> = { ok: true; value: T } | { ok: false; reason: string };

function checkParams(N: number, r: number, p: number): string | null {
  if (!Number.isInteger(N) || N < 2 || N > MAX_N || (N & (N - 1)) !== 0) return `N must be a power of two in 2..${MAX_N}, got ${N}`;
  if (!Number.isInteger(r) || r < 1 || r > MAX_R) return `r must be in 1..${MAX_R}, got ${r}`;
  if (!Number.isInteger(p) || p < 1 || p > MAX_P) return `p must be in 1..${MAX_P}, got ${p}`;
  if (128 * N * r > MAX_MEMORY) return `N*r needs more than ${MAX_MEMORY / (1 << 20)} MiB`;
  return null;
}

/** Node refuses scrypt above 32 MiB unless told otherwise; the bound on file parameters is MAX_MEMORY. */
function maxmem(params: ScryptParams): number {
  return 128 * params.N * params.r + 128 * params.r * params.p + (1 << 20);
}

const HEX = /^(?:[0-9a-f]{2})+$/i;
const DECIMAL = /^[1-9][0-9]{0,7}$/;

/** Parses "<salt-hex>:<N>:<r>:<p>:<hash-hex>". */
export function parseStoredHash(stored: string): Check<StoredHash> {
  if (typeof stored !== 'string') return { ok: false, reason: 'scrypt hash must be a string' };
  const parts = stored.split(':');
  if (parts.length !== 5) return { ok: false, reason: 'scrypt hash must be "<salt-hex>:<N>:<r>:<p>:<hash-hex>"' };
  const [saltHex, nText, rText, pText, hashHex] = parts as [string, string, string, string, string];
  if (!HEX.test(saltHex) || saltHex.length < 16 || saltHex.length > 128) return { ok: false, reason: 'salt must be 8..64 bytes of hex' };
  if (!HEX.test(hashHex) || hashHex.length < 32 || hashHex.length > 128) return { ok: false, reason: 'hash must be 16..64 bytes of hex' };
  if (!DECIMAL.test(nText) || !DECIMAL.test(rText) || !DECIMAL.test(pText)) return { ok: false, reason: 'N, r and p must be decimal integers' };
  const N = Number(nText);
  const r = Number(rText);
  const p = Number(pText);
  const bad = checkParams(N, r, p);
  if (bad) return { ok: false, reason: bad };
  return { ok: true, value: { N, r, p, salt: Buffer.from(saltHex, 'hex'), hash: Buffer.from(hashHex, 'hex') } };
}

function resolveHashOptions(opts: HashOptions): { params: ScryptParams; saltBytes: number; keyBytes: number } {
  const params = { N: opts.N ?? DEFAULT_SCRYPT.N, r: opts.r ?? DEFAULT_SCRYPT.r, p: opts.p ?? DEFAULT_SCRYPT.p };
  const bad = checkParams(params.N, params.r, params.p);
  if (bad) throw new RangeError(bad);
  const saltBytes = opts.saltBytes ?? 16;
  const keyBytes = opts.keyBytes ?? 32;
  if (!Number.isInteger(saltBytes) || saltBytes < 8 || saltBytes > 64) throw new RangeError(`saltBytes must be 8..64, got ${saltBytes}`);
  if (!Number.isInteger(keyBytes) || keyBytes < 16 || keyBytes > 64) throw new RangeError(`keyBytes must be 16..64, got ${keyBytes}`);
  return { params, saltBytes, keyBytes };
}

const passwordBytes = (password: string) => Buffer.from(password.normalize('NFC'), 'utf8');

const format = (salt: Buffer, params: ScryptParams, hash: Buffer) =>
  `${salt.toString('hex')}:${params.N}:${params.r}:${params.p}:${hash.toString('hex')}`;

function derive(password: string, salt: Buffer, params: ScryptParams, keyBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(passwordBytes(password), salt, keyBytes, { ...params, maxmem: maxmem(params) }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function deriveSync(password: string, salt: Buffer, params: ScryptParams, keyBytes: number): Buffer {
  return scryptSync(passwordBytes(password), salt, keyBytes, { ...params, maxmem: maxmem(params) });
}

/** A fresh salted scrypt hash of `password`, in the users-file format. */
export async function hashPassword(password: string, opts: HashOptions = {}): Promise<string> {
  const { params, saltBytes, keyBytes } = resolveHashOptions(opts);
  const salt = randomBytes(saltBytes);
  return format(salt, params, await derive(password, salt, params, keyBytes));
}

export function hashPasswordSync(password: string, opts: HashOptions = {}): string {
  const { params, saltBytes, keyBytes } = resolveHashOptions(opts);
  const salt = randomBytes(saltBytes);
  return format(salt, params, deriveSync(password, salt, params, keyBytes));
}

function parsedOrThrow(stored: string | StoredHash): StoredHash {
  if (typeof stored !== 'string') return stored;
  const parsed = parseStoredHash(stored);
  if (!parsed.ok) throw new Error(`malformed stored password hash: ${parsed.reason}`);
  return parsed.value;
}

/** Whether `password` matches `stored`, compared in constant time. A malformed
 *  `stored` is a configuration error and throws (files are checked by `loadUsers`). */
export async function verifyPassword(password: string, stored: string | StoredHash): Promise<boolean> {
  const s = parsedOrThrow(stored);
  const key = await derive(password, s.salt, s, s.hash.length);
  return timingSafeEqual(key, s.hash);
}

export function verifyPasswordSync(password: string, stored: string | StoredHash): boolean {
  const s = parsedOrThrow(stored);
  return timingSafeEqual(deriveSync(password, s.salt, s, s.hash.length), s.hash);
}

// ---------------------------------------------------------------------------
// The users file

export class UsersFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsersFileError';
  }
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;

/** The accounts, validated. */
export class UserDb {
  private readonly byName: ReadonlyMap<string, StoredHash>;
  private decoy: StoredHash | null = null;

  constructor(users: ReadonlyMap<string, StoredHash>) {
    this.byName = users;
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /**
   * Checks a login. An unknown name costs the same scrypt work as a known one
   * (against a decoy hash), so timing does not reveal which names exist.
   */
  async authenticate(name: string, password: string): Promise<boolean> {
    const stored = this.byName.get(name);
    if (stored) return verifyPassword(password, stored);
    await verifyPassword(password, this.decoyHash());
    return false;
  }

  private decoyHash(): StoredHash {
    if (this.decoy === null) {
      // The costliest parameters on file, so the decoy takes as long as a real check.
      let params: ScryptParams = DEFAULT_SCRYPT;
      for (const s of this.byName.values()) if (s.N * s.r * s.p > params.N * params.r * params.p) params = s;
      this.decoy = { N: params.N, r: params.r, p: params.p, salt: randomBytes(16), hash: randomBytes(32) };
    }
    return this.decoy;
  }
}

/** Validates the text of a users file. Throws `UsersFileError` naming the first problem. */
export function parseUsers(text: string, source = 'users file'): UserDb {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsersFileError(`${source}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { users?: unknown }).users)) {
    throw new UsersFileError(`${source}: expected an object with a "users" array`);
  }
  const users = new Map<string, StoredHash>();
  (doc as { users: unknown[] }).users.forEach((entry, i) => {
    const where = `${source}: users[${i}]`;
    if (typeof entry !== 'object' || entry === null) throw new UsersFileError(`${where}: expected an object`);
    const { name, scrypt: stored } = entry as { name?: unknown; scrypt?: unknown };
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new UsersFileError(`${where}: "name" must be 1..32 characters of A-Z a-z 0-9 _ . - (not starting with . or -)`);
    }
    if (users.has(name)) throw new UsersFileError(`${where}: duplicate user "${name}"`);
    if (typeof stored !== 'string') throw new UsersFileError(`${where} ("${name}"): "scrypt" must be a string`);
    const parsed = parseStoredHash(stored);
    if (!parsed.ok) throw new UsersFileError(`${where} ("${name}"): ${parsed.reason}`);
    users.set(name, parsed.value);
  });
  return new UserDb(users);
}

/** Reads and validates a users file. */
export async function loadUsers(path: string): Promise<UserDb> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UsersFileError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseUsers(text, path);
}

// ---------------------------------------------------------------------------
// Guessing limits

export interface LoginLimiterOptions {
  /** Failed attempts after which the connection is closed. Default 3. */
  maxFailures?: number;
  /** Delay after the first failure. Default 1000 ms. */
  baseDelayMs?: number;
  /** Each further failure multiplies the delay by this. Default 2. */
  factor?: number;
  /** Ceiling of the delay. Default 8000 ms. */
  maxDelayMs?: number;
  /** Time allowed to log in at all, from `startedAt`. Default 60 000 ms; Infinity for none. */
  loginTimeoutMs?: number;
}

export type LoginCheck =
  | { kind: 'allow' }
  /** Too early after a failure: hold the attempt (or ignore it) until `untilMs`. */
  | { kind: 'wait'; untilMs: number }
  /** Too many failures or too slow: close the connection. */
  | { kind: 'close'; reason: 'too-many-failures' | 'timeout' };

export type FailureDecision =
  /** Say "Login incorrect" and accept the next attempt from `notBeforeMs`. */
  | { kind: 'retry'; notBeforeMs: number }
  | { kind: 'close'; reason: 'too-many-failures' };

/**
 * Per-connection login policy, as pure decisions: every time is passed in (the
 * stack's virtual clock), nothing is scheduled here.
 */
export class LoginLimiter {
  private fails = 0;
  private notBefore: number;
  private readonly maxFailures: number;
  private readonly baseDelayMs: number;
  private readonly factor: number;
  private readonly maxDelayMs: number;
  private readonly deadline: number;

  constructor(startedAt: number, options: LoginLimiterOptions = {}) {
    this.maxFailures = options.maxFailures ?? 3;
    this.baseDelayMs = options.baseDelayMs ?? 1000;
    this.factor = options.factor ?? 2;
    this.maxDelayMs = options.maxDelayMs ?? 8000;
    if (!Number.isInteger(this.maxFailures) || this.maxFailures < 1) throw new RangeError('maxFailures must be a positive integer');
    if (!(this.baseDelayMs >= 0) || !(this.factor >= 1) || !(this.maxDelayMs >= this.baseDelayMs)) {
      throw new RangeError('need baseDelayMs >= 0, factor >= 1 and maxDelayMs >= baseDelayMs');
    }
    this.deadline = startedAt + (options.loginTimeoutMs ?? 60_000);
    this.notBefore = startedAt;
  }

  get failures(): number {
    return this.fails;
  }

  /** May an attempt be made at `now`? */
  check(now: number): LoginCheck {
    if (this.fails >= this.maxFailures) return { kind: 'close', reason: 'too-many-failures' };
    if (now >= this.deadline) return { kind: 'close', reason: 'timeout' };
    if (now < this.notBefore) return { kind: 'wait', untilMs: this.notBefore };
    return { kind: 'allow' };
  }

  /** A failed attempt at `now`. */
  fail(now: number): FailureDecision {
    this.fails++;
    if (this.fails >= this.maxFailures) return { kind: 'close', reason: 'too-many-failures' };
    this.notBefore = now + this.delayAfter(this.fails);
    return { kind: 'retry', notBeforeMs: this.notBefore };
  }

  /** Delay a connection has to wait after `failures` failures (for messages and docs). */
  delayAfter(failures: number): number {
    return failures <= 0 ? 0 : Math.min(this.maxDelayMs, this.baseDelayMs * this.factor ** (failures - 1));
  }
}
