/**
 * Bulk data between the stack's TCP and Linux's, with `nc` as the kernel's
 * application: deterministic data (an AES-CTR keystream from a fixed key, so
 * every run moves the same bytes), sha256 on both ends.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { RunResult } from '../../../src/layers/nic/tap.js';
import type { TcpConnection } from '../../../src/layers/tcp/index.js';
import type { Lab } from './lab.js';

export interface BulkData {
  bytes: Buffer;
  sha256: string;
  /** The same bytes in a file, for nc's stdin. */
  file: string;
}

export function bulkData(size: number, file: string): BulkData {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 0x5a), Buffer.alloc(16, 0xa5));
  const bytes = Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
  writeFileSync(file, bytes);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), file };
}

export interface TransferResult {
  bytes: number;
  sha256: string;
  /** From the connection's establishment to the last byte (receiver) or the close (sender). */
  ms: number;
  /** Mbit/s over `ms`. */
  mbps: number;
  /** What the kernel side printed and how it exited. */
  peer: RunResult;
  error?: string;
}

function mbps(bytes: number, ms: number): number {
  return (bytes * 8) / (ms * 1000);
}

/** Wait until a TCP listener on `port` exists in the lab's namespace. */
export async function waitListening(lab: Lab, port: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const r = lab.link.exec('ss', ['-Htln', `sport = :${port}`]);
    if (r.stdout.trim() !== '') return;
    if (Date.now() > end) throw new Error(`nothing listens on ${port} in ${lab.namespace}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

/**
 * The kernel sends `data` with `nc -N` (FIN after the file); the stack listens
 * on `port`, hashes what arrives, and closes when the peer's FIN comes.
 * `family` 6: over IPv6 (a lab opened with `subnet6`).
 */
export async function kernelToStack(lab: Lab, data: BulkData, port: number, timeoutMs: number, family: 4 | 6 = 4): Promise<TransferResult> {
  const app = lab.host.rt.app('bulk-sink');
  const hash = createHash('sha256');
  let received = 0;
  let t0 = 0;
  let tEnd = 0;
  let error: string | undefined;
  const done = new Promise<void>((resolve) => {
    const listener = lab.tcp.listen(port, app, {
      onAccept: () => ({
        onConnect: () => {
          t0 = performance.now();
        },
        onData: (_c: TcpConnection, d: Uint8Array) => {
          hash.update(d);
          received += d.length;
        },
        onClose: (c: TcpConnection, how: 'peer-fin' | 'closed') => {
          if (how === 'peer-fin') {
            tEnd = performance.now();
            c.close();
          } else {
            listener.close();
            resolve();
          }
        },
        onError: (_c: TcpConnection, e: Error) => {
          error = e.message;
          listener.close();
          resolve();
        },
      }),
    });
  });
  // The file goes to nc through the shell, not through this process: the stack has the event loop to itself.
  const to = family === 6 ? `-6 ${lab.stackIp6!}` : lab.stackIp;
  const peer = lab.run('sh', ['-c', `exec nc -N ${to} ${port} < '${data.file}'`], { timeoutMs });
  const timer = new Promise<void>((resolve) => setTimeout(() => {
    error ??= `timed out after ${timeoutMs} ms with ${received} bytes`;
    resolve();
  }, timeoutMs));
  await Promise.race([done, timer]);
  const result = await peer;
  const ms = (tEnd || performance.now()) - t0;
  return { bytes: received, sha256: hash.digest('hex'), ms, mbps: mbps(received, ms), peer: result, ...(error !== undefined ? { error } : {}) };
}

/**
 * The stack connects to `nc -l` in the namespace and sends `data` (send/onDrain
 * in 64 KiB pieces), then closes; the kernel side pipes into sha256sum.
 */
export async function stackToKernel(lab: Lab, data: BulkData, port: number, timeoutMs: number, family: 4 | 6 = 4): Promise<TransferResult> {
  const peer = lab.run('sh', ['-c', `nc ${family === 6 ? '-6 ' : ''}-d -l -p ${port} | sha256sum`], { timeoutMs });
  await waitListening(lab, port);
  const app = lab.host.rt.app('bulk-source');
  const bytes = data.bytes;
  let offset = 0;
  let t0 = 0;
  let error: string | undefined;
  const pump = (c: TcpConnection): void => {
    while (offset < bytes.length) {
      const n = Math.min(65_536, bytes.length - offset);
      const more = c.send(bytes.subarray(offset, offset + n));
      offset += n;
      if (!more) return;
    }
    c.close();
  };
  const done = new Promise<void>((resolve) => {
    lab.tcp.connect(family === 6 ? lab.kernelAddr6 : lab.kernelAddr, port, app, {
      onConnect: (c) => {
        t0 = performance.now();
        pump(c);
      },
      onDrain: (c) => pump(c),
      onClose: (_c, how) => {
        if (how === 'closed') resolve();
      },
      onError: (_c, e) => {
        error = e.message;
        resolve();
      },
    });
  });
  const timer = new Promise<void>((resolve) => setTimeout(() => {
    error ??= `timed out after ${timeoutMs} ms with ${offset} bytes queued`;
    resolve();
  }, timeoutMs));
  await Promise.race([done, timer]);
  const ms = performance.now() - t0;
  const result = await peer;
  const sha256 = result.stdout.trim().split(/\s+/)[0] ?? '';
  return { bytes: offset, sha256, ms, mbps: mbps(offset, ms), peer: result, ...(error !== undefined ? { error } : {}) };
}
