/**
 * The stack's Telnet server behind a TAP device, and the Linux `telnet`
 * client (inetutils) inside the namespace logging in to it: negotiation,
 * login as demo/demo from apps/data/users.json, `echo`, `whoami`, `exit`.
 * The client is driven through its pipes; the transcript is what it printed.
 * Subnet 10.77.2.0/24.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { hostShellEnv } from '../../src/layers/telnet/host-env.js';
import type { ServerSession } from '../../src/layers/telnet/server-session.js';
import { TelnetServer } from '../../src/layers/telnet/server.js';
import { loadUsers } from '../../src/layers/telnet/users.js';
import { checkCapture, describeCheck, keepIfProblems, tsharkRows } from './support/capture.js';
import { interopDescribe } from './support/env.js';
import { Lab } from './support/lab.js';
import { PipeTerminal } from './support/terminal.js';

// Made when the first test runs: a skipped file runs no hooks and must leave nothing behind.
let dir = '';

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'uit-tsrv-'));
});

afterEach(async () => {
  await Lab.closeAll();
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

async function serverOn(lab: Lab, ended: ServerSession[]): Promise<TelnetServer> {
  const users = await loadUsers(path.resolve(process.cwd(), 'apps/data/users.json'));
  const tcp = lab.tcp;
  let server: TelnetServer | undefined;
  server = new TelnetServer(lab.host.rt, tcp, {
    users,
    shellEnv: hostShellEnv({ rt: lab.host.rt, tcp, icmp: lab.host.icmp, hostName: 'stack' }, () => server),
    logNegotiations: true,
    onSessionEnd: (s) => ended.push(s),
  });
  server.start();
  return server;
}

interopDescribe('interop: the Linux telnet client logs in to the stack', ['telnet', 'tcpdump', 'tshark'], () => {
  it('logs in as demo/demo, runs echo, whoami and exit; the transcript is what a user would see', async () => {
    const lab = await Lab.open({ tag: 'tsrv', subnet: '10.77.2' });
    const pcap = path.join(dir, 'telnet-server.pcap');
    await lab.startCapture(pcap);
    const ended: ServerSession[] = [];
    const server = await serverOn(lab, ended);

    const term = new PipeTerminal(lab.link.spawn('telnet', [lab.stackIp], { stdio: ['pipe', 'pipe', 'pipe'] }));
    await term.waitFor(/login: /);
    term.type('demo\n');
    await term.waitFor(/Password: /);
    term.type('demo\n');
    await term.waitFor(/demo@stack\$ /);
    term.type('echo hello from linux\n');
    await term.waitFor(/\r\nhello from linux\r\ndemo@stack\$ /);
    // One keystroke at a time, as a person types: each is echoed by the server.
    for (const key of 'whoami') {
      term.type(key);
      await term.waitFor(new RegExp(key));
      await new Promise((r) => setTimeout(r, 20));
    }
    term.type('\n');
    await term.waitFor(/\r\ndemo\r\ndemo@stack\$ /);
    term.type('exit\n');
    await term.waitFor(/Connection closed by foreign host\./);
    await term.exited();

    const transcript = term.output.replace(/^[\s\S]*?Escape character is '\^]'\.\n/, '');
    console.log(`transcript:\n${transcript}`);
    // Each line as typed and echoed by the server (the password never is), then the output.
    expect(transcript).toMatch(
      new RegExp(
        [
          '^Telnet login on an upcall-structured stack\\.\\r\\n(\\r\\n)?',
          'login: demo\\r\\n',
          'Password: \\r\\n',
          '[^\\r\\n]*\\r\\n', // the welcome line
          'demo@stack\\$ echo hello from linux\\r\\n',
          'hello from linux\\r\\n',
          'demo@stack\\$ whoami\\r\\n',
          'demo\\r\\n',
          'demo@stack\\$ exit\\r\\n',
          '[\\s\\S]*Connection closed by foreign host\\.\\n$',
        ].join(''),
      ),
    );
    expect(transcript).not.toMatch(/Password: [^\r]*demo/);

    expect(server.counters.loginsOk).toBe(1);
    expect(server.counters.loginsFailed).toBe(0);
    expect(ended).toHaveLength(1);
    // Character mode: Linux's client agreed to the server's echo and go-ahead suppression.
    const log = (ended[0]!.endpoint.log ?? []).map((r) => `${r.direction} ${r.text}`);
    console.log(`negotiation: ${log.join(', ')}`);
    expect(log).toEqual(expect.arrayContaining(['sent WILL ECHO', 'received DO ECHO']));
    expect(log.some((l) => /^received DO (SUPPRESS-GO-AHEAD|SGA)/.test(l))).toBe(true);

    await lab.stopCapture();
    const c = checkCapture(pcap, lab.kernelIp, lab.stackIp);
    keepIfProblems(pcap, c);
    console.log(`telnet to the stack: ${describeCheck(c)}`);
    expect(c.malformed).toBe(0);
    expect(c.badIpChecksums + c.badTcpChecksums).toBe(0);
    expect(c.unverifiedTcpChecksums).toBe(0);
    expect(c.otherErrors).toBe(0);
    expect(c.resetsFromKernel + c.resetsFromStack).toBe(0);
    // Both FINs were seen: the connection closed in order.
    const fins = tsharkRows(pcap, 'tcp.flags.fin == 1', ['ip.src']);
    expect(new Set(fins.map((r) => r[0]))).toEqual(new Set([lab.kernelIp, lab.stackIp]));
    // The kernel saw Telnet and nothing it could not parse as Telnet.
    expect(tsharkRows(pcap, 'telnet', ['frame.number']).length).toBeGreaterThan(10);
    // Piggybacking with a real peer: the echo of each single keystroke left in
    // the segment that acknowledged it (no separate pure ACK first).
    const segs = tsharkRows(pcap, 'tcp', ['ip.src', 'tcp.len', 'tcp.seq', 'tcp.ack']).map(([src, len, seq, ack]) => ({
      src,
      len: Number(len),
      seq: Number(seq),
      ack: Number(ack),
    }));
    let keystrokes = 0;
    for (let i = 0; i < segs.length; i++) {
      const k = segs[i]!;
      if (k.src !== lab.kernelIp || k.len !== 1) continue;
      const reply = segs.slice(i + 1).find((x) => x.src === lab.stackIp);
      expect(reply, `reply to the keystroke at seq ${k.seq}`).toBeDefined();
      expect(reply!.ack).toBe(k.seq + 1);
      expect(reply!.len).toBeGreaterThan(0);
      keystrokes++;
    }
    expect(keystrokes).toBeGreaterThanOrEqual(6);
  });
});
