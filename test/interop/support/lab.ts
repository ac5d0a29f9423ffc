/**
 * One test's private network: a namespace with a TAP device whose kernel end has
 * <subnet>.1, and the stack on the other end of the wire with <subnet>.2, on
 * real time. Nothing is added outside the namespace except the loopback UDP
 * relay between socat and this process.
 *
 *     const lab = await Lab.open({ tag: 'ping', subnet: '10.77.1' });
 *     try { ... lab.run('ping', [...]) ... } finally { await lab.close(); }
 */
import { RealClock } from '../../../src/core/index.js';
import { createHost, type Host } from '../../../src/host.js';
import type { Device } from '../../../src/layers/nic/device.js';
import { TapLink, type RunResult } from '../../../src/layers/nic/tap.js';
import { FaultDevice, type FaultOptions } from '../../../src/layers/nic/wrappers.js';
import { Tcp, type TcpConfig } from '../../../src/layers/tcp/index.js';
import { parseIp4, type Ip4 } from '../../../src/wire/addr.js';
import { Capture, type CaptureStats } from './capture.js';

export interface LabOptions {
  /** Short lowercase word naming the test (goes into the namespace name). */
  tag: string;
  /** First three octets, e.g. '10.77.1': the kernel is .1, the stack .2. */
  subnet: string;
  /** Faults on the stack's side of the wire (loss both ways, seeded). */
  faults?: FaultOptions;
  tcp?: Partial<TcpConfig>;
}

const open = new Set<Lab>();
let counter = 0;

export class Lab {
  private capture: Capture | null = null;
  private readonly cleanups: Array<() => unknown> = [];
  private tcpModule: Tcp | null = null;

  private constructor(
    readonly link: TapLink,
    readonly host: Host,
    /** The device the host sends through (the fault wrapper when there is one). */
    readonly device: Device,
    readonly faults: FaultDevice | null,
    readonly kernelIp: string,
    readonly stackIp: string,
    private readonly tcpConfig: Partial<TcpConfig>,
  ) {}

  static async open(opts: LabOptions): Promise<Lab> {
    if (!/^[a-z0-9]+$/.test(opts.tag)) throw new Error(`bad tag ${opts.tag}`);
    const kernelIp = `${opts.subnet}.1`;
    const stackIp = `${opts.subnet}.2`;
    const link = await TapLink.create({
      namespace: `uit-${opts.tag}-${process.pid}-${counter++}`,
      kernelAddress: `${kernelIp}/24`,
      stackMac: 0x0200_4d77_0002,
    });
    let device: Device = link.device;
    let fault: FaultDevice | null = null;
    const clock = new RealClock();
    if (opts.faults !== undefined) {
      fault = new FaultDevice(link.device, clock, opts.faults);
      device = fault;
    }
    const host = createHost({ name: 'stack', device, ip: `${stackIp}/24`, clock, seed: 7 });
    const lab = new Lab(link, host, device, fault, kernelIp, stackIp, opts.tcp ?? {});
    open.add(lab);
    return lab;
  }

  /** Every lab still open (for an afterEach that must not leak a namespace). */
  static async closeAll(): Promise<void> {
    for (const l of [...open]) await l.close();
  }

  get namespace(): string {
    return this.link.namespace;
  }

  get tapName(): string {
    return this.link.tapName;
  }

  get kernelAddr(): Ip4 {
    return parseIp4(this.kernelIp);
  }

  /** The stack's TCP (made on first use; the host may already carry one). */
  get tcp(): Tcp {
    if (this.tcpModule !== null) return this.tcpModule;
    const existing = this.host.tcp;
    this.tcpModule = existing instanceof Tcp ? existing : new Tcp(this.host.rt, this.host.ip, this.tcpConfig);
    this.host.tcp = this.tcpModule;
    return this.tcpModule;
  }

  /** Start capturing everything on the TAP inside the namespace. */
  async startCapture(file: string, snaplen = 0): Promise<Capture> {
    this.capture = await Capture.start(this.link, file, snaplen);
    return this.capture;
  }

  /** Stop the capture (the file is complete afterwards) and return tcpdump's counts. */
  async stopCapture(): Promise<CaptureStats> {
    if (this.capture === null) throw new Error('no capture running');
    return this.capture.stop();
  }

  /** Run a command in the namespace while the stack keeps running. */
  run(cmd: string, args: string[], opts: { input?: string | Uint8Array; timeoutMs?: number } = {}): Promise<RunResult> {
    return this.link.run(cmd, args, opts);
  }

  /** Run `fn` when the lab closes (a user to delete, a file to remove). */
  onClose(fn: () => unknown): void {
    this.cleanups.push(fn);
  }

  async close(): Promise<void> {
    if (!open.delete(this)) return;
    for (const fn of this.cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (e) {
        console.warn(`interop cleanup failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (this.capture !== null) await this.capture.stop().catch(() => undefined);
    await this.link.destroy();
  }
}
