/**
 * The remote-login demo on a TAP link over IPv6, as a user runs it:
 * `npm run demo -- server --tap CIDR -6` with Linux `telnet -6` logging in to
 * it, and `npm run demo -- client --tap CIDR -6` logging in to inetutils-telnetd
 * (served by socat on the kernel's IPv6 address) as a throwaway user. Each demo
 * process makes and removes its own namespace; the test checks it is gone.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { interopDescribe } from './support/env.js';
import { throwawayUser, userExists } from './support/users.js';
import { PipeTerminal } from './support/terminal.js';

const TSX = path.resolve(process.cwd(), 'node_modules/.bin/tsx');
const DEMO = path.resolve(process.cwd(), 'apps/demo.ts');
const TELNETD = '/usr/sbin/telnetd';
const started: ChildProcess[] = [];
const cleanups: Array<() => void> = [];

afterEach(async () => {
  for (const c of started.splice(0)) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    // SIGTERM first: the demo then removes its namespace (SIGKILL would leave it).
    c.kill('SIGTERM');
    const gone = await Promise.race([new Promise((r) => c.once('exit', () => r(true))), new Promise((r) => setTimeout(() => r(false), 5000))]);
    if (!gone) c.kill('SIGKILL');
  }
  for (const fn of cleanups.splice(0).reverse()) fn();
});

function demo(args: string[]): PipeTerminal {
  const child = spawn(TSX, [DEMO, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  started.push(child);
  return new PipeTerminal(child);
}

function namespaceExists(ns: string): boolean {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  return list.split('\n').some((l) => l.split(/\s/)[0] === ns);
}

interopDescribe('interop: the demo on a TAP link over IPv6 (npm run demo -- server|client --tap CIDR -6)', ['telnet', 'socat', 'useradd', 'chpasswd', 'userdel', TELNETD], () => {
  it('server: Linux telnet -6 logs in to the demo, pings the kernel from its shell over IPv6, and the namespace is removed on Ctrl-C', async () => {
    const server = demo(['server', '--tap', '10.77.8.1/24', '-6']);
    const link = await server.waitFor(/TAP link: namespace (\S+), device \S+ with the kernel at 10\.77\.8\.1\/24 and fd00:77::1\/64; the stack is 10\.77\.8\.2\/24 and fd00:77::2\/64/, 30_000);
    const ns = link[1]!;
    await server.waitFor(/fd00:77::2: duplicate address detection done/, 10_000);
    await server.waitFor(new RegExp(`Telnet server listening on 10\\.77\\.8\\.2:23 and \\[fd00:77::2\\]:23 \\(try: ip netns exec ${ns} telnet -6 fd00:77::2\\)`), 10_000);

    const telnet = spawn('ip', ['netns', 'exec', ns, 'telnet', '-6', 'fd00:77::2'], { stdio: ['pipe', 'pipe', 'pipe'] });
    started.push(telnet);
    const term = new PipeTerminal(telnet);
    await term.waitFor(/Connected to fd00:77::2/, 15_000);
    await term.waitFor(/login: /, 15_000);
    term.type('demo\n');
    await term.waitFor(/Password: /);
    term.type('demo\n');
    await term.waitFor(/demo@server\$ /);
    term.type('netstat\n');
    await term.waitFor(/ESTABLISHED[^\n]*\n[\s\S]*demo@server\$ /);
    term.type('ping fd00:77::1\n');
    await term.waitFor(/packets transmitted[^\n]*\n[\s\S]*demo@server\$ /, 15_000);
    term.type('exit\n');
    await term.waitFor(/Connection closed by foreign host\./);
    await term.exited();
    console.log(`telnet -6 to the demo:\n${term.output}`);
    expect(term.output).toMatch(/tcp +\[fd00:77::2\]:23 +\[fd00:77::1\]:\d+ +ESTABLISHED +demo/);
    expect(term.output).toMatch(/3 packets transmitted, 3 received, 0% packet loss/);

    expect(namespaceExists(ns)).toBe(true);
    server.child.kill('SIGINT');
    expect((await server.exited(15_000)).code).toBe(130);
    expect(namespaceExists(ns)).toBe(false);
  });

  it("client: the demo logs in to the kernel's telnetd over IPv6 as a throwaway user, then exits 0 and removes its namespace", async () => {
    const user = throwawayUser();
    cleanups.push(() => user.remove());
    // The peer comes up after the demo made the namespace: it waits for it.
    const client = demo(['client', '--tap', '10.77.9.1/24', '-6', '--wait-for-peer', '60']);
    const link = await client.waitFor(/TAP link: namespace (\S+), device \S+ with the kernel at 10\.77\.9\.1\/24 and fd00:77::1\/64/, 30_000);
    const ns = link[1]!;
    await client.waitFor(/Telnet client connecting to \[fd00:77::1\]:23/, 15_000);
    const telnetd = spawn('ip', ['netns', 'exec', ns, 'socat', 'TCP6-LISTEN:23,bind=[fd00:77::1],fork,reuseaddr', `EXEC:${TELNETD},nofork`], { stdio: 'ignore' });
    started.push(telnetd);

    await client.waitFor(/login: /, 30_000);
    client.type(`${user.name}\n`);
    await client.waitFor(/assword: /, 15_000);
    client.type(`${user.password}\n`);
    await client.waitFor(/\$ $/, 15_000);
    // $((6*7)) shows a shell evaluated the line, not just an echo of what was typed.
    client.type('echo over-ipv6-$((6*7))\n');
    await client.waitFor(/\nover-ipv6-42\r?\n/, 15_000);
    client.type('exit\n');
    const r = await client.exited(20_000);
    console.log(`the demo's client to telnetd over IPv6:\n${client.output}`);
    expect(r.code).toBe(0);
    // What the kernel's telnetd said came over IPv6 (the only address the client was given).
    // (the demo's own status lines go to stderr, read beside stdout: one may land inside the prompt's line)
    expect(client.output).toMatch(/login: (?:connected to [^\n]*\n)?uit[0-9a-f]{8}\r?\nPassword: /);
    expect(client.output).not.toContain(user.password);
    expect(namespaceExists(ns)).toBe(false);
    user.remove();
    expect(userExists(user.name)).toBe(false);
  });
});
