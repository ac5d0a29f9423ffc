/**
 * Two processes, one link: apps/tunnel-host.ts as a Telnet server in one
 * process and as a Telnet client in another, their Ethernet frames carried as
 * UDP datagrams over 127.0.0.1. Needs no root and no namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PipeTerminal } from './support/terminal.js';

const TSX = path.resolve(process.cwd(), 'node_modules/.bin/tsx');
const APP = path.resolve(process.cwd(), 'apps/tunnel-host.ts');
const started: ChildProcess[] = [];

afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function start(args: string[]): PipeTerminal {
  const child = spawn(TSX, [APP, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  started.push(child);
  return new PipeTerminal(child);
}

describe('two stack processes on one UDP tunnel (apps/tunnel-host.ts)', () => {
  it('the client process logs in to the server process and runs commands', async () => {
    // The server takes any free port and learns its peer from the first datagram.
    const server = start(['server', '--local', '127.0.0.1:0', '--ip', '10.88.5.1/24']);
    const tunnel = await server.waitFor(/UDP tunnel: 127\.0\.0\.1:(\d+) <->/, 30_000);
    await server.waitFor(/Telnet server listening on 10\.88\.5\.1:23/, 30_000);
    const port = tunnel[1]!;

    const client = start(['client', '--local', '127.0.0.1:0', '--remote', `127.0.0.1:${port}`, '--ip', '10.88.5.2/24', '--connect', '10.88.5.1', '--ping', '10.88.5.1']);
    await client.waitFor(/ping 10\.88\.5\.1: 3\/3 answered/, 30_000);
    await client.waitFor(/login: /);
    client.type('demo\n');
    await client.waitFor(/Password: /);
    client.type('demo\n');
    await client.waitFor(/demo@server\$ /);
    client.type('echo across two processes\n');
    await client.waitFor(/\r?\nacross two processes\r?\ndemo@server\$ /);
    client.type('whoami\n');
    await client.waitFor(/\r?\ndemo\r?\ndemo@server\$ /);
    client.type('exit\n');
    await client.waitFor(/Connection closed by foreign host\./);
    expect((await client.exited()).code).toBe(0);

    server.child.kill('SIGINT');
    expect((await server.exited()).code).toBe(130);
  });

  it('refuses a command line without a wire', async () => {
    const bad = start(['server', '--ip', '10.88.5.1/24']);
    const r = await bad.exited(30_000);
    expect(r.code).toBe(2);
    expect(bad.output).toContain('give --local HOST:PORT (UDP tunnel) or --tap CIDR (TAP link)');
  });
});
