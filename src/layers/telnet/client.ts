/**
 * The Telnet client: a module bound to the transport's upcall slots, driven by
 * a script on the stack's clock (tests, the demo) or by a person at a terminal.
 *
 * In character mode (the default) it agrees to the server's WILL ECHO and WILL
 * SUPPRESS-GO-AHEAD, sends each keystroke as it is typed and shows only what the
 * server echoes. In line mode it refuses both, edits the line locally, echoes it
 * itself, and sends it whole on Enter. It offers TERMINAL-TYPE and NAWS.
 * Answers to negotiation are written inside the receive upcall, so they ride on
 * the ACK of what the server said.
 */
import { Module, type Runtime } from '../../core/index.js';
import { formatEndpoint, type IpAddress } from '../net.js';
import { encodeNaws, encodeTerminalTypeIs, parseTerminalType, TelnetOption, type WindowSize } from '../../wire/telnet.js';
import { ClientSession, type Keystroke, type ScriptStep } from './client-session.js';
import { TelnetEndpoint } from './endpoint.js';
import { encodeNvtText } from './nvt-line.js';
import type { StreamConnection, StreamSlots, StreamTransport } from './transport.js';

const { ECHO, SGA, TERMINAL_TYPE, NAWS } = TelnetOption;
const CR = 0x0d;
const utf8 = new TextEncoder();

export interface TelnetConnectOptions {
  /** 'character' (default): remote echo, a keystroke per segment. 'line': local editing and echo. */
  mode?: 'character' | 'line';
  /** Sent when the server asks (TERMINAL-TYPE). Default 'XTERM'. */
  terminalType?: string;
  /** Sent when NAWS is agreed; null: refuse NAWS. Default 80x24. */
  windowSize?: WindowSize | null;
  script?: readonly ScriptStep[];
  /** Text for the user's terminal as it arrives (interactive use). */
  onText?(text: string): void;
  /** The connection is over. */
  onClose?(session: ClientSession): void;
  /** Keep the negotiation log. Default false. */
  logNegotiations?: boolean;
}

export interface TelnetClientCounters {
  connections: number;
  keystrokes: number;
  echoes: number;
  scriptFailures: number;
  bytesIn: number;
  bytesOut: number;
}

interface ClientShared {
  readonly sessions: Map<number, ClientSession>;
  nextId: number;
}

interface SessionConfig {
  readonly opts: TelnetConnectOptions;
}

export class TelnetClient extends Module<ClientShared, ClientSession> {
  readonly counters: TelnetClientCounters = { connections: 0, keystrokes: 0, echoes: 0, scriptFailures: 0, bytesIn: 0, bytesOut: 0 };
  private readonly config = new WeakMap<ClientSession, SessionConfig>();

  constructor(
    rt: Runtime,
    private readonly transport: StreamTransport,
    name = 'telnet',
  ) {
    super(rt, name, { sessions: new Map(), nextId: 1 });
  }

  /** Open a connection to `dst:port` and run the script, if any, once connected. */
  readonly connect = this.entry('connect', 'reject', (dst: IpAddress, port: number = 23, opts: TelnetConnectOptions = {}): ClientSession => {
    const character = (opts.mode ?? 'character') === 'character';
    let s: ClientSession;
    const endpoint = new TelnetEndpoint(
      {
        onData: (d) => this.output(s, d),
        onCommand: () => {},
        onSubnegotiation: (opt, payload) => this.subnegotiation(s, opt, payload),
        onOptionChange: (side, opt, enabled) => {
          if (side === 'local' && opt === NAWS && enabled && opts.windowSize !== null) {
            const ws = opts.windowSize ?? { width: 80, height: 24 };
            s.endpoint.writeRaw(encodeNaws(ws.width, ws.height));
          }
        },
        onDecodeError: (reason) => this.drop(`telnet-${reason}`),
      },
      {
        policy: {
          local: opts.windowSize === null ? [TERMINAL_TYPE] : [TERMINAL_TYPE, NAWS],
          remote: character ? [ECHO, SGA] : [],
        },
        ...(opts.logNegotiations === true ? { now: () => this.rt.clock.now() } : {}),
      },
    );
    s = this.lock.locked(() => {
      const id = this.shared.nextId++;
      const session = new ClientSession(id, endpoint, opts.script ?? [], formatEndpoint(dst, port));
      this.shared.sessions.set(id, session);
      return session;
    }) as ClientSession;
    this.config.set(s, { opts });
    this.counters.connections++;
    s.scriptTimer = this.timer(s, 'script', () => this.advance(s));
    s.expectTimer = this.timer(s, 'expect-timeout', () => this.expectTimedOut(s));
    this.claim(s);
    const handlers: Partial<StreamSlots> = {
      onConnect: (conn) => this.connected(s, conn),
      onData: (_c, data) => this.receive(s, data),
      onClose: (_c, how) => this.transportClosed(s, how),
      onError: (_c, err) => this.finish(s, `connection failed: ${err.message}`, true),
    };
    // A keystroke must not wait for the ACK of the previous one (Nagle): telnet clients set TCP_NODELAY.
    s.conn = this.transport.connect(dst, port, this, handlers, { client: s, noDelay: true });
    return s;
  });

  /** Keys typed by a person: each call is a task of its own at this module. */
  input(s: ClientSession, keys: string): void {
    this.startTask(
      'input',
      () => {
        for (const key of keys) this.key(s, key, undefined);
        this.flush(s);
      },
      { client: s, entry: 'keys' },
    );
  }

  /** Close the connection (FIN). */
  close(s: ClientSession): void {
    this.startTask('input', () => this.hangUp(s), { client: s, entry: 'close' });
  }

  sessions(): ClientSession[] {
    return [...this.shared.sessions.values()];
  }

  // ---- upcalls from the transport ---------------------------------------------

  private connected(s: ClientSession, conn: StreamConnection): void {
    this.claim(s);
    s.conn = conn;
    s.state = 'open';
    this.advance(s);
    this.flush(s);
  }

  private receive(s: ClientSession, data: Uint8Array): void {
    this.claim(s);
    if (s.state === 'closed') return;
    this.counters.bytesIn += data.length;
    s.endpoint.push(data);
    this.advance(s);
    // Negotiation answers leave inside the upcall, with the ACK.
    this.flush(s);
  }

  private transportClosed(s: ClientSession, how: 'peer-fin' | 'closed'): void {
    this.claim(s);
    if (how === 'closed') {
      this.finish(s, s.endReason ?? 'closed', false);
      return;
    }
    this.show(s, s.text.flush());
    if (s.state === 'open') {
      s.endReason ??= 'closed by the server';
      this.show(s, '\r\nConnection closed by foreign host.\r\n');
    }
    this.hangUp(s);
  }

  // ---- what the server says ----------------------------------------------------

  private output(s: ClientSession, data: Uint8Array): void {
    const q = s.echoQueue;
    if (q.length > 0) {
      const now = this.rt.clock.now();
      for (let i = 0; i < data.length && q.length > 0; i++) {
        if (data[i] === q[0]!.byte) {
          q.shift()!.k.echoAt = now;
          this.counters.echoes++;
        }
      }
    }
    this.show(s, s.text.decode(data));
  }

  private show(s: ClientSession, text: string): void {
    if (text.length === 0) return;
    s.screen.write(text);
    this.config.get(s)?.opts.onText?.(text);
  }

  private subnegotiation(s: ClientSession, opt: number, payload: Uint8Array): void {
    if (opt !== TERMINAL_TYPE || !s.endpoint.options.isLocal(TERMINAL_TYPE)) {
      this.drop('unexpected-subnegotiation', `option ${opt}`);
      return;
    }
    const r = parseTerminalType(payload);
    if (r.ok && r.value.kind === 'send') {
      s.endpoint.writeRaw(encodeTerminalTypeIs(this.config.get(s)?.opts.terminalType ?? 'XTERM'));
    } else {
      this.drop('bad-terminal-type', r.ok ? 'IS from a server' : r.reason);
    }
  }

  // ---- typing ---------------------------------------------------------------------

  /** One key: sent now (remote echo) or edited locally until Enter (line mode). */
  private key(s: ClientSession, key: string, step: ScriptStep | undefined): void {
    if (!s.open) return;
    const now = this.rt.clock.now();
    const enter = key === '\r' || key === '\n';
    this.counters.keystrokes++;
    if (s.endpoint.options.isRemote(ECHO)) {
      const bytes = enter ? Uint8Array.of(CR, 0x0a) : utf8.encode(key);
      s.endpoint.writeData(bytes);
      const printable = enter || (key >= ' ' && key !== '\x7f');
      const k: Keystroke = { at: now, key: enter ? '\r' : key, label: step?.label, expectsEcho: printable && step?.secret !== true, echoAt: null };
      s.keystrokes.push(k);
      if (k.expectsEcho) s.echoQueue.push({ k, byte: bytes[0]! });
      return;
    }
    s.keystrokes.push({ at: now, key: enter ? '\r' : key, label: step?.label, expectsEcho: false, echoAt: null });
    if (enter) {
      this.show(s, '\r\n');
      s.endpoint.writeRaw(encodeNvtText(`${s.lineBuffer}\r\n`));
      s.lineBuffer = '';
    } else if (key === '\x7f' || key === '\b') {
      if (s.lineBuffer.length > 0) {
        s.lineBuffer = s.lineBuffer.slice(0, -1);
        this.show(s, '\b \b');
      }
    } else if (key < ' ') {
      // Control keys go straight through (Ctrl-C, Ctrl-D...).
      s.endpoint.writeData(utf8.encode(key));
    } else {
      s.lineBuffer += key;
      this.show(s, key);
    }
  }

  /**
   * The client queues with `send`, not "arm for send" as the server does.
   * A keystroke starts in a task of the client's own (the script's timer, a
   * person's input), where TCP is building no segment: arming would only make
   * TCP build one at once, inside armSend, and call back up into this module
   * for the bytes; the key would leave at the same moment in the same segment.
   * Answers written inside a receive upcall (negotiation) ride on the ACK with
   * `send` too, since TCP holds its output until the upcall has returned. And
   * hangUp's last bytes must not wait for an arming its FIN would cancel.
   */
  private flush(s: ClientSession): void {
    const bytes = s.endpoint.take();
    if (bytes === null || s.conn === null || s.state === 'closed') return;
    this.counters.bytesOut += bytes.length;
    s.conn.send(bytes);
  }

  // ---- the script -------------------------------------------------------------------

  private advance(s: ClientSession): void {
    for (;;) {
      if (!s.open || s.scriptDone) return;
      const step = s.script[s.step];
      if (step === undefined) {
        s.scriptDone = true;
        return;
      }
      if (s.phase === 'expect') {
        if (step.expect !== undefined) {
          const at = s.screen.search(step.expect, s.matchFrom);
          if (at < 0) {
            if (!s.expectTimer!.armed) s.expectTimer!.arm(step.timeoutMs ?? 30_000);
            return;
          }
          s.expectTimer!.cancel();
          s.matchFrom = at;
        }
        s.phase = 'delay';
        if ((step.delayMs ?? 0) > 0) {
          s.scriptTimer!.arm(step.delayMs!);
          return;
        }
      }
      if (s.phase === 'delay') {
        if (s.scriptTimer!.armed) return;
        s.phase = 'act';
        s.typed = 0;
        if (step.send !== undefined) {
          const bytes = typeof step.send === 'string' ? encodeNvtText(step.send) : step.send;
          s.endpoint.writeRaw(bytes);
          this.counters.keystrokes += bytes.length;
        }
      }
      // act
      if (s.scriptTimer!.armed) return;
      if (step.type !== undefined) {
        const keys = [...step.type];
        if (s.typed < keys.length) {
          this.key(s, keys[s.typed++]!, step);
          this.flush(s);
          if (s.typed < keys.length) {
            s.scriptTimer!.arm(step.paceMs ?? 150);
            return;
          }
        }
      }
      this.flush(s);
      s.step++;
      s.phase = 'expect';
      s.typed = 0;
      if (step.close === true) {
        this.hangUp(s);
        return;
      }
    }
  }

  private expectTimedOut(s: ClientSession): void {
    const step = s.script[s.step];
    if (!s.open || s.phase !== 'expect' || step?.expect === undefined) return;
    this.counters.scriptFailures++;
    s.error = `script step ${s.step + 1}: did not see ${JSON.stringify(String(step.expect))} within ${step.timeoutMs ?? 30_000} ms`;
    this.hangUp(s);
  }

  /**
   * FIN after what is queued, and the session is over: TCP delivers the rest and
   * finishes the close on its own (whatever arrives from now on is not read).
   */
  private hangUp(s: ClientSession): void {
    if (s.state !== 'open' && s.state !== 'connecting') return;
    this.flush(s);
    s.state = 'closing';
    s.conn?.close();
    this.finish(s, s.endReason ?? 'closed', false);
  }

  private finish(s: ClientSession, reason: string, failed: boolean): void {
    if (s.state === 'closed') return;
    if (failed) {
      s.error ??= reason;
      this.show(s, `\r\n${reason}\r\n`);
    }
    s.endReason ??= reason;
    s.state = 'closed';
    s.endpoint.discard();
    this.lock.locked(() => this.shared.sessions.delete(s.id));
    this.releaseClient(s);
    this.config.get(s)?.opts.onClose?.(s);
    s.notifyClosed();
  }

  protected override cleanup(s: ClientSession | undefined, reason: string): void {
    if (s === undefined || s.state === 'closed') return;
    try {
      s.conn?.abort();
    } catch {
      // already torn down by the transport's own cleanup
    }
    this.finish(s, `failed: ${reason}`, true);
  }
}
