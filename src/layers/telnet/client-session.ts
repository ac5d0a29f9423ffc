/**
 * One connection of the Telnet client: the client module's client state. It
 * keeps the screen the user sees, the keystrokes typed (with when each one's
 * echo came back), and where a script has got to.
 */
import type { ModuleTimer } from '../../core/index.js';
import type { TelnetEndpoint } from './endpoint.js';
import { NvtTextDecoder } from './nvt-line.js';
import { Screen } from './screen.js';
import type { StreamConnection } from './transport.js';

/**
 * One step of a script, done in this order: wait for `expect` in the output
 * (from where the previous expect matched), wait `delayMs`, then `send` bytes
 * at once or `type` them one keystroke every `paceMs`, then `close`.
 * In `type`, "\r" or "\n" is the Enter key (CR LF on the wire).
 */
export interface ScriptStep {
  expect?: string | RegExp;
  /** How long to wait for `expect` before the script fails. Default 30 s. */
  timeoutMs?: number;
  delayMs?: number;
  send?: string | Uint8Array;
  type?: string;
  /** Between keystrokes of `type`, ms. Default 150. */
  paceMs?: number;
  /** Keystrokes of this step are not echoed (a password): no echo is expected. */
  secret?: boolean;
  /** A name for the keystrokes of this step (measurements pick steps by it). */
  label?: string;
  close?: boolean;
}

export interface Keystroke {
  /** Clock time the key was sent. */
  readonly at: number;
  /** What was typed ("a", "\r"...). */
  readonly key: string;
  readonly label: string | undefined;
  /** Whether an echo is expected (remote echo on, not secret). */
  readonly expectsEcho: boolean;
  /** Clock time the echo arrived, when it did. */
  echoAt: number | null;
}

export type ClientState = 'connecting' | 'open' | 'closing' | 'closed';

export class ClientSession {
  state: ClientState = 'connecting';
  conn: StreamConnection | null = null;
  readonly screen = new Screen();
  readonly text = new NvtTextDecoder();
  readonly keystrokes: Keystroke[] = [];
  /** Keystrokes whose echo is awaited, oldest first, with the byte that will echo them. */
  readonly echoQueue: Array<{ k: Keystroke; byte: number }> = [];
  /** The line typed so far when the client echoes locally (line mode). */
  lineBuffer = '';
  /** Why the session ended or the script failed. */
  error: string | null = null;
  endReason: string | null = null;
  // script position
  step = 0;
  phase: 'expect' | 'delay' | 'act' = 'expect';
  typed = 0;
  matchFrom = 0;
  scriptDone = false;
  scriptTimer: ModuleTimer | null = null;
  expectTimer: ModuleTimer | null = null;
  private readonly closedWaiters: Array<() => void> = [];

  constructor(
    readonly id: number,
    readonly endpoint: TelnetEndpoint,
    readonly script: readonly ScriptStep[],
    readonly remote: string,
  ) {}

  get open(): boolean {
    return this.state === 'open';
  }

  /** Resolves when the connection is over. */
  closed(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }

  /** @internal */
  notifyClosed(): void {
    for (const f of this.closedWaiters.splice(0)) f();
  }

  describe(): string {
    return `telnet client #${this.id} to ${this.remote} ${this.state}`;
  }
}
