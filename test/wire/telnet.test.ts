import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AYT, DM, DO, DONT, GA, IAC, IP, NOP, SB, SE, WILL, WONT,
  TelnetDecoder, TelnetOption, commandName, encodeCommand, encodeNaws, encodeNegotiation,
  encodeSubnegotiation, encodeTerminalTypeIs, encodeTerminalTypeSend, escapeIac, negotiationName,
  optionName, parseNaws, parseTerminalType,
} from '../../src/wire/telnet.js';
import type { TelnetDecodeError, TelnetHandlers } from '../../src/wire/telnet.js';
import { itNeeds } from '../support/needs.js';

const TRACES = path.resolve(process.cwd(), 'test/fixtures/traces');

// ---------------------------------------------------------------------------
// A tiny pcap -> TCP byte stream extractor, local to this test so the decoder is
// checked against the capture without depending on the stack's own parsers.

interface Streams { c2s: Uint8Array; s2c: Uint8Array }

function tcpStreams(file: string, serverPort = 23): Streams {
  const buf = readFileSync(file);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  expect(dv.getUint32(0, true)).toBe(0xa1b2c3d4);
  expect(dv.getUint32(20, true)).toBe(1); // Ethernet
  const parts = { c2s: [] as Uint8Array[], s2c: [] as Uint8Array[] };
  const next: Record<'c2s' | 's2c', number | undefined> = { c2s: undefined, s2c: undefined };
  let off = 24;
  while (off + 16 <= buf.length) {
    const incl = dv.getUint32(off + 8, true);
    const f = off + 16;
    off = f + incl;
    if (dv.getUint16(f + 12) !== 0x0800) continue;
    const ip = f + 14;
    const ihl = (buf[ip]! & 0x0f) * 4;
    const totalLen = dv.getUint16(ip + 2);
    if (buf[ip + 9] !== 6) continue;
    const tcp = ip + ihl;
    const sport = dv.getUint16(tcp);
    const seq = dv.getUint32(tcp + 4);
    const doff = (buf[tcp + 12]! >> 4) * 4;
    const syn = (buf[tcp + 13]! & 0x02) !== 0;
    const dir = sport === serverPort ? 's2c' : 'c2s';
    if (syn) {
      next[dir] = (seq + 1) >>> 0;
      continue;
    }
    const start = tcp + doff;
    const len = ip + totalLen - start; // IP length, not frame length: short frames are padded
    const expected = next[dir];
    if (len <= 0 || expected === undefined) continue;
    const skip = (expected - seq) | 0; // > 0 for retransmitted bytes already taken
    if (skip < 0) throw new Error(`gap in ${dir} stream at seq ${seq}`);
    if (skip >= len) continue;
    parts[dir].push(buf.subarray(start + skip, start + len));
    next[dir] = (expected + len - skip) >>> 0;
  }
  return { c2s: Buffer.concat(parts.c2s), s2c: Buffer.concat(parts.s2c) };
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------------------
// Decoder harness: events as compact strings, tshark-style ("253:3" for DO SGA,
// "250:31" for SB NAWS, "244" for IP), plus data and payloads for inspection.

interface Collected {
  events: string[];
  data: number[];
  subs: { opt: number; payload: Uint8Array }[];
  errors: [TelnetDecodeError, number][];
  decoder: TelnetDecoder;
}

function collector(maxSubnegotiation?: number): Collected {
  const c: Collected = { events: [], data: [], subs: [], errors: [], decoder: undefined as unknown as TelnetDecoder };
  const h: TelnetHandlers = {
    onData: (d) => { for (const b of d) c.data.push(b); },
    onCommand: (cmd) => c.events.push(`${cmd}`),
    onNegotiation: (cmd, opt) => c.events.push(`${cmd}:${opt}`),
    onSubnegotiation: (opt, payload) => {
      c.events.push(`${SB}:${opt}`);
      c.subs.push({ opt, payload: payload.slice() });
    },
    onError: (reason, byte) => c.errors.push([reason, byte]),
  };
  c.decoder = new TelnetDecoder(h, maxSubnegotiation === undefined ? {} : { maxSubnegotiation });
  return c;
}

function decodeAll(stream: Uint8Array, cuts: number[] = [], max?: number): Collected {
  const c = collector(max);
  let prev = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    c.decoder.push(stream.subarray(prev, cut));
    prev = cut;
  }
  c.decoder.push(stream.subarray(prev));
  c.decoder.end();
  return c;
}

const bytes = (...parts: (number | string | Uint8Array)[]): Uint8Array => {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') out.push(p);
    else if (typeof p === 'string') for (const ch of p) out.push(ch.charCodeAt(0));
    else out.push(...p);
  }
  return Uint8Array.from(out);
};
const ascii = (a: number[] | Uint8Array) => String.fromCharCode(...a);

// What tshark 4.x decodes (`-Y "telnet && !tcp.analysis.retransmission" -T pdml`,
// telnet.cmd with its telnet.subcmd, Suboption End left out), per direction.
const TSHARK_RAW = {
  c2s: ['253:3', '251:24', '251:31', '251:32', '251:33', '251:34', '251:39', '253:5', '251:35', '252:37', '250:31', '250:34', '253:3', '250:34', '254:38', '252:38', '252:36', '250:32', '250:35', '250:39', '250:24', '252:1', '253:1', '254:1', '252:34', '253:1'],
  s2c: ['253:37', '251:3', '253:24', '253:31', '253:32', '253:33', '253:34', '250:34', '253:39', '251:5', '253:35', '251:38', '253:38', '253:36', '250:32', '250:35', '250:39', '250:24', '253:1', '251:1', '250:33', '252:1', '250:34', '251:1', '254:34'],
};
const TSHARK_COOKED = {
  c2s: ['253:3', '251:24', '251:31', '251:32', '251:33', '251:34', '251:39', '253:5', '251:35', '252:37', '250:31', '250:34', '253:3', '250:34', '254:38', '252:38', '252:36', '250:32', '250:35', '250:39', '250:24', '252:1', '253:1', '254:1', '253:1', '254:1', '244', '253:6'],
  s2c: ['253:37', '251:3', '253:24', '253:31', '253:32', '253:33', '253:34', '250:34', '253:39', '251:5', '253:35', '251:38', '253:38', '253:36', '250:32', '250:35', '250:39', '250:24', '253:1', '251:1', '250:33', '252:1', '250:34', '251:1', '252:1', '251:6'],
};

// In both sessions the server ends with a Synch after the client's interrupt: IAC
// in one urgent segment, DM in the next. tshark decodes segment by segment and
// calls the first "[Malformed Packet]"; a stream decoder sees IAC DM (242).
const withSynch = (t: { c2s: string[]; s2c: string[] }) => ({ c2s: t.c2s, s2c: [...t.s2c, `${DM}`] });

// ---------------------------------------------------------------------------

describe('constants and names', () => {
  it('names options and commands as the RFCs do', () => {
    expect(optionName(TelnetOption.TERMINAL_TYPE)).toBe('TERMINAL-TYPE');
    expect(optionName(24)).toBe('TERMINAL-TYPE');
    expect(optionName(31)).toBe('NAWS');
    expect(optionName(39)).toBe('NEW-ENVIRON');
    expect(optionName(36)).toBe('ENVIRON');
    expect(optionName(200)).toBe('OPTION-200');
    expect(commandName(253)).toBe('DO');
    expect(commandName(GA)).toBe('GA');
    expect(negotiationName(WILL, 1)).toBe('WILL ECHO');
    expect([TelnetOption.ECHO, TelnetOption.SGA, TelnetOption.STATUS, TelnetOption.TIMING_MARK,
      TelnetOption.NAWS, TelnetOption.TSPEED, TelnetOption.LFLOW, TelnetOption.LINEMODE,
      TelnetOption.XDISPLOC, TelnetOption.NEW_ENVIRON]).toEqual([1, 3, 5, 6, 31, 32, 33, 34, 35, 39]);
  });
});

describe('TelnetDecoder on the real captures', () => {
  const sessions = [
    { file: 'telnet-raw.pcap', expected: withSynch(TSHARK_RAW), lens: [259, 1742],
      sha: ['d377bc56f926943eedc2c8b30ca983d47f8389bbbb0c88cd6519ab6519fc2fca', '1e57217203e5da839f1f66f51658741991bed3887962ab9f3c73f59fa1e848a0'] },
    { file: 'telnet-cooked.pcap', expected: withSynch(TSHARK_COOKED), lens: [263, 1371],
      sha: ['fd08ed4e6a21e2baeb6840b90ef3fa41f43cfd48974fff663ad959a8e5407307', '116b34c396c000749320f5f0d476c88e9b957bde93727683a7effcadfefc198c'] },
  ];

  for (const s of sessions) {
    describe(s.file, () => {
      const streams = tcpStreams(path.join(TRACES, s.file));

      it('extracts the byte streams tshark reassembles (README digests)', () => {
        expect([streams.c2s.length, streams.s2c.length]).toEqual(s.lens);
        expect([sha256(streams.c2s), sha256(streams.s2c)]).toEqual(s.sha);
      });

      it('decodes the same negotiations, commands and subnegotiations as tshark, in order', () => {
        const c2s = decodeAll(streams.c2s);
        const s2c = decodeAll(streams.s2c);
        expect(c2s.events).toEqual(s.expected.c2s);
        expect(s2c.events).toEqual(s.expected.s2c);
        expect(c2s.errors).toEqual([]);
        expect(s2c.errors).toEqual([]);
      });

      it('gives the same result when every chunk is one byte (cuts inside every IAC sequence)', () => {
        for (const stream of [streams.c2s, streams.s2c]) {
          const whole = decodeAll(stream);
          const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
          const split = decodeAll(stream, cuts);
          expect(split.events).toEqual(whole.events);
          expect(split.data).toEqual(whole.data);
          expect(split.subs).toEqual(whole.subs);
        }
      });
    });
  }

  it('reads the OpenBSD session: terminal type, window size, banner and login', () => {
    const { c2s, s2c } = tcpStreams(path.join(TRACES, 'telnet-raw.pcap'));
    const client = decodeAll(c2s);
    const server = decodeAll(s2c);
    // Server asks for the terminal type, the client answers xterm-color.
    const send = server.subs.find((x) => x.opt === TelnetOption.TERMINAL_TYPE)!;
    expect(parseTerminalType(send.payload)).toEqual({ ok: true, value: { kind: 'send' } });
    const is = client.subs.find((x) => x.opt === TelnetOption.TERMINAL_TYPE)!;
    expect(parseTerminalType(is.payload)).toEqual({ ok: true, value: { kind: 'is', name: 'xterm-color' } });
    const naws = client.subs.find((x) => x.opt === TelnetOption.NAWS)!;
    expect(parseNaws(naws.payload)).toEqual({ ok: true, value: { width: 80, height: 32 } });
    const tspeed = client.subs.find((x) => x.opt === TelnetOption.TSPEED)!;
    expect(ascii(tspeed.payload.subarray(1))).toBe('9600,9600');
    const text = ascii(server.data);
    expect(text).toContain('OpenBSD/i386 (oof) (ttyp1)');
    expect(text).toContain('login: ');
    expect(ascii(client.data).startsWith('fake')).toBe(true);
    expect(text).toContain('Password:');
  });

  itNeeds(['tshark'], 'agrees with a live tshark run', () => {
    for (const s of sessions) {
      const pdml = execFileSync('/usr/bin/tshark', ['-r', path.join(TRACES, s.file), '-Y', 'telnet && !tcp.analysis.retransmission', '-T', 'pdml'], {
        encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20,
      });
      const live = { c2s: [] as string[], s2c: [] as string[] };
      for (const pkt of pdml.split('<packet>').slice(1)) {
        const port = /name="tcp\.srcport"[^>]*show="(\d+)"/.exec(pkt)![1];
        const tel = pkt.slice(pkt.indexOf('<proto name="telnet"'));
        const re = /<field name="telnet\.cmd"[^>]*show="(\d+)"[^>]*\/>(\s*<field name="telnet\.subcmd"[^>]*show="(\d+)")?/g;
        for (let m = re.exec(tel); m; m = re.exec(tel)) {
          if (m[1] === '240') continue;
          live[port === '23' ? 's2c' : 'c2s'].push(m[3] !== undefined ? `${m[1]}:${m[3]}` : m[1]!);
        }
      }
      const streams = tcpStreams(path.join(TRACES, s.file));
      expect(decodeAll(streams.c2s).events).toEqual(live.c2s);
      expect(decodeAll(streams.s2c).events).toEqual([...live.s2c, `${DM}`]);
    }
  });
});

describe('TelnetDecoder on built streams', () => {
  it('delivers data runs as views of the pushed chunk, without copying', () => {
    const chunk = bytes('hello', IAC, GA, 'world');
    const views: Uint8Array[] = [];
    const d = new TelnetDecoder({
      onData: (v) => views.push(v), onCommand: () => {}, onNegotiation: () => {}, onSubnegotiation: () => {},
    });
    d.push(chunk);
    expect(views.map(ascii)).toEqual(['hello', 'world']);
    for (const v of views) expect(v.buffer).toBe(chunk.buffer);
  });

  it('unescapes IAC IAC in data, also across chunk boundaries and at the chunk end', () => {
    const s = bytes('a', IAC, IAC, 'b', IAC, IAC);
    expect(decodeAll(s).data).toEqual([0x61, 0xff, 0x62, 0xff]);
    expect(decodeAll(s, [2]).data).toEqual([0x61, 0xff, 0x62, 0xff]);
    expect(decodeAll(s, [5]).data).toEqual([0x61, 0xff, 0x62, 0xff]);
    expect(decodeAll(bytes(IAC, IAC, IAC, IAC)).data).toEqual([0xff, 0xff]);
  });

  it('decodes commands and negotiations between data', () => {
    const c = decodeAll(bytes('x', IAC, AYT, IAC, DO, 24, 'y', IAC, IP, IAC, DM, IAC, NOP, IAC, WONT, 1));
    expect(c.events).toEqual([`${AYT}`, `${DO}:24`, `${IP}`, `${DM}`, `${NOP}`, `${WONT}:1`]);
    expect(ascii(c.data)).toBe('xy');
  });

  it('unescapes IAC IAC inside a subnegotiation, whatever the cuts', () => {
    const s = bytes(IAC, SB, 31, 0, IAC, IAC, 0, 24, IAC, SE, 'z');
    for (let cut = 0; cut <= s.length; cut++) {
      const c = decodeAll(s, [cut]);
      expect(c.subs).toEqual([{ opt: 31, payload: Uint8Array.of(0, 255, 0, 24) }]);
      expect(ascii(c.data)).toBe('z');
    }
  });

  it('discards an overlong subnegotiation, reports it once and resynchronises at its IAC SE', () => {
    const long = new Uint8Array(40).fill(0x41);
    const s = bytes(IAC, SB, 24, long, IAC, SE, 'ok', IAC, SB, 31, 0, 80, 0, 24, IAC, SE);
    const c = decodeAll(s, [10, 20], 16);
    expect(c.errors).toEqual([['sb-overlong', 24]]);
    expect(c.decoder.errors['sb-overlong']).toBe(1);
    expect(c.subs).toEqual([{ opt: 31, payload: Uint8Array.of(0, 80, 0, 24) }]);
    expect(ascii(c.data)).toBe('ok');
  });

  it('accepts a subnegotiation of exactly the bound', () => {
    const c = decodeAll(bytes(IAC, SB, 24, new Uint8Array(16), IAC, SE), [], 16);
    expect(c.errors).toEqual([]);
    expect(c.subs[0]!.payload.length).toBe(16);
  });

  it('drops a subnegotiation whose IAC SE is missing and decodes the IAC that follows as a command', () => {
    const c = decodeAll(bytes(IAC, SB, 24, 0, 'vt', IAC, WILL, 1, 'after'));
    expect(c.errors).toEqual([['sb-unterminated', 24]]);
    expect(c.events).toEqual([`${WILL}:1`]);
    expect(ascii(c.data)).toBe('after');
  });

  it('reports a subnegotiation still open when the stream ends', () => {
    const c = decodeAll(bytes(IAC, SB, 24, 0, 'vt100'));
    expect(c.errors).toEqual([['sb-unterminated', 24]]);
    expect(c.subs).toEqual([]);
    expect(c.decoder.idle).toBe(true);
  });

  it('tolerates IAC followed by an unknown byte and a stray IAC SE', () => {
    const c = decodeAll(bytes('a', IAC, 17, 'b', IAC, SE, 'c', IAC, GA));
    expect(c.errors).toEqual([['unknown-command', 17], ['stray-se', SE]]);
    expect(ascii(c.data)).toBe('abc');
    expect(c.events).toEqual([`${GA}`]);
    expect(c.decoder.errors['unknown-command']).toBe(1);
  });

  it('reports a command cut by the end of the stream', () => {
    expect(decodeAll(bytes('a', IAC, DO)).errors).toEqual([['truncated', DO]]);
    expect(decodeAll(bytes('a', IAC)).errors).toEqual([['truncated', IAC]]);
  });

  it('stays consistent when a handler throws', () => {
    let first = true;
    const seen: string[] = [];
    const d = new TelnetDecoder({
      onData: (v) => seen.push(ascii(v)),
      onCommand: () => {},
      onNegotiation: (cmd, opt) => {
        if (first) { first = false; throw new Error('handler failed'); }
        seen.push(`${cmd}:${opt}`);
      },
      onSubnegotiation: () => {},
    });
    expect(() => d.push(bytes(IAC, DO, 1, 'rest'))).toThrow('handler failed');
    d.push(bytes(IAC, DO, 3, 'more'));
    expect(seen).toEqual([`${DO}:3`, 'more']);
  });

  it('decodes any stream the same way whatever the chunking (property)', () => {
    const token = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 8 }).map((d) => escapeIac(d)),
      fc.constantFrom(GA, AYT, NOP, DM, IP).map((c) => encodeCommand(c)),
      fc.tuple(fc.constantFrom(WILL, WONT, DO, DONT), fc.integer({ min: 0, max: 255 })).map(([c, o]) => encodeNegotiation(c, o)),
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 20 })).map(([o, p]) => encodeSubnegotiation(o, p)),
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 10 }), (tokens, rawCuts) => {
        const stream = bytes(...tokens);
        const cuts = rawCuts.map((x) => x % (stream.length + 1));
        const a = decodeAll(stream, [], 16);
        const b = decodeAll(stream, cuts, 16);
        expect(b.events).toEqual(a.events);
        expect(b.data).toEqual(a.data);
        expect(b.subs).toEqual(a.subs);
        expect(b.errors).toEqual(a.errors);
      }),
      { numRuns: 300, seed: 1143 },
    );
  });
});

describe('encoders', () => {
  it('escapes IAC, returning the input itself when there is none', () => {
    const plain = bytes('abc');
    expect(escapeIac(plain)).toBe(plain);
    expect([...escapeIac(Uint8Array.of(1, 255, 2, 255))]).toEqual([1, 255, 255, 2, 255, 255]);
  });

  it('encodes negotiations, commands and subnegotiations', () => {
    expect([...encodeNegotiation(DO, 24)]).toEqual([IAC, DO, 24]);
    expect([...encodeCommand(GA)]).toEqual([IAC, GA]);
    expect([...encodeSubnegotiation(24, Uint8Array.of(1))]).toEqual([IAC, SB, 24, 1, IAC, SE]);
    expect([...encodeSubnegotiation(99, Uint8Array.of(255, 0))]).toEqual([IAC, SB, 99, 255, 255, 0, IAC, SE]);
    expect(() => encodeNegotiation(GA as never, 1)).toThrow(RangeError);
    expect(() => encodeCommand(SB)).toThrow(RangeError);
    expect(() => encodeNegotiation(DO, 256)).toThrow(RangeError);
  });

  it('encodes TERMINAL-TYPE as in the capture, and round-trips', () => {
    expect([...encodeTerminalTypeSend()]).toEqual([0xff, 0xfa, 0x18, 0x01, 0xff, 0xf0]);
    const is = encodeTerminalTypeIs('xterm-color');
    expect(Buffer.from(is).toString('hex')).toBe('fffa1800787465726d2d636f6c6f72fff0');
    const c = decodeAll(is);
    expect(parseTerminalType(c.subs[0]!.payload)).toEqual({ ok: true, value: { kind: 'is', name: 'xterm-color' } });
    expect(() => encodeTerminalTypeIs('')).toThrow(RangeError);
    expect(() => encodeTerminalTypeIs('bad name')).toThrow(RangeError);
  });

  it('rejects malformed TERMINAL-TYPE payloads with a reason', () => {
    for (const p of [[], [0], [2, 0x41], [1, 0x41], [0, 0x41, 0x0a], [0, ...new Array(41).fill(0x41)]]) {
      const r = parseTerminalType(Uint8Array.from(p));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/TERMINAL-TYPE/);
    }
  });

  it('encodes NAWS as in the capture, escapes 255 in sizes, and round-trips', () => {
    expect(Buffer.from(encodeNaws(80, 32)).toString('hex')).toBe('fffa1f00500020fff0');
    const wide = encodeNaws(255, 0xff00);
    expect([...wide]).toEqual([IAC, SB, 31, 0, 255, 255, 255, 255, 0, IAC, SE]);
    expect(parseNaws(decodeAll(wide).subs[0]!.payload)).toEqual({ ok: true, value: { width: 255, height: 0xff00 } });
    expect(parseNaws(Uint8Array.of(0, 80, 0))).toEqual({ ok: false, reason: 'NAWS payload is 3 bytes, expected 4' });
    expect(() => encodeNaws(70000, 1)).toThrow(RangeError);
  });
});
