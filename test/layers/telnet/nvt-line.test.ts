import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineEditor, NvtTextDecoder, encodeNvtText } from '../../../src/layers/telnet/nvt-line.js';
import type { LineEvent } from '../../../src/layers/telnet/nvt-line.js';
import { EC, EL, EOF, GA, IP } from '../../../src/wire/telnet.js';

const b = (s: string | number[]) => (typeof s === 'string' ? Buffer.from(s, 'latin1') : Uint8Array.from(s));

/** Feeds `input` one byte per call (as a raw-mode client sends) and merges adjacent echoes. */
function typeSlowly(ed: LineEditor, input: Uint8Array): LineEvent[] {
  const out: LineEvent[] = [];
  for (const x of input) {
    for (const e of ed.feed(Uint8Array.of(x))) {
      const last = out[out.length - 1];
      if (e.kind === 'echo' && last?.kind === 'echo') last.text += e.text;
      else out.push(e);
    }
  }
  return out;
}

describe('LineEditor', () => {
  it('echoes typed characters and completes a line on CR NUL, CR LF, bare CR or bare LF', () => {
    for (const eol of [[13, 0], [13, 10], [13], [10]]) {
      const ed = new LineEditor();
      expect(ed.feed(b([...b('ls -l'), ...eol]))).toEqual([
        { kind: 'echo', text: 'ls -l\r\n' },
        { kind: 'line', text: 'ls -l' },
      ]);
      expect(ed.pending).toBe('');
    }
  });

  it('ends a line once for CR LF or CR NUL even when the two bytes arrive separately', () => {
    const ed = new LineEditor();
    expect(ed.feed(b('pwd\r'))).toEqual([{ kind: 'echo', text: 'pwd\r\n' }, { kind: 'line', text: 'pwd' }]);
    expect(ed.feed(b([10]))).toEqual([]);
    expect(ed.feed(b('\r'))).toEqual([{ kind: 'echo', text: '\r\n' }, { kind: 'line', text: '' }]);
    expect(ed.feed(b([0]))).toEqual([]);
    expect(ed.feed(b('\n\n'))).toEqual([
      { kind: 'echo', text: '\r\n' }, { kind: 'line', text: '' },
      { kind: 'echo', text: '\r\n' }, { kind: 'line', text: '' },
    ]);
  });

  it('reports several lines in one chunk in order, with the echo of each before it', () => {
    const ed = new LineEditor();
    expect(ed.feed(b('a\r\nb\r\0c'))).toEqual([
      { kind: 'echo', text: 'a\r\n' }, { kind: 'line', text: 'a' },
      { kind: 'echo', text: 'b\r\n' }, { kind: 'line', text: 'b' },
      { kind: 'echo', text: 'c' },
    ]);
    expect(ed.pending).toBe('c');
  });

  it('erases with backspace and DEL, echoing "\\b \\b", and ignores erase on an empty line', () => {
    const ed = new LineEditor();
    const ev = typeSlowly(ed, b([...b('lx'), 0x7f, ...b('s'), 0x08, 0x08, 0x08, ...b('ps\r\0')]));
    expect(ev).toEqual([
      { kind: 'echo', text: 'lx\b \bs\b \b\b \bps\r\n' },
      { kind: 'line', text: 'ps' },
    ]);
  });

  it('kills the line with Ctrl-U', () => {
    const ed = new LineEditor();
    expect(ed.feed(b([...b('abc'), 0x15, ...b('d\r\n')]))).toEqual([
      { kind: 'echo', text: 'abc\b \b\b \b\b \bd\r\n' },
      { kind: 'line', text: 'd' },
    ]);
  });

  it('interrupts with Ctrl-C, discarding the partial line', () => {
    const ed = new LineEditor();
    expect(ed.feed(b([...b('sleep'), 3, ...b('x')]))).toEqual([
      { kind: 'echo', text: 'sleep^C\r\n' },
      { kind: 'interrupt' },
      { kind: 'echo', text: 'x' },
    ]);
    expect(ed.pending).toBe('x');
  });

  it('reports Ctrl-D as end of input only at the start of a line', () => {
    const ed = new LineEditor();
    expect(ed.feed(b([...b('ab'), 4]))).toEqual([{ kind: 'echo', text: 'ab' }]);
    expect(ed.pending).toBe('ab');
    ed.reset();
    expect(ed.feed(b([4]))).toEqual([{ kind: 'eof' }]);
  });

  it('does not echo a password but still ends the line visibly', () => {
    const ed = new LineEditor({ echo: 'secret' });
    expect(typeSlowly(ed, b([...b('hunter'), 0x7f, ...b('2\r\0')]))).toEqual([
      { kind: 'echo', text: '\r\n' },
      { kind: 'line', text: 'hunte2' },
    ]);
    ed.echo = 'on';
    expect(ed.feed(b('ls'))).toEqual([{ kind: 'echo', text: 'ls' }]);
  });

  it('echoes nothing when the client echoes locally', () => {
    const ed = new LineEditor({ echo: 'off' });
    expect(ed.feed(b([...b('ab'), 0x7f, ...b('c\r\n'), 3]))).toEqual([{ kind: 'line', text: 'ac' }, { kind: 'interrupt' }]);
  });

  it('drops arrow keys, function keys and stray control characters', () => {
    const ed = new LineEditor();
    const up = [0x1b, 0x5b, 0x41];
    const f5 = [0x1b, ...b('[15~')];
    const ss3 = [0x1b, 0x4f, 0x50];
    const ev = ed.feed(b([...b('e'), ...up, 9, 0, 7, ...f5, ...b('c'), ...ss3, 0x1b, ...b('xho\r\n')]));
    expect(ev).toEqual([{ kind: 'echo', text: 'echo\r\n' }, { kind: 'line', text: 'echo' }]);
  });

  it('lets Enter through right after a lone ESC', () => {
    const ed = new LineEditor();
    expect(ed.feed(b([...b('a'), 0x1b, 13, 0]))).toEqual([{ kind: 'echo', text: 'a\r\n' }, { kind: 'line', text: 'a' }]);
  });

  it('accepts UTF-8 a whole character at a time and erases whole characters', () => {
    const ed = new LineEditor();
    const text = Buffer.from('héllo ✓ 😀', 'utf8');
    const ev = typeSlowly(ed, text);
    expect(ev).toEqual([{ kind: 'echo', text: 'héllo ✓ 😀' }]);
    expect(ed.feed(b([0x7f, 0x7f, 0x7f, 0x7f]))).toEqual([{ kind: 'echo', text: '\b \b'.repeat(4) }]);
    expect(ed.pending).toBe('héllo');
    // Malformed sequences are dropped, not pasted into the line.
    expect(ed.feed(b([0xc3, 0x41, 0xff, 0xe2, 0x9c]))).toEqual([{ kind: 'echo', text: 'A' }]);
    expect(ed.feed(b([0xed, 0xa0, 0x80, 0xe0, 0x80, 0x80]))).toEqual([]); // a surrogate, an overlong form
    expect(ed.pending).toBe('hélloA');
  });

  it('bounds the line length, ringing the bell for refused characters', () => {
    const ed = new LineEditor({ maxLength: 3 });
    expect(ed.feed(b('abcde'))).toEqual([{ kind: 'echo', text: 'abc\x07\x07' }]);
    expect(ed.feed(b('\r\n'))).toEqual([{ kind: 'echo', text: '\r\n' }, { kind: 'line', text: 'abc' }]);
  });

  it('reads what the user typed in the captured OpenBSD raw-mode session, echoing as its telnetd did', () => {
    // The client's data in telnet-raw.pcap once the Telnet decoder removed the
    // negotiations: one keystroke per segment, Enter sent as CR NUL, a Ctrl-C
    // while ping ran. The server echoed "fake\r\n", then only "\r\n" after the password.
    const typed = b('fake\r\0user\r\0ls\r\0ls -a\r\0/sbin/ping www.yahoo.com\r\0\x03exit\r\0');
    const ed = new LineEditor();
    const events: LineEvent[] = [];
    for (const x of typed) {
      const got = ed.feed(Uint8Array.of(x));
      events.push(...got);
      if (got.some((e) => e.kind === 'line')) ed.echo = events.filter((e) => e.kind === 'line').length === 1 ? 'secret' : 'on';
    }
    const echoUntil = (n: number) => {
      let out = '';
      for (const e of events) {
        if (e.kind === 'echo') out += e.text;
        if (e.kind === 'line' && --n === 0) return out;
      }
      return out;
    };
    expect(events.filter((e) => e.kind !== 'echo')).toEqual([
      { kind: 'line', text: 'fake' },
      { kind: 'line', text: 'user' },
      { kind: 'line', text: 'ls' },
      { kind: 'line', text: 'ls -a' },
      { kind: 'line', text: '/sbin/ping www.yahoo.com' },
      { kind: 'interrupt' },
      { kind: 'line', text: 'exit' },
    ]);
    expect(echoUntil(1)).toBe('fake\r\n');
    expect(echoUntil(2)).toBe('fake\r\n\r\n');
  });

  it('treats the Telnet editing commands EC, EL, IP and EOF like the keys', () => {
    const ed = new LineEditor();
    ed.feed(b('abc'));
    expect(ed.command(EC)).toEqual([{ kind: 'echo', text: '\b \b' }]);
    expect(ed.command(EL)).toEqual([{ kind: 'echo', text: '\b \b\b \b' }]);
    expect(ed.command(EOF)).toEqual([{ kind: 'eof' }]);
    ed.feed(b('x'));
    expect(ed.command(IP)).toEqual([{ kind: 'echo', text: '^C\r\n' }, { kind: 'interrupt' }]);
    expect(ed.command(GA)).toEqual([]);
  });

  it('gives the same events whatever the chunking (property)', () => {
    const byte = fc.oneof(fc.constantFrom(0, 3, 4, 8, 10, 13, 0x15, 0x1b, 0x5b, 0x7f, 0xc3, 0xa9), fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 80 }), fc.array(fc.nat(), { maxLength: 6 }), (input, rawCuts) => {
        const data = Uint8Array.from(input);
        const merge = (evs: LineEvent[]) => {
          const out: LineEvent[] = [];
          for (const e of evs) {
            const last = out[out.length - 1];
            if (e.kind === 'echo' && last?.kind === 'echo') last.text += e.text;
            else out.push({ ...e });
          }
          return out;
        };
        const whole = merge(new LineEditor().feed(data));
        const ed = new LineEditor();
        const cuts = [...new Set(rawCuts.map((c) => c % (data.length + 1)))].sort((x, y) => x - y);
        const evs: LineEvent[] = [];
        let prev = 0;
        for (const c of [...cuts, data.length]) {
          evs.push(...ed.feed(data.subarray(prev, c)));
          prev = c;
        }
        expect(merge(evs)).toEqual(whole);
        for (const e of whole) if (e.kind === 'line') expect(e.text).not.toMatch(/[\x00-\x1f\x7f]/);
      }),
      { numRuns: 500, seed: 854 },
    );
  });
});

describe('NvtTextDecoder and encodeNvtText', () => {
  it('maps CR LF to newline, CR NUL to carriage return, tolerates bare LF and CR', () => {
    const d = new NvtTextDecoder();
    expect(d.decode(b('a\r\nb\r\0c\nd\rx'))).toBe('a\nb\rc\nd\rx');
    expect(d.flush()).toBe('');
  });

  it('holds a CR that ends a chunk until it sees the next byte', () => {
    const d = new NvtTextDecoder();
    expect(d.decode(b('login\r'))).toBe('login');
    expect(d.decode(b('\n'))).toBe('\n');
    expect(d.decode(b('x\r'))).toBe('x');
    expect(d.decode(b([0]))).toBe('\r');
    expect(d.decode(b('\r'))).toBe('');
    expect(d.flush()).toBe('\r');
  });

  it('decodes UTF-8 split across chunks', () => {
    const d = new NvtTextDecoder();
    const bytes = Buffer.from('✓', 'utf8');
    expect(d.decode(bytes.subarray(0, 1)) + d.decode(bytes.subarray(1))).toBe('✓');
  });

  it('encodes newlines as CR LF and lone CR as CR NUL, without doubling CR LF', () => {
    expect([...encodeNvtText('a\r\nb\nc\rd')]).toEqual([...b('a\r\nb\r\nc\r\0d')]);
    expect([...encodeNvtText('\n\r')]).toEqual([13, 10, 13, 0]);
    expect(Buffer.from(encodeNvtText('é')).toString('utf8')).toBe('é');
  });

  it('round-trips any text through encode then decode, newlines normalised (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'Z', ' ', '\r', '\n', 'é', '✓', '\0') }), (text) => {
        const d = new NvtTextDecoder();
        const encoded = encodeNvtText(text);
        expect(encoded.includes(255)).toBe(false);
        expect(d.decode(encoded) + d.flush()).toBe(text.replace(/\r\n/g, '\n'));
      }),
      { numRuns: 300, seed: 1 },
    );
  });
});
