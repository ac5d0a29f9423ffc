import { describe, expect, it } from 'vitest';
import { parseSysctls, runDrill } from '../../src/drill/runner.js';

const PRELUDE = `--tolerance_usecs=500
--tolerance_percent=0
\`sysctl -q net.ipv4.tcp_timestamps=0 net.ipv4.tcp_sack=0 net.ipv4.tcp_window_scaling=0 net.ipv4.tcp_rmem="4096 65535 65535"\`
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 65535 <mss 1460>
   +0 > S. 0:0(0) ack 1 win 65535 <mss 1460>
+.010 < . 1:1(0) ack 1 win 65535
   +0 accept(3, ..., ...) = 4
`;

describe('runDrill: what is checked', () => {
  it('passes a correct script', () => {
    expect(runDrill(`${PRELUDE}+0 write(4, ..., 10) = 10\n+0 > P. 1:11(10) ack 1\n`)).toMatchObject({ status: 'passed', events: 9 });
  });

  it('fails a wrong acknowledgement number, with expected and actual side by side', () => {
    const r = runDrill(`${PRELUDE}+0 write(4, ..., 10) = 10\n+0 > P. 1:11(10) ack 2\n`);
    expect(r).toMatchObject({ status: 'failed', line: 12, message: 'ack 1, expected 2' });
    expect(r.expected).toBe('+0 > P. 1:11(10) ack 2');
    expect(r.actual).toBe('0.010 > P. 1:11(10) ack 1 win 65535');
  });

  it('fails wrong flags, window and options, naming each', () => {
    const r = runDrill(`${PRELUDE}+0 write(4, ..., 10) = 10\n+0 > . 1:11(10) ack 1 win 100 <nop>\n`);
    expect(r.status).toBe('failed');
    expect(r.message).toBe('flags P., expected .; win 65535, expected 100; options (none), expected <nop>');
  });

  it('checks the window only when the line has one, and options not at all with <...>', () => {
    expect(runDrill(`${PRELUDE}+0 write(4, ..., 10) = 10\n+0 > P. 1:11(10) ack 1 <...>\n`).status).toBe('passed');
  });

  it('fails a segment sent at the wrong time, and one never sent', () => {
    const late = runDrill(`${PRELUDE}+.100 < P. 1:2(1) ack 1 win 65535\n+.1 > . 1:1(0) ack 2\n`);
    expect(late).toMatchObject({ status: 'failed', message: 'sent at 0.310 s, expected 0.210 s (tolerance 0.001 s)', actual: '0.310 > . 1:1(0) ack 2 win 65534' });
    const early = runDrill(`${PRELUDE}+.100 < P. 1:2(1) ack 1 win 65535\n+.3 > . 1:1(0) ack 2\n`);
    expect(early.message).toBe('sent at 0.310 s, expected 0.410 s (tolerance 0.001 s)');
    const never = runDrill(`${PRELUDE}+.100 > P. 1:2(1) ack 1\n`);
    expect(never).toMatchObject({ status: 'failed', actual: '(nothing sent by 2.111 s)' });
    expect(never.message).toMatch(/^expected a segment by 0\.11\d s; the stack sent nothing$/);
  });

  it('uses the tolerance: a ±4 ms default, wider with --tolerance_usecs', () => {
    const script = (tol: string): string => `--tolerance_percent=0\n${tol}${PRELUDE.split('\n').slice(2).join('\n')}+.100 < P. 1:2(1) ack 1 win 65535\n+.195 > . 1:1(0) ack 2\n`;
    expect(runDrill(script('')).status).toBe('failed');
    expect(runDrill(script('--tolerance_usecs=6000\n')).status).toBe('passed');
  });

  it('fails a system call returning something else, with the errno', () => {
    const r = runDrill(`${PRELUDE}+0 read(4, ..., 10) = 10\n`.replace('accept(3, ..., ...) = 4', 'accept(3, ..., ...) = 4\n+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0'));
    expect(r).toMatchObject({ status: 'failed', message: 'read() returned -1 EAGAIN, expected 10' });
  });

  it('gathers contiguous segments for one long line (packetdrill TSO allowance), unless --strict_segments', () => {
    const s = `${PRELUDE}+0 write(4, ..., 2920) = 2920\n+0 > P. 1:2921(2920) ack 1\n`;
    expect(runDrill(s).status).toBe('passed');
    const strict = runDrill(`--strict_segments\n${s}`);
    expect(strict.status).toBe('failed');
    expect(strict.message).toMatch(/payload 1460 bytes, expected 2920/);
  });

  it('in strict mode fails on segments no line expects', () => {
    const s = `${PRELUDE}+0 write(4, ..., 10) = 10\n`;
    expect(runDrill(s).status).toBe('passed');
    const r = runDrill(s, { strict: true });
    expect(r).toMatchObject({ status: 'failed', message: 'the stack sent 1 segment(s) no line expects' });
    expect(r.actual).toBe('0.010 > P. 1:11(10) ack 1 win 65535');
  });
});

describe('runDrill: unsupported is never passed', () => {
  it('reports inline code, shell commands, unknown calls and options with their line', () => {
    expect(runDrill(`${PRELUDE}+0 %{ assert tcpi_rto == 1 }%\n`)).toMatchObject({ status: 'unsupported', line: 11, message: 'inline code %{ ... }% (no Python interpreter in this runner; every other line passed, 1 code block not run)' });
    expect(runDrill(`${PRELUDE}+0 \`ip link set dev tun0 mtu 1200\`\n`)).toMatchObject({ status: 'unsupported', line: 11, message: 'shell command `ip link set dev tun0 mtu 1200`' });
    expect(runDrill(`${PRELUDE}+0 sendfile(4, 5, ..., 100) = 100\n`)).toMatchObject({ status: 'unsupported', message: 'system call sendfile() is not mapped onto the stack' });
    expect(runDrill(`${PRELUDE}+0 setsockopt(4, SOL_SOCKET, SO_KEEPALIVE, [1], 4) = 0\n`)).toMatchObject({ status: 'unsupported', message: 'SO_KEEPALIVE: the stack sends no keepalives' });
    expect(runDrill(`${PRELUDE}+0 setsockopt(4, IPPROTO_TCP, TCP_CONGESTION, "bbr", 3) = 0\n`)).toMatchObject({ status: 'unsupported', message: 'setsockopt IPPROTO_TCP TCP_CONGESTION' });
    expect(runDrill(`--ip_version=ipv6\n${PRELUDE}`)).toMatchObject({ status: 'unsupported', line: 1 });
    expect(runDrill(`${PRELUDE}+0 < udp (10)\n`)).toMatchObject({ status: 'unsupported', message: 'UDP packets' });
  });

  it('skips a shell command with a note when asked, still applying the sysctls in it', () => {
    const s = `\`../common/defaults.sh\nsysctl -q net.ipv4.tcp_timestamps=0\`\n${PRELUDE.split('\n').slice(3).join('\n')}`;
    expect(runDrill(s).status).toBe('unsupported');
    const r = runDrill(s, { shell: 'ignore', tcp: { sack: false, windowScaling: false } });
    expect(r.status).toBe('passed');
    expect(r.notes[0]).toMatch(/shell command ignored \(its known sysctls applied\)/);
  });

  it('parses sysctl lines it can honour, and only those', () => {
    expect(parseSysctls('sysctl -q net.ipv4.tcp_sack=0 net.ipv4.tcp_rmem="1 2 3"')).toEqual([
      ['net.ipv4.tcp_sack', '0'],
      ['net.ipv4.tcp_rmem', '1 2 3'],
    ]);
    expect(parseSysctls('sysctl -q net.ipv4.tcp_congestion_control=reno')).toBeNull();
    expect(parseSysctls('echo 1 > /proc/sys/net/ipv4/tcp_sack')).toBeNull();
  });

  it('counts a marked script that fails as an expected failure, and flags one that passes', () => {
    expect(runDrill(`// expected-failure: demo\n${PRELUDE}+0 write(4, ..., 10) = 10\n+0 > P. 1:11(10) ack 9\n`)).toMatchObject({ status: 'xfail', expectedFailure: 'demo' });
    expect(runDrill(`// expected-failure: demo\n${PRELUDE}`)).toMatchObject({ status: 'xpass' });
  });

  it('reports a syntax error as a failure with its line', () => {
    expect(runDrill('0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0 win 1\n')).toMatchObject({ status: 'failed', line: 2 });
  });
});

describe('runDrill: addresses and sequence space', () => {
  it('maps absolute SYN sequence numbers and a non-zero peer ISN', () => {
    const r = runDrill(`--tolerance_usecs=500
\`sysctl -q net.ipv4.tcp_timestamps=0 net.ipv4.tcp_sack=0 net.ipv4.tcp_window_scaling=0 net.ipv4.tcp_rmem="1 65535 65535"\`
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 1000000:1000000(0) win 65535 <mss 1460>
+0 > S. 77:77(0) ack 1000001 <mss 1460>
+.01 < . 1:1(0) ack 1 win 65535
+0 accept(3, ..., ...) = 4
+0 < P. 1:6(5) ack 1 win 65535
+0 read(4, ..., 5) = 5
+0 write(4, ..., 3) = 3
+0 > P. 1:4(3) ack 6
`);
    expect(r.status, r.message).toBe('passed');
  });
});

describe('parseSysctls: packetdrill helper form', () => {
  it('reads set_sysctls.py paths, across line continuations', () => {
    expect(parseSysctls('../../common/set_sysctls.py /proc/sys/net/ipv4/tcp_timestamps=0 \\\n /proc/sys/net/ipv4/tcp_sack=1')).toEqual([
      ['net.ipv4.tcp_timestamps', '0'],
      ['net.ipv4.tcp_sack', '1'],
    ]);
  });
});

describe('runDrill: addresses', () => {
  const script = (opts: string): string =>
    `${opts}--tolerance_usecs=500\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n+0 < S 0:0(0) win 65535 <mss 1460>\n+0 > S. 0:0(0) ack 1 <...>\n`;

  it('takes the local, remote and gateway addresses from the script', () => {
    expect(runDrill(script('--local_ip=10.1.2.3/8\n--remote_ip=10.9.9.9\n--gateway_ip=10.0.0.1\n')).status).toBe('passed');
    expect(runDrill(script('--local_ip=10.1.2.3\n--netmask_ip=255.0.0.0\n--bind_port=9000\n')).status).toBe('passed');
  });

  it('reports IPv6 as unsupported', () => {
    expect(runDrill(script('--local_ip=fd::1\n'))).toMatchObject({ status: 'unsupported', line: 1, message: '--local_ip=fd::1 (IPv4 only)' });
  });
});
