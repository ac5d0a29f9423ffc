/**
 * What an application sees of the stack under every structure, so the same
 * application code runs on direct upcalls, behind mailboxes, or in a worker
 * thread of its own: TCP as a StreamTransport (Telnet's interface), UDP as a
 * DatagramService (the part of Udp an application uses), and a control line
 * to whoever drives it (a test, a benchmark).
 */
import type { Module, Runtime } from '../core/index.js';
import type { AsyncWork } from '../layers/telnet/async-work.js';
import type { UdpDatagram } from '../layers/udp.js';
import type { StreamTransport } from '../layers/telnet/transport.js';
import type { Ip4 } from '../wire/addr.js';
import type { IpAddress } from '../layers/net.js';

export type StackStructure = 'direct' | 'queued' | 'threaded';
export const STRUCTURES: readonly StackStructure[] = ['direct', 'queued', 'threaded'];

export interface DatagramSocket {
  readonly port: number;
  /** `data` is copied (or moved to another thread) before the call returns. */
  send(dst: IpAddress, dstPort: number, data: Uint8Array): unknown;
  close(): void;
}

export interface DatagramService {
  bind(port: number, owner: Module, handlers: { onDatagram(d: UdpDatagram): void }): DatagramSocket;
}

/** Messages between an application and its driver (structured-clonable). */
export interface AppControl {
  send(msg: unknown): void;
  onMessage(handler: (msg: unknown) => void): void;
}

export interface AppEnv {
  readonly rt: Runtime;
  readonly tcp: StreamTransport;
  readonly udp: DatagramService;
  readonly address: Ip4;
  readonly control: AppControl;
  readonly options: Readonly<Record<string, unknown>>;
  /** Work outside the stack (a password check) a virtual-clock driver must wait for; absent in real time. */
  readonly asyncWork?: (w: AsyncWork) => void;
}

/** An application: started once per host, it binds what it serves and answers its control line. */
export type AppMain = (env: AppEnv) => void;

/** Both ends of an in-thread control line. Delivery is a plain call: a virtual clock sees it at once. */
export function controlPair(): [AppControl, AppControl] {
  let toA: ((m: unknown) => void) | null = null;
  let toB: ((m: unknown) => void) | null = null;
  const a: AppControl = { send: (m) => toB?.(m), onMessage: (h) => void (toA = h) };
  const b: AppControl = { send: (m) => toA?.(m), onMessage: (h) => void (toB = h) };
  return [a, b];
}
