/**
 * The stack's Telnet client logs in to a real inetutils-telnetd, served by
 * socat inside the namespace on the kernel's TAP address, as a throwaway
 * user the test creates (random name and password) and removes afterwards.
 * Subnet 10.77.3.0/24.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { TelnetClient } from '../../src/layers/telnet/client.js';
import { checkCapture, describeCheck, keepIfProblems, tsharkRows } from './support/capture.js';
import { interopDescribe } from './support/env.js';
import { waitListening } from './support/bulk.js';
import { Lab } from './support/lab.js';
import { throwawayUser, userExists } from './support/users.js';

// Made when the first test runs: a skipped file runs no hooks and must leave nothing behind.
let dir = '';
const TELNETD = '/usr/sbin/telnetd';

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'uit-tcli-'));
});

afterEach(async () => {
  await Lab.closeAll();
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});


interopDescribe('interop: the stack\'s Telnet client logs in to inetutils-telnetd', ['socat', 'useradd', 'chpasswd', 'userdel', 'ss', TELNETD, 'tcpdump', 'tshark'], () => {
  it('logs in as a throwaway user, runs echo and whoami, logs out; the user is removed', async () => {
    const lab = await Lab.open({ tag: 'tcli', subnet: '10.77.3' });
    const user = throwawayUser();
    lab.onClose(() => user.remove());
    const pcap = path.join(dir, 'telnet-client.pcap');
    await lab.startCapture(pcap);

    lab.link.spawn('socat', [`TCP-LISTEN:23,bind=${lab.kernelIp},fork,reuseaddr`, `EXEC:${TELNETD},nofork`], { stdio: 'ignore' });
    await waitListening(lab, 23);

    const client = new TelnetClient(lab.host.rt, lab.tcp);
    const prompt = /\$ $/;
    const session = client.connect(lab.kernelAddr, 23, {
      script: [
        { expect: 'login: ', type: `${user.name}\r`, paceMs: 5, timeoutMs: 15_000 },
        { expect: 'assword: ', type: `${user.password}\r`, paceMs: 5, secret: true, timeoutMs: 15_000 },
        // $((6*7)) shows a shell evaluated the line, not just an echo of what was typed.
        { expect: prompt, type: 'echo interop-$((6*7))\r', paceMs: 5, timeoutMs: 15_000 },
        { expect: /\ninterop-42\r?\n[^\n]*\$ $/, type: 'whoami\r', paceMs: 5, timeoutMs: 15_000 },
        { expect: new RegExp(`\\n${user.name}\\r?\\n[^\\n]*\\$ $`), type: 'exit\r', paceMs: 5, timeoutMs: 15_000 },
      ],
    });
    await Promise.race([session.closed(), new Promise((r) => setTimeout(r, 60_000))]);
    const screen = session.screen.text;
    console.log(`screen:\n${screen}`);

    expect(session.error).toBeNull();
    expect(session.state).toBe('closed');
    expect(session.endReason).toBe('closed by the server');
    expect(screen).toMatch(new RegExp(`login: ${user.name}\\nPassword:\\n`));
    expect(screen).not.toContain(user.password);
    expect(screen).toMatch(/\$ echo interop-\$\(\(6\*7\)\)\ninterop-42\n/);
    expect(screen).toMatch(new RegExp(`\\$ whoami\\n${user.name}\\n`));
    expect(screen).toMatch(/\$ exit\n/);
    await lab.stopCapture();
    // telnetd asked for the terminal type (subnegotiation 24) and ours answered.
    expect(tsharkRows(pcap, `ip.src == ${lab.stackIp} && telnet.subcmd == 24`, ['frame.number']).length).toBeGreaterThanOrEqual(1);
    const c = checkCapture(pcap, lab.kernelIp, lab.stackIp);
    keepIfProblems(pcap, c);
    console.log(`stack's client to telnetd: ${describeCheck(c)}`);
    expect(c.malformed).toBe(0);
    expect(c.badIpChecksums + c.badTcpChecksums).toBe(0);
    expect(c.unverifiedTcpChecksums).toBe(0);
    expect(c.otherErrors).toBe(0);
    expect(c.resetsFromKernel + c.resetsFromStack).toBe(0);

    await lab.close();
    expect(userExists(user.name)).toBe(false);
  });
});
