/**
 * The IPv6 reference captures (made by the Linux kernel, see
 * test/fixtures/traces/README.md) with tshark's reading of each frame, for the
 * IPv6, ICMPv6 and NDP tests. tshark's fields are stored beside each capture as
 * JSON so the tests do not need tshark; a field that occurs more than once
 * (e.g. the packet quoted in an error) is comma-separated, outermost first.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parsePcapBuffer } from '../../src/trace/pcap.js';

export interface TraceFrame {
  /** 1-based, as tshark numbers frames. */
  number: number;
  /** The whole Ethernet frame. */
  frame: Uint8Array;
  /** The IPv6 datagram (after the 14-byte Ethernet header). */
  ip: Uint8Array;
  /** tshark's fields for this frame. */
  tshark: Record<string, string>;
}

const dir = path.resolve(process.cwd(), 'test/fixtures/traces');

export function loadIpv6Trace(name: 'ipv6-link' | 'ipv6-loopback'): TraceFrame[] {
  const records = parsePcapBuffer(new Uint8Array(readFileSync(path.join(dir, `${name}.pcap`))));
  const fields = JSON.parse(readFileSync(path.join(dir, `${name}.tshark.json`), 'utf8')) as Record<string, string>[];
  if (fields.length !== records.length) throw new Error(`${name}: ${records.length} frames, ${fields.length} tshark rows`);
  return records.map((r, i) => ({ number: i + 1, frame: r.data, ip: r.data.subarray(14), tshark: fields[i]! }));
}

/** The first (outermost) value of a field, or undefined. */
export function first(f: TraceFrame, field: string): string | undefined {
  return f.tshark[field]?.split(',')[0];
}

/** tshark's number text (decimal or 0x hex) as a number. */
export function num(text: string | undefined): number | undefined {
  return text === undefined ? undefined : Number(text);
}
