/**
 * Lines the shell must not run as received: one longer than the limit (it used
 * to be cut at 1024 characters and run anyway), and one with 8-bit bytes that
 * are not UTF-8 (they used to vanish silently, without the BINARY option).
 */
import { describe, expect, it } from 'vitest';
import { LineEditor } from '../../src/layers/telnet/nvt-line.js';
import { makeNet, rawPeer } from '../layers/telnet/support/net.js';

async function loggedIn() {
  const n = makeNet();
  const peer = rawPeer(n);
  await n.run(() => peer.text().includes('login: '));
  peer.send('demo\r\n');
  await n.run(() => peer.text().includes('Password: '));
  peer.send('demo\r\n');
  await n.run(() => peer.text().includes('demo@server$ '));
  return { n, peer };
}

describe('hostile: telnet lines', () => {
  it('an over-long line is refused with a message, not cut and run', async () => {
    const { n, peer } = await loggedIn();
    const from = peer.received.length;
    peer.send(`echo ${'x'.repeat(2000)}\r\n`);
    await n.run(() => peer.text().slice(from).includes('$ '), 10_000);
    const out = peer.text().slice(from);
    expect(out).toContain('Line too long (more than 1024 characters): ignored.');
    expect(out).not.toContain('xxxxxxxxxx\r\n');
    peer.send('echo still here\r\n');
    await n.run(() => peer.text().slice(from).includes('still here\r\n'), 10_000);
    expect(peer.text().slice(from)).toContain('still here\r\n');
  });

  it('8-bit bytes that are not UTF-8 are reported, and the line is not run; UTF-8 works', async () => {
    const { n, peer } = await loggedIn();
    const from = peer.received.length;
    peer.send([...new TextEncoder().encode('echo caf'), 0xe9, 0x0d, 0x0a]);
    await n.run(() => peer.text().slice(from).includes('8-bit'), 10_000);
    expect(peer.text().slice(from)).toContain('Line ignored: it holds 8-bit bytes that are not UTF-8');
    expect(peer.text().slice(from)).not.toContain('caf\r\n');
    const from2 = peer.received.length;
    peer.send(new TextEncoder().encode('echo café\r\n'));
    await n.run(() => Buffer.from(peer.received.slice(from2)).toString('utf8').includes('café\r\n'), 10_000);
    expect(Buffer.from(peer.received.slice(from2)).toString('utf8')).toContain('café\r\n');
  });

  it('the line editor gives what was kept when not asked to reject (transcripts of other servers)', () => {
    const e = new LineEditor({ echo: 'off', maxLength: 3 });
    expect(e.feed(new TextEncoder().encode('abcdef\r'))).toEqual([{ kind: 'line', text: 'abc' }]);
    const r = new LineEditor({ echo: 'off', maxLength: 3, rejectBadLines: true });
    expect(r.feed(new TextEncoder().encode('abcdef\r'))).toEqual([{ kind: 'rejected', reason: 'too-long', text: 'abc' }]);
    expect(r.feed(Uint8Array.of(0x61, 0xff, 0x0d))).toEqual([{ kind: 'rejected', reason: '8-bit', text: 'a' }]);
    expect(r.feed(Uint8Array.of(0x61, 0x0d))).toEqual([{ kind: 'line', text: 'a' }]);
  });
});
