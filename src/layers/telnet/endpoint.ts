/**
 * One end of a Telnet connection, as plumbing shared by the server's and the
 * client's sessions: the NVT decoder, the RFC 1143 option negotiator, and the
 * bytes waiting to be written. No I/O and no clock of its own: the module
 * that owns the session decides when the bytes go to the transport: written
 * by `writeTo` straight into the segment the transport is building (when it
 * asks for them, with the ACK of what was just received), or handed over
 * whole by `take()`.
 */
import {
  DEFAULT_MAX_SUBNEGOTIATION,
  TelnetDecoder,
  encodeCommand,
  encodeSubnegotiation,
  escapeIac,
  negotiationName,
  type NegotiationCommand,
  type TelnetDecodeError,
} from '../../wire/telnet.js';
import { encodeNvtText } from './nvt-line.js';
import { OptionNegotiator, type OptionPolicy, type OptionSide } from './options.js';

/** One negotiation seen on the connection, for traces and for checking a capture against the stack. */
export interface NegotiationRecord {
  readonly at: number;
  readonly direction: 'sent' | 'received';
  /** "DO TERMINAL-TYPE" */
  readonly text: string;
  readonly command: NegotiationCommand;
  readonly option: number;
}

export interface EndpointHandlers {
  /** NVT data, IAC-unescaped; a view valid during the call only. */
  onData(data: Uint8Array): void;
  onCommand(cmd: number): void;
  onSubnegotiation(opt: number, payload: Uint8Array): void;
  onOptionChange(side: OptionSide, opt: number, enabled: boolean): void;
  onDecodeError(reason: TelnetDecodeError, byte: number): void;
}

export interface EndpointOptions {
  policy: OptionPolicy;
  maxSubnegotiation?: number;
  /** Keep a log of negotiations (with times from `now`). Bounded by `maxLog`. */
  now?: () => number;
  maxLog?: number;
}

export class TelnetEndpoint {
  readonly decoder: TelnetDecoder;
  readonly options: OptionNegotiator;
  /** Negotiations received (a flood of them is hostile). */
  negotiationsReceived = 0;
  /** Negotiation log, when `now` was given; the first `maxLog` only. */
  readonly log: NegotiationRecord[] | null;
  private readonly maxLog: number;
  private readonly now: (() => number) | null;
  private out: Uint8Array[] = [];
  private outLength = 0;

  constructor(handlers: EndpointHandlers, opts: EndpointOptions) {
    this.now = opts.now ?? null;
    this.log = this.now === null ? null : [];
    this.maxLog = opts.maxLog ?? 64;
    this.options = new OptionNegotiator({
      policy: opts.policy,
      send: (bytes) => {
        this.record('sent', bytes[1] as NegotiationCommand, bytes[2]!);
        this.queue(bytes);
      },
      onChange: (side, opt, enabled) => handlers.onOptionChange(side, opt, enabled),
    });
    this.decoder = new TelnetDecoder(
      {
        onData: (d) => handlers.onData(d),
        onCommand: (c) => handlers.onCommand(c),
        onNegotiation: (cmd, opt) => {
          this.negotiationsReceived++;
          this.record('received', cmd, opt);
          this.options.receive(cmd, opt);
        },
        onSubnegotiation: (opt, payload) => handlers.onSubnegotiation(opt, payload),
        onError: (reason, byte) => handlers.onDecodeError(reason, byte),
      },
      { maxSubnegotiation: opts.maxSubnegotiation ?? DEFAULT_MAX_SUBNEGOTIATION },
    );
  }

  /** Bytes from the connection. */
  push(bytes: Uint8Array): void {
    this.decoder.push(bytes);
  }

  /** Text for the peer's screen (NVT newlines, UTF-8). */
  writeText(text: string): void {
    if (text.length > 0) this.queue(encodeNvtText(text));
  }

  /** Data bytes (0xFF doubled). */
  writeData(data: Uint8Array): void {
    if (data.length > 0) this.queue(escapeIac(data).slice());
  }

  writeCommand(cmd: number): void {
    this.queue(encodeCommand(cmd));
  }

  writeSubnegotiation(opt: number, payload: Uint8Array): void {
    this.queue(encodeSubnegotiation(opt, payload));
  }

  /** Already-encoded Telnet bytes. */
  writeRaw(bytes: Uint8Array): void {
    if (bytes.length > 0) this.queue(bytes);
  }

  /** Bytes waiting to be written. */
  get pending(): number {
    return this.outLength;
  }

  /** Everything waiting, as one buffer (one send, so one segment), or null. */
  take(): Uint8Array | null {
    const n = this.outLength;
    if (n === 0) return null;
    const parts = this.out;
    this.out = [];
    this.outLength = 0;
    if (parts.length === 1) return parts[0]!;
    const all = new Uint8Array(n);
    let off = 0;
    for (const p of parts) {
      all.set(p, off);
      off += p.length;
    }
    return all;
  }

  /**
   * Moves waiting bytes, oldest first, into `sink` (the writer of a segment
   * being built) until it takes less than it was offered: what did not fit
   * stays waiting. Returns the bytes moved. No copy of our own: each part goes
   * from here to the sink's memory once.
   */
  writeTo(sink: { write(data: Uint8Array): number }): number {
    const parts = this.out;
    let moved = 0;
    let i = 0;
    while (i < parts.length) {
      const p = parts[i]!;
      const n = sink.write(p);
      moved += n;
      if (n < p.length) {
        parts[i] = p.subarray(n);
        break;
      }
      i++;
    }
    if (i > 0) parts.splice(0, i);
    this.outLength -= moved;
    return moved;
  }

  /** Drop what is waiting (the connection is going away). */
  discard(): void {
    this.out = [];
    this.outLength = 0;
  }

  private queue(bytes: Uint8Array): void {
    this.out.push(bytes);
    this.outLength += bytes.length;
  }

  private record(direction: 'sent' | 'received', command: NegotiationCommand, option: number): void {
    const log = this.log;
    if (log === null || log.length >= this.maxLog) return;
    log.push({ at: this.now!(), direction, command, option, text: negotiationName(command, option) });
  }
}
