import { describe, expect, it } from 'vitest';
import { parseIp4, parseMac } from '../../src/wire/addr.js';
import { BufferPool } from '../../src/wire/buffer.js';
import { ARP_REPLY, ARP_REQUEST, emitArp, parseArp, writeArp, type ArpPacket } from '../../src/wire/arp.js';
import { ETHERTYPE_ARP, emitEthernet, parseEthernet, writeEthernetHeader } from '../../src/wire/ethernet.js';

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

// who-has 192.168.0.1 tell 192.168.0.2, as Wireshark shows it (with the 18 bytes of Ethernet padding).
const REQUEST_FRAME = hex(
  'ffffffffffff 00a0cc3bbffa 0806' +
    '0001 0800 06 04 0001 00a0cc3bbffa c0a80002 000000000000 c0a80001' +
    '000000000000000000000000000000000000',
);

describe('ARP', () => {
  it('parses a request from bytes', () => {
    const eth = parseEthernet(REQUEST_FRAME, 0, REQUEST_FRAME.length);
    if (!eth.ok) throw new Error(eth.reason);
    expect(eth.header.ethertype).toBe(ETHERTYPE_ARP);
    const r = parseArp(REQUEST_FRAME, 14, REQUEST_FRAME.length - 14);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.headerLength).toBe(28);
    expect(r.header).toEqual({
      operation: ARP_REQUEST,
      senderMac: parseMac('00:a0:cc:3b:bf:fa'),
      senderIp: parseIp4('192.168.0.2'),
      targetMac: 0,
      targetIp: parseIp4('192.168.0.1'),
    });
    expect(emitArp(r.header)).toEqual(REQUEST_FRAME.subarray(14, 42));
    expect(emitEthernet(eth.header, REQUEST_FRAME.subarray(14))).toEqual(REQUEST_FRAME);
  });

  it('builds a reply into a pooled buffer', () => {
    const reply: ArpPacket = {
      operation: ARP_REPLY,
      senderMac: parseMac('00:00:c0:9f:a0:97'),
      senderIp: parseIp4('192.168.0.1'),
      targetMac: parseMac('00:a0:cc:3b:bf:fa'),
      targetIp: parseIp4('192.168.0.2'),
    };
    const buf = new BufferPool({ headroom: 64 }).alloc(0, 'arp reply');
    writeArp(buf, reply);
    writeEthernetHeader(buf, { dst: reply.targetMac, src: reply.senderMac, vlans: [], ethertype: ETHERTYPE_ARP });
    expect(buf.length).toBe(42);
    const back = parseArp(buf.bytes, buf.start + 14, 28);
    expect(back.ok && back.header).toEqual(reply);
  });

  it('rejects other hardware and protocol types', () => {
    const p = new Uint8Array(REQUEST_FRAME.subarray(14, 42));
    p[1] = 6; // IEEE 802
    expect(parseArp(p, 0, 28)).toEqual({ ok: false, reason: 'unsupported-hardware' });
    p[1] = 1;
    p[2] = 0x86;
    p[3] = 0xdd;
    expect(parseArp(p, 0, 28)).toEqual({ ok: false, reason: 'unsupported-protocol' });
    p[2] = 0x08;
    p[3] = 0x00;
    p[4] = 8;
    expect(parseArp(p, 0, 28)).toEqual({ ok: false, reason: 'bad-address-length' });
  });

  it('fails, never throws, at every truncation', () => {
    const p = REQUEST_FRAME.subarray(14, 42);
    for (let n = 0; n < 28; n++) {
      const r = parseArp(p, 0, n);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toBe('truncated');
    }
  });
});
