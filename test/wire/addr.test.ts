import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BROADCAST_MAC, formatIp4, formatMac, ip4InSubnet, isBroadcastMac, isMulticastMac, macFromBytes, macToBytes,
  parseIp4, parseMac, readIp4, readMac, tryParseIp4, tryParseMac, writeIp4, writeMac,
} from '../../src/wire/addr.js';

describe('IPv4 addresses', () => {
  it('parses and formats dotted quads as unsigned 32-bit numbers', () => {
    expect(parseIp4('10.0.0.1')).toBe(0x0a000001);
    expect(parseIp4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIp4('192.168.0.2')).toBe(0xc0a80002);
    expect(formatIp4(0xc0a80001)).toBe('192.168.0.1');
    expect(formatIp4(0)).toBe('0.0.0.0');
  });

  it('rejects malformed text', () => {
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', 'a.b.c.d', ' 1.2.3.4', '1..2.3']) {
      expect(tryParseIp4(bad)).toBeUndefined();
      expect(() => parseIp4(bad)).toThrow(RangeError);
    }
  });

  it('round-trips every address through text and bytes', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), (ip) => {
        expect(parseIp4(formatIp4(ip))).toBe(ip);
        const b = new Uint8Array(6);
        writeIp4(b, 1, ip);
        expect(readIp4(b, 1)).toBe(ip);
      }),
    );
  });

  it('tests subnet membership', () => {
    expect(ip4InSubnet(parseIp4('192.168.0.7'), parseIp4('192.168.0.0'), 24)).toBe(true);
    expect(ip4InSubnet(parseIp4('192.168.1.7'), parseIp4('192.168.0.0'), 24)).toBe(false);
    expect(ip4InSubnet(parseIp4('10.1.2.3'), 0, 0)).toBe(true);
    expect(ip4InSubnet(parseIp4('10.1.2.3'), parseIp4('10.1.2.3'), 32)).toBe(true);
  });
});

describe('MAC addresses', () => {
  it('are 48-bit numbers, first wire byte most significant', () => {
    expect(parseMac('00:a0:cc:3b:bf:fa')).toBe(0x00a0cc3bbffa);
    expect(parseMac('FF-FF-FF-FF-FF-FF')).toBe(BROADCAST_MAC);
    expect(formatMac(0x0000c09fa097)).toBe('00:00:c0:9f:a0:97');
    expect(formatMac(BROADCAST_MAC)).toBe('ff:ff:ff:ff:ff:ff');
  });

  it('rejects malformed text', () => {
    for (const bad of ['', '00:11:22:33:44', '00:11:22:33:44:55:66', '0g:11:22:33:44:55', '001122334455']) {
      expect(tryParseMac(bad)).toBeUndefined();
      expect(() => parseMac(bad)).toThrow(RangeError);
    }
  });

  it('round-trips every address through text and bytes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), (mac) => {
        expect(parseMac(formatMac(mac))).toBe(mac);
        expect(macFromBytes(macToBytes(mac))).toBe(mac);
        const b = new Uint8Array(8);
        writeMac(b, 2, mac);
        expect(readMac(b, 2)).toBe(mac);
      }),
    );
  });

  it('knows group addresses', () => {
    expect(isMulticastMac(parseMac('01:00:5e:00:00:01'))).toBe(true);
    expect(isMulticastMac(BROADCAST_MAC)).toBe(true);
    expect(isMulticastMac(parseMac('00:a0:cc:3b:bf:fa'))).toBe(false);
    expect(isBroadcastMac(BROADCAST_MAC)).toBe(true);
    expect(isBroadcastMac(parseMac('01:00:5e:00:00:01'))).toBe(false);
  });
});
