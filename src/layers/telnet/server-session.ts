/**
 * One login session of the Telnet server: the server module's client state
 * (Clark's split). Everything here belongs to one connection and is thrown
 * away by the server's cleanup when a task working for it fails; nothing here
 * is shared with another session.
 */
import type { ModuleTimer } from '../../core/index.js';
import type { WindowSize } from '../../wire/telnet.js';
import type { TelnetEndpoint } from './endpoint.js';
import type { LineEditor } from './nvt-line.js';
import type { Shell } from './shell.js';
import type { StreamConnection } from './transport.js';
import type { LoginLimiter } from './users.js';

/**
 * - `login`, `password`: reading the name, then the password (not echoed);
 * - `verifying`: scrypt is running off the stack; input is ignored;
 * - `delay`: after a failed login, until the limiter allows the next attempt;
 * - `shell`: at the prompt; `running`: a long command (ping) is running;
 * - `closing`: FIN sent, waiting for the transport to finish; `closed`.
 */
export type SessionStage = 'login' | 'password' | 'verifying' | 'delay' | 'shell' | 'running' | 'closing' | 'closed';

export class ServerSession {
  stage: SessionStage = 'login';
  /** The account being logged in to, then the logged-in user. */
  user: string | null = null;
  shell: Shell | null = null;
  /** Aborts the running command (Ctrl-C, or the session going away). */
  command: AbortController | null = null;
  terminalType: string | null = null;
  windowSize: WindowSize | null = null;
  /** Data bytes received (keystrokes in character mode). */
  bytesIn = 0;
  /** Echo bytes written back for typed characters. */
  echoBytes = 0;
  /** Why the session ended, once it has. */
  endReason: string | null = null;
  loginTimer: ModuleTimer | null = null;
  retryTimer: ModuleTimer | null = null;
  /** --no-piggyback: output produced inside a receive upcall waits for this timer. */
  flushTimer: ModuleTimer | null = null;
  /** Echo bytes among those armed inside the last receive upcall (for trace notes). */
  armedEcho = 0;
  /** Clock time of the last input (before login: an idle session loses its slot first). */
  lastInputAt = 0;
  /** Before login: closes the session after a shorter idle time than the login timeout. */
  idleTimer: ModuleTimer | null = null;
  /** The password check waiting in the server's login queue, if any (withdrawn when the session ends). */
  loginTicket: unknown = null;
  /**
   * Typeahead: keys that came while a command ran or the password was being
   * checked, kept (copied, bounded) as a terminal keeps them and fed to the line
   * editor when the prompt comes back.
   */
  typeahead: Uint8Array[] = [];
  typeaheadBytes = 0;

  constructor(
    readonly id: number,
    readonly conn: StreamConnection,
    readonly endpoint: TelnetEndpoint,
    readonly editor: LineEditor,
    readonly limiter: LoginLimiter,
    readonly startedAt: number,
  ) {}

  get open(): boolean {
    return this.stage !== 'closing' && this.stage !== 'closed';
  }

  get loggedIn(): boolean {
    return this.stage === 'shell' || this.stage === 'running' || (this.shell !== null && this.open);
  }

  describe(): string {
    return `telnet #${this.id} ${this.conn.remoteAddress}:${this.conn.remotePort} ${this.user ?? '-'} ${this.stage}`;
  }
}
