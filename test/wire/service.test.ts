import { describe, expect, it } from 'vitest';
import { emitServiceMessage, parseServiceMessage, SERVICE_HEADER_LENGTH, type ServiceMessage } from '../../src/wire/service.js';
import { SAMPLES, V1_SAMPLES } from './service-samples.js';

const bytes = (...b: number[]) => new Uint8Array(b);

function roundTrip(m: ServiceMessage): ServiceMessage {
  const p = parseServiceMessage(emitServiceMessage(m));
  if (!p.ok) throw new Error(p.reason);
  return p.message;
}

describe('service wire format', () => {
  it('parses what it emits, for every kind', () => {
    for (const m of SAMPLES) expect(roundTrip(m)).toEqual(m);
  });

  it('lays out the common header: magic, version, kind, checksum, length', () => {
    const b = emitServiceMessage(SAMPLES[5]!);
    expect([...b.subarray(0, 4)]).toEqual([0x53, 0x56, 2, 4]);
    expect((b[6]! << 24) | (b[7]! << 16) | (b[8]! << 8) | b[9]!).toBe(b.length);
    // lookup: queryId u32, str8 'kv'
    expect(b.length).toBe(SERVICE_HEADER_LENGTH + 4 + 1 + 2);
  });

  it('parses a message inside a larger buffer at an offset', () => {
    const m = emitServiceMessage(SAMPLES[0]!);
    const big = new Uint8Array(m.length + 20);
    big.set(m, 7);
    const p = parseServiceMessage(big, 7, m.length);
    expect(p.ok && p.message).toEqual(SAMPLES[0]);
  });

  it('refuses bad bytes with a reason, never a throw', () => {
    const good = emitServiceMessage(SAMPLES[0]!);
    const edit = (i: number, v: number) => {
      const b = good.slice();
      b[i] = v;
      return b;
    };
    const reason = (b: Uint8Array) => {
      const p = parseServiceMessage(b);
      return p.ok ? 'ok' : p.reason;
    };
    expect(reason(bytes())).toBe('truncated');
    expect(reason(good.subarray(0, 12))).toBe('truncated');
    expect(reason(edit(0, 0x41))).toBe('bad-magic');
    expect(reason(edit(2, 3))).toBe('bad-version');
    expect(reason(edit(2, 0))).toBe('bad-version');
    expect(reason(edit(20, good[20]! ^ 1))).toBe('bad-checksum');
    const extra = new Uint8Array(good.length + 1);
    extra.set(good);
    expect(reason(extra)).toBe('trailing-bytes');
    expect(parseServiceMessage(good, 5, good.length).ok).toBe(false);
  });

  it('checks the fields inside a well-framed message', () => {
    // A well-checksummed message whose kind is unknown, or whose fields do not fill it exactly.
    const reframe = (kind: number, body: number[]) => {
      const b = new Uint8Array(SERVICE_HEADER_LENGTH + body.length);
      b.set([0x53, 0x56, 2, kind]);
      b[9] = b.length;
      b.set(body, SERVICE_HEADER_LENGTH);
      let sum = 0;
      for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      const c = ~sum & 0xffff;
      b[4] = c >>> 8;
      b[5] = c & 0xff;
      return parseServiceMessage(b);
    };
    expect(reframe(9, [])).toEqual({ ok: false, reason: 'bad-kind' });
    expect(reframe(4, [0, 0, 0, 1])).toEqual({ ok: false, reason: 'truncated' });
    expect(reframe(4, [0, 0, 0, 1, 0])).toEqual({ ok: false, reason: 'no-service' });
    expect(reframe(4, [0, 0, 0, 1, 1, 0x41, 0])).toEqual({ ok: false, reason: 'trailing-bytes' });
    expect(reframe(4, [0, 0, 0, 1, 2, 0xc3, 0x28])).toEqual({ ok: false, reason: 'bad-utf8' });
    expect(reframe(3, [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 7, 0, 0])).toEqual({ ok: false, reason: 'bad-ack' });
  });

  it('lays out an offer\'s address with its family: none, IPv4, IPv6', () => {
    // After service str8 'kv' (3), serverId u32, load u16, ttl u32: the family byte at 10 + 13.
    const at = SERVICE_HEADER_LENGTH + 13;
    const sender = emitServiceMessage(SAMPLES[7]!);
    expect([...sender.subarray(at)]).toEqual([0, 0x1c, 0x84]);
    const v4 = emitServiceMessage(SAMPLES[6]!);
    expect([...v4.subarray(at)]).toEqual([4, 10, 0, 0, 2, 0x1c, 0x84]);
    const v6 = emitServiceMessage(SAMPLES[8]!);
    expect(v6[at]).toBe(6);
    expect([...v6.subarray(at + 1, at + 17)]).toEqual([0xfd, ...new Array<number>(14).fill(0), 2]);
    expect(v6.length).toBe(at + 1 + 16 + 2);
  });

  it('still parses version 1 messages (their offers relay IPv4 addresses, 0 for the sender)', () => {
    for (const { hex, message } of V1_SAMPLES) {
      const p = parseServiceMessage(Uint8Array.from(Buffer.from(hex, 'hex')));
      expect(p.ok && p.message).toEqual(message);
    }
  });

  it('refuses an offer whose address family is neither 0, 4 nor 6', () => {
    const b = emitServiceMessage(SAMPLES[6]!);
    const at = SERVICE_HEADER_LENGTH + 13;
    b[at] = 5;
    b[4] = 0;
    b[5] = 0;
    let sum = 0;
    for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const c = ~sum & 0xffff;
    b[4] = c >>> 8;
    b[5] = c & 0xff;
    expect(parseServiceMessage(b)).toEqual({ ok: false, reason: 'bad-family' });
  });

  it('refuses to emit fields too long for the format (a programmer error)', () => {
    expect(() => emitServiceMessage({ kind: 'lookup', queryId: 1, service: 'x'.repeat(256) })).toThrow(RangeError);
    expect(() => emitServiceMessage({ kind: 'offer', service: 'kv', serverId: 1, load: 0, ttlMs: 1, address: new Uint8Array(4), port: 1 })).toThrow(RangeError);
  });
});
