/**
 * Entry of a worker thread that runs one layer group of a threaded host: its
 * own Runtime on a real clock, the protocol modules of the group, and the
 * proxy modules at its edges. The protocol modules are the same classes the
 * in-thread stack uses; only this assembly differs.
 *
 *  - 'transport': TCP and UDP over an IpImport (IP is in another thread),
 *    serving the application group through a TransportExport;
 *  - 'app': the application over a StreamImport (TCP and UDP are in another
 *    thread), loaded by URL and driven through its control port.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { RealClock, Runtime } from '../../core/index.js';
import type { Ip } from '../../layers/ip.js';
import type { TcpConfig } from '../../layers/tcp/config.js';
import { ThreadRecorder } from '../../report/thread.js';
import { Tcp } from '../../layers/tcp/tcp.js';
import { Udp } from '../../layers/udp.js';
import type { AppControl, AppMain } from '../app.js';
import { channelTotals } from './channel.js';
import { IpImport, type IpConfig } from './ip-proxy.js';
import { StreamImport, TransportExport } from './transport-proxy.js';

export interface TransportGroupData {
  readonly role: 'transport';
  readonly name: string;
  readonly seed: number;
  readonly ip: IpConfig;
  readonly tcp: Partial<TcpConfig> | false;
  readonly udp: boolean;
  readonly ipPort: MessagePort;
  readonly appPort: MessagePort;
  /** Record events and TCP state for a visual report (sent when asked: `{ type: 'report' }`). */
  readonly report?: boolean;
}

export interface AppGroupData {
  readonly role: 'app';
  readonly name: string;
  readonly seed: number;
  readonly address: number;
  /** Module URL and export name of the application's AppMain. */
  readonly url: string;
  readonly export: string;
  readonly options: Record<string, unknown>;
  readonly transportPort: MessagePort;
  readonly controlPort: MessagePort;
  readonly report?: boolean;
}

export type GroupData = TransportGroupData | AppGroupData;

/** What a group reports when asked (`{ type: 'stats' }` on its parent port). */
export interface GroupStats {
  readonly tasks: number;
  readonly upcalls: number;
  readonly messages: number;
  readonly batches: number;
  readonly bytesCopied: number;
  readonly bytesTransferred: number;
}

async function main(data: GroupData): Promise<void> {
  const rt = new Runtime({ name: `${data.name}/${data.role}`, clock: new RealClock(), seed: data.seed });
  const recorder = data.report === true ? new ThreadRecorder(rt, data.name, `${data.role} thread`) : null;
  if (data.role === 'transport') {
    const ip = new IpImport(rt, data.ip, data.ipPort);
    const tcp = data.tcp === false ? undefined : new Tcp(rt, ip, data.tcp);
    if (recorder !== null && tcp !== undefined) recorder.tcp = tcp;
    // UDP is written against the Ip class; the import offers the part it uses.
    const udp = data.udp ? new Udp(rt, ip as unknown as Ip) : null;
    new TransportExport(rt, tcp, udp, data.appPort);
  } else {
    const imp = new StreamImport(rt, data.transportPort);
    const port = data.controlPort;
    const control: AppControl = {
      send: (m) => port.postMessage(m),
      onMessage: (h) => void port.on('message', h),
    };
    const mod = (await import(data.url)) as Record<string, unknown>;
    const app = mod[data.export] as AppMain;
    app({ rt, tcp: imp, udp: imp.udp, address: data.address, control, options: data.options });
    // Ready means listening: the transport group has taken the application's binds.
    await imp.sync();
  }
  parentPort!.on('message', (m: { type: string }) => {
    if (m.type === 'stats') {
      const s: GroupStats = {
        tasks: rt.stats.tasksStarted,
        upcalls: rt.stats.upcalls,
        messages: channelTotals.messages,
        batches: channelTotals.batches,
        bytesCopied: channelTotals.bytesCopied,
        bytesTransferred: channelTotals.bytesTransferred,
      };
      parentPort!.postMessage({ type: 'stats', stats: s });
    } else if (m.type === 'report' && recorder !== null) {
      parentPort!.postMessage({ type: 'report', record: recorder.take() });
    }
  });
  parentPort!.postMessage({ type: 'ready' });
}

main(workerData as GroupData).catch((err: unknown) => {
  parentPort!.postMessage({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
});
