/**
 * The Linux kernel and the stack on one wire (a TAP device in a namespace of
 * the test's own): ARP and ICMP echo both ways, judged by iputils ping and by
 * tshark over a capture of everything the kernel saw. Subnet 10.77.1.0/24.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { checkCapture, describeCheck, keepIfProblems } from './support/capture.js';
import { interopDescribe } from './support/env.js';
import { Lab } from './support/lab.js';

// Made when the first test runs: a skipped file runs no hooks and must leave nothing behind.
let dir = '';

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'uit-ping-'));
});

afterEach(async () => {
  await Lab.closeAll();
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

interopDescribe('interop: ICMP echo between the Linux kernel and the stack over TAP', ['ping', 'tcpdump', 'tshark'], () => {
  it('the kernel pings the stack: every echo answered, ARP learned, the wire clean', async () => {
    const lab = await Lab.open({ tag: 'ping', subnet: '10.77.1' });
    const pcap = path.join(dir, 'kernel-pings.pcap');
    await lab.startCapture(pcap);

    const r = await lab.run('ping', ['-n', '-c', '5', '-i', '0.2', '-W', '2', '-s', '1000', lab.stackIp], { timeoutMs: 20_000 });
    expect(r.stdout).toContain('5 packets transmitted, 5 received, 0% packet loss');
    expect(r.stdout).toMatch(/1008 bytes from 10\.77\.1\.2: icmp_seq=1 ttl=64/);

    // The kernel resolved the stack's MAC through our ARP reply.
    const neigh = await lab.run('ip', ['neigh', 'show', lab.stackIp]);
    expect(neigh.stdout).toMatch(/lladdr 02:00:4d:77:00:02 .*(REACHABLE|STALE|DELAY)/);

    const stats = await lab.stopCapture();
    expect(stats.droppedByKernel).toBe(0);
    const c = checkCapture(pcap, lab.kernelIp, lab.stackIp);
    keepIfProblems(pcap, c);
    console.log(`kernel pings stack: ${describeCheck(c)}`);
    expect(c.packets).toBeGreaterThanOrEqual(12); // ARP pair + 5 requests + 5 replies
    expect(c.malformed).toBe(0);
    expect(c.badIpChecksums + c.badIcmpChecksums).toBe(0);
    expect(c.otherErrors).toBe(0);
    expect(lab.host.icmp.counters.echoRepliesSent).toBe(5);
  });

  it('the stack pings the kernel, with payloads that need IP fragments both ways', async () => {
    const lab = await Lab.open({ tag: 'ping', subnet: '10.77.1' });
    const pcap = path.join(dir, 'stack-pings.pcap');
    await lab.startCapture(pcap);

    const small = await lab.host.ping(lab.kernelIp, { count: 3, intervalMs: 50, timeoutMs: 2000 });
    expect(small.received).toBe(3);
    // 4000 data bytes: three fragments each way, reassembled by the kernel and by us.
    const big = await lab.host.ping(lab.kernelIp, { count: 2, intervalMs: 50, timeoutMs: 2000, size: 4000 });
    expect(big.received).toBe(2);
    expect(big.replies[0]!.bytes).toBe(4008);

    await lab.stopCapture();
    const c = checkCapture(pcap, lab.kernelIp, lab.stackIp);
    keepIfProblems(pcap, c);
    console.log(`stack pings kernel: ${describeCheck(c)}`);
    expect(c.malformed).toBe(0);
    expect(c.badIpChecksums + c.badIcmpChecksums).toBe(0);
    expect(c.otherErrors).toBe(0);
  });
});
