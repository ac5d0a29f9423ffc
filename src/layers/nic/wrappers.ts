/**
 * Devices that wrap any other device, in any order (smoltcp's phy wrappers):
 *  - FaultDevice: loss, duplication, reordering and corruption on one device;
 *  - TraceDevice: every frame in and out as an RxJS observable;
 *  - PcapDevice: every frame in and out written to a classic pcap file.
 * e.g. `new PcapDevice(new FaultDevice(link.attach('a'), clock, { loss: 0.1 }), writer, clock)`
 * records what the host saw after the faults; swap the two to record before them.
 */
import { Subject, type Observable } from 'rxjs';
import type { Clock } from '../../core/clock.js';
import { Rng } from '../../core/random.js';
import type { PcapWriter } from '../../trace/pcap.js';
import { DeviceWrapper, type Device } from './device.js';

export type FrameDirection = 'tx' | 'rx';

export interface FaultOptions {
  seed?: number;
  /** Which frames the faults apply to: sent ('tx'), received ('rx') or both (default). */
  direction?: FrameDirection | 'both';
  loss?: number;
  duplicate?: number;
  /** Probability a frame is held back by `reorderDelayMs` so later ones overtake it. */
  reorder?: number;
  reorderDelayMs?: number;
  /** Probability one bit of the frame is flipped. */
  corrupt?: number;
}

export interface FaultStats {
  passed: number;
  lost: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
}

export class FaultDevice extends DeviceWrapper {
  readonly stats: FaultStats = { passed: 0, lost: 0, duplicated: 0, reordered: 0, corrupted: 0 };
  private readonly rng: Rng;
  private readonly onTx: boolean;
  private readonly onRx: boolean;
  loss: number;
  duplicate: number;
  reorder: number;
  reorderDelayMs: number;
  corrupt: number;

  constructor(
    inner: Device,
    readonly clock: Clock,
    opts: FaultOptions = {},
  ) {
    super(inner);
    this.rng = new Rng(opts.seed ?? 1);
    const dir = opts.direction ?? 'both';
    this.onTx = dir !== 'rx';
    this.onRx = dir !== 'tx';
    this.loss = opts.loss ?? 0;
    this.duplicate = opts.duplicate ?? 0;
    this.reorder = opts.reorder ?? 0;
    this.reorderDelayMs = opts.reorderDelayMs ?? 5;
    this.corrupt = opts.corrupt ?? 0;
  }

  override send(frame: Uint8Array): void {
    if (!this.onTx) {
      this.inner.send(frame);
      return;
    }
    this.apply(frame, false);
  }

  protected override receive(frame: Uint8Array): void {
    if (!this.onRx) {
      super.receive(frame);
      return;
    }
    this.apply(frame, true);
  }

  private apply(frame: Uint8Array, incoming: boolean): void {
    const rng = this.rng;
    const st = this.stats;
    if (rng.chance(this.loss)) {
      st.lost++;
      return;
    }
    st.passed++;
    let out = frame;
    if (rng.chance(this.corrupt)) {
      st.corrupted++;
      // A sent frame is borrowed from the sender's pool: flip the bit in a copy.
      if (!incoming) out = frame.slice();
      const bit = rng.int(out.length * 8);
      out[bit >>> 3] ^= 1 << (bit & 7);
    }
    const dup = rng.chance(this.duplicate);
    if (dup) st.duplicated++;
    if (rng.chance(this.reorder)) {
      st.reordered++;
      const held = out === frame && !incoming ? frame.slice() : out;
      this.clock.schedule(this.clock.now() + this.reorderDelayMs, () => {
        this.pass(held, incoming);
        if (dup) this.pass(held.slice(), incoming);
      });
      return;
    }
    // A duplicate that goes up is a separate frame: the receiver owns each one.
    this.pass(dup && incoming ? out.slice() : out, incoming);
    if (dup) this.pass(out, incoming);
  }

  private pass(frame: Uint8Array, incoming: boolean): void {
    if (incoming) super.receive(frame);
    else this.inner.send(frame);
  }
}

export interface FrameEvent {
  readonly device: string;
  readonly direction: FrameDirection;
  /** Clock time, ms. */
  readonly at: number;
  /** A copy of the frame (taken only because someone subscribed). */
  readonly frame: Uint8Array;
}

/** Emits every frame sent and received; costs one boolean test per frame while nobody subscribes. */
export class TraceDevice extends DeviceWrapper {
  private readonly subject = new Subject<FrameEvent>();
  readonly frames: Observable<FrameEvent> = this.subject.asObservable();

  constructor(
    inner: Device,
    readonly clock: Clock,
  ) {
    super(inner);
  }

  override send(frame: Uint8Array): void {
    if (this.subject.observed) this.subject.next({ device: this.name, direction: 'tx', at: this.clock.now(), frame: frame.slice() });
    this.inner.send(frame);
  }

  protected override receive(frame: Uint8Array): void {
    if (this.subject.observed) this.subject.next({ device: this.name, direction: 'rx', at: this.clock.now(), frame: frame.slice() });
    super.receive(frame);
  }

  /** Complete the observable (subscribers see the end of the trace). */
  close(): void {
    this.subject.complete();
  }
}

/**
 * Writes every frame sent and received to a pcap writer, stamped with the
 * clock's wall time, before passing it on.
 */
export class PcapDevice extends DeviceWrapper {
  constructor(
    inner: Device,
    readonly writer: PcapWriter,
    readonly clock: Clock,
  ) {
    super(inner);
  }

  override send(frame: Uint8Array): void {
    this.writer.write(frame, this.clock.wallTime());
    this.inner.send(frame);
  }

  protected override receive(frame: Uint8Array): void {
    this.writer.write(frame, this.clock.wallTime());
    super.receive(frame);
  }
}
