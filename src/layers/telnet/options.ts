/**
 * Telnet option negotiation by the Q method of RFC 1143, which cannot loop.
 *
 * Each option has two independent sides: "local" (we perform it: we send
 * WILL/WONT, the peer sends DO/DONT) and "remote" (the peer performs it: we send
 * DO/DONT, it sends WILL/WONT). Each side of each option is in one of four states,
 * NO, YES, WANTNO, WANTYES, plus a one-bit queue (EMPTY or OPPOSITE) that remembers
 * a request made while a negotiation was still in flight. An option counts as
 * enabled only in YES: while a negotiation is pending its effects are not used.
 *
 * One negotiator per connection. It holds no timers and does no I/O of its own:
 * bytes to send go to the injected `send`, state changes to `onChange`, always in
 * that order and after the state is updated, so a callback sees the new state.
 */
import { DO, DONT, WILL, WONT, encodeNegotiation } from '../../wire/telnet.js';
import type { NegotiationCommand } from '../../wire/telnet.js';

export type OptionSide = 'local' | 'remote';
export type OptionState = 'no' | 'yes' | 'wantno' | 'wantyes';

/** Which options we accept: `local` we are willing to perform (answer DO with
 *  WILL), `remote` we want or allow the peer to perform (answer WILL with DO).
 *  Everything else is refused. */
export interface OptionPolicy {
  readonly local: Iterable<number>;
  readonly remote: Iterable<number>;
}

export interface OptionNegotiatorConfig {
  policy: OptionPolicy;
  /** One negotiation (IAC verb option, 3 bytes) to write to the connection. */
  send(bytes: Uint8Array): void;
  /** An option became enabled (reached YES) or stopped being enabled. */
  onChange?(side: OptionSide, opt: number, enabled: boolean): void;
}

/**
 * What a request from our side did:
 * - `sent`: a negotiation went out;
 * - `queued`: a negotiation the other way is in flight; this request will be
 *   sent when it completes;
 * - `unqueued`: it cancelled a request queued earlier;
 * - `noop`: already in (or already heading for) the requested state.
 */
export type RequestOutcome = 'sent' | 'queued' | 'unqueued' | 'noop';

const NO = 0;
const YES = 1;
const WANTNO = 2;
const WANTYES = 3;
const STATE_NAMES: readonly OptionState[] = ['no', 'yes', 'wantno', 'wantyes'];

const EMPTY = 0;
const OPPOSITE = 1;

// Index 0 is the local side ("us" in RFC 1143), 1 the remote side ("him").
const LOCAL = 0;
const REMOTE = 1;
const SIDE_NAMES: readonly OptionSide[] = ['local', 'remote'];
const POSITIVE: readonly NegotiationCommand[] = [WILL, DO];
const NEGATIVE: readonly NegotiationCommand[] = [WONT, DONT];

function checkOption(opt: number): void {
  if (!Number.isInteger(opt) || opt < 0 || opt > 255) throw new RangeError(`option must be 0..255, got ${opt}`);
}

export class OptionNegotiator {
  // [side][option]: state, queue bit, and whether the policy accepts it.
  private readonly state = [new Uint8Array(256), new Uint8Array(256)] as const;
  private readonly queue = [new Uint8Array(256), new Uint8Array(256)] as const;
  private readonly accept = [new Uint8Array(256), new Uint8Array(256)] as const;
  private readonly sendBytes: (bytes: Uint8Array) => void;
  private readonly changed: ((side: OptionSide, opt: number, enabled: boolean) => void) | undefined;

  constructor(config: OptionNegotiatorConfig) {
    for (const opt of config.policy.local) {
      checkOption(opt);
      this.accept[LOCAL][opt] = 1;
    }
    for (const opt of config.policy.remote) {
      checkOption(opt);
      this.accept[REMOTE][opt] = 1;
    }
    this.sendBytes = config.send;
    this.changed = config.onChange;
  }

  /** Offer to perform `opt` (sends WILL). Throws if the policy does not allow it locally. */
  enableLocal(opt: number): RequestOutcome {
    return this.requestEnable(LOCAL, opt);
  }

  /** Stop performing `opt` (sends WONT). */
  disableLocal(opt: number): RequestOutcome {
    return this.requestDisable(LOCAL, opt);
  }

  /** Ask the peer to perform `opt` (sends DO). Throws if the policy does not allow it remotely. */
  enableRemote(opt: number): RequestOutcome {
    return this.requestEnable(REMOTE, opt);
  }

  /** Ask the peer to stop performing `opt` (sends DONT). */
  disableRemote(opt: number): RequestOutcome {
    return this.requestDisable(REMOTE, opt);
  }

  /** A negotiation received from the peer. Sends at most one negotiation in answer. */
  receive(cmd: NegotiationCommand, opt: number): void {
    checkOption(opt);
    switch (cmd) {
      case WILL: return this.receivePositive(REMOTE, opt);
      case WONT: return this.receiveNegative(REMOTE, opt);
      case DO: return this.receivePositive(LOCAL, opt);
      case DONT: return this.receiveNegative(LOCAL, opt);
      default: throw new RangeError(`not a negotiation command: ${cmd as number}`);
    }
  }

  /** We perform `opt` (state YES). */
  isLocal(opt: number): boolean {
    return this.state[LOCAL][opt] === YES;
  }

  /** The peer performs `opt` (state YES). */
  isRemote(opt: number): boolean {
    return this.state[REMOTE][opt] === YES;
  }

  /** The RFC 1143 state of one side of an option, for diagnostics and tests. */
  stateOf(side: OptionSide, opt: number): OptionState {
    return STATE_NAMES[this.state[side === 'local' ? LOCAL : REMOTE][opt]!]!;
  }

  /** Whether a request the opposite way is queued behind the pending one. */
  isQueued(side: OptionSide, opt: number): boolean {
    return this.queue[side === 'local' ? LOCAL : REMOTE][opt] === OPPOSITE;
  }

  /** True when no negotiation is in flight on any option. */
  get settled(): boolean {
    for (const st of this.state) {
      for (let opt = 0; opt < 256; opt++) if (st[opt]! >= WANTNO) return false;
    }
    return true;
  }

  // -------------------------------------------------------------------------

  private requestEnable(side: number, opt: number): RequestOutcome {
    checkOption(opt);
    if (this.accept[side]![opt] !== 1) {
      throw new RangeError(`option ${opt} is not in the ${SIDE_NAMES[side]} policy`);
    }
    const st = this.state[side]!;
    const q = this.queue[side]!;
    switch (st[opt]) {
      case NO:
        st[opt] = WANTYES;
        this.emit(POSITIVE[side]!, opt);
        return 'sent';
      case WANTNO:
        if (q[opt] === EMPTY) {
          q[opt] = OPPOSITE;
          return 'queued';
        }
        return 'noop';
      case WANTYES:
        if (q[opt] === OPPOSITE) {
          q[opt] = EMPTY;
          return 'unqueued';
        }
        return 'noop';
      default:
        return 'noop';
    }
  }

  private requestDisable(side: number, opt: number): RequestOutcome {
    checkOption(opt);
    const st = this.state[side]!;
    const q = this.queue[side]!;
    switch (st[opt]) {
      case YES:
        st[opt] = WANTNO;
        this.emit(NEGATIVE[side]!, opt);
        this.notify(side, opt, false);
        return 'sent';
      case WANTNO:
        if (q[opt] === OPPOSITE) {
          q[opt] = EMPTY;
          return 'unqueued';
        }
        return 'noop';
      case WANTYES:
        if (q[opt] === EMPTY) {
          q[opt] = OPPOSITE;
          return 'queued';
        }
        return 'noop';
      default:
        return 'noop';
    }
  }

  /** WILL for the remote side, DO for the local side. */
  private receivePositive(side: number, opt: number): void {
    const st = this.state[side]!;
    const q = this.queue[side]!;
    switch (st[opt]) {
      case NO:
        if (this.accept[side]![opt] === 1) {
          st[opt] = YES;
          this.emit(POSITIVE[side]!, opt);
          this.notify(side, opt, true);
        } else {
          this.emit(NEGATIVE[side]!, opt);
        }
        return;
      case YES:
        return; // already enabled: answering would start a loop
      case WANTNO:
        // Our refusal answered by acceptance: a peer outside RFC 1143. Take the
        // queue's wish without sending anything more to it.
        if (q[opt] === EMPTY) {
          st[opt] = NO;
        } else {
          st[opt] = YES;
          q[opt] = EMPTY;
          this.notify(side, opt, true);
        }
        return;
      case WANTYES:
        if (q[opt] === EMPTY) {
          st[opt] = YES;
          this.notify(side, opt, true);
        } else {
          st[opt] = WANTNO;
          q[opt] = EMPTY;
          this.emit(NEGATIVE[side]!, opt);
        }
        return;
    }
  }

  /** WONT for the remote side, DONT for the local side. */
  private receiveNegative(side: number, opt: number): void {
    const st = this.state[side]!;
    const q = this.queue[side]!;
    switch (st[opt]) {
      case NO:
        return; // never answer a refusal with a refusal
      case YES:
        st[opt] = NO;
        this.emit(NEGATIVE[side]!, opt);
        this.notify(side, opt, false);
        return;
      case WANTNO:
        if (q[opt] === EMPTY) {
          st[opt] = NO;
        } else {
          st[opt] = WANTYES;
          q[opt] = EMPTY;
          this.emit(POSITIVE[side]!, opt);
        }
        return;
      case WANTYES:
        st[opt] = NO;
        q[opt] = EMPTY;
        return;
    }
  }

  private emit(cmd: NegotiationCommand, opt: number): void {
    this.sendBytes(encodeNegotiation(cmd, opt));
  }

  private notify(side: number, opt: number, enabled: boolean): void {
    this.changed?.(SIDE_NAMES[side]!, opt, enabled);
  }
}
