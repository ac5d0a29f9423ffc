/**
 * The Linux kernel and the stack on one wire over IPv6 (a TAP device in a
 * namespace of the test's own): neighbor discovery and ICMPv6 echo both ways,
 * fragments both ways, judged by iputils ping and by tshark over a capture of
 * everything the kernel saw. The kernel is fd77:6::1, the stack fd77:6::2 (its
 * address goes through duplicate address detection first, on real time).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { Ipv6Stack } from '../../src/layers/ipv6/index.js';
import { formatIp6, ip6LinkLocalFromMac, parseIp6 } from '../../src/wire/addr6.js';
import { tsharkRows } from './support/capture.js';
import { interopDescribe } from './support/env.js';
import { Lab } from './support/lab.js';

const KERNEL = 'fd77:6::1';
const STACK = 'fd77:6::2';

let dir = '';

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'uit-ping6-'));
});

afterEach(async () => {
  await Lab.closeAll();
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** The shared lab, dual-stack: the kernel's TAP speaks IPv6, the stack's address is past DAD. */
async function open6(): Promise<{ lab: Lab; v6: Ipv6Stack }> {
  const lab = await Lab.open({ tag: 'pingsix', subnet: '10.77.6', subnet6: 'fd77:6' });
  const h = lab.host;
  return { lab, v6: { ipv6: h.ipv6!, icmpv6: h.icmpv6!, ndp: h.ndp! } };
}

interface Icmp6Check {
  frames: number;
  types: Map<string, number>;
  badChecksums: number;
  malformed: number;
  errors: string[];
}

/** tshark's view of every ICMPv6 message in the capture: per source and type, checksums, malformed frames, expert errors. */
function checkIcmp6(file: string, stackMac: number): Icmp6Check {
  const ours = new Set([STACK, formatIp6(ip6LinkLocalFromMac(stackMac)), '::']);
  const rows = tsharkRows(file, 'icmpv6 || ipv6.fraghdr', ['frame.number', 'ipv6.src', 'icmpv6.type', 'icmpv6.checksum.status', '_ws.malformed', '_ws.expert.severity', '_ws.expert.message']);
  const c: Icmp6Check = { frames: rows.length, types: new Map(), badChecksums: 0, malformed: 0, errors: [] };
  for (const [no = '', src = '', type = '', sum = '', malformed = '', severity = '', message = ''] of rows) {
    // Ours: our addresses, and :: (our DAD probes); everything else on this wire is the kernel's.
    const who = ours.has(src.split(',')[0]!) ? 'stack' : 'kernel';
    const t = type.split(',')[0]!;
    if (t !== '') c.types.set(`${who} ${t}`, (c.types.get(`${who} ${t}`) ?? 0) + 1);
    if (sum.split(',').includes('0')) c.badChecksums++;
    if (malformed !== '') c.malformed++;
    const sev = severity.split(',');
    message.split(',').forEach((m, i) => {
      if (sev[i] === '8388608' && c.errors.length < 10) c.errors.push(`frame ${no}: ${m}`);
    });
  }
  return c;
}

interopDescribe('interop: ICMPv6 echo and neighbor discovery between the Linux kernel and the stack over TAP', ['ping', 'tcpdump', 'tshark'], () => {
  it('the kernel pings the stack over IPv6: every echo answered, the kernel resolved us by NDP, the wire clean', async () => {
    const { lab, v6 } = await open6();
    const pcap = path.join(dir, 'kernel-pings6.pcap');
    await lab.startCapture(pcap);

    const r = await lab.run('ping', ['-6', '-n', '-c', '5', '-i', '0.2', '-W', '2', '-s', '1000', STACK], { timeoutMs: 20_000 });
    expect(r.stdout).toContain('5 packets transmitted, 5 received, 0% packet loss');
    expect(r.stdout).toMatch(/1008 bytes from fd77:6::2: icmp_seq=1 ttl=64/);

    const neigh = await lab.run('ip', ['-6', 'neigh', 'show', STACK]);
    expect(neigh.stdout).toMatch(/lladdr 02:00:4d:77:00:02 .*(REACHABLE|STALE|DELAY|PROBE)/);

    const stats = await lab.stopCapture();
    expect(stats.droppedByKernel).toBe(0);
    const c = checkIcmp6(pcap, lab.host.mac);
    console.log(`kernel pings stack (IPv6): ${c.frames} frames ${JSON.stringify(Object.fromEntries(c.types))} ${c.errors.join('; ')}`);
    expect(c.types.get('kernel 128')).toBe(5);
    expect(c.types.get('stack 129')).toBe(5);
    // The kernel's solicitation for us, our advertisement.
    expect(c.types.get('kernel 135') ?? 0).toBeGreaterThanOrEqual(1);
    expect(c.types.get('stack 136') ?? 0).toBeGreaterThanOrEqual(1);
    expect(c.badChecksums).toBe(0);
    expect(c.malformed).toBe(0);
    expect(c.errors).toEqual([]);
    expect(v6.icmpv6.counters.echoRepliesSent).toBe(5);
  });

  it('the stack pings the kernel over IPv6, with payloads that need fragments both ways', async () => {
    const { lab, v6 } = await open6();
    const pcap = path.join(dir, 'stack-pings6.pcap');
    await lab.startCapture(pcap);

    const small = await v6.icmpv6.ping(parseIp6(KERNEL), { count: 3, intervalMs: 50, timeoutMs: 2000 });
    expect(small.received).toBe(3);
    // 4000 data bytes: three fragments each way, reassembled by the kernel and by us.
    const big = await v6.icmpv6.ping(parseIp6(KERNEL), { count: 2, intervalMs: 50, timeoutMs: 2000, size: 4000 });
    expect(big.received).toBe(2);
    expect(big.replies[0]!.bytes).toBe(4008);
    expect(v6.ipv6.counters.reassembled).toBe(2);
    expect(v6.ndp.neighbor(parseIp6(KERNEL))?.state).toMatch(/reachable|stale|delay/);

    await lab.stopCapture();
    const c = checkIcmp6(pcap, lab.host.mac);
    console.log(`stack pings kernel (IPv6): ${c.frames} frames ${JSON.stringify(Object.fromEntries(c.types))} ${c.errors.join('; ')}`);
    const frags = tsharkRows(pcap, 'ipv6.fraghdr', ['ipv6.src']);
    expect(frags.length).toBeGreaterThanOrEqual(12);
    expect(c.types.get('stack 128')).toBe(5);
    expect(c.types.get('kernel 129')).toBe(5);
    expect(c.badChecksums).toBe(0);
    expect(c.malformed).toBe(0);
    expect(c.errors).toEqual([]);
  });
});
