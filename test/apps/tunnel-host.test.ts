/**
 * The tunnel host's client when its peer does not answer: it says what was
 * missing (ARP or the SYN) and how long it waited, and exits 1, instead of
 * hanging; with --wait-for-peer it keeps trying until the peer is up. On UDP
 * tunnels over 127.0.0.1, in this process (real time, short timeouts).
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { main, PeerTimeoutError, startTunnelHost, type RunningTunnelHost, type TunnelHostOptions } from '../../apps/tunnel-host.js';
import { parseIp4 } from '../../src/wire/addr.js';

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
