/**
 * A Linux TAP device as the stack's wire, without a native addon.
 *
 * socat creates the TAP device and relays its frames to a UDP tunnel on
 * loopback (`TUN,tun-type=tap,iff-no-pi` <-> `UDP:127.0.0.1:port`); the device
 * is then moved into a network namespace made for the purpose, where the Linux
 * kernel gets the address of its end. The stack is the other end of the wire:
 * it has an address in the same subnet but no kernel interface at all. So the
 * kernel peers (telnet, telnetd, nc) run inside the namespace, and nothing
 * touches the machine's own interfaces.
 *
 * Everything made is removed on `destroy()`, on process exit, on Ctrl-C and on
 * a failure during setup.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import type { Mac } from '../../wire/addr.js';
import { IP_NETNS, processAlive, removeNamespace, sweepStaleNamespaces, TAP_NAMESPACE } from './netns-sweep.js';
import { UdpTunnelDevice } from './udp-tunnel.js';

export interface TapLinkOptions {
  /**
   * Namespace to create (default: upcall-<pid>-<n>; those a killed process
   * left are removed before this process makes its first). Must not exist.
   */
  namespace?: string;
  /** TAP interface name (default: uptap + 8 random hex digits, see `pickTapName`; at most 15 characters). */
  tapName?: string;
  /** The kernel's address on the TAP, with prefix, e.g. '10.77.0.1/24'. */
  kernelAddress: string;
  /**
   * The kernel's IPv6 address on the TAP, with prefix, e.g. 'fd00:77::1/64'.
   * Without it IPv6 stays off in the namespace (no router solicitations or
   * DAD probes in an IPv4 capture); with it the TAP alone speaks IPv6, and the
   * kernel's address is usable at once (no DAD of its own: the stack's DAD
   * probes then meet a kernel that already answers for its address).
   */
  kernelAddress6?: string;
  /** MAC of the stack's end. */
  stackMac: Mac;
  mtu?: number;
  /**
   * Socket buffers of the UDP relay, both ends (default 4 MiB). A kernel TCP
   * sender bursts faster than one Node process drains a socket; with the
   * default buffer (about 90 frames) 50 MiB from the kernel lost over a
   * thousand datagrams on the relay, none with 4 MiB. socat's end is forced
   * past net.core.rmem_max (root has SO_RCVBUFFORCE); this process's end is
   * capped by it (Node has no way to force it).
   */
  relayBufferBytes?: number;
}

/** What a command run in the namespace left behind. */
export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Linux's IFNAMSIZ less the terminating NUL. */
export const MAX_INTERFACE_NAME = 15;

/**
 * A TAP name no other interface on the machine has: 'uptap' and 8 random hex
 * digits (13 characters), drawn again while `exists` says the name is taken.
 * A name made from `pid % 10000` and a counter was not enough: two processes
 * can share those digits, and one of them then failed with `Cannot find device`
 * (the name it waited for was the other's device, gone into the other's
 * namespace). 32 random bits make a collision between two live links unlikely;
 * the check catches a name that is there already (a crashed run's, say).
 */
export function pickTapName(exists: (name: string) => boolean, random: (bytes: number) => Uint8Array = randomBytes, tries = 16): string {
  for (let i = 0; i < tries; i++) {
    const name = `uptap${Buffer.from(random(4)).toString('hex')}`;
    if (!exists(name)) return name;
  }
  throw new Error(`no free TAP name after ${tries} tries`);
}

/** Whether an interface of that name exists in this process's namespace. */
function interfaceExists(name: string): boolean {
  return spawnSync('ip', ['link', 'show', 'dev', name], { stdio: 'ignore' }).status === 0;
}

let counter = 0;
const live = new Set<TapLink>();
let hooksInstalled = false;

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.stdout || String(r.error ?? '')).trim()}`);
  }
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * Before this process makes its first namespace: those a killed run of a tool
 * left (its pid gone) are removed. One bearing this very pid is stale too, as
 * nothing is made yet: a restarted tool may be given the pid of the one killed
 * (containers number their processes alike on every start).
 */
function sweepOnce(): void {
  const alive = (pid: number): boolean => pid !== process.pid && processAlive(pid);
  for (const ns of sweepStaleNamespaces([TAP_NAMESPACE], IP_NETNS, alive)) {
    process.emitWarning(`removed network namespace ${ns}, left by a process that no longer runs`);
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const l of live) l.destroySync();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const l of live) l.destroySync();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Whether this machine can make TAP links (root, /dev/net/tun, ip, socat). */
export function tapSupport(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'TAP links need Linux' };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return { ok: false, reason: 'TAP links need root' };
  for (const tool of ['ip', 'socat']) {
    const r = spawnSync('sh', ['-c', `command -v ${tool}`]);
    if (r.status !== 0) return { ok: false, reason: `'${tool}' is not installed` };
  }
  const t = spawnSync('test', ['-c', '/dev/net/tun']);
  if (t.status !== 0) return { ok: false, reason: '/dev/net/tun is missing' };
  return { ok: true };
}

export class TapLink {
  private relay: ChildProcess | null = null;
  private destroyed = false;
  private readonly children = new Set<ChildProcess>();

  private constructor(
    readonly namespace: string,
    readonly tapName: string,
    readonly kernelAddress: string,
    /** The kernel's IPv6 address with prefix, when the TAP speaks IPv6. */
    readonly kernelAddress6: string | undefined,
    readonly device: UdpTunnelDevice,
  ) {}

  static async create(opts: TapLinkOptions): Promise<TapLink> {
    if (counter === 0) sweepOnce();
    const n = counter++;
    const ns = opts.namespace ?? `upcall-${process.pid}-${n}`;
    const tap = opts.tapName ?? pickTapName(interfaceExists);
    if (tap.length > MAX_INTERFACE_NAME) throw new RangeError(`TAP name ${tap} is longer than ${MAX_INTERFACE_NAME} characters`);
    const relayPort = await freeUdpPort();
    const bufferBytes = opts.relayBufferBytes ?? 4 * 1024 * 1024;
    const device = await UdpTunnelDevice.open({
      name: tap,
      mac: opts.stackMac,
      mtu: opts.mtu ?? 1500,
      local: { host: '127.0.0.1', port: 0 },
      remote: { host: '127.0.0.1', port: relayPort },
      recvBufferSize: bufferBytes,
      sendBufferSize: bufferBytes,
    });
    const link = new TapLink(ns, tap, opts.kernelAddress, opts.kernelAddress6, device);
    installHooks();
    live.add(link);
    try {
      run('ip', ['netns', 'add', ns]);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      // Keep the capture quiet: no IPv6 router solicitations or DAD on the TAP.
      run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
      run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
      link.relay = spawn(
        'socat',
        [
          // -d -d: socat says when its set-up is over ("starting data transfer loop")
          '-d',
          '-d',
          `TUN,tun-type=tap,tun-name=${tap},iff-no-pi`,
          // SOL_SOCKET (1): SO_RCVBUFFORCE (33), SO_SNDBUFFORCE (32).
          `UDP:127.0.0.1:${device.local.port},bind=127.0.0.1:${relayPort},setsockopt-int=1:33:${bufferBytes},setsockopt-int=1:32:${bufferBytes}`,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let relayErr = '';
      link.relay.stderr?.on('data', (d: Buffer) => {
        if (relayErr.length < 8192) relayErr += d.toString();
      });
      // Move the device only once socat is done with it: socat still reads and sets the
      // interface's flags by name after creating it, and fails (taking the device with it)
      // when the name has already left for the namespace.
      await waitFor(
        () => relayErr.includes('starting data transfer loop') && spawnSync('ip', ['link', 'show', tap]).status === 0,
        5000,
        () => `socat did not create ${tap}: ${relayErr.trim()}`,
      );
      run('ip', ['link', 'set', tap, 'netns', ns]);
      run('ip', ['-n', ns, 'link', 'set', tap, 'mtu', String(opts.mtu ?? 1500)]);
      run('ip', ['-n', ns, 'addr', 'add', opts.kernelAddress, 'dev', tap]);
      if (opts.kernelAddress6 !== undefined) {
        // IPv6 on for this TAP only (all/default stay off), without DAD on the kernel's side.
        for (const [key, value] of [['accept_dad', '0'], ['disable_ipv6', '0']] as const) {
          run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${tap}.${key}=${value}`]);
        }
        run('ip', ['-n', ns, '-6', 'addr', 'add', opts.kernelAddress6, 'dev', tap, 'nodad']);
      }
      run('ip', ['-n', ns, 'link', 'set', tap, 'up']);
    } catch (e) {
      link.destroySync();
      throw e;
    }
    return link;
  }

  /** Spawn a command inside the namespace; it is killed on destroy. */
  spawn(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.namespace, cmd, ...args], opts);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /**
   * Run a command inside the namespace to completion, synchronously. The event
   * loop stands still meanwhile, so the stack answers nothing: use it for setup
   * (addresses, users), never for a command that talks to the stack (`run`).
   */
  exec(cmd: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('ip', ['netns', 'exec', this.namespace, cmd, ...args], { encoding: 'utf8', input });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /**
   * Run a command inside the namespace to completion while the stack keeps
   * running. After `timeoutMs` (if given) it is killed and the result says so.
   */
  run(cmd: string, args: string[], opts: { input?: string | Uint8Array; timeoutMs?: number } = {}): Promise<RunResult> {
    const child = this.spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // A command that does not read its input closes the pipe early: not an error here.
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? '');
    return new Promise((resolve) => {
      const timer = opts.timeoutMs === undefined ? null : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
      child.once('error', (e) => {
        stderr += String(e);
      });
      child.once('close', (status, signal) => {
        if (timer !== null) clearTimeout(timer);
        resolve({ status, signal, stdout, stderr });
      });
    });
  }

  async destroy(): Promise<void> {
    this.destroySync();
    await this.device.close();
  }

  /** @internal also run from exit and signal hooks, where nothing async can happen. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const c of this.children) c.kill('SIGKILL');
    this.relay?.kill('SIGKILL');
    // Everything still running inside is ours; deleting the namespace removes the TAP device in it.
    removeNamespace(this.namespace);
    spawnSync('ip', ['link', 'del', this.tapName]);
    void this.device.close();
  }
}

async function waitFor(cond: () => boolean, ms: number, why: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(why());
    await new Promise((r) => setTimeout(r, 20));
  }
}
