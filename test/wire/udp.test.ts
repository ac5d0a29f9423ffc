import { describe, expect, it } from 'vitest';
import { parseIp4 } from '../../src/wire/addr.js';
import { BufferPool } from '../../src/wire/buffer.js';
import {
  computeUdpChecksum, emitUdp, parseUdp, setUdpChecksum, udpChecksumOk, writeUdpHeader,
} from '../../src/wire/udp.js';

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

const SRC = parseIp4('192.168.0.2');
const DST = parseIp4('192.168.0.1');
// 1024 -> 53, 'hello'; checksum worked out independently.
const DGRAM = Uint8Array.from([...hex('0400 0035 000d 3679'), ...new TextEncoder().encode('hello')]);

describe('UDP', () => {
  it('parses a datagram and checks its checksum over the pseudo-header', () => {
    const r = parseUdp(DGRAM, 0, DGRAM.length);
    expect(r).toEqual({ ok: true, headerLength: 8, header: { srcPort: 1024, dstPort: 53, length: 13, checksum: 0x3679 } });
    expect(udpChecksumOk(DGRAM, 0, 13, SRC, DST)).toBe(true);
    expect(udpChecksumOk(DGRAM, 0, 13, SRC, parseIp4('192.168.0.3'))).toBe(false);
    expect(computeUdpChecksum(DGRAM, 0, 13, SRC, DST)).toBe(0x3679);
    if (r.ok) expect(emitUdp(r.header, DGRAM.subarray(8))).toEqual(DGRAM);
  });

  it('treats a zero checksum as none', () => {
    const none = new Uint8Array(DGRAM);
    none[6] = 0;
    none[7] = 0;
    expect(udpChecksumOk(none, 0, 13, SRC, DST)).toBe(true);
    const r = parseUdp(none, 0, 13);
    expect(r.ok && r.header.checksum).toBe(0);
  });

  it('sends a computed zero checksum as 0xffff', () => {
    const d = hex('0400 0035 000a 0000 7a51');
    expect(setUdpChecksum(d, 0, 10, SRC, DST)).toBe(0xffff);
    expect(udpChecksumOk(d, 0, 10, SRC, DST)).toBe(true);
  });

  it('writes header, length and checksum in front of the payload', () => {
    const pool = new BufferPool();
    const buf = pool.alloc(5);
    buf.payload().set(new TextEncoder().encode('hello'));
    writeUdpHeader(buf, { srcPort: 1024, dstPort: 53, length: 0, checksum: 0 }, SRC, DST);
    expect(buf.payload()).toEqual(DGRAM);
    const buf2 = pool.alloc(5);
    writeUdpHeader(buf2, { srcPort: 1, dstPort: 2, length: 0, checksum: 0 }, SRC, DST, false);
    expect(buf2.bytes[buf2.start + 6]).toBe(0);
    expect(buf2.bytes[buf2.start + 7]).toBe(0);
  });

  it('ignores IP payload beyond the UDP length and rejects impossible lengths', () => {
    const longer = new Uint8Array(DGRAM.length + 3);
    longer.set(DGRAM);
    expect(parseUdp(longer, 0, longer.length).ok).toBe(true);
    const short = new Uint8Array(DGRAM);
    short[5] = 7;
    expect(parseUdp(short, 0, short.length)).toEqual({ ok: false, reason: 'bad-length' });
  });

  it('fails, never throws, at every truncation', () => {
    for (let n = 0; n < DGRAM.length; n++) expect(parseUdp(DGRAM, 0, n)).toEqual({ ok: false, reason: 'truncated' });
    expect(parseUdp(DGRAM, 10, 8)).toEqual({ ok: false, reason: 'out-of-bounds' });
  });
});
