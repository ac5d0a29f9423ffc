/**
 * Linux TCP as the peer for bulk data: 50 MiB each way with nc in the
 * namespace, byte-exact by sha256, on a clean wire and with 1% loss injected
 * on the stack's side (both directions). Every frame the kernel sees is
 * captured and judged by tshark. Subnet 10.77.4.0/24.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { bulkData, kernelToStack, stackToKernel, type BulkData, type TransferResult } from './support/bulk.js';
import { checkCapture, describeCheck, keepIfProblems, type WireCheck } from './support/capture.js';
import { interopDescribe } from './support/env.js';
import { Lab } from './support/lab.js';

const MIB = 1024 * 1024;
const SIZE = Number(process.env.UPCALL_INTEROP_BULK_MIB ?? 50) * MIB;
const LOSS = 0.01;

// Made when the first test runs: a skipped file runs no hooks and must leave nothing behind.
let dir = '';
let data: BulkData;
const summary: string[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'uit-bulk-'));
  data = bulkData(SIZE, path.join(dir, 'data.bin'));
});

afterEach(async () => {
  await Lab.closeAll();
});

afterAll(() => {
  if (summary.length > 0) console.log(`bulk transfers (${SIZE / MIB} MiB each):\n  ${summary.join('\n  ')}`);
  if (dir === '') return;
  if (process.env.UPCALL_INTEROP_KEEP === undefined) rmSync(dir, { recursive: true, force: true });
  else console.log(`captures kept in ${dir}`);
});

interface Run {
  lab: Lab;
  result: TransferResult;
  wire: WireCheck;
  captureDrops: number;
}

async function transfer(direction: 'kernel->stack' | 'stack->kernel', loss: number, port: number): Promise<Run> {
  const lab = await Lab.open({
    tag: 'bulk',
    subnet: '10.77.4',
    ...(loss > 0 ? { faults: { loss, seed: 42 } } : {}),
  });
  const pcap = path.join(dir, `${direction.replace('->', '-to-')}-${loss}.pcap`);
  await lab.startCapture(pcap);
  const timeoutMs = loss > 0 ? 200_000 : 100_000;
  const result = direction === 'kernel->stack' ? await kernelToStack(lab, data, port, timeoutMs) : await stackToKernel(lab, data, port, timeoutMs);
  const cap = await lab.stopCapture();
  const wire = checkCapture(pcap, lab.kernelIp, lab.stackIp, { dataPorts: [port] });
  if (keepIfProblems(pcap, wire) === null && process.env.UPCALL_INTEROP_KEEP === undefined) rmSync(pcap, { force: true });
  const lost = lab.faults !== null ? `, ${lab.faults.stats.lost} frames dropped by the fault wrapper` : '';
  const drops = lab.host.stats().filter((r) => r.drops > 0).map((r) => `${r.module} ${JSON.stringify(r.dropReasons)}`);
  const line =
    `${direction} loss ${loss * 100}%: ${(result.bytes / MIB).toFixed(1)} MiB in ${(result.ms / 1000).toFixed(2)} s = ` +
    `${result.mbps.toFixed(0)} Mbit/s${lost}; stack drops: ${drops.length > 0 ? drops.join(', ') : 'none'}; ${describeCheck(wire)}`;
  summary.push(line);
  console.log(line);
  return { lab, result, wire, captureDrops: cap.droppedByKernel };
}

function expectExact(r: Run): void {
  expect(r.result.error).toBeUndefined();
  // Every datagram from the relay was a frame of this link.
  expect(r.lab.link.device.stats.badDatagrams + r.lab.link.device.stats.strangers).toBe(0);
  expect(r.result.bytes).toBe(SIZE);
  expect(r.result.sha256).toBe(data.sha256);
  expect(r.result.peer.status).toBe(0);
}

function expectCleanWire(r: Run, sender: 'kernel' | 'stack'): void {
  const w = r.wire;
  // Every frame the kernel saw was seen by tshark too, and whole.
  expect(r.captureDrops).toBe(0);
  expect(w.malformed).toBe(0);
  expect(w.badIpChecksums).toBe(0);
  expect(w.badTcpChecksums).toBe(0);
  expect(w.unverifiedTcpChecksums).toBe(0);
  expect(w.otherErrors).toBe(0);
  expect(w.resetsFromKernel).toBe(0);
  expect(w.resetsFromStack).toBe(0);
  // The sender's payload on the wire covers the data (retransmissions only add to it).
  const sent = sender === 'kernel' ? w.tcpBytesFromKernel : w.tcpBytesFromStack;
  expect(sent).toBeGreaterThanOrEqual(SIZE);
}

interopDescribe('interop: bulk TCP with the Linux kernel as the peer (nc)', ['nc', 'ss', 'sha256sum', 'tcpdump', 'tshark'], () => {
  it('kernel -> stack, clean wire: byte-exact, no retransmissions needed', async () => {
    const r = await transfer('kernel->stack', 0, 5001);
    expectExact(r);
    expectCleanWire(r, 'kernel');
  });

  it('stack -> kernel, clean wire: byte-exact, the kernel accepts every segment', async () => {
    const r = await transfer('stack->kernel', 0, 5002);
    expectExact(r);
    expectCleanWire(r, 'stack');
    expect(r.wire.retransmissionsFromStack).toBe(0);
  });

  it(`kernel -> stack with ${LOSS * 100}% loss on the stack's side: byte-exact after recovery`, async () => {
    const r = await transfer('kernel->stack', LOSS, 5003);
    expectExact(r);
    expectCleanWire(r, 'kernel');
    expect(r.lab.faults!.stats.lost).toBeGreaterThan(0);
    expect(r.wire.retransmissionsFromKernel).toBeGreaterThan(0);
  });

  it(`stack -> kernel with ${LOSS * 100}% loss on the stack's side: byte-exact after recovery`, async () => {
    const r = await transfer('stack->kernel', LOSS, 5004);
    expectExact(r);
    expectCleanWire(r, 'stack');
    expect(r.lab.faults!.stats.lost).toBeGreaterThan(0);
    expect(r.wire.retransmissionsFromStack).toBeGreaterThan(0);
  });
});
