/**
 * The Telnet login service: a module bound to the transport's upcall slots.
 *
 * Each accepted connection gets a ServerSession (client state); the module's
 * shared state is only the table of sessions and the queue of logins being
 * verified. Bytes arrive through the `onData` upcall, in the task that carried
 * the segment up from the NIC. In character-at-a-time mode (the client agreed
 * to WILL ECHO and WILL SUPPRESS-GO-AHEAD) the server answers each keystroke
 * with Swift's "arm for send": inside that upcall it only ARMS the connection
 * (`conn.armSend()`); when the upcall has returned, TCP builds the segment that
 * acknowledges the keystroke and, in the same task, calls up `onSendReady`,
 * where the session writes its echo straight into that segment's payload
 * (TCP keeps a copy for retransmission only once the segment is built). The
 * echo rides on the ACK: Clark's piggybacking. Output is produced when TCP can
 * take it: what does not fit in the segment re-arms, and TCP asks again when
 * the window allows. With `piggyback: false` the same output waits for a timer
 * instead, as a layered system with a process per layer would have it, and
 * leaves in its own segment (armed from that timer's task).
 *
 * Two outputs do not arm. A session's last words go with `send`, because the
 * FIN that follows them cancels an arming TCP has not served yet. And under
 * queued dispatch (upcalls into this module delivered through a mailbox) an
 * `onSendReady` would run after its segment had gone, with a writer that has
 * no packet behind it: there the server writes with `send`.
 *
 * Passwords are checked with scrypt on libuv's thread pool. No task waits for
 * it: the task that received the password line ends at once (its ACK leaves),
 * and the result comes back in order as a new task at this module ('mailbox',
 * child of the task that asked). On a virtual clock the driver (runVirtual)
 * holds the clock while such external work is in flight, so a run stays a
 * function of its seed. Long commands (ping) finish the same way.
 */
import { currentTask, Module, outsideTask, type ModuleTimer, type Runtime, type Task } from '../../core/index.js';
import { parseNaws, parseTerminalType, TelnetOption, AYT, BRK, EC, EL, EOF, GA, IP, type TelnetDecodeError } from '../../wire/telnet.js';
import { admit } from './admission.js';
import { AsyncWork, type WorkKind } from './async-work.js';
import { TelnetEndpoint } from './endpoint.js';
import { LineEditor, type EchoMode, type LineEvent } from './nvt-line.js';
import type { OptionSide } from './options.js';
import { ServerSession } from './server-session.js';
import { createShell, type ShellEnv, type ShellResult } from './shell.js';
import type { StreamConnection, StreamListener, StreamSlots, StreamTransport, StreamWriter } from './transport.js';
import { LoginQueue, type LoginQueueOptions, type LoginTicket } from './login-queue.js';
import { LoginLimiter, type LoginLimiterOptions, type UserDb } from './users.js';

const { ECHO, SGA, TERMINAL_TYPE, NAWS } = TelnetOption;
const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;
const ETX = 0x03;
const EOT = 0x04;

export interface TelnetServerOptions {
  /** Default 23. */
  port?: number;
  users: UserDb;
  /** The shell's view of the host for one logged-in user. */
  shellEnv(user: string, session: ServerSession): ShellEnv;
  /** Shown before the first login prompt. */
  banner?: string;
  /**
   * Arm for send inside the receive upcall, so the echo is written into the
   * segment carrying the ACK (default true). false: hold output for `echoDelayMs`, then arm.
   */
  piggyback?: boolean;
  /** How long output waits without piggybacking, ms. Default 1. */
  echoDelayMs?: number;
  /** Failed-login delays and limits, and the login timeout (LoginLimiter). */
  login?: LoginLimiterOptions;
  /** Sessions at once; more are told so and closed. Default 256. */
  maxSessions?: number;
  /** Sessions not logged in that one source address may hold. Default 8. */
  maxPreAuthPerSource?: number;
  /** Slots that sessions not logged in cannot take (see admission.ts). Default maxSessions / 8. */
  reservedSessions?: number;
  /** A session not logged in that sends nothing for this long is closed (the login timeout bounds the whole login). Default 20 000 ms. */
  preAuthIdleMs?: number;
  /**
   * The password checks' queue: fair across source addresses, bounded, with
   * back-off per address and per account (login-queue.ts). `workKind` says how
   * a check is waited for on a virtual clock: 'external' (scrypt, the default)
   * or 'clock' (a check that takes clock time, as a simulated cost in tests).
   */
  loginQueue?: LoginQueueOptions & { workKind?: WorkKind };
  /** Negotiations a session may receive before it is judged hostile and closed. Default 256. */
  maxNegotiations?: number;
  /** Bound of one subnegotiation (TelnetDecoder). Default 256. */
  maxSubnegotiation?: number;
  /** Longest input line. Default 1024. */
  maxLineLength?: number;
  /** Bytes of typeahead kept while a command runs or a login is checked; more are dropped. Default 4096 (a Linux tty's input buffer). */
  maxTypeahead?: number;
  /** Keep each session's negotiation log (for traces and tests). Default false. */
  logNegotiations?: boolean;
  /** Told when a session is over (normally or by cleanup), after it left the table. */
  onSessionEnd?(session: ServerSession): void;
}

export interface TelnetServerCounters {
  accepted: number;
  refused: number;
  loginsOk: number;
  loginsFailed: number;
  loginTimeouts: number;
  tooManyFailures: number;
  sessionsEnded: number;
  /** Sessions ended by cleanup after a task working for them failed. */
  sessionsFailed: number;
  negotiationFloods: number;
  /** Sessions not logged in closed to give their slot to a newcomer. */
  evicted: number;
  /** Connections refused: their address held too many sessions not logged in. */
  refusedFromSource: number;
  /** Sessions closed for being idle before logging in. */
  preAuthIdle: number;
  /** Password checks refused because the login queue was full. */
  loginsShed: number;
  /** Replies armed inside the transport's receive upcall (they ride on its ACK). */
  repliesInUpcall: number;
  /** Writes a receive upcall produced that were held for later (piggyback off). */
  repliesDeferred: number;
  /** onSendReady upcalls in which a session wrote into the segment TCP was building. */
  segmentWrites: number;
  /** Re-armings: more was pending than the segment had room for. */
  rearms: number;
  /** Outputs written with `send` instead (last words before a FIN, queued dispatch). */
  sends: number;
  /** Echo bytes written for typed characters. */
  echoBytes: number;
  bytesIn: number;
  bytesOut: number;
}

interface Verification {
  readonly session: ServerSession;
  readonly parent: Task | null;
  readonly user: string;
  readonly password: string;
  ticket: LoginTicket<Verification> | null;
  settled: boolean;
  ok: boolean;
}

interface ServerShared {
  readonly sessions: Map<number, ServerSession>;
  nextId: number;
  /** Logins being verified, in the order they were started: results are delivered in this order. */
  readonly verifying: Verification[];
  /** Logins waiting for their turn (fair across source addresses). */
  readonly logins: LoginQueue<Verification>;
}

export const DEFAULT_BANNER = 'Telnet login on an upcall-structured stack.';

export class TelnetServer extends Module<ServerShared, ServerSession> {
  readonly port: number;
  readonly counters: TelnetServerCounters = {
    accepted: 0,
    refused: 0,
    loginsOk: 0,
    loginsFailed: 0,
    loginTimeouts: 0,
    tooManyFailures: 0,
    sessionsEnded: 0,
    sessionsFailed: 0,
    negotiationFloods: 0,
    evicted: 0,
    refusedFromSource: 0,
    preAuthIdle: 0,
    loginsShed: 0,
    repliesInUpcall: 0,
    repliesDeferred: 0,
    segmentWrites: 0,
    rearms: 0,
    sends: 0,
    echoBytes: 0,
    bytesIn: 0,
    bytesOut: 0,
  };
  /** Password checks and long commands in flight (see runVirtual). */
  readonly work = new AsyncWork();
  readonly piggyback: boolean;
  private readonly echoDelayMs: number;
  private readonly loginTimeoutMs: number;
  private listener: StreamListener | null = null;
  /** Echo bytes written by the input being processed now. */
  private echoing = 0;

  constructor(
    rt: Runtime,
    private readonly transport: StreamTransport,
    readonly options: TelnetServerOptions,
    name = 'telnetd',
  ) {
    super(rt, name, { sessions: new Map(), nextId: 1, verifying: [], logins: new LoginQueue(options.loginQueue) });
    this.port = options.port ?? 23;
    this.piggyback = options.piggyback ?? true;
    this.echoDelayMs = options.echoDelayMs ?? 1;
    this.loginTimeoutMs = options.login?.loginTimeoutMs ?? 60_000;
  }

  /** Start listening on the port. */
  readonly start = this.entry('start', 'reject', (): void => {
    if (this.listener !== null) return;
    this.listener = this.transport.listen(this.port, this, { onAccept: (conn) => this.accept(conn) }, { noDelay: true });
  });

  /** Stop listening; sessions already open go on. */
  readonly stop = this.entry('stop', 'reject', (): void => {
    this.listener?.close();
    this.listener = null;
  });

  /** Open sessions, oldest first. */
  sessions(): ServerSession[] {
    return [...this.shared.sessions.values()];
  }

  // ---- accept and receive (upcalls from the transport) ---------------------

  private accept(conn: StreamConnection): undefined {
    const max = this.options.maxSessions ?? 256;
    const a = admit(this.shared.sessions.values(), conn.remoteAddress, {
      maxSessions: max,
      maxPreAuthPerSource: this.options.maxPreAuthPerSource ?? 8,
      reservedSessions: this.options.reservedSessions ?? Math.floor(max / 8),
    });
    if (a.kind === 'refuse') {
      this.counters.refused++;
      if (a.reason === 'too-many-from-source') this.counters.refusedFromSource++;
      this.drop(a.reason, conn.describe());
      conn.bind({}, this);
      conn.send(a.message);
      conn.close();
      return undefined;
    }
    if (a.kind === 'evict') {
      this.counters.evicted++;
      this.drop('evicted-for-newcomer', a.victim.describe());
      a.victim.endpoint.writeText('\r\nToo many connections: this one, idle and not logged in, is closed to make room.\r\n');
      this.end(a.victim, 'evicted for a new connection', false);
    }
    const s = this.lock.locked(() => {
      const id = this.shared.nextId++;
      const session = this.newSession(id, conn);
      this.shared.sessions.set(id, session);
      return session;
    }) as ServerSession;
    this.counters.accepted++;
    const handlers: Partial<StreamSlots> = {
      onData: (_c, data) => this.receive(s, data),
      onSendReady: (_c, w) => this.sendReady(s, w),
      onClose: (_c, how) => this.transportClosed(s, how),
      onError: (_c, err) => this.finish(s, `transport error: ${err.message}`),
    };
    conn.bind(handlers, this, s);
    this.claim(s);
    this.echoing = 0;
    if (this.rt.observed) this.note(`session #${s.id} accepted from ${conn.remoteAddress}:${conn.remotePort}`);
    this.greet(s);
    this.flush(s, true);
    return undefined;
  }

  private newSession(id: number, conn: StreamConnection): ServerSession {
    const now = this.rt.clock.now();
    let s: ServerSession;
    const endpoint = new TelnetEndpoint(
      {
        onData: (d) => this.input(s, d),
        onCommand: (c) => this.command(s, c),
        onSubnegotiation: (opt, payload) => this.subnegotiation(s, opt, payload),
        onOptionChange: (side, opt, enabled) => this.optionChanged(s, side, opt, enabled),
        onDecodeError: (reason, byte) => this.decodeError(s, reason, byte),
      },
      {
        policy: { local: [ECHO, SGA], remote: [SGA, TERMINAL_TYPE, NAWS] },
        maxSubnegotiation: this.options.maxSubnegotiation ?? 256,
        ...(this.options.logNegotiations === true ? { now: () => this.rt.clock.now() } : {}),
      },
    );
    const editor = new LineEditor({ echo: 'off', maxLength: this.options.maxLineLength ?? 1024, rejectBadLines: true });
    s = new ServerSession(id, conn, endpoint, editor, new LoginLimiter(now, this.options.login), now);
    if (Number.isFinite(this.loginTimeoutMs)) {
      s.loginTimer = this.timer(s, 'login-timeout', () => this.loginTimedOut(s));
      s.loginTimer.arm(this.loginTimeoutMs);
    }
    s.lastInputAt = now;
    const idle = this.options.preAuthIdleMs ?? 20_000;
    if (Number.isFinite(idle) && idle < this.loginTimeoutMs) {
      s.idleTimer = this.timer(s, 'pre-auth-idle', () => this.preAuthIdle(s, idle));
      s.idleTimer.arm(idle);
    }
    return s;
  }

  private greet(s: ServerSession): void {
    const o = s.endpoint.options;
    // Character-at-a-time: we echo and we do not send go-aheads. A client that
    // refuses either keeps its local echo (line mode) and still works.
    o.enableLocal(ECHO);
    o.enableLocal(SGA);
    o.enableRemote(TERMINAL_TYPE);
    o.enableRemote(NAWS);
    s.endpoint.writeText(`${this.options.banner ?? DEFAULT_BANNER}\r\n\r\n`);
    this.prompt(s, 'login: ');
  }

  /** The onData upcall: runs in the task that brought the segment up. */
  private receive(s: ServerSession, data: Uint8Array): void {
    this.claim(s);
    if (s.stage === 'closed') return;
    s.bytesIn += data.length;
    this.counters.bytesIn += data.length;
    s.lastInputAt = this.rt.clock.now();
    if (this.rt.observed) this.note(`session #${s.id} (${s.stage}) got ${describeBytes(data)}`);
    this.echoing = 0;
    s.endpoint.push(data);
    const limit = this.options.maxNegotiations ?? 256;
    if (s.endpoint.negotiationsReceived > limit && s.open) {
      this.counters.negotiationFloods++;
      this.drop('negotiation-flood', s.describe());
      s.endpoint.discard();
      this.end(s, 'negotiation flood', true);
    }
    this.flush(s, true);
  }

  private transportClosed(s: ServerSession, how: 'peer-fin' | 'closed'): void {
    this.claim(s);
    if (how === 'closed') {
      this.finish(s, s.endReason ?? 'closed');
      return;
    }
    // The peer will send no more: finish what we were saying and close our side.
    s.endpoint.decoder.end();
    this.end(s, 'peer closed', true);
  }

  // ---- Telnet input ---------------------------------------------------------

  private input(s: ServerSession, data: Uint8Array): void {
    const n = data.length;
    let i = 0;
    while (i < n && s.open) {
      const stage = s.stage;
      if (stage === 'login' || stage === 'password' || stage === 'shell') {
        // Feed up to and including the first line end or control key: the stage
        // (and so whether the rest is echoed) may change after it.
        let j = i;
        while (j < n) {
          const b = data[j]!;
          if (b === CR || b === LF || b === ETX || b === EOT) break;
          j++;
        }
        const end = j < n ? j + 1 : n;
        this.editorEvents(s, s.editor.feed(data.subarray(i, end)));
        i = end;
      } else if (stage === 'running') {
        // Ctrl-C interrupts the command and flushes what was typed before it, as
        // a terminal does; what follows it is input at the new prompt.
        const etx = data.indexOf(ETX, i);
        if (etx < 0) {
          // The second half of the CR LF (CR NUL) that started the command is no input.
          if (i > 0 && data[i - 1] === CR && (data[i] === LF || data[i] === NUL)) i++;
          if (i < n) this.keepTypeahead(s, data.subarray(i));
          return;
        }
        this.interrupt(s);
        i = etx + 1;
      } else if (stage === 'verifying') {
        // The line end's second half is no input; the rest waits for the shell
        // (a Ctrl-C flushes it).
        for (; i < n; i++) if (data[i] !== LF && data[i] !== NUL) break;
        if (i === n) return;
        if (data.indexOf(ETX, i) >= 0) this.discardTypeahead(s, 'typeahead-interrupted');
        else this.keepTypeahead(s, data.subarray(i));
        return;
      } else {
        // delay, after a failed login: nothing typed now is kept (login(1) flushes too)
        for (; i < n; i++) if (data[i] !== LF && data[i] !== NUL) break;
        if (i < n) this.drop('input-during-login-delay');
        return;
      }
    }
  }

  private editorEvents(s: ServerSession, events: LineEvent[]): void {
    for (const e of events) {
      if (!s.open) return;
      switch (e.kind) {
        case 'echo':
          s.endpoint.writeText(e.text);
          s.echoBytes += e.text.length;
          this.counters.echoBytes += e.text.length;
          this.echoing += e.text.length;
          break;
        case 'line':
          this.line(s, e.text);
          break;
        case 'interrupt':
          this.interrupt(s, true);
          break;
        case 'rejected':
          this.rejectedLine(s, e.reason);
          break;
        case 'eof':
          if (s.stage === 'shell') {
            s.endpoint.writeText('logout\r\n');
            this.end(s, 'logout', true);
          } else {
            this.end(s, 'end of input at login', true);
          }
          break;
      }
    }
  }

  /** A line too long, or with 8-bit bytes that are not UTF-8: not run; the user is told why. */
  private rejectedLine(s: ServerSession, reason: 'too-long' | '8-bit'): void {
    this.drop(`line-${reason}`, s.describe());
    s.endpoint.writeText(
      reason === 'too-long'
        ? `Line too long (more than ${this.options.maxLineLength ?? 1024} characters): ignored.\r\n`
        : 'Line ignored: it holds 8-bit bytes that are not UTF-8 (this server does not negotiate BINARY).\r\n',
    );
    this.prompt(s, s.stage === 'shell' ? s.shell!.prompt() : s.stage === 'password' ? 'Password: ' : 'login: ');
  }

  private line(s: ServerSession, text: string): void {
    switch (s.stage) {
      case 'login': {
        const name = text.trim();
        if (name === '') {
          this.prompt(s, 'login: ');
          return;
        }
        s.user = name;
        s.stage = 'password';
        s.editor.echo = this.echoMode(s);
        this.prompt(s, 'Password: ');
        return;
      }
      case 'password': {
        const check = s.limiter.check(this.rt.clock.now());
        if (check.kind === 'close') {
          this.loginClosed(s, check.reason, true);
          return;
        }
        s.stage = 'verifying';
        s.editor.echo = this.echoMode(s);
        this.verify(s, s.user ?? '', text);
        return;
      }
      case 'shell':
        this.runLine(s, text);
        return;
    }
  }

  private command(s: ServerSession, cmd: number): void {
    if (!s.open) return;
    if (cmd === AYT) {
      s.endpoint.writeText('\r\n[Yes]\r\n');
    } else if (cmd === IP || cmd === BRK) {
      if (s.stage === 'running') this.interrupt(s);
      else if (s.stage === 'login' || s.stage === 'password' || s.stage === 'shell') this.editorEvents(s, s.editor.command(IP));
    } else if (cmd === EC || cmd === EL || cmd === EOF) {
      if (s.stage === 'login' || s.stage === 'password' || s.stage === 'shell') this.editorEvents(s, s.editor.command(cmd));
    }
    // NOP, DM (synch), GA and the rest: nothing to do.
  }

  private subnegotiation(s: ServerSession, opt: number, payload: Uint8Array): void {
    if (opt === TERMINAL_TYPE && s.endpoint.options.isRemote(TERMINAL_TYPE)) {
      const r = parseTerminalType(payload);
      if (r.ok && r.value.kind === 'is') s.terminalType = r.value.name;
      else this.drop('bad-terminal-type', r.ok ? 'SEND from a client' : r.reason);
    } else if (opt === NAWS && s.endpoint.options.isRemote(NAWS)) {
      const r = parseNaws(payload);
      if (r.ok) s.windowSize = r.value;
      else this.drop('bad-naws', r.reason);
    } else {
      this.drop('unexpected-subnegotiation', `option ${opt}`);
    }
  }

  private optionChanged(s: ServerSession, side: OptionSide, opt: number, enabled: boolean): void {
    if (side === 'local' && opt === ECHO) s.editor.echo = this.echoMode(s);
    if (side === 'remote' && opt === TERMINAL_TYPE && enabled) {
      s.endpoint.writeSubnegotiation(TERMINAL_TYPE, Uint8Array.of(1 /* SEND */));
    }
    if (this.rt.observed) this.note(`session #${s.id} ${side} option ${opt} ${enabled ? 'on' : 'off'}`);
  }

  private decodeError(s: ServerSession, reason: TelnetDecodeError, byte: number): void {
    this.drop(`telnet-${reason}`, `session #${s.id} byte ${byte}`);
  }

  private echoMode(s: ServerSession): EchoMode {
    if (!s.endpoint.options.isLocal(ECHO)) return 'off';
    return s.stage === 'password' ? 'secret' : 'on';
  }

  private prompt(s: ServerSession, text: string): void {
    s.endpoint.writeText(text);
    // Without SUPPRESS-GO-AHEAD the peer is half-duplex and waits for our turn to end
    // (while our offer to suppress it is still unanswered, we do not send one).
    if (s.endpoint.options.stateOf('local', SGA) === 'no') s.endpoint.writeCommand(GA);
  }

  /** Keeps keys typed while the session is busy, up to the bound. */
  private keepTypeahead(s: ServerSession, bytes: Uint8Array): void {
    const room = (this.options.maxTypeahead ?? 4096) - s.typeaheadBytes;
    const kept = Math.min(room, bytes.length);
    if (kept > 0) {
      // A copy: the bytes are a view of a segment whose buffer goes back to the pool.
      s.typeahead.push(bytes.slice(0, kept));
      s.typeaheadBytes += kept;
    }
    if (kept < bytes.length) this.drop('typeahead-full', `session #${s.id} ${bytes.length - kept} bytes`);
  }

  private discardTypeahead(s: ServerSession, reason: string): void {
    if (s.typeaheadBytes > 0) this.drop(reason, `session #${s.id} ${s.typeaheadBytes} bytes`);
    s.typeahead = [];
    s.typeaheadBytes = 0;
  }

  /** The prompt is back: what was typed ahead is input now (and may start another command, which keeps the rest). */
  private replayTypeahead(s: ServerSession): void {
    if (s.typeaheadBytes === 0) return;
    const chunks = s.typeahead;
    s.typeahead = [];
    s.typeaheadBytes = 0;
    for (const c of chunks) {
      if (!s.open) return;
      this.input(s, c);
    }
  }

  private interrupt(s: ServerSession, echoed = false): void {
    if (s.stage === 'running') {
      this.discardTypeahead(s, 'typeahead-interrupted');
      s.command?.abort();
      s.command = null;
      s.stage = 'shell';
      if (!echoed) s.endpoint.writeText('^C\r\n');
      this.prompt(s, s.shell!.prompt());
    } else if (s.stage === 'shell') {
      this.prompt(s, s.shell!.prompt());
    } else if (s.stage === 'login' || s.stage === 'password') {
      s.user = null;
      s.stage = 'login';
      s.editor.echo = this.echoMode(s);
      this.prompt(s, 'login: ');
    }
  }

  // ---- login -----------------------------------------------------------------

  private verify(s: ServerSession, user: string, password: string): void {
    const v: Verification = { session: s, parent: currentTask() ?? null, user, password, ticket: null, settled: false, ok: false };
    const r = this.shared.logins.offer(s.conn.remoteAddress, user, v);
    if (!r.ok) {
      this.counters.loginsShed++;
      this.drop(`login-${r.reason}`, s.describe());
      s.endpoint.writeText('\r\nToo many login attempts are waiting; try again later.\r\n');
      this.end(s, 'login queue full', true);
      return;
    }
    v.ticket = r.ticket;
    s.loginTicket = r.ticket;
    if (this.rt.observed) this.note(`session #${s.id} verifies '${user}' off the stack (scrypt, queued fairly by address); this task ends now`);
    this.pumpLogins();
  }

  /** Starts the password checks whose turn it is; arms the queue's timer for checks held back by a back-off. */
  private pumpLogins(): void {
    const q = this.shared.logins;
    const now = this.rt.clock.now();
    const kind = this.options.loginQueue?.workKind ?? 'external';
    for (let t = q.next(now); t !== undefined; t = q.next(now)) {
      const v = t.payload;
      v.session.loginTicket = null;
      this.shared.verifying.push(v);
      const settle = (ok: boolean): void => {
        v.settled = true;
        v.ok = ok;
        this.deliverVerified();
      };
      let p: Promise<boolean>;
      try {
        p = this.options.users.authenticate(v.user, v.password);
      } catch {
        p = Promise.resolve(false);
      }
      this.work.track(p, kind).then(settle, () => settle(false));
    }
    const at = q.wakeAt(now);
    if (at !== undefined) {
      this.loginWake ??= this.timer(null, 'login-queue', () => this.pumpLogins());
      this.loginWake.armAt(at);
    }
  }

  private loginWake: ModuleTimer | null = null;

  /**
   * Results go out in the order the checks were started, each as a task of its
   * own (so a run on the virtual clock does not depend on which thread finished
   * first); each frees a place in the queue for the next.
   */
  private deliverVerified(): void {
    const q = this.shared.verifying;
    const now = this.rt.clock.now();
    let freed = false;
    while (q.length > 0 && q[0]!.settled) {
      const v = q.shift()!;
      if (v.ticket !== null) this.shared.logins.finished(v.ticket, v.ok, now);
      freed = true;
      this.later(v.parent, v.session, 'login-verified', () => this.verified(v));
    }
    if (freed) this.pumpLogins();
  }

  /** Closes a session that has not logged in and has sent nothing for `idleMs`. */
  private preAuthIdle(s: ServerSession, idleMs: number): void {
    if (!s.open || s.loggedIn) return;
    const now = this.rt.clock.now();
    const quietFor = now - s.lastInputAt;
    if (s.stage === 'verifying' || s.stage === 'delay' || quietFor < idleMs) {
      // Waiting on us, or input came since the timer was armed.
      s.idleTimer?.armAt(s.stage === 'verifying' || s.stage === 'delay' ? now + idleMs : s.lastInputAt + idleMs);
      return;
    }
    this.counters.preAuthIdle++;
    s.endpoint.writeText(`\r\nLogin timed out after ${Math.round(idleMs / 1000)} seconds without input.\r\n`);
    this.end(s, 'idle before login', false);
  }

  /** Run fn as a new task at this module on the next clock turn, outside any task's context. */
  private later(parent: Task | null, s: ServerSession, entry: string, fn: () => void): void {
    const clock = this.rt.clock;
    outsideTask(() => {
      clock.schedule(clock.now(), () => {
        if (s.stage !== 'closed') this.startTask('mailbox', () => fn(), { client: s, entry, parent });
      });
    });
  }

  private verified(v: Verification): void {
    const s = v.session;
    if (s.stage !== 'verifying') return;
    const now = this.rt.clock.now();
    if (v.ok) {
      this.counters.loginsOk++;
      s.loginTimer?.cancel();
      s.idleTimer?.cancel();
      s.stage = 'shell';
      s.editor.echo = this.echoMode(s);
      s.shell = createShell(this.options.shellEnv(s.user!, s));
      if (this.rt.observed) this.note(`session #${s.id} logged in as '${s.user}'`);
      s.endpoint.writeText(`Welcome, ${s.user}. Type 'help' for the commands.\r\n`);
      this.prompt(s, s.shell.prompt());
      this.replayTypeahead(s);
    } else {
      this.discardTypeahead(s, 'typeahead-after-failed-login');
      this.counters.loginsFailed++;
      const d = s.limiter.fail(now);
      if (d.kind === 'close') {
        this.loginClosed(s, d.reason, false);
      } else {
        s.stage = 'delay';
        s.retryTimer ??= this.timer(s, 'login-retry', () => this.retry(s));
        s.retryTimer.armAt(d.notBeforeMs);
      }
    }
    this.flush(s, false);
  }

  private retry(s: ServerSession): void {
    if (s.stage !== 'delay') return;
    const check = s.limiter.check(this.rt.clock.now());
    if (check.kind === 'close') {
      this.loginClosed(s, check.reason, false);
    } else {
      s.endpoint.writeText('Login incorrect\r\n\r\n');
      s.user = null;
      s.stage = 'login';
      s.editor.echo = this.echoMode(s);
      this.prompt(s, 'login: ');
    }
    this.flush(s, false);
  }

  private loginClosed(s: ServerSession, reason: 'too-many-failures' | 'timeout', inUpcall: boolean): void {
    if (reason === 'timeout') {
      this.loginTimedOut(s, inUpcall);
      return;
    }
    this.counters.tooManyFailures++;
    s.endpoint.writeText('Login incorrect\r\nToo many failed login attempts.\r\n');
    this.end(s, 'too many failed logins', inUpcall);
  }

  private loginTimedOut(s: ServerSession, inUpcall = false): void {
    if (!s.open || s.loggedIn) return;
    this.counters.loginTimeouts++;
    s.endpoint.writeText(`\r\nLogin timed out after ${Math.round(this.loginTimeoutMs / 1000)} seconds.\r\n`);
    this.end(s, 'login timeout', inUpcall);
  }

  // ---- the shell ----------------------------------------------------------------

  /** Runs one command line for a logged-in session (protected: tests subclass it to inject faults). */
  protected runLine(s: ServerSession, line: string): void {
    const ac = new AbortController();
    const write = (text: string): void => {
      if (s.command !== ac || !s.open) return;
      s.endpoint.writeText(text);
      this.flush(s, false);
    };
    s.command = ac;
    const r = s.shell!.run(line, { signal: ac.signal, write });
    if (!(r instanceof Promise)) {
      // Output and prompt join the echo of the line end: one segment, with the ACK.
      this.commandDone(s, ac, r, true);
      return;
    }
    s.stage = 'running';
    const parent = currentTask() ?? null;
    this.work.track(r, 'clock').then((res) => this.later(parent, s, 'command-done', () => this.commandDone(s, ac, res, false)));
  }

  private commandDone(s: ServerSession, ac: AbortController, r: ShellResult, inUpcall: boolean): void {
    if (s.command !== ac || !s.open) return;
    s.command = null;
    s.endpoint.writeText(r.output);
    if (r.exit === true) {
      s.endpoint.writeText('logout\r\n');
      this.end(s, 'logout', inUpcall);
      return;
    }
    s.stage = 'shell';
    this.prompt(s, s.shell!.prompt());
    this.replayTypeahead(s);
    if (!inUpcall) this.flush(s, false);
  }

  // ---- output and the end of a session ----------------------------------------------

  /**
   * Send what the session has to say: arm the connection, and TCP asks for the
   * bytes (onSendReady) when it builds its next segment. Inside a receive
   * upcall that is the segment carrying the ACK, built once the upcall has
   * returned; from a task of our own (a timer, a login result) TCP builds it at
   * once, inside `armSend`. Without piggybacking, output made in a receive
   * upcall waits `echoDelayMs` for a timer task of its own, which then arms.
   */
  private flush(s: ServerSession, inUpcall: boolean): void {
    if (s.endpoint.pending === 0 || s.stage === 'closed') return;
    if (inUpcall && !this.piggyback) {
      this.counters.repliesDeferred++;
      if (this.rt.observed) this.note(`session #${s.id} holds ${s.endpoint.pending} byte${s.endpoint.pending === 1 ? '' : 's'} for ${this.echoDelayMs} ms (no piggybacking): the ACK leaves without ${s.endpoint.pending === 1 ? 'it' : 'them'}`);
      s.flushTimer ??= this.timer(s, 'deferred-output', () => this.flushDeferred(s));
      if (!s.flushTimer.armed) s.flushTimer.arm(this.echoDelayMs);
      return;
    }
    if (this.dispatchPolicy === 'queued') {
      // A mailbox task of our own: TCP is no longer below us, and the
      // onSendReady it would make would come by mailbox too, after its segment
      // (arming anyway costs ~10% more segments and ~23% more tasks per login).
      this.sendPending(s, 'queued dispatch: no segment to write into');
      return;
    }
    if (inUpcall) {
      this.counters.repliesInUpcall++;
      s.armedEcho = this.echoing;
    }
    if (this.rt.observed) {
      const n = s.endpoint.pending;
      const them = n === 1 ? 'it' : 'them';
      this.note(
        `session #${s.id} arms the connection for ${n} byte${n === 1 ? '' : 's'}: TCP will ask for ${them} ` +
          (inUpcall ? 'as it builds the segment that acknowledges this input' : 'as it builds its next segment'),
      );
    }
    s.conn.armSend();
    if (this.rt.observed && s.endpoint.pending > 0) {
      this.note(`session #${s.id}: armSend returned; the bytes wait in the session for TCP's onSendReady`);
    }
  }

  /**
   * TCP is building a segment for an armed connection: the pending bytes go
   * straight into its payload. What does not fit waits, and the connection is
   * armed again (TCP calls back when the window has room).
   */
  private sendReady(s: ServerSession, w: StreamWriter): void {
    this.claim(s);
    const echo = s.armedEcho;
    s.armedEcho = 0;
    if (s.stage === 'closed' || s.endpoint.pending === 0) return;
    const n = s.endpoint.writeTo(w);
    this.counters.bytesOut += n;
    if (n > 0) this.counters.segmentWrites++;
    if (this.rt.observed && n > 0) {
      const bytes = w.buffer.subarray(w.offset - n, w.offset);
      // Under queued dispatch onSendReady comes after its segment left: the writer sends instead.
      if (bytes.length < n) this.note(`session #${s.id} writes ${n} bytes; the segment had gone, so the writer sends them`);
      else this.note(`session #${s.id} writes ${describeBytes(bytes)} into the segment TCP is building${echo > 0 ? ' (the echo rides on the ACK)' : ''}`);
    }
    if (s.endpoint.pending > 0) {
      this.counters.rearms++;
      if (this.rt.observed) this.note(`session #${s.id}: ${s.endpoint.pending} more byte${s.endpoint.pending === 1 ? '' : 's'} than the segment holds: arms again`);
      s.conn.armSend();
    }
  }

  /** Everything pending, queued on the connection with `send` (one buffer, so one segment if it fits). */
  private sendPending(s: ServerSession, why: string): void {
    const bytes = s.endpoint.take();
    if (bytes === null) return;
    this.counters.bytesOut += bytes.length;
    this.counters.sends++;
    if (this.rt.observed) this.note(`session #${s.id} sends ${describeBytes(bytes)} (${why})`);
    s.conn.send(bytes);
  }

  private flushDeferred(s: ServerSession): void {
    if (s.stage === 'closed') return;
    if (s.stage === 'closing') {
      this.sendPending(s, 'held output, then the FIN');
      s.conn.close();
      this.finish(s, s.endReason ?? 'closed');
      return;
    }
    if (this.rt.observed && s.endpoint.pending > 0) this.note(`session #${s.id}: the held output is due`);
    this.flush(s, false);
  }

  /**
   * Say goodbye: whatever is pending goes out, then FIN, and the session is
   * over. Delivering the rest and closing is the transport's job from here on
   * (it may also reset the connection if the peer keeps talking).
   */
  private end(s: ServerSession, reason: string, inUpcall: boolean): void {
    if (!s.open) return;
    s.stage = 'closing';
    s.endReason = reason;
    s.command?.abort();
    s.command = null;
    if (this.rt.observed) this.note(`session #${s.id} ends: ${reason}`);
    if (inUpcall && !this.piggyback && s.endpoint.pending > 0) {
      this.flush(s, true); // flushDeferred closes and finishes
      return;
    }
    // Not armed: the FIN queued by close() would cancel an arming TCP has not served.
    this.sendPending(s, 'last words before the FIN');
    s.conn.close();
    this.finish(s, reason);
  }

  /** The session is over: forget it. */
  private finish(s: ServerSession, reason: string): void {
    if (s.stage === 'closed') return;
    s.stage = 'closed';
    s.endReason ??= reason;
    s.command?.abort();
    s.command = null;
    s.endpoint.discard();
    if (s.loginTicket !== null) {
      this.shared.logins.cancel(s.loginTicket as LoginTicket<Verification>);
      s.loginTicket = null;
    }
    this.lock.locked(() => this.shared.sessions.delete(s.id));
    this.releaseClient(s);
    this.counters.sessionsEnded++;
    this.options.onSessionEnd?.(s);
  }

  /** A task working for `s` failed: this session alone is reset and forgotten. */
  protected override cleanup(s: ServerSession | undefined, reason: string): void {
    if (s === undefined || s.stage === 'closed') return;
    this.counters.sessionsFailed++;
    s.endReason = `failed: ${reason}`;
    s.endpoint.discard();
    try {
      s.conn.abort();
    } catch {
      // The transport may have torn the connection down already in its own cleanup.
    }
    this.finish(s, s.endReason);
  }
}

/** "3 bytes "ls\r"" for notes: printable, short. */
export function describeBytes(b: Uint8Array): string {
  let text = '';
  const n = Math.min(b.length, 24);
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    text += c === 13 ? '\\r' : c === 10 ? '\\n' : c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return `${b.length} byte${b.length === 1 ? '' : 's'} "${text}${b.length > n ? '...' : ''}"`;
}
