import { describe, expect, it } from 'vitest';
import { parseMac } from '../../src/wire/addr.js';
import { PacketBuffer } from '../../src/wire/buffer.js';
import {
  ARPHRD_ETHER, SLL_OUTGOING, emitSll, parseSll, sllSourceMac, writeSllHeader,
} from '../../src/wire/sll.js';

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

// An outgoing IPv4 packet as `tcpdump -i any` records it.
const COOKED = hex('0004 0001 0006 00a0cc3bbffa 0000 0800 4500');

describe('Linux cooked capture header', () => {
  it('parses every field', () => {
    const r = parseSll(COOKED, 0, COOKED.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.headerLength).toBe(16);
    expect(r.header.packetType).toBe(SLL_OUTGOING);
    expect(r.header.arphrdType).toBe(ARPHRD_ETHER);
    expect(r.header.addressLength).toBe(6);
    expect(r.header.protocol).toBe(0x0800);
    expect(sllSourceMac(r.header)).toBe(parseMac('00:a0:cc:3b:bf:fa'));
    expect(emitSll(r.header, COOKED.subarray(16))).toEqual(COOKED);
  });

  it('keeps address padding bytes so emit reproduces them', () => {
    const odd = hex('0000 0304 0002 abcd 1122334455ff 86dd');
    const r = parseSll(odd, 0, odd.length);
    expect(r.ok && sllSourceMac(r.header)).toBe(undefined);
    if (r.ok) expect(emitSll(r.header)).toEqual(odd);
  });

  it('fails, never throws, at every truncation of the header', () => {
    for (let n = 0; n < 16; n++) expect(parseSll(COOKED, 0, n)).toEqual({ ok: false, reason: 'truncated' });
    expect(parseSll(COOKED, 8, 16)).toEqual({ ok: false, reason: 'out-of-bounds' });
  });

  it('writes in front of a buffer\'s payload', () => {
    const buf = PacketBuffer.standalone(2, 16);
    buf.payload().set([0x45, 0x00]);
    const r = parseSll(COOKED, 0, COOKED.length);
    if (!r.ok) throw new Error(r.reason);
    expect(writeSllHeader(buf, r.header)).toBe(0);
    expect(buf.payload()).toEqual(COOKED);
  });
});
