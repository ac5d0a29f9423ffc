/**
 * Security tokens: granted by the server's host, checked by its service layer.
 *
 * A token is a record (service, rights, binding id, expiry, scope) followed by
 * an HMAC-SHA256 of the record under a secret only the granting host holds, so
 * a client can carry it but cannot make or alter one. Checking a MAC on every
 * call would put a hash on the fast path; instead, like LRPC's binding object,
 * the server verifies a token once per binding and from then on trusts the
 * binding (a map lookup and a byte compare with the token it verified) until it expires or
 * is revoked.
 *
 * Layout (all lengths in bytes, big-endian):
 *   u8 version=1 | u8 len, binding | u8 len, service | f64 expiresAt
 *   | u8 n, n x (u8 len, right) | u16 n, n x (u16 len, scope item) | 32 MAC
 * The binding id comes first so the fast path finds it without decoding the rest.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TokenClaims, TokenRejection, TokenRequirement } from './types.js';

const VERSION = 1;
const MAC_LEN = 32;
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export interface GrantRequest {
  readonly service: string;
  readonly rights: readonly string[];
  /** Absolute time on the server host's clock (ms). */
  readonly expiresAt: number;
  /** Binding id; a fresh unguessable one by default. */
  readonly binding?: string;
  readonly scope?: readonly string[];
}

export type Verified = { readonly ok: true; readonly claims: TokenClaims } | { readonly ok: false; readonly reason: TokenRejection };

export interface AuthorityOptions {
  /** The host's secret (at least 32 bytes recommended); default 32 random bytes. */
  readonly secret?: Uint8Array;
  /** Source of binding ids; default node:crypto randomBytes. */
  readonly randomBytes?: (n: number) => Uint8Array;
}

/** The granting side: one per server host; holds the secret. */
export class TokenAuthority {
  private readonly secret: Uint8Array;
  private readonly random: (n: number) => Uint8Array;
  /** Revoked binding ids, kept until the tokens they name would have expired anyway. */
  private readonly revoked = new Map<string, number>();
  /** Expiry of every binding granted and not yet expired (so a revocation knows how long to remember). */
  private readonly granted = new Map<string, number>();
  readonly stats = { granted: 0, verified: 0, revoked: 0 };

  constructor(opts: AuthorityOptions = {}) {
    this.secret = opts.secret ?? randomBytes(32);
    this.random = opts.randomBytes ?? ((n) => randomBytes(n));
  }

  grant(req: GrantRequest): Uint8Array {
    const binding = req.binding ?? Buffer.from(this.random(8)).toString('hex');
    const body = encodeBody(binding, req.service, req.expiresAt, req.rights, req.scope ?? []);
    const out = new Uint8Array(body.length + MAC_LEN);
    out.set(body, 0);
    out.set(this.mac(body), body.length);
    this.granted.set(binding, Math.max(this.granted.get(binding) ?? -Infinity, req.expiresAt));
    this.stats.granted++;
    return out;
  }

  /** Full check: MAC, service, revocation, expiry. Malformed bytes are a forgery, never a throw. */
  verify(token: Uint8Array, service: string, now: number): Verified {
    this.stats.verified++;
    if (token.length <= MAC_LEN) return { ok: false, reason: 'token-forged' };
    const body = token.subarray(0, token.length - MAC_LEN);
    const expect = this.mac(body);
    if (!timingSafeEqual(expect, token.subarray(token.length - MAC_LEN))) return { ok: false, reason: 'token-forged' };
    const claims = decodeBody(body);
    // A body under a valid MAC that does not decode was made by us: still refuse it.
    if (claims === null) return { ok: false, reason: 'token-forged' };
    if (this.isRevoked(claims.binding, now)) return { ok: false, reason: 'token-revoked' };
    if (claims.service !== service) return { ok: false, reason: 'token-service' };
    if (now > claims.expiresAt) return { ok: false, reason: 'token-expired' };
    return { ok: true, claims };
  }

  /** Refuse every token of `binding` from now on (and every binding already trusted). */
  revoke(binding: string, now = 0): void {
    this.prune(now);
    this.revoked.set(binding, this.granted.get(binding) ?? Infinity);
    this.stats.revoked++;
  }

  isRevoked(binding: string, now: number): boolean {
    if (this.revoked.size === 0) return false;
    const until = this.revoked.get(binding);
    return until !== undefined && now <= until;
  }

  private prune(now: number): void {
    for (const [b, at] of this.granted) if (at < now) this.granted.delete(b);
    for (const [b, at] of this.revoked) if (at < now) this.revoked.delete(b);
  }

  private mac(body: Uint8Array): Uint8Array {
    return createHmac('sha256', this.secret).update(body).digest();
  }
}

interface Trusted {
  readonly claims: TokenClaims;
  readonly rights: ReadonlySet<string>;
  /** The very bytes verified: anything else under the same id is checked afresh. */
  readonly token: Uint8Array;
}

export type Checked = { readonly ok: true; readonly claims: TokenClaims | undefined } | { readonly ok: false; readonly reason: TokenRejection };

export interface GuardStats {
  /** Calls let through without computing a MAC (binding already trusted). */
  fastPath: number;
  /** MACs computed (one per binding, plus every refused token). */
  verified: number;
  rejected: number;
  readonly rejections: Map<TokenRejection, number>;
}

/**
 * The server's check on the call path: trusted bindings per (peer, binding id).
 * Bounded: a trusted binding is dropped when it expires, is revoked, or when
 * the table is full (oldest first).
 */
export class BindingGuard {
  private readonly trusted = new Map<string, Trusted>();
  readonly stats: GuardStats = { fastPath: 0, verified: 0, rejected: 0, rejections: new Map() };

  constructor(
    readonly authority: TokenAuthority,
    private readonly maxBindings = 4096,
  ) {}

  get size(): number {
    return this.trusted.size;
  }

  /**
   * May `peer` make a call requiring `need` on `service` with `token`? No
   * requirement: always yes. Never throws; a refusal is counted with its reason.
   */
  check(peer: string, token: Uint8Array | undefined, service: string, need: TokenRequirement | undefined, now: number): Checked {
    if (need === undefined) return { ok: true, claims: undefined };
    if (token === undefined || token.length === 0) return this.refuse('token-missing');
    const binding = peekBinding(token);
    if (binding === null) return this.refuse('token-forged');
    const key = `${peer}|${binding}`;
    const t = this.trusted.get(key);
    if (t !== undefined) {
      if (t.claims.service === service && now <= t.claims.expiresAt && !this.authority.isRevoked(binding, now) && sameBytes(token, t.token)) {
        for (const r of need.rights) if (!t.rights.has(r)) return this.refuse('token-rights');
        this.stats.fastPath++;
        return { ok: true, claims: t.claims };
      }
      // Expired, revoked, or another token under the same id: verify it afresh.
      this.trusted.delete(key);
    }
    this.stats.verified++;
    const v = this.authority.verify(token, service, now);
    if (!v.ok) return this.refuse(v.reason);
    const rights = new Set(v.claims.rights);
    for (const r of need.rights) if (!rights.has(r)) return this.refuse('token-rights');
    if (this.trusted.size >= this.maxBindings) this.trusted.delete(this.trusted.keys().next().value!);
    this.trusted.set(key, { claims: v.claims, rights, token: token.slice() });
    return { ok: true, claims: v.claims };
  }

  private refuse(reason: TokenRejection): Checked {
    this.stats.rejected++;
    this.stats.rejections.set(reason, (this.stats.rejections.get(reason) ?? 0) + 1);
    return { ok: false, reason };
  }
}

/** Decode a token's claims without checking it (a client showing what it holds). Null if malformed. */
export function readToken(token: Uint8Array): TokenClaims | null {
  if (token.length <= MAC_LEN) return null;
  return decodeBody(token.subarray(0, token.length - MAC_LEN));
}

/** Compared from the end: the MAC differs first when anything does. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false;
  return true;
}

function peekBinding(token: Uint8Array): string | null {
  if (token.length < 2 + MAC_LEN || token[0] !== VERSION) return null;
  const n = token[1]!;
  if (2 + n + MAC_LEN > token.length) return null;
  return latin1(token, 2, n);
}

function latin1(b: Uint8Array, off: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(b[off + i]!);
  return s;
}

function encodeBody(binding: string, service: string, expiresAt: number, rights: readonly string[], scope: readonly string[]): Uint8Array {
  const parts: number[] = [VERSION];
  const short = (s: string, what: string): void => {
    const b = enc.encode(s);
    if (b.length > 255) throw new RangeError(`token ${what} longer than 255 bytes`);
    parts.push(b.length, ...b);
  };
  if (!/^[\x20-\x7e]*$/.test(binding)) throw new RangeError('token binding id must be printable ASCII');
  short(binding, 'binding id');
  short(service, 'service');
  const f = new DataView(new ArrayBuffer(8));
  f.setFloat64(0, expiresAt);
  parts.push(...new Uint8Array(f.buffer));
  if (rights.length > 255) throw new RangeError('token with more than 255 rights');
  parts.push(rights.length);
  for (const r of rights) short(r, 'right');
  if (scope.length > 0xffff) throw new RangeError('token scope too long');
  parts.push(scope.length >> 8, scope.length & 0xff);
  for (const s of scope) {
    const b = enc.encode(s);
    if (b.length > 0xffff) throw new RangeError('token scope item too long');
    parts.push(b.length >> 8, b.length & 0xff);
    for (const x of b) parts.push(x);
  }
  return Uint8Array.from(parts);
}

function decodeBody(b: Uint8Array): TokenClaims | null {
  let o = 0;
  const need = (n: number): boolean => o + n <= b.length;
  const str = (n: number): string | null => {
    if (!need(n)) return null;
    try {
      const s = dec.decode(b.subarray(o, o + n));
      o += n;
      return s;
    } catch {
      return null;
    }
  };
  if (!need(2) || b[0] !== VERSION) return null;
  o = 1;
  const binding = str(b[o++]!);
  if (binding === null || !need(1)) return null;
  const service = str(b[o++]!);
  if (service === null || !need(9)) return null;
  const expiresAt = new DataView(b.buffer, b.byteOffset + o, 8).getFloat64(0);
  o += 8;
  const nRights = b[o++]!;
  const rights: string[] = [];
  for (let i = 0; i < nRights; i++) {
    if (!need(1)) return null;
    const r = str(b[o++]!);
    if (r === null) return null;
    rights.push(r);
  }
  if (!need(2)) return null;
  const nScope = (b[o]! << 8) | b[o + 1]!;
  o += 2;
  const scope: string[] = [];
  for (let i = 0; i < nScope; i++) {
    if (!need(2)) return null;
    const n = (b[o]! << 8) | b[o + 1]!;
    o += 2;
    const s = str(n);
    if (s === null) return null;
    scope.push(s);
  }
  if (o !== b.length || Number.isNaN(expiresAt)) return null;
  return { binding, service, expiresAt, rights, scope };
}
