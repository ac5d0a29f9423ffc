/**
 * Hostile peers against the stack through TAP (issue #15): from inside the
 * namespace, raw frames written to the TAP (an AF_PACKET socket in Python)
 * flood the stack's Telnet port with 20,000 SYNs from spoofed addresses that
 * never answer ARP, while the Linux `telnet` client logs in. With SYN cookies
 * the login goes through within 2 s of real time. Subnet 10.77.9.0/24.
 */
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { hostShellEnv } from '../../src/layers/telnet/host-env.js';
import { TelnetServer } from '../../src/layers/telnet/server.js';
import { loadUsers } from '../../src/layers/telnet/users.js';
import { interopDescribe } from './support/env.js';
import { Lab } from './support/lab.js';
import { PipeTerminal } from './support/terminal.js';

afterEach(async () => {
  await Lab.closeAll();
});

/** Writes `count` spoofed SYN frames for `dst`:23 on `ifname`, 10 a millisecond (10,000 a second). */
const FLOOD = String.raw`
import random, socket, struct, sys, time
ifname, dst_mac, dst_ip, count, seed = sys.argv[1], bytes.fromhex(sys.argv[2]), socket.inet_aton(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rnd = random.Random(seed)
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
prefix = dst_ip[:3]
for i in range(count):
    src = prefix + bytes([rnd.randint(20, 250)])
    sport = rnd.randint(1024, 65535)
    tcp = struct.pack('!HHIIBBHHH', sport, 23, rnd.getrandbits(32), 0, 6 << 4, 0x02, 65535, 0, 0) + bytes([2, 4, 5, 0xb4])
    c = csum(src + dst_ip + struct.pack('!BBH', 0, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack('!H', c) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), i & 0xffff, 0, 64, 6, 0, src, dst_ip)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    frame = dst_mac + bytes.fromhex('02000000aa01') + b'\x08\x00' + ip + tcp
    s.send(frame)
    if i % 10 == 9:
        time.sleep(0.001)
`;

interopDescribe('interop: a SYN flood through TAP', ['telnet', 'python3'], () => {
  it('20,000 spoofed SYNs: the Linux telnet client still logs in within 2 s', async () => {
    const lab = await Lab.open({ tag: 'hsyn', subnet: '10.77.9' });
    const users = await loadUsers(path.resolve(process.cwd(), 'apps/data/users.json'));
    const tcp = lab.tcp;
    let server: TelnetServer | undefined;
    server = new TelnetServer(lab.host.rt, tcp, {
      users,
      shellEnv: hostShellEnv({ rt: lab.host.rt, tcp, icmp: lab.host.icmp, hostName: 'stack' }, () => server),
    });
    server.start();
    const flood = lab.run('python3', ['-c', FLOOD, lab.tapName, '02004d770002', lab.stackIp, '20000', '15'], { timeoutMs: 120_000 });
    // Let the queue fill first.
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    const term = new PipeTerminal(lab.link.spawn('telnet', [lab.stackIp], { stdio: ['pipe', 'pipe', 'pipe'] }));
    await term.waitFor(/login: /);
    const connected = performance.now() - t0;
    term.type('demo\n');
    await term.waitFor(/Password: /);
    term.type('demo\n');
    await term.waitFor(/demo@stack\$ /);
    const took = performance.now() - t0;
    const done = await flood;
    const c = tcp.counters;
    console.log(
      `SYN flood through TAP: login in ${took.toFixed(0)} ms; flood exit ${done.status}; login prompt after ${connected.toFixed(0)} ms; drops ${JSON.stringify([...tcp.stats.dropReasons])}; ${c.synCookiesSent} cookies sent, ` +
        `${c.synCookiesAccepted} accepted, ${c.halfOpenEvicted} half-open evicted`,
    );
    term.type('exit\n');
    await term.waitFor(/Connection closed by foreign host\./);
    expect(done.status).toBe(0);
    expect(c.synCookiesSent + c.halfOpenEvicted).toBeGreaterThan(1_000);
    expect(took).toBeLessThan(2_000);
  });
});
