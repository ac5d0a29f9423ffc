/**
 * Bad bytes never escape the service layer's parser: random buffers, and real
 * messages with bytes changed, cut short or extended, either parse (and then
 * emit back to the same bytes) or fail with a reason; nothing throws. And
 * every message made from random fields survives emit and parse unchanged.
 * Version 1 messages (still read) are emitted back as version 2: for them the
 * check is that the message survives, not the bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emitServiceMessage, parseServiceMessage, type ServiceMessage } from '../../src/wire/service.js';
import { SAMPLES, V1_SAMPLES } from '../wire/service-samples.js';

const SEED = Number(process.env['FC_SEED'] ?? 7300);
const REASONS = new Set(['out-of-bounds', 'truncated', 'bad-magic', 'bad-version', 'bad-length', 'trailing-bytes', 'bad-checksum', 'bad-kind', 'bad-utf8', 'bad-ack', 'no-service', 'bad-family']);

function judge(b: Uint8Array): void {
  const p = parseServiceMessage(b);
  if (p.ok && b[2] === 1) expect(parseServiceMessage(emitServiceMessage(p.message))).toEqual(p);
  else if (p.ok) expect(emitServiceMessage(p.message)).toEqual(b);
  else expect(REASONS.has(p.reason), p.reason).toBe(true);
}

const u32 = fc.nat({ max: 0xffffffff });
const u16 = fc.nat({ max: 0xffff });
const name = fc.string({ minLength: 1, maxLength: 40 });
const blob = fc.uint8Array({ maxLength: 64 });
const address = fc.oneof(fc.constant(null), u32, fc.uint8Array({ minLength: 16, maxLength: 16 }));
const message: fc.Arbitrary<ServiceMessage> = fc.oneof(
  fc.record({ kind: fc.constant('request' as const), clientId: u32, seq: u32, serverId: u32, ackFloor: u32, deadlineMs: u32, flags: fc.nat({ max: 255 }), service: name, call: name, token: blob, body: blob }),
  fc.record({ kind: fc.constant('reply' as const), clientId: u32, seq: u32, serverId: u32, load: u16, body: blob }),
  fc.record({ kind: fc.constant('ack' as const), clientId: u32, seq: u32, serverId: u32, what: fc.constantFrom(0, 1), load: u16 }),
  fc.record({ kind: fc.constant('lookup' as const), queryId: u32, service: name }),
  fc.record({ kind: fc.constant('offer' as const), service: name, serverId: u32, load: u16, ttlMs: u32, address, port: u16 }),
  fc.record({ kind: fc.constant('failure' as const), clientId: u32, seq: u32, serverId: u32, load: u16, flags: fc.nat({ max: 255 }), reason: fc.string({ maxLength: 30 }), detail: fc.string({ maxLength: 100 }) }),
);

describe('service messages under fuzzing', () => {
  it('random bytes: a message or a reason, never a throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => judge(b)), { numRuns: 2000, seed: SEED });
  });

  it('real messages with bytes changed, cut or extended', () => {
    const all = [...SAMPLES.map((m) => emitServiceMessage(m)), ...V1_SAMPLES.map((s) => Uint8Array.from(Buffer.from(s.hex, 'hex')))];
    const mutant = fc.record({
      i: fc.nat({ max: all.length - 1 }),
      edits: fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 4 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      tail: fc.uint8Array({ maxLength: 8 }),
    });
    fc.assert(
      fc.property(mutant, ({ i, edits, cut, tail }) => {
        let b = all[i]!.slice();
        for (const [at, v] of edits) b[at % b.length] = v;
        if (cut !== undefined) b = b.subarray(0, cut % (b.length + 1));
        const out = new Uint8Array(b.length + tail.length);
        out.set(b);
        out.set(tail, b.length);
        judge(out);
      }),
      { numRuns: 3000, seed: SEED + 1 },
    );
  });

  it('random fields survive emit and parse', () => {
    fc.assert(
      fc.property(message, (m) => {
        const p = parseServiceMessage(emitServiceMessage(m));
        expect(p.ok && p.message).toEqual(m);
      }),
      { numRuns: 1000, seed: SEED + 2 },
    );
  });
});
