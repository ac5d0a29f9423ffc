/**
 * Frames as the report shows them, held against a real capture; and bad bytes
 * never throw (the report decodes whatever a capture holds).
 */
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrame } from '../../src/report/decode.js';
import { openCapture } from '../../src/trace/open.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../src/wire/tcp.js';

const RAW = path.resolve(process.cwd(), 'test/fixtures/traces/telnet-raw.pcap');

async function frames(): Promise<Array<{ data: Uint8Array; linkType: number }>> {
  const out: Array<{ data: Uint8Array; linkType: number }> = [];
  for await (const r of openCapture(RAW)) out.push({ data: r.data.slice(), linkType: r.linkType });
  return out;
}

describe('decodeFrame', () => {
  it('reads the SYN of the telnet-raw session: ports, options, one line per layer', async () => {
    const [syn] = await frames();
    const d = decodeFrame(syn!.data, syn!.linkType);
    expect(d.tcp).toMatchObject({ srcPort: 1254, dstPort: 23, flags: TCP_SYN, len: 0 });
    expect(d.tcp!.wscale).toBe(0);
    expect(d.lines[0]).toMatch(/^Ethernet /);
    expect(d.lines[1]).toMatch(/^IPv4 192\.168\.0\.2 → 192\.168\.0\.1 proto 6/);
    expect(d.lines[2]).toMatch(/^TCP 1254 → 23 \[SYN\] seq \d+ ack 0 win \d+ len 0 <mss 1460/);
  });

  it('gives the same TCP fields with and without text, for every frame of the capture', async () => {
    const all = await frames();
    let payload = 0;
    for (const f of all) {
      const full = decodeFrame(f.data, f.linkType);
      const lean = decodeFrame(f.data, f.linkType, false);
      expect(lean.tcp).toEqual(full.tcp);
      expect(lean.lines).toEqual([]);
      if (full.tcp !== null && full.tcp.len > 0) {
        payload++;
        expect(full.lines[full.lines.length - 1]).toMatch(/^payload ("|of \d+ bytes not in the capture)/);
      }
    }
    expect(payload).toBeGreaterThan(100);
    const keystroke = all.map((f) => decodeFrame(f.data, f.linkType).tcp).find((t) => t?.flags === (TCP_ACK | TCP_PSH) && t.srcPort === 1254 && t.len === 1);
    expect(keystroke).toBeDefined();
  });

  it('never throws on arbitrary bytes, whatever the link type', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(1, 101, 113, 228, 147), (bytes, link) => {
        const d = decodeFrame(bytes, link);
        expect(d.size).toBe(bytes.length);
        decodeFrame(bytes, link, false);
      }),
      { numRuns: 2000 },
    );
  });
});
