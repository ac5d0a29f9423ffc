import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMac } from '../../src/wire/addr.js';
import { BufferPool } from '../../src/wire/buffer.js';
import {
  ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_QINQ, ETHERTYPE_VLAN, emitEthernet, ethernetHeaderLength, isEthertype,
  parseEthernet, vlanId, vlanPriority, writeEthernetHeader, type EthernetHeader,
} from '../../src/wire/ethernet.js';
import { parsePcapBuffer } from '../../src/trace/pcap.js';

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

// Frame 1 of telnet-raw.pcap (a SYN), header and first IP bytes.
const FRAME = hex('0000c09fa097 00a0cc3bbffa 0800 4510003c16a74000');

describe('Ethernet II', () => {
  it('parses addresses and ethertype from real bytes', () => {
    const r = parseEthernet(FRAME, 0, FRAME.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.headerLength).toBe(14);
    expect(r.header).toEqual({
      dst: parseMac('00:00:c0:9f:a0:97'),
      src: parseMac('00:a0:cc:3b:bf:fa'),
      vlans: [],
      ethertype: ETHERTYPE_IPV4,
    });
    expect(emitEthernet(r.header, FRAME.subarray(14))).toEqual(FRAME);
  });

  it('steps over 802.1Q and QinQ tags but keeps them for emit', () => {
    const tagged = hex('ffffffffffff 020000000001 88a8 2064 8100 a00a 0806 0001');
    const r = parseEthernet(tagged, 0, tagged.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.headerLength).toBe(22);
    expect(r.header.ethertype).toBe(ETHERTYPE_ARP);
    expect(r.header.vlans).toEqual([
      { tpid: ETHERTYPE_QINQ, tci: 0x2064 },
      { tpid: ETHERTYPE_VLAN, tci: 0xa00a },
    ]);
    expect(vlanId(r.header.vlans[1]!)).toBe(10);
    expect(vlanPriority(r.header.vlans[1]!)).toBe(5);
    expect(emitEthernet(r.header, tagged.subarray(22))).toEqual(tagged);
  });

  it('reports an 802.3 length field unchanged for the caller to judge', () => {
    const llc = hex('0180c2000000 020000000001 0026 4242');
    const r = parseEthernet(llc, 0, llc.length);
    expect(r.ok && r.header.ethertype).toBe(0x26);
    expect(isEthertype(0x26)).toBe(false);
    expect(isEthertype(ETHERTYPE_IPV4)).toBe(true);
  });

  it('fails, never throws, at every truncation inside the header', () => {
    const tagged = hex('ffffffffffff 020000000001 8100 000a 0800');
    for (const frame of [FRAME.subarray(0, 14), tagged]) {
      const padded = new Uint8Array(frame.length + 8);
      padded.set(frame, 3);
      for (let n = 0; n < frame.length; n++) {
        const r = parseEthernet(padded, 3, n);
        expect(r).toEqual({ ok: false, reason: 'truncated' });
      }
    }
  });

  it('rejects absurd tag stacks and bad ranges', () => {
    const many = new Uint8Array(14 + 4 * 9);
    for (let i = 0; i < 10; i++) {
      many[12 + i * 4] = 0x81;
      many[13 + i * 4] = 0x00;
    }
    expect(parseEthernet(many, 0, many.length)).toEqual({ ok: false, reason: 'too-many-vlan-tags' });
    expect(parseEthernet(FRAME, 10, FRAME.length)).toEqual({ ok: false, reason: 'out-of-bounds' });
  });

  it('writes the header into a buffer\'s headroom in front of the payload', () => {
    const pool = new BufferPool({ headroom: 32 });
    const buf = pool.alloc(4);
    buf.payload().set([1, 2, 3, 4]);
    const h: EthernetHeader = { dst: 0x0000c09fa097, src: 0x00a0cc3bbffa, vlans: [{ tpid: 0x8100, tci: 7 }], ethertype: 0x0800 };
    const start = writeEthernetHeader(buf, h);
    expect(start).toBe(32 - 18);
    expect(ethernetHeaderLength(h)).toBe(18);
    expect(buf.payload()).toEqual(emitEthernet(h, new Uint8Array([1, 2, 3, 4])));
  });

  it('round-trips every frame of the real captures', () => {
    for (const name of ['telnet-raw.pcap', 'telnet-cooked.pcap']) {
      const file = readFileSync(path.resolve(process.cwd(), 'test/fixtures/traces', name));
      for (const rec of parsePcapBuffer(file)) {
        const r = parseEthernet(rec.data, 0, rec.data.length);
        expect(r.ok).toBe(true);
        if (!r.ok) continue;
        expect(r.header.ethertype).toBe(ETHERTYPE_IPV4);
        expect(emitEthernet(r.header, rec.data.subarray(r.headerLength))).toEqual(new Uint8Array(rec.data));
      }
    }
  });
});
