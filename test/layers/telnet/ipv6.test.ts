/**
 * Remote login over IPv6: the Telnet server and client on dual-stack hosts
 * (the real IPv6, ICMPv6 and NDP modules on a simulated link), the login over
 * IPv6, and the shell's view of it (netstat rows in brackets, ping to an IPv6
 * address through ICMPv6).
 */
import { describe, expect, it } from 'vitest';
import { loginScript, makeNet, SERVER_IP, SERVER_IP6 } from './support/net.js';

describe('Telnet over IPv6', () => {
  it('logs in over IPv6, runs commands and logs out; the shell sees the IPv6 session', async () => {
    const n = makeNet({ ipv6: true, link: { loss: 0.02 } });
    const s = n.client.connect(SERVER_IP6, 23, { script: loginScript(['whoami', 'netstat', 'ping fd00::2', 'ping client', 'exit']) });
    expect(await n.run(() => s.state === 'closed')).toBe(true);
    expect(s.error).toBeNull();
    const t = s.screen.text;
    expect(t).toContain("Welcome, demo. Type 'help' for the commands.");
    expect(t).toMatch(/\$ whoami\ndemo\n/);
    // netstat: the session's row, its user, and the one listener shown for each family.
    expect(t).toMatch(/tcp +\[fd00::1\]:23 +\[fd00::2\]:\d+ +ESTABLISHED +demo/);
    expect(t).toMatch(/tcp +0\.0\.0\.0:23 +0\.0\.0\.0:\* +LISTEN/);
    expect(t).toMatch(/tcp +\[::\]:23 +\[::\]:\* +LISTEN/);
    expect(t).toContain('PING fd00::2: 56 data bytes');
    expect(t).toContain('PING client (fd00::2): 56 data bytes');
    expect(t.match(/bytes from fd00::2: icmp_seq=\d/g)!.length).toBeGreaterThanOrEqual(4);
    expect(t).toContain('Connection closed by foreign host.');
    expect(n.server.counters.loginsOk).toBe(1);
    // The server's side of the connection ends too (its last FIN may have needed a retransmission).
    const open = () => n.srvTcp.connections().filter((r) => r.state !== 'LISTEN' && r.state !== 'TIME-WAIT');
    expect(await n.run(() => open().length === 0)).toBe(true);
  });

  it('serves IPv4 and IPv6 clients at once on the one listener', async () => {
    const n = makeNet({ ipv6: true });
    const s6 = n.client.connect(SERVER_IP6, 23, { script: loginScript(['echo six', 'exit']) });
    const s4 = n.client.connect(SERVER_IP, 23, { script: loginScript(['echo four', 'exit']) });
    expect(await n.run(() => s6.state === 'closed' && s4.state === 'closed')).toBe(true);
    expect(s6.screen.text).toMatch(/\$ echo six\nsix\n/);
    expect(s4.screen.text).toMatch(/\$ echo four\nfour\n/);
    expect(n.server.counters.loginsOk).toBe(2);
  });
});
