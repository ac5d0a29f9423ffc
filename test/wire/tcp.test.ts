import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIp4 } from '../../src/wire/addr.js';
import { BufferError, BufferPool } from '../../src/wire/buffer.js';
import {
  TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_NS, TCP_OPTION_NOP, TCP_PSH, TCP_SYN, computeTcpChecksum, emitTcp,
  encodeTcpOptions, formatTcpFlags, parseTcp, parseTcpOptions, tcpChecksumOk, tcpHeaderLength, tcpOptionValues,
  tcpOptionsLength, writeTcpHeader, type TcpHeader, type TcpOption,
} from '../../src/wire/tcp.js';

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

const CLIENT = parseIp4('192.168.0.2');
const SERVER = parseIp4('192.168.0.1');
// Frames 1 and 2 of telnet-raw.pcap, TCP header on (no payload).
const SYN = hex('04e6 0017 0453d86f 00000000 a002 7d78 5d40 0000 020405b4 0402 080a00160a2500000000 01 030300');
const SYN_ACK = hex('0017 04e6 c04087ce 0453d870 a012 43e0 065d 0000 020405a8 01 030300 0101 080a00054b6300160a25');

describe('TCP header', () => {
  it('parses a real SYN with its options', () => {
    const r = parseTcp(SYN, 0, SYN.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.headerLength).toBe(40);
    const h = r.header;
    expect(h).toMatchObject({
      srcPort: 1254, dstPort: 23, seq: 0x0453d86f, ack: 0, flags: TCP_SYN, reserved: 0, window: 0x7d78,
      checksum: 0x5d40, urgentPointer: 0,
    });
    expect(h.options).toEqual([
      { kind: 'mss', mss: 1460 },
      { kind: 'sack-permitted' },
      { kind: 'timestamps', tsVal: 0x160a25, tsEcr: 0 },
      { kind: 'nop' },
      { kind: 'wscale', shift: 0 },
    ]);
    expect(tcpOptionValues(h.options)).toEqual({
      mss: 1460, wscale: 0, sackPermitted: true, timestamps: { tsVal: 0x160a25, tsEcr: 0 }, malformed: false,
    });
    expect(emitTcp(h)).toEqual(SYN);
  });

  it('parses a real SYN-ACK and reproduces its NOP padding', () => {
    const r = parseTcp(SYN_ACK, 0, SYN_ACK.length);
    if (!r.ok) throw new Error(r.reason);
    expect(r.header.flags).toBe(TCP_SYN | TCP_ACK);
    expect(formatTcpFlags(r.header.flags)).toBe('ACK,SYN');
    expect(r.header.options.map((o) => o.kind)).toEqual(['mss', 'nop', 'wscale', 'nop', 'nop', 'timestamps']);
    expect(emitTcp(r.header)).toEqual(SYN_ACK);
  });

  it('checks the checksum over the pseudo-header', () => {
    expect(tcpChecksumOk(SYN, 0, SYN.length, CLIENT, SERVER)).toBe(true);
    expect(tcpChecksumOk(SYN, 0, SYN.length, SERVER, CLIENT)).toBe(true); // swapping addresses keeps the sum
    expect(tcpChecksumOk(SYN, 0, SYN.length, CLIENT, parseIp4('192.168.0.9'))).toBe(false);
    expect(computeTcpChecksum(SYN, 0, SYN.length, CLIENT, SERVER)).toBe(0x5d40);
    expect(tcpChecksumOk(SYN_ACK, 0, SYN_ACK.length, SERVER, CLIENT)).toBe(true);
  });

  it('builds the real SYN from a record into a pooled buffer, checksum computed', () => {
    const r = parseTcp(SYN, 0, SYN.length);
    if (!r.ok) throw new Error(r.reason);
    const buf = new BufferPool().alloc(0, 'syn');
    writeTcpHeader(buf, { ...r.header, checksum: 0 }, CLIENT, SERVER);
    expect(buf.payload()).toEqual(SYN);
    expect(tcpHeaderLength(r.header)).toBe(40);
  });

  it('computes the checksum over a payload too', () => {
    const buf = new BufferPool().alloc(3);
    buf.payload().set([0x6c, 0x73, 0x0d]);
    const h: TcpHeader = {
      srcPort: 1254, dstPort: 23, seq: 1, ack: 2, flags: TCP_ACK | TCP_PSH, reserved: 0, window: 1000, checksum: 0,
      urgentPointer: 0, options: [],
    };
    writeTcpHeader(buf, h, CLIENT, SERVER);
    expect(buf.length).toBe(23);
    expect(tcpChecksumOk(buf.bytes, buf.start, buf.length, CLIENT, SERVER)).toBe(true);
  });

  it('keeps ECN and NS flags and the reserved bits', () => {
    const b = new Uint8Array(SYN.subarray(0, 20));
    b[12] = 0x5f; // data offset 5, reserved 0b111, NS
    b[13] = 0xc1; // CWR ECE FIN
    const r = parseTcp(b, 0, 20);
    if (!r.ok) throw new Error(r.reason);
    expect(r.header.flags).toBe(TCP_NS | TCP_CWR | TCP_ECE | TCP_FIN);
    expect(r.header.reserved).toBe(7);
    expect(r.header.options).toEqual([]);
    expect(formatTcpFlags(r.header.flags)).toBe('NS,CWR,ECE,FIN');
    expect(emitTcp(r.header)).toEqual(b);
  });

  it('fails, never throws, at every truncation of the header', () => {
    for (const seg of [SYN, SYN_ACK]) {
      for (let n = 0; n < seg.length; n++) expect(parseTcp(seg, 0, n)).toEqual({ ok: false, reason: 'truncated' });
    }
    const b = new Uint8Array(SYN);
    b[12] = 0x40;
    expect(parseTcp(b, 0, b.length)).toEqual({ ok: false, reason: 'bad-data-offset' });
    expect(parseTcp(SYN, 1, SYN.length)).toEqual({ ok: false, reason: 'out-of-bounds' });
  });
});

describe('TCP options', () => {
  const roundTrip = (area: Uint8Array): TcpOption[] => {
    const opts = parseTcpOptions(area, 0, area.length);
    const out = new Uint8Array(area.length);
    expect(encodeTcpOptions(out, 0, opts)).toBe(area.length);
    expect(out).toEqual(area);
    expect(tcpOptionsLength(opts)).toBe(area.length);
    return opts;
  };

  it('keeps bytes after EOL', () => {
    expect(roundTrip(hex('020405b4 00 000000'))).toEqual([
      { kind: 'mss', mss: 1460 }, { kind: 'eol' }, { kind: 'padding', data: hex('000000') },
    ]);
    expect(roundTrip(hex('010100ff'))).toEqual([
      { kind: 'nop' }, { kind: 'nop' }, { kind: 'eol' }, { kind: 'padding', data: hex('ff') },
    ]);
  });

  it('parses SACK blocks', () => {
    const opts = roundTrip(hex('0101 050a 00000064 000000c8'));
    expect(opts[2]).toEqual({ kind: 'sack', blocks: [{ left: 100, right: 200 }] });
    expect(tcpOptionValues(opts).sack).toEqual([{ left: 100, right: 200 }]);
  });

  it('keeps unknown options and known kinds with odd lengths raw', () => {
    expect(roundTrip(hex('1e06 01020304 0402'))).toEqual([
      { kind: 'unknown', code: 30, data: hex('01020304') },
      { kind: 'sack-permitted' },
    ]);
    expect(roundTrip(hex('0205 05b4 00 000000'))[0]).toEqual({ kind: 'unknown', code: 2, data: hex('05b400') });
  });

  it('keeps a malformed tail verbatim and flags it', () => {
    // Length byte 0, length past the end, and a missing length byte.
    for (const area of [hex('01 08 00 01'), hex('0101 0209'), hex('010101 02')]) {
      const opts = roundTrip(area);
      expect(opts[opts.length - 1]!.kind).toBe('malformed');
      expect(tcpOptionValues(opts).malformed).toBe(true);
    }
  });

  it('reproduces any options area byte for byte', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }).chain((w) => fc.uint8Array({ minLength: 4 * w, maxLength: 4 * w })), (area) => {
        roundTrip(area);
      }),
      { numRuns: 500 },
    );
  });

  it('reproduces a whole header with random options', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }).chain((w) => fc.uint8Array({ minLength: 20 + 4 * w, maxLength: 20 + 4 * w })), (seg) => {
        seg[12] = (seg.length / 4) << 4 | (seg[12]! & 0x0f);
        const r = parseTcp(seg, 0, seg.length);
        expect(r.ok).toBe(true);
        if (r.ok) expect(emitTcp(r.header)).toEqual(seg);
      }),
      { numRuns: 500 },
    );
  });

  it('pads a hand-built list with zeros to a 4-byte boundary', () => {
    const h: TcpHeader = {
      srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: TCP_SYN, reserved: 0, window: 5, checksum: 0, urgentPointer: 0,
      options: [{ kind: 'mss', mss: 536 }, TCP_OPTION_NOP, { kind: 'wscale', shift: 7 }, { kind: 'sack-permitted' }],
    };
    const bytes = emitTcp(h);
    expect(bytes.length).toBe(32);
    expect(bytes[12]! >>> 4).toBe(8);
    expect(bytes.subarray(20)).toEqual(hex('02040218 01 030307 0402 0000'));
  });

  it('refuses options that do not fit (programmer error)', () => {
    const h: TcpHeader = {
      srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: 0, reserved: 0, window: 5, checksum: 0, urgentPointer: 0,
      options: [{ kind: 'sack', blocks: [1, 2, 3, 4, 5].map((i) => ({ left: i, right: i + 1 })) }],
    };
    expect(() => emitTcp(h)).toThrow(BufferError);
  });
});
