import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OptionNegotiator } from '../../../src/layers/telnet/options.js';
import type { OptionPolicy, OptionSide } from '../../../src/layers/telnet/options.js';
import { DO, DONT, TelnetOption, WILL, WONT, negotiationName } from '../../../src/wire/telnet.js';
import type { NegotiationCommand } from '../../../src/wire/telnet.js';

const { ECHO, SGA, TERMINAL_TYPE, NAWS, STATUS, TSPEED, LFLOW, LINEMODE, NEW_ENVIRON, XDISPLOC } = TelnetOption;
const SERVER_POLICY: OptionPolicy = { local: [ECHO, SGA], remote: [TERMINAL_TYPE, NAWS, SGA] };

/** A negotiator whose output is recorded as readable strings ("WILL ECHO"). */
function endpoint(policy: OptionPolicy) {
  const sent: [NegotiationCommand, number][] = [];
  const changes: string[] = [];
  const n = new OptionNegotiator({
    policy,
    send: (b) => {
      expect(b.length).toBe(3);
      expect(b[0]).toBe(255);
      sent.push([b[1] as NegotiationCommand, b[2]!]);
    },
    onChange: (side, opt, enabled) => changes.push(`${side} ${opt} ${enabled ? 'on' : 'off'}`),
  });
  const take = () => sent.splice(0).map(([c, o]) => negotiationName(c, o));
  return { n, sent, changes, take };
}

describe('OptionNegotiator against a scripted peer', () => {
  it('offers an option and enables it when the peer agrees, with nothing more sent', () => {
    const s = endpoint(SERVER_POLICY);
    expect(s.n.enableLocal(ECHO)).toBe('sent');
    expect(s.take()).toEqual(['WILL ECHO']);
    expect(s.n.isLocal(ECHO)).toBe(false); // not used while pending
    expect(s.n.stateOf('local', ECHO)).toBe('wantyes');
    s.n.receive(DO, ECHO);
    expect(s.n.isLocal(ECHO)).toBe(true);
    expect(s.take()).toEqual([]);
    expect(s.changes).toEqual([`local ${ECHO} on`]);
  });

  it('accepts a refusal without answering it', () => {
    const s = endpoint(SERVER_POLICY);
    s.n.enableRemote(NAWS);
    s.n.receive(WONT, NAWS);
    expect(s.n.isRemote(NAWS)).toBe(false);
    expect(s.n.stateOf('remote', NAWS)).toBe('no');
    expect(s.take()).toEqual(['DO NAWS']);
    expect(s.changes).toEqual([]);
  });

  it('waits quietly for a peer that never answers, without repeating itself', () => {
    const s = endpoint(SERVER_POLICY);
    s.n.enableRemote(TERMINAL_TYPE);
    expect(s.n.enableRemote(TERMINAL_TYPE)).toBe('noop');
    expect(s.take()).toEqual(['DO TERMINAL-TYPE']);
    expect(s.n.settled).toBe(false);
    // The late answer still completes the negotiation.
    s.n.receive(WILL, TERMINAL_TYPE);
    expect(s.n.isRemote(TERMINAL_TYPE)).toBe(true);
    expect(s.n.settled).toBe(true);
    expect(s.take()).toEqual([]);
  });

  it('agrees to what the policy allows when the peer asks first, and refuses the rest', () => {
    const s = endpoint(SERVER_POLICY);
    s.n.receive(DO, SGA);
    s.n.receive(WILL, NAWS);
    s.n.receive(DO, STATUS); // not something we perform
    s.n.receive(WILL, LINEMODE); // not something we let the peer do
    s.n.receive(DO, 200);
    s.n.receive(WILL, 200);
    expect(s.take()).toEqual(['WILL SGA', 'DO NAWS', 'WONT STATUS', 'DONT LINEMODE', 'WONT OPTION-200', 'DONT OPTION-200']);
    expect(s.n.isLocal(SGA) && s.n.isRemote(NAWS)).toBe(true);
    expect(s.n.isLocal(STATUS) || s.n.isRemote(LINEMODE)).toBe(false);
  });

  it('never answers DONT/WONT for an option that is already off', () => {
    const s = endpoint(SERVER_POLICY);
    for (const opt of [ECHO, STATUS, 200]) {
      s.n.receive(DONT, opt);
      s.n.receive(WONT, opt);
    }
    expect(s.take()).toEqual([]);
  });

  it('follows a peer that turns an enabled option off, confirming once', () => {
    const s = endpoint(SERVER_POLICY);
    s.n.receive(DO, ECHO);
    s.n.receive(DONT, ECHO);
    s.n.receive(DONT, ECHO);
    expect(s.take()).toEqual(['WILL ECHO', 'WONT ECHO']);
    expect(s.changes).toEqual([`local ${ECHO} on`, `local ${ECHO} off`]);
  });

  it('queues a request made while the opposite one is pending (enable then disable)', () => {
    const s = endpoint(SERVER_POLICY);
    s.n.enableLocal(ECHO);
    expect(s.n.disableLocal(ECHO)).toBe('queued');
    expect(s.n.isQueued('local', ECHO)).toBe(true);
    expect(s.take()).toEqual(['WILL ECHO']);
    s.n.receive(DO, ECHO); // the answer to WILL arrives: now ask to stop, never having used it
    expect(s.take()).toEqual(['WONT ECHO']);
    expect(s.n.stateOf('local', ECHO)).toBe('wantno');
    s.n.receive(DONT, ECHO);
    expect(s.n.stateOf('local', ECHO)).toBe('no');
    expect(s.take()).toEqual([]);
    expect(s.changes).toEqual([]);
  });

  it('cancels a queued request when the user changes its mind back', () => {
    const s = endpoint(SERVER_POLICY);
    s.n.enableLocal(SGA);
    s.n.disableLocal(SGA);
    expect(s.n.enableLocal(SGA)).toBe('unqueued');
    s.n.receive(DO, SGA);
    expect(s.n.isLocal(SGA)).toBe(true);
    expect(s.take()).toEqual(['WILL SGA']);
  });

  it('queues a re-enable behind a pending disable, and sends it after the answer', () => {
    const s = endpoint(SERVER_POLICY);
    s.n.receive(WILL, NAWS);
    s.n.disableRemote(NAWS);
    expect(s.n.enableRemote(NAWS)).toBe('queued');
    s.n.receive(WONT, NAWS);
    expect(s.take()).toEqual(['DO NAWS', 'DONT NAWS', 'DO NAWS']);
    s.n.receive(WILL, NAWS);
    expect(s.n.isRemote(NAWS)).toBe(true);
    expect(s.changes).toEqual([`remote ${NAWS} on`, `remote ${NAWS} off`, `remote ${NAWS} on`]);
  });

  it('settles in one exchange when both sides ask for the same option at the same time', () => {
    const a = endpoint({ local: [SGA], remote: [SGA] });
    const b = endpoint({ local: [SGA], remote: [SGA] });
    a.n.enableLocal(SGA);
    b.n.enableRemote(SGA);
    const fromA = a.sent.splice(0);
    const fromB = b.sent.splice(0);
    for (const [c, o] of fromA) b.n.receive(c, o);
    for (const [c, o] of fromB) a.n.receive(c, o);
    expect(a.sent).toEqual([]);
    expect(b.sent).toEqual([]);
    expect(a.n.isLocal(SGA) && b.n.isRemote(SGA)).toBe(true);
  });

  it('answers a flood of the same DO once when it agrees, and one-for-one when it refuses', () => {
    const s = endpoint(SERVER_POLICY);
    for (let i = 0; i < 1000; i++) s.n.receive(DO, ECHO);
    expect(s.take()).toEqual(['WILL ECHO']);
    for (let i = 0; i < 1000; i++) s.n.receive(DO, STATUS);
    expect(s.sent.length).toBe(1000); // never more than it received: no amplification
    expect(s.changes).toEqual([`local ${ECHO} on`]);
  });

  it('tolerates a peer that answers DONT with WILL (outside RFC 1143) without replying', () => {
    const s = endpoint(SERVER_POLICY);
    s.n.receive(WILL, NAWS);
    s.n.disableRemote(NAWS);
    s.take();
    s.n.receive(WILL, NAWS);
    expect(s.n.stateOf('remote', NAWS)).toBe('no');
    expect(s.take()).toEqual([]);
  });

  it('treats requests for the state it is already in as no-ops', () => {
    const s = endpoint(SERVER_POLICY);
    expect(s.n.disableLocal(ECHO)).toBe('noop');
    s.n.receive(DO, ECHO);
    s.take();
    expect(s.n.enableLocal(ECHO)).toBe('noop');
    expect(s.take()).toEqual([]);
  });

  it('refuses programmer errors: enabling outside the policy, bad option numbers', () => {
    const s = endpoint(SERVER_POLICY);
    expect(() => s.n.enableLocal(NAWS)).toThrow(RangeError);
    expect(() => s.n.enableRemote(ECHO)).toThrow(RangeError);
    expect(() => s.n.disableLocal(256)).toThrow(RangeError);
    expect(() => new OptionNegotiator({ policy: { local: [-1], remote: [] }, send: () => {} })).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------
// Two negotiators back to back over two FIFO pipes (one per direction, as TCP gives).

interface Wire { a: ReturnType<typeof endpoint>; b: ReturnType<typeof endpoint>; ab: [NegotiationCommand, number][]; ba: [NegotiationCommand, number][]; delivered: number }

function connect(pa: OptionPolicy, pb: OptionPolicy): Wire {
  const a = endpoint(pa);
  const b = endpoint(pb);
  return { a, b, ab: a.sent, ba: b.sent, delivered: 0 };
}

function deliver(w: Wire, dir: 'ab' | 'ba'): boolean {
  const msg = w[dir].shift();
  if (!msg) return false;
  w.delivered++;
  (dir === 'ab' ? w.b : w.a).n.receive(msg[0], msg[1]);
  return true;
}

function drain(w: Wire, pick: () => boolean, limit = 10_000): void {
  for (let i = 0; w.ab.length + w.ba.length > 0; i++) {
    if (i > limit) throw new Error('negotiation loop');
    const first = pick() ? 'ab' : 'ba';
    if (!deliver(w, first)) deliver(w, first === 'ab' ? 'ba' : 'ab');
  }
}

/** Both ends settled and agree: what one performs, the other sees performed. */
function expectAgreement(w: Wire, options: readonly number[]): void {
  expect(w.a.n.settled).toBe(true);
  expect(w.b.n.settled).toBe(true);
  for (const opt of options) {
    expect(w.a.n.isLocal(opt)).toBe(w.b.n.isRemote(opt));
    expect(w.a.n.isRemote(opt)).toBe(w.b.n.isLocal(opt));
  }
}

/** The enabled set that onChange reported equals the one the negotiator holds. */
function expectChangesTrack(e: ReturnType<typeof endpoint>, options: readonly number[]): void {
  const on = new Set<string>();
  for (const c of e.changes) {
    const [side, opt, what] = c.split(' ');
    const key = `${side} ${opt}`;
    if (what === 'on') {
      expect(on.has(key)).toBe(false);
      on.add(key);
    } else {
      expect(on.delete(key)).toBe(true);
    }
  }
  for (const opt of options) {
    for (const side of ['local', 'remote'] as OptionSide[]) {
      const enabled = side === 'local' ? e.n.isLocal(opt) : e.n.isRemote(opt);
      expect(on.has(`${side} ${opt}`)).toBe(enabled);
    }
  }
}

describe('OptionNegotiator back to back', () => {
  it('a server and a Linux-like client agree on the usual remote-login options', () => {
    const client = { local: [SGA, TERMINAL_TYPE, NAWS, TSPEED, LFLOW, LINEMODE, NEW_ENVIRON, XDISPLOC], remote: [ECHO, SGA, STATUS] };
    const w = connect(SERVER_POLICY, client);
    // The client opens the way the captured Linux client does, the server with its own offers.
    w.b.n.enableRemote(SGA);
    for (const o of [TERMINAL_TYPE, NAWS, TSPEED, LFLOW, LINEMODE, NEW_ENVIRON, XDISPLOC]) w.b.n.enableLocal(o);
    w.b.n.enableRemote(STATUS);
    w.a.n.enableLocal(ECHO);
    w.a.n.enableLocal(SGA);
    w.a.n.enableRemote(TERMINAL_TYPE);
    w.a.n.enableRemote(NAWS);
    w.a.n.enableRemote(SGA);
    let flip = false;
    drain(w, () => (flip = !flip));
    expectAgreement(w, [ECHO, SGA, STATUS, TERMINAL_TYPE, NAWS, TSPEED, LFLOW, LINEMODE, NEW_ENVIRON, XDISPLOC]);
    expect([w.a.n.isLocal(ECHO), w.a.n.isLocal(SGA), w.a.n.isRemote(SGA), w.a.n.isRemote(TERMINAL_TYPE), w.a.n.isRemote(NAWS)]).toEqual([true, true, true, true, true]);
    expect([w.a.n.isLocal(STATUS), w.a.n.isRemote(LINEMODE), w.a.n.isRemote(TSPEED)]).toEqual([false, false, false]);
    expect(w.delivered).toBeLessThanOrEqual(2 * 15);
  });

  const OPTIONS = [ECHO, SGA, TERMINAL_TYPE, NAWS, 200] as const;
  const policy = fc.record({
    local: fc.subarray([...OPTIONS]),
    remote: fc.subarray([...OPTIONS]),
  });
  const action = fc.record({
    who: fc.constantFrom('a', 'b'),
    kind: fc.constantFrom('enableLocal', 'disableLocal', 'enableRemote', 'disableRemote', 'deliver', 'deliver'),
    opt: fc.constantFrom(...OPTIONS),
  });

  it('converge with no loop for random requests and random delivery interleavings (property)', () => {
    fc.assert(
      fc.property(policy, policy, fc.array(action, { maxLength: 60 }), fc.infiniteStream(fc.boolean()), (pa, pb, actions, coin) => {
        const w = connect(pa, pb);
        const coins = coin[Symbol.iterator]();
        let requests = 0;
        for (const act of actions) {
          const e = act.who === 'a' ? w.a : w.b;
          const pol = act.who === 'a' ? pa : pb;
          if (act.kind === 'deliver') {
            deliver(w, act.who === 'a' ? 'ba' : 'ab');
            continue;
          }
          if (act.kind === 'enableLocal' && !pol.local.includes(act.opt)) continue;
          if (act.kind === 'enableRemote' && !pol.remote.includes(act.opt)) continue;
          requests++;
          e.n[act.kind](act.opt);
        }
        drain(w, () => coins.next().value as boolean);
        expectAgreement(w, OPTIONS);
        expectChangesTrack(w.a, OPTIONS);
        expectChangesTrack(w.b, OPTIONS);
        // Each request costs at most one message and its answer, plus one for a queued reversal.
        expect(w.delivered).toBeLessThanOrEqual(3 * requests);
        // Nothing is enabled that a policy did not allow.
        for (const opt of OPTIONS) {
          if (w.a.n.isLocal(opt)) expect(pa.local.includes(opt) && pb.remote.includes(opt)).toBe(true);
          if (w.a.n.isRemote(opt)) expect(pa.remote.includes(opt) && pb.local.includes(opt)).toBe(true);
        }
      }),
      { numRuns: 500, seed: 854 },
    );
  });

  it('never sends more negotiations than it receives from an arbitrary peer (property)', () => {
    const msg = fc.tuple(fc.constantFrom(WILL, WONT, DO, DONT) as fc.Arbitrary<NegotiationCommand>, fc.constantFrom(...OPTIONS));
    fc.assert(
      fc.property(fc.array(msg, { maxLength: 200 }), (msgs) => {
        const s = endpoint(SERVER_POLICY);
        for (const [c, o] of msgs) s.n.receive(c, o);
        expect(s.sent.length).toBeLessThanOrEqual(msgs.length);
        expectChangesTrack(s, OPTIONS);
      }),
      { numRuns: 300, seed: 1143 },
    );
  });
});
