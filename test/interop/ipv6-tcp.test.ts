/**
 * TCP over IPv6 against Linux through a TAP device: the kernel end has
 * fd00:77:6::1/64 (and 10.77.6.1/24), the stack is dual-stack with
 * fd00:77:6::2/64 (and 10.77.6.2/24), found by neighbor discovery. Linux
 * `telnet -6` logs in to the stack's Telnet server; 50 MiB each way with
 * `nc -6`, sha256-exact; tshark judges every frame the kernel saw. The wire is
 * the shared lab's (support/lab.ts), dual-stack.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { hostShellEnv } from '../../src/layers/telnet/host-env.js';
import type { ServerSession } from '../../src/layers/telnet/server-session.js';
import { TelnetServer } from '../../src/layers/telnet/server.js';
import { loadUsers } from '../../src/layers/telnet/users.js';
import { bulkData, kernelToStack, stackToKernel, type BulkData } from './support/bulk.js';
import { tsharkRows } from './support/capture.js';
import { interopDescribe } from './support/env.js';
import { Lab } from './support/lab.js';
import { PipeTerminal } from './support/terminal.js';

const MIB = 1024 * 1024;
const SIZE = Number(process.env.UPCALL_INTEROP_BULK_MIB ?? 50) * MIB;
const KERNEL6 = 'fd00:77:6::1';
const STACK6 = 'fd00:77:6::2';

let dir = '';
let data: BulkData;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'uit-ipv6-'));
  data = bulkData(SIZE, path.join(dir, 'data.bin'));
});

afterEach(async () => {
  await Lab.closeAll();
});

afterAll(() => {
  if (dir !== '' && process.env.UPCALL_INTEROP_KEEP === undefined) rmSync(dir, { recursive: true, force: true });
});

/** The shared lab, dual-stack (10.77.6.0/24 and fd00:77:6::/64). */
function open6(tag: string): Promise<Lab> {
  return Lab.open({ tag, subnet: '10.77.6', subnet6: 'fd00:77:6' });
}

/** Stops the capture; what the kernel dropped of it. */
async function stopCapture(lab: Lab): Promise<number> {
  return (await lab.stopCapture()).droppedByKernel;
}

interface Wire6 {
  tcpFrames: number;
  overIpv4: number;
  badChecksums: number;
  unverified: number;
  malformed: number;
  resets: number;
  /** Frames tshark finds with a bad TCP checksum, as `#frame from source` (the capture is kept then). */
  bad: string[];
  errors: string[];
  bytesFrom: Record<string, number>;
}

/** What tshark makes of the TCP in a capture: every segment over IPv6, checksums verified. */
function judge(file: string, dataPort?: number): Wire6 {
  const decodeAs = dataPort === undefined ? [] : ['-d', `tcp.port==${dataPort},data`];
  const rows = tsharkRows(
    file,
    'tcp',
    ['ipv6.src', 'ip.src', 'tcp.checksum.status', '_ws.malformed', 'tcp.flags.reset', 'tcp.len', '_ws.expert.severity', '_ws.expert.message', 'frame.number'],
    ['-o', 'tcp.check_checksum:TRUE', ...decodeAs],
  );
  const w: Wire6 = { tcpFrames: 0, overIpv4: 0, badChecksums: 0, unverified: 0, malformed: 0, resets: 0, bad: [], errors: [], bytesFrom: {} };
  for (const [src6 = '', src4 = '', sum = '', malformed = '', rst = '', len = '', sev = '', msg = '', frame = ''] of rows) {
    w.tcpFrames++;
    if (src4 !== '') w.overIpv4++;
    if (sum === '0') {
      w.badChecksums++;
      if (w.bad.length < 10) w.bad.push(`#${frame} from ${src6 || src4} (${len} bytes of data)`);
    }
    if (sum === '2') w.unverified++;
    if (malformed !== '') w.malformed++;
    if (rst === '1' || rst === 'True') w.resets++;
    w.bytesFrom[src6] = (w.bytesFrom[src6] ?? 0) + Number(len || 0);
    // Expert errors (severity 8388608) other than checksum ones counted above.
    const sevs = sev.split(',');
    msg.split(',').forEach((m, i) => {
      if (sevs[i] === '8388608' && !/checksum/i.test(m) && w.errors.length < 10) w.errors.push(m);
    });
  }
  if (w.badChecksums > 0) {
    // Kept for a look in Wireshark: which side sent it, and what was wrong.
    const kept = path.resolve('test-artifacts/interop', path.basename(file));
    mkdirSync(path.dirname(kept), { recursive: true });
    copyFileSync(file, kept);
    w.bad.push(`capture kept at ${kept}`);
  }
  return w;
}

function expectCleanIpv6(w: Wire6): void {
  expect(w.tcpFrames).toBeGreaterThan(0);
  expect(w.overIpv4).toBe(0);
  expect(w.badChecksums, `TCP checksums tshark finds bad: ${w.bad.join('; ')}`).toBe(0);
  expect(w.unverified).toBe(0);
  expect(w.malformed).toBe(0);
  expect(w.resets).toBe(0);
  expect(w.errors).toEqual([]);
}

interopDescribe('interop: TCP over IPv6 with Linux (telnet -6, nc -6)', ['telnet', 'nc', 'ss', 'sha256sum', 'tcpdump', 'tshark'], () => {
  it('Linux telnet -6 logs in to the stack over IPv6', async () => {
    const lab = await open6('tel6');
    const pcap = path.join(dir, 'telnet6.pcap');
    await lab.startCapture(pcap);
    const users = await loadUsers(path.resolve(process.cwd(), 'apps/data/users.json'));
    const ended: ServerSession[] = [];
    let server: TelnetServer | undefined;
    server = new TelnetServer(lab.host.rt, lab.tcp, {
      users,
      shellEnv: hostShellEnv({ rt: lab.host.rt, tcp: lab.tcp, icmp: lab.host.icmp, icmpv6: lab.host.icmpv6!, hostName: 'stack' }, () => server),
      onSessionEnd: (s) => ended.push(s),
    });
    server.start();

    const term = new PipeTerminal(lab.link.spawn('telnet', ['-6', STACK6], { stdio: ['pipe', 'pipe', 'pipe'] }));
    await term.waitFor(/login: /);
    term.type('demo\n');
    await term.waitFor(/Password: /);
    term.type('demo\n');
    await term.waitFor(/demo@stack\$ /);
    term.type('netstat\n');
    await term.waitFor(/demo@stack\$ /);
    term.type(`ping ${KERNEL6}\n`);
    await term.waitFor(/packets transmitted[^\n]*\n[\s\S]*demo@stack\$ /);
    term.type('exit\n');
    await term.waitFor(/Connection closed by foreign host\./);
    await term.exited();
    const transcript = term.output;
    console.log(`transcript:\n${transcript}`);
    expect(transcript).toMatch(new RegExp(`tcp +\\[${STACK6}\\]:23 +\\[${KERNEL6}\\]:\\d+ +ESTABLISHED +demo`));
    expect(transcript).toMatch(/3 packets transmitted, 3 received, 0% packet loss/);
    expect(server.counters.loginsOk).toBe(1);
    expect(ended).toHaveLength(1);
    expect(ended[0]!.conn.remoteAddress).toBe(KERNEL6);

    expect(await stopCapture(lab)).toBe(0);
    const w = judge(pcap);
    console.log(`telnet -6 capture: ${JSON.stringify(w)}`);
    expectCleanIpv6(w);
    // Both ends sent their FIN: the connection closed in order.
    const fins = tsharkRows(pcap, 'tcp.flags.fin == 1', ['ipv6.src']);
    expect(new Set(fins.map((r) => r[0]))).toEqual(new Set([KERNEL6, STACK6]));
    expect(tsharkRows(pcap, 'telnet', ['frame.number']).length).toBeGreaterThan(10);
  });

  it(`kernel -> stack: ${SIZE / MIB} MiB with nc -6, sha256-exact`, async () => {
    const lab = await open6('k2s6');
    const pcap = path.join(dir, 'k2s6.pcap');
    await lab.startCapture(pcap);
    const port = 5061;
    const r = await kernelToStack(lab, data, port, 150_000, 6);
    console.log(`kernel -> stack over IPv6: ${(r.bytes / MIB).toFixed(1)} MiB in ${(r.ms / 1000).toFixed(2)} s = ${r.mbps.toFixed(0)} Mbit/s`);
    expect(r.error).toBeUndefined();
    expect(r.peer.status).toBe(0);
    expect(r.bytes).toBe(SIZE);
    expect(r.sha256).toBe(data.sha256);
    expect(await stopCapture(lab)).toBe(0);
    const w = judge(pcap, port);
    expectCleanIpv6(w);
    expect(w.bytesFrom[KERNEL6]).toBeGreaterThanOrEqual(SIZE);
  });

  it(`stack -> kernel: ${SIZE / MIB} MiB to nc -6 -l, sha256-exact`, async () => {
    const lab = await open6('s2k6');
    const pcap = path.join(dir, 's2k6.pcap');
    await lab.startCapture(pcap);
    const port = 5062;
    const r = await stackToKernel(lab, data, port, 150_000, 6);
    console.log(`stack -> kernel over IPv6: ${(r.bytes / MIB).toFixed(1)} MiB in ${(r.ms / 1000).toFixed(2)} s = ${r.mbps.toFixed(0)} Mbit/s`);
    expect(r.error).toBeUndefined();
    expect(r.peer.status).toBe(0);
    expect(r.sha256).toBe(data.sha256);
    expect(await stopCapture(lab)).toBe(0);
    const w = judge(pcap, port);
    expectCleanIpv6(w);
    expect(w.bytesFrom[STACK6]).toBeGreaterThanOrEqual(SIZE);
  });
});
