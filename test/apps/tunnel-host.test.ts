/**
 * The tunnel host's client when its peer does not answer: it says what was
 * missing (ARP or the SYN) and how long it waited, and exits 1, instead of
 * hanging; with --wait-for-peer it keeps trying until the peer is up. On UDP
 * tunnels over 127.0.0.1, in this process (real time, short timeouts).
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { UsageError } from '../../apps/args.js';
import { main, parseTunnelHostArgs, PeerTimeoutError, startTunnelHost, type RunningTunnelHost, type TunnelHostOptions } from '../../apps/tunnel-host.js';
import { formatIp } from '../../src/layers/net.js';
import { parseIp4 } from '../../src/wire/addr.js';
import { parseIp6 } from '../../src/wire/addr6.js';

/** A UDP port nobody listens on (bound once, then let go). */
async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const hosts: RunningTunnelHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});

const client = (remotePort: number, o: Partial<TunnelHostOptions> = {}): TunnelHostOptions => ({
  role: 'client',
  local: { host: '127.0.0.1', port: 0 },
  remote: { host: '127.0.0.1', port: remotePort },
  ip: '10.88.7.2/24',
  connect: { ip: parseIp4('10.88.7.1'), port: 23 },
  port: 23,
  users: 'apps/data/users.json',
  loss: 0,
  ...o,
});

describe('tunnel-host client and a peer that never answers', () => {
  it('gives up after --connect-timeout: no ARP reply, with the time it waited', async () => {
    const log: string[] = [];
    const t0 = performance.now();
    const err = await startTunnelHost(client(await freePort(), { connectTimeoutMs: 600 }), (l) => log.push(l)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PeerTimeoutError);
    expect((err as Error).message).toMatch(/^no ARP reply from 10\.88\.7\.1 \(ARP timeout\); waited 0\.[67] s$/);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(log).toContain('Telnet client connecting to 10.88.7.1:23');
  });

  it('as the command: one line on stderr and exit 1', async () => {
    const err: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((c: string | Uint8Array) => (err.push(String(c)), true)) as typeof process.stderr.write;
    let code: number;
    try {
      code = await main(['client', '--local', '127.0.0.1:0', '--remote', `127.0.0.1:${await freePort()}`, '--ip', '10.88.7.2/24', '--connect', '10.88.7.1', '--connect-timeout', '0.3']);
    } finally {
      process.stderr.write = write;
    }
    expect(code).toBe(1);
    const last = err.join('').trimEnd().split('\n').pop();
    expect(last).toMatch(/^tunnel-host: no ARP reply from 10\.88\.7\.1 \(ARP timeout\); waited 0\.\d s$/);
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('a peer that answers but does not listen: refused, at once', async () => {
    const port = await freePort();
    hosts.push(await startTunnelHost({ role: 'server', local: { host: '127.0.0.1', port }, ip: '10.88.7.1/24', port: 2323, users: 'apps/data/users.json', loss: 0 }, () => {}));
    const err = await startTunnelHost(client(port, { connectTimeoutMs: 5000 }), () => {}).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(PeerTimeoutError);
    expect((err as Error).message).toMatch(/^10\.88\.7\.1:23: connection failed: connection refused; waited 0\.\d s$/);
  });

  it('--wait-for-peer: keeps trying, and connects once the peer comes up', async () => {
    const port = await freePort();
    const log: string[] = [];
    // The server's banner goes to stdout once connected: not into the test's output.
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (() => true) as typeof process.stdout.write;
    onTestFinished(() => void (process.stdout.write = write));
    const connecting = startTunnelHost(client(port, { connectTimeoutMs: 500, waitForPeerMs: 8000 }), (l) => log.push(l));
    await new Promise((r) => setTimeout(r, 900));
    hosts.push(await startTunnelHost({ role: 'server', local: { host: '127.0.0.1', port }, ip: '10.88.7.1/24', port: 23, users: 'apps/data/users.json', loss: 0 }, () => {}));
    const h = await connecting;
    hosts.push(h);
    expect(h.session?.state).toBe('open');
    expect(log.some((l) => /^waiting for 10\.88\.7\.1:23 \(up to 8\.0 s\): no ARP reply/.test(l))).toBe(true);
    expect(log.some((l) => /^connected to 10\.88\.7\.1:23 after \d\.\d s$/.test(l))).toBe(true);
  });
});

describe('tunnel-host over IPv6 (-6)', () => {
  it('parses -6, --tap6, --ip6 and IPv6 peers for --connect and --ping, and says which combination is missing what', () => {
    const tap = parseTunnelHostArgs(['client', '--tap', '10.77.0.1/24', '-6']);
    expect(tap).toMatchObject({ role: 'client', tap: '10.77.0.1/24', ipv6: true });
    const o = parseTunnelHostArgs(['client', '--local', '127.0.0.1:0', '--ip', '10.9.0.2/24', '--ipv6', '--ip6', 'fd00:9::2/64', '--connect', '[fd00:9::1]:2323', '--ping', 'fd00:9::1']);
    if (o === 'help') throw new Error('help');
    expect(o.ip6).toBe('fd00:9::2/64');
    expect(formatIp(o.connect!.ip)).toBe('fd00:9::1');
    expect(o.connect!.port).toBe(2323);
    expect(formatIp(o.ping!)).toBe('fd00:9::1');
    const bare = parseTunnelHostArgs(['client', '--tap', '10.77.0.1/24', '-6', '--tap6', 'fd00:5::1/64', '--connect', 'fd00:5::1']);
    expect(bare).toMatchObject({ tap6: 'fd00:5::1/64', connect: { ip: parseIp6('fd00:5::1'), port: 23 } });
    expect(parseTunnelHostArgs(['client', '--tap', '10.77.0.1/24', '--connect', '10.77.0.1:24'])).toMatchObject({ connect: { ip: parseIp4('10.77.0.1'), port: 24 } });

    const refused = (argv: string[]): string => {
      try {
        parseTunnelHostArgs(argv);
      } catch (e) {
        if (e instanceof UsageError) return e.message;
        throw e;
      }
      return 'accepted';
    };
    expect(refused(['server', '--local', '127.0.0.1:0', '--ip', '10.9.0.1/24', '-6'])).toBe('--ip6 CIDR is needed with -6 on a UDP tunnel');
    expect(refused(['server', '--tap', '10.77.0.1/24', '--tap6', 'fd00:5::1/64'])).toBe('--tap6 and --ip6 go with -6 (--ipv6)');
    expect(refused(['server', '--local', '127.0.0.1:0', '--ip', '10.9.0.1/24', '-6', '--ip6', 'fd00:9::1/64', '--tap6', 'fd00:5::1/64'])).toBe('--tap6 goes with --tap');
    expect(refused(['client', '--tap', '10.77.0.1/24', '--connect', 'fd00:5::1'])).toBe('an IPv6 address for --connect or --ping needs -6 (--ipv6)');
    expect(refused(['client', '--tap', '10.77.0.1/24', '-6', '--connect', '[10.77.0.1]:23'])).toMatch(/^--connect: not an IPv6 address/);
    expect(refused(['client', '--tap', '10.77.0.1/24', '-6', '--connect', '[fd00::1]:99999'])).toMatch(/^--connect: bad port/);
    expect(refused(['server', '--tap', '10.77.0.1/24', '-6', '--ip6', '10.0.0.9/24'])).toMatch(/--ip6/);
  });

  it('a client logs in to a server on one UDP tunnel over IPv6, each address past duplicate address detection first', async () => {
    const port = await freePort();
    const srvLog: string[] = [];
    const cliLog: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (() => true) as typeof process.stdout.write;
    onTestFinished(() => void (process.stdout.write = write));
    const server = { role: 'server', local: { host: '127.0.0.1', port }, ip: '10.88.9.1/24', ipv6: true, ip6: 'fd00:88::1/64', port: 23, users: 'apps/data/users.json', loss: 0 } as const;
    // Both at once (their DAD runs side by side); the client tries again until the server listens.
    const [srv, h] = await Promise.all([
      startTunnelHost(server, (l) => srvLog.push(l)),
      startTunnelHost(client(port, { ip: '10.88.9.2/24', ipv6: true, ip6: 'fd00:88::2/64', connect: { ip: parseIp6('fd00:88::1'), port: 23 }, connectTimeoutMs: 3000, waitForPeerMs: 8000 }), (l) => cliLog.push(l)),
    ]);
    hosts.push(srv, h);
    expect(srvLog).toContain('fd00:88::1: duplicate address detection done');
    expect(srvLog).toContain('Telnet server listening on 10.88.9.1:23 and [fd00:88::1]:23');
    expect(cliLog).toContain('fd00:88::2: duplicate address detection done');
    expect(cliLog).toContain('Telnet client connecting to [fd00:88::1]:23');
    expect(h.session?.state).toBe('open');
    expect(h.host.ndp!.neighbor(parseIp6('fd00:88::1'))?.state).toMatch(/reachable|stale|delay/);
  });

  it('a silent IPv6 peer: no neighbor advertisement, said so', async () => {
    // No DAD here: the waiting is the connect's alone.
    const err = await startTunnelHost(client(await freePort(), { ipv6: true, ip6: 'fd00:88::2/64', dad: false, connect: { ip: parseIp6('fd00:88::1'), port: 23 }, connectTimeoutMs: 600 }), () => {}).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PeerTimeoutError);
    expect((err as Error).message).toMatch(/^no neighbor advertisement from fd00:88::1 \(neighbor discovery timeout\); waited 0\.[67] s$/);
  });
});
