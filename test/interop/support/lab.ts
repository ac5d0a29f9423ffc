/**
 * One test's private network: a namespace with a TAP device whose kernel end has
 * <subnet>.1, and the stack on the other end of the wire with <subnet>.2, on
 * real time. Nothing is added outside the namespace except the loopback UDP
 * relay between socat and this process. With `subnet6` the wire is dual-stack:
 * the kernel is also <subnet6>::1/64 and the stack <subnet6>::2/64 (past its
 * duplicate address detection, against the kernel, when `open` returns).
 *
 *     const lab = await Lab.open({ tag: 'ping', subnet: '10.77.1' });
 *     const lab6 = await Lab.open({ tag: 'ping6', subnet: '10.77.6', subnet6: 'fd77:6' });
 *     try { ... lab.run('ping', [...]) ... } finally { await lab.close(); }
 */
import { RealClock } from '../../../src/core/index.js';
import { createHost, type Host } from '../../../src/host.js';
import type { Device } from '../../../src/layers/nic/device.js';
import { TapLink, type RunResult } from '../../../src/layers/nic/tap.js';
import { FaultDevice, type FaultOptions } from '../../../src/layers/nic/wrappers.js';
import { Tcp, type TcpConfig } from '../../../src/layers/tcp/index.js';
import { parseIp4, type Ip4 } from '../../../src/wire/addr.js';
import { parseIp6, type Ip6 } from '../../../src/wire/addr6.js';
import { Capture, type CaptureStats } from './capture.js';

export interface LabOptions {
  /** Short lowercase word naming the test (goes into the namespace name). */
  tag: string;
  /** First three octets, e.g. '10.77.1': the kernel is .1, the stack .2. */
  subnet: string;
  /** IPv6 too: the first groups of a /64, e.g. 'fd77:6': the kernel is fd77:6::1, the stack fd77:6::2. */
  subnet6?: string;
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
    /** The kernel's and the stack's IPv6 addresses (without prefix) when the lab has `subnet6`. */
    readonly kernelIp6: string | undefined,
    readonly stackIp6: string | undefined,
    private readonly tcpConfig: Partial<TcpConfig>,
  ) {}

  static async open(opts: LabOptions): Promise<Lab> {
    if (!/^[a-z0-9]+$/.test(opts.tag)) throw new Error(`bad tag ${opts.tag}`);
    const kernelIp = `${opts.subnet}.1`;
    const stackIp = `${opts.subnet}.2`;
    const kernelIp6 = opts.subnet6 === undefined ? undefined : `${opts.subnet6}::1`;
    const stackIp6 = opts.subnet6 === undefined ? undefined : `${opts.subnet6}::2`;
    const link = await TapLink.create({
      namespace: `uit-${opts.tag}-${process.pid}-${counter++}`,
      kernelAddress: `${kernelIp}/24`,
      ...(kernelIp6 !== undefined ? { kernelAddress6: `${kernelIp6}/64` } : {}),
      stackMac: 0x0200_4d77_0002,
    });
    let device: Device = link.device;
    let fault: FaultDevice | null = null;
    const clock = new RealClock();
    if (opts.faults !== undefined) {
      fault = new FaultDevice(link.device, clock, opts.faults);
      device = fault;
    }
    const ip = stackIp6 === undefined ? `${stackIp}/24` : [`${stackIp}/24`, `${stackIp6}/64`];
    const host = createHost({ name: 'stack', device, ip, clock, seed: 7 });
    const lab = new Lab(link, host, device, fault, kernelIp, stackIp, kernelIp6, stackIp6, opts.tcp ?? {});
    open.add(lab);
    if (stackIp6 !== undefined) {
      try {
        await lab.addressUsable(parseIp6(stackIp6), 5_000);
      } catch (e) {
        await lab.close();
        throw e;
      }
    }
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

  get kernelAddr6(): Ip6 {
    if (this.kernelIp6 === undefined) throw new Error('this lab has no IPv6 (open it with subnet6)');
    return parseIp6(this.kernelIp6);
  }

  /** Waits (real time) until duplicate address detection has made the stack's address its own. */
  private async addressUsable(a: Ip6, ms: number): Promise<void> {
    const ipv6 = this.host.ipv6!;
    const end = Date.now() + ms;
    while (ipv6.findAddress(a)?.state !== 'preferred') {
      if (Date.now() > end) throw new Error(`the stack's ${this.stackIp6} is still ${ipv6.findAddress(a)?.state ?? 'absent'} after ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The stack's TCP (made on first use, over both families on a dual-stack lab; the host may already carry one). */
  get tcp(): Tcp {
    if (this.tcpModule !== null) return this.tcpModule;
    const existing = this.host.tcp;
    const lowers = this.host.ipv6 === undefined ? this.host.ip : [this.host.ip, this.host.ipv6];
    this.tcpModule = existing instanceof Tcp ? existing : new Tcp(this.host.rt, lowers, this.tcpConfig);
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
