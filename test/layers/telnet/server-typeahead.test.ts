/**
 * Typeahead: keys typed while a command runs are kept, as a terminal keeps
 * them, and run when the prompt comes back; Ctrl-C flushes them; the buffer is
 * bounded. All on the virtual clock (ping takes seconds of it).
 */
import { describe, expect, it } from 'vitest';
import { loginScript, makeNet, SERVER_IP } from './support/net.js';

const whilePinging = (keys: string) => [
  ...loginScript([]),
  { expect: /\$ $/, type: 'ping client\r', paceMs: 10 },
  // icmp_seq=0 is on the screen: the command is running; these keys come before it ends.
  { expect: 'icmp_seq=0', type: keys, paceMs: 10 },
];

describe('typeahead in the Telnet shell', () => {
  it('keys typed while ping runs are executed, in order, when the prompt returns', async () => {
    const n = makeNet({ link: { loss: 0 } });
    const s = n.client.connect(SERVER_IP, 23, {
      script: [...whilePinging('echo typed ahead\rwhoami\r'), { expect: /\ndemo\ndemo@server\$ $/, type: 'exit\r' }],
    });
    expect(await n.run(() => s.state === 'closed')).toBe(true);
    const t = s.screen.text;
    // Not echoed while ping printed (its lines stay whole), then each line runs at its prompt.
    expect(t).toMatch(/icmp_seq=0 [^\n]*\n64 bytes[^\n]*icmp_seq=1/);
    expect(t).toMatch(/ping statistics ---\n[^\n]*\n[^\n]*\ndemo@server\$ echo typed ahead\ntyped ahead\ndemo@server\$ whoami\ndemo\ndemo@server\$ exit\n/);
    expect(n.server.stats.dropReasons.get('typeahead-full')).toBeUndefined();
  });

  it('a command typed ahead that takes time itself keeps the keys typed after it', async () => {
    const n = makeNet({ link: { loss: 0 } });
    const s = n.client.connect(SERVER_IP, 23, {
      script: [...whilePinging('ping server\rwhoami\r'), { expect: /\ndemo\ndemo@server\$ $/, type: 'exit\r' }],
    });
    expect(await n.run(() => s.state === 'closed')).toBe(true);
    expect(s.screen.text).toMatch(/demo@server\$ ping server\nPING server[\s\S]*--- server ping statistics ---\n[^\n]*\n[^\n]*\ndemo@server\$ whoami\ndemo\ndemo@server\$ exit\n/);
  });

  it('Ctrl-C interrupts the command and flushes what was typed before it, not after', async () => {
    const n = makeNet({ link: { loss: 0 } });
    const s = n.client.connect(SERVER_IP, 23, {
      script: [...whilePinging('whoami\r\x03echo after\r'), { expect: /after\ndemo@server\$ $/, type: 'exit\r' }],
    });
    expect(await n.run(() => s.state === 'closed')).toBe(true);
    const t = s.screen.text;
    expect(t).toMatch(/\^C\ndemo@server\$ echo after\nafter\ndemo@server\$ exit\n/);
    expect(t).not.toContain('whoami');
    expect(n.server.stats.dropReasons.get('typeahead-interrupted')).toBe(1);
  });

  it('is bounded: keys beyond maxTypeahead are dropped and counted', async () => {
    const n = makeNet({ link: { loss: 0 }, server: { maxTypeahead: 8 } });
    const s = n.client.connect(SERVER_IP, 23, {
      script: [...whilePinging('echo 123456789'), { expect: /\$ echo 123$/, type: '\r' }, { expect: /\n123\ndemo@server\$ $/, type: 'exit\r' }],
    });
    expect(await n.run(() => s.state === 'closed')).toBe(true);
    expect(s.screen.text).toContain('demo@server$ echo 123\n123\ndemo@server$ exit\n');
    expect(n.server.stats.dropReasons.get('typeahead-full')).toBe('456789'.length);
  });
});
