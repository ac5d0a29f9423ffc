import { describe, expect, it } from 'vitest';
import { emitTmp, parseTmp, runCustomProtocol, TMP_ACK, TMP_DATA } from '../../apps/examples/custom-protocol.js';

describe('example: a made-up protocol on IP protocol 253', () => {
  it('parses what it emits, and refuses damaged headers', () => {
    const bytes = emitTmp(TMP_DATA, 513, new Uint8Array([1, 2, 3]));
    const r = parseTmp(bytes, 0, bytes.length);
    expect(r.ok && r.header).toEqual({ type: TMP_DATA, seq: 513, length: 11, checksum: (bytes[6]! << 8) | bytes[7]! });
    const ack = emitTmp(TMP_ACK, 1, new Uint8Array(0));
    expect(parseTmp(ack, 0, ack.length).ok).toBe(true);
    const bad = bytes.slice();
    bad[9]! ^= 4;
    expect(parseTmp(bad, 0, bad.length)).toEqual({ ok: false, reason: 'bad-checksum' });
    expect(parseTmp(bytes, 0, 5)).toEqual({ ok: false, reason: 'truncated' });
    const magic = bytes.slice();
    magic[0] = 0;
    expect(parseTmp(magic, 0, magic.length)).toEqual({ ok: false, reason: 'bad-magic' });
  });

  it('delivers every message in order over a lossy link, retransmitting as needed', async () => {
    const r = await runCustomProtocol(() => {});
    expect(r.received).toEqual(['one', 'two', 'three', 'four', 'five']);
    expect(r.delivered).toBe(5);
    expect(r.retransmissions).toBeGreaterThan(0);
  });

  it('is deterministic per seed', async () => {
    const a = await runCustomProtocol(() => {}, 11);
    const b = await runCustomProtocol(() => {}, 11);
    expect(b.lines).toEqual(a.lines);
  });
});
