/**
 * The physical layer: a device sends and receives whole Ethernet frames.
 *
 * Small on purpose (smoltcp's phy idea): the simulated link, a UDP tunnel or a
 * TAP device implement it, and wrappers (pcap, faults, tracing) implement it
 * around any other device, so they compose in any order.
 *
 * Ownership: `send` borrows the frame for the duration of the call. The sender's
 * memory goes back to its buffer pool as soon as `send` returns, so a device that
 * keeps the bytes (a link delivering them later) copies them. That copy is the
 * wire, not a layer boundary. Frames handed to the receive callback belong to the
 * receiver from then on.
 */
import type { Mac } from '../../wire/addr.js';

export type FrameHandler = (frame: Uint8Array) => void;

export interface Device {
  readonly name: string;
  readonly mac: Mac;
  /** Largest Ethernet payload the device carries (1500 for Ethernet). */
  readonly mtu: number;
  /** Transmit one whole Ethernet frame (header included, no FCS). Never throws for link conditions. */
  send(frame: Uint8Array): void;
  /** Where received frames go (the NIC module). A later call replaces the handler. */
  attach(rx: FrameHandler): void;
}

/** Base for wrappers: forwards everything to the inner device. Override `send` / `receive`. */
export abstract class DeviceWrapper implements Device {
  protected rx: FrameHandler | null = null;

  constructor(readonly inner: Device) {
    inner.attach((frame) => this.receive(frame));
  }

  get name(): string {
    return this.inner.name;
  }

  get mac(): Mac {
    return this.inner.mac;
  }

  get mtu(): number {
    return this.inner.mtu;
  }

  send(frame: Uint8Array): void {
    this.inner.send(frame);
  }

  attach(rx: FrameHandler): void {
    this.rx = rx;
  }

  /** A frame coming up from the inner device. */
  protected receive(frame: Uint8Array): void {
    const rx = this.rx;
    if (rx !== null) rx(frame);
  }
}

/**
 * A device that records what is sent and lets a test inject received frames.
 * Nothing is delivered anywhere: useful to drive one host by hand.
 */
export class ManualDevice implements Device {
  readonly sent: Uint8Array[] = [];
  private rx: FrameHandler | null = null;

  constructor(
    readonly name: string,
    readonly mac: Mac,
    readonly mtu = 1500,
  ) {}

  send(frame: Uint8Array): void {
    this.sent.push(frame.slice());
  }

  attach(rx: FrameHandler): void {
    this.rx = rx;
  }

  /** Hand a frame to the attached receiver now (the caller's bytes are adopted, not copied). */
  inject(frame: Uint8Array): void {
    if (this.rx !== null) this.rx(frame);
  }

  /** Forget and return what was sent so far. */
  take(): Uint8Array[] {
    return this.sent.splice(0, this.sent.length);
  }
}
