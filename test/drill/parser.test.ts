import { describe, expect, it } from 'vitest';
import { tokenize } from '../../src/drill/lexer.js';
import { ParseError, parseScript } from '../../src/drill/parser.js';
import type { PacketAction, SyscallAction } from '../../src/drill/ast.js';

describe('lexer', () => {
  it('splits numbers, words, ellipses and punctuation the way packetdrill does', () => {
    const t = tokenize('+.1 < S. 0:0(0) win 65535 <mss 1460,sackOK> +0...0.200 0x802 192.0.2.1');
    expect(t.map((x) => `${x.kind}:${x.text}`)).toEqual([
      'punct:+', 'float:.1', 'punct:<', 'word:S', 'punct:.', 'int:0', 'punct::', 'int:0', 'punct:(', 'int:0', 'punct:)',
      'word:win', 'int:65535', 'punct:<', 'word:mss', 'int:1460', 'punct:,', 'word:sackOK', 'punct:>',
      'punct:+', 'int:0', 'ellipsis:...', 'float:0.200', 'hex:0x802', 'ipv4:192.0.2.1', 'eof:',
    ]);
  });

  it('skips both comment styles and counts lines through them', () => {
    const t = tokenize('// one\n/* two\nthree */ x\n`sh\nell` %{ py }% "s\\"q"');
    expect(t.map((x) => [x.kind, x.text, x.line])).toEqual([
      ['word', 'x', 3],
      ['shell', 'sh\nell', 4],
      ['code', ' py ', 5],
      ['string', 's"q', 5],
      ['eof', '', 5],
    ]);
  });
});

describe('parser', () => {
  it('reads options, the init command and every timing form', () => {
    const s = parseScript(`--tolerance_usecs=10000
--strict_segments
--tcp_config=mslMs=500
\`sysctl -q net.ipv4.tcp_sack=0\`
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.1 close(3) = 0
* close(3) = 0
0.2~0.3 close(3) = 0
+0.1~+0.2 close(3) = 0
\`echo bye\`
`);
    expect(s.options.map((o) => [o.name, o.value])).toEqual([
      ['tolerance_usecs', '10000'],
      ['strict_segments', undefined],
      ['tcp_config', 'mslMs=500'],
    ]);
    expect(s.init?.command).toBe('sysctl -q net.ipv4.tcp_sack=0');
    expect(s.cleanup?.command).toBe('echo bye');
    expect(s.events.map((e) => e.time)).toEqual([
      { kind: 'absolute', t: 0 },
      { kind: 'relative', t: 0.1 },
      { kind: 'any' },
      { kind: 'absolute-range', t: 0.2, end: 0.3 },
      { kind: 'relative-range', t: 0.1, end: 0.2 },
    ]);
  });

  it('reads TCP segments with flags, sequence space, ack, window and options', () => {
    const s = parseScript(`0 < FP. 1:11(10) ack 5 win 257 <nop,nop,TS val 100 ecr 7,sack 1:2 3:4,mss 1460,wscale 7,sackOK,eol>
+0 > R 0:0(0)
+0 > - 1:1(0) <...>
`);
    const [a, b, c] = s.events.map((e) => e.action as PacketAction);
    expect(a).toMatchObject({ direction: '<', flags: 'FP.', seq: 1, end: 11, len: 10, ack: 5, win: 257 });
    expect(a!.options).toEqual([
      { kind: 'nop' },
      { kind: 'nop' },
      { kind: 'TS', val: 100, ecr: 7 },
      { kind: 'sack', blocks: [[1, 2], [3, 4]] },
      { kind: 'mss', mss: 1460 },
      { kind: 'wscale', shift: 7 },
      { kind: 'sackOK' },
      { kind: 'eol' },
    ]);
    expect(b).toMatchObject({ flags: 'R', ack: undefined, win: undefined, options: [] });
    expect(c).toMatchObject({ flags: '', options: 'any' });
  });

  it('reads system calls: blocking end time, structures, errno and note', () => {
    const s = parseScript(`0...0.5 connect(3, ..., ...) = -1 ECONNREFUSED (Connection refused)
+0 poll([{fd=4, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 0) = 1
+0 setsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0
+0 fcntl(3, F_GETFL) = 0x802 (flags O_RDWR|O_NONBLOCK)
+0 recvmsg(3, {msg_name(...)=...,
              msg_iov(1)=[{..., 1000}], msg_flags=0}, 0) = 1000
`);
    const calls = s.events.map((e) => e.action as SyscallAction);
    expect(calls[0]).toMatchObject({ name: 'connect', endTime: 0.5, errno: 'ECONNREFUSED', note: 'Connection refused' });
    expect(calls[0]!.result).toEqual({ kind: 'int', value: -1 });
    expect(calls[1]!.args[0]).toEqual({
      kind: 'array',
      items: [
        {
          kind: 'struct',
          items: [
            { kind: 'assign', name: 'fd', value: { kind: 'int', value: 4 } },
            { kind: 'assign', name: 'events', value: { kind: 'or', left: { kind: 'word', name: 'POLLIN' }, right: { kind: 'word', name: 'POLLOUT' } } },
            { kind: 'assign', name: 'revents', value: { kind: 'word', name: 'POLLOUT' } },
          ],
        },
      ],
    });
    expect(calls[3]).toMatchObject({ errno: undefined, note: 'flags O_RDWR | O_NONBLOCK' });
    expect(calls[4]).toMatchObject({ name: 'recvmsg', result: { kind: 'int', value: 1000 } });
  });

  it('keeps what it cannot run as unsupported actions, not errors', () => {
    const s = parseScript(`0 < udp (100)
+0 > icmp unreachable frag_needed mtu 1200 [1:1461(1460)]
+0 < [ect0] S 0:0(0) win 100
+0 < S 0:0(0) win 100 <mss 1460,FO abcd>
+0 %{ print(tcpi_rto) }%
+0 \`tc qdisc show\`
`);
    expect(s.events.map((e) => (e.action.type === 'unsupported-packet' ? e.action.why : e.action.type))).toEqual([
      'UDP packets',
      'ICMP packets',
      'IP header fields (tos, ecn, ttl, flow label)',
      'the TCP Fast Open option',
      'code',
      'command',
    ]);
  });

  it('reports syntax errors with their line', () => {
    const bad = (src: string): ParseError => {
      try {
        parseScript(src);
      } catch (e) {
        return e as ParseError;
      }
      throw new Error('parsed');
    };
    expect(bad('0 close(3) = 0\n+0 < S 0:5(0) win 1').line).toBe(2);
    expect(bad('0 close(3) = 0\n+0 < S 0:0(0) win 1 <bogus 3>').message).toMatch(/line 2: unknown TCP option 'bogus'/);
    expect(bad('0 close(3 = 0').message).toMatch(/line 1/);
    expect(bad('0 close(3) = 0\n--late_option').message).toMatch(/options must come before/);
    expect(bad('/* open').message).toMatch(/unterminated comment/);
  });

  it('finds the expected-failure annotation', () => {
    expect(parseScript('// expected-failure: the stack does X\n0 close(3) = 0').expectedFailure).toBe('the stack does X');
    expect(parseScript('0 close(3) = 0').expectedFailure).toBeUndefined();
  });
});
