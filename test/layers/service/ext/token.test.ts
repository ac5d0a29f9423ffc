import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BindingGuard, readToken, TokenAuthority } from '../../../../src/layers/service/ext/token.js';

const SECRET = new Uint8Array(32).fill(7);
const need = { rights: ['read'] };

function authority(secret = SECRET): TokenAuthority {
  let n = 0;
  return new TokenAuthority({ secret, randomBytes: (k) => new Uint8Array(k).fill(++n) });
}

describe('tokens', () => {
  it('a granted token verifies and says what it grants', () => {
    const a = authority();
    const t = a.grant({ service: 'kv', rights: ['read', 'write'], expiresAt: 1000, scope: ['users/*'] });
    const v = a.verify(t, 'kv', 10);
    expect(v).toEqual({ ok: true, claims: { service: 'kv', rights: ['read', 'write'], binding: '0101010101010101', expiresAt: 1000, scope: ['users/*'] } });
    expect(readToken(t)?.rights).toEqual(['read', 'write']);
  });

  it('refuses a token with any byte changed (a forged right, a later expiry), one from another host, and garbage', () => {
    const a = authority();
    const t = a.grant({ service: 'kv', rights: ['read'], expiresAt: 1000 });
    for (let i = 0; i < t.length; i++) {
      const f = t.slice();
      f[i]! ^= 0x01;
      expect(a.verify(f, 'kv', 0)).toEqual({ ok: false, reason: 'token-forged' });
    }
    const other = authority(new Uint8Array(32).fill(8)).grant({ service: 'kv', rights: ['read'], expiresAt: 1000 });
    expect(a.verify(other, 'kv', 0)).toEqual({ ok: false, reason: 'token-forged' });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      expect(a.verify(bytes, 'kv', 0)).toEqual({ ok: false, reason: 'token-forged' });
    }), { seed: 1414 });
  });

  it('refuses an expired token, one for another service, a revoked binding', () => {
    const a = authority();
    const t = a.grant({ service: 'kv', rights: ['read'], expiresAt: 1000 });
    expect(a.verify(t, 'kv', 1001)).toEqual({ ok: false, reason: 'token-expired' });
    expect(a.verify(t, 'files', 0)).toEqual({ ok: false, reason: 'token-service' });
    a.revoke(readToken(t)!.binding);
    expect(a.verify(t, 'kv', 0)).toEqual({ ok: false, reason: 'token-revoked' });
  });
});

describe('binding guard', () => {
  it('verifies the MAC once per binding, then lets calls through on the fast path', () => {
    const a = authority();
    const g = new BindingGuard(a);
    const t = a.grant({ service: 'kv', rights: ['read'], expiresAt: 1000 });
    for (let i = 0; i < 100; i++) expect(g.check('10.0.0.1:5000', t, 'kv', need, i).ok).toBe(true);
    expect(g.stats).toMatchObject({ verified: 1, fastPath: 99, rejected: 0 });
    expect(a.stats.verified).toBe(1);
  });

  it('counts and names each refusal', () => {
    const a = authority();
    const g = new BindingGuard(a);
    const t = a.grant({ service: 'kv', rights: ['read'], expiresAt: 1000 });
    const forged = t.slice();
    forged[forged.length - 1]! ^= 0xff;
    const reasons = [
      g.check('p', undefined, 'kv', need, 0),
      g.check('p', forged, 'kv', need, 0),
      g.check('p', t, 'files', need, 0),
      g.check('p', t, 'kv', { rights: ['write'] }, 0),
      g.check('p', t, 'kv', need, 2000),
    ].map((c) => (c.ok ? 'ok' : c.reason));
    expect(reasons).toEqual(['token-missing', 'token-forged', 'token-service', 'token-rights', 'token-expired']);
    expect(g.stats.rejected).toBe(5);
    expect([...g.stats.rejections]).toEqual([['token-missing', 1], ['token-forged', 1], ['token-service', 1], ['token-rights', 1], ['token-expired', 1]]);
  });

  it('a trusted binding stops being trusted when it expires or is revoked', () => {
    const a = authority();
    const g = new BindingGuard(a);
    const t = a.grant({ service: 'kv', rights: ['read'], expiresAt: 1000 });
    expect(g.check('p', t, 'kv', need, 0).ok).toBe(true);
    expect(g.check('p', t, 'kv', need, 1).ok).toBe(true);
    expect(g.check('p', t, 'kv', need, 1001)).toEqual({ ok: false, reason: 'token-expired' });
    const t2 = a.grant({ service: 'kv', rights: ['read'], expiresAt: 5000 });
    expect(g.check('p', t2, 'kv', need, 0).ok).toBe(true);
    a.revoke(readToken(t2)!.binding);
    expect(g.check('p', t2, 'kv', need, 1)).toEqual({ ok: false, reason: 'token-revoked' });
  });

  it('a trusted binding id with a different MAC is verified afresh (and refused if forged)', () => {
    const a = authority();
    const g = new BindingGuard(a);
    const t = a.grant({ service: 'kv', rights: ['read'], expiresAt: 1000 });
    expect(g.check('p', t, 'kv', need, 0).ok).toBe(true);
    // Same binding id, rights widened by hand: the body changed, the old MAC no longer fits.
    const widened = a.grant({ service: 'kv', rights: ['read', 'admin'], expiresAt: 1000, binding: readToken(t)!.binding });
    const forged = widened.slice();
    forged.set(t.subarray(t.length - 32), forged.length - 32);
    expect(g.check('p', forged, 'kv', { rights: ['admin'] }, 1)).toEqual({ ok: false, reason: 'token-forged' });
  });

  it('the table of trusted bindings stays bounded', () => {
    const a = authority();
    const g = new BindingGuard(a, 8);
    for (let i = 0; i < 50; i++) g.check(`p${i}`, a.grant({ service: 'kv', rights: ['read'], expiresAt: 10 }), 'kv', need, 0);
    expect(g.size).toBe(8);
  });

  it('a call without a token requirement needs no token', () => {
    const g = new BindingGuard(authority());
    expect(g.check('p', undefined, 'kv', undefined, 0)).toEqual({ ok: true, claims: undefined });
  });
});
